//! Hostile: allocates 16 MiB blocks until the memory limit stops it.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "memory-bomb",
    version: "0.1.0",
    description: "Hostile: allocates without end",
    scopes: [],
}

struct MemoryBomb;

impl Plugin for MemoryBomb {
    fn run(_input: Input) -> Result<String, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![7u8; 16 << 20]));
        }
    }
}

falcon_sdk::export_plugin!(MemoryBomb);
