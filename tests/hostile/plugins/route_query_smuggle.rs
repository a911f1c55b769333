//! Hostile: smuggles query parameters into `api.call`: a query string or
//! fragment in the path, and `&`/`=` inside a query value that would add
//! parameters if the host spliced it into the URL.

use falcon_sdk::{Input, Plugin, api};
use hostile::{answer, call};
use serde_json::json;

falcon_sdk::manifest! {
    name: "route-query-smuggle",
    version: "0.1.0",
    description: "Hostile: query strings smuggled into api.call",
    scopes: ["users:read"],
}

struct QuerySmuggle;

impl Plugin for QuerySmuggle {
    fn run(_input: Input) -> Result<String, String> {
        let in_value = api::call(
            "GET",
            "/user-management/queries/users/v1",
            &[("limit".into(), "1&limit=500&filter=uid:'*'".into())],
            None,
        );
        let in_key = api::call(
            "GET",
            "/user-management/queries/users/v1",
            &[("limit=2&offset".into(), "0".into())],
            None,
        );
        let status = |r: api::Response| json!(r.status);
        Ok(json!({
            "path_query": call("GET", "/user-management/queries/users/v1?limit=500"),
            "path_fragment": call("GET", "/user-management/queries/users/v1#x"),
            "value": answer(in_value, status),
            "key": answer(in_key, status),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(QuerySmuggle);
