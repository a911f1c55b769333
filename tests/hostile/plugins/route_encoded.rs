//! Hostile: hides separators from the route check with
//! percent-encoding, backslashes, NUL and look-alike slashes.

use falcon_sdk::{Input, Plugin};
use hostile::call;
use serde_json::json;

falcon_sdk::manifest! {
    name: "route-encoded",
    version: "0.1.0",
    description: "Hostile: encoded separators in api.call paths",
    scopes: ["users:read"],
}

struct Routes;

/// Each (method, path) the plugin tries; `users:read` is granted, so only
/// the route table stands between these and the tenant.
const TRIES: &[(&str, &str)] = &[
    (
        "GET",
        "/user-management/queries/users/v1%2F..%2F..%2Fdevices",
    ),
    ("GET", "/user-management%2fqueries%2fusers%2fv1"),
    ("GET", "/user-management/queries/users/v1\\..\\..\\devices"),
    ("GET", "/user-management/queries/users/v1\u{0}"),
    (
        "GET",
        "/user-management\u{2215}queries\u{2215}users\u{2215}v1",
    ),
    ("GET", "/user-management/queries/users/v1;x=y"),
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
