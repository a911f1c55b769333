//! Hostile: writes to `/output` when the operator granted no output
//! directory.

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "output-ungranted",
    version: "0.1.0",
    description: "Hostile: writes to /output without the grant",
    scopes: [],
}

struct OutputUngranted;

impl Plugin for OutputUngranted {
    fn run(_input: Input) -> Result<String, String> {
        Ok(json!({
            "write": brief(std::fs::write("/output/report.txt", b"x")),
            "mkdir": brief(std::fs::create_dir_all("/output/sub")),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(OutputUngranted);
