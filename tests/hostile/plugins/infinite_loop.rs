//! Hostile: never returns. The wall-clock deadline (`--timeout`) stops it.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "infinite-loop",
    version: "0.1.0",
    description: "Hostile: loops forever",
    scopes: [],
}

struct InfiniteLoop;

impl Plugin for InfiniteLoop {
    fn run(_input: Input) -> Result<String, String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

falcon_sdk::export_plugin!(InfiniteLoop);
