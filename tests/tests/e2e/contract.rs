//! End-to-end: every function of the alerts, incidents, iocs and host-groups
//! interfaces, reached from a Rust plugin (`tests/plugins/contract-tour`)
//! run by the real `host` binary against the emulator over HTTP on
//! 127.0.0.1. Expected values come from the emulator's tenant, never from
//! the plugin; writes are checked in the emulator's state after the run.

use std::collections::{BTreeMap, BTreeSet};

use e2e::{HostRun, Tenancy, test_plugin};
use falcon_emulator::TenantSpec;
use serde_json::{Value, json};

/// Every scope contract-tour requests.
const TOUR_SCOPES: &str = "detections:read,detections:write,incidents:read,incidents:write,\
                           custom-ioc:read,custom-ioc:write,host-groups:read,host-groups:write";

/// A small tenant with every area populated, generated from `seed`.
fn tenancy(seed: u64) -> Tenancy {
    Tenancy::start(&TenantSpec {
        seed,
        users: 8,
        hosts: 40,
        alerts: 120,
        incidents: 12,
        iocs: 30,
        children: 0,
        ..TenantSpec::demo()
    })
}

/// Runs the contract-tour test plugin.
trait Tour {
    fn tour(&self, input: &Value, extra: &[&str]) -> (HostRun, Value);
}

impl Tour for Tenancy {
    /// Runs contract-tour with `input` and every scope it requests, plus
    /// `extra` flags; returns the run and its JSON report.
    fn tour(&self, input: &Value, extra: &[&str]) -> (HostRun, Value) {
        let plugin = test_plugin("contract-tour");
        let input = input.to_string();
        let base = [
            "run",
            plugin.to_str().unwrap(),
            "--grant",
            TOUR_SCOPES,
            "--input",
            input.as_str(),
        ];
        let run = self.run(&[&base[..], extra].concat());
        assert_eq!(
            run.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let report = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", run.stdout));
        (run, report)
    }
}

/// The `ok` value of one call's report, failing the test with the error.
#[track_caller]
fn ok(step: &Value) -> &Value {
    step.get("ok")
        .unwrap_or_else(|| panic!("expected success, got {step}"))
}

/// The error kind and message of one call's report.
#[track_caller]
fn error(step: &Value) -> (&str, &str) {
    let e = step
        .get("error")
        .unwrap_or_else(|| panic!("expected an error, got {step}"));
    (
        e["kind"].as_str().expect("error kind"),
        e["message"].as_str().expect("error message"),
    )
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn set(value: &Value) -> BTreeSet<String> {
    strings(value).into_iter().collect()
}

/// `value`, or JSON null for an empty string (the API's "not set").
fn opt(value: &str) -> Value {
    if value.is_empty() {
        Value::Null
    } else {
        json!(value)
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("contract-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn alerts_are_listed_read_and_updated_as_the_tenant_holds_them() {
    let tenancy = tenancy(31);
    let before = tenancy.tenant();
    let by_id: BTreeMap<&str, &falcon_emulator::Alert> = before
        .alerts
        .iter()
        .map(|a| (a.composite_id.as_str(), a))
        .collect();
    let high: BTreeSet<String> = before
        .alerts
        .iter()
        .filter(|a| a.severity >= 70)
        .map(|a| a.composite_id.clone())
        .collect();
    let new: BTreeSet<String> = before
        .alerts
        .iter()
        .filter(|a| a.status == "new")
        .map(|a| a.composite_id.clone())
        .collect();
    assert!(!high.is_empty() && !new.is_empty(), "the tenant has both");
    let picked: Vec<&str> = before
        .alerts
        .iter()
        .step_by(17)
        .take(3)
        .map(|a| a.composite_id.as_str())
        .collect();
    let unknown = format!("{}:ind:{}:1-2-3", before.cid, "0".repeat(32));
    let targets = [
        before.alerts[1].composite_id.as_str(),
        before.alerts[2].composite_id.as_str(),
    ];
    let assignee = before.users[0].uuid.as_str();

    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "alerts.list", "filter": "severity:>=70", "sort": "created_timestamp|asc"},
            {"mode": "alerts.query", "where": {"status": "new"}, "sort": "created_timestamp|desc"},
            {"mode": "alerts.get", "ids": picked},
            {"mode": "alerts.get", "ids": [picked[0], unknown]},
            {"mode": "alerts.list", "sort": "severity|sideways"},
            {"mode": "alerts.update", "ids": targets, "status": "in-progress",
             "assign": assignee, "add_tags": ["contract-tour", "to-remove"],
             "comment": "checked by contract-tour"},
            {"mode": "alerts.update", "ids": targets, "remove_tags": ["to-remove"]},
            {"mode": "alerts.update", "ids": [unknown], "status": "closed"},
        ]}),
        &[],
    );

    // list: the high-severity alerts, oldest first.
    let listed = strings(ok(&report[0]));
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), high);
    let times: Vec<_> = listed
        .iter()
        .map(|id| by_id[id.as_str()].created_timestamp)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted ascending");

    // query: the new alerts with details, newest first.
    let queried = ok(&report[1]).as_array().unwrap();
    let ids: BTreeSet<String> = queried
        .iter()
        .map(|a| a["composite_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, new);
    let times: Vec<_> = queried
        .iter()
        .map(|a| by_id[a["composite_id"].as_str().unwrap()].created_timestamp)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "sorted descending");
    assert!(queried.iter().all(|a| a["status"] == "new"));

    // get: in the order asked, every field as the tenant holds it.
    let got = ok(&report[2]).as_array().unwrap();
    assert_eq!(got.len(), picked.len());
    for (alert, id) in got.iter().zip(&picked) {
        let expected = by_id[id];
        assert_eq!(alert["composite_id"], *id);
        assert_eq!(alert["id"], expected.id.as_str());
        assert_eq!(alert["agent_id"], expected.agent_id.as_str());
        assert_eq!(alert["status"], expected.status.as_str());
        assert_eq!(alert["severity"], expected.severity);
        assert_eq!(alert["name"], expected.name.as_str());
        assert_eq!(alert["description"], expected.description.as_str());
        assert_eq!(alert["tactic"], expected.tactic.as_str());
        assert_eq!(alert["technique"], expected.technique.as_str());
        assert_eq!(alert["assigned_to_uuid"], opt(&expected.assigned_to_uuid));
        assert_eq!(alert["tags"], json!(expected.tags));
        let created: jiff::Timestamp = alert["created_timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(created, expected.created_timestamp);
        assert_eq!(alert["raw"]["sha256"], expected.sha256.as_str());
    }
    let (kind, message) = error(&report[3]);
    assert_eq!(kind, "NotFound");
    assert!(message.contains(&unknown), "{message}");
    let (kind, message) = error(&report[4]);
    assert_eq!(kind, "InvalidInput");
    assert!(message.contains("a sort is a field name"), "{message}");

    // update: the targets changed as asked, tags removed after they were
    // added, and no other alert changed.
    let first = ok(&report[5]);
    assert_eq!(
        set(&first["updated"]),
        targets.iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(first["refused"], json!([]));
    assert_eq!(set(&ok(&report[6])["updated"]).len(), 2);
    let refused = &ok(&report[7])["refused"];
    assert_eq!(refused[0]["id"], unknown.as_str(), "{refused}");
    assert_eq!(ok(&report[7])["updated"], json!([]));
    let after = tenancy.tenant();
    for (old, new) in before.alerts.iter().zip(&after.alerts) {
        if targets.contains(&old.composite_id.as_str()) {
            assert_eq!(new.status, "in_progress");
            assert_eq!(new.assigned_to_uuid, assignee);
            assert_eq!(new.tags, ["contract-tour"]);
            assert_eq!(new.comments, ["checked by contract-tour"]);
        } else {
            assert_eq!(old, new, "{} was not a target", old.composite_id);
        }
    }
}

fn incident_status(code: u32) -> &'static str {
    match code {
        20 => "new",
        25 => "reopened",
        30 => "in-progress",
        40 => "closed",
        other => panic!("the emulator made status {other}"),
    }
}

#[test]
fn incidents_are_listed_read_and_updated_as_the_tenant_holds_them() {
    let tenancy = tenancy(32);
    let before = tenancy.tenant();
    let by_id: BTreeMap<&str, &falcon_emulator::Incident> = before
        .incidents
        .iter()
        .map(|i| (i.incident_id.as_str(), i))
        .collect();
    let open: BTreeSet<String> = before
        .incidents
        .iter()
        .filter(|i| i.state == "open")
        .map(|i| i.incident_id.clone())
        .collect();
    assert!(open.len() >= 2, "the tenant has open incidents");
    let targets: Vec<&str> = open.iter().take(2).map(String::as_str).collect();
    let picked: Vec<&str> = before
        .incidents
        .iter()
        .rev()
        .take(3)
        .map(|i| i.incident_id.as_str())
        .collect();
    let unknown = format!("inc:{}:{}", "0".repeat(32), "1".repeat(32));
    let assignee = before.users[1].uuid.as_str();

    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "incidents.list", "filter": "state:'open'", "sort": "start.desc"},
            {"mode": "incidents.query"},
            {"mode": "incidents.get", "ids": picked},
            {"mode": "incidents.get", "ids": [unknown]},
            {"mode": "incidents.update", "ids": targets, "status": "closed", "assign": assignee,
             "add_tags": ["contract-tour", "to-remove"], "comment": "closed by contract-tour"},
            {"mode": "incidents.update", "ids": targets, "remove_tags": ["to-remove"]},
            {"mode": "incidents.update", "ids": [unknown], "status": "closed"},
        ]}),
        &[],
    );

    let listed = strings(ok(&report[0]));
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), open);
    let starts: Vec<_> = listed.iter().map(|id| by_id[id.as_str()].start).collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "sorted by start, latest first"
    );

    let check = |incident: &Value| {
        let id = incident["incident_id"].as_str().unwrap();
        let expected = by_id[id];
        assert_eq!(incident["host_ids"], json!(expected.host_ids));
        assert_eq!(incident["state"], expected.state.as_str());
        assert_eq!(incident["status"], incident_status(expected.status));
        assert_eq!(incident["fine_score"], expected.fine_score);
        assert_eq!(incident["name"], expected.name.as_str());
        assert_eq!(incident["tags"], json!(expected.tags));
        assert_eq!(incident["assigned_to"], opt(&expected.assigned_to));
        let start: jiff::Timestamp = incident["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(start, expected.start);
    };
    let queried = ok(&report[1]).as_array().unwrap();
    assert_eq!(queried.len(), before.incidents.len());
    queried.iter().for_each(check);
    let got = ok(&report[2]).as_array().unwrap();
    let got_ids: Vec<&str> = got
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap())
        .collect();
    assert_eq!(got_ids, picked, "in the order asked");
    got.iter().for_each(check);
    let (kind, message) = error(&report[3]);
    assert_eq!(kind, "NotFound");
    assert!(message.contains(&unknown), "{message}");

    assert_eq!(
        set(&ok(&report[4])["updated"]),
        targets.iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(ok(&report[6])["refused"][0]["id"], unknown.as_str());
    let after = tenancy.tenant();
    for (old, new) in before.incidents.iter().zip(&after.incidents) {
        if targets.contains(&old.incident_id.as_str()) {
            assert_eq!((new.status, new.state.as_str()), (40, "closed"));
            assert_eq!(new.assigned_to, assignee);
            assert!(new.tags.contains(&"contract-tour".to_owned()));
            assert!(!new.tags.contains(&"to-remove".to_owned()));
        } else {
            assert_eq!(old, new, "{} was not a target", old.incident_id);
        }
    }
}

fn check_ioc(ioc: &Value, expected: &falcon_emulator::Ioc) {
    assert_eq!(ioc["id"], expected.id.as_str());
    assert_eq!(ioc["type"], expected.ioc_type.as_str());
    assert_eq!(ioc["value"], expected.value.as_str());
    assert_eq!(ioc["action"], expected.action.as_str());
    assert_eq!(ioc["severity"], expected.severity.as_str());
    assert_eq!(ioc["description"], expected.description.as_str());
    assert_eq!(ioc["platforms"], json!(expected.platforms));
    assert_eq!(ioc["tags"], json!(expected.tags));
    assert_eq!(ioc["applied_globally"], expected.applied_globally);
    assert_eq!(ioc["host_groups"], json!(expected.host_groups));
}

#[test]
fn iocs_are_listed_read_created_changed_and_deleted() {
    let tenancy = tenancy(33);
    let before = tenancy.tenant();
    let by_id: BTreeMap<&str, &falcon_emulator::Ioc> =
        before.iocs.iter().map(|i| (i.id.as_str(), i)).collect();
    let kind = before.iocs[0].ioc_type.clone();
    let of_kind: BTreeSet<String> = before
        .iocs
        .iter()
        .filter(|i| i.ioc_type == kind)
        .map(|i| i.id.clone())
        .collect();
    let detecting: BTreeSet<String> = before
        .iocs
        .iter()
        .filter(|i| i.action == "detect")
        .map(|i| i.id.clone())
        .collect();
    let picked: Vec<&str> = before
        .iocs
        .iter()
        .step_by(7)
        .map(|i| i.id.as_str())
        .collect();
    let unknown = "0".repeat(64);

    // Reads, and a detect-only creation: a write, so no approval needed.
    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "iocs.list", "where": {"type": kind}, "sort": "modified_on.desc"},
            {"mode": "iocs.query", "where": {"action": "detect"}},
            {"mode": "iocs.get", "ids": picked},
            {"mode": "iocs.get", "ids": [picked[0], unknown]},
            {"mode": "iocs.create", "type": "domain", "action": "detect",
             "values": ["tour-a.example", "tour-b.example"], "severity": "high",
             "platforms": ["windows", "linux"], "tags": ["contract-tour"],
             "description": "made by the contract tour", "every_host": true},
        ]}),
        &[],
    );
    let listed = strings(ok(&report[0]));
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), of_kind);
    let modified: Vec<_> = listed
        .iter()
        .map(|id| by_id[id.as_str()].modified_on)
        .collect();
    assert!(
        modified.windows(2).all(|w| w[0] >= w[1]),
        "latest change first"
    );
    let queried = ok(&report[1]).as_array().unwrap();
    let ids: BTreeSet<String> = queried
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, detecting);
    for ioc in queried {
        check_ioc(ioc, by_id[ioc["id"].as_str().unwrap()]);
    }
    let got = ok(&report[2]).as_array().unwrap();
    assert_eq!(got.len(), picked.len());
    for (ioc, id) in got.iter().zip(&picked) {
        check_ioc(ioc, by_id[id]);
    }
    let (kind, message) = error(&report[3]);
    assert_eq!(kind, "NotFound");
    assert!(message.contains(&unknown), "{message}");

    let created = ok(&report[4]).as_array().unwrap();
    let created_ids: Vec<String> = created
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let after_create = tenancy.tenant();
    assert_eq!(after_create.iocs.len(), before.iocs.len() + 2);
    for (ioc, value) in created.iter().zip(["tour-a.example", "tour-b.example"]) {
        let stored = after_create
            .iocs
            .iter()
            .find(|i| i.value == value)
            .expect("the indicator is in the tenant");
        check_ioc(ioc, stored);
        assert_eq!(stored.action, "detect");
        assert_eq!(stored.severity, "high");
        assert_eq!(stored.platforms, ["windows", "linux"]);
        assert!(stored.applied_globally);
        assert_eq!(stored.description, "made by the contract tour");
    }

    // A change that keeps the indicators detect-only is a write.
    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "iocs.update", "ids": created_ids, "action": "no_action", "severity": "low",
             "tags": ["contract-tour", "changed"], "description": "changed by the tour",
             "comment": "tour"},
            {"mode": "iocs.update", "ids": [unknown], "severity": "low"},
        ]}),
        &[],
    );
    let updated = ok(&report[0]);
    assert_eq!(updated["refused"], json!([]));
    let after_update = tenancy.tenant();
    for id in &created_ids {
        let stored = after_update.iocs.iter().find(|i| &i.id == id).unwrap();
        assert_eq!(
            (stored.action.as_str(), stored.severity.as_str()),
            ("no_action", "low")
        );
        assert_eq!(stored.tags, ["contract-tour", "changed"]);
        assert_eq!(stored.description, "changed by the tour");
        let reported = updated["updated"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id.as_str())
            .expect("the change is reported");
        check_ioc(reported, stored);
    }
    match report[1].get("ok") {
        Some(done) => assert_eq!(done["refused"][0]["id"], unknown.as_str(), "{done}"),
        None => assert_eq!(error(&report[1]).0, "Upstream"),
    }

    // Deletion is a write: only the created indicators go.
    let (_, report) = tenancy.tour(&json!({"mode": "iocs.delete", "ids": created_ids}), &[]);
    assert_eq!(ok(&report), &Value::Null);
    assert_eq!(tenancy.tenant().iocs, before.iocs);
}

#[test]
fn a_blocking_ioc_is_refused_without_approval_and_created_with_it() {
    let tenancy = tenancy(34);
    let before = tenancy.tenant();
    let dir = scratch("blocking");
    let log = dir.join("audit.jsonl");
    let log_flag = ["--audit-log", log.to_str().unwrap()];
    let create = |action: &str, value: &str| {
        json!({"mode": "iocs.create", "type": "domain", "action": action, "values": [value],
               "platforms": ["windows"], "every_host": true})
    };
    let detecting = before
        .iocs
        .iter()
        .find(|i| i.action == "detect")
        .expect("the tenant has a detect-only indicator")
        .id
        .clone();

    // Without approval (and no terminal to ask at): every way to make an
    // indicator block or allow-list is refused, and nothing changes.
    let (_, report) = tenancy.tour(
        &json!({"steps": [
            create("prevent", "block.example"),
            create("prevent_no_ui", "quiet-block.example"),
            create("allow", "allow.example"),
            {"mode": "iocs.create", "type": "domain", "action": "detect",
             "values": ["detect-only.example"], "platforms": ["windows"], "every_host": true},
            {"mode": "iocs.update", "ids": [detecting], "action": "prevent"},
            {"mode": "iocs.update", "ids": [detecting], "host_groups": [before.host_groups[0].id]},
        ]}),
        &log_flag,
    );
    for (step, operation) in [
        (0, "iocs.create-blocking"),
        (1, "iocs.create-blocking"),
        (2, "iocs.create-blocking"),
        (4, "iocs.update-blocking"),
        (5, "iocs.update-blocking"),
    ] {
        let (kind, message) = error(&report[step]);
        assert_eq!(kind, "NotApproved", "step {step}: {message}");
        assert!(
            message.contains(&format!("--approve {operation}")),
            "step {step}: {message}"
        );
    }
    // The detect-only creation in the same run is a write and went through.
    assert_eq!(ok(&report[3]).as_array().unwrap().len(), 1);
    let after = tenancy.tenant();
    assert_eq!(after.iocs.len(), before.iocs.len() + 1);
    assert!(
        after
            .iocs
            .iter()
            .all(|i| !i.value.contains("block.example"))
    );
    assert!(after.iocs.iter().all(|i| i.value != "allow.example"));
    assert_eq!(
        after.iocs.iter().find(|i| i.id == detecting),
        before.iocs.iter().find(|i| i.id == detecting),
        "an unapproved change changed the indicator"
    );

    // Approved: created and changed.
    let (_, report) = tenancy.tour(
        &json!({"steps": [
            create("prevent", "block.example"),
            {"mode": "iocs.update", "ids": [detecting], "action": "prevent"},
        ]}),
        &[
            &log_flag[..],
            &[
                "--approve",
                "iocs.create-blocking",
                "--approve",
                "iocs.update-blocking",
            ],
        ]
        .concat(),
    );
    let created = &ok(&report[0])[0];
    assert_eq!(created["action"], "prevent");
    let after = tenancy.tenant();
    let stored = after
        .iocs
        .iter()
        .find(|i| i.value == "block.example")
        .expect("the approved indicator exists");
    assert_eq!(stored.action, "prevent");
    assert_eq!(created["id"], stored.id.as_str());
    assert_eq!(
        after
            .iocs
            .iter()
            .find(|i| i.id == detecting)
            .unwrap()
            .action,
        "prevent"
    );

    // The audit log records the refusals and the approved writes as
    // destructive; a write-tier creation is not.
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| {
            r["operation"]
                .as_str()
                .is_some_and(|o| o.starts_with("iocs.create") || o.starts_with("iocs.update"))
        })
        .collect();
    let seen: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap(),
                r["tier"].as_str().unwrap(),
                r["decision"].as_str().unwrap(),
            )
        })
        .collect();
    let destructive_refusals = seen
        .iter()
        .filter(|(_, tier, decision)| *tier == "destructive" && *decision == "not-approved")
        .count();
    assert_eq!(destructive_refusals, 5, "{seen:?}");
    assert!(
        seen.contains(&("iocs.create-iocs", "write", "allowed")),
        "{seen:?}"
    );
    assert!(seen.contains(&("iocs.create-blocking", "destructive", "allowed")));
    assert!(seen.contains(&("iocs.update-blocking", "destructive", "allowed")));

    // A write needs no approval, and the host says so.
    let plugin = test_plugin("contract-tour");
    let bad = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        TOUR_SCOPES,
        "--approve",
        "iocs.create-iocs",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("is not destructive and needs no approval"),
        "{}",
        bad.stderr
    );
}

#[test]
fn host_groups_are_listed_read_created_changed_filled_and_deleted() {
    let tenancy = tenancy(35);
    let before = tenancy.tenant();
    let by_id: BTreeMap<&str, &falcon_emulator::HostGroup> = before
        .host_groups
        .iter()
        .map(|g| (g.id.as_str(), g))
        .collect();
    let all: BTreeSet<String> = before.host_groups.iter().map(|g| g.id.clone()).collect();
    let dynamic: BTreeSet<String> = before
        .host_groups
        .iter()
        .filter(|g| g.group_type == "dynamic")
        .map(|g| g.id.clone())
        .collect();
    let picked: Vec<&str> = before
        .host_groups
        .iter()
        .take(2)
        .map(|g| g.id.as_str())
        .collect();
    let unknown = "f".repeat(32);
    let check = |group: &Value| {
        let expected = by_id[group["id"].as_str().unwrap()];
        assert_eq!(group["name"], expected.name.as_str());
        assert_eq!(group["description"], expected.description.as_str());
        assert_eq!(group["group_type"], expected.group_type.as_str());
        assert_eq!(group["assignment_rule"], opt(&expected.assignment_rule));
        let created: jiff::Timestamp = group["created_timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(created, expected.created_timestamp);
    };

    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "host-groups.list", "sort": "name.asc"},
            {"mode": "host-groups.query", "where": {"group_type": "dynamic"}},
            {"mode": "host-groups.get", "ids": picked},
            {"mode": "host-groups.get", "ids": [unknown]},
            {"mode": "host-groups.create", "name": "contract-tour group",
             "group_type": "staticByID", "description": "made by the contract tour"},
        ]}),
        &[],
    );
    assert_eq!(set(ok(&report[0])), all);
    let queried = ok(&report[1]).as_array().unwrap();
    let ids: BTreeSet<String> = queried
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, dynamic);
    queried.iter().for_each(check);
    let got = ok(&report[2]).as_array().unwrap();
    let got_ids: Vec<&str> = got.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(got_ids, picked);
    got.iter().for_each(check);
    let (kind, message) = error(&report[3]);
    assert_eq!(kind, "NotFound");
    assert!(message.contains(&unknown), "{message}");
    let created = &ok(&report[4])[0];
    let group_id = created["id"].as_str().unwrap().to_owned();
    let stored = tenancy
        .tenant()
        .host_groups
        .into_iter()
        .find(|g| g.id == group_id)
        .expect("the group is in the tenant");
    assert_eq!(stored.name, "contract-tour group");
    assert_eq!(stored.group_type, "staticByID");
    assert_eq!(stored.description, "made by the contract tour");

    // Members in and out, then a rename.
    let hosts: Vec<&str> = before
        .hosts
        .iter()
        .take(3)
        .map(|h| h.device_id.as_str())
        .collect();
    let (_, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "host-groups.add-hosts", "id": group_id, "hosts": hosts},
            {"mode": "host-groups.list-members", "id": group_id},
            {"mode": "host-groups.remove-hosts", "id": group_id, "hosts": [hosts[0]]},
            {"mode": "host-groups.list-members", "id": group_id},
            {"mode": "host-groups.list-members", "id": group_id,
             "where": {"hostname": before.hosts[1].hostname}},
            {"mode": "host-groups.update", "id": group_id, "name": "contract-tour renamed",
             "description": "renamed by the tour"},
        ]}),
        &[],
    );
    assert_eq!(ok(&report[0]), &Value::Null);
    assert_eq!(
        set(ok(&report[1])),
        hosts.iter().map(|h| h.to_string()).collect()
    );
    assert_eq!(ok(&report[2]), &Value::Null);
    assert_eq!(
        set(ok(&report[3])),
        hosts[1..].iter().map(|h| h.to_string()).collect()
    );
    assert_eq!(strings(ok(&report[4])), [hosts[1]]);
    assert_eq!(ok(&report[5])[0]["name"], "contract-tour renamed");
    let after = tenancy.tenant();
    let members: BTreeSet<&str> = after
        .hosts
        .iter()
        .filter(|h| h.groups.contains(&group_id))
        .map(|h| h.device_id.as_str())
        .collect();
    assert_eq!(members, hosts[1..].iter().copied().collect());
    let stored = after.host_groups.iter().find(|g| g.id == group_id).unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.description.as_str()),
        ("contract-tour renamed", "renamed by the tour")
    );

    // Deleted: gone from the tenant and from its hosts.
    let (_, report) = tenancy.tour(
        &json!({"mode": "host-groups.delete", "ids": [group_id]}),
        &[],
    );
    assert_eq!(ok(&report), &Value::Null);
    let after = tenancy.tenant();
    assert_eq!(after.host_groups, before.host_groups);
    assert!(after.hosts.iter().all(|h| !h.groups.contains(&group_id)));
}

#[test]
fn writes_without_their_scope_are_denied_with_the_grant_that_allows_them() {
    let tenancy = tenancy(36);
    let before = tenancy.tenant();
    let plugin = test_plugin("contract-readonly");
    // Granting the write scopes on the command line is not enough: the
    // plugin did not request them, so the gate still refuses.
    let run = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        "detections:read,incidents:read,custom-ioc:read,host-groups:read",
        "--grant",
        "detections:write,incidents:write,custom-ioc:write,host-groups:write",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("does not request"), "{}", run.stderr);
    let seen: BTreeMap<String, String> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        seen["alerts.list-alerts"],
        format!("{} ids", before.alerts.len())
    );
    for (operation, scope) in [
        ("alerts.update-alerts", "detections:write"),
        ("incidents.update-incidents", "incidents:write"),
        ("iocs.create-iocs", "custom-ioc:write"),
        ("host-groups.create-host-group", "host-groups:write"),
    ] {
        let result = &seen[operation];
        assert!(
            result.starts_with("Err(Error::NotGranted(Denial"),
            "{result}"
        );
        assert!(result.contains(&format!("scope: \"{scope}\"")), "{result}");
        assert!(
            result.contains(&format!("operation: \"{operation}\"")),
            "{result}"
        );
        assert!(
            result.contains(&format!("add `{scope}` to the plugin's requested scopes")),
            "{result}"
        );
        assert!(result.contains(&format!("--grant {scope}")), "{result}");
    }
    assert!(run.stderr.contains("4 denied"), "{}", run.stderr);
    assert_eq!(
        tenancy.tenant(),
        before,
        "a denied write changed the tenant"
    );
}

#[test]
fn a_dry_run_changes_nothing_and_its_plan_lists_every_target() {
    let tenancy = tenancy(37);
    let before = tenancy.tenant();
    let alerts: Vec<&str> = before
        .alerts
        .iter()
        .take(2)
        .map(|a| a.composite_id.as_str())
        .collect();
    let incident = before.incidents[0].incident_id.as_str();
    let ioc = before.iocs[0].id.as_str();
    let group = &before.host_groups[0];
    let hosts: Vec<&falcon_emulator::Host> = before.hosts.iter().skip(5).take(2).collect();
    let host_ids: Vec<&str> = hosts.iter().map(|h| h.device_id.as_str()).collect();

    let (run, report) = tenancy.tour(
        &json!({"steps": [
            {"mode": "alerts.update", "ids": alerts, "status": "closed"},
            {"mode": "incidents.update", "ids": [incident], "add_tags": ["dry"]},
            {"mode": "iocs.create", "type": "domain", "action": "prevent",
             "values": ["dry-run.example"], "platforms": ["mac"], "every_host": true},
            {"mode": "iocs.update", "ids": [ioc], "severity": "critical"},
            {"mode": "iocs.delete", "ids": [ioc]},
            {"mode": "host-groups.create", "name": "dry group"},
            {"mode": "host-groups.update", "id": group.id, "name": "dry rename"},
            {"mode": "host-groups.add-hosts", "id": group.id, "hosts": host_ids},
            {"mode": "host-groups.remove-hosts", "id": group.id, "hosts": host_ids},
            {"mode": "host-groups.delete", "ids": [group.id]},
            {"mode": "host-groups.list-members", "id": group.id},
        ]}),
        &["--dry-run"],
    );
    for step in &report.as_array().unwrap()[..10] {
        let (kind, message) = error(step);
        assert_eq!(kind, "DryRun", "{message}");
        assert!(
            message.contains("was not sent; it is in the plan"),
            "{message}"
        );
    }
    // Reads still run in a dry run.
    assert!(ok(&report[10]).is_array());

    let plan = &run.stderr;
    assert!(
        plan.contains("dry run: nothing was changed; the plugin would have made 10 writes"),
        "{plan}"
    );
    for (line, targets) in [
        ("alerts.update-alerts (write) on 2 alerts:", alerts.clone()),
        (
            "incidents.update-incidents (write) on 1 incident:",
            vec![incident],
        ),
        (
            "iocs.create-blocking (destructive) on 1 indicator:",
            vec!["domain:dry-run.example"],
        ),
        ("iocs.update-iocs (write) on 1 indicator:", vec![ioc]),
        ("iocs.delete-iocs (write) on 1 indicator:", vec![ioc]),
        (
            "host-groups.create-host-group (write) on 1 host group:",
            vec!["dry group"],
        ),
        (
            "host-groups.update-host-group (write) on 1 host group:",
            vec![group.id.as_str()],
        ),
        (
            "host-groups.delete-host-groups (write) on 1 host group:",
            vec![group.id.as_str()],
        ),
    ] {
        let at = plan
            .find(line)
            .unwrap_or_else(|| panic!("the plan lacks {line:?}:\n{plan}"));
        for target in targets {
            assert!(
                plan[at..].contains(&format!("    {target}")),
                "the plan names {target} under {line}:\n{plan}"
            );
        }
    }
    assert!(plan.contains("    note: status closed"), "{plan}");
    for op in ["host-groups.add-hosts", "host-groups.remove-hosts"] {
        let line = format!("{op} (write) on 2 hosts:");
        let at = plan
            .find(&line)
            .unwrap_or_else(|| panic!("the plan lacks {line:?}:\n{plan}"));
        for host in &hosts {
            assert!(
                plan[at..].contains(&format!("    {} {}", host.device_id, host.hostname)),
                "the plan names {} under {op}:\n{plan}",
                host.hostname
            );
        }
        assert!(plan[at..].contains(&format!("    note: group {}", group.id)));
    }
    assert_eq!(tenancy.tenant(), before, "a dry run changed the tenant");
}
