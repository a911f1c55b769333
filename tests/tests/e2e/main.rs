//! End-to-end: the real `host` binary runs real plugins, built from source,
//! against the emulator over HTTP on 127.0.0.1.
//!
//! One test binary for the whole crate, one module per surface:
//! `contract` (alerts, incidents, IOCs, host groups), `contract_ops`
//! (policies, sensors, RTR), `notify`, `hostile` (one component per attack),
//! `workflows` and `secops_workflows` (the shipped workflow plugins).

mod contract;
mod contract_ops;
mod hostile;
mod notify;
mod secops_workflows;
mod workflows;

use std::collections::{BTreeMap, BTreeSet};

use e2e::{HostRun, Tenancy, assert_has, run_host, shipped_plugin, test_plugin};
use falcon_emulator::{ApiClient, Tenant, TenantSpec};
use jiff::Timestamp;
use serde_json::Value;

const ADMIN_ROLES: [&str; 2] = ["falcon_administrator", "remote_responder_three"];

/// A demo-like tenant with `users` users.
fn with_users(users: usize) -> Tenancy {
    Tenancy::start(&TenantSpec {
        users,
        ..TenantSpec::demo()
    })
}

fn assert_no_secret(run: &HostRun, secret: &str) {
    assert!(
        !run.stdout.contains(secret),
        "the client secret leaked to stdout"
    );
    assert!(
        !run.stderr.contains(secret),
        "the client secret leaked to stderr"
    );
}

/// The findings, computed from the emulator's own data with the rules the
/// plugin documents, independently of the plugin's code.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    inactive: BTreeSet<String>,
    never_logged_in: BTreeSet<String>,
    administrators: BTreeSet<String>,
    without_roles: BTreeSet<String>,
    roles: BTreeMap<String, BTreeSet<String>>,
}

fn expected_findings(tenant: &Tenant, as_of: Timestamp, inactive_days: i64) -> Expected {
    let mut roles: BTreeMap<String, BTreeSet<String>> = tenant
        .users
        .iter()
        .map(|u| (u.uuid.clone(), BTreeSet::new()))
        .collect();
    for grant in &tenant.grants {
        roles
            .entry(grant.user_uuid.clone())
            .or_default()
            .insert(grant.role_id.clone());
    }
    let mut e = Expected {
        inactive: BTreeSet::new(),
        never_logged_in: BTreeSet::new(),
        administrators: BTreeSet::new(),
        without_roles: BTreeSet::new(),
        roles,
    };
    for user in &tenant.users {
        match user.last_login_at {
            None => {
                e.never_logged_in.insert(user.uuid.clone());
            }
            Some(at) if as_of.as_second() - at.as_second() >= inactive_days * 86_400 => {
                e.inactive.insert(user.uuid.clone());
            }
            Some(_) => {}
        }
        let held = &e.roles[&user.uuid];
        if held.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())) {
            e.administrators.insert(user.uuid.clone());
        }
        if held.is_empty() {
            e.without_roles.insert(user.uuid.clone());
        }
    }
    e
}

fn reported(report: &Value) -> Expected {
    let set = |key: &str| -> BTreeSet<String> {
        report["findings"][key]
            .as_array()
            .unwrap_or_else(|| panic!("report lacks findings.{key}"))
            .iter()
            .map(|v| v.as_str().expect("uuid string").to_owned())
            .collect()
    };
    let roles = report["users"]
        .as_array()
        .expect("report lists users")
        .iter()
        .map(|u| {
            let held = u["roles"]
                .as_array()
                .expect("roles list")
                .iter()
                .map(|r| r["id"].as_str().expect("role id").to_owned())
                .collect();
            (u["uuid"].as_str().expect("uuid").to_owned(), held)
        })
        .collect();
    Expected {
        inactive: set("inactive"),
        never_logged_in: set("never_logged_in"),
        administrators: set("administrators"),
        without_roles: set("without_roles"),
        roles,
    }
}

#[test]
fn access_audit_findings_match_the_tenant() {
    // 1,234 users: the host must page (500 per page) and batch to get them all.
    let spec = TenantSpec {
        seed: 77,
        users: 1_234,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let tenant = tenancy.emulator().tenant();
    let plugin = shipped_plugin("access-audit");
    let as_of = "2026-12-01T12:00:00Z";
    let run = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "users:read",
        "--grant",
        "roles:read",
        "--set",
        "format=json",
        "--set",
        "inactive_days=30",
        "--set",
        &format!("as_of={as_of}"),
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("the JSON report parses");

    let expected = expected_findings(&tenant, as_of.parse().unwrap(), 30);
    let got = reported(&report);
    assert_eq!(got.roles, expected.roles, "roles per user");
    assert_eq!(got.inactive, expected.inactive, "inactive");
    assert_eq!(
        got.never_logged_in, expected.never_logged_in,
        "never logged in"
    );
    assert_eq!(
        got.administrators, expected.administrators,
        "administrators"
    );
    assert_eq!(got.without_roles, expected.without_roles, "without roles");
    assert_eq!(report["user_count"], tenant.users.len());
    for (key, set) in [
        ("inactive", &expected.inactive),
        ("never_logged_in", &expected.never_logged_in),
        ("administrators", &expected.administrators),
        ("without_roles", &expected.without_roles),
    ] {
        assert!(!set.is_empty(), "the tenant should exercise finding {key}");
        assert_eq!(report["counts"][key], set.len(), "count of {key}");
    }
    assert!(
        run.stderr
            .contains("least privilege: every granted scope was used"),
        "{}",
        run.stderr
    );
}

#[test]
fn main_job_on_the_demo_tenant() {
    let plugin = shipped_plugin("access-audit");
    assert!(plugin.ends_with("plugins/access-audit.wasm"));
    let demo = TenantSpec::demo();
    let as_of = demo.anchor.to_string();
    let markdown = run_host(
        &[
            "run",
            "plugins/access-audit.wasm",
            "--demo",
            "--grant",
            "users:read",
            "--grant",
            "roles:read",
        ],
        &[],
    );
    assert_eq!(markdown.code, 0, "stderr:\n{}", markdown.stderr);
    assert!(
        markdown.stdout.starts_with("# Falcon access audit\n"),
        "{}",
        markdown.stdout
    );
    for section in [
        "## Summary",
        "## Inactive accounts",
        "## Never logged in",
        "## Holders of administrator roles",
        "## Users without any role",
        "## All users (64)",
    ] {
        assert!(
            markdown.stdout.contains(section),
            "missing {section}:\n{}",
            markdown.stdout
        );
    }

    let json = run_host(
        &[
            "run",
            "plugins/access-audit.wasm",
            "--demo",
            "--grant",
            "users:read,roles:read",
            "--set",
            "format=json",
            "--set",
            &format!("as_of={as_of}"),
        ],
        &[],
    );
    assert_eq!(json.code, 0, "stderr:\n{}", json.stderr);
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON report");
    let tenant = Tenant::generate(&demo);
    assert!(tenant.users.len() >= 60);
    let expected = expected_findings(&tenant, demo.anchor, 90);
    assert_eq!(reported(&report), expected);
    // The demo tenant is meant to show every finding.
    assert!(!expected.inactive.is_empty() && !expected.never_logged_in.is_empty());
    assert!(!expected.administrators.is_empty() && !expected.without_roles.is_empty());
    let names: Vec<&str> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| !n.is_ascii()),
        "some names have non-ASCII letters: {names:?}"
    );
}

#[test]
fn missing_grants_stop_the_run_before_the_plugin_starts() {
    let tenancy = with_users(5);
    let plugin = shipped_plugin("access-audit");
    let plugin = plugin.to_str().unwrap();

    let none = tenancy.run(&["run", plugin]);
    assert_eq!(none.code, 3, "stderr:\n{}", none.stderr);
    assert!(none.stdout.is_empty());
    assert!(
        none.stderr
            .contains("requests 2 scopes that were not granted; it was not started")
    );
    assert!(none.stderr.contains("users:read") && none.stderr.contains("roles:read"));
    assert_has(&none.stderr, "User management: Read");
    assert!(
        none.stderr
            .contains("run again with: --grant roles:read --grant users:read"),
        "{}",
        none.stderr
    );

    let partial = tenancy.run(&["run", plugin, "--grant", "users:read"]);
    assert_eq!(partial.code, 3);
    assert!(
        partial
            .stderr
            .contains("requests 1 scope that was not granted"),
        "{}",
        partial.stderr
    );
    assert!(
        partial
            .stderr
            .contains("run again with: --grant roles:read"),
        "{}",
        partial.stderr
    );

    // Refused before the host even asked for a token.
    assert_eq!(tenancy.emulator().request_count(), 0);
}

#[test]
fn unknown_scopes_and_bad_input_are_usage_errors() {
    let tenancy = with_users(5);
    let plugin = shipped_plugin("access-audit");
    let plugin = plugin.to_str().unwrap();

    let typo = tenancy.run(&["run", plugin, "--grant", "user:read"]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr
            .contains("unknown scope `user:read`; known scopes:"),
        "{}",
        typo.stderr
    );

    let grants = ["--grant", "users:read", "--grant", "roles:read"];
    let bad = tenancy.run(
        &[
            &["run", plugin][..],
            &grants,
            &["--set", "inactive_days=soon"],
        ]
        .concat(),
    );
    assert_eq!(bad.code, 1, "the plugin reports bad input as its failure");
    assert!(
        bad.stderr
            .contains("`inactive_days` must be a non-negative whole number"),
        "{}",
        bad.stderr
    );

    let unknown =
        tenancy.run(&[&["run", plugin][..], &grants, &["--set", "inactve_days=3"]].concat());
    assert_eq!(unknown.code, 1);
    assert_has(&unknown.stderr, "`inactve_days`");

    let not_json = tenancy.run(&[&["run", plugin][..], &grants, &["--input", "{oops"]].concat());
    assert_eq!(not_json.code, 2);
    assert_has(&not_json.stderr, "--input is not valid JSON");

    let not_wasm = tenancy.run(&["run", "README.md"]);
    assert_eq!(not_wasm.code, 2);
    assert_has(&not_wasm.stderr, "not a WebAssembly component");

    let missing = tenancy.run(&["run", "plugins/no-such-plugin.wasm"]);
    assert_eq!(missing.code, 2);
    assert_has(&missing.stderr, "failed to read the plugin");
}

#[test]
fn credentials_problems_are_reported_before_the_plugin_runs() {
    let plugin = shipped_plugin("access-audit");
    let plugin = plugin.to_str().unwrap();
    let args = [
        "run",
        plugin,
        "--grant",
        "users:read",
        "--grant",
        "roles:read",
    ];

    let unset = run_host(&args, &[]);
    assert_eq!(unset.code, 2);
    assert_has(&unset.stderr, "FALCON_CLIENT_ID is not set");
    assert_has(&unset.stderr, "--demo");

    let tenancy = with_users(5);
    let wrong_secret = "not-the-secret-0123456789";
    let base_url = tenancy.emulator().base_url();
    let refused = run_host(
        &args,
        &[
            ("FALCON_CLIENT_ID", &tenancy.client().client_id),
            ("FALCON_CLIENT_SECRET", wrong_secret),
            ("FALCON_CLOUD", &base_url),
        ],
    );
    assert_eq!(refused.code, 5, "stderr:\n{}", refused.stderr);
    assert_has(&refused.stderr, "failed to authenticate to Falcon");
    assert!(
        !refused.stderr.contains(wrong_secret),
        "the secret leaked: {}",
        refused.stderr
    );

    let bad_cloud = run_host(
        &args,
        &[
            ("FALCON_CLIENT_ID", "x"),
            ("FALCON_CLIENT_SECRET", "y"),
            ("FALCON_CLOUD", "mars-1"),
        ],
    );
    assert_eq!(bad_cloud.code, 2);
    assert_has(&bad_cloud.stderr, "unknown cloud `mars-1`");
}

#[test]
fn a_plugin_cannot_reach_the_environment_files_or_network() {
    let tenancy = with_users(5);
    // A listener the probe is told to connect to: nothing may arrive.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();

    let probe = test_plugin("sandbox-probe");
    let run = tenancy.run(&[
        "run",
        probe.to_str().unwrap(),
        "--set",
        &format!("port={port}"),
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let seen: BTreeMap<String, String> = serde_json::from_str(&run.stdout).expect("probe report");

    assert_eq!(seen["env_count"], "0");
    assert_eq!(seen["env_secret"], "Err(NotPresent)");
    assert_eq!(seen["env_id"], "Err(NotPresent)");
    assert_eq!(seen["args"], "[]");
    for key in [
        "read_passwd",
        "read_dir_root",
        "read_relative",
        "write_tmp",
        "proc_environ",
    ] {
        assert!(seen[key].starts_with("denied: "), "{key}: {}", seen[key]);
    }
    for key in ["tcp_connect", "tcp_listen", "udp_bind", "dns_lookup"] {
        assert!(seen[key].starts_with("denied: "), "{key}: {}", seen[key]);
    }
    assert!(
        listener.accept().is_err(),
        "the plugin reached a loopback socket"
    );
    assert!(
        !std::path::Path::new("/tmp/sandbox-probe").exists(),
        "the plugin wrote a file"
    );
}

#[test]
fn an_ungranted_call_is_a_denial_the_plugin_can_handle() {
    let tenancy = with_users(5);
    let probe = test_plugin("sandbox-probe");
    // Granting the scope on the command line is not enough: the plugin did
    // not request it in its manifest, so the gate still refuses.
    let run = tenancy.run(&[
        "run",
        probe.to_str().unwrap(),
        "--grant",
        "users:read",
        "--set",
        "probe=ungranted-call",
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("does not request users:read; that grant has no effect")
    );
    let seen: BTreeMap<String, String> = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        seen["first_call"].starts_with("Err(Error::NotGranted(Denial"),
        "{}",
        seen["first_call"]
    );
    assert!(
        seen["first_call"].contains("--grant users:read"),
        "{}",
        seen["first_call"]
    );
    assert!(
        seen["second_call"].contains("scope: \"roles:read\""),
        "{}",
        seen["second_call"]
    );
    assert_has(&run.stderr, "0 calls into the host, 2 denied");
}

fn probe_stopped(probe: &str, limits: &[&str]) -> HostRun {
    let tenancy = with_users(1);
    let plugin = test_plugin("sandbox-probe");
    let probe = format!("probe={probe}");
    let args = [
        &["run", plugin.to_str().unwrap(), "--set", &probe][..],
        limits,
    ]
    .concat();
    tenancy.run(&args)
}

#[test]
fn a_runaway_loop_is_stopped_at_the_time_limit() {
    let started = std::time::Instant::now();
    let run = probe_stopped("loop", &["--timeout", "1s"]);
    assert_eq!(run.code, 4, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("exceeded the time limit of 1s (--timeout)"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let run = probe_stopped("alloc", &["--max-memory", "64MiB"]);
    assert_eq!(run.code, 4, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("exceeded the memory limit of 64MiB (--max-memory)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_output_flood_is_stopped_at_the_output_limit() {
    let run = probe_stopped("flood", &["--max-output", "64KiB", "--timeout", "20s"]);
    assert_eq!(run.code, 4, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("exceeded the output limit of 64KiB (--max-output)"),
        "{}",
        run.stderr
    );

    let logs = probe_stopped("log-flood", &["--max-output", "64KiB", "--timeout", "20s"]);
    assert_eq!(logs.code, 4, "stderr:\n{}", logs.stderr);
    assert_has(&logs.stderr, "output limit");
}

#[test]
fn a_panicking_plugin_is_reported_as_crashed() {
    let run = probe_stopped("panic", &[]);
    assert_eq!(run.code, 4, "stderr:\n{}", run.stderr);
    assert_has(&run.stderr, "plugin `sandbox-probe` crashed");
    assert_has(&run.stderr, "the probe panicked on purpose");
}

#[test]
fn help_describes_every_flag_and_the_exit_codes() {
    let top = run_host(&["--help"], &[]);
    assert_eq!(top.code, 0);
    for word in ["run", "--verbose", "--quiet", "Exit codes:"] {
        assert!(
            top.stdout.contains(word),
            "host --help lacks {word}:\n{}",
            top.stdout
        );
    }
    let run = run_host(&["run", "--help"], &[]);
    assert_eq!(run.code, 0);
    for flag in [
        "--demo",
        "--grant",
        "--input",
        "--input-file",
        "--set",
        "--cloud",
        "--timeout",
        "--call-timeout",
        "--max-memory",
        "--max-output",
        "--max-calls",
        "--fuel",
        "FALCON_CLIENT_ID",
        "FALCON_CLIENT_SECRET",
        "FALCON_CLOUD",
        "Exit codes:",
    ] {
        assert!(
            run.stdout.contains(flag),
            "host run --help lacks {flag}:\n{}",
            run.stdout
        );
    }
}

/// A scratch directory under the target dir, fresh for each call.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = e2e::root().join("target").join("e2e-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_run_and_call_is_audited_and_tampering_is_detected() {
    let tenancy = with_users(5);
    let dir = scratch("audit");
    let log = dir.join("audit.jsonl");
    let log_arg = log.to_str().unwrap();
    let plugin = shipped_plugin("access-audit");
    let plugin = plugin.to_str().unwrap();

    let ok = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        "users:read,roles:read",
        "--audit-log",
        log_arg,
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let refused = tenancy.run(&["run", plugin, "--audit-log", log_arg]);
    assert_eq!(refused.code, 3);

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(&tenancy.client().client_secret),
        "the secret reached the audit log"
    );
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "run-start",
            "call",
            "call",
            "call",
            "run-end",
            "run-refused"
        ]
    );
    let calls: Vec<(&str, &str, &str)> = records[1..4]
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap(),
                r["scope"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("users.query-users", "users:read", "ok"),
            ("users.list-roles", "roles:read", "ok"),
            ("users.roles-of-users", "roles:read", "ok")
        ]
    );
    assert_eq!(records[3]["targets"], 5);
    assert_eq!(records[4]["outcome"], "ok");
    assert_eq!(
        records[5]["missing_scopes"],
        serde_json::json!(["roles:read", "users:read"])
    );
    for r in &records {
        assert_eq!(r["plugin"], "access-audit");
        assert_eq!(r["digest"].as_str().unwrap().len(), 64);
    }

    let verify = |expect_code: i32, expect: &str| {
        let run = run_host(&["audit", "verify", log_arg], &[]);
        assert_eq!(run.code, expect_code, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(expect),
            "expected {expect:?} in:\n{}",
            run.stdout
        );
    };
    verify(0, "6 lines, chain intact");
    let json = run_host(&["audit", "verify", log_arg, "--json"], &[]);
    let verdict: Value = serde_json::from_str(&json.stdout).expect("verify --json");
    assert_eq!(
        (verdict["intact"].clone(), verdict["lines"].clone()),
        (Value::Bool(true), 6.into())
    );

    let lines: Vec<&str> = text.lines().collect();
    let write = |kept: &[&str]| std::fs::write(&log, kept.join("\n") + "\n").unwrap();

    // An edit: one call's status rewritten.
    let edited = lines[2].replace("\"status\":\"ok\"", "\"status\":\"not-found\"");
    write(&[lines[0], lines[1], &edited, lines[3], lines[4], lines[5]]);
    verify(1, "line 3 was edited: its hash does not match");

    // A deletion: the refused run's predecessor removed.
    write(&[lines[0], lines[1], lines[2], lines[3], lines[5]]);
    verify(1, "line 5 does not follow line 4");

    // A truncation: the last line cut off.
    write(&lines[..5]);
    verify(
        1,
        "the log was truncated: the head records 6 lines, the log has 5",
    );

    // A broken log is not appended to.
    let blocked = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        "users:read,roles:read",
        "--audit-log",
        log_arg,
    ]);
    assert_eq!(blocked.code, 2, "{}", blocked.stderr);
    assert_has(&blocked.stderr, "fails verification");
}

#[test]
fn the_second_run_of_a_plugin_loads_it_without_compiling() {
    let tenancy = with_users(3);
    let cache = scratch("compile-cache");
    let plugin = shipped_plugin("access-audit");
    let args = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "users:read,roles:read",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--set",
        "as_of=2026-11-30T00:00:00Z",
    ];
    let first = tenancy.run(&args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_has(&first.stderr, ") compiled in ");
    let second = tenancy.run(&args);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains(") loaded from the compile cache in "),
        "{}",
        second.stderr
    );
    assert_eq!(
        first.stdout, second.stdout,
        "the cached plugin behaves the same"
    );

    let no_cache = tenancy.run(&[&args[..], &["--no-cache"]].concat());
    assert_has(&no_cache.stderr, ") compiled in ");
}

#[test]
fn destinations_add_to_a_grant_and_standing_approvals_are_checked_and_shown() {
    let dir = scratch("grants-approvals");
    let grants = dir.join("grants.toml");
    let grants_arg = grants.to_str().unwrap();
    let plugin = shipped_plugin("offboarding");
    let plugin_arg = plugin.to_str().unwrap();

    // Naming only a destination keeps every requested Falcon scope.
    let granted = run_host(
        &[
            "grant",
            plugin_arg,
            "--scope",
            "notify:secops",
            "--grants",
            grants_arg,
        ],
        &[],
    );
    assert_eq!(granted.code, 0, "{}", granted.stderr);
    for scope in [
        "hosts:read",
        "hosts:write",
        "host-groups:read",
        "host-groups:write",
    ] {
        assert_has(&granted.stdout, format!("  + {scope}"));
    }
    assert_has(&granted.stdout, "  + notify:secops");
    assert!(!granted.stdout.contains("  - "), "{}", granted.stdout);
    // Naming a Falcon scope narrows to it; the destination stays named.
    let narrowed = run_host(
        &[
            "grant",
            plugin_arg,
            "--scope",
            "hosts:read",
            "--scope",
            "notify:secops",
            "--grants",
            grants_arg,
        ],
        &[],
    );
    assert_eq!(narrowed.code, 0, "{}", narrowed.stderr);
    assert_has(&narrowed.stdout, "  - hosts:write");
    assert!(
        !narrowed.stdout.contains("- notify:secops"),
        "{}",
        narrowed.stdout
    );

    // A mistyped standing approval is refused wherever the file is read.
    let text = std::fs::read_to_string(&grants).unwrap();
    std::fs::write(
        &grants,
        text.replace("scopes =", "approve = [\"hosts.contian\"]\nscopes ="),
    )
    .unwrap();
    for args in [
        vec!["grants", "--grants", grants_arg],
        vec![
            "run",
            plugin_arg,
            "--demo",
            "--dry-run",
            "--grants",
            grants_arg,
        ],
        vec!["inspect", plugin_arg, "--grants", grants_arg],
    ] {
        let refused = run_host(&args, &[]);
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.stderr);
        assert_has(
            &refused.stderr,
            "`[offboarding]` approve: unknown operation `hosts.contian`",
        );
        assert_has(&refused.stderr, "hosts.contain");
    }
    let text = std::fs::read_to_string(&grants).unwrap();
    std::fs::write(&grants, text.replace("hosts.contian", "users.list-users")).unwrap();
    let listed = run_host(&["grants", "--grants", grants_arg], &[]);
    assert_eq!(listed.code, 2, "{}", listed.stderr);
    assert_has(&listed.stderr, "is not destructive and needs no approval");

    // A good one is listed, shown by inspect and named by revoke.
    let text = std::fs::read_to_string(&grants).unwrap();
    std::fs::write(
        &grants,
        text.replace("users.list-users", "hosts.contain")
            + "\n[offboarding.limits]\ntimeout = \"20m\"\n",
    )
    .unwrap();
    let listed = run_host(&["grants", "--grants", grants_arg], &[]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_has(&listed.stdout, "approves: hosts.contain");
    assert_has(&listed.stdout, "limits: timeout = 20m");
    let json = run_host(&["grants", "--grants", grants_arg, "--json"], &[]);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["plugins"]["offboarding"]["approve"],
        serde_json::json!(["hosts.contain"])
    );
    assert_eq!(json["plugins"]["offboarding"]["limits"]["timeout"], "20m");
    let inspect = run_host(&["inspect", plugin_arg, "--grants", grants_arg], &[]);
    assert_has(
        &inspect.stdout,
        "hosts.contain (approved in the grants file)",
    );
    assert!(
        !inspect.stdout.contains("each needs --approve"),
        "{}",
        inspect.stdout
    );
    let revoked = run_host(&["revoke", "offboarding", "--grants", grants_arg], &[]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert_has(&revoked.stdout, "  - approval of hosts.contain");
    assert_has(&revoked.stdout, "  - limit timeout = 20m");
}

#[test]
fn runs_on_one_tenant_share_the_rate_limit_state_and_demo_runs_keep_their_own() {
    let tenancy = with_users(3);
    let home = scratch("ratelimit-home");
    let home_arg = home.to_str().unwrap();
    let plugin = shipped_plugin("access-audit");
    let args = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "users:read,roles:read",
    ];
    let dir = home.join(".cache/falcon-plugin-host/ratelimit");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };

    let demo = run_host(&[&args[..], &["--demo"]].concat(), &[("HOME", home_arg)]);
    assert_eq!(demo.code, 0, "{}", demo.stderr);
    assert!(
        files().is_empty(),
        "a demo tenant is the run's own: {:?}",
        files()
    );

    for _ in 0..2 {
        let run = tenancy.run_with(&args, &[("HOME", home_arg)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    // One file for the tenant's API client, owner-only, holding the pool as
    // the last response reported it (6,000 a minute, less what was spent).
    let files = files();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{text}");
    assert_eq!(fields[0], "6000", "{text}");
    let remaining: f64 = fields[1].parse().unwrap();
    assert!((5_900.0..6_000.0).contains(&remaining), "{text}");
    assert!(!text.contains(&tenancy.client().client_secret), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
}

#[test]
fn a_grants_file_pins_scopes_to_the_exact_component() {
    let tenancy = with_users(3);
    let dir = scratch("grants");
    let grants = dir.join("grants.toml");
    let grants_arg = grants.to_str().unwrap();
    let plugin = shipped_plugin("access-audit");

    // A copy, so the test can change its bytes.
    let copy = dir.join("access-audit.wasm");
    std::fs::copy(&plugin, &copy).unwrap();
    let copy_arg = copy.to_str().unwrap();

    let refused = tenancy.run(&["run", copy_arg, "--grants", grants_arg]);
    assert_eq!(refused.code, 3);
    assert_has(
        &refused.stderr,
        format!("host grant {copy_arg} --grants {grants_arg}"),
    );
    assert_has(&refused.stderr, "[access-audit]");
    assert!(
        refused
            .stderr
            .contains("scopes = [\"roles:read\", \"users:read\"]"),
        "{}",
        refused.stderr
    );

    let granted = run_host(&["grant", copy_arg, "--grants", grants_arg], &[]);
    assert_eq!(granted.code, 0, "{}", granted.stderr);
    assert_has(&granted.stdout, "  + roles:read");
    assert_has(&granted.stdout, "  + users:read");
    let again = run_host(&["grant", copy_arg, "--grants", grants_arg], &[]);
    assert_has(&again.stdout, "nothing written");

    let ok = tenancy.run(&["run", copy_arg, "--grants", grants_arg]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // One byte more (a custom section appended) makes another component:
    // the old grant no longer applies, and the refusal says why.
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.extend_from_slice(&[0x00, 0x04, 0x03, b'p', b'a', b'd']);
    std::fs::write(&copy, &bytes).unwrap();
    let stale = tenancy.run(&["run", copy_arg, "--grants", grants_arg]);
    assert_eq!(stale.code, 3, "{}", stale.stderr);
    assert!(
        stale
            .stderr
            .contains("the plugin changed since it was granted"),
        "{}",
        stale.stderr
    );

    let regrant = run_host(&["grant", copy_arg, "--grants", grants_arg], &[]);
    assert_has(&regrant.stdout, "the component changed: sha256");
    assert_has(&regrant.stdout, "no scope changed");
    assert_has(&regrant.stdout, "(2 unchanged)");

    let json = run_host(&["grants", "--grants", grants_arg, "--json"], &[]);
    let listed_json: Value = serde_json::from_str(&json.stdout).expect("grants --json");
    assert_eq!(
        listed_json["plugins"]["access-audit"]["scopes"],
        serde_json::json!(["roles:read", "users:read"])
    );
    let listed = run_host(&["grants", "--grants", grants_arg], &[]);
    assert_has(&listed.stdout, "access-audit");
    assert_has(&listed.stdout, "roles:read, users:read");

    let subset = run_host(
        &[
            "grant",
            copy_arg,
            "--scope",
            "hosts:read",
            "--grants",
            grants_arg,
        ],
        &[],
    );
    assert_eq!(subset.code, 2);
    assert_has(&subset.stderr, "does not request `hosts:read`");

    let revoked = run_host(&["revoke", "access-audit", "--grants", grants_arg], &[]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let after = tenancy.run(&["run", copy_arg, "--grants", grants_arg]);
    assert_eq!(after.code, 3);
}

#[test]
fn containment_is_planned_in_a_dry_run_refused_without_approval_and_sent_with_it() {
    let spec = TenantSpec {
        seed: 11,
        users: 3,
        hosts: 60,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let tenant = tenancy.emulator().tenant();
    let targets: BTreeSet<String> = tenant
        .hosts
        .iter()
        .filter(|h| h.hostname.starts_with("SRV-LNX-") && !h.hidden)
        .map(|h| h.device_id.clone())
        .collect();
    assert!(!targets.is_empty(), "the tenant has Linux servers");
    let status = |t: &Tenant| -> BTreeMap<String, String> {
        t.hosts
            .iter()
            .map(|h| (h.device_id.clone(), h.status.clone()))
            .collect()
    };
    let before = status(&tenant);

    let dir = scratch("containment");
    let log = dir.join("audit.jsonl");
    let plugin = test_plugin("contain-hosts");
    let base = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "hosts:read,hosts:write",
        "--set",
        "hostname=SRV-LNX-*",
        "--audit-log",
        log.to_str().unwrap(),
    ];
    let outcome = |run: &HostRun| -> Value {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report: Value = serde_json::from_str(&run.stdout).expect("plugin report");
        let ids: BTreeSet<String> = report["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().into())
            .collect();
        assert_eq!(ids, targets, "the plugin found exactly the Linux servers");
        report["outcome"].clone()
    };

    // 1. Dry run: the plan lists every target by id and name; nothing changes.
    let dry = tenancy.run(&[&base[..], &["--dry-run"]].concat());
    let result = outcome(&dry);
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("was not sent; it is in the plan"),
        "{result}"
    );
    assert!(
        dry.stderr
            .contains("dry run: nothing was changed; the plugin would have made 1 write")
    );
    assert!(dry.stderr.contains(&format!(
        "hosts.contain (destructive) on {} hosts",
        targets.len()
    )));
    for host in tenant
        .hosts
        .iter()
        .filter(|h| targets.contains(&h.device_id))
    {
        assert!(
            dry.stderr
                .contains(&format!("    {} {}", host.device_id, host.hostname)),
            "the plan names {}:\n{}",
            host.hostname,
            dry.stderr
        );
    }
    assert_eq!(
        status(&tenancy.emulator().tenant()),
        before,
        "a dry run changed the tenant"
    );

    // 2. No approval (and no terminal to ask at): refused, nothing changes.
    let refused = tenancy.run(&base);
    let result = outcome(&refused);
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("not approved"), "{error}");
    assert!(error.contains("--approve hosts.contain"), "{error}");
    assert_eq!(
        status(&tenancy.emulator().tenant()),
        before,
        "an unapproved run changed the tenant"
    );

    // 3. Approved: every target is contained, and only the targets.
    let approved = tenancy.run(&[&base[..], &["--approve", "hosts.contain"]].concat());
    let result = outcome(&approved);
    let accepted: BTreeSet<String> = result["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().into())
        .collect();
    assert_eq!(accepted, targets);
    for (id, state) in status(&tenancy.emulator().tenant()) {
        if targets.contains(&id) {
            assert!(
                state == "containment_pending" || state == "contained",
                "{id}: {state}"
            );
        } else {
            assert_eq!(state, before[&id], "{id} was not a target");
        }
    }

    // The audit log tells the three runs apart, with the write's intent
    // recorded before its result.
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["operation"] == "hosts.contain")
        .collect();
    let decisions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("dry-run", "dry-run"),
            ("not-approved", "not-approved"),
            ("allowed", "intent"),
            ("allowed", "ok")
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r["tier"] == "destructive" && r["targets"] == targets.len())
    );

    let bad = tenancy.run(&[&base[..], &["--approve", "hosts.list-hosts"]].concat());
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("is not destructive and needs no approval"),
        "{}",
        bad.stderr
    );
}

#[test]
fn hostile_arguments_are_escaped_bounded_or_refused() {
    let tenancy = with_users(40);
    let tenant = tenancy.emulator().tenant();
    let plugin = test_plugin("api-probe");
    let probe = |name: &str, extra: &[&str]| -> Value {
        let set = format!("probe={name}");
        let args = [
            &[
                "run",
                plugin.to_str().unwrap(),
                "--grant",
                "users:read",
                "--set",
                &set,
            ][..],
            extra,
        ]
        .concat();
        let run = tenancy.run(&args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        serde_json::from_str(&run.stdout).expect("probe answer")
    };

    // A quote in a value cannot widen the filter: nobody is called this.
    assert_eq!(probe("injection", &[])["ok"], 0);
    // The same path finds a real name with an apostrophe or non-ASCII letters exactly.
    for user in tenant
        .users
        .iter()
        .filter(|u| u.last_name.contains('\'') || !u.last_name.is_ascii())
    {
        let expected = tenant
            .users
            .iter()
            .filter(|u2| u2.last_name == user.last_name)
            .count();
        let value = format!("value={}", user.last_name);
        assert_eq!(
            probe("injection", &["--set", &value])["ok"],
            expected,
            "{}",
            user.last_name
        );
    }

    let giant = probe("giant-filter", &[]);
    assert!(
        giant["error"].as_str().unwrap().contains("InvalidInput"),
        "{giant}"
    );
    assert!(
        giant["error"].as_str().unwrap().contains("at most 16384"),
        "{giant}"
    );

    let ids = probe("giant-ids", &[]);
    assert!(
        ids["error"]
            .as_str()
            .unwrap()
            .contains("one call takes at most 100000"),
        "{ids}"
    );

    let field = probe("bad-field", &[]);
    assert!(
        field["error"]
            .as_str()
            .unwrap()
            .contains("is not a field name"),
        "{field}"
    );

    let fql = probe("bad-fql", &[]);
    assert!(fql["error"].as_str().unwrap().contains("Upstream"), "{fql}");
    assert!(
        fql["error"].as_str().unwrap().contains("status: 400"),
        "{fql}"
    );
}

#[test]
fn deep_recursion_is_stopped() {
    let run = probe_stopped("recurse", &["--timeout", "20s"]);
    assert_eq!(run.code, 4, "stderr:\n{}", run.stderr);
    assert_has(&run.stderr, "overflowed its stack");
    assert!(
        run.stderr.lines().count() < 30,
        "no wall of backtrace:\n{}",
        run.stderr
    );
}

#[test]
fn host_check_diagnoses_each_of_the_guides_failures() {
    let tenancy = with_users(4);
    let url = tenancy.emulator().base_url();
    let check = |client: &ApiClient, extra: &[&str]| -> HostRun {
        let env = [
            ("FALCON_CLIENT_ID", client.client_id.as_str()),
            ("FALCON_CLIENT_SECRET", client.client_secret.as_str()),
            ("FALCON_CLOUD", url.as_str()),
        ];
        let run = run_host(&[&["check"][..], extra].concat(), &env);
        assert_no_secret(&run, &client.client_secret);
        run
    };

    let healthy = check(tenancy.client(), &[]);
    assert_eq!(healthy.code, 0, "{}{}", healthy.stdout, healthy.stderr);
    for line in [
        "ok      test connection",
        "ok      list hosts",
        "ok      list detections",
        "4 users",
    ] {
        assert_has(&healthy.stdout, line);
    }

    // A wrong secret.
    let mut wrong = tenancy.client().clone();
    wrong.client_secret = "a-wrong-secret-of-forty-characters-000000".into();
    let bad = check(&wrong, &[]);
    assert_eq!(bad.code, 5);
    assert_has(&bad.stdout, "FAILED  test connection");
    assert_has(
        &bad.stdout,
        "the client id or secret is wrong, or the API client was disabled",
    );

    // A disabled API client: the same answer from Falcon, the same advice.
    let mut disabled = ApiClient::full_access();
    disabled.enabled = false;
    tenancy.emulator().add_client(disabled.clone());
    let off = check(&disabled, &[]);
    assert_eq!(off.code, 5);
    assert_has(&off.stdout, "disabled or deleted");

    // An API client without the hosts and alerts scopes.
    let users_only = ApiClient::with_scopes(&["usermgmt:read"]);
    tenancy.emulator().add_client(users_only.clone());
    let partial = check(&users_only, &["--json"]);
    assert_eq!(partial.code, 5);
    let report: Value = serde_json::from_str(&partial.stdout).expect("JSON");
    let by_check: BTreeMap<&str, &Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c))
        .collect();
    assert_eq!(by_check["test connection"]["ok"], true);
    assert_eq!(by_check["list users"]["ok"], true);
    for (name, scope) in [
        ("list hosts", "Hosts: Read"),
        ("list detections", "Alerts: Read"),
    ] {
        assert_eq!(by_check[name]["ok"], false, "{name}");
        assert_eq!(by_check[name]["needs"], scope);
        assert!(
            by_check[name]["remedy"]
                .as_str()
                .unwrap()
                .contains("lacks this scope")
        );
    }

    // Credentials of another cloud: the token service names it, and every
    // call is redirected there.
    let mut elsewhere = ApiClient::full_access();
    elsewhere.home_region = Some("us-2".into());
    tenancy.emulator().add_client(elsewhere.clone());
    let wrong_cloud = check(&elsewhere, &[]);
    assert_eq!(wrong_cloud.code, 5, "{}", wrong_cloud.stdout);
    assert_has(&wrong_cloud.stdout, "FAILED  list hosts");
    assert_has(&wrong_cloud.stdout, "api.us-2.crowdstrike");
    assert_has(
        &wrong_cloud.stdout,
        "wrong cloud: these credentials belong to another cloud",
    );

    // Nothing listening at the configured address.
    let nowhere = run_host(
        &["check"],
        &[
            ("FALCON_CLIENT_ID", "x"),
            ("FALCON_CLIENT_SECRET", "y"),
            ("FALCON_CLOUD", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(nowhere.code, 5);
    assert_has(
        &nowhere.stdout,
        "the API cannot be reached: check FALCON_CLOUD",
    );

    // A 429 storm from other integrations sharing the budget.
    tenancy.emulator().set_faults(falcon_emulator::Faults {
        rate_limit_storm: true,
        ..Default::default()
    });
    let limited = check(tenancy.client(), &[]);
    assert_eq!(limited.code, 5);
    assert_has(&limited.stdout, "rate limited");
    tenancy
        .emulator()
        .set_faults(falcon_emulator::Faults::default());

    let demo = run_host(&["check", "--demo"], &[]);
    assert_eq!(demo.code, 0, "{}{}", demo.stdout, demo.stderr);
}

#[test]
fn the_config_file_supplies_settings_the_environment_overrides_and_secrets_stay_masked() {
    let tenancy = with_users(3);
    let dir = scratch("config");
    let config = dir.join("config.toml");
    let url = tenancy.emulator().base_url();
    let audit = dir.join("audit.jsonl");
    std::fs::write(
        &config,
        format!(
            "client_id = \"{}\"\nclient_secret = \"{}\"\ncloud = \"{url}\"\naudit_log = \"{}\"\n",
            tenancy.client().client_id,
            tenancy.client().client_secret,
            audit.display()
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let secret = &tenancy.client().client_secret;

    // Readable by others while holding a secret: refused, with the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let shared = run_host(&["config", "show", "--config", config_arg], &[]);
        assert_eq!(shared.code, 2);
        assert_has(
            &shared.stderr,
            "others can read it (mode 644); run `chmod 600",
        );
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let shown = run_host(
        &["config", "show", "--config", config_arg],
        &[("FALCON_CLOUD", "eu-1")],
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        !shown.stdout.contains(secret.as_str()),
        "the secret is shown:\n{}",
        shown.stdout
    );
    assert_has(&shown.stdout, "client_secret  ***");
    assert_has(&shown.stdout, format!("config file ({config_arg})"));
    assert_has(&shown.stdout, "eu-1");
    assert_has(&shown.stdout, "environment (FALCON_CLOUD)");

    // The file alone is enough to run and to check.
    let plugin = shipped_plugin("access-audit");
    let env = [("FALCON_HOST_CONFIG", config_arg)];
    let run = run_host(
        &[
            "run",
            plugin.to_str().unwrap(),
            "--grant",
            "users:read,roles:read",
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        audit.exists(),
        "the audit log from the config file was used"
    );
    let check = run_host(&["check"], &env);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    for out in [&run.stdout, &run.stderr, &check.stdout, &check.stderr] {
        assert!(!out.contains(secret.as_str()), "the secret leaked");
    }

    std::fs::write(dir.join("typo.toml"), "clientid = \"x\"\n").unwrap();
    let typo = run_host(
        &[
            "config",
            "show",
            "--config",
            dir.join("typo.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(typo.code, 2);
    assert_has(&typo.stderr, "unknown field `clientid`");
}

#[test]
fn a_python_plugin_builds_with_componentize_py_and_runs_under_the_same_grants() {
    let root = e2e::root();
    let componentize = root.join(".venv/bin/componentize-py");
    assert!(
        componentize.exists(),
        "{} is missing: run `./dev setup` to create .venv with componentize-py",
        componentize.display()
    );
    let dir = scratch("python");
    let wasm = dir.join("user-count.wasm");
    let built = std::process::Command::new(&componentize)
        .args([
            "-d",
            "wit",
            "-w",
            "plugin",
            "componentize",
            "app",
            "-p",
            "examples/python-user-count",
            "-o",
        ])
        .arg(&wasm)
        .current_dir(&root)
        .output()
        .expect("componentize-py runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm_arg = wasm.to_str().unwrap();

    let unnamed = run_host(&["run", wasm_arg, "--demo"], &[]);
    assert_eq!(unnamed.code, 2);
    assert_has(&unnamed.stderr, "add one with `host manifest set`");

    let set = run_host(
        &[
            "manifest",
            "set",
            wasm_arg,
            "--name",
            "user-count",
            "--version",
            "0.1.0",
            "--scope",
            "users:read",
        ],
        &[],
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    let twice = run_host(
        &["manifest", "set", wasm_arg, "--name", "x", "--version", "1"],
        &[],
    );
    assert_eq!(twice.code, 2);
    assert_has(&twice.stderr, "already has a manifest");

    let refused = run_host(&["run", wasm_arg, "--demo"], &[]);
    assert_eq!(refused.code, 3);
    assert_has(&refused.stderr, "--grant users:read");

    let cache = dir.join("cache");
    let args = [
        "run",
        wasm_arg,
        "--demo",
        "--grant",
        "users:read",
        "--set",
        "format=json",
        "--cache-dir",
    ];
    let run = run_host(&[&args[..], &[cache.to_str().unwrap()]].concat(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let tenant = Tenant::generate(&TenantSpec::demo());
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for user in &tenant.users {
        *expected.entry(user.status.clone()).or_default() += 1;
    }
    assert_eq!(report["users"], tenant.users.len());
    assert_eq!(
        report["by_status"],
        serde_json::to_value(&expected).unwrap()
    );
}

/// The `--help` of every command, against files in `tests/golden/`. Run
/// with `UPDATE_GOLDEN=1` to rewrite them after an intended change, and
/// review the diff.
#[test]
fn help_output_matches_the_golden_files() {
    let commands: [&[&str]; 13] = [
        &[],
        &["run"],
        &["check"],
        &["inspect"],
        &["grant"],
        &["revoke"],
        &["grants"],
        &["emulator"],
        &["audit", "verify"],
        &["config", "show"],
        &["manifest", "set"],
        &["new"],
        &["help"],
    ];
    let dir = e2e::root().join("tests").join("golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for command in commands {
        let (args, name) = if command == ["help"] {
            (vec!["-h"], "short".to_owned())
        } else {
            (
                [command, &["--help"]].concat(),
                if command.is_empty() {
                    "host".into()
                } else {
                    command.join("-")
                },
            )
        };
        let run = run_host(&args, &[]);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let path = dir.join(format!("help-{name}.txt"));
        if update {
            std::fs::write(&path, &run.stdout).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(run.stdout.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "help output changed; rerun with UPDATE_GOLDEN=1 and review: {stale:?}"
    );
}

#[test]
fn the_most_verbose_logs_hold_no_credentials() {
    let tenancy = with_users(3);
    let plugin = shipped_plugin("access-audit");
    // `Tenancy::run` already fails on the client secret in any output.
    let run = tenancy.run(&[
        "-vv",
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "users:read,roles:read",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("host call"),
        "-vv shows the host's calls:\n{}",
        run.stderr
    );
    for needle in ["Bearer ", "bearer ", "access_token", "client_secret="] {
        assert!(!run.stderr.contains(needle), "{needle:?} in the logs");
    }
    assert!(
        run.stderr.lines().count() < 5_000,
        "-vv stays readable: {} lines",
        run.stderr.lines().count()
    );
}

#[test]
fn exits_stdin_giant_logs_and_call_floods_are_handled() {
    let exit = probe_stopped("exit", &[]);
    assert_eq!(exit.code, 1, "{}", exit.stderr);
    assert_has(
        &exit.stderr,
        "exited with status 1 instead of returning a report",
    );

    let stdin = probe_stopped("stdin", &[]);
    assert_eq!(stdin.code, 0, "{}", stdin.stderr);
    assert_has(&stdin.stdout, "Ok(0)");

    let log = probe_stopped("huge-log", &["--max-output", "1MiB"]);
    assert_eq!(log.code, 4, "{}", log.stderr);
    assert_has(
        &log.stderr,
        "exceeded the output limit of 1MiB (--max-output)",
    );

    let tenancy = with_users(2);
    let plugin = test_plugin("api-probe");
    let args = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "users:read",
        "--set",
        "probe=call-budget",
    ];
    let flood = tenancy.run(&[&args[..], &["--max-calls", "25"]].concat());
    assert_eq!(flood.code, 0, "{}", flood.stderr);
    let answer: Value = serde_json::from_str(&flood.stdout).unwrap();
    assert_eq!(answer["calls"], 26, "the 26th call is refused");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("BudgetExhausted"),
        "{answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("25 API calls (--max-calls)"),
        "{answer}"
    );
    assert_has(&flood.stderr, "25 calls into the host, 1 denied");
}

#[test]
fn the_generic_call_follows_the_route_table_and_refuses_path_tricks() {
    let tenancy = with_users(7);
    let plugin = test_plugin("api-probe");
    let call = |method: &str, path: &str, extra: &[&str]| -> Value {
        let (method, path) = (format!("method={method}"), format!("path={path}"));
        let args = [
            &[
                "run",
                plugin.to_str().unwrap(),
                "--grant",
                "users:read",
                "--set",
                "probe=call",
            ][..],
            &["--set", &method, "--set", &path],
            extra,
        ]
        .concat();
        let run = tenancy.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).expect("probe answer")
    };

    // A known route within the grant: the envelope comes back whole.
    let users = call(
        "GET",
        "/user-management/queries/users/v1",
        &["--set", "query=limit=5"],
    );
    assert_eq!(users["status"], 200, "{users}");
    assert_eq!(users["body"]["meta"]["pagination"]["total"], 7);
    assert_eq!(users["body"]["resources"].as_array().unwrap().len(), 5);

    // A known route outside the grant: the gate refuses it like a typed call.
    let hosts = call("GET", "/devices/queries/devices/v1", &[]);
    let error = hosts["error"].as_str().unwrap();
    assert!(
        error.contains("NotGranted") && error.contains("hosts:read"),
        "{error}"
    );

    // Destructive endpoints are only reachable through their typed, gated operation.
    let contain = call(
        "POST",
        "/devices/entities/devices-actions/v2",
        &["--set", "query=action_name=contain"],
    );
    assert!(
        contain["error"]
            .as_str()
            .unwrap()
            .contains("use hosts.contain"),
        "{contain}"
    );

    // Paths that would mean another URL, or none in the table.
    for (path, expected) in [
        (
            "/devices/queries/devices/v1/../../../user-management/queries/users/v1",
            "`..`",
        ),
        ("/user-management/queries/users/v1%2F..%2F", "holds `%`"),
        (
            "//127.0.0.1:9/user-management/queries/users/v1",
            "single `/`",
        ),
        (
            "http://127.0.0.1:9/user-management/queries/users/v1",
            "single `/`",
        ),
        ("/user-management/queries/users/v1?filter=x", "holds `?`"),
        (
            "/user-management/queries/users/v9",
            "not in the host's route table",
        ),
    ] {
        let answer = call("GET", path, &[]);
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("InvalidInput") && error.contains(expected),
            "{path}: {answer}"
        );
    }
}

#[test]
fn the_output_directory_is_the_only_place_a_plugin_can_write_and_it_cannot_be_left() {
    let dir = scratch("output");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // A link planted inside the output directory, pointing outside it.
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("passwd"), "secret-ish").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();

    let plugin = test_plugin("sandbox-probe");
    let run = run_host(
        &[
            "run",
            plugin.to_str().unwrap(),
            "--demo",
            "--set",
            "probe=output",
            "--output-dir",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen: BTreeMap<String, String> = serde_json::from_str(&run.stdout).unwrap();
    for key in ["write_report", "mkdir", "write_nested", "list"] {
        assert!(seen[key].starts_with("ok"), "{key}: {}", seen[key]);
    }
    for key in [
        "dotdot_write",
        "dotdot_read",
        "symlink_read",
        "symlink_write",
        "absolute_read",
    ] {
        assert!(seen[key].starts_with("denied"), "{key}: {}", seen[key]);
    }
    assert_eq!(
        std::fs::read_to_string(out.join("report.txt")).unwrap(),
        "kept"
    );
    assert!(out.join("archive/2026/host.json").exists());
    assert!(
        !dir.join("escaped.txt").exists(),
        "a write escaped through `..`"
    );
    assert!(
        !outside.join("planted").exists(),
        "a write escaped through a symbolic link"
    );

    // Without the flag there is no /output at all.
    let without = run_host(
        &[
            "run",
            plugin.to_str().unwrap(),
            "--demo",
            "--set",
            "probe=output",
        ],
        &[],
    );
    let seen: BTreeMap<String, String> = serde_json::from_str(&without.stdout).unwrap();
    assert!(
        seen["write_report"].starts_with("denied"),
        "{}",
        seen["write_report"]
    );

    let missing = run_host(
        &[
            "run",
            plugin.to_str().unwrap(),
            "--demo",
            "--output-dir",
            "/nonexistent/out",
        ],
        &[],
    );
    assert_eq!(missing.code, 2);
    assert_has(&missing.stderr, "is not an existing directory");
}

#[test]
fn limits_come_from_the_plugins_grant_and_flags_override_them() {
    let dir = scratch("grant-limits");
    let grants = dir.join("grants.toml");
    let plugin = test_plugin("sandbox-probe");
    let plugin_arg = plugin.to_str().unwrap();
    let inspect = run_host(&["inspect", plugin_arg, "--json"], &[]);
    let digest = serde_json::from_str::<Value>(&inspect.stdout).unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let write = |timeout: &str| {
        std::fs::write(
            &grants,
            format!("[sandbox-probe]\nsha256 = \"{digest}\"\nscopes = []\n\n[sandbox-probe.limits]\ntimeout = \"{timeout}\"\n"),
        )
        .unwrap()
    };
    let args = [
        "run",
        plugin_arg,
        "--demo",
        "--set",
        "probe=loop",
        "--grants",
        grants.to_str().unwrap(),
    ];

    write("1s");
    let from_file = run_host(&args, &[]);
    assert_eq!(from_file.code, 4, "{}", from_file.stderr);
    assert_has(&from_file.stderr, "exceeded the time limit of 1s");

    let flag = run_host(&[&args[..], &["--timeout", "2s"]].concat(), &[]);
    assert_eq!(flag.code, 4, "{}", flag.stderr);
    assert_has(&flag.stderr, "exceeded the time limit of 2s");

    write("soon");
    let bad = run_host(&args, &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_has(&bad.stderr, "`limits.timeout` in the grants file");
}

#[test]
fn completions_and_the_man_page_come_from_the_flag_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let run = run_host(&["completions", shell], &[]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for flag in ["grant", "dry-run", "approve", "output-dir"] {
            assert_has(&run.stdout, flag);
        }
    }
    let man = run_host(&["man"], &[]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert_has(&man.stdout, ".TH host 1");
    assert_has(&man.stdout, "Exit codes:");
}

#[test]
fn sensor_health_findings_match_the_fleet() {
    let spec = TenantSpec {
        seed: 5,
        users: 3,
        // More than one page of the plugin's host stream.
        hosts: 2_400,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let tenant = tenancy.emulator().tenant();
    let plugin = shipped_plugin("sensor-health");
    let as_of = spec.anchor;
    let run = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "hosts:read,sensor-update-policies:read",
        "--set",
        "format=json",
        "--set",
        &format!("as_of={as_of}"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");

    // The rules of the plugin's README, applied to the emulator's own data.
    let key = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for build in tenant.builds.iter().filter(|b| b.stage == "prod") {
        let entry = newest
            .entry(build.platform.to_ascii_lowercase())
            .or_insert_with(|| build.sensor_version.clone());
        if key(&build.sensor_version) > key(entry) {
            *entry = build.sensor_version.clone();
        }
    }
    let visible: Vec<_> = tenant.hosts.iter().filter(|h| !h.hidden).collect();
    let ids = |pred: &dyn Fn(&&falcon_emulator::Host) -> bool| -> BTreeSet<String> {
        visible
            .iter()
            .filter(|h| pred(h))
            .map(|h| h.device_id.clone())
            .collect()
    };
    let outdated = ids(&|h| {
        newest
            .get(&h.platform_name.to_ascii_lowercase())
            .is_some_and(|n| key(&h.agent_version) < key(n))
    });
    let rfm = ids(&|h| h.reduced_functionality_mode == "yes");
    let stale = ids(&|h| (as_of.as_second() - h.last_seen.as_second()).max(0) / 86_400 >= 14);
    let got = |field: &str| -> BTreeSet<String> {
        report[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["device_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(report["host_count"], visible.len());
    assert_eq!(got("outdated"), outdated);
    assert_eq!(got("reduced_functionality_mode"), rfm);
    assert_eq!(got("not_seen"), stale);
    for (name, set) in [("outdated", &outdated), ("rfm", &rfm), ("stale", &stale)] {
        assert!(!set.is_empty(), "the fleet should exercise {name}");
    }
    assert_has(&run.stderr, "least privilege: every granted scope was used");
}

/// Replaces what changes between builds and runs (digests, sizes, ports,
/// paths under the scratch directory) so the golden files hold the shape.
fn normalized(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    out
}

fn assert_golden(name: &str, actual: &str) {
    let path = e2e::root().join("tests").join("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "{name} changed; rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn inspect_check_and_config_output_match_the_golden_files() {
    let dir = scratch("golden-output");
    let plugin = shipped_plugin("access-audit");
    let plugin_arg = plugin.to_str().unwrap();
    let grants = dir.join("grants.toml");
    let grants_arg = grants.to_str().unwrap();
    let inspect_json = run_host(
        &["inspect", plugin_arg, "--json", "--grants", grants_arg],
        &[],
    );
    let facts: Value = serde_json::from_str(&inspect_json.stdout).unwrap();
    let digest = facts["sha256"].as_str().unwrap().to_owned();
    let size = facts["size"].to_string();
    let root = e2e::root().display().to_string();
    let stable = [
        (digest.as_str(), "<sha256>"),
        (size.as_str(), "<size>"),
        (root.as_str(), "<root>"),
    ];

    let inspect = run_host(&["inspect", plugin_arg, "--grants", grants_arg], &[]);
    assert_golden(
        "inspect-access-audit.txt",
        &normalized(&inspect.stdout, &stable),
    );
    assert_golden(
        "inspect-access-audit.json",
        &normalized(&inspect_json.stdout, &stable),
    );

    let tenancy = with_users(4);
    let url = tenancy.emulator().base_url();
    let env = tenancy.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let volatile = [(url.as_str(), "<emulator>"), (root.as_str(), "<root>")];
    let check = run_host(&["check"], &env);
    assert_golden("check.txt", &normalized(&check.stdout, &volatile));
    let check_json = run_host(&["check", "--json"], &env);
    assert_golden("check.json", &normalized(&check_json.stdout, &volatile));

    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "cloud = \"eu-1\"\nmember_cid = \"0123456789abcdef0123456789abcdef\"\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let shown_env = [
        ("FALCON_CLIENT_ID", "an-id"),
        ("FALCON_CLIENT_SECRET", "a-secret"),
        ("HOME", "/home/op"),
    ];
    let shown = run_host(&["config", "show", "--config", config_arg], &shown_env);
    let paths = [(config_arg, "<config>"), (root.as_str(), "<root>")];
    assert!(!shown.stdout.contains("a-secret"));
    assert_golden("config-show.txt", &normalized(&shown.stdout, &paths));
    let shown_json = run_host(
        &["config", "show", "--config", config_arg, "--json"],
        &shown_env,
    );
    assert_golden("config-show.json", &normalized(&shown_json.stdout, &paths));
}

/// A detached tmux session running one command on a terminal, for the
/// tests of what the host shows there; killed when dropped.
struct Pane {
    session: String,
}

impl Pane {
    fn tmux(args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux runs (./dev test installs it)")
    }

    fn start(session: &str, width: u16, height: u16, command: &str) -> Self {
        let (width, height) = (width.to_string(), height.to_string());
        let started = Self::tmux(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        Self {
            session: session.to_owned(),
        }
    }

    /// The pane once it shows `needle`, or after 90 s: polled rather than
    /// slept for, as a loaded CI machine may take seconds to compile the
    /// component.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            let pane = String::from_utf8_lossy(
                &Self::tmux(&["capture-pane", "-p", "-t", &self.session]).stdout,
            )
            .into_owned();
            if pane.contains(needle) || std::time::Instant::now() > deadline {
                return pane;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let args = [&["send-keys", "-t", self.session.as_str()][..], keys].concat();
        Self::tmux(&args);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Self::tmux(&["kill-session", "-t", &self.session]);
    }
}

#[test]
fn a_progress_line_shows_on_a_terminal_and_never_in_pipes() {
    // In a pipe: no spinner, no escape sequences.
    let piped = probe_stopped("loop", &["--timeout", "1s"]);
    assert!(
        !piped.stderr.contains('\u{1b}'),
        "escape codes in piped stderr:\n{}",
        piped.stderr
    );
    assert!(
        !piped.stderr.contains("running sandbox-probe"),
        "{}",
        piped.stderr
    );

    // On a terminal (tmux): the spinner names the plugin and counts its calls.
    let session = format!("e2e-progress-{}", std::process::id());
    let plugin = test_plugin("sandbox-probe");
    let log = scratch("progress").join("audit.jsonl");
    let command = format!(
        "{} run {} --demo --set probe=loop --timeout 4s --no-cache --audit-log {}; echo run-ended; sleep 60",
        e2e::host_bin().display(),
        plugin.display(),
        log.display()
    );
    let pane = Pane::start(&session, 120, 20, &command);
    let wait_for = |needle: &str| pane.wait_for(needle);
    let during = wait_for("running sandbox-probe");
    let after = wait_for("run-ended");
    drop(pane);
    assert_has(&during, "running sandbox-probe: 0 calls into the host");
    assert_has(&after, "run-ended");
    assert!(
        !after.contains("running sandbox-probe"),
        "the spinner is cleared at the end:\n{after}"
    );
    assert_has(&after, "exceeded the time limit of 4s");
}

#[test]
fn a_terminal_prompt_names_the_hosts_and_an_answer_approves_the_containment() {
    let session = format!("e2e-approve-{}", std::process::id());
    let plugin = test_plugin("contain-hosts");
    let log = scratch("approve-prompt").join("audit.jsonl");
    let command = format!(
        "{} run {} --demo --grant hosts:read,hosts:write --set 'hostname=SRV-LNX-*' \
         --no-cache --audit-log {}; echo run-ended code=$?; sleep 60",
        e2e::host_bin().display(),
        plugin.display(),
        log.display()
    );
    let pane = Pane::start(&session, 200, 30, &command);
    let wait_for = |needle: &str| pane.wait_for(needle);
    let prompt = wait_for("for this call? [y/N]");
    pane.keys(&["y", "Enter"]);
    let after = wait_for("run-ended");
    drop(pane);

    // The prompt has a line of its own (the spinner is hidden while it
    // waits) and names each host with its id.
    let asking = prompt
        .lines()
        .find(|l| l.contains("wants to"))
        .unwrap_or_else(|| panic!("no prompt:\n{prompt}"));
    assert!(
        asking.starts_with("plugin `contain-hosts` wants to network-contain "),
        "{prompt}"
    );
    assert_has(asking, "SRV-LNX-");
    assert_has(&prompt, "approve `hosts.contain` for this call? [y/N]");
    assert_has(&after, "run-ended code=0");
    let approved = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["operation"] == "hosts.contain" && l["status"] == "ok")
        .count();
    assert_eq!(approved, 1, "one approved containment in the audit log");
}

#[test]
fn a_host_stream_reads_the_fleet_page_by_page_within_its_limits() {
    let spec = TenantSpec {
        seed: 11,
        users: 2,
        hosts: 1_203,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let visible: BTreeSet<String> = tenancy
        .emulator()
        .tenant()
        .hosts
        .iter()
        .filter(|h| !h.hidden)
        .map(|h| h.device_id.clone())
        .collect();
    let n = visible.len();
    let plugin = test_plugin("contain-hosts");
    let log = scratch("host-stream").join("audit.jsonl");
    let stream = |extra: &[&str]| -> Value {
        let base = [
            "run",
            plugin.to_str().unwrap(),
            "--grant",
            "hosts:read,hosts:write",
            "--set",
            "mode=stream",
            "--audit-log",
            log.to_str().unwrap(),
        ];
        let run = tenancy.run(&[&base[..], extra].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).expect("plugin report")
    };

    // Pages of 500: every visible host once, in pages that add up.
    let report = stream(&["--set", "page=500"]);
    let pages: Vec<u64> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..n)
        .step_by(500)
        .map(|start| (n - start).min(500) as u64)
        .collect();
    assert_eq!(pages, expected);
    let ids: Vec<String> = report["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), n, "no host twice");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), visible);
    assert_eq!(report["total_before"], Value::Null);
    assert_eq!(report["total"], n);
    assert_eq!(report["reopened"], true);
    // One audited call per `next`, the final empty one included.
    let audit = std::fs::read_to_string(&log).unwrap();
    let nexts = audit
        .lines()
        .filter(|l| l.contains("\"hosts.host-stream.next\""))
        .count();
    assert_eq!(nexts, expected.len() + 1, "{audit}");

    // A page of 0 or over 5,000 is refused with the bounds.
    let report = stream(&["--set", "page=0"]);
    assert_has(
        report["error"].as_str().unwrap(),
        "takes 1 to 5000 hosts at a time, not 0",
    );
    let report = stream(&["--set", "page=5001"]);
    assert_has(report["error"].as_str().unwrap(), "not 5001");

    // At most 4 streams open at once.
    let report = stream(&["--set", "streams=5"]);
    assert_eq!(report["opened"], 4);
    assert_has(
        report["error"].as_str().unwrap(),
        "holds 4 open streams, the most a run may; drop one",
    );

    // Every page is a call against the budget.
    let report = stream(&["--set", "page=500", "--max-calls", "3"]);
    assert_eq!(report["pages"], serde_json::json!([500, 500]));
    assert_has(
        report["error"].as_str().unwrap(),
        "3 API calls (--max-calls)",
    );
}

/// The newcomer's three commands, in a directory outside the workspace:
/// `host new`, `cargo test` in the new crate (which builds the plugin and
/// runs it in this host against the emulator), then the `host run` line
/// `host new` printed, on the demo tenant.
#[test]
fn host_new_makes_a_plugin_that_builds_tests_and_runs_in_three_commands() {
    let host = e2e::host_bin();
    let base = std::env::temp_dir().join(format!("e2e-host-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    // The workspace's target dir: dependencies the workspace already built are
    // not compiled again (CI time), as `CARGO_TARGET_DIR` would do for anyone.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| e2e::root().join("target"), std::path::PathBuf::from);
    let command = |program: &std::path::Path, args: &[&str], dir: &std::path::Path| {
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("CARGO_TARGET_DIR", &target);
        for key in [
            "PATH",
            "HOME",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
        ] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        HostRun::from(cmd.output().unwrap())
    };

    // 1. `host new my-plugin`: no flag, the SDK of the checkout it was built from.
    let created = command(host, &["new", "my-plugin"], &base);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let dir = base.join("my-plugin");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "tests/plugin.rs",
        "README.md",
        ".cargo/config.toml",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing:\n{}",
            created.stdout
        );
    }
    let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
    assert_has(&config, format!("FALCON_HOST_BIN = \"{}\"", host.display()));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert_has(
        &manifest,
        format!("path = \"{}\"", e2e::root().join("sdk").display()),
    );
    // A second `host new` refuses to overwrite it.
    let again = command(host, &["new", "my-plugin"], &base);
    assert_eq!(again.code, 2);
    assert_has(&again.stderr, "already exists and is not empty");

    // 2. `cargo test`. The workspace's lock file pins the versions the
    // workspace already compiled; a newcomer's resolve would pick the same or
    // newer ones.
    std::fs::copy(e2e::root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tested = command(std::path::Path::new(&cargo), &["test"], &dir);
    assert_eq!(
        tested.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        tested.stdout, tested.stderr
    );
    assert_has(&tested.stdout, "test result: ok. 2 passed");

    // 3. The `host run` line `host new` printed, as printed.
    let line = created
        .stdout
        .lines()
        .find(|l| l.contains(" run "))
        .unwrap_or_else(|| panic!("no run line in:\n{}", created.stdout));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], host.display().to_string());
    let ran = command(host, &words[1..], &dir);
    assert_eq!(ran.code, 0, "{line}\n{}", ran.stderr);
    let visible = Tenant::generate(&TenantSpec::demo())
        .hosts
        .iter()
        .filter(|h| !h.hidden)
        .count();
    assert!(
        ran.stdout
            .starts_with(&format!("# Hosts by platform\n\n{visible} hosts\n")),
        "{}",
        ran.stdout
    );
    assert_has(&ran.stderr, "least privilege: every granted scope was used");
    std::fs::remove_dir_all(&base).unwrap();
}
