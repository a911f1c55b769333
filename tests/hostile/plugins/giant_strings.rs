//! Hostile: sends 8 MiB strings across the boundary: as a raw filter, as a
//! structured filter's value, as an `api.call` path, query value and body.

use falcon_sdk::{Filter, Input, Plugin, api, fql, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "giant-strings",
    version: "0.1.0",
    description: "Hostile: 8 MiB strings in every argument",
    scopes: ["users:read"],
}

struct GiantStrings;

const USERS: &str = "/user-management/queries/users/v1";

impl Plugin for GiantStrings {
    fn run(_input: Input) -> Result<String, String> {
        let giant = "a".repeat(8 << 20);
        let count = |ids: Vec<String>| json!(ids.len());
        let status = |r: api::Response| json!(r.status);
        // A JSON body of 8 MiB: an array of four million zeros.
        let body = format!("[{}0]", "0,".repeat(4 << 20));
        Ok(json!({
            "raw_filter": answer(users::list_users(&Filter::Fql(giant.clone())), count),
            "filter_value": answer(
                users::list_users(&fql::all_of([fql::eq("last_name", &giant)])),
                count,
            ),
            "path": answer(api::call("GET", &format!("/{giant}"), &[], None), status),
            "query": answer(
                api::call("GET", USERS, &[("filter".into(), giant.clone())], None),
                status,
            ),
            "body": answer(
                api::call("POST", "/user-management/entities/users/GET/v1", &[], Some(&body)),
                status,
            ),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(GiantStrings);
