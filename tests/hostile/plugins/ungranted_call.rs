//! Hostile: granted `users:read`, it uses the generic `api.call` to reach
//! endpoints of every other scope.

use falcon_sdk::{Input, Plugin};
use hostile::call;
use serde_json::json;

falcon_sdk::manifest! {
    name: "ungranted-call",
    version: "0.1.0",
    description: "Hostile: reaches other scopes' endpoints through api.call",
    scopes: ["users:read"],
}

struct UngrantedCall;

/// One known route of each scope but `users:read`.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/user-management/queries/roles/v1"),
    ("GET", "/devices/queries/devices/v1"),
    ("POST", "/devices/entities/devices/v2"),
    ("GET", "/alerts/queries/alerts/v2"),
    ("GET", "/incidents/queries/incidents/v1"),
    ("GET", "/iocs/queries/indicators/v1"),
    ("POST", "/real-time-response/entities/sessions/v1"),
    ("GET", "/sensors/combined/installers/v2"),
];

impl Plugin for UngrantedCall {
    fn run(_input: Input) -> Result<String, String> {
        let answers: serde_json::Map<String, serde_json::Value> = ROUTES
            .iter()
            .map(|(method, path)| (format!("{method} {path}"), call(method, path)))
            .collect();
        Ok(json!(answers).to_string())
    }
}

falcon_sdk::export_plugin!(UngrantedCall);
