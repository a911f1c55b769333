//! End-to-end tests of notifications: the real `host` binary runs the
//! `notify-probe` plugin, built from source, against receivers this test
//! starts on 127.0.0.1: an HTTP server that records every request (Slack,
//! the signed webhook, Jira) and answers as scripted, and a real SMTP server
//! (aiosmtpd from `.venv`, see `tests/smtp_server.py`) that offers STARTTLS
//! with a certificate from a private CA made here with `openssl`.
//!
//! Every secret is a distinctive canary; [`assert_no_canary`] checks that
//! none of them reaches the output, the audit log or a report.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::{HostRun, root, run_host, test_plugin};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The last part of the Slack webhook URL: the credential.
const SLACK_TOKEN: &str = "slackCanary7Hq2ZxT9w";
const HMAC_SECRET: &str = "hmacCanary4Rt8LpW3v";
const JIRA_TOKEN: &str = "jiraCanary9Kd3MvB6u";
const SMTP_PASSWORD: &str = "smtpCanary2Yx5NcQ8t";
const SNOW_PASSWORD: &str = "snowCanary6Fw1JhZ4s";
const SNOW_USER: &str = "falcon.integration";
const SMTP_USER: &str = "falcon-bot";
const JIRA_EMAIL: &str = "bot@example.com";

/// Every scope the probe requests.
const ALL: &str = "notify:chat,notify:soar,notify:jira-sec,notify:snow,notify:mail";

/// One request the HTTP receiver got.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} sent a body that is not JSON: {e}", self.path))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// An answer the receiver gives, in the order scripted.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    /// Scripted answers per path; once a path's script is empty, the usual
    /// answer of the service.
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
}

/// An HTTP server on 127.0.0.1 that records requests.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared::default());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            shared,
            _runtime: runtime,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .script
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    fn to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn record(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    shared.requests.lock().unwrap().push(Request {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let scripted = shared
        .script
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front);
    // What each service answers when it accepts the request.
    let reply = scripted.unwrap_or_else(|| {
        if path == "/rest/api/3/issue" {
            Reply::status(
                201,
                r#"{"id":"10042","key":"SEC-42","self":"http://127.0.0.1/rest/api/3/issue/10042"}"#,
            )
        } else if path == "/api/now/table/incident" {
            Reply::status(
                201,
                r#"{"result":{"number":"INC0010001","sys_id":"9d385017c611228701d22104cc95c371"}}"#,
            )
        } else if path.starts_with("/services/") {
            Reply::status(200, "ok")
        } else {
            Reply::status(200, "{}")
        }
    });
    let mut response = axum::response::Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(axum::body::Body::from(reply.body)).unwrap()
}

/// A private CA and a certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl makes the test certificates; install it (Debian: openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=notify test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// aiosmtpd with STARTTLS and AUTH, recording mail to a file.
struct Smtp {
    port: u16,
    child: Child,
    output: PathBuf,
    ca: PathBuf,
}

impl Smtp {
    fn start(dir: &Path) -> Self {
        let python = root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `./dev setup` to create .venv with aiosmtpd",
            python.display()
        );
        let (ca, cert, key) = make_certificates(dir);
        let output = dir.join("mail.jsonl");
        // aiosmtpd warns about its own use of a deprecated attribute.
        let mut child = Command::new(python)
            .args(["-W", "ignore::DeprecationWarning"])
            .arg(root().join("tests/smtp_server.py"))
            .args([&cert, &key, &output])
            .env("SMTP_TEST_USER", SMTP_USER)
            .env("SMTP_TEST_PASSWORD", SMTP_PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        Self {
            port,
            child,
            output,
            ca,
        }
    }

    fn mails(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's receivers, config file and audit log.
struct Setup {
    dir: PathBuf,
    http: Receiver,
    smtp: Option<Smtp>,
    config: PathBuf,
    audit: PathBuf,
}

fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("e2e-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Setup {
    /// Receivers and a config with every destination; `soar_extra` adds
    /// lines to the webhook's table and `chat_extra` to Slack's.
    fn new(name: &str, with_smtp: bool, soar_extra: &str, chat_extra: &str) -> Self {
        let dir = scratch(&format!("notify-{name}"));
        let http = Receiver::start();
        let smtp = with_smtp.then(|| Smtp::start(&dir));
        let token_file = dir.join("jira-token");
        std::fs::write(&token_file, format!("{JIRA_TOKEN}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mail = match &smtp {
            Some(smtp) => format!(
                "port = {}\nca_file = \"{}\"\n",
                smtp.port,
                smtp.ca.display()
            ),
            // Nothing listens there; these tests never reach it.
            None => "port = 9\n".to_owned(),
        };
        let config = format!(
            "[notify.chat]\nkind = \"slack\"\nurl_env = \"TEST_SLACK_WEBHOOK\"\n{chat_extra}\n\
             [notify.soar]\nkind = \"webhook\"\nurl = \"{soar}\"\nsecret_env = \"TEST_SOAR_SECRET\"\n\
             {soar_extra}\n\
             [notify.jira-sec]\nkind = \"jira\"\nurl = \"{jira}\"\nemail = \"{JIRA_EMAIL}\"\n\
             token_file = \"{token}\"\nproject = \"SEC\"\n\n\
             [notify.snow]\nkind = \"servicenow\"\nurl = \"{jira}\"\nusername = \"{SNOW_USER}\"\n\
             password_env = \"TEST_SNOW_PASSWORD\"\n\n\
             [notify.mail]\nkind = \"email\"\nserver = \"127.0.0.1\"\n{mail}\
             username = \"{SMTP_USER}\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n\
             from = \"Falcon host <falcon@example.com>\"\n\
             to = [\"soc@example.com\", \"oncall@example.com\"]\n\n\
             [notify.pager]\nkind = \"webhook\"\nurl = \"{pager}\"\nsecret_env = \"TEST_SOAR_SECRET\"\n",
            soar = http.url("/hooks/soar"),
            jira = http.url(""),
            token = token_file.display(),
            pager = http.url("/hooks/pager"),
        );
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let audit = dir.join("audit.jsonl");
        Self {
            dir,
            http,
            smtp,
            config: config_path,
            audit,
        }
    }

    fn slack_path() -> String {
        format!("/services/T0001/B0001/{SLACK_TOKEN}")
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_SLACK_WEBHOOK", self.http.url(&Self::slack_path())),
            ("TEST_SOAR_SECRET", HMAC_SECRET.to_owned()),
            ("TEST_SMTP_PASSWORD", SMTP_PASSWORD.to_owned()),
            ("TEST_SNOW_PASSWORD", SNOW_PASSWORD.to_owned()),
        ]
    }

    fn host(&self, args: &[&str]) -> HostRun {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        run_host(&all, &env)
    }

    /// Runs the probe with these sends and extra flags.
    fn run(&self, sends: Value, flags: &[&str]) -> HostRun {
        let plugin = test_plugin("notify-probe");
        let input = json!({ "sends": sends }).to_string();
        let mut args = vec![
            "run",
            plugin.to_str().unwrap(),
            "--demo",
            "--no-cache",
            "--input",
            &input,
            "--audit-log",
            self.audit.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        self.host(&args)
    }

    fn audit_lines(&self, event: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["event"] == event)
            .collect()
    }

    fn mails(&self) -> Vec<Value> {
        self.smtp.as_ref().map(Smtp::mails).unwrap_or_default()
    }
}

fn answers(run: &HostRun) -> Vec<Value> {
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}): {}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    });
    report["answers"].as_array().unwrap().clone()
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in [
        SLACK_TOKEN,
        HMAC_SECRET,
        JIRA_TOKEN,
        SMTP_PASSWORD,
        SNOW_PASSWORD,
    ] {
        assert!(
            !text.contains(canary),
            "{what} holds the secret {canary}:\n{text}"
        );
    }
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
    assert!(
        !text.contains(&basic),
        "{what} holds the Jira basic auth:\n{text}"
    );
}

fn assert_run_has_no_canary(setup: &Setup, run: &HostRun) {
    assert_no_canary("stdout", &run.stdout);
    assert_no_canary("stderr", &run.stderr);
    assert_no_canary(
        "the audit log",
        &std::fs::read_to_string(&setup.audit).unwrap_or_default(),
    );
}

/// The webhook's signature, recomputed from the secret the test knows.
fn assert_signed(request: &Request) {
    let timestamp: i64 = request
        .header("x-falcon-timestamp")
        .parse()
        .expect("a numeric X-Falcon-Timestamp");
    let now = jiff::Timestamp::now().as_second();
    assert!(
        (now - timestamp).abs() < 300,
        "timestamp {timestamp} is not now ({now})"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&request.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        request.header("x-falcon-signature"),
        format!("sha256={hex}")
    );
}

fn message(to: &str, title: &str, markdown: &str, severity: &str, blocks: bool) -> Value {
    json!({ "op": "message", "to": to, "title": title, "markdown": markdown,
            "severity": severity, "blocks": blocks })
}

fn ticket() -> Value {
    json!({
        "op": "ticket", "to": "jira-sec", "summary": "Offboard ana@example.com",
        "markdown": "# Offboarding\n\n- **web-01** contained\n- [runbook](https://wiki.example.com/r)",
        "priority": "high", "labels": ["falcon", "offboarding"], "adf": true,
    })
}

fn email(recipients: &[&str]) -> Value {
    json!({
        "op": "email", "to": "mail", "subject": "Weekly access audit",
        "markdown": "## 3 findings\n\n- **ana** has not logged in for 120 days",
        "recipients": recipients, "html": true,
    })
}

#[test]
fn each_kind_is_delivered_with_its_content_and_no_secret_leaks() {
    let setup = Setup::new("kinds", true, "", "");
    let run = setup.run(
        json!([
            message(
                "chat",
                "2 hosts contained",
                "**web-01** and **web-02**",
                "high",
                true
            ),
            message("soar", "Contained", "web-01 at 10:00", "critical", false),
            ticket(),
            email(&["soc@example.com"]),
            email(&["attacker@example.net"]),
            json!({ "op": "ticket", "to": "snow", "summary": "Contained web-01",
                    "markdown": "web-01 was **contained**.", "priority": "highest",
                    "labels": ["falcon"] }),
        ]),
        // The most verbose logs are searched for the canaries too.
        &["--grant", ALL, "-vv"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answers = answers(&run);
    assert_eq!(answers[0]["ok"], "sent", "{answers:?}");
    assert_eq!(answers[1]["ok"], "sent", "{answers:?}");
    assert_eq!(answers[2]["ok"], json!({ "key": "SEC-42", "id": "10042" }));
    assert_eq!(answers[3]["ok"], "sent", "{answers:?}");

    // Slack: the plugin's blocks, and the notification text.
    let slack = setup.http.to(&Setup::slack_path());
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].method, "POST");
    let body = slack[0].json();
    assert_eq!(body["text"], "2 hosts contained\n*web-01* and *web-02*");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["blocks"][0]["text"]["text"], "2 hosts contained");
    assert_eq!(body["blocks"][1]["fields"][0]["text"], "*Severity*\nhigh");
    assert_eq!(body["blocks"][2]["text"]["text"], "*web-01* and *web-02*");

    // The webhook: signed, with an idempotency key and the message.
    let hooks = setup.http.to("/hooks/soar");
    assert_eq!(hooks.len(), 1);
    assert_signed(&hooks[0]);
    let key = hooks[0].header("idempotency-key");
    assert!(
        key.len() == 32 && key.chars().all(|c| c.is_ascii_hexdigit()),
        "{key}"
    );
    let body = hooks[0].json();
    assert_eq!(
        (&body["type"], &body["destination"], &body["plugin"]),
        (&json!("message"), &json!("soar"), &json!("notify-probe"))
    );
    assert_eq!(
        (&body["title"], &body["severity"]),
        (&json!("Contained"), &json!("critical"))
    );
    assert_eq!(body["text"], "web-01 at 10:00");
    assert_eq!(body["blocks"], Value::Null);

    // Jira: basic auth of the account and token, the fields, ADF.
    let issues = setup.http.to("/rest/api/3/issue");
    assert_eq!(issues.len(), 1);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}"));
    assert_eq!(issues[0].header("authorization"), format!("Basic {basic}"));
    let fields = &issues[0].json()["fields"];
    assert_eq!(fields["project"]["key"], "SEC");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_eq!(fields["summary"], "Offboard ana@example.com");
    assert_eq!(fields["priority"]["name"], "High");
    assert_eq!(fields["labels"], json!(["falcon", "offboarding"]));
    let description = &fields["description"];
    assert_eq!(
        (&description["type"], &description["version"]),
        (&json!("doc"), &json!(1))
    );
    assert_eq!(description["content"][0]["type"], "heading");
    assert_eq!(
        description["content"][0]["content"][0]["text"],
        "Offboarding"
    );
    let item = &description["content"][1]["content"][0]["content"][0]["content"][0];
    assert_eq!(
        (&item["text"], &item["marks"][0]["type"]),
        (&json!("web-01"), &json!("strong"))
    );

    // ServiceNow: basic auth of the integration user, impact and urgency.
    assert_eq!(
        answers[5]["ok"],
        json!({ "key": "INC0010001", "id": "9d385017c611228701d22104cc95c371" })
    );
    let incidents = setup.http.to("/api/now/table/incident");
    assert_eq!(incidents.len(), 1);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{SNOW_USER}:{SNOW_PASSWORD}"));
    assert_eq!(
        incidents[0].header("authorization"),
        format!("Basic {basic}")
    );
    assert_eq!(
        incidents[0].json(),
        json!({ "short_description": "Contained web-01",
                "description": "web-01 was contained.\n\nLabels: falcon",
                "impact": "1", "urgency": "1" })
    );

    // Email: over STARTTLS, logged in, to the chosen recipient only, with
    // both parts.
    let mails = setup.mails();
    assert_eq!(
        mails.len(),
        1,
        "the refused recipient got nothing: {mails:?}"
    );
    let mail = &mails[0];
    assert_eq!(
        (&mail["tls"], &mail["authenticated"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(mail["rcpt_tos"], json!(["soc@example.com"]));
    assert_eq!(mail["mail_from"], "falcon@example.com");
    assert_eq!(mail["subject"], "Weekly access audit");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(
        // SMTP carries lines ending in CRLF.
        parts[0]["content"]
            .as_str()
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "3 findings\n\n- ana has not logged in for 120 days"
    );
    assert_eq!(parts[1]["type"], "text/html");
    let html = parts[1]["content"].as_str().unwrap();
    assert!(
        html.contains("<li><strong>ana</strong> has not logged in for 120 days</li>"),
        "{html}"
    );

    // A recipient the operator did not configure is refused by name.
    assert_eq!(answers[4]["error"]["kind"], "invalid-input", "{answers:?}");
    let refused = answers[4]["error"]["message"].as_str().unwrap();
    assert!(
        refused.contains("\"attacker@example.net\" is not a recipient of destination `mail`"),
        "{refused}"
    );

    // The audit log: one `notify` line per send, with its size and status.
    let notified = setup.audit_lines("notify");
    let summary: Vec<(String, String, String)> = notified
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
            (s("destination"), s("kind"), s("status"))
        })
        .collect();
    let expected = [
        ("chat", "slack", "sent"),
        ("soar", "webhook", "sent"),
        ("jira-sec", "jira", "sent"),
        ("mail", "email", "sent"),
        ("mail", "email", "invalid-input"),
        ("snow", "servicenow", "sent"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(
        notified[1]["bytes"].as_u64().unwrap() as usize,
        hooks[0].body.len()
    );
    assert_eq!(notified[0]["attempts"], 1);
    assert_eq!(notified[3]["reply"], 250);

    // The canary search: outputs, audit log, config and inspect reports.
    assert_run_has_no_canary(&setup, &run);
    let shown = setup.host(&["config", "show"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown
            .stdout
            .contains("slack, url from environment (TEST_SLACK_WEBHOOK)"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains("jira, site in the file, token from file"),
        "{}",
        shown.stdout
    );
    assert_no_canary("config show", &format!("{}{}", shown.stdout, shown.stderr));
    let shown = setup.host(&["config", "show", "--json"]);
    assert_no_canary("config show --json", &shown.stdout);
    let verified = setup.host(&["audit", "verify", setup.audit.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
}

#[test]
fn a_plugin_without_the_grant_is_denied_with_a_teaching_message_and_nothing_is_sent() {
    let setup = Setup::new("denied", false, "", "");

    // `pager` is configured but the probe never requested it: the call is
    // denied and the message names the scope and the flag.
    let run = setup.run(
        json!([message("pager", "Wake up", "now", "critical", false)]),
        &["--grant", ALL],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let error = &answers(&run)[0]["error"];
    assert_eq!(error["kind"], "not-granted", "{error}");
    assert_eq!(error["detail"]["scope"], "notify:pager");
    let remedy = error["detail"]["remedy"].as_str().unwrap();
    assert!(
        remedy.contains(
            "add `notify:pager` (or `notify:*`) to the plugin's requested scopes and run with \
             `--grant notify:pager`"
        ),
        "{remedy}"
    );
    let calls = setup.audit_lines("call");
    assert_eq!(calls[0]["decision"], "denied");
    assert_eq!(calls[0]["scope"], "notify:pager");
    assert_eq!(calls[0]["operation"], "notify.send-message pager");

    // A requested destination that is not granted stops the run before the
    // plugin starts, with the flag and the grants-file line.
    let run = setup.run(
        json!([message("chat", "Hello", "x", "info", false)]),
        &[
            "--grant",
            "notify:chat,notify:soar,notify:jira-sec,notify:snow",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("notify:mail"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("send to the notification destination `mail`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("run again with: --grant notify:mail"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "scopes = [\"notify:chat\", \"notify:jira-sec\", \"notify:mail\", \"notify:snow\", \
             \"notify:soar\"]"
        ),
        "{}",
        run.stderr
    );
    assert!(
        setup.http.requests().is_empty(),
        "{:?}",
        setup.http.requests()
    );
    assert_run_has_no_canary(&setup, &run);
}

#[test]
fn grants_files_inspect_and_the_least_privilege_report_know_notify_scopes() {
    let setup = Setup::new("grants", false, "", "");
    let plugin = test_plugin("notify-probe");
    let digest: String = Sha256::digest(std::fs::read(&plugin).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let grants = setup.dir.join("grants.toml");
    std::fs::write(
        &grants,
        format!(
            "[notify-probe]\nsha256 = \"{digest}\"\n\
             scopes = [\"notify:chat\", \"notify:jira-sec\", \"notify:mail\", \"notify:snow\", \
             \"notify:soar\"]\n"
        ),
    )
    .unwrap();
    let grants = grants.to_str().unwrap();

    let run = setup.run(
        json!([message("chat", "From the grants file", "ok", "low", false)]),
        &["--grants", grants],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(answers(&run)[0]["ok"], "sent");
    assert_eq!(setup.http.to(&Setup::slack_path()).len(), 1);
    assert!(
        run.stderr.contains(
            "host: scopes granted: notify:chat, notify:jira-sec, notify:mail, notify:snow, \
                 notify:soar; used: notify:chat"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("minimal grant for this run: --grant notify:chat"),
        "{}",
        run.stderr
    );

    let inspect = setup.host(&["inspect", plugin.to_str().unwrap(), "--grants", grants]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let row = inspect
        .stdout
        .lines()
        .find(|l| l.contains("notify:mail"))
        .unwrap_or_else(|| panic!("{}", inspect.stdout));
    assert!(
        row.contains("write") && row.contains(" none ") && row.contains("granted"),
        "{row}"
    );
    assert!(
        inspect.stdout.contains("falcon:plugin/notify@0.1.0"),
        "{}",
        inspect.stdout
    );
}

#[test]
fn an_unknown_destination_is_a_typed_error_naming_the_usable_ones() {
    let setup = Setup::new("unknown", false, "", "");
    let run = setup.run(
        json!([message("nowhere", "Hello", "x", "info", false)]),
        &["--grant", ALL],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let error = &answers(&run)[0]["error"];
    assert_eq!(error["kind"], "invalid-input", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(
            "there is no notification destination `nowhere`; this plugin may use `chat`, \
             `jira-sec`, `mail`, `snow`, `soar`"
        ),
        "{message}"
    );
    assert!(
        !message.contains("pager"),
        "only granted destinations are named: {message}"
    );
    assert!(setup.http.requests().is_empty());
    let notified = setup.audit_lines("notify");
    assert_eq!(notified.len(), 1);
    assert_eq!(
        (&notified[0]["destination"], &notified[0]["status"]),
        (&json!("nowhere"), &json!("invalid-input"))
    );
}

#[test]
fn retries_honour_retry_after_and_keep_the_idempotency_key() {
    let setup = Setup::new("retries", false, "", "");
    setup.http.script(
        "/hooks/soar",
        [
            Reply::status(503, "maintenance"),
            Reply {
                status: 429,
                headers: vec![("retry-after", "1".to_owned())],
                body: "slow down".into(),
            },
        ],
    );
    // Slack has no idempotency key, but a 503 says nothing was posted.
    setup
        .http
        .script(&Setup::slack_path(), [Reply::status(503, "")]);
    let run = setup.run(
        json!([
            message("soar", "Retried", "x", "medium", false),
            message("chat", "Retried too", "y", "medium", false),
        ]),
        &["--grant", ALL],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answers = answers(&run);
    assert_eq!(answers[0]["ok"], "sent", "{answers:?}");
    assert_eq!(answers[1]["ok"], "sent", "{answers:?}");

    let hooks = setup.http.to("/hooks/soar");
    assert_eq!(hooks.len(), 3, "503, 429, then delivered once");
    let key = hooks[0].header("idempotency-key");
    assert!(!key.is_empty());
    for hook in &hooks {
        assert_eq!(
            hook.header("idempotency-key"),
            key,
            "one key for every attempt"
        );
        assert_eq!(hook.body, hooks[0].body);
        assert_signed(hook);
    }
    let waited = hooks[2].at.duration_since(hooks[1].at);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured: {waited:?}"
    );
    assert_eq!(setup.http.to(&Setup::slack_path()).len(), 2);

    let notified = setup.audit_lines("notify");
    assert_eq!(
        (&notified[0]["attempts"], &notified[0]["status"]),
        (&json!(3), &json!("sent"))
    );
    assert_eq!(notified[1]["attempts"], 2);
}

#[test]
fn a_delivery_that_keeps_failing_is_a_typed_error_audited_without_secrets() {
    let setup = Setup::new("failing", false, "max_attempts = 3\n", "");
    setup.http.script(
        "/hooks/soar",
        (0..5).map(|_| Reply::status(500, "upstream exploded")),
    );
    // Slack answers 500 quoting the webhook URL: the host must not repeat a
    // post that may have landed, nor the URL.
    let echo = format!("no_service for {}", setup.http.url(&Setup::slack_path()));
    setup
        .http
        .script(&Setup::slack_path(), [Reply::status(500, &echo)]);
    let run = setup.run(
        json!([
            message("soar", "Doomed", "x", "high", false),
            message("chat", "Doomed too", "y", "high", false),
        ]),
        &["--grant", ALL],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answers = answers(&run);

    let error = &answers[0]["error"];
    assert_eq!(error["kind"], "delivery-failed", "{error}");
    assert_eq!(
        error["detail"],
        json!({ "status": 500, "attempts": 3, "destination": "soar" })
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("HTTP 500: upstream exploded"), "{message}");
    assert_eq!(setup.http.to("/hooks/soar").len(), 3);

    let error = &answers[1]["error"];
    assert_eq!(error["kind"], "delivery-failed", "{error}");
    assert_eq!(
        error["detail"]["attempts"], 1,
        "a Slack post is not replayed after a 500"
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("no_service for ***"), "{message}");
    assert_eq!(setup.http.to(&Setup::slack_path()).len(), 1);

    let notified = setup.audit_lines("notify");
    assert_eq!(
        (
            &notified[0]["status"],
            &notified[0]["attempts"],
            &notified[0]["reply"]
        ),
        (&json!("delivery-failed"), &json!(3), &json!(500))
    );
    assert_eq!(notified[1]["status"], "delivery-failed");
    let calls = setup.audit_lines("call");
    assert!(
        calls.iter().any(|c| c["status"] == "delivery-failed"),
        "{calls:?}"
    );
    assert_run_has_no_canary(&setup, &run);
}

#[test]
fn the_rate_limit_of_a_destination_refuses_the_send_past_it() {
    let setup = Setup::new("rate", false, "max_per_minute = 2\n", "");
    let run = setup.run(
        json!([
            message("soar", "one", "x", "low", false),
            message("soar", "two", "x", "low", false),
            message("soar", "three", "x", "low", false),
        ]),
        &["--grant", ALL],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answers = answers(&run);
    assert_eq!(
        (&answers[0]["ok"], &answers[1]["ok"]),
        (&json!("sent"), &json!("sent"))
    );
    assert_eq!(answers[2]["error"]["kind"], "rate-limited", "{answers:?}");
    let wait = answers[2]["error"]["detail"]["retry_after_ms"]
        .as_u64()
        .unwrap();
    assert!((20_000..=30_000).contains(&wait), "{wait}");
    assert_eq!(setup.http.to("/hooks/soar").len(), 2);
}

#[test]
fn a_dry_run_prints_what_would_be_sent_and_the_receivers_get_nothing() {
    let setup = Setup::new("dry-run", true, "", "");
    let run = setup.run(
        json!([
            message("chat", "2 hosts contained", "**web-01**", "high", false),
            message("soar", "Contained", "web-01", "critical", false),
            ticket(),
            email(&["oncall@example.com"]),
        ]),
        &["--grant", ALL, "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for answer in answers(&run) {
        assert_eq!(answer["error"]["kind"], "dry-run", "{answer}");
    }
    let plan = run
        .stderr
        .split("host: dry run: nothing was changed; the plugin would have made 4 writes:")
        .nth(1)
        .unwrap_or_else(|| panic!("no plan: {}", run.stderr));
    for expected in [
        "notify.send-message chat (write) on 1 destination:",
        "note: Slack message \"2 hosts contained\" (severity high, 3 blocks)",
        "notify.send-message soar (write)",
        "note: webhook message \"Contained\" (severity critical)",
        "notify.create-ticket jira-sec (write)",
        "note: Jira Task in SEC: \"Offboard ana@example.com\" (priority High, labels falcon, offboarding)",
        "notify.send-email mail (write)",
        "note: email \"Weekly access audit\" to oncall@example.com (plain text and HTML)",
    ] {
        assert!(
            plan.contains(expected),
            "missing `{expected}` in the plan:\n{plan}"
        );
    }
    assert!(
        setup.http.requests().is_empty(),
        "{:?}",
        setup.http.requests()
    );
    assert!(setup.mails().is_empty());
    let notified = setup.audit_lines("notify");
    assert_eq!(notified.len(), 4);
    let slack_note = format!("3 blocks), {} bytes", notified[0]["bytes"]);
    assert!(plan.contains(&slack_note), "{slack_note}: {plan}");
    assert!(
        notified
            .iter()
            .all(|l| l["status"] == "dry-run" && l["bytes"].as_u64() > Some(0))
    );
    assert_run_has_no_canary(&setup, &run);
}
