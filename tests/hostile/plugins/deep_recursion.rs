//! Hostile: recurses without end until the stack runs out.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "deep-recursion",
    version: "0.1.0",
    description: "Hostile: recurses without end",
    scopes: [],
}

struct DeepRecursion;

impl Plugin for DeepRecursion {
    fn run(_input: Input) -> Result<String, String> {
        Ok(recurse(0).to_string())
    }
}

/// The frame keeps a buffer so the optimiser cannot turn this into a loop.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[7]
}

falcon_sdk::export_plugin!(DeepRecursion);
