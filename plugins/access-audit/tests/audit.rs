//! The plugin in the real `host` against the emulator, through the SDK's
//! test harness: every format, role changes since a previous report, and
//! bad input. Expected values are computed here from the emulator's tenant
//! with the rules the README documents, never taken from the plugin.
//!
//! Run with `cargo test -p access-audit` (natively; the harness builds the
//! `.wasm`). `./dev test` runs these with the rest of the workspace.

use std::collections::{BTreeMap, BTreeSet};

use falcon_sdk::testing::{Harness, Outcome, Run, Tenant, TenantSpec};
use serde_json::{Value, json};

const AS_OF: &str = "2026-12-01T12:00:00Z";
const ADMIN_ROLES: [&str; 2] = ["falcon_administrator", "remote_responder_three"];

fn harness() -> Harness {
    Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|e| panic!("{e}"))
}

fn spec(seed: u64, users: usize) -> TenantSpec {
    TenantSpec {
        seed,
        users,
        ..TenantSpec::demo()
    }
}

/// A run with the plugin's two scopes and a fixed `as_of`.
fn audit(spec: TenantSpec) -> Run {
    Run::new()
        .tenant(spec)
        .grant("users:read")
        .grant("roles:read")
        .set("as_of", AS_OF)
}

#[track_caller]
fn succeeded(run: &Outcome) {
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("least privilege: every granted scope was used"),
        "{}",
        run.stderr
    );
}

/// Role ids per user UUID, from the tenant's grants.
fn roles_of(tenant: &Tenant) -> BTreeMap<String, BTreeSet<String>> {
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
    roles
}

/// Each user's finding keys, as the README defines them (90 days).
fn expected_findings(tenant: &Tenant) -> BTreeMap<String, BTreeSet<&'static str>> {
    let as_of: jiff::Timestamp = AS_OF.parse().unwrap();
    let roles = roles_of(tenant);
    tenant
        .users
        .iter()
        .map(|user| {
            let mut findings = BTreeSet::new();
            match user.last_login_at {
                None => {
                    findings.insert("never_logged_in");
                }
                Some(at) if as_of.as_second() - at.as_second() >= 90 * 86_400 => {
                    findings.insert("inactive");
                }
                Some(_) => {}
            }
            let held = &roles[&user.uuid];
            if held.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())) {
                findings.insert("administrators");
            }
            if held.is_empty() {
                findings.insert("without_roles");
            }
            (user.uuid.clone(), findings)
        })
        .collect()
}

/// A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "CSV must end with CRLF");
    rows
}

#[test]
fn json_and_csv_findings_match_the_tenant() {
    let harness = harness();
    let json_run = harness
        .run(&audit(spec(31, 150)).set("format", "json"))
        .unwrap();
    succeeded(&json_run);
    let tenant = &json_run.tenant;
    let expected = expected_findings(tenant);
    let roles = roles_of(tenant);

    let report = json_run.json().unwrap();
    assert_eq!(report["user_count"], tenant.users.len());
    for user in report["users"].as_array().unwrap() {
        let uuid = user["uuid"].as_str().unwrap();
        let findings: BTreeSet<&str> = user["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(findings, expected[uuid], "findings of {uuid}");
    }
    // Every finding has its recommendation; no change findings without a
    // previous report.
    let keys = [
        "inactive",
        "never_logged_in",
        "administrators",
        "without_roles",
    ];
    let recommended: BTreeSet<&str> = report["recommendations"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(recommended, BTreeSet::from(keys));
    assert_eq!(report["changes"], Value::Null);

    let csv_run = harness
        .run(&audit(spec(31, 150)).set("format", "csv"))
        .unwrap();
    succeeded(&csv_run);
    let rows = parse_csv(&csv_run.stdout);
    assert_eq!(rows[0][0], "uuid");
    assert_eq!(rows.len(), tenant.users.len() + 1);
    let names: BTreeMap<&str, String> = tenant
        .users
        .iter()
        .map(|u| {
            let name = format!("{} {}", u.first_name, u.last_name);
            (u.uuid.as_str(), name.trim().to_owned())
        })
        .collect();
    for row in &rows[1..] {
        let uuid = row[0].as_str();
        assert_eq!(row[2], names[uuid], "name of {uuid}");
        let held: BTreeSet<String> = row[6]
            .split(';')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(held, roles[uuid], "roles of {uuid}");
        let findings: BTreeSet<&str> = row[7].split(';').filter(|f| !f.is_empty()).collect();
        assert_eq!(findings, expected[uuid], "CSV findings of {uuid}");
        assert_eq!(
            row[8].is_empty(),
            findings.is_empty(),
            "recommendation of {uuid}"
        );
    }

    // The run is in the audit log the harness gave the host.
    assert!(
        json_run.audit.iter().any(|r| r["plugin"] == "access-audit"),
        "{:?}",
        json_run.audit
    );

    // The plugin reads users and roles and nothing else.
    for request in &json_run.requests {
        assert!(
            request.path.starts_with("/user-management/") || request.path.starts_with("/oauth2/"),
            "unexpected request {request:?}"
        );
        // The token endpoint answers 201, as Falcon's does.
        assert!((200..300).contains(&request.status), "{request:?}");
    }
}

#[test]
fn the_html_report_charts_each_finding_and_escapes_names() {
    let run = harness()
        .run(&audit(spec(31, 150)).set("format", "html"))
        .unwrap();
    succeeded(&run);
    let html = &run.stdout;
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(!html.contains("<script"), "no script in the page");

    let expected = expected_findings(&run.tenant);
    let count = |key: &str| expected.values().filter(|f| f.contains(key)).count();
    for (key, title) in [
        ("inactive", "Inactive accounts"),
        ("never_logged_in", "Never logged in"),
        ("administrators", "Holders of administrator roles"),
        ("without_roles", "Users without any role"),
    ] {
        assert!(
            html.contains(&format!("<title>{title}: {}</title>", count(key))),
            "chart bar of {key}"
        );
        assert!(html.contains(&format!("<h2>{title} ({})</h2>", count(key))));
    }
    // Generated names include apostrophes, which must arrive escaped.
    let apostrophes = run
        .tenant
        .users
        .iter()
        .filter(|u| u.last_name.contains('\''))
        .count();
    assert!(
        apostrophes > 0,
        "the tenant should have a name like O'Brien"
    );
    assert!(html.contains("&#39;"));
    assert_eq!(html.matches("<svg").count(), 1);
}

/// A previous report of the same tenant with known edits: one role taken
/// from one user and given to another, one user dropped (so new now), one
/// made-up user added (so removed now).
fn edited_previous(report: &Value) -> Value {
    let mut previous = report.clone();
    previous["as_of"] = json!("2026-11-01T12:00:00Z");
    let users = previous["users"].as_array_mut().unwrap();
    let with_roles = users
        .iter()
        .position(|u| !u["roles"].as_array().unwrap().is_empty())
        .unwrap();
    users[with_roles]["roles"].as_array_mut().unwrap().remove(0);
    let other = users
        .iter()
        .rposition(|u| !u["roles"].as_array().unwrap().is_empty())
        .unwrap();
    assert_ne!(other, with_roles);
    users[other]["roles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "retired_role", "name": "Retired"}));
    users.remove(users.len() / 2);
    users.push(json!({
        "uuid": "00000000-0000-4000-8000-000000000000",
        "uid": "gone@example.com",
        "name": "Gone Person",
        "roles": [{"id": "falcon_administrator", "name": "Falcon Administrator"}],
    }));
    previous
}

/// Role changes between the tenant now and a previous report, computed
/// from the tenant's grants and the report's role lists.
#[derive(Debug, PartialEq, Eq)]
struct ExpectedChanges {
    role_changes: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    new_accounts: BTreeSet<String>,
    removed_accounts: BTreeSet<String>,
}

fn expected_changes(tenant: &Tenant, previous: &Value) -> ExpectedChanges {
    let now = roles_of(tenant);
    let then: BTreeMap<String, BTreeSet<String>> = previous["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let roles = u["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            (u["uuid"].as_str().unwrap().to_owned(), roles)
        })
        .collect();
    let mut role_changes = BTreeMap::new();
    for (uuid, held) in &now {
        if let Some(before) = then.get(uuid) {
            let added: BTreeSet<String> = held.difference(before).cloned().collect();
            let removed: BTreeSet<String> = before.difference(held).cloned().collect();
            if !added.is_empty() || !removed.is_empty() {
                role_changes.insert(uuid.clone(), (added, removed));
            }
        }
    }
    ExpectedChanges {
        role_changes,
        new_accounts: now
            .keys()
            .filter(|u| !then.contains_key(*u))
            .cloned()
            .collect(),
        removed_accounts: then
            .keys()
            .filter(|u| !now.contains_key(*u))
            .cloned()
            .collect(),
    }
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn role_changes_since_a_previous_report_are_found() {
    let harness = harness();
    let first = harness
        .run(&audit(spec(32, 60)).set("format", "json"))
        .unwrap();
    succeeded(&first);
    let previous = edited_previous(&first.json().unwrap());

    // As an operator would: the previous report saved to a file.
    let dir = std::env::temp_dir().join(format!("access-audit-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("previous.json");
    std::fs::write(&file, previous.to_string()).unwrap();
    let second = harness
        .run(
            &audit(spec(32, 60))
                .set("format", "json")
                .arg("--set-file")
                .arg(format!("previous={}", file.display())),
        )
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    succeeded(&second);

    let expected = expected_changes(&second.tenant, &previous);
    assert_eq!(expected.role_changes.len(), 2, "{expected:?}");
    assert_eq!(expected.new_accounts.len(), 1);
    assert_eq!(expected.removed_accounts.len(), 1);

    let report = second.json().unwrap();
    let changes = &report["changes"];
    assert_eq!(changes["since"], "2026-11-01T12:00:00Z");
    let got = ExpectedChanges {
        role_changes: changes["role_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["uuid"].as_str().unwrap().to_owned(),
                    (strings(&c["added"]), strings(&c["removed"])),
                )
            })
            .collect(),
        new_accounts: strings(&changes["new_accounts"]),
        removed_accounts: changes["removed_accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["uuid"].as_str().unwrap().to_owned())
            .collect(),
    };
    assert_eq!(got, expected);
    assert_eq!(
        strings(&report["findings"]["roles_changed"]),
        expected.role_changes.keys().cloned().collect()
    );
    assert_eq!(
        report["findings"]["new_accounts"],
        json!(expected.new_accounts)
    );
    assert!(report["recommendations"]["roles_changed"].is_string());

    // The report itself as input works too, and Markdown shows the section.
    let markdown = harness
        .run(&audit(spec(32, 60)).input(json!({ "previous": previous })))
        .unwrap();
    succeeded(&markdown);
    assert!(
        markdown.stdout.contains(
            "\n## Changes since 2026-11-01T12:00:00Z (2 role changes, 1 new, 1 removed accounts)\n"
        ),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("| gone@example.com | Gone Person | falcon_administrator |")
    );
    assert!(
        markdown
            .stdout
            .contains("## Role changes since the last audit (2)")
    );
}

#[test]
fn a_previous_report_that_is_not_one_is_refused_with_what_to_do() {
    let harness = harness();
    for (previous, says) in [
        ("not json", "input field `previous` must be JSON"),
        (r#"{"users": 3}"#, "is not an access-audit JSON report"),
    ] {
        let run = harness
            .run(&audit(spec(33, 5)).set("previous", previous))
            .unwrap();
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(
            run.stderr.contains("--set-file previous="),
            "{}",
            run.stderr
        );
    }
    // Without `roles:read` the host does not start the plugin, and the
    // tenant sees no request at all.
    let refused = harness
        .run(&Run::new().tenant(spec(33, 5)).grant("users:read"))
        .unwrap();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("roles:read"), "{}", refused.stderr);
    assert!(refused.requests.is_empty(), "{:?}", refused.requests);

    let run = harness
        .run(&audit(spec(33, 5)).set("format", "xml"))
        .unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("one of markdown, json, csv, html"),
        "{}",
        run.stderr
    );
}
