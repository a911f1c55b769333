//! Test a plugin the way an operator runs it: `cargo test` builds the plugin
//! for `wasm32-wasip2`, starts the Falcon emulator on `127.0.0.1` with the
//! tenant you choose, runs the real `host` binary on the plugin and hands you
//! what happened: exit code, report, messages, every request the plugin
//! caused, and the tenant to compute the expected result from.
//!
//! Enable the `testing` feature in the plugin's dev-dependencies, naming the
//! SDK as the normal dependency does (it exists only off `wasm32`, where
//! tests run; `host new` writes this for you):
//!
//! ```toml
//! [dev-dependencies]
//! falcon-sdk = { path = "../falcon-plugin-host/sdk", features = ["testing"] }
//! ```
//!
//! Then, in `tests/plugin.rs`:
//!
//! ```no_run
//! use falcon_sdk::testing::{Harness, Run, TenantSpec};
//!
//! #[test]
//! fn counts_every_user() {
//!     let harness = Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
//!     let spec = TenantSpec { users: 300, ..TenantSpec::demo() };
//!     let run = harness
//!         .run(&Run::new().tenant(spec).grant("users:read").set("format", "json"))
//!         .unwrap();
//!     assert_eq!(run.code, 0, "{}", run.stderr);
//!     assert_eq!(run.json().unwrap()["users"], run.tenant.users.len());
//! }
//! ```
//!
//! # Where the pieces come from
//!
//! - **The plugin**: [`Harness::new`] runs `cargo build --target wasm32-wasip2
//!   --profile plugin --lib` on the crate at the given manifest directory
//!   (once per test process), so the tests always run the current source.
//!   [`Harness::with_profile`] picks another profile. The `wasm32-wasip2`
//!   target must be installed (`rustup target add wasm32-wasip2`).
//! - **The host**, in this order: the file named by `FALCON_HOST_BIN`; when
//!   the plugin crate is in the workspace that holds the host's source (as
//!   the shipped plugins are), `cargo build -p host` there, so the tests run
//!   the host built from the source next to them rather than an older
//!   installed one; else a `host` on `PATH` that answers `--help` as the
//!   Falcon plugin host (other programs called `host`, such as the DNS
//!   lookup tool, are skipped). `host new` writes `FALCON_HOST_BIN` into the
//!   new crate's `.cargo/config.toml`, so a generated plugin tests against
//!   the host that created it.
//! - **The tenant**: [`falcon_emulator`]'s generator; the same [`TenantSpec`]
//!   gives the same tenant, so a test computes its expected values from
//!   [`Outcome::tenant`] (or `Tenant::generate(&spec)`).
//!
//! The host runs with an empty environment (plus `PATH`), the emulator's
//! credentials, an audit log in a scratch directory ([`Outcome::audit`]) and
//! a compiled-plugin cache under the target directory, so nothing of the
//! developer's configuration or grants file leaks into a test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig};
use serde_json::Value;

pub use falcon_emulator::tenant;
pub use falcon_emulator::{Faults, Tenant, TenantSpec};

/// A step of the harness failed: building, locating the host, starting the
/// emulator. The message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessError {
    message: String,
}

impl HarnessError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HarnessError {}

/// A plugin crate, built, and the `host` binary that runs it.
///
/// ```no_run
/// let harness = falcon_sdk::testing::Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
/// println!("testing {} with {}", harness.plugin().display(), harness.host().display());
/// ```
#[derive(Debug, Clone)]
pub struct Harness {
    plugin: PathBuf,
    host: PathBuf,
    cache_dir: PathBuf,
}

impl Harness {
    /// Builds the plugin crate whose `Cargo.toml` is in `manifest_dir`
    /// (pass `env!("CARGO_MANIFEST_DIR")`) with the `plugin` profile, and
    /// finds the host as the [module docs](self) describe.
    ///
    /// # Errors
    ///
    /// The build failed (the message holds cargo's errors), or no host was
    /// found.
    pub fn new(manifest_dir: impl AsRef<Path>) -> Result<Self, HarnessError> {
        Self::with_profile(manifest_dir, "plugin")
    }

    /// As [`Harness::new`], building with another cargo profile, for
    /// example `release` for a crate that defines no `plugin` profile.
    ///
    /// ```no_run
    /// use falcon_sdk::testing::Harness;
    /// let harness = Harness::with_profile(env!("CARGO_MANIFEST_DIR"), "release").unwrap();
    /// assert!(harness.plugin().starts_with(env!("CARGO_MANIFEST_DIR")));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Harness::new`].
    pub fn with_profile(
        manifest_dir: impl AsRef<Path>,
        profile: &str,
    ) -> Result<Self, HarnessError> {
        let manifest = manifest_dir.as_ref().join("Cargo.toml");
        let plugin = build_plugin(&manifest, profile)?;
        let host = find_host(&manifest)?;
        // <target>/wasm32-wasip2/<profile>/<name>.wasm: cache compiled plugins
        // next to the build, where `cargo clean` removes them.
        let cache_dir = plugin
            .ancestors()
            .nth(3)
            .map_or_else(std::env::temp_dir, Path::to_path_buf)
            .join("falcon-harness-cache");
        Ok(Self {
            plugin,
            host,
            cache_dir,
        })
    }

    /// The built component (`.wasm`).
    ///
    /// ```no_run
    /// let harness = falcon_sdk::testing::Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
    /// assert_eq!(harness.plugin().extension().unwrap(), "wasm");
    /// ```
    pub fn plugin(&self) -> &Path {
        &self.plugin
    }

    /// The `host` binary the runs use.
    ///
    /// ```no_run
    /// let harness = falcon_sdk::testing::Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
    /// assert!(harness.host().is_file());
    /// ```
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// Starts an emulator with `run`'s tenant, runs `host run` on the plugin
    /// against it, and stops the emulator.
    ///
    /// ```no_run
    /// use falcon_sdk::testing::{Harness, Run};
    /// let harness = Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
    /// // Without the grant the host refuses to start the plugin: exit code 3.
    /// let refused = harness.run(&Run::new()).unwrap();
    /// assert_eq!(refused.code, 3);
    /// assert!(refused.requests.is_empty());
    /// ```
    ///
    /// # Errors
    ///
    /// The emulator or the host process could not be started. A plugin that
    /// fails is not an error: see [`Outcome::code`].
    pub fn run(&self, run: &Run) -> Result<Outcome, HarnessError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| HarnessError::new(format!("failed to start a tokio runtime: {e}")))?;
        let client = match &run.api_scopes {
            Some(scopes) => {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                ApiClient::with_scopes(&scopes)
            }
            None => ApiClient::full_access(),
        };
        let config = EmulatorConfig {
            faults: run.faults.clone(),
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::new(Tenant::generate(&run.spec), config);
        emulator.add_client(client.clone());
        let log = Arc::new(Mutex::new(Vec::new()));
        let server = runtime
            .block_on(serve(&emulator, Arc::clone(&log)))
            .map_err(|e| HarnessError::new(format!("failed to start the emulator: {e}")))?;

        let scratch = Scratch::new()?;
        let audit_log = scratch.0.join("audit.jsonl");
        let mut command = Command::new(&self.host);
        command.arg("run").arg(&self.plugin);
        for scope in &run.grants {
            command.args(["--grant", scope]);
        }
        if let Some(input) = &run.input {
            command.args(["--input", &input.to_string()]);
        }
        for (key, value) in &run.sets {
            command.args(["--set", &format!("{key}={value}")]);
        }
        command
            .arg("--audit-log")
            .arg(&audit_log)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(&run.args)
            .env_clear()
            .env("FALCON_CLIENT_ID", &client.client_id)
            .env("FALCON_CLIENT_SECRET", &client.client_secret)
            .env("FALCON_CLOUD", format!("http://{}", server.addr))
            .env("RUST_BACKTRACE", "0")
            .envs(run.env.iter().map(|(k, v)| (k, v)));
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        let output = command.output().map_err(|e| {
            HarnessError::new(format!(
                "failed to start the host `{}`: {e}",
                self.host.display()
            ))
        });

        runtime.block_on(server.stop());
        let output = output?;
        let requests = std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()));
        let audit = std::fs::read_to_string(&audit_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Ok(Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            requests,
            audit,
            tenant: emulator.tenant(),
        })
    }
}

/// One run's settings: the tenant, the grants, the input, extra flags.
/// Nothing is granted by default.
///
/// ```
/// use falcon_sdk::testing::{Run, TenantSpec};
/// let run = Run::new()
///     .tenant(TenantSpec { seed: 7, users: 10, ..TenantSpec::demo() })
///     .grant("users:read")
///     .grant("roles:read")
///     .set("inactive_days", "30")
///     .arg("--max-calls=50");
/// # let _ = run;
/// ```
#[derive(Debug, Clone)]
pub struct Run {
    spec: TenantSpec,
    grants: Vec<String>,
    input: Option<Value>,
    sets: Vec<(String, String)>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    api_scopes: Option<Vec<String>>,
    faults: Faults,
}

impl Default for Run {
    fn default() -> Self {
        Self::new()
    }
}

impl Run {
    /// The demo tenant ([`TenantSpec::demo`]), no grant, no input, a
    /// full-access API client, no faults.
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new();
    /// # let _ = run;
    /// ```
    pub fn new() -> Self {
        Self {
            spec: TenantSpec::demo(),
            grants: Vec::new(),
            input: None,
            sets: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            api_scopes: None,
            faults: Faults::default(),
        }
    }

    /// The tenant to generate; the same spec gives the same tenant.
    ///
    /// ```
    /// use falcon_sdk::testing::{Run, TenantSpec};
    /// let run = Run::new().tenant(TenantSpec { seed: 7, users: 500, ..TenantSpec::demo() });
    /// # let _ = run;
    /// ```
    pub fn tenant(mut self, spec: TenantSpec) -> Self {
        self.spec = spec;
        self
    }

    /// Grants a scope (`--grant`), for example `users:read`.
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new().grant("hosts:read");
    /// # let _ = run;
    /// ```
    pub fn grant(mut self, scope: &str) -> Self {
        self.grants.push(scope.to_owned());
        self
    }

    /// The input object (`--input`).
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new()
    ///     .input(serde_json::json!({"format": "json", "inactive_days": 30}));
    /// # let _ = run;
    /// ```
    pub fn input(mut self, input: Value) -> Self {
        self.input = Some(input);
        self
    }

    /// Sets one input field (`--set key=value`), on top of [`Run::input`].
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new().set("format", "json").set("days", 30);
    /// # let _ = run;
    /// ```
    pub fn set(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.sets.push((key.to_owned(), value.to_string()));
        self
    }

    /// Adds a flag to `host run`, for example `--dry-run` or
    /// `--approve=hosts.contain`.
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new()
    ///     .arg("--set-file")
    ///     .arg("previous=tests/data/last.json");
    /// # let _ = run;
    /// ```
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable of the host process (which otherwise
    /// gets only `PATH` and the emulator's credentials).
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new().env("RUST_LOG", "host=debug");
    /// # let _ = run;
    /// ```
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Gives the emulator's API client only these Falcon API scopes (for
    /// example `usermgmt:read`) instead of full access, to test how the
    /// plugin reports a client that lacks one.
    ///
    /// ```
    /// let run = falcon_sdk::testing::Run::new()
    ///     .grant("users:read")
    ///     .api_scopes(&["hosts:read"]);
    /// # let _ = run;
    /// ```
    pub fn api_scopes(mut self, scopes: &[&str]) -> Self {
        self.api_scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Switches on emulator faults: latency, server errors, rate-limit
    /// storms.
    ///
    /// ```
    /// use falcon_sdk::testing::{Faults, Run};
    /// let run = Run::new().faults(Faults { server_error_percent: 20, ..Faults::default() });
    /// # let _ = run;
    /// ```
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The host's exit code (0: the plugin returned its report; 1: it
    /// reported a failure; 3: a scope was not granted; see `host run --help`).
    pub code: i32,
    /// The report.
    pub stdout: String,
    /// The host's messages, the plugin's log lines and the run summary.
    pub stderr: String,
    /// Every HTTP request the emulator received, in order, token requests
    /// included.
    pub requests: Vec<Request>,
    /// The audit log's records of the run, one JSON object per line.
    pub audit: Vec<Value>,
    /// The tenant after the run, with any change the plugin made.
    pub tenant: Tenant,
}

impl Outcome {
    /// The report parsed as JSON.
    ///
    /// ```no_run
    /// use falcon_sdk::testing::{Harness, Run};
    /// let harness = Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
    /// let run = harness.run(&Run::new().grant("hosts:read").set("format", "json")).unwrap();
    /// let report = run.json().unwrap();
    /// # let _ = report;
    /// ```
    ///
    /// # Errors
    ///
    /// The report is not JSON; the message shows its start and the host's
    /// messages.
    pub fn json(&self) -> Result<Value, HarnessError> {
        serde_json::from_str(&self.stdout).map_err(|e| {
            let start: String = self.stdout.chars().take(400).collect();
            HarnessError::new(format!(
                "the report is not JSON ({e}); it starts with:\n{start}\nhost messages:\n{}",
                self.stderr
            ))
        })
    }

    /// The requests to paths starting with `prefix`, for example
    /// `/user-management/`.
    ///
    /// ```no_run
    /// use falcon_sdk::testing::{Harness, Run};
    /// let harness = Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap();
    /// let run = harness.run(&Run::new().grant("hosts:read")).unwrap();
    /// assert!(run.requests_to("/devices/").iter().all(|r| r.method == "GET" || r.method == "POST"));
    /// ```
    pub fn requests_to(&self, prefix: &str) -> Vec<&Request> {
        self.requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }
}

/// One HTTP request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, for example `/user-management/queries/users/v1`.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The response's status code.
    pub status: u16,
}

/// The emulator behind a recording layer, served on `127.0.0.1:0`.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn stop(self) {
        self.stop.send(()).ok();
        // The host has exited, so no request is open; an error here would
        // only say the server already stopped.
        let _ = self.task.await;
    }
}

async fn serve(emulator: &Emulator, log: Arc<Mutex<Vec<Request>>>) -> std::io::Result<Server> {
    use axum::extract::Request as HttpRequest;
    use axum::middleware::{self, Next};

    let app = emulator.router().layer(middleware::from_fn(
        move |request: HttpRequest, next: Next| {
            let log = Arc::clone(&log);
            async move {
                let method = request.method().to_string();
                let path = request.uri().path().to_owned();
                let query = request.uri().query().map(str::to_owned);
                let response = next.run(request).await;
                log.lock().unwrap_or_else(|p| p.into_inner()).push(Request {
                    method,
                    path,
                    query,
                    status: response.status().as_u16(),
                });
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            stopped.await.ok();
        })
        .await
    });
    Ok(Server { addr, stop, task })
}

/// A directory for one run's audit log, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, HarnessError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "falcon-harness-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| {
            HarnessError::new(format!(
                "failed to create the scratch directory `{}`: {e}",
                dir.display()
            ))
        })?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the crate once per process and profile; later calls reuse the path.
fn build_plugin(manifest: &Path, profile: &str) -> Result<PathBuf, HarnessError> {
    static BUILT: OnceLock<Mutex<HashMap<(PathBuf, String), PathBuf>>> = OnceLock::new();
    let key = (manifest.to_path_buf(), profile.to_owned());
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(&key) {
        return Ok(path.clone());
    }
    let output = cargo()
        .args([
            "build",
            "--lib",
            "--target",
            "wasm32-wasip2",
            "--profile",
            profile,
        ])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|e| HarnessError::new(format!("failed to run cargo: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let hint =
            if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
                "\ninstall the target with `rustup target add wasm32-wasip2`"
            } else {
                ""
            };
        return Err(HarnessError::new(format!(
            "failed to build the plugin `{}` for wasm32-wasip2:\n{stderr}{hint}",
            manifest.display()
        )));
    }
    let wanted = std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    let wasm = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"]
                .as_str()
                .is_some_and(|p| std::fs::canonicalize(p).is_ok_and(|p| p == wanted))
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| {
            HarnessError::new(format!(
                "cargo built `{}` but produced no .wasm; the crate needs \
                 `[lib] crate-type = [\"cdylib\"]`",
                manifest.display()
            ))
        })?;
    built.insert(key, wasm.clone());
    Ok(wasm)
}

/// The host binary: `FALCON_HOST_BIN`, one built from the workspace the
/// plugin is in, or a Falcon `host` on `PATH`.
fn find_host(manifest: &Path) -> Result<PathBuf, HarnessError> {
    static FOUND: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let mut found = FOUND
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(host) = found.get(manifest) {
        return Ok(host.clone());
    }
    let host = locate_host(manifest)?;
    found.insert(manifest.to_path_buf(), host.clone());
    Ok(host)
}

fn locate_host(manifest: &Path) -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os("FALCON_HOST_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::new(format!(
                "FALCON_HOST_BIN is `{}`, which is not a file; build the host \
                 (`cargo build -p host`) or point FALCON_HOST_BIN at it",
                path.display()
            )))
        };
    }
    // The workspace's host before PATH's: a plugin inside the host's own
    // workspace is tested against the source next to it, not against an
    // older installed copy.
    if let Some(path) = build_workspace_host(manifest)? {
        return Ok(path);
    }
    if let Some(path) = host_on_path() {
        return Ok(path);
    }
    Err(HarnessError::new(
        "no `host` binary found: set FALCON_HOST_BIN to its path, put it on PATH, \
         or test from inside the workspace that holds its source",
    ))
}

fn host_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("host"))
        .filter(|candidate| candidate.is_file())
        .find(|candidate| {
            // Not every `host` is ours: the DNS lookup tool has the same name.
            Command::new(candidate)
                .arg("--help")
                .output()
                .is_ok_and(|out| {
                    String::from_utf8_lossy(&out.stdout).contains("Falcon automation plugins")
                })
        })
}

/// `cargo build -p host` in the plugin's workspace, when it has the host.
fn build_workspace_host(manifest: &Path) -> Result<Option<PathBuf>, HarnessError> {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|e| HarnessError::new(format!("failed to run cargo metadata: {e}")))?;
    if !output.status.success() {
        return Ok(None);
    }
    let Ok(metadata) = serde_json::from_slice::<Value>(&output.stdout) else {
        return Ok(None);
    };
    let has_host = metadata["packages"].as_array().is_some_and(|packages| {
        packages.iter().any(|p| {
            p["name"] == "host"
                && p["targets"].as_array().is_some_and(|targets| {
                    targets
                        .iter()
                        .any(|t| t["name"] == "host" && t["kind"][0] == "bin")
                })
        })
    });
    let (Some(root), Some(target), true) = (
        metadata["workspace_root"].as_str(),
        metadata["target_directory"].as_str(),
        has_host,
    ) else {
        return Ok(None);
    };
    let status = cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "host",
            "--bin",
            "host",
            "--manifest-path",
        ])
        .arg(Path::new(root).join("Cargo.toml"))
        .status()
        .map_err(|e| HarnessError::new(format!("failed to run cargo: {e}")))?;
    if !status.success() {
        return Err(HarnessError::new(format!(
            "failed to build the host in `{root}` ({status})"
        )));
    }
    Ok(Some(Path::new(target).join("debug").join("host")))
}
