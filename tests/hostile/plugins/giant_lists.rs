//! Hostile: sends huge lists across the boundary: 200,000 ids, a million
//! empty filter conditions, a million empty query parameters. Empty items
//! cost the plugin little and the host much if it does not bound counts.

use falcon_sdk::{Comparison, Condition, Filter, Input, Plugin, api, hosts, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "giant-lists",
    version: "0.1.0",
    description: "Hostile: huge lists in every argument",
    scopes: ["users:read", "hosts:read"],
}

struct GiantLists;

impl Plugin for GiantLists {
    fn run(_input: Input) -> Result<String, String> {
        let ids: Vec<String> = (0..200_000).map(|i| format!("{i:032x}")).collect();
        let conditions: Vec<Condition> = (0..1_000_000)
            .map(|_| Condition {
                field: String::new(),
                op: Comparison::Equals,
                values: Vec::new(),
            })
            .collect();
        let query: Vec<(String, String)> = vec![(String::new(), String::new()); 1_000_000];
        let count = |n: usize| json!(n);
        Ok(json!({
            "user_ids": answer(users::get_users(&ids), |v| count(v.len())),
            "host_ids": answer(hosts::get_hosts(&ids), |v| count(v.len())),
            "conditions": answer(users::list_users(&Filter::AllOf(conditions)), |v| count(v.len())),
            "query_pairs": answer(
                api::call("GET", "/user-management/queries/users/v1", &query, None),
                |r| json!(r.status),
            ),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(GiantLists);
