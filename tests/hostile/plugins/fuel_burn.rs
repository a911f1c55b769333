//! Hostile: hashes forever, the kind of work a deterministic fuel budget
//! (`--fuel`) stops after a fixed number of instructions.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "fuel-burn",
    version: "0.1.0",
    description: "Hostile: computes forever",
    scopes: [],
}

struct FuelBurn;

impl Plugin for FuelBurn {
    fn run(_input: Input) -> Result<String, String> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        loop {
            h = std::hint::black_box((h ^ 0xff).wrapping_mul(0x0100_0000_01b3));
        }
    }
}

falcon_sdk::export_plugin!(FuelBurn);
