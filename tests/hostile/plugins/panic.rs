//! Hostile: panics (the plugin profile aborts on panic, which traps).

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "panic",
    version: "0.1.0",
    description: "Hostile: panics",
    scopes: [],
}

struct Panic;

impl Plugin for Panic {
    fn run(_input: Input) -> Result<String, String> {
        panic!("hostile plugin panicked on purpose")
    }
}

falcon_sdk::export_plugin!(Panic);
