//! Hostile: raw FQL holding control characters (line breaks, NUL, escape
//! sequences), which could split a header or a log line downstream.

use falcon_sdk::{Filter, Input, Plugin, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "fql-control-chars",
    version: "0.1.0",
    description: "Hostile: raw FQL with control characters",
    scopes: ["users:read"],
}

struct FqlControlChars;

const FILTERS: &[&str] = &[
    "last_name:'x'\r\nX-Injected: 1",
    "last_name:'x'\u{0}+uid:'*'",
    "last_name:'\u{1b}[2Jx'",
];

impl Plugin for FqlControlChars {
    fn run(_input: Input) -> Result<String, String> {
        let answers: serde_json::Map<String, serde_json::Value> = FILTERS
            .iter()
            .map(|raw| {
                let found = answer(users::list_users(&Filter::Fql((*raw).into())), |ids| {
                    json!(ids.len())
                });
                (raw.escape_default().to_string(), found)
            })
            .collect();
        Ok(json!(answers).to_string())
    }
}

falcon_sdk::export_plugin!(FqlControlChars);
