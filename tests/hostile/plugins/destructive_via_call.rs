//! Hostile: sends destructive requests (containment, a blocking IOC)
//! through the generic `api.call`, around their typed, approval-gated
//! operations.

use falcon_sdk::{Input, Plugin, api};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "destructive-via-call",
    version: "0.1.0",
    description: "Hostile: contains hosts through api.call",
    scopes: ["hosts:write", "custom-ioc:write"],
}

struct DestructiveViaCall;

impl Plugin for DestructiveViaCall {
    fn run(input: Input) -> Result<String, String> {
        let id = input.str_or("id", "0").map_err(|e| e.to_string())?;
        let contain = api::call(
            "POST",
            "/devices/entities/devices-actions/v2",
            &[("action_name".into(), "contain".into())],
            Some(&json!({ "ids": [id] }).to_string()),
        );
        let ioc = api::call(
            "POST",
            "/iocs/entities/indicators/v1",
            &[],
            Some(r#"{"indicators":[{"type":"domain","value":"example.com","action":"prevent"}]}"#),
        );
        Ok(json!({
            "contain": answer(contain, |r| json!(r.status)),
            "ioc": answer(ioc, |r| json!(r.status)),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(DestructiveViaCall);
