//! Hostile: writes to its stdout without end. The output limit
//! (`--max-output`) stops it.

use std::io::Write as _;

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "stdout-flood",
    version: "0.1.0",
    description: "Hostile: floods stdout",
    scopes: [],
}

struct Flood;

impl Plugin for Flood {
    fn run(_input: Input) -> Result<String, String> {
        loop {
            let _ = std::io::stdout().write_all(&[b'x'; 65536]);
        }
    }
}

falcon_sdk::export_plugin!(Flood);
