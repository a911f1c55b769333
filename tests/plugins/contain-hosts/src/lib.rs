//! A test plugin with a destructive write: it contains every host whose
//! name matches `hostname` (FQL wildcards allowed) and reports the result,
//! so tests can check the dry run, the approval gate and the real action.
//! With `mode` = `stream` it reads the matching hosts through a
//! `host-stream` instead and reports the pages, for the streaming tests.

use falcon_sdk::{Filter, Input, Plugin, fql, hosts};
use serde_json::json;

falcon_sdk::manifest! {
    name: "contain-hosts",
    version: "0.1.0",
    description: "Contains the hosts matching a name pattern",
    scopes: ["hosts:read", "hosts:write"],
}

struct ContainHosts;

impl Plugin for ContainHosts {
    fn run(input: Input) -> Result<String, String> {
        if input.str_or("mode", "contain").map_err(|e| e.to_string())? == "stream" {
            return stream(&input);
        }
        let pattern = input.str_or("hostname", "").map_err(|e| e.to_string())?;
        if pattern.is_empty() {
            return Err("input field `hostname` is required".into());
        }
        let filter = fql::all_of([fql::eq("hostname", pattern)]);
        let found = hosts::query_hosts(&filter).map_err(|e| e.message())?;
        let ids: Vec<String> = found.iter().map(|h| h.device_id.clone()).collect();
        let names: Vec<Option<String>> = found.iter().map(|h| h.hostname.clone()).collect();
        let outcome = match hosts::contain(&ids, Some("isolated by the contain-hosts test plugin"))
        {
            Ok(done) => json!({ "accepted": done.accepted, "refused": done.refused.len() }),
            Err(e) => json!({ "error": e.message() }),
        };
        Ok(json!({ "ids": ids, "hostnames": names, "outcome": outcome }).to_string())
    }
}

/// Reads every host through streams: `page` hosts per `next` (a page of 0
/// is sent as is, to see the host refuse it), `streams` streams opened at
/// once (to reach the host's limit), and reports page sizes, the total and
/// every id in order.
fn stream(input: &Input) -> Result<String, String> {
    let page = input.u64_or("page", 500).map_err(|e| e.to_string())?;
    let page = u32::try_from(page).map_err(|_| format!("page {page} is too large"))?;
    let wanted = input.u64_or("streams", 1).map_err(|e| e.to_string())?;
    let mut streams = Vec::new();
    for _ in 0..wanted {
        match hosts::stream_hosts(&Filter::All) {
            Ok(stream) => streams.push(stream),
            Err(e) => {
                return Ok(json!({ "opened": streams.len(), "error": e.message() }).to_string());
            }
        }
    }
    let stream = streams.pop().ok_or("`streams` must be at least 1")?;
    drop(streams);
    let before = stream.total();
    let (mut sizes, mut ids) = (Vec::new(), Vec::new());
    loop {
        match stream.next(page) {
            Ok(devices) if devices.is_empty() => break,
            Ok(devices) => {
                sizes.push(devices.len());
                ids.extend(devices.into_iter().map(|d| d.device_id));
            }
            Err(e) => {
                return Ok(json!({ "pages": sizes, "error": e.message() }).to_string());
            }
        }
    }
    // Every stream was dropped but one: a new one opens again.
    let reopened = hosts::stream_hosts(&Filter::All).is_ok();
    Ok(json!({
        "total_before": before,
        "total": stream.total(),
        "pages": sizes,
        "ids": ids,
        "reopened": reopened,
    })
    .to_string())
}

falcon_sdk::export_plugin!(ContainHosts);
