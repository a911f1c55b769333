//! Hostile: follows a symbolic link planted in the output directory (by the
//! test, standing in for a careless operator) that points outside it.

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "output-symlink",
    version: "0.1.0",
    description: "Hostile: leaves the output directory through a symbolic link",
    scopes: [],
}

struct OutputSymlink;

impl Plugin for OutputSymlink {
    fn run(_input: Input) -> Result<String, String> {
        Ok(json!({
            "read": brief(std::fs::read("/output/link/secret.txt").map(|b| b.len())),
            "write": brief(std::fs::write("/output/link/planted.txt", b"x")),
            "list": brief(std::fs::read_dir("/output/link").map(|d| d.count())),
            "read_link": brief(std::fs::read_link("/output/link")),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(OutputSymlink);
