//! Hostile: calls into the host until the call budget (`--max-calls`)
//! refuses, then tries once more.

use falcon_sdk::{Filter, Input, Plugin, users};
use hostile::error_json;
use serde_json::json;

falcon_sdk::manifest! {
    name: "call-budget",
    version: "0.1.0",
    description: "Hostile: exhausts the call budget",
    scopes: ["users:read"],
}

struct CallBudget;

impl Plugin for CallBudget {
    fn run(_input: Input) -> Result<String, String> {
        let mut allowed = 0u32;
        let refusal = loop {
            match users::list_users(&Filter::All) {
                Ok(_) if allowed < 100_000 => allowed += 1,
                Ok(_) => return Err("the budget never ran out".into()),
                Err(e) => break error_json(&e),
            }
        };
        let again = users::list_users(&Filter::All)
            .err()
            .map(|e| error_json(&e));
        Ok(json!({ "allowed": allowed, "refusal": refusal, "again": again }).to_string())
    }
}

falcon_sdk::export_plugin!(CallBudget);
