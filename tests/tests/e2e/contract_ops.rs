//! End-to-end: the `policies`, `sensors` and `rtr` interfaces, reached from
//! the `contract-tour-ops` test plugin through the real `host` binary against
//! the emulator on 127.0.0.1. Expected values come from the emulator's tenant
//! data and state, never from the plugin.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::time::Duration;

use e2e::{HostRun, Tenancy, assert_has, test_plugin};
use falcon_emulator::{Host, Tenant, TenantSpec};
use serde_json::{Value, json};

/// Every scope the plugin requests; each run grants them all, since the host
/// refuses to start a plugin whose requested scopes are not granted.
const GRANTS: &str = "hosts:read,prevention-policies:read,prevention-policies:write,\
                      response-policies:read,sensor-update-policies:read,\
                      sensor-update-policies:write,sensor-versions:read,\
                      real-time-response:read,real-time-response:write,\
                      real-time-response-admin:read,real-time-response-admin:write";

/// A demo-like tenant with 120 hosts.
fn tenancy() -> Tenancy {
    Tenancy::start(&TenantSpec {
        hosts: 120,
        ..TenantSpec::demo()
    })
}

/// Runs the contract-tour-ops test plugin and talks to the emulator
/// directly for set-up.
trait Tour {
    fn tour(&self, input: Value, flags: &[&str]) -> (Value, HostRun);
    fn tour_raw(&self, input: Value, flags: &[&str]) -> HostRun;
    fn post_form(&self, path: &str, form: &[(&str, &str)]) -> u16;
}

impl Tour for Tenancy {
    /// Runs the plugin with `input` and extra flags; the run must succeed.
    fn tour(&self, input: Value, flags: &[&str]) -> (Value, HostRun) {
        let run = self.tour_raw(input, flags);
        assert_eq!(
            run.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let out = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("the plugin printed no JSON ({e}):\n{}", run.stdout));
        (out, run)
    }

    fn tour_raw(&self, input: Value, flags: &[&str]) -> HostRun {
        let plugin = test_plugin("contract-tour-ops");
        let input = input.to_string();
        let args = [
            &[
                "run",
                plugin.to_str().unwrap(),
                "--grant",
                GRANTS,
                "--input",
                &input,
            ][..],
            flags,
        ]
        .concat();
        self.run(&args)
    }

    /// Sends a form to the emulator as the API client would (the test's own
    /// set-up, not through the host): used to upload RTR scripts.
    fn post_form(&self, path: &str, form: &[(&str, &str)]) -> u16 {
        let addr = self.emulator().local_addr();
        let encode = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
                .collect::<Vec<_>>()
                .join("&")
        };
        let token_body = encode(&[
            ("client_id", &self.client().client_id),
            ("client_secret", &self.client().client_secret),
        ]);
        let (status, body) = http(addr, "/oauth2/token", None, &token_body);
        assert_eq!(status, 201, "token: {body}");
        let token: Value = serde_json::from_str(&body).expect("token JSON");
        let token = token["access_token"].as_str().expect("access token");
        http(addr, path, Some(token), &encode(form)).0
    }
}

/// One form POST over HTTP/1.1 on loopback: status and body.
fn http(addr: std::net::SocketAddr, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the emulator");
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n{auth}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The `ok` value of one answer, or a panic showing the error.
#[track_caller]
fn ok(answer: &Value) -> &Value {
    answer
        .get("ok")
        .unwrap_or_else(|| panic!("expected success, got {answer}"))
}

/// The `error` of one answer, or a panic showing the value.
#[track_caller]
fn err(answer: &Value) -> &Value {
    answer
        .get("error")
        .unwrap_or_else(|| panic!("expected an error, got {answer}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn set(list: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    list.into_iter().collect()
}

fn audit_records(log: &std::path::Path, operation: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .filter(|r: &Value| r["operation"] == operation)
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("contract-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

// ---- policies ---------------------------------------------------------------------------

/// The policy of `kind` the emulator applies to `host`: the enabled custom
/// policy with the best precedence among its groups, else the platform
/// default (Falcon's rule).
fn applied_to(tenant: &Tenant, kind: &str, host: &Host) -> String {
    tenant
        .policies
        .iter()
        .filter(|p| p.kind == kind && p.platform_name == host.platform_name && p.enabled)
        .filter(|p| {
            p.name == "platform_default" || p.groups.iter().any(|g| host.groups.contains(g))
        })
        .min_by_key(|p| p.precedence)
        .map(|p| p.id.clone())
        .expect("every host has a policy of each kind")
}

fn members_of(tenant: &Tenant, policy: &falcon_emulator::Policy) -> BTreeSet<String> {
    tenant
        .hosts
        .iter()
        .filter(|h| h.platform_name == policy.platform_name)
        .filter(|h| {
            policy.name == "platform_default" || policy.groups.iter().any(|g| h.groups.contains(g))
        })
        .map(|h| h.device_id.clone())
        .collect()
}

#[test]
fn policy_reads_of_each_kind_match_the_tenant() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let host = tenant.hosts.iter().find(|h| !h.hidden).expect("a host");
    for kind in ["prevention", "response", "sensor-update"] {
        let expected: Vec<&falcon_emulator::Policy> =
            tenant.policies.iter().filter(|p| p.kind == kind).collect();
        let (out, run) = tenancy.tour(
            json!({"mode": "policies", "kind": kind, "host": host.device_id}),
            &[],
        );

        // list: every policy of the kind.
        let listed = strings(ok(&out["list"]));
        assert_eq!(
            set(listed.clone()),
            set(expected.iter().map(|p| p.id.clone())),
            "{kind}"
        );

        // query and get: the same records, with the tenant's fields.
        let queried = ok(&out["query"]).as_array().unwrap();
        assert_eq!(queried.len(), expected.len());
        for got in queried {
            let p = expected
                .iter()
                .find(|p| got["id"] == p.id.as_str())
                .unwrap_or_else(|| panic!("unknown policy {got}"));
            assert_eq!(got["kind"], kind);
            assert_eq!(got["raw_id"], p.id.as_str());
            assert_eq!(got["name"], p.name.as_str());
            assert_eq!(got["description"], p.description.as_str());
            assert_eq!(got["platform"], p.platform_name.as_str());
            assert_eq!(got["enabled"], p.enabled);
            assert_eq!(set(strings(&got["host_groups"])), set(p.groups.clone()));
            let precedence = (p.precedence != u32::MAX).then_some(p.precedence);
            assert_eq!(got["precedence"], json!(precedence), "{}", p.id);
            if kind == "sensor-update" {
                assert_eq!(got["settings"]["build"], p.build.as_str());
            } else {
                assert!(
                    got["settings"].is_array(),
                    "{kind} settings: {}",
                    got["settings"]
                );
            }
        }
        let got: Vec<&Value> = ok(&out["get"]).as_array().unwrap().iter().collect();
        let by_list: Vec<&str> = got.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(by_list, listed, "get returns the ids in the order asked");

        // members of the first policy listed.
        let first = expected
            .iter()
            .find(|p| out["members_of"] == p.id.as_str())
            .expect("members of a listed policy");
        assert_eq!(
            set(strings(ok(&out["members"]))),
            members_of(&tenant, first),
            "{kind} members"
        );

        // the policies applied to the host, as its record reports them.
        let applied = ok(&out["applied"]).as_array().unwrap();
        for (k, policy_type) in [
            ("prevention", "prevention"),
            ("response", "remote-response"),
            ("sensor-update", "sensor-update"),
        ] {
            let entry = applied
                .iter()
                .find(|a| a["kind"] == k)
                .unwrap_or_else(|| panic!("no {k} policy in {applied:?}"));
            assert_eq!(entry["policy_id"], applied_to(&tenant, k, host).as_str());
            assert_eq!(entry["policy_type"], policy_type);
            assert_eq!(entry["applied"], true);
        }
        let others: BTreeSet<&str> = applied
            .iter()
            .filter(|a| a["kind"].is_null())
            .map(|a| a["policy_type"].as_str().unwrap())
            .collect();
        assert!(
            others.contains("firewall") && others.contains("device-control"),
            "{others:?}"
        );
        assert_has(&run.stderr, "5 calls into the host");
    }
}

#[test]
fn policy_changes_reach_the_tenant_only_with_approval() {
    let tenancy = tenancy();
    let before = tenancy.tenant();
    let kind = "sensor-update";
    let platform = "Linux";
    let builds: Vec<String> = before
        .builds
        .iter()
        .filter(|b| b.platform == "linux")
        .map(|b| b.build.clone())
        .collect();
    let group = before
        .hosts
        .iter()
        .filter(|h| h.platform_name == platform && !h.hidden)
        .flat_map(|h| h.groups.clone())
        .next()
        .expect("a Linux host in a group");
    let write = |action: &str, extra: Value, approve: Option<&str>| -> Value {
        let mut input = json!({"mode": "policy-write", "kind": kind, "action": action});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        let flags: Vec<&str> = approve.map_or_else(Vec::new, |op| vec!["--approve", op]);
        tenancy.tour(input, &flags).0
    };
    let policy_in = |t: &Tenant, id: &str| t.policies.iter().find(|p| p.id == id).cloned();

    // create: a write, no approval needed; disabled, last, with its build.
    let created = write(
        "create",
        json!({"name": "e2e canary", "platform": platform, "description": "first",
               "settings": json!({"build": builds[1]}).to_string()}),
        None,
    );
    let created = ok(&created);
    let id = created["id"].as_str().unwrap().to_owned();
    let stored = policy_in(&tenancy.tenant(), &id).expect("the policy exists");
    assert_eq!(
        (
            stored.name.as_str(),
            stored.description.as_str(),
            stored.enabled
        ),
        ("e2e canary", "first", false)
    );
    assert_eq!(stored.build, builds[1]);
    assert_eq!(created["settings"]["build"], builds[1].as_str());
    let customs = before
        .policies
        .iter()
        .filter(|p| p.kind == kind && p.platform_name == platform && p.name != "platform_default")
        .count();
    assert_eq!(
        stored.precedence as usize,
        customs + 1,
        "a new policy goes last"
    );

    // update without approval: refused, nothing changes.
    let refused = write("update", json!({"id": id, "name": "renamed"}), None);
    let refusal = err(&refused);
    assert_eq!(refusal["kind"], "not-approved");
    assert_has(
        refusal["message"].as_str().unwrap(),
        "--approve policies.update-policy/sensor-update",
    );
    assert_eq!(
        policy_in(&tenancy.tenant(), &id).unwrap().name,
        "e2e canary"
    );

    // update with approval: name, description and settings.
    let approve = "policies.update-policy/sensor-update";
    let updated = write(
        "update",
        json!({"id": id, "name": "e2e canary 2", "description": "second",
               "settings": json!({"build": builds[0]}).to_string()}),
        Some(approve),
    );
    assert_eq!(ok(&updated)["name"], "e2e canary 2");
    let stored = policy_in(&tenancy.tenant(), &id).unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.description.as_str(),
            stored.build.as_str()
        ),
        ("e2e canary 2", "second", builds[0].as_str())
    );
    // A settings document of the wrong shape is refused before Falcon.
    let bad = write("update", json!({"id": id, "settings": "[]"}), Some(approve));
    assert_eq!(err(&bad)["kind"], "invalid-input");

    // host group, precedence first, enabled: now applied to the group's hosts.
    let added = write(
        "add-group",
        json!({"ids": [id], "group": group}),
        Some("policies.add-host-group/sensor-update"),
    );
    assert_eq!(
        strings(&ok(&added)[0]["host_groups"]),
        std::slice::from_ref(&group)
    );
    let mut order = vec![id.clone()];
    let mut others: Vec<&falcon_emulator::Policy> = before
        .policies
        .iter()
        .filter(|p| p.kind == kind && p.platform_name == platform && p.name != "platform_default")
        .collect();
    others.sort_by_key(|p| p.precedence);
    order.extend(others.iter().map(|p| p.id.clone()));
    let set_order = write(
        "precedence",
        json!({"platform": platform, "ids": order}),
        Some("policies.set-precedence/sensor-update"),
    );
    assert_eq!(ok(&set_order), "set");
    let enabled = write(
        "enable",
        json!({"ids": [id]}),
        Some("policies.enable-policies/sensor-update"),
    );
    assert_eq!(ok(&enabled)[0]["enabled"], true);
    let now = tenancy.tenant();
    let stored = policy_in(&now, &id).unwrap();
    assert_eq!((stored.enabled, stored.precedence), (true, 1));
    assert_eq!(stored.groups, std::slice::from_ref(&group));
    for (rank, other) in others.iter().enumerate() {
        assert_eq!(
            policy_in(&now, &other.id).unwrap().precedence as usize,
            rank + 2
        );
    }
    let member = now
        .hosts
        .iter()
        .find(|h| h.platform_name == platform && h.groups.contains(&group))
        .unwrap();
    let (read, _) = tenancy.tour(
        json!({"mode": "policies", "kind": kind, "host": member.device_id, "policy": id}),
        &[],
    );
    let applied = ok(&read["applied"]).as_array().unwrap();
    let entry = applied.iter().find(|a| a["kind"] == kind).unwrap();
    assert_eq!(
        entry["policy_id"],
        id.as_str(),
        "the enabled policy now applies"
    );
    assert_eq!(
        set(strings(ok(&read["members"]))),
        members_of(&now, &stored)
    );

    // delete while enabled: Falcon refuses; disable, remove the group, delete.
    let delete = "policies.delete-policies/sensor-update";
    let refused = write("delete", json!({"ids": [id]}), Some(delete));
    let refused = &ok(&refused)["refused"];
    assert_eq!(refused[0][0], id.as_str());
    assert_has(refused[0][1].as_str().unwrap(), "disabled");
    let disabled = write(
        "disable",
        json!({"ids": [id]}),
        Some("policies.disable-policies/sensor-update"),
    );
    assert_eq!(ok(&disabled)[0]["enabled"], false);
    let removed = write(
        "remove-group",
        json!({"ids": [id], "group": group}),
        Some("policies.remove-host-group/sensor-update"),
    );
    assert!(
        ok(&removed)[0]["host_groups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let default = before
        .policies
        .iter()
        .find(|p| p.kind == kind && p.platform_name == platform && p.name == "platform_default")
        .unwrap();
    let deleted = write("delete", json!({"ids": [id, default.id]}), Some(delete));
    let deleted = ok(&deleted);
    assert_eq!(strings(&deleted["deleted"]), std::slice::from_ref(&id));
    assert_eq!(deleted["refused"][0][0], default.id.as_str());
    let after = tenancy.tenant();
    assert!(policy_in(&after, &id).is_none(), "the policy is gone");
    assert!(
        policy_in(&after, &default.id).is_some(),
        "the default stays"
    );
}

#[test]
fn a_dry_run_of_a_policy_change_changes_nothing_and_lists_its_targets() {
    let tenancy = tenancy();
    let before = tenancy.tenant();
    let targets: Vec<String> = before
        .policies
        .iter()
        .filter(|p| p.kind == "prevention" && p.name != "platform_default")
        .map(|p| p.id.clone())
        .take(3)
        .collect();
    assert_eq!(targets.len(), 3);
    let dir = scratch("dry-run");
    let log = dir.join("audit.jsonl");
    let log_arg = log.to_str().unwrap();

    let (out, run) = tenancy.tour(
        json!({"mode": "policy-write", "kind": "prevention", "action": "disable", "ids": targets}),
        &["--dry-run", "--audit-log", log_arg],
    );
    let error = err(&out);
    assert_eq!(error["kind"], "dry-run");
    assert_has(
        &run.stderr,
        "dry run: nothing was changed; the plugin would have made 1 write",
    );
    assert_has(
        &run.stderr,
        "policies.disable-policies/prevention (destructive) on 3 policies:",
    );
    for id in &targets {
        assert_has(&run.stderr, format!("    {id}\n"));
    }
    let (out, run) = tenancy.tour(
        json!({"mode": "policy-write", "kind": "prevention", "action": "update",
               "id": targets[0], "description": "weakened"}),
        &["--dry-run"],
    );
    assert_eq!(err(&out)["kind"], "dry-run");
    assert_has(
        &run.stderr,
        "policies.update-policy/prevention (destructive) on 1 policy:",
    );
    assert_has(&run.stderr, "note: changes description");
    assert_eq!(
        tenancy.tenant().policies,
        before.policies,
        "a dry run changed policies"
    );

    // The same change without approval is refused, and audited as such.
    let (out, _) = tenancy.tour(
        json!({"mode": "policy-write", "kind": "prevention", "action": "disable", "ids": targets}),
        &["--audit-log", log_arg],
    );
    assert_eq!(err(&out)["kind"], "not-approved");
    assert_eq!(tenancy.tenant().policies, before.policies);
    let decisions: Vec<(String, u64)> = audit_records(&log, "policies.disable-policies/prevention")
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap().to_owned(),
                r["targets"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [("dry-run".to_owned(), 3), ("not-approved".to_owned(), 3)]
    );
}

#[test]
fn a_policy_kind_that_was_not_granted_is_denied_with_the_teaching_message() {
    let tenancy = tenancy();
    let before = tenancy.tenant();
    let id = before
        .policies
        .iter()
        .find(|p| p.kind == "response" && p.name != "platform_default")
        .map(|p| p.id.clone())
        .unwrap();
    // The plugin requests `response-policies:read` but not `:write`: the
    // gate picks the scope of the kind, so a response change is denied even
    // though prevention changes are granted.
    let (out, run) = tenancy.tour(
        json!({"mode": "policy-write", "kind": "response", "action": "disable", "ids": [id]}),
        &["--approve", "policies.disable-policies/response"],
    );
    let denial = err(&out);
    assert_eq!(denial["kind"], "not-granted");
    assert_eq!(denial["scope"], "response-policies:write");
    assert_eq!(denial["operation"], "policies.disable-policies/response");
    assert_has(
        denial["remedy"].as_str().unwrap(),
        "--grant response-policies:write",
    );
    assert_has(&run.stderr, "0 calls into the host, 1 denied");
    assert_eq!(tenancy.tenant().policies, before.policies);
}

// ---- sensors ----------------------------------------------------------------------------

#[test]
fn sensor_builds_installers_and_ccid_match_the_tenant() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let (out, _) = tenancy.tour(
        json!({"mode": "sensors", "platform": "linux", "installer_platform": "windows"}),
        &[],
    );
    let builds = ok(&out["builds"]).as_array().unwrap();
    let expected: Vec<_> = tenant
        .builds
        .iter()
        .filter(|b| b.platform == "linux")
        .collect();
    assert_eq!(builds.len(), expected.len());
    for (got, b) in builds.iter().zip(&expected) {
        assert_eq!(got["build"], b.build.as_str());
        assert_eq!(got["sensor_version"], b.sensor_version.as_str());
        assert_eq!(got["stage"], b.stage.as_str());
        assert_eq!(got["is_lts"], b.is_lts_build);
    }

    let windows: Vec<_> = tenant
        .installers
        .iter()
        .filter(|i| i.platform == "windows")
        .collect();
    assert!(!windows.is_empty());
    let ids = strings(ok(&out["installer_ids"]));
    assert_eq!(
        set(ids.clone()),
        set(windows.iter().map(|i| i.sha256.clone()))
    );
    for key in ["installers", "get"] {
        let got = ok(&out[key]).as_array().unwrap();
        assert_eq!(got.len(), windows.len(), "{key}");
        for g in got {
            let i = windows
                .iter()
                .find(|i| g["sha256"] == i.sha256.as_str())
                .unwrap();
            assert_eq!(g["name"], i.name.as_str());
            assert_eq!(g["description"], i.description.as_str());
            assert_eq!(g["os"], i.os.as_str());
            assert_eq!(g["os_version"], i.os_version.as_str());
            assert_eq!(g["version"], i.version.as_str());
            assert_eq!(g["file_size"], i.file_size);
            assert_eq!(g["file_type"], i.file_type.as_str());
            let released: jiff::Timestamp = g["release_date"].as_str().unwrap().parse().unwrap();
            assert_eq!(released, i.release_date);
        }
    }
    let got_order: Vec<&str> = ok(&out["get"])
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(got_order, ids, "get answers in the order asked");

    // The CCID is the CID, upper case, with its checksum suffix.
    let ccid = ok(&out["ccid"]).as_str().unwrap();
    let (cid, checksum) = ccid.split_once('-').expect("a checksum suffix");
    assert_eq!(cid, tenant.cid.to_uppercase());
    assert_eq!(checksum.len(), 2);

    // Every platform's builds when none is named.
    let (all, _) = tenancy.tour(json!({"mode": "sensors"}), &[]);
    assert_eq!(
        ok(&all["builds"]).as_array().unwrap().len(),
        tenant.builds.len()
    );
    assert_eq!(
        ok(&all["installer_ids"]).as_array().unwrap().len(),
        tenant.installers.len()
    );
}

// ---- real time response -----------------------------------------------------------------

/// Two online hosts of different platforms and one offline host.
fn rtr_hosts(tenant: &Tenant) -> (Host, Host, Host) {
    let online = |platform: &str| {
        tenant
            .hosts
            .iter()
            .find(|h| h.online_state == "online" && h.platform_name == platform)
            .cloned()
            .unwrap_or_else(|| panic!("an online {platform} host"))
    };
    let offline = tenant
        .hosts
        .iter()
        .find(|h| h.online_state != "online")
        .cloned()
        .expect("an offline host");
    (online("Windows"), online("Linux"), offline)
}

fn results_by_host(answer: &Value) -> BTreeMap<String, Value> {
    ok(answer)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["host"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

#[test]
fn rtr_commands_report_each_host_including_offline_ones() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let (win, lnx, off) = rtr_hosts(&tenant);
    let rtr = |level: &str, hosts: &[&Host], command: &str, extra: &[&str]| -> (Value, HostRun) {
        let ids: Vec<&str> = hosts.iter().map(|h| h.device_id.as_str()).collect();
        tenancy.tour(
            json!({"mode": "rtr", "level": level, "hosts": ids, "command": command}),
            extra,
        )
    };

    // One host: a single session.
    let (out, _) = rtr("read-only", &[&win], "ipconfig", &[]);
    let results = results_by_host(&out);
    assert_eq!(results.len(), 1);
    assert_eq!(results[&win.device_id]["status"], "done");
    assert_has(
        results[&win.device_id]["stdout"].as_str().unwrap(),
        &win.local_ip,
    );

    // Several hosts: a batch session, one result per host in the order asked.
    let (out, run) = rtr("read-only", &[&lnx, &off, &win], "ipconfig", &[]);
    let order: Vec<&str> = ok(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(order, [&lnx.device_id, &off.device_id, &win.device_id]);
    let results = results_by_host(&out);
    for host in [&win, &lnx] {
        let r = &results[&host.device_id];
        assert_eq!(r["status"], "done", "{r}");
        assert_has(r["stdout"].as_str().unwrap(), &host.local_ip);
    }
    let r = &results[&off.device_id];
    assert_eq!(
        (&r["status"], &r["code"]),
        (&json!("offline"), &json!(40407)),
        "{r}"
    );
    assert_has(r["error"].as_str().unwrap(), "offline");
    assert_has(&run.stderr, "1 call into the host");

    // An offline host alone: offline; queued when asked to queue.
    let (out, _) = rtr("read-only", &[&off], "ps", &[]);
    assert_eq!(results_by_host(&out)[&off.device_id]["status"], "offline");
    let ids = [off.device_id.as_str(), win.device_id.as_str()];
    let (out, _) = tenancy.tour(
        json!({"mode": "rtr", "level": "read-only", "hosts": [ids[0]], "command": "ps",
               "queue": true}),
        &[],
    );
    assert_eq!(results_by_host(&out)[&off.device_id]["status"], "queued");
    let (out, _) = tenancy.tour(
        json!({"mode": "rtr", "level": "read-only", "hosts": ids, "command": "ps",
               "queue": true}),
        &[],
    );
    let results = results_by_host(&out);
    assert_eq!(results[&off.device_id]["status"], "queued");
    assert_eq!(results[&win.device_id]["status"], "done");

    // Active responder commands at the active level.
    let (out, _) = rtr("active", &[&win, &lnx], "kill 4242", &[]);
    for r in results_by_host(&out).values() {
        assert_eq!(r["status"], "done");
        assert_eq!(r["stdout"], "kill 4242: ok\n");
    }

    // A command the host does not know is refused before Falcon.
    let (out, _) = rtr("admin", &[&win], "format c:", &[]);
    assert_eq!(err(&out)["kind"], "invalid-input");
    assert_has(
        err(&out)["message"].as_str().unwrap(),
        "not a Real Time Response command",
    );
}

#[test]
fn rtr_commands_wait_no_longer_than_asked() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let (win, lnx, _) = rtr_hosts(&tenant);
    tenancy
        .emulator()
        .set_rtr_command_delay(Duration::from_secs(3));
    for hosts in [vec![&win.device_id], vec![&win.device_id, &lnx.device_id]] {
        let (out, _) = tenancy.tour(
            json!({"mode": "rtr", "level": "read-only", "hosts": hosts, "command": "ls",
                   "timeout": 1}),
            &[],
        );
        for r in results_by_host(&out).values() {
            assert_eq!(r["status"], "timed-out", "{r}");
        }
    }
    let (out, _) = tenancy.tour(
        json!({"mode": "rtr", "level": "read-only", "hosts": [win.device_id],
               "command": "ls", "timeout": 900}),
        &[],
    );
    assert_has(err(&out)["message"].as_str().unwrap(), "1 to 600 seconds");
}

#[test]
fn admin_rtr_needs_its_level_and_approval_and_a_dry_run_lists_its_hosts() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let (win, lnx, _) = rtr_hosts(&tenant);
    let dir = scratch("rtr-admin");
    let log = dir.join("audit.jsonl");
    let log_arg = log.to_str().unwrap();
    let put = |level: &str, flags: &[&str]| -> (Value, HostRun) {
        let flags = [&["--audit-log", log_arg][..], flags].concat();
        tenancy.tour(
            json!({"mode": "rtr", "level": level, "hosts": [win.device_id, lnx.device_id],
                   "command": "put tool.exe"}),
            &flags,
        )
    };

    // Sent below its level: refused, naming the level, scope and approval.
    for level in ["read-only", "active"] {
        let (out, _) = put(level, &[]);
        let error = err(&out);
        assert_eq!(error["kind"], "invalid-input");
        let message = error["message"].as_str().unwrap();
        assert_has(
            message,
            format!("`put` is an admin command and was sent at level `{level}`"),
        );
        assert_has(message, "real-time-response-admin:write");
        assert_has(message, "--approve rtr.run-command/admin");
    }
    // At its level without approval: refused.
    let (out, _) = put("admin", &[]);
    assert_eq!(err(&out)["kind"], "not-approved");
    assert_has(
        err(&out)["message"].as_str().unwrap(),
        "--approve rtr.run-command/admin",
    );
    // A dry run: not sent, the plan names both hosts.
    let (out, dry) = put("admin", &["--dry-run"]);
    assert_eq!(err(&out)["kind"], "dry-run");
    assert_has(
        &dry.stderr,
        "rtr.run-command/admin (destructive) on 2 hosts:",
    );
    for host in [&win, &lnx] {
        assert_has(
            &dry.stderr,
            format!("    {} {}", host.device_id, host.hostname),
        );
    }
    assert_has(&dry.stderr, "note: command: put tool.exe");
    // Approved: runs on both hosts.
    let (out, _) = put("admin", &["--approve", "rtr.run-command/admin"]);
    for r in results_by_host(&out).values() {
        assert_eq!(
            (&r["status"], &r["stdout"]),
            (&json!("done"), &json!("put tool.exe: ok\n"))
        );
    }
    // `runscript` runs arbitrary script text: admin, even at the active level.
    let (out, _) = tenancy.tour(
        json!({"mode": "rtr", "level": "active", "hosts": [win.device_id],
               "command": "runscript -Raw=```Get-Date```"}),
        &[],
    );
    assert_has(
        err(&out)["message"].as_str().unwrap(),
        "`runscript` is an admin command",
    );

    let seen = |op: &str| -> Vec<(String, String)> {
        audit_records(&log, op)
            .iter()
            .map(|r| {
                (
                    r["decision"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |d: &str, s: &str| (d.to_owned(), s.to_owned());
    assert_eq!(
        seen("rtr.run-command/read-only"),
        [pair("refused", "invalid-input")]
    );
    assert_eq!(
        audit_records(&log, "rtr.run-command/read-only")[0]["targets"],
        2,
        "a refusal is audited with its hosts"
    );
    assert_eq!(
        seen("rtr.run-command/active"),
        [pair("refused", "invalid-input")]
    );
    assert_eq!(
        seen("rtr.run-command/admin"),
        [
            pair("not-approved", "not-approved"),
            pair("dry-run", "dry-run"),
            pair("allowed", "intent"),
            pair("allowed", "ok"),
        ]
    );
}

#[test]
fn saved_scripts_and_put_files_are_listed_and_scripts_run_with_approval() {
    let tenancy = tenancy();
    let tenant = tenancy.tenant();
    let (win, lnx, off) = rtr_hosts(&tenant);
    let script = "Get-Date";
    let uploaded = [
        (
            "/real-time-response/entities/scripts/v1",
            [
                ("name", "collect.ps1"),
                ("description", "collects the date"),
                ("content", script),
            ],
        ),
        (
            "/real-time-response/entities/put-files/v1",
            [
                ("name", "tool.exe"),
                ("description", "a tool"),
                ("content", "MZ"),
            ],
        ),
    ];
    for (path, form) in &uploaded {
        let mut form = form.to_vec();
        form.push(("platform", "windows"));
        assert_eq!(tenancy.post_form(path, &form), 200, "upload to {path}");
    }

    let (out, _) = tenancy.tour(json!({"mode": "rtr-files"}), &[]);
    let scripts = ok(&out["scripts"]).as_array().unwrap();
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0]["name"], "collect.ps1");
    assert_eq!(scripts[0]["description"], "collects the date");
    assert_eq!(scripts[0]["content"], script);
    assert_eq!(scripts[0]["size"], script.len());
    assert_eq!(scripts[0]["platforms"], json!(["windows"]));
    let put_files = ok(&out["put_files"]).as_array().unwrap();
    assert_eq!(put_files.len(), 1);
    assert_eq!(put_files[0]["name"], "tool.exe");
    assert!(
        put_files[0]["content"].is_null(),
        "put-files carry no content"
    );

    let hosts = [&win.device_id, &lnx.device_id, &off.device_id];
    let run_script = |flags: &[&str]| {
        tenancy
            .tour(
                json!({"mode": "rtr-script", "hosts": hosts, "name": "collect.ps1"}),
                flags,
            )
            .0
    };
    let refused = run_script(&[]);
    assert_eq!(err(&refused)["kind"], "not-approved");
    assert_has(
        err(&refused)["message"].as_str().unwrap(),
        "--approve rtr.run-script",
    );
    let ran = run_script(&["--approve", "rtr.run-script"]);
    let results = results_by_host(&ran);
    for host in [&win, &lnx] {
        let r = &results[&host.device_id];
        assert_eq!(r["status"], "done");
        assert_eq!(
            r["stdout"],
            format!("ran collect.ps1 ({} bytes)\n", script.len())
        );
    }
    assert_eq!(results[&off.device_id]["status"], "offline");

    // Quotes cannot smuggle other runscript flags in.
    let (out, _) = tenancy.tour(
        json!({"mode": "rtr-script", "hosts": [win.device_id], "name": "x\" -Raw=\"evil"}),
        &["--approve", "rtr.run-script"],
    );
    assert_eq!(err(&out)["kind"], "invalid-input");
}
