//! Hostile: climbs out of an allowed route with `..` and `.`,
//! plain and percent-encoded, to reach another scope's endpoint.

use falcon_sdk::{Input, Plugin};
use hostile::call;
use serde_json::json;

falcon_sdk::manifest! {
    name: "route-dotdot",
    version: "0.1.0",
    description: "Hostile: dot segments in api.call paths",
    scopes: ["users:read"],
}

struct Routes;

/// Each (method, path) the plugin tries; `users:read` is granted, so only
/// the route table stands between these and the tenant.
const TRIES: &[(&str, &str)] = &[
    (
        "GET",
        "/user-management/queries/users/v1/../../../devices/queries/devices/v1",
    ),
    (
        "GET",
        "/user-management/queries/users/v1/%2e%2e/%2e%2e/roles/v1",
    ),
    ("GET", "/user-management/queries/users/v1/%2E%2E"),
    ("GET", "/user-management/./queries/users/v1"),
    ("GET", "/user-management/queries/users/v1/.."),
];

impl Plugin for Routes {
    fn run(_input: Input) -> Result<String, String> {
        let answers: serde_json::Map<String, serde_json::Value> = TRIES
            .iter()
            .map(|(method, path)| (format!("{method} {path}"), call(method, path)))
            .collect();
        Ok(json!(answers).to_string())
    }
}

falcon_sdk::export_plugin!(Routes);
