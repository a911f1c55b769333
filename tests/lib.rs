//! Helpers for the end-to-end tests: build the real `host` binary and real
//! plugins from source, start the emulator on loopback, run the host as a
//! separate process the way an operator would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn cargo(args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root())
        .status()
        .unwrap_or_else(|e| panic!("failed to run cargo {args:?}: {e}"));
    assert!(status.success(), "cargo {args:?} failed with {status}");
}

/// The `host` binary, built once per test process so that it is never stale.
pub fn host_bin() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        cargo(&["build", "--quiet", "-p", "host", "--bin", "host"]);
        target_dir().join("debug").join("host")
    })
}

/// Builds the plugin crates once per test process (`wasm32-wasip2`,
/// profile `plugin`) and copies shipped plugins to `plugins/<name>.wasm`.
fn build_plugins() -> &'static () {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo(&[
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "-p",
            "access-audit",
            "-p",
            "sensor-health",
            "-p",
            "onboarding-check",
            "-p",
            "offboarding",
            "-p",
            "helpdesk-context",
            "-p",
            "incident-response",
            "-p",
            "weekly-report",
            "-p",
            "sandbox-probe",
            "-p",
            "contain-hosts",
            "-p",
            "api-probe",
            "-p",
            "notify-probe",
            "-p",
            "contract-tour",
            "-p",
            "contract-readonly",
            "-p",
            "contract-tour-ops",
        ]);
        for shipped in [
            "access-audit",
            "sensor-health",
            "onboarding-check",
            "offboarding",
            "helpdesk-context",
            "incident-response",
            "weekly-report",
        ] {
            let from = wasm_output(shipped);
            let to = root().join("plugins").join(format!("{shipped}.wasm"));
            std::fs::copy(&from, &to).unwrap_or_else(|e| {
                panic!("failed to copy {} to {}: {e}", from.display(), to.display())
            });
        }
    })
}

fn wasm_output(crate_name: &str) -> PathBuf {
    target_dir()
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// A shipped plugin, as the README runs it: `plugins/<name>.wasm`.
pub fn shipped_plugin(name: &str) -> PathBuf {
    build_plugins();
    root().join("plugins").join(format!("{name}.wasm"))
}

/// A test plugin from `tests/plugins/<name>`.
pub fn test_plugin(name: &str) -> PathBuf {
    build_plugins();
    wasm_output(name)
}

/// A hostile plugin, `tests/hostile/plugins/<name>.rs` (dashes in `name`
/// for underscores). Every hostile plugin is an example of the `hostile`
/// crate, so one cargo invocation per test process builds them all.
pub fn hostile_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo(&[
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "-p",
            "hostile",
            "--examples",
        ]);
    });
    let file = name.replace('-', "_");
    let path = target_dir()
        .join("wasm32-wasip2")
        .join("plugin")
        .join("examples")
        .join(format!("{file}.wasm"));
    assert!(
        path.exists(),
        "no hostile plugin `{name}`: add tests/hostile/plugins/{file}.rs and its [[example]]"
    );
    path
}

/// What one `host` process did.
#[derive(Debug)]
pub struct HostRun {
    /// The exit code.
    pub code: i32,
    /// Standard output: the report.
    pub stdout: String,
    /// Standard error: messages, plugin log lines, summary.
    pub stderr: String,
}

impl From<Output> for HostRun {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `host` with `args` and only the given environment (plus `PATH`), so
/// that nothing from the developer's shell leaks into a test.
pub fn run_host(args: &[&str], env: &[(&str, &str)]) -> HostRun {
    let mut cmd = Command::new(host_bin());
    cmd.args(args).current_dir(root()).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("failed to start {}: {e}", host_bin().display()))
        .into()
}

/// An emulator in the test process, served on 127.0.0.1, with one API
/// client the host authenticates as. Every end-to-end test file runs the
/// host against one of these.
pub struct Tenancy {
    emulator: Option<falcon_emulator::RunningEmulator>,
    client: falcon_emulator::ApiClient,
    runtime: tokio::runtime::Runtime,
}

impl Tenancy {
    /// A tenant generated from `spec`, with a full-access API client.
    pub fn start(spec: &falcon_emulator::TenantSpec) -> Self {
        Self::start_with(
            spec,
            falcon_emulator::EmulatorConfig::default(),
            falcon_emulator::ApiClient::full_access(),
        )
    }

    /// A tenant generated from `spec`, served with `config`, with `client`
    /// as the host's API client.
    pub fn start_with(
        spec: &falcon_emulator::TenantSpec,
        config: falcon_emulator::EmulatorConfig,
        client: falcon_emulator::ApiClient,
    ) -> Self {
        Self::serve_with(falcon_emulator::Tenant::generate(spec), config, client)
    }

    /// Serves `tenant` (generated, then changed by the test) with a
    /// full-access API client.
    pub fn serve(tenant: falcon_emulator::Tenant) -> Self {
        Self::serve_with(
            tenant,
            falcon_emulator::EmulatorConfig::default(),
            falcon_emulator::ApiClient::full_access(),
        )
    }

    /// Serves `tenant` with `config`, with `client` as the host's API client.
    pub fn serve_with(
        tenant: falcon_emulator::Tenant,
        config: falcon_emulator::EmulatorConfig,
        client: falcon_emulator::ApiClient,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let emulator = runtime.block_on(async {
            let emulator = falcon_emulator::Emulator::new(tenant, config);
            emulator.add_client(client.clone());
            emulator
                .serve("127.0.0.1:0".parse().expect("a socket address"))
                .await
                .expect("emulator starts")
        });
        Self {
            emulator: Some(emulator),
            client,
            runtime,
        }
    }

    /// The running emulator (fault switches, request counts).
    pub fn emulator(&self) -> &falcon_emulator::RunningEmulator {
        self.emulator
            .as_ref()
            .expect("the emulator runs until drop")
    }

    /// The tenant as the emulator holds it now.
    pub fn tenant(&self) -> falcon_emulator::Tenant {
        self.emulator().tenant()
    }

    /// The API client the host authenticates as.
    pub fn client(&self) -> &falcon_emulator::ApiClient {
        &self.client
    }

    /// The environment an operator would set for this tenant.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FALCON_CLIENT_ID", self.client.client_id.clone()),
            ("FALCON_CLIENT_SECRET", self.client.client_secret.clone()),
            ("FALCON_CLOUD", self.emulator().base_url()),
        ]
    }

    /// Runs the host against this tenant; fails the test if the client
    /// secret shows in its output.
    pub fn run(&self, args: &[&str]) -> HostRun {
        self.run_with(args, &[])
    }

    /// As [`Tenancy::run`], with more environment variables.
    pub fn run_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> HostRun {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra_env);
        let run = run_host(args, &all);
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(&self.client.client_secret),
                "the client secret leaked to {name}"
            );
        }
        run
    }
}

impl Drop for Tenancy {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenancy")
            .field("client_id", &self.client.client_id)
            .finish_non_exhaustive()
    }
}

/// Asserts that `text` contains `needle`, showing the whole text if not.
#[track_caller]
pub fn assert_has(text: &str, needle: impl AsRef<str>) {
    let needle = needle.as_ref();
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}
