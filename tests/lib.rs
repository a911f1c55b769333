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
            "sandbox-probe",
            "-p",
            "contain-hosts",
            "-p",
            "api-probe",
        ]);
        for shipped in ["access-audit", "sensor-health"] {
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
