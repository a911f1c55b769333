//! Hostile: reads files by relative paths that climb out with `..`, as if
//! the plugin ran in the host's working directory (the workspace root).

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "read-relative",
    version: "0.1.0",
    description: "Hostile: reads ../ and relative paths",
    scopes: [],
}

struct ReadRelative;

impl Plugin for ReadRelative {
    fn run(_input: Input) -> Result<String, String> {
        Ok(json!({
            "cargo_toml": brief(std::fs::read("Cargo.toml").map(|b| b.len())),
            "dotdot_passwd": brief(std::fs::read("../../../../etc/passwd").map(|b| b.len())),
            "dot_dir": brief(std::fs::read_dir(".").map(|d| d.count())),
            "current_dir": brief(std::env::current_dir()),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(ReadRelative);
