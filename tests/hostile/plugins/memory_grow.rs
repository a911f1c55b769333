//! Hostile: grows its linear memory directly with `memory.grow`, one MiB at
//! a time, and keeps going after a refusal instead of trapping. The report
//! says how large the memory got.

use falcon_sdk::{Input, Plugin};
use serde_json::json;

falcon_sdk::manifest! {
    name: "memory-grow",
    version: "0.1.0",
    description: "Hostile: grows linear memory past the limit",
    scopes: [],
}

struct MemoryGrow;

const PAGE: usize = 64 << 10;

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32::{memory_grow, memory_size};

// Plugins are wasm32 components; these only let the workspace check the
// crate for the host's target, where there is no linear memory to grow.
#[cfg(not(target_arch = "wasm32"))]
fn memory_grow(_memory: u32, _pages: usize) -> usize {
    usize::MAX
}
#[cfg(not(target_arch = "wasm32"))]
fn memory_size(_memory: u32) -> usize {
    0
}

impl Plugin for MemoryGrow {
    fn run(_input: Input) -> Result<String, String> {
        let mut refusals = 0u32;
        // Far beyond any limit: 8 GiB in 1 MiB steps.
        for _ in 0..8192 {
            if memory_grow(0, (1 << 20) / PAGE) == usize::MAX {
                refusals += 1;
                if refusals == 3 {
                    break;
                }
            }
        }
        Ok(json!({
            "memory_bytes": memory_size(0) * PAGE,
            "refusals": refusals,
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(MemoryGrow);
