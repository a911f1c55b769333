//! The benchmarks' plugin (`bench/run`). With no input it returns at once:
//! the cost of starting and running a plugin. With input it calls the host
//! a chosen number of times and reports how long the calls took, measured
//! inside the sandbox with the WASI monotonic clock.
//!
//! Input (all optional):
//! - `now`: calls of `runtime.now`, a host function that does no I/O;
//! - `empty_reads`: calls of `hosts.get-hosts` with no ids: through the gate
//!   and the audit log, answered without a request;
//! - `roles`: calls of `users.list-roles`, two requests to the tenant each;
//!   when the host reports the rate limit spent, the plugin waits as told
//!   and asks again (the report counts those waits);
//! - `report_kib`: the size of the report to return, to give the run some
//!   memory to hold.

use std::time::{Duration, Instant};

use falcon_sdk::{Error, Input, Plugin, hosts, runtime, users};

falcon_sdk::manifest! {
    name: "bench-probe",
    version: env!("CARGO_PKG_VERSION"),
    description: "Benchmark plugin: returns at once, or calls the host a chosen number of times",
    scopes: ["hosts:read", "roles:read"],
}

struct Probe;

impl Plugin for Probe {
    fn run(input: Input) -> Result<String, String> {
        input
            .reject_unknown(&["now", "empty_reads", "roles", "report_kib"])
            .map_err(|e| e.to_string())?;
        let count = |field| input.u64_or(field, 0).map_err(|e| e.to_string());
        let (now, empty_reads, roles) = (count("now")?, count("empty_reads")?, count("roles")?);
        let report_kib = count("report_kib")?;

        let now_ns = timed(now, || {
            std::hint::black_box(runtime::now());
            Ok(())
        })?;
        let empty_ns = timed(empty_reads, || {
            hosts::get_hosts(&[]).map(drop).map_err(|e| e.message())
        })?;
        // A plugin sharing the tenant's budget waits when the host reports the
        // budget spent (after its own retries), then asks again.
        let mut waits = 0u64;
        let roles_ns = timed(roles, || {
            loop {
                match users::list_roles() {
                    Ok(_) => return Ok(()),
                    Err(Error::RateLimited(ms)) => {
                        waits += 1;
                        std::thread::sleep(Duration::from_millis(ms.max(1)));
                    }
                    Err(e) => return Err(e.message()),
                }
            }
        })?;
        let report = serde_json::json!({
            "now_ns": now_ns,
            "empty_reads_ns": empty_ns,
            "roles_ns": roles_ns,
            "rate_limited_waits": waits,
            "padding": "x".repeat(usize::try_from(report_kib).unwrap_or(0) * 1024),
        });
        Ok(report.to_string())
    }
}

falcon_sdk::export_plugin!(Probe);

/// Runs `call` `n` times and returns the nanoseconds the loop took.
fn timed(n: u64, mut call: impl FnMut() -> Result<(), String>) -> Result<u128, String> {
    let started = Instant::now();
    for _ in 0..n {
        call()?;
    }
    Ok(started.elapsed().as_nanos())
}
