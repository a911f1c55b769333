//! Hostile plugins (`tests/hostile/plugins/`), one test each. The real host
//! runs each one against the emulator on loopback, and the test asserts the
//! exact outcome: the exit code and message, every request the emulator
//! received (a recording layer sees them all), that the client secret
//! appears in no output and no audit line, and how the audit log recorded
//! the run, its calls and its end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{HostRun, hostile_plugin, run_host};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};
use serde_json::{Value, json};
use sha2::Digest as _;

/// One HTTP request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    path: String,
    query: String,
}

/// An emulated tenant on loopback whose every request is recorded, and a
/// scratch directory for the audit logs of the runs against it.
struct Lab {
    name: String,
    emulator: Emulator,
    client: ApiClient,
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dir: PathBuf,
    runs: AtomicUsize,
    /// Serves the emulator until the lab is dropped.
    _runtime: tokio::runtime::Runtime,
}

impl Lab {
    /// A small demo-like tenant for the test named `name`.
    fn new(name: &str) -> Self {
        Self::with(
            name,
            &TenantSpec {
                users: 12,
                hosts: 10,
                ..TenantSpec::demo()
            },
        )
    }

    fn with(name: &str, spec: &TenantSpec) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = ApiClient::full_access();
        let emulator = Emulator::new(Tenant::generate(spec), EmulatorConfig::default());
        emulator.add_client(client.clone());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let app = emulator.router().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let uri = request.uri();
                recorder.lock().unwrap().push(Seen {
                    method: request.method().to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or_default().to_owned(),
                });
                next.run(request)
            },
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let base_url = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let service = app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, service)
                    .with_graceful_shutdown(async {
                        stopped.await.ok();
                    })
                    .await
            });
            format!("http://{addr}")
        });
        let dir = e2e::root()
            .join("target")
            .join("e2e-scratch")
            .join("hostile")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            name: name.to_owned(),
            emulator,
            client,
            base_url,
            seen,
            stop: Some(stop),
            dir,
            runs: AtomicUsize::new(0),
            _runtime: runtime,
        }
    }

    fn tenant(&self) -> Tenant {
        self.emulator.tenant()
    }

    /// A fresh directory in this test's scratch space.
    fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs the hostile plugin `plugin` with `extra` arguments, its own
    /// audit log and the operator's credentials in the environment.
    fn run(&self, plugin: &str, extra: &[&str]) -> Outcome {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let log = self.dir.join(format!("audit-{n}.jsonl"));
        let path = hostile_plugin(plugin);
        let args = [
            &[
                "run",
                path.to_str().unwrap(),
                "--audit-log",
                log.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        let env = [
            ("FALCON_CLIENT_ID", self.client.client_id.as_str()),
            ("FALCON_CLIENT_SECRET", self.client.client_secret.as_str()),
            ("FALCON_CLOUD", self.base_url.as_str()),
        ];
        // Built before the clock starts: the time is the run's alone.
        e2e::host_bin();
        self.seen.lock().unwrap().clear();
        let started = Instant::now();
        let run = run_host(&args, &env);
        let elapsed = started.elapsed();
        let audit_text = std::fs::read_to_string(&log).unwrap_or_default();
        let secret = &self.client.client_secret;
        for (place, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("audit log", &audit_text),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{plugin} ({}): the client secret reached the {place}",
                self.name
            );
        }
        let all = self.seen.lock().unwrap().clone();
        Outcome {
            plugin: plugin.to_owned(),
            run,
            audit: audit_text
                .lines()
                .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
                .collect(),
            log,
            api: all
                .iter()
                .filter(|r| !r.path.starts_with("/oauth2/"))
                .cloned()
                .collect(),
            all,
            elapsed,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What one run of a hostile plugin did.
struct Outcome {
    plugin: String,
    run: HostRun,
    audit: Vec<Value>,
    log: PathBuf,
    /// API requests (everything but `/oauth2/`) the emulator received.
    api: Vec<Seen>,
    /// Every request, token requests included.
    all: Vec<Seen>,
    elapsed: Duration,
}

impl Outcome {
    /// The exit code, the run's end in the audit log, and an intact chain.
    #[track_caller]
    fn ended(&self, code: i32, outcome: &str) -> &Self {
        let plugin = &self.plugin;
        assert_eq!(
            self.run.code, code,
            "{plugin}: exit code\nstdout:\n{}\nstderr:\n{}",
            self.run.stdout, self.run.stderr
        );
        let first = self.audit.first().expect("the run is audited");
        assert_eq!(first["event"], "run-start", "{plugin}: {first}");
        let last = self.audit.last().unwrap();
        assert_eq!(last["event"], "run-end", "{plugin}: {last}");
        assert_eq!(last["outcome"], outcome, "{plugin}: {last}");
        assert_eq!(last["exit"], code, "{plugin}: {last}");
        for record in &self.audit {
            assert_eq!(record["digest"].as_str().unwrap().len(), 64, "{record}");
        }
        self.verified();
        self
    }

    /// `host audit verify` finds the log's chain intact.
    #[track_caller]
    fn verified(&self) {
        let verify = run_host(&["audit", "verify", self.log.to_str().unwrap()], &[]);
        assert_eq!(
            verify.code, 0,
            "{}: the audit log does not verify:\n{}{}",
            self.plugin, verify.stdout, verify.stderr
        );
    }

    /// The error line the host printed, whole.
    #[track_caller]
    fn says(&self, line: &str) -> &Self {
        assert!(
            self.run.stderr.lines().any(|l| l == line),
            "{}: expected the line {line:?} in:\n{}",
            self.plugin,
            self.run.stderr
        );
        self
    }

    #[track_caller]
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.run.stderr.contains(needle),
            "{}: expected {needle:?} in:\n{}",
            self.plugin,
            self.run.stderr
        );
        self
    }

    /// No API request reached the emulator (the token and its revocation
    /// are the host's own).
    #[track_caller]
    fn sent_nothing(&self) -> &Self {
        assert_eq!(
            self.api,
            [],
            "{}: requests reached the emulator",
            self.plugin
        );
        self
    }

    /// The plugin's report on stdout.
    #[track_caller]
    fn report(&self) -> Value {
        serde_json::from_str(&self.run.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: the report is not JSON ({e}):\n{}\nstderr:\n{}",
                self.plugin, self.run.stdout, self.run.stderr
            )
        })
    }

    /// The `call` records of the audit log: operation, decision, status.
    fn calls(&self) -> Vec<(String, String, String)> {
        self.audit
            .iter()
            .filter(|r| r["event"] == "call")
            .map(|r| {
                let field = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                (field("operation"), field("decision"), field("status"))
            })
            .collect()
    }

    /// The run-end record's count of `field` (`calls`, `denials`).
    fn ended_with(&self, field: &str) -> u64 {
        self.audit.last().unwrap()[field].as_u64().unwrap()
    }
}

/// `n` copies of a call record.
fn times(n: usize, op: &str, decision: &str, status: &str) -> Vec<(String, String, String)> {
    vec![(op.into(), decision.into(), status.into()); n]
}

/// The error of a host call as the plugin reported it.
#[track_caller]
fn error(answer: &Value) -> (&str, &str) {
    let error = &answer["error"];
    assert!(error.is_object(), "expected an error, got {answer}");
    (
        error["kind"].as_str().unwrap(),
        error["message"].as_str().unwrap(),
    )
}

/// Every answer of a `{"<try>": <answer>}` report is `invalid-input`, with
/// the message the table gives (a substring) for each try.
#[track_caller]
fn all_invalid(report: &Value, expected: &[(&str, &str)]) {
    let answers = report.as_object().unwrap();
    assert_eq!(answers.len(), expected.len(), "{report:#}");
    for (try_, needle) in expected {
        let answer = answers
            .get(*try_)
            .unwrap_or_else(|| panic!("no answer for {try_:?} in {report:#}"));
        let (kind, message) = error(answer);
        assert_eq!(kind, "invalid-input", "{try_}: {message}");
        assert!(
            message.contains(needle),
            "{try_}: {message:?} lacks {needle:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The WASI sandbox: no files, no environment, no network.

#[test]
fn read_files_finds_no_file_system() {
    let lab = Lab::new("read-files");
    let out = lab.run("read-files", &[]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({
            "passwd": "denied: NotFound",
            "environ": "denied: NotFound",
            "root_dir": "denied: NotFound",
            "metadata": "denied: NotFound",
        })
    );
    assert_eq!(out.calls(), []);
}

#[test]
fn read_relative_cannot_climb_out_with_dotdot() {
    let lab = Lab::new("read-relative");
    let out = lab.run("read-relative", &[]);
    out.ended(0, "ok").sent_nothing();
    // The host runs in the workspace root, where Cargo.toml exists: the
    // plugin's working directory is not the host's.
    assert!(e2e::root().join("Cargo.toml").exists());
    assert_eq!(
        out.report(),
        json!({
            "cargo_toml": "denied: NotFound",
            "dotdot_passwd": "denied: NotFound",
            "dot_dir": "denied: NotFound",
            "current_dir": "ok: \"/\"",
        })
    );
}

#[test]
fn read_env_sees_no_variable_and_no_secret() {
    let lab = Lab::new("read-env");
    // The host's environment holds the secret (Lab::run sets it).
    let out = lab.run("read-env", &[]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({
            "count": 0,
            "FALCON_CLIENT_SECRET": "Err(NotPresent)",
            "FALCON_CLIENT_ID": "Err(NotPresent)",
            "FALCON_CLOUD": "Err(NotPresent)",
            "HOME": "Err(NotPresent)",
            "PATH": "Err(NotPresent)",
            "args": 0,
        })
    );
}

#[test]
fn tcp_connect_reaches_no_listener() {
    let lab = Lab::new("tcp-connect");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = format!("port={}", listener.local_addr().unwrap().port());
    let out = lab.run("tcp-connect", &["--set", &port]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({
            "ipv4": "denied: PermissionDenied",
            "ipv6": "denied: PermissionDenied",
            "by_name": "denied: Uncategorized",
        })
    );
    let accepted = listener.accept().map(|_| ());
    assert_eq!(
        accepted.unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the plugin reached the loopback listener"
    );
}

#[test]
fn tcp_listen_opens_no_port() {
    let lab = Lab::new("tcp-listen");
    let out = lab.run("tcp-listen", &[]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({ "loopback": "denied: PermissionDenied", "any": "denied: PermissionDenied" })
    );
}

#[test]
fn udp_send_delivers_no_datagram() {
    let lab = Lab::new("udp-send");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let port = format!("port={}", socket.local_addr().unwrap().port());
    let out = lab.run("udp-send", &["--set", &port]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({ "bind": "denied: PermissionDenied", "send": "not bound" })
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        socket.recv_from(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a datagram arrived"
    );
}

#[test]
fn dns_lookup_resolves_nothing() {
    let lab = Lab::new("dns-lookup");
    let out = lab.run("dns-lookup", &[]);
    out.ended(0, "ok").sent_nothing();
    assert_eq!(
        out.report(),
        json!({ "localhost": "denied: Uncategorized", "exfiltration": "denied: Uncategorized" })
    );
}

// ---------------------------------------------------------------------------
// Limits: time, fuel, memory, output, stack; traps.

/// A run stopped at a limit: exit 4, the host's line naming the limit.
#[track_caller]
fn stopped(lab: &Lab, plugin: &str, flags: &[&str], outcome: &str, message: &str) -> Outcome {
    let out = lab.run(plugin, flags);
    out.ended(4, outcome)
        .sent_nothing()
        .says(&format!("error: plugin `{plugin}` {message}"));
    assert_eq!(out.run.stdout, "", "{plugin}: no report");
    out
}

const TIME_LIMIT: &str = "was stopped: the plugin exceeded the time limit of 1s (--timeout)";

#[test]
fn infinite_loop_is_stopped_at_the_deadline() {
    let lab = Lab::new("infinite-loop");
    let out = stopped(
        &lab,
        "infinite-loop",
        &["--timeout", "1s"],
        "limit",
        TIME_LIMIT,
    );
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
}

#[test]
fn fuel_burn_is_stopped_when_its_fuel_runs_out() {
    let lab = Lab::new("fuel-burn");
    stopped(
        &lab,
        "fuel-burn",
        &["--fuel", "5000000"],
        "limit",
        "was stopped: the plugin ran out of fuel after 5000000 units (--fuel)",
    );
}

#[test]
fn sleep_past_deadline_is_stopped_at_the_deadline() {
    let lab = Lab::new("sleep-past-deadline");
    let out = stopped(
        &lab,
        "sleep-past-deadline",
        &["--timeout", "1s"],
        "limit",
        TIME_LIMIT,
    );
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
}

#[test]
fn clock_spin_is_stopped_at_the_deadline() {
    let lab = Lab::new("clock-spin");
    let out = stopped(
        &lab,
        "clock-spin",
        &["--timeout", "1s"],
        "limit",
        TIME_LIMIT,
    );
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
}

#[test]
fn memory_bomb_is_stopped_at_the_memory_limit() {
    let lab = Lab::new("memory-bomb");
    stopped(
        &lab,
        "memory-bomb",
        &["--max-memory", "64MiB"],
        "limit",
        "was stopped: the plugin exceeded the memory limit of 64MiB (--max-memory)",
    );
}

#[test]
fn memory_grow_is_refused_past_the_limit() {
    let lab = Lab::new("memory-grow");
    let out = lab.run("memory-grow", &["--max-memory", "64MiB"]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let bytes = report["memory_bytes"].as_u64().unwrap();
    // Grown to the limit, never past it; every further grow refused.
    assert!(bytes <= 64 << 20, "{report}");
    assert!(bytes > 62 << 20, "{report}");
    assert_eq!(report["refusals"], 3, "{report}");
}

#[test]
fn stdout_flood_is_stopped_at_the_output_limit() {
    let lab = Lab::new("stdout-flood");
    let out = stopped(
        &lab,
        "stdout-flood",
        &["--max-output", "64KiB"],
        "limit",
        "was stopped: the plugin exceeded the output limit of 64KiB (--max-output)",
    );
    assert!(
        out.run.stderr.len() < 200 << 10,
        "{} bytes",
        out.run.stderr.len()
    );
}

#[test]
fn stderr_flood_is_stopped_at_the_output_limit() {
    let lab = Lab::new("stderr-flood");
    let out = stopped(
        &lab,
        "stderr-flood",
        &["--max-output", "64KiB"],
        "limit",
        "was stopped: the plugin exceeded the output limit of 64KiB (--max-output)",
    );
    assert!(
        out.run.stderr.len() < 200 << 10,
        "{} bytes",
        out.run.stderr.len()
    );
}

#[test]
fn log_flood_is_stopped_at_the_output_limit() {
    let lab = Lab::new("log-flood");
    let out = stopped(
        &lab,
        "log-flood",
        &["--max-output", "64KiB"],
        "limit",
        "was stopped: the plugin exceeded the output limit of 64KiB (--max-output)",
    );
    assert!(
        out.run.stderr.len() < 200 << 10,
        "{} bytes",
        out.run.stderr.len()
    );
}

#[test]
fn deep_recursion_is_stopped_without_a_wall_of_backtrace() {
    let lab = Lab::new("deep-recursion");
    let out = stopped(
        &lab,
        "deep-recursion",
        &[],
        "crashed",
        "crashed: out-of-bounds memory access; the plugin likely overflowed its stack \
         (recursion too deep) or has a memory bug",
    );
    assert!(out.run.stderr.lines().count() < 30, "{}", out.run.stderr);
}

const UNREACHABLE: &str = "crashed: wasm trap: wasm `unreachable` instruction executed";

#[test]
fn panic_is_reported_as_a_crash_with_its_message() {
    let lab = Lab::new("panic");
    stopped(&lab, "panic", &[], "crashed", UNREACHABLE)
        .says("[panic stderr] hostile plugin panicked on purpose");
}

#[test]
fn unreachable_is_reported_as_a_crash() {
    let lab = Lab::new("unreachable");
    let out = stopped(&lab, "unreachable", &[], "crashed", UNREACHABLE);
    assert!(
        !out.run.stderr.contains("[unreachable stderr]"),
        "{}",
        out.run.stderr
    );
}

#[test]
fn divide_by_zero_is_reported_as_a_crash_with_its_message() {
    let lab = Lab::new("divide-by-zero");
    stopped(&lab, "divide-by-zero", &[], "crashed", UNREACHABLE)
        .says("[divide-by-zero stderr] attempt to divide by zero");
}

#[test]
fn exit_zero_does_not_pass_for_success() {
    let lab = Lab::new("exit-zero");
    let out = lab.run("exit-zero", &[]);
    out.ended(1, "plugin-failed").sent_nothing().says(
        "error: plugin `exit-zero` failed: it exited with status 0 instead of returning a report",
    );
    assert_eq!(out.run.stdout, "");
}

// ---------------------------------------------------------------------------
// The gate: scopes, budget, approval.

#[test]
fn ungranted_users_operations_are_each_denied_and_audited() {
    let lab = Lab::new("ungranted-users");
    // Granting scopes the plugin did not request changes nothing.
    let out = lab.run("ungranted-users", &["--grant", "users:read,roles:read"]);
    out.ended(0, "ok").sent_nothing().says(
        "note: plugin `ungranted-users` does not request roles:read, users:read; those grants \
         have no effect",
    );
    let report = out.report();
    let ops = [
        ("list-users", "users:read"),
        ("get-users", "users:read"),
        ("query-users", "users:read"),
        ("roles-of-users", "roles:read"),
        ("list-roles", "roles:read"),
    ];
    for (op, scope) in ops {
        let (kind, message) = error(&report[op]);
        assert_eq!(kind, "not-granted", "{op}");
        assert_eq!(
            message,
            format!(
                "`users.{op}` needs scope `{scope}`, which the operator did not grant (add \
                 `{scope}` to the plugin's requested scopes and run with `--grant {scope}`)"
            )
        );
    }
    let mut expected: Vec<_> = ops
        .iter()
        .flat_map(|(op, _)| times(1, &format!("users.{op}"), "denied", "not-granted"))
        .collect();
    expected.sort();
    let mut calls = out.calls();
    calls.sort();
    assert_eq!(calls, expected);
    assert_eq!((out.ended_with("calls"), out.ended_with("denials")), (0, 5));
    out.stderr_has("0 calls into the host, 5 denied");
}

#[test]
fn ungranted_hosts_operations_are_each_denied_and_nothing_is_contained() {
    let lab = Lab::new("ungranted-hosts");
    let before = lab.tenant();
    let ids: Vec<&str> = before
        .hosts
        .iter()
        .take(2)
        .map(|h| h.device_id.as_str())
        .collect();
    let ids = format!("ids={}", serde_json::to_string(&ids).unwrap());
    let out = lab.run("ungranted-hosts", &["--set", &ids]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    for (op, scope) in [
        ("list-hosts", "hosts:read"),
        ("get-hosts", "hosts:read"),
        ("query-hosts", "hosts:read"),
        ("contain", "hosts:write"),
        ("lift-containment", "hosts:write"),
    ] {
        let (kind, message) = error(&report[op]);
        assert_eq!(kind, "not-granted", "{op}");
        assert!(
            message.starts_with(&format!("`hosts.{op}` needs scope `{scope}`")),
            "{message}"
        );
    }
    assert_eq!(out.calls().len(), 5);
    assert!(
        out.calls()
            .iter()
            .all(|(_, d, s)| d == "denied" && s == "not-granted")
    );
    let status = |t: &Tenant| -> Vec<String> { t.hosts.iter().map(|h| h.status.clone()).collect() };
    assert_eq!(status(&lab.tenant()), status(&before), "a host changed");
}

#[test]
fn ungranted_interfaces_are_each_denied() {
    let lab = Lab::new("ungranted-interfaces");
    let out = lab.run("ungranted-interfaces", &[]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let answers = report.as_object().unwrap();
    assert_eq!(answers.len(), 8, "{report:#}");
    let mut denied = Vec::new();
    for (op, answer) in answers {
        let (kind, message) = error(answer);
        if op == "notify.send-message" {
            // No destination is granted, so there is none to send to.
            assert_eq!(
                message,
                "invalid input: there is no notification destination `evil`; this plugin may \
                 use none (the operator configures a destination as `[notify.<destination>]` in \
                 the config file, then grants it with `--grant notify:<destination>`)"
            );
            continue;
        }
        assert_eq!(kind, "not-granted", "{op}: {message}");
        assert!(
            message.contains("which the operator did not grant"),
            "{message}"
        );
        denied.push(op.clone());
    }
    assert_eq!(denied.len(), 7);
    let calls = out.calls();
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|(_, d, s)| d == "denied" && s == "not-granted")
    );
    // The attempted notification is audited too, as refused.
    let notified: Vec<&Value> = out
        .audit
        .iter()
        .filter(|r| r["event"] == "notify")
        .collect();
    assert_eq!(notified.len(), 1, "{:?}", out.audit);
    assert_eq!(notified[0]["status"], "invalid-input");
    assert_eq!(out.ended_with("denials"), 7);
}

#[test]
fn ungranted_call_cannot_reach_other_scopes_through_api_call() {
    let lab = Lab::new("ungranted-call");
    let out = lab.run("ungranted-call", &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let answers = report.as_object().unwrap();
    assert_eq!(answers.len(), 8, "{report:#}");
    for (route, answer) in answers {
        let (kind, message) = error(answer);
        assert_eq!(kind, "not-granted", "{route}: {message}");
        assert!(
            message.starts_with(&format!("`api.call {route}` needs scope `")),
            "{message}"
        );
    }
    let (_, roles) = error(&report["GET /user-management/queries/roles/v1"]);
    assert!(roles.contains("`roles:read`"), "{roles}");
    let (_, hosts) = error(&report["GET /devices/queries/devices/v1"]);
    assert!(hosts.contains("`hosts:read`"), "{hosts}");
    assert_eq!(out.calls().len(), 8);
    assert!(
        out.calls()
            .iter()
            .all(|(_, d, s)| d == "denied" && s == "not-granted")
    );
    assert_eq!(out.ended_with("denials"), 8);
}

#[test]
fn denied_twice_stays_denied_and_is_audited_each_time() {
    let lab = Lab::new("denied-twice");
    let out = lab.run("denied-twice", &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let attempts = report["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    for attempt in attempts {
        assert_eq!(attempt, &attempts[0], "every retry gets the same denial");
        assert_eq!(error(attempt).0, "not-granted");
    }
    assert_eq!(
        out.calls(),
        times(3, "users.list-roles", "denied", "not-granted")
    );
    out.stderr_has("0 calls into the host, 3 denied");
}

#[test]
fn call_budget_refuses_past_max_calls_and_after() {
    let lab = Lab::new("call-budget");
    let out = lab.run(
        "call-budget",
        &["--grant", "users:read", "--max-calls", "5"],
    );
    out.ended(0, "ok");
    let report = out.report();
    assert_eq!(report["allowed"], 5, "{report}");
    let refusal = "budget exhausted: the run may make 5 API calls (--max-calls); \
                   `users.list-users` would exceed it";
    let refusal = json!({ "kind": "budget-exhausted", "message": refusal });
    assert_eq!(report["refusal"], refusal);
    assert_eq!(report["again"], refusal, "a refusal is not a one-off");
    // Exactly the five allowed calls reached the tenant.
    assert_eq!(out.api.len(), 5, "{:?}", out.api);
    assert!(
        out.api
            .iter()
            .all(|r| r.method == "GET" && r.path == "/user-management/queries/users/v1"),
        "{:?}",
        out.api
    );
    let mut expected = times(5, "users.list-users", "allowed", "ok");
    expected.extend(times(
        2,
        "users.list-users",
        "budget-exhausted",
        "budget-exhausted",
    ));
    assert_eq!(out.calls(), expected);
    out.stderr_has("5 calls into the host, 2 denied");
}

#[test]
fn contain_unapproved_contains_nothing() {
    let lab = Lab::new("contain-unapproved");
    let before = lab.tenant();
    let visible = before.hosts.iter().filter(|h| !h.hidden).count();
    let out = lab.run("contain-unapproved", &["--grant", "hosts:read,hosts:write"]);
    out.ended(0, "ok");
    let report = out.report();
    assert_eq!(report["found"], visible, "{report}");
    let (kind, message) = error(&report["contain"]);
    assert_eq!(kind, "not-approved");
    let refused =
        format!("not approved: `hosts.contain` is destructive (network-contain {visible} ");
    assert!(message.starts_with(&refused), "{message}");
    assert!(message.contains("--approve hosts.contain"), "{message}");
    // Only the read reached the tenant; no device action was sent.
    assert!(!out.api.is_empty());
    assert!(
        out.api
            .iter()
            .all(|r| r.method == "GET" && r.path.starts_with("/devices/queries/")),
        "{:?}",
        out.api
    );
    let status = |t: &Tenant| -> Vec<String> { t.hosts.iter().map(|h| h.status.clone()).collect() };
    assert_eq!(status(&lab.tenant()), status(&before), "a host changed");
    assert_eq!(
        out.calls(),
        [
            ("hosts.list-hosts".into(), "allowed".into(), "ok".into()),
            (
                "hosts.contain".into(),
                "not-approved".into(),
                "not-approved".into()
            ),
        ]
    );
}

#[test]
fn destructive_via_call_is_refused_for_the_typed_operation() {
    let lab = Lab::new("destructive-via-call");
    let id = format!("id={}", lab.tenant().hosts[0].device_id);
    let out = lab.run(
        "destructive-via-call",
        &["--grant", "hosts:write,custom-ioc:write", "--set", &id],
    );
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let (kind, message) = error(&report["contain"]);
    assert_eq!(kind, "invalid-input");
    assert_eq!(
        message,
        "invalid input: `POST /devices/entities/devices-actions/v2` is destructive and is not \
         offered through `api.call`; use hosts.contain, which has an approval gate"
    );
    let (kind, message) = error(&report["ioc"]);
    assert_eq!(kind, "invalid-input");
    assert!(
        message.contains("is destructive and is not offered through `api.call`"),
        "{message}"
    );
    let calls = out.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|(_, d, s)| d == "refused" && s == "invalid-input")
    );
}

// ---------------------------------------------------------------------------
// The route table of `api.call`.

/// Runs a route plugin (granted `users:read`): every try is refused before
/// the gate, nothing is sent, and each refusal is audited.
#[track_caller]
fn routes_refused(plugin: &str, expected: &[(&str, &str)]) {
    let lab = Lab::new(plugin);
    let out = lab.run(plugin, &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    all_invalid(&out.report(), expected);
    let calls = out.calls();
    assert_eq!(calls.len(), expected.len(), "{calls:?}");
    assert!(
        calls.iter().all(|(op, d, s)| op.starts_with("api.call ")
            && d == "refused"
            && s == "invalid-input"),
        "{calls:?}"
    );
    assert_eq!(out.ended_with("calls"), 0);
}

const SEGMENTS: &str = "has `.`, `..` or empty segments";

#[test]
fn route_dotdot_is_refused() {
    routes_refused(
        "route-dotdot",
        &[
            (
                "GET /user-management/queries/users/v1/../../../devices/queries/devices/v1",
                SEGMENTS,
            ),
            (
                "GET /user-management/queries/users/v1/%2e%2e/%2e%2e/roles/v1",
                "holds `%`",
            ),
            ("GET /user-management/queries/users/v1/%2E%2E", "holds `%`"),
            ("GET /user-management/./queries/users/v1", SEGMENTS),
            ("GET /user-management/queries/users/v1/..", SEGMENTS),
        ],
    );
}

#[test]
fn route_encoded_separators_are_refused() {
    routes_refused(
        "route-encoded",
        &[
            (
                "GET /user-management/queries/users/v1%2F..%2F..%2Fdevices",
                "holds `%`",
            ),
            ("GET /user-management%2fqueries%2fusers%2fv1", "holds `%`"),
            (
                "GET /user-management/queries/users/v1\\..\\..\\devices",
                "holds `\\\\`",
            ),
            (
                "GET /user-management/queries/users/v1\u{0}",
                "holds `\\u{0}`",
            ),
            (
                "GET /user-management\u{2215}queries\u{2215}users\u{2215}v1",
                "holds `\\u{2215}`",
            ),
            ("GET /user-management/queries/users/v1;x=y", "holds `;`"),
        ],
    );
}

#[test]
fn route_other_host_is_refused() {
    const SINGLE: &str = "must start with a single `/` (no host, no scheme)";
    routes_refused(
        "route-other-host",
        &[
            (
                "GET http://evil.example/user-management/queries/users/v1",
                SINGLE,
            ),
            (
                "GET https://127.0.0.1:9/user-management/queries/users/v1",
                SINGLE,
            ),
            (
                "GET //evil.example/user-management/queries/users/v1",
                SINGLE,
            ),
            ("GET evil.example/user-management/queries/users/v1", SINGLE),
            (
                "GET /@evil.example/user-management/queries/users/v1",
                "holds `@`",
            ),
            (
                "GET /user-management/queries/users/v1@evil.example",
                "holds `@`",
            ),
        ],
    );
}

#[test]
fn route_unknown_and_wrong_methods_are_refused() {
    const UNKNOWN: &str =
        "is not in the host's route table; only known Falcon endpoints can be called";
    routes_refused(
        "route-unknown",
        &[
            ("GET /user-management/queries/users/v9", UNKNOWN),
            ("GET /", UNKNOWN),
            ("GET ", "must start with a single `/`"),
            // The host's own token endpoints are not routes.
            ("GET /oauth2/token", UNKNOWN),
            ("POST /oauth2/revoke", UNKNOWN),
            ("DELETE /user-management/queries/users/v1", UNKNOWN),
            (
                "TRACE /user-management/queries/users/v1",
                "method `TRACE` is not one Falcon uses",
            ),
            (
                "CONNECT /user-management/queries/users/v1",
                "method `CONNECT` is not one Falcon uses",
            ),
            (
                "GET\r\nX-Injected: 1 /user-management/queries/users/v1",
                "method `GET\r\nX-INJECTED: 1` is not one Falcon uses",
            ),
        ],
    );
}

#[test]
fn route_query_smuggle_stays_one_parameter() {
    let lab = Lab::new("route-query-smuggle");
    let out = lab.run("route-query-smuggle", &["--grant", "users:read"]);
    out.ended(0, "ok");
    let report = out.report();
    let (kind, message) = error(&report["path_query"]);
    assert_eq!(kind, "invalid-input");
    assert!(message.contains("holds `?`"), "{message}");
    let (kind, message) = error(&report["path_fragment"]);
    assert_eq!(kind, "invalid-input");
    assert!(message.contains("holds `#`"), "{message}");
    // The two calls with smuggled separators were sent, each with its
    // parameter encoded as one: no `limit=500`, no filter, reached Falcon.
    assert_eq!(out.api.len(), 2, "{:?}", out.api);
    for request in &out.api {
        assert_eq!(request.path, "/user-management/queries/users/v1");
        assert!(!request.query.contains('?'), "{request:?}");
        assert_eq!(request.query.matches('&').count(), 0, "{request:?}");
        assert_eq!(request.query.matches('=').count(), 1, "{request:?}");
    }
    assert_eq!(
        out.api[0].query,
        "limit=1%26limit%3D500%26filter%3Duid%3A%27*%27"
    );
    assert_eq!(out.api[1].query, "limit%3D2%26offset=0");
    // Falcon refuses a limit that is not a number, and ignores a parameter
    // it does not know: the default page, nothing widened.
    let (kind, message) = error(&report["value"]);
    assert_eq!(kind, "upstream-error", "{message}");
    assert!(message.contains("Falcon API error 400"), "{message}");
    assert_eq!(report["key"], json!({ "ok": 200 }));
}

// ---------------------------------------------------------------------------
// Filters.

/// Whether `name` matches the FQL equality `value` as Falcon compares:
/// case-insensitively, `*` matching any run of characters.
fn fql_matches(name: &str, value: &str) -> bool {
    let (name, value) = (name.to_lowercase(), value.to_lowercase());
    let parts: Vec<&str> = value.split('*').collect();
    if parts.len() == 1 {
        return name == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    if !name.ends_with(last) {
        return false;
    }
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn filter_injection_never_widens_the_match() {
    let lab = Lab::with(
        "filter-injection",
        &TenantSpec {
            users: 60,
            ..TenantSpec::demo()
        },
    );
    let tenant = lab.tenant();
    // Spliced unescaped, each of these would match every user.
    let mut values: Vec<String> = [
        "x',uid:'*",
        "x' , last_name:'*",
        "x'+last_name:!'",
        "',last_name:*'",
        "x\\",
        "x\\',uid:'*",
    ]
    .map(String::from)
    .to_vec();
    // Real names with quotes, commas or non-ASCII letters are found exactly.
    values.extend(
        tenant
            .users
            .iter()
            .map(|u| u.last_name.clone())
            .filter(|n| n.contains(['\'', ',', '+', ' ']) || !n.is_ascii())
            .take(6),
    );
    values.push(tenant.users[0].last_name.clone());
    let set = format!("values={}", serde_json::to_string(&values).unwrap());
    let out = lab.run(
        "filter-injection",
        &["--grant", "users:read", "--set", &set],
    );
    out.ended(0, "ok");
    let report = out.report();
    for value in &values {
        let expected = tenant
            .users
            .iter()
            .filter(|u| fql_matches(&u.last_name, value))
            .count();
        assert_eq!(
            report[value]["ok"], expected,
            "{value:?}: {}",
            report[value]
        );
    }
    assert!(
        report["x',uid:'*"]["ok"] == 0 && tenant.users.len() == 60,
        "the injection widened the match"
    );
    assert_eq!(out.api.len(), values.len());
    assert!(
        out.calls()
            .iter()
            .all(|(op, d, s)| op == "users.list-users" && d == "allowed" && s == "ok")
    );
}

#[test]
fn field_injection_is_refused() {
    let lab = Lab::new("field-injection");
    let out = lab.run("field-injection", &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    let report = out.report();
    let answers = report.as_object().unwrap();
    assert_eq!(answers.len(), 5, "{report:#}");
    for (field, answer) in answers {
        let (kind, message) = error(answer);
        assert_eq!(kind, "invalid-input", "{field}: {message}");
        assert!(
            message.contains("is not a field name"),
            "{field}: {message}"
        );
    }
}

#[test]
fn fql_control_chars_are_refused_before_sending() {
    let lab = Lab::new("fql-control-chars");
    let out = lab.run("fql-control-chars", &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    all_invalid(
        &out.report(),
        &[
            (
                "last_name:\\'x\\'\\r\\nX-Injected: 1",
                "the control character `\\r`",
            ),
            (
                "last_name:\\'x\\'\\u{0}+uid:\\'*\\'",
                "the control character `\\u{0}`",
            ),
            (
                "last_name:\\'\\u{1b}[2Jx\\'",
                "the control character `\\u{1b}`",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------
// Giant arguments.

#[test]
fn giant_strings_are_refused_with_their_size() {
    let lab = Lab::new("giant-strings");
    let out = lab.run("giant-strings", &["--grant", "users:read"]);
    out.ended(0, "ok").sent_nothing();
    let giant = 8 << 20;
    all_invalid(
        &out.report(),
        &[
            (
                "raw_filter",
                &format!("the filter is {giant} bytes; the host accepts at most 16384"),
            ),
            (
                "filter_value",
                &format!(
                    "the filter is {} bytes; the host accepts at most 16384",
                    giant + 9 + 2 + 3
                ),
            ),
            ("path", "path is longer than 256 characters"),
            (
                "query",
                &format!(
                    "the query is {} bytes (1 parameters); the host accepts at most 16384",
                    giant + 8
                ),
            ),
            (
                "body",
                &format!(
                    "the body is {} bytes; the host accepts at most 1048576",
                    giant + 3
                ),
            ),
        ],
    );
    // Every refusal is audited (the two filters, then the three api.call
    // arguments), with the path cut short.
    let calls = out.calls();
    assert_eq!(calls.len(), 5, "{calls:?}");
    for (op, decision, status) in &calls[..2] {
        assert_eq!(
            (op.as_str(), decision.as_str(), status.as_str()),
            ("users.list-users", "refused", "invalid-input")
        );
    }
    assert!(calls.iter().all(|(op, _, _)| op.len() < 200), "{calls:?}");
    let log = std::fs::metadata(&out.log).unwrap().len();
    assert!(log < 16 << 10, "the audit log grew to {log} bytes");
    assert!(out.elapsed < Duration::from_secs(60), "{:?}", out.elapsed);
}

#[test]
fn giant_lists_are_refused_by_count() {
    let lab = Lab::new("giant-lists");
    let out = lab.run("giant-lists", &["--grant", "users:read,hosts:read"]);
    out.ended(0, "ok").sent_nothing();
    all_invalid(
        &out.report(),
        &[
            (
                "user_ids",
                "`users.get-users` was given 200000 ids; one call takes at most 100000",
            ),
            (
                "host_ids",
                "`hosts.get-hosts` was given 200000 ids; one call takes at most 100000",
            ),
            (
                "conditions",
                "the filter is 2000000 bytes; the host accepts at most 16384",
            ),
            (
                "query_pairs",
                "the query is 2000000 bytes (1000000 parameters); the host accepts at most 16384",
            ),
        ],
    );
    assert!(out.elapsed < Duration::from_secs(60), "{:?}", out.elapsed);
}

// ---------------------------------------------------------------------------
// Re-entrancy and nesting.

#[test]
fn reentrant_panic_hook_is_denied_audited_and_reported_as_a_crash() {
    let lab = Lab::new("reentrant-panic-hook");
    let out = stopped(&lab, "reentrant-panic-hook", &[], "crashed", UNREACHABLE);
    out.says("[reentrant-panic-hook] warn: panic hook called the host: denied=true");
    assert_eq!(
        out.calls(),
        times(1, "users.list-roles", "denied", "not-granted")
    );
    assert_eq!(out.ended_with("denials"), 1);
}

#[test]
fn nested_calls_keep_exact_counts_and_budget() {
    let lab = Lab::new("nested-calls");
    let out = lab.run(
        "nested-calls",
        &["--grant", "users:read", "--max-calls", "100"],
    );
    out.ended(0, "ok");
    assert_eq!(
        out.report(),
        json!({ "allowed": 100, "budget_exhausted": 200, "denied": 300, "other": 0 })
    );
    assert_eq!(out.api.len(), 100);
    let calls = out.calls();
    let count = |decision: &str| calls.iter().filter(|(_, d, _)| d == decision).count();
    assert_eq!(
        (count("allowed"), count("budget-exhausted"), count("denied")),
        (100, 200, 300)
    );
    assert_eq!(
        (out.ended_with("calls"), out.ended_with("denials")),
        (100, 500)
    );
}

// ---------------------------------------------------------------------------
// The output directory.

/// An output directory `out` inside a parent that holds the decoys.
fn output_dir(lab: &Lab, name: &str) -> (PathBuf, PathBuf) {
    let parent = lab.scratch(name);
    let out = parent.join("out");
    std::fs::create_dir_all(&out).unwrap();
    (parent, out)
}

/// Every entry under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn output_dotdot_cannot_leave_the_directory() {
    let lab = Lab::new("output-dotdot");
    let (parent, out) = output_dir(&lab, "dotdot");
    let out_dir = out.to_str().unwrap();
    let run = lab.run("output-dotdot", &["--output-dir", out_dir]);
    run.ended(0, "ok").sent_nothing();
    assert_eq!(
        run.report(),
        json!({
            "inside": "ok: ()",
            "write": "denied: PermissionDenied",
            "deep_write": "denied: NotFound",
            "mkdir": "denied: PermissionDenied",
            "rename": "denied: PermissionDenied",
            "hard_link": "denied: PermissionDenied",
            "read_parent": "denied: PermissionDenied",
        })
    );
    assert_eq!(tree(&parent), ["out", "out/inside.txt"]);
}

#[test]
fn output_symlink_cannot_lead_out_of_the_directory() {
    let lab = Lab::new("output-symlink");
    let (parent, out) = output_dir(&lab, "symlink");
    let outside = parent.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "not for plugins").unwrap();
    std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
    let run = lab.run("output-symlink", &["--output-dir", out.to_str().unwrap()]);
    run.ended(0, "ok").sent_nothing();
    let report = run.report();
    for key in ["read", "write", "list", "read_link"] {
        assert_eq!(report[key], "denied: PermissionDenied", "{key}: {report}");
    }
    assert_eq!(tree(&outside), ["secret.txt"], "a file was planted outside");
}

#[test]
fn output_absolute_paths_are_not_writable() {
    let lab = Lab::new("output-absolute");
    let (parent, out) = output_dir(&lab, "absolute");
    let outside = parent.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let set = format!("outside={}", outside.display());
    let run = lab.run(
        "output-absolute",
        &["--output-dir", out.to_str().unwrap(), "--set", &set],
    );
    run.ended(0, "ok").sent_nothing();
    assert_eq!(
        run.report(),
        json!({
            "outside": "denied: NotFound",
            "root": "denied: NotFound",
            "relative": "denied: NotFound",
            // Relative paths resolve from `/`: this one is the granted
            // directory itself.
            "output_relative": "ok: ()",
        })
    );
    assert_eq!(tree(&parent), ["out", "out/planted.txt", "outside"]);
    assert!(!e2e::root().join("planted.txt").exists());
    assert!(!e2e::root().join("output").exists());
}

#[test]
fn output_ungranted_has_no_directory_to_write() {
    let lab = Lab::new("output-ungranted");
    let run = lab.run("output-ungranted", &[]);
    run.ended(0, "ok").sent_nothing();
    assert_eq!(
        run.report(),
        json!({ "write": "denied: NotFound", "mkdir": "denied: NotFound" })
    );
    assert_eq!(run.audit[0]["output_dir"], Value::Null);
}

// ---------------------------------------------------------------------------
// The manifest, the grant and the world.

/// A plugin the host refuses to read: exit 2 with `message`, one audit line
/// recording the refusal under the component's digest (it has no usable
/// name), and no request at all.
#[track_caller]
fn unreadable(plugin: &str, message: &str) {
    let lab = Lab::new(plugin);
    let out = lab.run(plugin, &[]);
    assert_eq!(out.run.code, 2, "{plugin}: {}", out.run.stderr);
    let path = hostile_plugin(plugin);
    assert_eq!(
        out.run.stderr.trim_end(),
        format!(
            "error: cannot use the plugin `{}`: {message}",
            path.display()
        ),
    );
    refused_unread(&out.audit, &path, message);
    assert_eq!(out.all, [], "{plugin}: the host contacted the tenant");
}

/// The one audit line of a component whose manifest was unusable.
#[track_caller]
fn refused_unread(audit: &[Value], path: &std::path::Path, message: &str) {
    assert_eq!(audit.len(), 1, "{audit:?}");
    let line = &audit[0];
    assert_eq!(line["event"], "run-refused");
    assert_eq!(line["plugin"], "(no usable manifest)");
    let bytes = std::fs::read(path).unwrap();
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(line["digest"], digest);
    let reason = line["reason"].as_str().unwrap();
    assert!(reason.contains(message), "{reason}");
}

#[test]
fn manifest_missing_is_refused() {
    unreadable(
        "manifest-missing",
        "the component has no `falcon-plugin-manifest` section; build the plugin with the \
         falcon-sdk `manifest!` macro, or add one with `host manifest set` (plugins in other \
         languages)",
    );
}

#[test]
fn manifest_malformed_is_refused() {
    let lab = Lab::new("manifest-malformed");
    let out = lab.run("manifest-malformed", &[]);
    assert_eq!(out.run.code, 2, "{}", out.run.stderr);
    out.stderr_has(
        "the `falcon-plugin-manifest` section is malformed: unknown scope `falcon:admin`",
    );
    refused_unread(
        &out.audit,
        &hostile_plugin("manifest-malformed"),
        "unknown scope `falcon:admin`",
    );
    assert_eq!(out.all, []);
}

#[test]
fn manifest_oversized_is_refused() {
    unreadable(
        "manifest-oversized",
        "the `falcon-plugin-manifest` section is 1048576 bytes; a manifest is at most 65536 \
         bytes (shorten the description)",
    );
}

#[test]
fn impostor_does_not_inherit_the_grant_of_the_plugin_it_names() {
    let lab = Lab::new("impostor");
    // The operator granted the real access-audit, pinned to its digest.
    let genuine = "9f".repeat(32);
    let grants = lab.dir.join("grants.toml");
    std::fs::write(
        &grants,
        format!(
            "[access-audit]\nsha256 = \"{genuine}\"\nscopes = [\"users:read\", \"roles:read\"]\n"
        ),
    )
    .unwrap();
    let out = lab.run("impostor", &["--grants", grants.to_str().unwrap()]);
    assert_eq!(out.run.code, 3, "{}", out.run.stderr);
    out.stderr_has(
        "plugin `access-audit` requests 2 scopes that were not granted; it was not started",
    )
    .stderr_has(&format!(
        "note: the grants file pins `access-audit` to sha256 {}, but this component is",
        &genuine[..12]
    ))
    .stderr_has("the plugin changed since it was granted, so its grant does not apply");
    assert_eq!(out.audit.len(), 1, "{:?}", out.audit);
    assert_eq!(out.audit[0]["event"], "run-refused");
    assert_eq!(
        out.audit[0]["missing_scopes"],
        json!(["roles:read", "users:read"])
    );
    assert_eq!(out.all, [], "the host contacted the tenant");
    out.verified();
}

#[test]
fn foreign_import_is_refused_before_it_runs() {
    let lab = Lab::new("foreign-import");
    let out = lab.run("foreign-import", &[]);
    out.ended(2, "incompatible").sent_nothing().says(
        "error: cannot run plugin `foreign-import`: the component does not fit this host's \
         contract (falcon:plugin@0.1.0): component imports instance `evil:door/backdoor`, but a \
         matching implementation was not found in the linker: instance export `open` has the \
         wrong type: function implementation is missing",
    );
    assert_eq!(out.run.stdout, "");
}

#[test]
fn wrong_world_is_refused_before_it_runs() {
    let lab = Lab::new("wrong-world");
    let out = lab.run("wrong-world", &[]);
    out.ended(2, "incompatible").sent_nothing().says(
        "error: cannot run plugin `wrong-world`: the component does not fit this host's contract \
         (falcon:plugin@0.1.0): type-checking export func `run`: expected `string` found `u32`",
    );
}

// ---------------------------------------------------------------------------
// The operator's terminal.

#[test]
fn forge_terminal_cannot_move_the_cursor_or_forge_host_lines() {
    let lab = Lab::new("forge-terminal");
    let out = lab.run("forge-terminal", &[]);
    out.ended(1, "plugin-failed").sent_nothing();
    let stderr = &out.run.stderr;
    for c in ['\u{1b}', '\u{7}', '\r'] {
        assert!(!stderr.contains(c), "{c:?} reached the terminal:\n{stderr}");
    }
    // Every forged line is marked as the plugin's or indented; the host's
    // own summary line appears exactly once.
    let forged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("verified by the operator") || l.contains("every granted scope"))
        .collect();
    assert!(!forged.is_empty());
    for line in &forged {
        assert!(
            line.starts_with("[forge-terminal")
                || line.starts_with("  ")
                || line.starts_with("error: plugin `forge-terminal` failed:"),
            "a forged line passes for the host's: {line:?}"
        );
    }
    let summaries = stderr
        .lines()
        .filter(|l| l.starts_with("host: least privilege"))
        .count();
    assert_eq!(summaries, 1, "{stderr}");
}
