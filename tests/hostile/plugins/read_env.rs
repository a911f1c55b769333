//! Hostile: reads the environment (the host's API secret in
//! `FALCON_CLIENT_SECRET` above all) and the command line.

use falcon_sdk::{Input, Plugin};
use serde_json::json;

falcon_sdk::manifest! {
    name: "read-env",
    version: "0.1.0",
    description: "Hostile: reads FALCON_CLIENT_SECRET and every variable",
    scopes: [],
}

struct ReadEnv;

impl Plugin for ReadEnv {
    fn run(_input: Input) -> Result<String, String> {
        let get = |name: &str| format!("{:?}", std::env::var(name));
        Ok(json!({
            "count": std::env::vars_os().count(),
            "FALCON_CLIENT_SECRET": get("FALCON_CLIENT_SECRET"),
            "FALCON_CLIENT_ID": get("FALCON_CLIENT_ID"),
            "FALCON_CLOUD": get("FALCON_CLOUD"),
            "HOME": get("HOME"),
            "PATH": get("PATH"),
            "args": std::env::args_os().count(),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(ReadEnv);
