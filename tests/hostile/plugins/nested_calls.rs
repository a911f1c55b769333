//! Hostile: calls into the host from every frame of a deep recursion: a
//! granted call, an ungranted one and the clock, 300 frames deep, to see
//! whether the host's counts and budget stay exact under nesting.

use falcon_sdk::{Filter, Input, Plugin, runtime, users};
use serde_json::json;

falcon_sdk::manifest! {
    name: "nested-calls",
    version: "0.1.0",
    description: "Hostile: host calls from every frame of a deep recursion",
    scopes: ["users:read"],
}

struct NestedCalls;

#[derive(Default)]
struct Tally {
    allowed: u32,
    budget: u32,
    denied: u32,
    other: u32,
}

fn descend(depth: u32, tally: &mut Tally) {
    if depth == 0 {
        return;
    }
    let _ = std::hint::black_box(runtime::now());
    match users::list_users(&Filter::All) {
        Ok(_) => tally.allowed += 1,
        Err(falcon_sdk::Error::BudgetExhausted(_)) => tally.budget += 1,
        Err(_) => tally.other += 1,
    }
    match users::list_roles() {
        Err(falcon_sdk::Error::NotGranted(_)) => tally.denied += 1,
        _ => tally.other += 1,
    }
    descend(depth - 1, tally);
}

impl Plugin for NestedCalls {
    fn run(_input: Input) -> Result<String, String> {
        let mut tally = Tally::default();
        descend(300, &mut tally);
        Ok(json!({
            "allowed": tally.allowed,
            "budget_exhausted": tally.budget,
            "denied": tally.denied,
            "other": tally.other,
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(NestedCalls);
