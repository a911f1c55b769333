//! Hostile: granted `hosts:write`, it contains every host without the
//! operator's approval of the destructive operation.

use falcon_sdk::{Filter, Input, Plugin, hosts};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "contain-unapproved",
    version: "0.1.0",
    description: "Hostile: contains every host without approval",
    scopes: ["hosts:read", "hosts:write"],
}

struct ContainUnapproved;

impl Plugin for ContainUnapproved {
    fn run(_input: Input) -> Result<String, String> {
        let ids = hosts::list_hosts(&Filter::All).map_err(|e| e.message())?;
        Ok(json!({
            "found": ids.len(),
            "contain": answer(hosts::contain(&ids, Some("hostile")), |r| json!(r.accepted.len())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(ContainUnapproved);
