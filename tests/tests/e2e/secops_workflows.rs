//! End-to-end tests of the security-operations workflow plugins of issue #7
//! (`helpdesk-context`, `incident-response`, `weekly-report`): the real
//! `host` binary runs the
//! shipped plugins, built from source, against the emulator over HTTP on
//! 127.0.0.1. Expected results are computed from the emulator's tenant data
//! with the rules each plugin's README documents, never from the plugin;
//! writes are checked in the emulator's state after the run, and
//! notifications at a receiver this test starts on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};

use e2e::{HostRun, Tenancy, assert_has, shipped_plugin};
use falcon_emulator::{Tenant, TenantSpec};
use jiff::Timestamp;
use serde_json::Value;

const DAY: i64 = 86_400;

#[track_caller]
fn json_report(run: &HostRun) -> Value {
    assert_eq!(run.code, 0, "the run failed:\n{}", run.stderr);
    parse_report(run)
}

/// The report of a run that printed it whatever its exit code.
fn parse_report(run: &HostRun) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", run.stdout))
}

fn ago(at: Timestamp, days: i64) -> Timestamp {
    Timestamp::from_second(at.as_second() - days * DAY).unwrap()
}

/// The policy of `kind` that applies to a host, by Falcon's rule: among the
/// enabled policies of the host's platform, the one of best precedence
/// applied to one of the host's groups, else the platform default.
fn applied_policy<'a>(
    tenant: &'a Tenant,
    host: &falcon_emulator::Host,
    kind: &str,
) -> Option<&'a falcon_emulator::Policy> {
    tenant
        .policies
        .iter()
        .filter(|p| p.kind == kind && p.platform_name == host.platform_name && p.enabled)
        .filter(|p| {
            p.name == "platform_default" || p.groups.iter().any(|g| host.groups.contains(g))
        })
        .min_by_key(|p| p.precedence)
}

// ---- helpdesk-context ---------------------------------------------------------------

const HELPDESK_GRANT: &str = "hosts:read,detections:read,prevention-policies:read,\
                              sensor-update-policies:read,response-policies:read";

/// Checks one host of a helpdesk-context JSON report against the tenant.
#[track_caller]
fn check_helpdesk_host(
    tenant: &Tenant,
    reported: &Value,
    since: Timestamp,
    as_of: Timestamp,
) -> usize {
    let id = reported["device_id"].as_str().unwrap();
    let host = tenant
        .hosts
        .iter()
        .find(|h| h.device_id == id)
        .unwrap_or_else(|| panic!("the report names a host the tenant lacks: {id}"));
    assert_eq!(reported["hostname"], host.hostname.as_str());
    assert_eq!(reported["sensor_version"], host.agent_version.as_str());
    assert_eq!(reported["online_state"], host.online_state.as_str());
    assert_eq!(
        reported["reduced_functionality_mode"],
        host.reduced_functionality_mode == "yes"
    );
    assert_eq!(reported["containment"], host.status.as_str());
    let seen: Timestamp = reported["last_seen"].as_str().unwrap().parse().unwrap();
    assert_eq!(seen.as_second(), host.last_seen.as_second());

    for (key, kind) in [
        ("prevention", "prevention"),
        ("sensor_update", "sensor-update"),
        ("response", "response"),
    ] {
        let expected = applied_policy(tenant, host, kind)
            .unwrap_or_else(|| panic!("{} has no {kind} policy", host.hostname));
        assert_eq!(
            reported["policies"][key]["policy_id"],
            expected.id.as_str(),
            "{} {kind}",
            host.hostname
        );
        assert_eq!(reported["policies"][key]["name"], expected.name.as_str());
    }

    let expected_alerts: BTreeSet<String> = tenant
        .alerts
        .iter()
        .filter(|a| a.agent_id == host.device_id)
        .filter(|a| a.created_timestamp >= since && a.created_timestamp <= as_of)
        .map(|a| a.composite_id.clone())
        .collect();
    let alerts = reported["alerts"].as_array().unwrap();
    let got: BTreeSet<String> = alerts
        .iter()
        .map(|a| a["composite_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected_alerts, "alerts of {}", host.hostname);
    assert_eq!(reported["alert_count"], expected_alerts.len());
    // Newest first.
    let times: Vec<Timestamp> = alerts
        .iter()
        .map(|a| a["created_timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    expected_alerts.len()
}

#[test]
fn helpdesk_context_matches_the_tenant_for_a_device_and_for_a_user() {
    let spec = TenantSpec {
        seed: 31,
        users: 24,
        hosts: 150,
        alerts: 600,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let tenant = tenancy.tenant();
    let plugin = shipped_plugin("helpdesk-context");
    let plugin = plugin.to_str().unwrap();
    let as_of = spec.anchor;
    let days = 10;
    let since = ago(as_of, days);
    let as_of_arg = format!("as_of={as_of}");
    let days_arg = format!("days={days}");

    // The visible host with the most alerts in the window.
    let in_window = |h: &falcon_emulator::Host| {
        tenant
            .alerts
            .iter()
            .filter(|a| a.agent_id == h.device_id)
            .filter(|a| a.created_timestamp >= since && a.created_timestamp <= as_of)
            .count()
    };
    let busiest = tenant
        .hosts
        .iter()
        .filter(|h| !h.hidden)
        .max_by_key(|h| in_window(h))
        .unwrap();
    assert!(in_window(busiest) > 0, "the tenant has recent alerts");

    // 1. By hostname, JSON.
    let run = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        HELPDESK_GRANT,
        "--set",
        &format!("device={}", busiest.hostname),
        "--set",
        &days_arg,
        "--set",
        &as_of_arg,
        "--set",
        "format=json",
    ]);
    let report = json_report(&run);
    assert_eq!(report["hosts"].as_array().unwrap().len(), 1);
    let count = check_helpdesk_host(&tenant, &report["hosts"][0], since, as_of);
    assert_eq!(count, in_window(busiest));
    assert_has(&run.stderr, "least privilege: every granted scope was used");

    // 2. By device id, ticket text: the same facts, readable.
    let text = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        HELPDESK_GRANT,
        "--set",
        &format!("device={}", busiest.device_id),
        "--set",
        &days_arg,
        "--set",
        &as_of_arg,
    ]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_has(
        &text.stdout,
        format!("== {} ({}) ==", busiest.hostname, busiest.device_id),
    );
    assert_has(
        &text.stdout,
        format!("Sensor version:        {}", busiest.agent_version),
    );
    assert_has(
        &text.stdout,
        format!("Alerts since {since} ({days} days): {count}"),
    );
    let prevention = applied_policy(&tenant, busiest, "prevention").unwrap();
    assert_has(
        &text.stdout,
        format!(
            "Prevention:          {} ({})",
            prevention.name, prevention.id
        ),
    );

    // 3. By user (given as an email address): every visible host the user
    // last logged in to.
    let mut logins: BTreeMap<&str, Vec<&falcon_emulator::Host>> = BTreeMap::new();
    for host in tenant.hosts.iter().filter(|h| !h.hidden) {
        if !host.last_login_user.is_empty() {
            logins.entry(&host.last_login_user).or_default().push(host);
        }
    }
    let (login, hosts) = logins
        .iter()
        .filter(|(_, hosts)| hosts.len() <= 20)
        .max_by_key(|(_, hosts)| hosts.len())
        .unwrap();
    assert!(hosts.len() >= 2, "a user with several hosts");
    let run = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        HELPDESK_GRANT,
        "--set",
        &format!("user={login}@example.com"),
        "--set",
        &days_arg,
        "--set",
        &as_of_arg,
        "--set",
        "format=json",
    ]);
    let report = json_report(&run);
    let reported: BTreeSet<String> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["device_id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = hosts.iter().map(|h| h.device_id.clone()).collect();
    assert_eq!(reported, expected);
    for host in report["hosts"].as_array().unwrap() {
        check_helpdesk_host(&tenant, host, since, as_of);
    }

    // 4. Bad input: clear errors that say what to do; nothing is guessed.
    let unknown = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        HELPDESK_GRANT,
        "--set",
        "device=NO-SUCH-HOST",
    ]);
    assert_ne!(unknown.code, 0);
    assert_has(&unknown.stderr, "no host is named \"NO-SUCH-HOST\"");
    let neither = tenancy.run(&["run", plugin, "--grant", HELPDESK_GRANT]);
    assert_ne!(neither.code, 0);
    assert_has(&neither.stderr, "--set device=HOSTNAME");
    let both = tenancy.run(&[
        "run",
        plugin,
        "--grant",
        HELPDESK_GRANT,
        "--set",
        "device=x",
        "--set",
        "user=y",
    ]);
    assert_ne!(both.code, 0);
    assert_has(&both.stderr, "not both");

    // Read-only: the tenant is unchanged.
    assert_eq!(tenancy.tenant(), tenant);
}

// ---- notification receiver ----------------------------------------------------------

/// One request the receiver got: its path and JSON body.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    body: Value,
}

/// An HTTP server on 127.0.0.1 standing in for Jira (`/rest/api/3/issue`
/// answers a new issue key) and Slack (any other path answers `ok`).
struct Receiver {
    addr: std::net::SocketAddr,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Received>::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = requests.clone();
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let path = uri.path().to_owned();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mut seen = seen.lock().unwrap();
                    seen.push(Received {
                        path: path.clone(),
                        body,
                    });
                    if path == "/rest/api/3/issue" {
                        let n = seen.iter().filter(|r| r.path == path).count();
                        (
                            axum::http::StatusCode::CREATED,
                            format!(r#"{{"id":"{}","key":"SEC-{}"}}"#, 10_000 + n, 41 + n),
                        )
                    } else {
                        (axum::http::StatusCode::OK, "ok".to_owned())
                    }
                }
            });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            requests,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn to(&self, path: &str) -> Vec<Received> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

const SLACK_PATH: &str = "/services/T0001/B0001/slackCanaryWf3Kd9";
const JIRA_PATH: &str = "/rest/api/3/issue";
const JIRA_TOKEN: &str = "jiraCanaryWf8Lm2";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = e2e::root().join("target").join("e2e-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config with a Jira destination `tickets`, a Slack destination `chat`,
/// both at `receiver`, and the environment the Slack URL comes from.
fn notify_config(
    dir: &std::path::Path,
    receiver: &Receiver,
) -> (String, Vec<(&'static str, String)>) {
    let token = dir.join("jira-token");
    std::fs::write(&token, format!("{JIRA_TOKEN}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[notify.tickets]\nkind = \"jira\"\nurl = \"{}\"\nemail = \"bot@example.com\"\n\
             token_file = \"{}\"\nproject = \"SEC\"\n\n\
             [notify.chat]\nkind = \"slack\"\nurl_env = \"TEST_CHAT_WEBHOOK\"\n",
            receiver.url(""),
            token.display()
        ),
    )
    .unwrap();
    (
        config.display().to_string(),
        vec![("TEST_CHAT_WEBHOOK", receiver.url(SLACK_PATH))],
    )
}

// ---- incident-response --------------------------------------------------------------

const IR_GRANT: &str =
    "detections:read,detections:write,hosts:read,hosts:write,notify:tickets,notify:chat";

#[test]
fn incident_response_plans_refuses_and_contains_with_ticket_chat_and_alert_updates() {
    let spec = TenantSpec {
        seed: 41,
        users: 8,
        hosts: 90,
        alerts: 500,
        ..TenantSpec::demo()
    };
    let tenancy = Tenancy::start(&spec);
    let tenant = tenancy.tenant();
    let as_of = spec.anchor;

    // The README's rule: new alerts of severity 60 or more created in the
    // window. The smallest window in days that gives at least two hosts.
    let selected = |days: i64| -> Vec<&falcon_emulator::Alert> {
        let since = ago(as_of, days);
        let mut found: Vec<_> = tenant
            .alerts
            .iter()
            .filter(|a| a.status == "new" && a.severity >= 60)
            .filter(|a| a.created_timestamp >= since && a.created_timestamp <= as_of)
            .collect();
        found.sort_by_key(|a| (a.created_timestamp, a.composite_id.clone()));
        found
    };
    let hosts_of = |alerts: &[&falcon_emulator::Alert]| -> BTreeSet<String> {
        alerts.iter().map(|a| a.agent_id.clone()).collect()
    };
    let days = (1..=14)
        .find(|d| (2..=25).contains(&hosts_of(&selected(*d)).len()))
        .expect("a window with 2 to 25 affected hosts");
    let expected = selected(days);
    let expected_ids: Vec<String> = expected.iter().map(|a| a.composite_id.clone()).collect();
    let expected_hosts = hosts_of(&expected);
    let max_severity = expected.iter().map(|a| a.severity).max().unwrap();

    let dir = scratch("workflow-incident-response");
    let receiver = Receiver::start();
    let (config, env) = notify_config(&dir, &receiver);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let plugin = shipped_plugin("incident-response");
    let since_arg = format!("since={days}d");
    let as_of_arg = format!("as_of={as_of}");
    let base = [
        "--config",
        &config,
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        IR_GRANT,
        "--set",
        &since_arg,
        "--set",
        &as_of_arg,
        "--set",
        "format=json",
    ];
    let host_status = |t: &Tenant| -> BTreeMap<String, String> {
        t.hosts
            .iter()
            .map(|h| (h.device_id.clone(), h.status.clone()))
            .collect()
    };
    let check_summary = |report: &Value| {
        let hosts: BTreeSet<String> = report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["device_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(hosts, expected_hosts);
        for h in report["hosts"].as_array().unwrap() {
            let host = tenant
                .hosts
                .iter()
                .find(|t| t.device_id == h["device_id"].as_str().unwrap())
                .unwrap();
            assert_eq!(h["hostname"], host.hostname.as_str());
            assert_eq!(h["sensor_version"], host.agent_version.as_str());
            assert_eq!(h["local_ip"], host.local_ip.as_str());
            let mine: Vec<_> = expected
                .iter()
                .filter(|a| a.agent_id == host.device_id)
                .collect();
            assert_eq!(h["alert_count"], mine.len());
            assert_eq!(
                h["max_severity"],
                mine.iter().map(|a| a.severity).max().unwrap()
            );
        }
        let timeline: Vec<String> = report["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["composite_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            timeline, expected_ids,
            "the timeline is every alert, oldest first"
        );
        assert_eq!(report["max_severity"], max_severity);
    };

    // 1. Dry run: every write is in the plan; nothing changes or is sent.
    let dry = tenancy.run_with(&[&base[..], &["--dry-run"]].concat(), &env);
    let report = json_report(&dry);
    check_summary(&report);
    for step in ["containment", "ticket", "chat", "alert_update"] {
        assert_eq!(report[step]["outcome"], "planned", "{step}: {report}");
    }
    assert_has(&dry.stderr, "the plugin would have made 4 writes");
    assert_has(
        &dry.stderr,
        format!(
            "hosts.contain (destructive) on {} host",
            expected_hosts.len()
        ),
    );
    for id in &expected_hosts {
        assert_has(&dry.stderr, format!("    {id} "));
    }
    assert_eq!(receiver.count(), 0, "a dry run sent a notification");
    assert_eq!(tenancy.tenant(), tenant, "a dry run changed the tenant");

    // 2. No approval: containment is refused and reported; the ticket, the
    // chat alert and the alert updates go out.
    let refused = tenancy.run_with(&base, &env);
    // The report is printed, and the run fails for whoever scheduled it.
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_has(
        &refused.stderr,
        "error: plugin `incident-response` reported a failure: the containment did not happen \
         (see the report)",
    );
    let report = parse_report(&refused);
    check_summary(&report);
    assert_eq!(report["containment"]["outcome"], "not_approved");
    assert_has(
        report["containment"]["detail"].as_str().unwrap(),
        "--approve hosts.contain",
    );
    assert_eq!(report["ticket"]["outcome"], "done");
    assert_eq!(report["ticket_key"], "SEC-42");
    assert_eq!(report["chat"]["outcome"], "done");
    assert_eq!(report["alert_update"]["outcome"], "done");
    // A refused call is no use of its scope: the host says so.
    assert_has(
        &refused.stderr,
        "least privilege: unused 1 grant: hosts:write",
    );
    let after = tenancy.tenant();
    assert_eq!(
        host_status(&after),
        host_status(&tenant),
        "hosts contained without approval"
    );
    for alert in &after.alerts {
        let handled = expected_ids.contains(&alert.composite_id);
        let before = tenant
            .alerts
            .iter()
            .find(|a| a.composite_id == alert.composite_id)
            .unwrap();
        if handled {
            assert_eq!(alert.status, "in_progress");
            assert!(alert.tags.contains(&"incident-response".to_owned()));
            assert!(
                alert.comments.iter().any(|c| c.contains("ticket SEC-42")),
                "{:?}",
                alert.comments
            );
        } else {
            assert_eq!(alert.status, before.status, "an unrelated alert changed");
            assert_eq!(alert.tags, before.tags);
        }
    }
    let tickets = receiver.to(JIRA_PATH);
    assert_eq!(tickets.len(), 1);
    let fields = &tickets[0].body["fields"];
    assert_eq!(
        fields["priority"]["name"],
        if max_severity >= 80 {
            "Highest"
        } else {
            "High"
        }
    );
    let description = fields["description"].to_string();
    for id in &expected_hosts {
        let name = &tenant
            .hosts
            .iter()
            .find(|h| &h.device_id == id)
            .unwrap()
            .hostname;
        assert_has(&description, name);
    }
    let chats = receiver.to(SLACK_PATH);
    assert_eq!(chats.len(), 1);
    assert_has(&chats[0].body.to_string(), "ticket SEC-42");
    assert_has(&chats[0].body.to_string(), "not approved");

    // 3. Approved, for the same alerts by id (they are in progress now, so
    // the query would find none): every affected host is contained, and
    // only those.
    let ids_arg = format!("alert_ids={}", expected_ids.join(","));
    let approved = tenancy.run_with(
        &[
            &base[..],
            &["--set", &ids_arg, "--approve", "hosts.contain"],
        ]
        .concat(),
        &env,
    );
    let report = json_report(&approved);
    check_summary(&report);
    assert_eq!(report["containment"]["outcome"], "done", "{report}");
    assert_eq!(report["ticket_key"], "SEC-43");
    assert_has(
        &approved.stderr,
        "least privilege: every granted scope was used",
    );
    for (id, state) in host_status(&tenancy.tenant()) {
        if expected_hosts.contains(&id) {
            assert!(
                state == "containment_pending" || state == "contained",
                "{id}: {state}"
            );
        } else {
            assert_eq!(state, host_status(&tenant)[&id], "{id} was not affected");
        }
    }

    // No secret of a destination reaches the output.
    for run in [&dry, &refused, &approved] {
        for canary in [JIRA_TOKEN, "slackCanaryWf3Kd9"] {
            assert!(!run.stdout.contains(canary) && !run.stderr.contains(canary));
        }
    }
}

// ---- weekly-report ------------------------------------------------------------------

const WEEKLY_GRANT: &str = "detections:read,hosts:read,prevention-policies:read,sensor-update-policies:read,notify:reports";

/// Falcon's severity bands.
fn severity_name(severity: u32) -> &'static str {
    match severity {
        0..=19 => "Informational",
        20..=39 => "Low",
        40..=59 => "Medium",
        60..=79 => "High",
        _ => "Critical",
    }
}

fn counts(list: &Value) -> BTreeMap<String, u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn device_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["device_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn weekly_report_matches_the_tenant_and_is_sent_to_chat() {
    let spec = TenantSpec {
        seed: 53,
        users: 8,
        hosts: 300,
        alerts: 700,
        ..TenantSpec::demo()
    };
    let mut tenant = Tenant::generate(&spec);
    // Make compliance findings: Mac hosts lose their custom prevention
    // policy (they fall back to the platform default), Linux hosts lose
    // every prevention policy.
    for policy in tenant
        .policies
        .iter_mut()
        .filter(|p| p.kind == "prevention")
    {
        if (policy.platform_name == "Mac" && policy.name != "platform_default")
            || policy.platform_name == "Linux"
        {
            policy.enabled = false;
        }
    }
    let tenancy = Tenancy::serve(tenant);
    let tenant = tenancy.tenant();
    let as_of = spec.anchor;
    let since = ago(as_of, 7);

    let dir = scratch("workflow-weekly-report");
    let receiver = Receiver::start();
    let (config, env) = notify_config(&dir, &receiver);
    // The destination of this plugin is `reports`: Slack here, and email
    // in a second config.
    let chat_config = std::fs::read_to_string(&config).unwrap()
        + "\n[notify.reports]\nkind = \"slack\"\nurl_env = \"TEST_CHAT_WEBHOOK\"\n";
    std::fs::write(&config, chat_config).unwrap();
    let email_config = dir.join("email.toml");
    std::fs::write(
        &email_config,
        "[notify.reports]\nkind = \"email\"\nserver = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
         from = \"Falcon <falcon@example.com>\"\nto = [\"soc@example.com\"]\n",
    )
    .unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let plugin = shipped_plugin("weekly-report");
    let as_of_arg = format!("as_of={as_of}");
    let base = [
        "--config",
        &config,
        "run",
        plugin.to_str().unwrap(),
        "--grant",
        WEEKLY_GRANT,
        "--set",
        &as_of_arg,
    ];

    // 1. JSON, sent to chat.
    let run = tenancy.run_with(
        &[&base[..], &["--set", "format=json", "--set", "send=chat"]].concat(),
        &env,
    );
    let report = json_report(&run);
    assert_has(&run.stderr, "least privilege: every granted scope was used");

    // Alerts of the week, by the README's rules.
    let week: Vec<_> = tenant
        .alerts
        .iter()
        .filter(|a| a.created_timestamp >= since && a.created_timestamp <= as_of)
        .collect();
    assert!(week.len() > 20, "the tenant has alerts this week");
    assert_eq!(report["alerts"]["total"], week.len());
    let mut by_severity: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_tactic: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for a in &week {
        *by_severity
            .entry(severity_name(a.severity).into())
            .or_default() += 1;
        *by_tactic.entry(a.tactic.clone()).or_default() += 1;
        *by_status.entry(a.status.clone()).or_default() += 1;
    }
    assert_eq!(counts(&report["alerts"]["by_severity"]), by_severity);
    assert_eq!(counts(&report["alerts"]["by_tactic"]), by_tactic);
    assert_eq!(counts(&report["alerts"]["by_status"]), by_status);

    // Host health of the visible fleet.
    let visible: Vec<_> = tenant.hosts.iter().filter(|h| !h.hidden).collect();
    assert_eq!(report["hosts"]["total"], visible.len());
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
    let outdated = visible
        .iter()
        .filter(|h| {
            newest
                .get(&h.platform_name.to_ascii_lowercase())
                .is_some_and(|n| key(&h.agent_version) < key(n))
        })
        .count();
    assert_eq!(report["hosts"]["outdated"], outdated);
    let ids = |pred: &dyn Fn(&falcon_emulator::Host) -> bool| -> BTreeSet<String> {
        visible
            .iter()
            .filter(|h| pred(h))
            .map(|h| h.device_id.clone())
            .collect()
    };
    let rfm = ids(&|h| h.reduced_functionality_mode == "yes");
    let stale = ids(&|h| (as_of.as_second() - h.last_seen.as_second()).max(0) / DAY >= 7);
    assert_eq!(
        device_ids(&report["hosts"]["reduced_functionality_mode"]),
        rfm
    );
    assert_eq!(device_ids(&report["hosts"]["not_seen"]), stale);
    let versions: u64 = report["hosts"]["sensor_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["hosts"].as_u64().unwrap())
        .sum();
    assert_eq!(versions, visible.len() as u64);

    // Compliance, by Falcon's precedence rule over the changed policies.
    let without = ids(&|h| applied_policy(&tenant, h, "prevention").is_none());
    let on_default = ids(&|h| {
        applied_policy(&tenant, h, "prevention").is_some_and(|p| p.name == "platform_default")
    });
    assert!(!without.is_empty() && !on_default.is_empty());
    assert_eq!(
        device_ids(&report["compliance"]["without_enabled_prevention"]),
        without
    );
    assert_eq!(
        report["compliance"]["on_platform_default"],
        on_default.len()
    );
    assert_eq!(
        report["compliance"]["compliant"],
        visible.len() - without.len()
    );

    // The chat summary went to the `reports` destination.
    assert_has(
        report["delivery"].as_str().unwrap(),
        "sent as chat message to `reports`",
    );
    let chats = receiver.to(SLACK_PATH);
    assert_eq!(chats.len(), 1);
    let text = chats[0].body["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
        + &chats[0].body["blocks"].to_string();
    assert_has(&text, format!("{} alerts in 7 days", week.len()));
    assert_has(
        &text,
        format!("{} without an enabled prevention policy", without.len()),
    );

    // 2. HTML: a self-contained page with inline SVG charts.
    let html = tenancy.run_with(&[&base[..], &["--set", "format=html"]].concat(), &env);
    assert_eq!(html.code, 0, "{}", html.stderr);
    assert!(html.stdout.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.stdout.matches("<svg").count(), 5, "five charts");
    assert!(!html.stdout.contains("<script"));
    assert_has(&html.stdout, "Alerts by severity");
    assert_has(
        &html.stdout,
        format!(
            "Hosts without an enabled prevention policy ({})",
            without.len()
        ),
    );
    // Not sent: the grant is unused, and the host says so.
    assert_has(&html.stderr, "unused 1 grant: notify:reports");
    assert_eq!(receiver.count(), 1);

    // 3. Email in a dry run: planned with the subject, nothing sent.
    let email = tenancy.run_with(
        &[
            "--config",
            email_config.to_str().unwrap(),
            "run",
            plugin.to_str().unwrap(),
            "--grant",
            WEEKLY_GRANT,
            "--set",
            &as_of_arg,
            "--set",
            "send=email",
            "--dry-run",
        ],
        &env,
    );
    assert_eq!(email.code, 0, "{}", email.stderr);
    assert_has(
        &email.stdout,
        "planned as email to `reports` (dry run, not sent)",
    );
    assert_has(&email.stderr, "notify.send-email reports (write)");
    assert_eq!(receiver.count(), 1);
}
