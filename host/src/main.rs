//! `host`: runs CrowdStrike Falcon automation plugins in a capability sandbox.
//!
//! `main` owns rendering and exit codes; the steps of a run live in `run.rs`.

/// `println!` for command output: a closed pipe (`host grants | head -1`)
/// ends the process quietly with success instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: failed to write to stdout: {e}");
            std::process::exit(6);
        }
    }};
}

mod api;
mod approval;
mod audit;
mod bindings;
mod cache;
mod check;
mod cli;
mod config;
mod demo;
mod emulator_cmd;
mod gate;
mod grant_cmd;
mod grants;
mod input;
mod inspect;
mod manifest;
mod manifest_cmd;
mod new_cmd;
mod notify;
mod output;
mod routes;
mod run;
mod sandbox;
mod scopes;
mod tenant;
mod units;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{AuditCommand, Cli, Command, ConfigCommand, ManifestCommand};

/// The documented exit codes (see `cli::EXIT_CODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    PluginFailed = 1,
    Usage = 2,
    NotGranted = 3,
    Stopped = 4,
    Falcon = 5,
    Host = 6,
}

/// A failure to report to the operator, with its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(Exit::Host as u8);
        }
    };
    let result = runtime.block_on(async {
        config::init(cli.config.as_deref())?;
        match cli.command {
            Command::Run(args) => run::run(args, cli.quiet).await,
            Command::Emulator(args) => emulator_cmd::serve(args).await,
            Command::Check(args) => check::check(args, cli.quiet).await,
            Command::Completions { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut command, "host", &mut std::io::stdout());
                Ok(Exit::Ok)
            }
            Command::Man => {
                let command = <Cli as clap::CommandFactory>::command();
                let mut page = Vec::new();
                clap_mangen::Man::new(command)
                    .render(&mut page)
                    .map_err(|e| {
                        Failure::new(Exit::Host, format!("failed to render the man page: {e}"))
                    })?;
                say!("{}", String::from_utf8_lossy(&page).trim_end());
                Ok(Exit::Ok)
            }
            Command::Config(ConfigCommand::Show { json }) => Ok(config::get().show(json)),
            Command::Manifest(ManifestCommand::Set {
                plugin,
                name,
                version,
                description,
                scopes,
                output,
            }) => {
                let new = manifest_cmd::NewManifest {
                    name: &name,
                    version: &version,
                    description: &description,
                    scopes: &scopes,
                };
                manifest_cmd::set(&plugin, output.as_deref(), &new)
            }
            Command::Audit(AuditCommand::Verify { log, json }) => verify_audit(log, json),
            Command::Grant {
                plugin,
                scopes,
                grants_file,
            } => grant_cmd::grant(&plugin, &scopes, grants_file.as_deref()),
            Command::Revoke { name, grants_file } => {
                grant_cmd::revoke(&name, grants_file.as_deref())
            }
            Command::Grants { grants_file, json } => grant_cmd::list(grants_file.as_deref(), json),
            Command::Inspect {
                plugin,
                grants_file,
                json,
            } => inspect::inspect(&plugin, grants_file.as_deref(), json),
            Command::New(args) => new_cmd::create(&new_cmd::NewPlugin {
                name: &args.name,
                path: args.path.as_deref(),
                sdk_path: args.sdk_path.as_deref(),
                sdk_git: args.sdk_git.as_deref(),
                sdk_rev: args.sdk_rev.as_deref(),
            }),
        }
    });
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.exit as u8)
        }
    }
}

/// An error with its causes, `outer: inner: innermost`, skipping a cause
/// whose text the previous one already contains.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// `host audit verify`: prints the verdict; exit 1 when the log is broken.
fn verify_audit(log: Option<std::path::PathBuf>, as_json: bool) -> Result<Exit, Failure> {
    let path = config::get()
        .audit_log(log.as_deref())
        .map(|s| s.value)
        .ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                "no audit log given and HOME is not set; pass the log's path",
            )
        })?;
    if !path.exists() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "there is no audit log at `{}`; check the path",
                path.display()
            ),
        ));
    }
    let report = audit::verify(&path).map_err(|e| Failure::new(Exit::Usage, format!("{e:#}")))?;
    let intact = report.problems.is_empty();
    if as_json {
        let out = serde_json::json!({
            "log": path.display().to_string(),
            "lines": report.lines,
            "intact": intact,
            "problems": report.problems,
        });
        say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(if intact { Exit::Ok } else { Exit::PluginFailed });
    }
    if report.problems.is_empty() {
        say!(
            "audit log `{}`: {} lines, chain intact",
            path.display(),
            report.lines
        );
        Ok(Exit::Ok)
    } else {
        let count = report.problems.len();
        say!(
            "audit log `{}`: {} lines, {count} {}",
            path.display(),
            report.lines,
            if count == 1 { "problem" } else { "problems" }
        );
        for problem in &report.problems {
            say!("  {problem}");
        }
        Ok(Exit::PluginFailed)
    }
}

/// Diagnostics go to stderr through `tracing`; user messages do not.
fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // The client's own retries are diagnostics, not news: a failure
        // that survives them reaches the operator as an error message.
        (false, 0) => "warn,falcon=error",
        (false, 1) => "host=debug,falcon=debug,falcon_emulator=info,warn",
        // Not a bare `trace`: cranelift alone would print millions of lines.
        (false, _) => "host=trace,falcon=trace,falcon_emulator=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
