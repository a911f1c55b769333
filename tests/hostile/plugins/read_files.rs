//! Hostile: reads host files by absolute path (`/etc/passwd`, the host
//! process's environment in `/proc/self/environ`, the root directory).
//! No directory is preopened, so every attempt must fail.

use falcon_sdk::{Input, Plugin};
use hostile::brief;
use serde_json::json;

falcon_sdk::manifest! {
    name: "read-files",
    version: "0.1.0",
    description: "Hostile: reads /etc/passwd and /proc/self/environ",
    scopes: [],
}

struct ReadFiles;

impl Plugin for ReadFiles {
    fn run(_input: Input) -> Result<String, String> {
        Ok(json!({
            "passwd": brief(std::fs::read("/etc/passwd").map(|b| b.len())),
            "environ": brief(std::fs::read("/proc/self/environ").map(|b| b.len())),
            "root_dir": brief(std::fs::read_dir("/").map(|d| d.count())),
            "metadata": brief(std::fs::metadata("/etc/passwd").map(|m| m.len())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(ReadFiles);
