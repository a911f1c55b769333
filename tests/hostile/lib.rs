//! Hostile test plugins: each file in `plugins/` is one component that
//! attacks one wall of the host (the WASI sandbox, a limit, the gate, the
//! route table, the contract's arguments, the output directory, the
//! manifest or the world). Cargo builds each as an example `cdylib`, so one
//! `cargo build --examples` makes every component; `tests/tests/e2e/hostile.rs`
//! runs each through the real host and asserts its exact outcome.
//!
//! This library holds what the plugins share: turning each attempt into a
//! line of the JSON report the tests read.

use serde_json::{Value, json};

/// `ok: <value>` or `denied: <error kind>`: what a WASI attempt got, stable
/// across wording changes of the standard library.
pub fn brief<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
    match result {
        Ok(v) => format!("ok: {v:?}"),
        Err(e) => format!("denied: {:?}", e.kind()),
    }
}

/// The contract's error as JSON: its kind (the name the audit log uses) and
/// the message the SDK shows.
pub fn error_json(error: &falcon_sdk::Error) -> Value {
    use falcon_sdk::Error as E;
    let kind = match error {
        E::NotGranted(_) => "not-granted",
        E::MissingApiScope(_) => "missing-api-scope",
        E::NotFound(_) => "not-found",
        E::RateLimited(_) => "rate-limited",
        E::InvalidInput(_) => "invalid-input",
        E::Upstream(_) => "upstream-error",
        E::BudgetExhausted(_) => "budget-exhausted",
        E::DryRun(_) => "dry-run",
        E::NotApproved(_) => "not-approved",
        // Kinds of other interfaces; no hostile plugin provokes them.
        _ => "other",
    };
    json!({ "kind": kind, "message": error.message() })
}

/// A host call's answer as JSON: `{"ok": <summary>}` or `{"error": ...}`.
pub fn answer<T>(result: Result<T, falcon_sdk::Error>, summary: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(value) => json!({ "ok": summary(value) }),
        Err(e) => json!({ "error": error_json(&e) }),
    }
}

/// `api.call` with no query or body, answered as [`answer`] with the status.
pub fn call(method: &str, path: &str) -> Value {
    answer(falcon_sdk::api::call(method, path, &[], None), |r| {
        json!(r.status)
    })
}
