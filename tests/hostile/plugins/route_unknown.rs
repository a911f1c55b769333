//! Hostile: calls routes the table does not hold and known paths
//! with the wrong method.

use falcon_sdk::{Input, Plugin};
use hostile::call;
use serde_json::json;

falcon_sdk::manifest! {
    name: "route-unknown",
    version: "0.1.0",
    description: "Hostile: unknown routes and wrong methods",
    scopes: ["users:read"],
}

struct Routes;

/// Each (method, path) the plugin tries; `users:read` is granted, so only
/// the route table stands between these and the tenant.
const TRIES: &[(&str, &str)] = &[
    ("GET", "/user-management/queries/users/v9"),
    ("GET", "/"),
    ("GET", ""),
    ("GET", "/oauth2/token"),
    ("POST", "/oauth2/revoke"),
    ("DELETE", "/user-management/queries/users/v1"),
    ("TRACE", "/user-management/queries/users/v1"),
    ("CONNECT", "/user-management/queries/users/v1"),
    ("GET\r\nX-Injected: 1", "/user-management/queries/users/v1"),
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
