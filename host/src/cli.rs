//! The command line: one flag table for `-h`, `--help` and the docs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::units::{parse_duration, parse_size};

/// Runs CrowdStrike Falcon automation plugins in a sandbox.
///
/// Plugins are WebAssembly components. The host alone holds the Falcon
/// credentials; a plugin reaches the API only through the host, and only
/// with the scopes you grant it.
#[derive(Debug, Parser)]
#[command(name = "host", version, propagate_version = true, max_term_width = 100)]
#[command(after_long_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Print more diagnostics on stderr (-v: debug, -vv: trace); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Print only results and errors: no progress, no notes (for `run`: only the
    /// plugin's report and errors, no summary, no plugin log lines).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,

    /// The config file (TOML). Defaults to FALCON_HOST_CONFIG, then
    /// `$XDG_CONFIG_HOME/falcon-plugin-host/config.toml` if it exists.
    /// Environment variables override it.
    #[arg(long, global = true, value_name = "PATH", env = "FALCON_HOST_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

// Parsed once per process; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a plugin against a Falcon tenant.
    ///
    /// Credentials come from the environment: FALCON_CLIENT_ID,
    /// FALCON_CLIENT_SECRET, FALCON_CLOUD and FALCON_MEMBER_CID. With --demo
    /// the host starts its built-in emulator on loopback instead and needs no
    /// credentials.
    ///
    /// Every scope the plugin requests must be granted with --grant, or the
    /// plugin does not start.
    #[command(after_long_help = EXIT_CODES)]
    Run(RunArgs),

    /// Show what a plugin is and asks for: name, version, digest, requested
    /// scopes with their tiers, contract version, size, and whether it is
    /// granted. Reads the component without running it.
    Inspect {
        /// The plugin component (`.wasm`).
        plugin: PathBuf,
        /// The grants file; see `host run --help`.
        #[arg(long = "grants", value_name = "PATH", env = "FALCON_HOST_GRANTS")]
        grants_file: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Grant a plugin its requested scopes in the grants file, pinned to the
    /// component's sha256. Shows only what changed.
    Grant {
        /// The plugin component (`.wasm`).
        plugin: PathBuf,
        /// Grant only these of the requested scopes (repeatable). Falcon scopes and
        /// notification destinations are chosen apart: naming only destinations
        /// (`notify:NAME`) keeps every requested Falcon scope. By default every requested
        /// scope, and no destination of a plugin that requests `notify:*`.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The grants file; see `host run --help`.
        #[arg(long = "grants", value_name = "PATH", env = "FALCON_HOST_GRANTS")]
        grants_file: Option<PathBuf>,
    },

    /// Remove a plugin's grant from the grants file.
    Revoke {
        /// The plugin's name, as `host grants` lists it.
        name: String,
        /// The grants file; see `host run --help`.
        #[arg(long = "grants", value_name = "PATH", env = "FALCON_HOST_GRANTS")]
        grants_file: Option<PathBuf>,
    },

    /// List the grants in the grants file.
    Grants {
        /// The grants file; see `host run --help`.
        #[arg(long = "grants", value_name = "PATH", env = "FALCON_HOST_GRANTS")]
        grants_file: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Check the connection to Falcon as the integration guide's health check
    /// does (connect, list hosts, list detections, list users), and say what
    /// to do about each failure. Exits 0 when all pass, 5 otherwise.
    Check(CheckArgs),

    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Give a component built without the Rust SDK its manifest.
    #[command(subcommand)]
    Manifest(ManifestCommand),

    /// Serve a generated Falcon tenant on 127.0.0.1, for trying plugins
    /// without a real tenant. Prints a full-access and a read-only API client.
    Emulator(EmulatorArgs),

    /// Print a shell completion script, generated from these flag
    /// definitions: `host completions bash > /etc/bash_completion.d/host`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), generated from these flag definitions:
    /// `host man | man -l -`.
    Man,

    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Create a plugin crate: a working plugin (it counts hosts), a test that
    /// runs it in this host against the emulator, and a README. Then:
    /// `cd NAME && cargo test`, and `host run` on the built `.wasm`.
    ///
    /// Inside a workspace that has `falcon-sdk` in its dependencies (the
    /// host's own), the crate uses it and joins the workspace's members.
    /// Elsewhere it depends on --sdk-path or --sdk-git, by default on the
    /// `sdk` directory of the checkout this host was built from.
    New(NewArgs),
}

/// `host new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The plugin's name: lowercase letters, digits and dashes.
    pub(crate) name: String,

    /// Create the crate in this directory instead of `./NAME`.
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<PathBuf>,

    /// Depend on the SDK at this path (the `sdk` directory of a checkout).
    #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
    pub(crate) sdk_path: Option<PathBuf>,

    /// Depend on the SDK in this git repository.
    #[arg(long, value_name = "URL")]
    pub(crate) sdk_git: Option<String>,

    /// The commit, tag or branch of --sdk-git.
    #[arg(long, value_name = "REV", requires = "sdk_git")]
    pub(crate) sdk_rev: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ManifestCommand {
    /// Append the `falcon-plugin-manifest` section (name, version,
    /// description, requested scopes) to a component that has none, such
    /// as one built with componentize-py.
    #[command(disable_version_flag = true)]
    Set {
        /// The component (`.wasm`).
        plugin: PathBuf,
        /// The plugin's name: lowercase letters, digits and dashes.
        #[arg(long)]
        name: String,
        /// The plugin's version.
        #[arg(long)]
        version: String,
        /// What the plugin does, in one line.
        #[arg(long, default_value = "")]
        description: String,
        /// A scope the plugin requests; repeat for each.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Write the result here instead of changing the component in place.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration, secrets masked, and where each
    /// value came from (command line, environment, config file, default).
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain: report every edited, deleted or
    /// truncated line. Exits 0 when the log is intact, 1 when it is not.
    Verify {
        /// The log; defaults to FALCON_HOST_AUDIT_LOG, then the default path.
        #[arg(value_name = "PATH", env = "FALCON_HOST_AUDIT_LOG")]
        log: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plugin: a WebAssembly component (`.wasm`).
    pub(crate) plugin: PathBuf,

    /// Run against the built-in demo tenant: an emulated Falcon API on 127.0.0.1.
    #[arg(long)]
    pub(crate) demo: bool,

    /// Grant the plugin a scope, for example `users:read`. Repeat for each scope, or give
    /// several separated by commas (`users:read,roles:read`).
    #[arg(long = "grant", value_name = "SCOPE")]
    pub(crate) grants: Vec<String>,

    /// Perform no write: record each write the plugin attempts, with its
    /// targets, and print that plan at the end.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Approve a destructive operation for this run, for example
    /// `hosts.contain`. Repeatable. Without it, destructive writes are refused
    /// (or asked for at a terminal prompt).
    #[arg(long = "approve", value_name = "OPERATION")]
    pub(crate) approve: Vec<String>,

    /// Give the plugin one directory, read-write, which it sees as `/output`.
    /// Nothing else of the filesystem is visible, and neither `..` nor a
    /// symbolic link leads out of it. The directory must exist.
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,

    /// The grants file (TOML). Defaults to FALCON_HOST_GRANTS, then
    /// `$XDG_CONFIG_HOME/falcon-plugin-host/grants.toml` (or `~/.config/...`).
    #[arg(long = "grants", value_name = "PATH", env = "FALCON_HOST_GRANTS")]
    pub(crate) grants_file: Option<PathBuf>,

    /// The plugin's input as a JSON object.
    #[arg(long, value_name = "JSON", conflicts_with = "input_file")]
    pub(crate) input: Option<String>,

    /// Read the plugin's input (a JSON object) from a file.
    #[arg(long, value_name = "PATH")]
    pub(crate) input_file: Option<PathBuf>,

    /// Set one input field, for example `format=json`. Repeatable; applied
    /// on top of --input. Values that parse as JSON (numbers, true, lists)
    /// are taken as JSON, anything else as a string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) sets: Vec<String>,

    /// Set one input field to the text of a file, for example
    /// `previous=last-audit.json` to hand a plugin an earlier report.
    /// Repeatable; applied after --set. The plugin itself reads no file.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub(crate) set_files: Vec<String>,

    /// The Falcon cloud: us-1, us-2, eu-1, us-gov-1, us-gov-2 or a base URL.
    /// Defaults to FALCON_CLOUD, then us-1.
    #[arg(long, value_name = "CLOUD")]
    pub(crate) cloud: Option<String>,

    /// The audit log (JSON lines, hash-chained). Defaults to
    /// `$XDG_STATE_HOME/falcon-plugin-host/audit.jsonl` (or `~/.local/state/...`).
    #[arg(long, value_name = "PATH", env = "FALCON_HOST_AUDIT_LOG")]
    pub(crate) audit_log: Option<PathBuf>,

    /// Where compiled plugins are cached. Defaults to
    /// `$XDG_CACHE_HOME/falcon-plugin-host/components` (or `~/.cache/...`).
    #[arg(long, value_name = "DIR", env = "FALCON_HOST_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,

    /// Compile the plugin even if a compiled copy is cached, and cache nothing.
    #[arg(long)]
    pub(crate) no_cache: bool,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// `host check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Check the built-in demo tenant instead of the configured one.
    #[arg(long)]
    pub(crate) demo: bool,

    /// The Falcon cloud: us-1, us-2, eu-1, us-gov-1, us-gov-2 or a base URL.
    /// Defaults to FALCON_CLOUD, then us-1.
    #[arg(long, value_name = "CLOUD")]
    pub(crate) cloud: Option<String>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `host emulator`: the tenant's size and the emulator's behaviour.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// The loopback port; 0 picks a free one.
    #[arg(long, default_value_t = 8787)]
    pub(crate) port: u16,

    /// The seed the tenant is generated from; the same seed gives the same tenant.
    #[arg(long, default_value_t = 2026)]
    pub(crate) seed: u64,

    /// Console users.
    #[arg(long, default_value_t = 64)]
    pub(crate) users: usize,

    /// Hosts (devices).
    #[arg(long, default_value_t = 120)]
    pub(crate) hosts: usize,

    /// Alerts.
    #[arg(long, default_value_t = 300)]
    pub(crate) alerts: usize,

    /// Incidents grouping alerts.
    #[arg(long, default_value_t = 30)]
    pub(crate) incidents: usize,

    /// Custom IOCs.
    #[arg(long, default_value_t = 40)]
    pub(crate) iocs: usize,

    /// The cloud named in the token response's `X-Cs-Region` header. The
    /// default names no real cloud on purpose: SDKs that autodiscover (FalconPy
    /// does) would otherwise leave the emulator for the real cloud of that name.
    #[arg(long, default_value = "emulator")]
    pub(crate) region: String,

    /// Lifetime of access tokens.
    #[arg(long, value_name = "DURATION", default_value = "1799s", value_parser = parse_duration)]
    pub(crate) token_lifetime: Duration,

    /// Lifetime of scroll and `after` cursors.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub(crate) cursor_lifetime: Duration,

    /// Requests per minute before 429s.
    #[arg(long, value_name = "N", default_value_t = 6000)]
    pub(crate) rate_limit: u32,

    /// Fault: latency added to every response.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) latency: Option<Duration>,

    /// Fault: percentage (0-100) of API requests answered with a 5xx.
    #[arg(long, value_name = "PERCENT", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub(crate) server_errors: u8,

    /// Fault: answer every request with 429, as in a rate-limit storm.
    #[arg(long)]
    pub(crate) rate_limit_storm: bool,

    /// Fault: the body of error responses.
    #[arg(long, value_enum, default_value_t = ErrorBodyArg::Json)]
    pub(crate) error_body: ErrorBodyArg,

    /// Fault: send empty lists as `null`.
    #[arg(long)]
    pub(crate) null_lists: bool,

    /// Generate the tenant, print its size and how long that took, and exit
    /// without serving (for benchmarks).
    #[arg(long)]
    pub(crate) generate_only: bool,
}

/// `--error-body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ErrorBodyArg {
    Json,
    Html,
    Text,
    Empty,
}

impl From<ErrorBodyArg> for falcon_emulator::ErrorBody {
    fn from(arg: ErrorBodyArg) -> Self {
        match arg {
            ErrorBodyArg::Json => Self::Json,
            ErrorBodyArg::Html => Self::Html,
            ErrorBodyArg::Text => Self::Text,
            ErrorBodyArg::Empty => Self::Empty,
        }
    }
}

/// The sandbox limits; each has a default.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Wall-clock limit of the whole run [default: 5m, or the plugin's grant].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// Time limit of one call from the plugin into the host [default: 60s, or the plugin's grant].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) call_timeout: Option<Duration>,

    /// Memory limit: all of the plugin's linear memories together [default: 256MiB, or the
    /// plugin's grant].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_memory: Option<u64>,

    /// Output limit: bytes the plugin may write to each of stdout, stderr and the log
    /// [default: 1MiB, or the plugin's grant].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_output: Option<u64>,

    /// Limit on the plugin's calls into the Falcon API through the host [default: 10000, or the
    /// plugin's grant].
    #[arg(long, value_name = "N")]
    pub(crate) max_calls: Option<u64>,

    /// Meter the plugin with this much fuel (for deterministic tests); unmetered by default.
    #[arg(long, value_name = "N")]
    pub(crate) fuel: Option<u64>,
}

/// The exit-code table, shown by `--help` and documented in the README.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  the plugin ran and returned its report
  1  the plugin ran and reported a failure
  2  usage or configuration error: bad flags or input, unreadable plugin, missing credentials
  3  the plugin requests a scope that was not granted; it did not start
  4  the plugin was stopped: it broke a limit (time, memory, output, fuel) or crashed
  5  the Falcon API could not be reached or refused the credentials
  6  the host itself failed";

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_flag_table_is_consistent() {
        // Catches duplicate names and bad defaults at test time rather than
        // as a panic in front of an operator.
        super::Cli::command().debug_assert();
    }
}
