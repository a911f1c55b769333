//! A hostile test plugin for the contract's arguments: filter injection,
//! giant strings and lists, bad field names. It reports each answer so the
//! tests can assert the host escaped, bounded or refused it.

use falcon_sdk::{Comparison, Filter, Input, Plugin, api, fql, users};
use serde_json::json;

falcon_sdk::manifest! {
    name: "api-probe",
    version: "0.1.0",
    description: "Test plugin that sends hostile arguments through the contract",
    scopes: ["users:read"],
}

struct ApiProbe;

impl Plugin for ApiProbe {
    fn run(input: Input) -> Result<String, String> {
        let probe = input
            .str_or("probe", "injection")
            .map_err(|e| e.to_string())?;
        let answer = match probe {
            // A value that would widen the filter if it were spliced in.
            "injection" => {
                let value = input
                    .str_or("value", "x' , uid:'*")
                    .map_err(|e| e.to_string())?;
                summarize(users::list_users(&fql::all_of([fql::eq(
                    "last_name",
                    value,
                )])))
            }
            "giant-filter" => summarize(users::list_users(&Filter::Fql("a".repeat(8 << 20)))),
            "giant-ids" => {
                let ids: Vec<String> = (0..200_000).map(|i| format!("{i:036}")).collect();
                summarize(users::get_users(&ids).map(|u| u.into_iter().map(|u| u.uuid).collect()))
            }
            "bad-field" => summarize(users::list_users(&fql::all_of([fql::condition(
                "last_name) , (uid",
                Comparison::Equals,
                ["x"],
            )]))),
            // The generic call, with the method, path and query of the input.
            "call" => {
                let method = input.str_or("method", "GET").map_err(|e| e.to_string())?;
                let path = input.str_or("path", "/").map_err(|e| e.to_string())?;
                let query: Vec<(String, String)> = input
                    .strings_or("query", &[])
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.into(), v.into())))
                    .collect();
                let body = input
                    .opt_str("body")
                    .map_err(|e| e.to_string())?
                    .map(str::to_owned);
                match api::call(method, path, &query, body.as_deref()) {
                    Ok(response) => {
                        let parsed: serde_json::Value =
                            serde_json::from_str(&response.body).unwrap_or_default();
                        json!({ "status": response.status, "body": parsed })
                    }
                    Err(e) => json!({ "error": format!("{e:?}") }),
                }
            }
            // Calls into the host until the call budget says no.
            "call-budget" => {
                let mut calls = 0u32;
                loop {
                    calls += 1;
                    match users::list_users(&Filter::All) {
                        Ok(_) if calls < 1_000 => continue,
                        Ok(ids) => break json!({ "calls": calls, "ok": ids.len() }),
                        Err(e) => break json!({ "calls": calls, "error": format!("{e:?}") }),
                    }
                }
            }
            "bad-fql" => summarize(users::list_users(&Filter::Fql(
                "last_name:'unterminated".into(),
            ))),
            other => return Err(format!("unknown probe `{other}`")),
        };
        Ok(answer.to_string())
    }
}

fn summarize(result: Result<Vec<String>, falcon_sdk::Error>) -> serde_json::Value {
    match result {
        Ok(ids) => json!({ "ok": ids.len() }),
        Err(e) => json!({ "error": format!("{e:?}") }),
    }
}

falcon_sdk::export_plugin!(ApiProbe);
