//! Hostile: retries a denied call, hoping a denial is a one-off or turns
//! into a grant.

use falcon_sdk::{Input, Plugin, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "denied-twice",
    version: "0.1.0",
    description: "Hostile: calls again after a denial",
    scopes: ["users:read"],
}

struct DeniedTwice;

impl Plugin for DeniedTwice {
    fn run(_input: Input) -> Result<String, String> {
        let attempts: Vec<_> = (0..3)
            .map(|_| answer(users::list_roles(), |v| json!(v.len())))
            .collect();
        Ok(json!({ "attempts": attempts }).to_string())
    }
}

falcon_sdk::export_plugin!(DeniedTwice);
