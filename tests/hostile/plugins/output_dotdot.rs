//! Hostile: granted an output directory, it tries to leave it with `..`:
//! writing, creating a directory, renaming and hard-linking out of it.

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "output-dotdot",
    version: "0.1.0",
    description: "Hostile: leaves the output directory through ..",
    scopes: [],
}

struct OutputDotdot;

impl Plugin for OutputDotdot {
    fn run(_input: Input) -> Result<String, String> {
        let fs = std::fs::write("/output/inside.txt", b"kept");
        Ok(json!({
            "inside": brief(fs),
            "write": brief(std::fs::write("/output/../escaped.txt", b"x")),
            "deep_write": brief(std::fs::write("/output/a/../../escaped.txt", b"x")),
            "mkdir": brief(std::fs::create_dir("/output/../escaped-dir")),
            "rename": brief(std::fs::rename("/output/inside.txt", "/output/../renamed.txt")),
            "hard_link": brief(std::fs::hard_link("/output/inside.txt", "/output/../linked.txt")),
            "read_parent": brief(std::fs::read_dir("/output/..").map(|d| d.count())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(OutputDotdot);
