//! Hostile: granted an output directory, it writes to absolute and relative
//! paths outside it.

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "output-absolute",
    version: "0.1.0",
    description: "Hostile: writes outside the output directory by absolute path",
    scopes: [],
}

struct OutputAbsolute;

impl Plugin for OutputAbsolute {
    fn run(input: Input) -> Result<String, String> {
        let outside = input.str_or("outside", "/tmp").map_err(|e| e.to_string())?;
        Ok(json!({
            "outside": brief(std::fs::write(format!("{outside}/planted.txt"), b"x")),
            "root": brief(std::fs::write("/planted.txt", b"x")),
            "relative": brief(std::fs::write("planted.txt", b"x")),
            "output_relative": brief(std::fs::write("output/planted.txt", b"x")),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(OutputAbsolute);
