//! Hostile: leaves through WASI's `exit(0)` to fake a success without a
//! report.

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "exit-zero",
    version: "0.1.0",
    description: "Hostile: exits with status 0",
    scopes: [],
}

struct ExitZero;

impl Plugin for ExitZero {
    fn run(_input: Input) -> Result<String, String> {
        std::process::exit(0)
    }
}

falcon_sdk::export_plugin!(ExitZero);
