//! Hostile: puts FQL syntax into the field name of a structured filter,
//! where no escaping applies.

use falcon_sdk::{Comparison, Input, Plugin, fql, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "field-injection",
    version: "0.1.0",
    description: "Hostile: FQL injection through structured filter field names",
    scopes: ["users:read"],
}

struct FieldInjection;

const FIELDS: &[&str] = &[
    "last_name:'x',uid",
    "last_name) , (uid",
    "uid:*'+last_name",
    "",
    "last_name\n",
];

impl Plugin for FieldInjection {
    fn run(_input: Input) -> Result<String, String> {
        let answers: serde_json::Map<String, serde_json::Value> = FIELDS
            .iter()
            .map(|field| {
                let filter = fql::all_of([fql::condition(field, Comparison::Equals, ["x"])]);
                let found = answer(users::list_users(&filter), |ids| json!(ids.len()));
                (field.escape_default().to_string(), found)
            })
            .collect();
        Ok(json!(answers).to_string())
    }
}

falcon_sdk::export_plugin!(FieldInjection);
