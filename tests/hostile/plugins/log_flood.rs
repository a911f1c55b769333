//! Hostile: logs through `runtime.log` without end. Log lines count
//! against the output limit (`--max-output`).

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "log-flood",
    version: "0.1.0",
    description: "Hostile: floods the log",
    scopes: [],
}

struct LogFlood;

impl Plugin for LogFlood {
    fn run(_input: Input) -> Result<String, String> {
        let line = "y".repeat(8192);
        loop {
            falcon_sdk::log_info(&line);
        }
    }
}

falcon_sdk::export_plugin!(LogFlood);
