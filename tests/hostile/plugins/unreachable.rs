//! Hostile: executes WebAssembly's `unreachable` instruction.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "unreachable",
    version: "0.1.0",
    description: "Hostile: executes unreachable",
    scopes: [],
}

struct Unreachable;

impl Plugin for Unreachable {
    fn run(_input: Input) -> Result<String, String> {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        // Plugins are wasm32 components; this only lets the workspace check
        // the crate for the host's target.
        #[cfg(not(target_arch = "wasm32"))]
        panic!("the unreachable plugin runs only as a wasm32 component")
    }
}

falcon_sdk::export_plugin!(Unreachable);
