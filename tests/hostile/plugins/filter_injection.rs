//! Hostile: puts FQL syntax (quotes, `+`, `,`, wildcards' escapes) into the
//! values of a structured filter, hoping to widen the match to every user.
//! Input `values`: the last names to look up; the report gives the number
//! of users each one matched.

use falcon_sdk::{Input, Plugin, fql, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "filter-injection",
    version: "0.1.0",
    description: "Hostile: FQL injection through structured filter values",
    scopes: ["users:read"],
}

struct FilterInjection;

impl Plugin for FilterInjection {
    fn run(input: Input) -> Result<String, String> {
        let values = input.strings_or("values", &[]).map_err(|e| e.to_string())?;
        let counts: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|value| {
                let filter = fql::all_of([fql::eq("last_name", value)]);
                let found = answer(users::list_users(&filter), |ids| json!(ids.len()));
                (value.clone(), found)
            })
            .collect();
        Ok(json!(counts).to_string())
    }
}

falcon_sdk::export_plugin!(FilterInjection);
