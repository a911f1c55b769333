//! End-to-end tests of the employee lifecycle plugins (`onboarding-check`,
//! `offboarding`): the real `host` binary runs the shipped plugins, built
//! from source, against the emulator over HTTP on 127.0.0.1, and sends their
//! notifications to a receiver this test starts on 127.0.0.1. Expected
//! results come from the emulator's tenant, before and after the run.
//! (The security-operations plugins are tested in `secops_workflows.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2e::{HostRun, Tenancy, assert_has, shipped_plugin};
use falcon_emulator::{Host, Tenant, TenantSpec};
use serde_json::{Value, json};

const HELPDESK_TOKEN: &str = "helpdeskCanary5Tq8Wm2";
const SECOPS_SECRET: &str = "secopsCanary3Jd7Rx9";

/// Every scope `onboarding-check` requests.
const ONBOARDING_GRANTS: &str = "hosts:read,host-groups:read,host-groups:write,\
     sensor-update-policies:read,prevention-policies:read,notify:helpdesk";
/// Every scope `offboarding` requests.
const OFFBOARDING_GRANTS: &str =
    "hosts:read,hosts:write,host-groups:read,host-groups:write,notify:secops";

/// A tenant, a notification receiver and a config file naming it.
struct Office {
    tenancy: Tenancy,
    receiver: Receiver,
    config: PathBuf,
    dir: PathBuf,
}

impl Office {
    fn start(name: &str, spec: &TenantSpec) -> Self {
        let tenancy = Tenancy::start(spec);
        let dir = scratch(name);
        let receiver = Receiver::start();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[notify.helpdesk]\nkind = \"jira\"\nurl = \"{}\"\nemail = \"bot@example.com\"\n\
                 token_env = \"TEST_HELPDESK_TOKEN\"\nproject = \"IT\"\n\n\
                 [notify.secops]\nkind = \"webhook\"\nurl = \"{}\"\n\
                 secret_env = \"TEST_SECOPS_SECRET\"\n",
                receiver.url(""),
                receiver.url("/hooks/secops"),
            ),
        )
        .unwrap();
        Self {
            tenancy,
            receiver,
            config,
            dir,
        }
    }

    fn tenant(&self) -> Tenant {
        self.tenancy.tenant()
    }

    /// Runs `host --config <ours> run PLUGIN --audit-log <ours> <rest>` with
    /// the tenant's credentials and the destinations' secrets, and checks
    /// that no secret reached the output or the audit log.
    fn run(&self, args: &[&str]) -> HostRun {
        let audit = self.dir.join("audit.jsonl");
        let mut all = vec![
            "--config",
            self.config.to_str().unwrap(),
            args[0],
            args[1],
            "--audit-log",
            audit.to_str().unwrap(),
        ];
        all.extend_from_slice(&args[2..]);
        let run = self.tenancy.run_with(
            &all,
            &[
                ("TEST_HELPDESK_TOKEN", HELPDESK_TOKEN),
                ("TEST_SECOPS_SECRET", SECOPS_SECRET),
            ],
        );
        for secret in [HELPDESK_TOKEN, SECOPS_SECRET] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret leaked to the output"
            );
        }
        let log = std::fs::read_to_string(&audit).unwrap_or_default();
        assert!(
            !log.contains(HELPDESK_TOKEN) && !log.contains(SECOPS_SECRET),
            "a secret leaked to the audit log"
        );
        run
    }
}

/// A scratch directory under the target dir, fresh for each call.
fn scratch(name: &str) -> PathBuf {
    let dir = e2e::root()
        .join("target")
        .join("e2e-scratch")
        .join("workflows")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    body: Value,
}

/// A loopback HTTP server standing in for Jira (`/rest/api/3/issue`
/// answers 201 with keys `IT-1`, `IT-2`, ...) and for a webhook (anything
/// else answers 200). It records every request.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || serve(stream, &seen));
            }
        });
        Self { port, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers the requests of one connection, keeping it open between them.
fn serve(stream: std::net::TcpStream, seen: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = {
            let mut requests = seen.lock().unwrap();
            requests.push(Request {
                path: path.clone(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            if path.starts_with("/rest/api/3/issue") {
                let n = requests
                    .iter()
                    .filter(|r| r.path.starts_with("/rest/api/3/issue"))
                    .count();
                (
                    "201 Created",
                    json!({ "id": (10_000 + n).to_string(), "key": format!("IT-{n}") }).to_string(),
                )
            } else {
                ("200 OK", "ok".to_owned())
            }
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// The login name a sensor reports for a user: the part before `@`.
fn login(uid: &str) -> &str {
    uid.split('@').next().unwrap_or(uid)
}

/// `7.05.17603.0` as numbers.
fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The newest production sensor version per platform (lowercase), from the
/// tenant's builds.
fn newest_builds(tenant: &Tenant) -> BTreeMap<String, String> {
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for build in tenant.builds.iter().filter(|b| b.stage == "prod") {
        let entry = newest
            .entry(build.platform.clone())
            .or_insert_with(|| build.sensor_version.clone());
        if version_key(&build.sensor_version) > version_key(entry) {
            *entry = build.sensor_version.clone();
        }
    }
    newest
}

/// The prevention policy Falcon applies to a host: the enabled policy of
/// the host's platform with the best precedence among those assigned to
/// one of its groups, else the platform default.
fn applied_prevention(tenant: &Tenant, host: &Host) -> String {
    tenant
        .policies
        .iter()
        .filter(|p| p.kind == "prevention" && p.platform_name == host.platform_name && p.enabled)
        .filter(|p| {
            p.name == "platform_default" || p.groups.iter().any(|g| host.groups.contains(g))
        })
        .min_by_key(|p| p.precedence)
        .map(|p| p.name.clone())
        .expect("every platform has a default prevention policy")
}

fn group_id(tenant: &Tenant, name: &str) -> String {
    tenant
        .host_groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("the tenant has a group `{name}`"))
        .id
        .clone()
}

/// Each check of a host's checklist: name to (status, detail).
fn checks_of(host: &Value) -> BTreeMap<String, (String, String)> {
    host["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                (
                    c["status"].as_str().unwrap().to_owned(),
                    c["detail"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

#[test]
fn onboarding_check_follows_the_tenant_and_assigns_groups_by_rule() {
    let spec = TenantSpec {
        seed: 17,
        users: 8,
        hosts: 90,
        ..TenantSpec::demo()
    };
    let tenancy = Office::start("onboarding", &spec);
    let before = tenancy.tenant();
    let contractors = group_id(&before, "Contractors' laptops");
    let pilot = group_id(&before, "Pilot – early adopters");
    let mac_fleet = group_id(&before, "Mac fleet");
    // The rules of the input below, applied by hand: Windows hosts named
    // WKS-* go to the contractors' group, Macs to the (dynamic) Mac fleet,
    // everything else to the default group.
    let rule_group = |h: &Host| -> String {
        if h.platform_name == "Windows" && h.hostname.to_lowercase().starts_with("wks-") {
            contractors.clone()
        } else if h.platform_name == "Mac" {
            mac_fleet.clone()
        } else {
            pilot.clone()
        }
    };
    let workstations = |t: &Tenant, uid: &str| -> Vec<Host> {
        t.hosts
            .iter()
            .filter(|h| {
                !h.hidden && h.last_login_user == login(uid) && h.product_type_desc == "Workstation"
            })
            .cloned()
            .collect()
    };
    // A user with several workstations, one of which the rules move.
    let user = before
        .users
        .iter()
        .find(|u| {
            let mine = workstations(&before, &u.uid);
            mine.len() >= 2 && mine.iter().any(|h| !h.groups.contains(&rule_group(h)))
        })
        .expect("the tenant has a user whose workstations need a group")
        .clone();
    let mine = workstations(&before, &user.uid);
    let servers: BTreeSet<String> = before
        .hosts
        .iter()
        .filter(|h| !h.hidden && h.last_login_user == login(&user.uid))
        .filter(|h| h.product_type_desc != "Workstation")
        .map(|h| h.device_id.clone())
        .collect();
    // The policy one of the hosts has: the check passes for hosts that end
    // up with it and fails for the others.
    let expected_policy = applied_prevention(&before, &mine[0]);

    let plugin = shipped_plugin("onboarding-check");
    let input = json!({
        "user": user.uid,
        "group_rules": [
            {"platform": "Windows", "hostname": "WKS-*", "group": "Contractors' laptops"},
            {"platform": "Mac", "group": "Mac fleet"},
        ],
        "default_group": "Pilot – early adopters",
        "expected_prevention_policy": expected_policy,
        "format": "json",
        "as_of": spec.anchor.to_string(),
    })
    .to_string();
    let base = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        ONBOARDING_GRANTS,
        "--input",
        &input,
    ];

    // A dry run plans the additions and changes nothing.
    let dry = tenancy.run(&[&base[..], &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_has(&dry.stderr, "host-groups.add-hosts (write)");
    assert_eq!(
        tenancy.tenant().hosts,
        before.hosts,
        "a dry run changed hosts"
    );
    let planned: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert!(
        planned["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| checks_of(h)["Host group"].0 == "planned")
    );

    let run = tenancy.run(&base);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let after = tenancy.tenant();
    assert_eq!(report["sensor_missing"], false);
    assert_eq!(report["device_missing"], false);
    assert!(
        report["ticket"].is_null(),
        "no ticket when the sensor is there"
    );
    let reported: BTreeSet<String> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["device_id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = mine.iter().map(|h| h.device_id.clone()).collect();
    assert_eq!(reported, expected, "the user's visible workstations");
    let ignored: BTreeSet<String> = report["ignored_servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["device_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ignored, servers, "servers are listed, not checked");

    let newest = newest_builds(&before);
    let as_of = spec.anchor.as_second();
    for host in report["hosts"].as_array().unwrap() {
        let id = host["device_id"].as_str().unwrap();
        let was = before.hosts.iter().find(|h| h.device_id == id).unwrap();
        let now = after.hosts.iter().find(|h| h.device_id == id).unwrap();
        let checks = checks_of(host);
        let status = |name: &str| checks[name].0.as_str();
        let pass = |ok: bool| if ok { "pass" } else { "fail" };

        assert_eq!(status("Sensor installed"), "pass");
        let days = (as_of - was.last_seen.as_second()).max(0) / 86_400;
        assert_eq!(status("Recently seen"), pass(days < 7), "{id}");
        assert_eq!(
            status("Full functionality"),
            pass(was.reduced_functionality_mode != "yes"),
            "{id}"
        );
        let newest = &newest[&was.platform_name.to_ascii_lowercase()];
        assert_eq!(
            status("Sensor current"),
            pass(version_key(&was.agent_version) >= version_key(newest)),
            "{id}: {} vs {newest}",
            was.agent_version
        );

        // The group the rules choose: already a member passes; a static
        // group gets the host; a dynamic one is never edited.
        let wanted = rule_group(was);
        let mut expected_groups = was.groups.clone();
        if was.groups.contains(&wanted) {
            assert_eq!(status("Host group"), "pass", "{id}");
            assert_has(&checks["Host group"].1, "already a member");
        } else if wanted == mac_fleet {
            assert_eq!(status("Host group"), "fail", "{id}");
        } else {
            assert_eq!(status("Host group"), "pass", "{id}");
            assert_has(&checks["Host group"].1, "added to");
            expected_groups.push(wanted.clone());
        }
        assert_eq!(
            now.groups, expected_groups,
            "{id}: its groups after the run"
        );

        // The policy that applies after the group change.
        let applied = applied_prevention(&after, now);
        assert_eq!(
            status("Prevention policy"),
            pass(applied == expected_policy),
            "{id}"
        );
        assert_has(&checks["Prevention policy"].1, format!("`{applied}`"));
        let all_pass = checks.values().all(|(s, _)| s == "pass");
        assert_eq!(host["ready"], all_pass, "{id}");
    }
    // Nobody else's groups changed.
    for (was, now) in before.hosts.iter().zip(&after.hosts) {
        if !expected.contains(&was.device_id) {
            assert_eq!(was.groups, now.groups, "{} is not the user's", was.hostname);
        }
    }
    assert!(tenancy.receiver.requests().is_empty(), "no notification");
    // The help-desk grant is only for a missing sensor.
    assert_has(
        &run.stderr,
        "least privilege: unused 1 grant: notify:helpdesk",
    );

    // The Markdown checklist of one host, found by agent id, without rules.
    let one = &mine[0];
    let markdown = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        ONBOARDING_GRANTS,
        "--set",
        &format!("device={}", one.device_id),
    ]);
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    assert_has(&markdown.stdout, "# Falcon onboarding check");
    assert_has(
        &markdown.stdout,
        format!(
            "## {} ({}, {})",
            one.hostname, one.platform_name, one.device_id
        ),
    );
    assert_has(&markdown.stdout, "- [x] Sensor installed");
    assert_has(&markdown.stdout, "- [ ] *skipped* Host group: no rule");
}

#[test]
fn onboarding_check_opens_a_ticket_when_the_sensor_is_missing() {
    let spec = TenantSpec {
        seed: 19,
        users: 4,
        hosts: 30,
        ..TenantSpec::demo()
    };
    let tenancy = Office::start("onboarding-missing", &spec);
    let tenant = tenancy.tenant();
    let newcomer = "new.hire@example.com";
    assert!(tenant.hosts.iter().all(|h| h.last_login_user != "new.hire"));
    assert!(tenant.hosts.iter().all(|h| h.hostname != "WKS-NEW-00001"));
    let plugin = shipped_plugin("onboarding-check");
    let base = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        ONBOARDING_GRANTS,
        "--set",
        &format!("user={newcomer}"),
        "--set",
        "device=WKS-NEW-00001",
        "--set",
        "format=json",
    ];

    // A dry run plans the ticket; nothing leaves.
    let dry = tenancy.run(&[&base[..], &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let planned: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(planned["ticket"]["status"], "planned");
    assert_has(&dry.stderr, "notify.create-ticket helpdesk (write)");
    assert!(tenancy.receiver.requests().is_empty());

    let run = tenancy.run(&base);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["sensor_missing"], true);
    assert_eq!(report["device_missing"], true);
    assert_eq!(report["ready"], false);
    assert_eq!(report["hosts"], json!([]));
    assert_eq!(report["ticket"]["status"], "pass");
    assert_eq!(report["ticket"]["key"], "IT-1");
    let requests = tenancy.receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/rest/api/3/issue");
    let fields = &requests[0].body["fields"];
    assert_eq!(fields["project"]["key"], "IT");
    assert_has(fields["summary"].as_str().unwrap(), newcomer);
    assert_has(&fields["description"].to_string(), "WKS-NEW-00001");
    assert_eq!(fields["labels"], json!(["falcon", "onboarding"]));
    assert_has(&run.stderr, "used: hosts:read, notify:helpdesk");

    // Another destination can be named, but only a configured and granted
    // one is reached: `pager` is not in the config, and the host says which
    // destinations this plugin may use.
    let other = tenancy.run(&[&base[..], &["--set", "ticket_destination=pager"]].concat());
    assert_eq!(other.code, 1, "{}", other.stderr);
    assert_has(
        &other.stderr,
        "reported a failure: the ticket could not be opened: invalid input: there is no \
         notification destination `pager`",
    );
    let refused: Value = serde_json::from_str(&other.stdout).unwrap();
    assert_eq!(refused["ticket"]["status"], "fail");
    assert_has(
        refused["ticket"]["detail"].as_str().unwrap(),
        "there is no notification destination `pager`; this plugin may use `helpdesk`",
    );
    // `notify:*` is what a plugin requests; an operator grants names.
    let wildcard = tenancy.run(&[&base[..], &["--grant", "notify:*"]].concat());
    assert_eq!(wildcard.code, 2, "{}", wildcard.stderr);
    assert_has(&wildcard.stderr, "grant each destination by name");
    // Someone must be named, and rules are checked.
    let nobody = tenancy.run(&[
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        ONBOARDING_GRANTS,
    ]);
    assert_ne!(nobody.code, 0);
    assert_has(&nobody.stderr, "give `user`");
    let typo = tenancy.run(
        &[
            &base[..],
            &[
                "--input",
                r#"{"group_rules": [{"platfrom": "Mac", "group": "x"}]}"#,
            ],
        ]
        .concat(),
    );
    assert_ne!(typo.code, 0);
    assert_has(&typo.stderr, "unknown field `platfrom`");
    assert_eq!(
        tenancy.receiver.requests().len(),
        1,
        "bad input sent nothing"
    );
}

/// The archive files in `dir`, by agent id.
fn archives(dir: &Path) -> BTreeMap<String, Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let id = name
                .strip_prefix("offboarding-")
                .and_then(|n| n.strip_suffix(".json"))
                .unwrap_or_else(|| panic!("unexpected file {name}"))
                .to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            (id, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

#[test]
fn offboarding_contains_removes_archives_and_reports_refusals() {
    let spec = TenantSpec {
        seed: 23,
        users: 6,
        hosts: 80,
        ..TenantSpec::demo()
    };
    let tenancy = Office::start("offboarding", &spec);
    let before = tenancy.tenant();
    let dynamic: BTreeSet<String> = before
        .host_groups
        .iter()
        .filter(|g| g.group_type == "dynamic")
        .map(|g| g.id.clone())
        .collect();
    let is_static = |id: &String| !dynamic.contains(id);
    let theirs_of = |uid: &str| -> Vec<Host> {
        before
            .hosts
            .iter()
            .filter(|h| !h.hidden && h.last_login_user == login(uid))
            .cloned()
            .collect()
    };
    // A user with workstations (one in a static group) and servers.
    let user = before
        .users
        .iter()
        .find(|u| {
            let (ws, servers): (Vec<Host>, Vec<Host>) = theirs_of(&u.uid)
                .into_iter()
                .partition(|h| h.product_type_desc == "Workstation");
            ws.len() >= 2 && servers.len() >= 2 && ws.iter().any(|h| h.groups.iter().any(is_static))
        })
        .expect("the tenant has a user with workstations and servers")
        .clone();
    let theirs = theirs_of(&user.uid);
    // One server is named, so it is offboarded; the others are left alone.
    let named = theirs
        .iter()
        .find(|h| h.product_type_desc != "Workstation")
        .unwrap()
        .clone();
    let targets: BTreeSet<String> = theirs
        .iter()
        .filter(|h| h.product_type_desc == "Workstation" || h.device_id == named.device_id)
        .map(|h| h.device_id.clone())
        .collect();
    let left_alone: BTreeSet<String> = theirs
        .iter()
        .map(|h| h.device_id.clone())
        .filter(|id| !targets.contains(id))
        .collect();
    assert!(!left_alone.is_empty());

    let plugin = shipped_plugin("offboarding");
    let user_arg = format!("user={}", user.uid);
    let devices = format!("devices={},NO-SUCH-HOST", named.hostname);
    let base = [
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        OFFBOARDING_GRANTS,
        "--set",
        &user_arg,
        "--set",
        &devices,
        "--set",
        "format=json",
    ];
    let ids = |list: &Value| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|h| h["device_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let host_of = |report: &Value, id: &str| -> Value {
        report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["device_id"] == id)
            .unwrap()
            .clone()
    };

    // 1. Dry run: the plan names every target; the archive holds the hosts
    //    as found; the tenant is unchanged and nothing is sent.
    let archive = tenancy.dir.join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let dry = tenancy.run(
        &[
            &base[..],
            &["--dry-run", "--output-dir", archive.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let report: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(ids(&report["hosts"]), targets);
    assert_eq!(ids(&report["ignored_servers"]), left_alone);
    assert_eq!(report["not_found"], json!(["NO-SUCH-HOST"]));
    assert_has(
        &dry.stderr,
        format!("hosts.contain (destructive) on {} hosts", targets.len()),
    );
    for id in &targets {
        let host = before.hosts.iter().find(|h| &h.device_id == id).unwrap();
        assert_has(
            &dry.stderr,
            format!("    {} {}", host.device_id, host.hostname),
        );
        assert_eq!(host_of(&report, id)["containment"]["status"], "planned");
    }
    assert_has(&dry.stderr, "notify.send-message secops (write)");
    assert_eq!(
        tenancy.tenant().hosts,
        before.hosts,
        "a dry run changed the tenant"
    );
    assert!(tenancy.receiver.requests().is_empty());
    let files = archives(&archive);
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), targets);
    for (id, file) in &files {
        let host = before.hosts.iter().find(|h| &h.device_id == id).unwrap();
        assert_eq!(file["device"]["hostname"], host.hostname.as_str());
        assert_eq!(file["device"]["serial_number"], host.serial_number.as_str());
        assert_eq!(file["user"], user.uid.as_str());
        let groups: Vec<&str> = file["host_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(groups, host.groups, "{id}: the groups as found");
    }

    // 2. Without approval or output directory: containment and archive are
    //    refused with the reason; the static groups are left; the summary
    //    says so.
    let refused = tenancy.run(&base);
    // The report is printed, and the run fails for whoever scheduled it.
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_has(
        &refused.stderr,
        format!(
            "error: plugin `offboarding` reported a failure: {} action(s) were refused (see the \
             report)",
            2 * targets.len()
        ),
    );
    let report: Value = serde_json::from_str(&refused.stdout).unwrap();
    let after = tenancy.tenant();
    for id in &targets {
        let host = host_of(&report, id);
        assert_eq!(host["containment"]["status"], "refused");
        assert_has(
            host["containment"]["detail"].as_str().unwrap(),
            "--approve hosts.contain",
        );
        assert_eq!(host["archive"]["status"], "refused");
        assert_has(host["archive"]["detail"].as_str().unwrap(), "--output-dir");
        let was = before.hosts.iter().find(|h| &h.device_id == id).unwrap();
        let now = after.hosts.iter().find(|h| &h.device_id == id).unwrap();
        assert_eq!(
            now.status, was.status,
            "{id} was contained without approval"
        );
        let kept: Vec<String> = was
            .groups
            .iter()
            .filter(|g| !is_static(g))
            .cloned()
            .collect();
        assert_eq!(now.groups, kept, "{id}: only dynamic groups are left");
        for group in host["groups"].as_array().unwrap() {
            let id = group["id"].as_str().unwrap().to_owned();
            let expected = if is_static(&id) { "done" } else { "skipped" };
            assert_eq!(group["status"], expected, "{group}");
        }
    }
    for (was, now) in before.hosts.iter().zip(&after.hosts) {
        if !targets.contains(&was.device_id) {
            assert_eq!(was, now, "{} is not a target", was.hostname);
        }
    }
    let requests = tenancy.receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/hooks/secops");
    assert_has(requests[0].body["title"].as_str().unwrap(), &user.uid);
    let text = requests[0].body["text"].as_str().unwrap();
    assert_has(text, "not approved");
    assert_has(text, "NO-SUCH-HOST");
    assert_eq!(report["summary"]["status"], "done");
    // Containment was refused: its scope went unused.
    assert_has(
        &refused.stderr,
        "least privilege: unused 1 grant: hosts:write;",
    );

    // The Markdown form lists one refusal per reason.
    let markdown = tenancy.run(&base[..base.len() - 2]);
    assert_eq!(markdown.code, 1, "{}", markdown.stderr);
    assert_has(&markdown.stdout, "# Falcon offboarding");
    assert_has(&markdown.stdout, "## Refused");
    assert_eq!(
        markdown.stdout.matches("- containment of ").count(),
        1,
        "{}",
        markdown.stdout
    );
    assert_has(&markdown.stdout, "## Left alone");

    // 3. Approved: every target is contained, and only the targets.
    let approved = tenancy.run(&[&base[..], &["--approve", "hosts.contain"]].concat());
    // Without an output directory the archives are still refused: the run
    // fails for them alone.
    assert_eq!(approved.code, 1, "{}", approved.stderr);
    assert_has(
        &approved.stderr,
        format!(
            "reported a failure: {} action(s) were refused",
            targets.len()
        ),
    );
    let report: Value = serde_json::from_str(&approved.stdout).unwrap();
    let contained = tenancy.tenant();
    for host in &contained.hosts {
        let was = before
            .hosts
            .iter()
            .find(|h| h.device_id == host.device_id)
            .unwrap();
        if targets.contains(&host.device_id) {
            assert!(
                host.status == "contained" || host.status == "containment_pending",
                "{}: {}",
                host.hostname,
                host.status
            );
            assert_eq!(
                host_of(&report, &host.device_id)["containment"]["status"],
                "done"
            );
        } else {
            assert_eq!(host.status, was.status, "{} is not a target", host.hostname);
        }
    }
    // The static groups were left in step 2: nothing to remove now.
    assert_has(
        &approved.stderr,
        "least privilege: unused 1 grant: host-groups:write;",
    );
    // A second approved run, with an output directory, finds them contained
    // and leaves them so, archives them, and succeeds.
    let again = tenancy.run(
        &[
            &base[..],
            &[
                "--approve",
                "hosts.contain",
                "--output-dir",
                archive.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let report: Value = serde_json::from_str(&again.stdout).unwrap();
    for id in &targets {
        let host = host_of(&report, id);
        assert_eq!(host["containment"]["status"], "skipped");
        assert_has(host["containment"]["detail"].as_str().unwrap(), "already");
        assert_eq!(host["archive"]["status"], "done");
    }
    assert!(
        !again.stderr.contains("reported a failure"),
        "{}",
        again.stderr
    );
}
