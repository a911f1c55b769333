//! Wire details where the emulator must behave like Falcon: RTR sub-commands,
//! per-host batch errors, `runscript` arguments, IOC scoping on update and
//! incident comments. Real HTTP on 127.0.0.1, driven with reqwest.

use std::net::SocketAddr;

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};
use reqwest::StatusCode;
use serde_json::{Value, json};

const RTR: &str = "/real-time-response";
const IOCS: &str = "/iocs/entities/indicators/v1";

/// A running demo emulator, a loopback-only HTTP client and a bearer token.
struct Harness {
    running: RunningEmulator,
    http: reqwest::Client,
    token: String,
}

/// One HTTP answer: status and JSON body (`null` when not JSON).
struct Reply {
    status: StatusCode,
    body: Value,
}

async fn demo() -> Harness {
    let emulator = Emulator::new(
        Tenant::generate(&TenantSpec::demo()),
        EmulatorConfig::default(),
    );
    let admin = ApiClient::full_access();
    emulator.add_client(admin.clone());
    let running = emulator
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    // No proxy: every request must stay on loopback whatever the environment says.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    let form = [
        ("client_id", &*admin.client_id),
        ("client_secret", &*admin.client_secret),
    ];
    let url = format!("{}/oauth2/token", running.base_url());
    let answer = reply(http.post(url).form(&form)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let token = answer.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    Harness {
        running,
        http,
        token,
    }
}

async fn reply(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let request = self.http.get(self.url(path)).query(query);
        reply(request.bearer_auth(&self.token)).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        let request = self.http.post(self.url(path)).json(body);
        reply(request.bearer_auth(&self.token)).await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        let request = self.http.patch(self.url(path)).json(body);
        reply(request.bearer_auth(&self.token)).await
    }

    /// The first online host of `platform`.
    fn online(&self, platform: &str) -> String {
        self.running
            .tenant()
            .hosts
            .iter()
            .find(|h| h.online_state == "online" && h.platform_name == platform)
            .unwrap_or_else(|| panic!("the demo tenant has an online {platform} host"))
            .device_id
            .clone()
    }

    async fn session(&self, aid: &str) -> String {
        let opened = self
            .post(
                &format!("{RTR}/entities/sessions/v1"),
                &json!({ "device_id": aid }),
            )
            .await;
        assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
        opened.body["resources"][0]["session_id"]
            .as_str()
            .expect("session_id")
            .to_owned()
    }

    /// Runs a command at `tier` (`command`, `active-responder-command`,
    /// `admin-command`) and returns its status resource once complete, or
    /// the refusal.
    async fn run(&self, tier: &str, session: &str, base: &str, line: &str) -> Reply {
        let path = format!("{RTR}/entities/{tier}/v1");
        let body = json!({"base_command": base, "command_string": line, "session_id": session});
        let sent = self.post(&path, &body).await;
        if sent.status != StatusCode::CREATED {
            return sent;
        }
        let id = sent.body["resources"][0]["cloud_request_id"]
            .as_str()
            .expect("cloud_request_id")
            .to_owned();
        let status = self
            .get(&path, &[("cloud_request_id", &id), ("sequence_id", "0")])
            .await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.body);
        assert_eq!(status.body["resources"][0]["complete"], true);
        Reply {
            status: sent.status,
            body: status.body["resources"][0].clone(),
        }
    }

    async fn ioc(&self, id: &str) -> Value {
        let got = self.get(IOCS, &[("ids", id)]).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        got.body["resources"][0].clone()
    }
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

// ---- RTR ----------------------------------------------------------------------------

#[tokio::test]
async fn sub_commands_run_whether_base_command_is_the_command_or_the_verb() {
    let h = demo().await;
    let win = h.online("Windows");
    let hostname = h
        .running
        .tenant()
        .hosts
        .iter()
        .find(|x| x.device_id == win)
        .expect("host")
        .hostname
        .clone();
    let sid = h.session(&win).await;
    for (tier, base, line, expect) in [
        (
            "command",
            "eventlog view",
            "eventlog view System",
            hostname.as_str(),
        ),
        ("command", "eventlog", "eventlog view System", &hostname),
        ("command", "eventlog list", "eventlog list", "Security"),
        ("command", "reg", "reg query HKLM\\SOFTWARE", "CrowdStrike"),
        (
            "command",
            "reg query",
            "reg query HKLM\\SOFTWARE",
            "CrowdStrike",
        ),
        (
            "active-responder-command",
            "update list",
            "update list",
            "KB",
        ),
        ("active-responder-command", "update", "update list", "KB"),
        (
            "active-responder-command",
            "reg set",
            "reg set HKLM\\x v -Value=1",
            "reg set HKLM\\x v -Value=1: ok",
        ),
    ] {
        let ran = h.run(tier, &sid, base, line).await;
        assert_eq!(
            ran.status,
            StatusCode::CREATED,
            "{base} / {line}: {}",
            ran.body
        );
        let stdout = ran.body["stdout"].as_str().unwrap_or_default();
        assert!(stdout.contains(expect), "{line}: {stdout:?}");
        assert_eq!(ran.body["base_command"], base, "the base command is echoed");
    }

    // The sub-command decides the tier, however the base command names it.
    for base in ["reg", "reg set"] {
        let refused = h.run("command", &sid, base, "reg set HKLM\\x v").await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{base}");
        assert_eq!(message(&refused.body), "invalid base command: reg set");
    }
    let refused = h.run("command", &sid, "update list", "update list").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let bare = h.run("command", &sid, "eventlog", "eventlog").await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert!(
        message(&bare.body).contains("eventlog needs a sub-command: backup, export, list, view"),
        "{}",
        bare.body
    );
    let mismatch = h.run("command", &sid, "reg query", "reg set x").await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let prefix = h.run("command", &sid, "ls", "lsof").await;
    assert_eq!(prefix.status, StatusCode::BAD_REQUEST);

    // Windows-only commands fail on the host, not at the API.
    let linux = h.session(&h.online("Linux")).await;
    let ran = h
        .run("command", &linux, "eventlog", "eventlog view System")
        .await;
    assert_eq!(ran.status, StatusCode::CREATED);
    assert_eq!(ran.body["stdout"], "");
    assert_eq!(
        ran.body["stderr"],
        "eventlog is only available on Windows hosts"
    );
}

#[tokio::test]
async fn batches_report_unknown_and_malformed_hosts_apart_from_offline_ones() {
    let h = demo().await;
    let tenant = h.running.tenant();
    let online = h.online("Windows");
    let offline = tenant
        .hosts
        .iter()
        .find(|x| x.online_state != "online")
        .expect("an offline host")
        .device_id
        .clone();
    let unknown = "f".repeat(32);
    assert!(tenant.hosts.iter().all(|x| x.device_id != unknown));
    let malformed = "wrongAgentId";
    let init = format!("{RTR}/combined/batch-init-session/v1");

    let batch = h
        .post(
            &init,
            &json!({"host_ids": [online, offline, unknown, malformed], "queue_offline": true}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::CREATED, "{}", batch.body);
    let per_host = &batch.body["resources"];
    assert_ne!(per_host[&online]["session_id"], "");
    assert_eq!(per_host[&offline]["offline_queued"], true);
    // Queueing does not apply to a sensor Falcon does not know.
    let lost = &per_host[&unknown];
    assert_eq!(lost["session_id"], "");
    assert_eq!(lost["complete"], false);
    assert_eq!(lost["offline_queued"], false);
    assert_eq!(
        lost["errors"],
        json!([{"code": 404, "message": "Could not find sensor"}])
    );
    assert_eq!(
        per_host[malformed]["errors"],
        json!([{"code": 500,
                "message": "uuid: incorrect UUID length 12 in string \"wrongAgentId\""}])
    );
    assert_eq!(per_host[malformed]["aid"], malformed);

    // Commands run on the hosts that joined; the others are not in the batch.
    let command = json!({"batch_id": batch.body["batch_id"], "base_command": "reg",
                         "command_string": "reg query HKLM\\SOFTWARE"});
    let ran = h
        .post(&format!("{RTR}/combined/batch-command/v1"), &command)
        .await;
    assert_eq!(ran.status, StatusCode::CREATED, "{}", ran.body);
    let results = ran.body["combined"]["resources"]
        .as_object()
        .expect("per host");
    assert!(results.contains_key(&online) && !results.contains_key(&unknown));
    assert_eq!(results[&online]["base_command"], "reg");

    // Only bad hosts: the whole batch fails, each host with its own code.
    let none = h
        .post(&init, &json!({"host_ids": [unknown, offline]}))
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(
        message(&none.body),
        "no successful hosts initialized on RTR"
    );
    assert_eq!(none.body["resources"][&unknown]["errors"][0]["code"], 404);
    assert_eq!(none.body["resources"][&offline]["errors"][0]["code"], 40407);

    let empty = h.post(&init, &json!({"host_ids": []})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&empty.body),
        "Invalid number of hosts in request: 0. Must be an integer greater than 0 and less \
         than or equal to 10000"
    );
    assert_eq!(empty.body["resources"], json!({}));
}

#[tokio::test]
async fn saved_scripts_run_with_quoted_arguments() {
    let h = demo().await;
    let content = "param($Days) Get-ChildItem -Recurse | Select-Object -First $Days";
    let form = [
        ("name", "collect logs.ps1"),
        ("description", "collects logs"),
        ("content", content),
        ("platform", "windows"),
        ("permission_type", "private"),
    ];
    let request = h
        .http
        .post(h.url(&format!("{RTR}/entities/scripts/v1")))
        .form(&form)
        .bearer_auth(&h.token);
    let uploaded = reply(request).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
    let sid = h.session(&h.online("Windows")).await;
    let admin = "admin-command";

    let line = r#"runscript -CloudFile="collect logs.ps1" -CommandLine="-Days 3 -Path 'C:\Temp'""#;
    let ran = h.run(admin, &sid, "runscript", line).await;
    assert_eq!(ran.status, StatusCode::CREATED, "{}", ran.body);
    assert_eq!(ran.body["stderr"], "");
    assert_eq!(
        ran.body["stdout"],
        format!(
            "ran collect logs.ps1 ({} bytes)\narguments: -Days 3 -Path 'C:\\Temp'\n",
            content.len()
        )
    );

    let plain = h
        .run(
            admin,
            &sid,
            "runscript",
            r#"runscript -CloudFile="collect logs.ps1""#,
        )
        .await;
    assert_eq!(
        plain.body["stdout"],
        format!("ran collect logs.ps1 ({} bytes)\n", content.len())
    );
    // Flag names are not case-sensitive; single quotes work too.
    let single = h
        .run(
            admin,
            &sid,
            "runscript",
            "runscript -cloudfile='collect logs.ps1' -Timeout=30",
        )
        .await;
    assert_eq!(single.body["stdout"], plain.body["stdout"]);

    let missing = h
        .run(
            admin,
            &sid,
            "runscript",
            r#"runscript -CloudFile="nope.ps1" -CommandLine="x""#,
        )
        .await;
    assert_eq!(missing.body["stdout"], "");
    assert_eq!(missing.body["stderr"], "cloud file nope.ps1 not found");
    let open = h
        .run(admin, &sid, "runscript", r#"runscript -CloudFile="collect"#)
        .await;
    assert!(
        open.body["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("no closing"),
        "{}",
        open.body
    );
}

// ---- IOCs ---------------------------------------------------------------------------

#[tokio::test]
async fn ioc_updates_apply_platforms_and_host_scoping() {
    let h = demo().await;
    let groups: Vec<String> = h
        .running
        .tenant()
        .host_groups
        .iter()
        .take(2)
        .map(|g| g.id.clone())
        .collect();
    let created = h
        .post(
            IOCS,
            &json!({"indicators": [{"type": "domain", "value": "scoped.emulator.example",
                    "action": "detect", "severity": "low", "platforms": ["windows"],
                    "applied_globally": true}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let update = |change: Value| {
        let mut item = change;
        item["id"] = json!(id);
        json!({"comment": "fidelity", "indicators": [item]})
    };

    // Scoped to two host groups, on two platforms.
    let changed = h
        .patch(
            IOCS,
            &update(json!({"applied_globally": false, "host_groups": groups,
                           "platforms": ["windows", "linux"]})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let stored = h.ioc(&id).await;
    assert_eq!(changed.body["resources"][0], stored);
    assert_eq!(stored["applied_globally"], false);
    assert_eq!(stored["host_groups"], json!(groups));
    assert_eq!(stored["platforms"], json!(["windows", "linux"]));

    // Invalid changes are refused and change nothing.
    let refusals = [
        (
            json!({"applied_globally": true, "host_groups": [groups[0]]}),
            "host_groups cannot be set when applied_globally is true",
        ),
        (
            json!({"host_groups": []}),
            "host_groups is required when applied_globally is false",
        ),
        (
            json!({"host_groups": ["0".repeat(32)]}),
            "invalid host group id",
        ),
        (
            json!({"platforms": ["windows", "solaris"]}),
            "invalid platform: solaris",
        ),
        (
            json!({"applied_globally": "yes"}),
            "applied_globally must be",
        ),
    ];
    for (change, expected) in refusals {
        let refused = h.patch(IOCS, &update(change.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{change}");
        assert!(
            message(&refused.body).contains(expected),
            "{change}: {}",
            refused.body
        );
        assert_eq!(h.ioc(&id).await, stored, "{change} changed the indicator");
    }

    // One bad item rejects the whole request: the good one is not applied.
    let other = h.running.tenant().iocs[0].clone();
    let both = json!({"indicators": [
        {"id": other.id, "severity": "critical"},
        {"id": id, "platforms": ["beos"]},
    ]});
    let refused = h.patch(IOCS, &both).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        message(&refused.body).starts_with(&format!("indicator {id}: invalid platform: beos")),
        "{}",
        refused.body
    );
    assert_eq!(h.ioc(&other.id).await["severity"], other.severity.as_str());

    // Back to every host: the groups go.
    let global = h
        .patch(IOCS, &update(json!({"applied_globally": true})))
        .await;
    assert_eq!(global.status, StatusCode::OK, "{}", global.body);
    let stored = h.ioc(&id).await;
    assert_eq!(stored["applied_globally"], true);
    assert_eq!(stored["host_groups"], json!([]));
    // Groups on a global indicator need applied_globally false with them.
    let refused = h
        .patch(IOCS, &update(json!({"host_groups": [groups[1]]})))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(message(&refused.body).contains("applies to every host"));
    let refused = h
        .patch(IOCS, &update(json!({"applied_globally": false})))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.ioc(&id).await, stored);
}

#[tokio::test]
async fn ioc_creation_checks_scoping_and_platforms() {
    let h = demo().await;
    let group = h.running.tenant().host_groups[0].id.clone();
    let create = |extra: Value| {
        let mut item = json!({"type": "domain", "value": "new.emulator.example",
                              "action": "detect", "platforms": ["mac"]});
        for (k, v) in extra.as_object().expect("object") {
            item[k] = v.clone();
        }
        json!({ "indicators": [item] })
    };
    for (extra, expected) in [
        (json!({}), "applied_globally or host_groups is required"),
        (
            json!({"applied_globally": true, "host_groups": [group]}),
            "host_groups cannot be set when applied_globally is true",
        ),
        (
            json!({"host_groups": ["0".repeat(32)]}),
            "invalid host group id",
        ),
        (
            json!({"applied_globally": true, "platforms": ["Mac"]}),
            "invalid platform: Mac",
        ),
    ] {
        let refused = h.post(IOCS, &create(extra.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{extra}");
        assert!(
            message(&refused.body).contains(expected),
            "{}",
            refused.body
        );
    }
    let made = h.post(IOCS, &create(json!({"host_groups": [group]}))).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["resources"][0]["id"].as_str().expect("id");
    let stored = h.ioc(id).await;
    assert_eq!(stored["applied_globally"], false);
    assert_eq!(stored["host_groups"], json!([group]));
    assert_eq!(stored["platforms"], json!(["mac"]));
}

// ---- incidents ----------------------------------------------------------------------

#[tokio::test]
async fn incident_comments_are_accepted_but_not_part_of_the_incident() {
    let h = demo().await;
    let incident = h.running.tenant().incidents[0].incident_id.clone();
    let get = "/incidents/entities/incidents/GET/v1";
    let before = h.post(get, &json!({ "ids": [incident] })).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let acted = h
        .post(
            "/incidents/entities/incident-actions/v1",
            &json!({"ids": [incident],
                    "action_parameters": [{"name": "add_comment", "value": "seen by IR"}]}),
        )
        .await;
    assert_eq!(acted.status, StatusCode::OK, "{}", acted.body);
    let after = h.post(get, &json!({ "ids": [incident] })).await;
    let (mut old, mut new) = (
        before.body["resources"][0].clone(),
        after.body["resources"][0].clone(),
    );
    // `domain.Incident` has no comments field: only the change time moves.
    assert!(new.get("comments").is_none(), "{new}");
    assert!(!new.to_string().contains("seen by IR"));
    assert_ne!(old["modified_timestamp"], new["modified_timestamp"]);
    old["modified_timestamp"] = Value::Null;
    new["modified_timestamp"] = Value::Null;
    assert_eq!(old, new);
}
