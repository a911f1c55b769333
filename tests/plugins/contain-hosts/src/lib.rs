//! A test plugin with a destructive write: it contains every host whose
//! name matches `hostname` (FQL wildcards allowed) and reports the result,
//! so tests can check the dry run, the approval gate and the real action.

use falcon_sdk::{Input, Plugin, fql, hosts};
use serde_json::json;

falcon_sdk::manifest! {
    name: "contain-hosts",
    version: "0.1.0",
    description: "Contains the hosts matching a name pattern",
    scopes: ["hosts:read", "hosts:write"],
}

struct ContainHosts;

impl Plugin for ContainHosts {
    fn run(input: Input) -> Result<String, String> {
        let pattern = input.str_or("hostname", "").map_err(|e| e.to_string())?;
        if pattern.is_empty() {
            return Err("input field `hostname` is required".into());
        }
        let filter = fql::all_of([fql::eq("hostname", pattern)]);
        let found = hosts::query_hosts(&filter).map_err(|e| e.message())?;
        let ids: Vec<String> = found.iter().map(|h| h.device_id.clone()).collect();
        let names: Vec<Option<String>> = found.iter().map(|h| h.hostname.clone()).collect();
        let outcome = match hosts::contain(&ids, Some("isolated by the contain-hosts test plugin"))
        {
            Ok(done) => json!({ "accepted": done.accepted, "refused": done.refused.len() }),
            Err(e) => json!({ "error": e.message() }),
        };
        Ok(json!({ "ids": ids, "hostnames": names, "outcome": outcome }).to_string())
    }
}

falcon_sdk::export_plugin!(ContainHosts);
