//! `host run`: the steps of one run, from reading the component to the
//! least-privilege report.

use std::collections::BTreeSet;
use std::io::Write as _;

use crate::audit::{AuditLog, RunAudit};
use crate::cache::{ComponentCache, Origin};
use crate::cli::RunArgs;
use crate::gate::{Gate, Operation};
use crate::grants::{FileGrant, GrantsFile, short};
use crate::manifest::{Manifest, PluginFile};
use crate::sandbox::{Limits, RunSetup, Sandbox, Stop};
use crate::scopes::Scope;
use crate::{Exit, Failure};

/// Runs a plugin once and returns the exit code to use.
pub(crate) async fn run(args: RunArgs, quiet: bool) -> Result<Exit, Failure> {
    // 1. Read the component and its manifest; nothing is compiled or run yet.
    let path = args.plugin.display().to_string();
    let PluginFile {
        bytes,
        digest,
        manifest,
    } = match PluginFile::read_or_digest(&args.plugin) {
        Ok(file) => file,
        Err((failure, digest)) => return Err(refuse_unusable(&args, digest, failure, quiet)),
    };

    // 2. The operator's input: a typo fails here, before anything is recorded.
    let input = crate::input::build(
        args.input.as_deref(),
        args.input_file.as_deref(),
        &args.sets,
        &args.set_files,
    )
    .map_err(|e| Failure::new(Exit::Usage, e))?;

    if let Some(dir) = &args.output_dir
        && !dir.is_dir()
    {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--output-dir `{}` is not an existing directory; create it first",
                dir.display()
            ),
        ));
    }

    // 3. The audit trail: every run is recorded, refused ones included.
    let audit = open_audit(&args, &manifest.name, &digest, quiet)?;

    // 4. Resolve the grant before anything else can fail late.
    let file = load_grants(args.grants_file.as_deref())?;
    let found = file
        .as_ref()
        .map_or(FileGrant::None, |f| f.lookup(&manifest.name, &digest));
    let mut granted = parse_grants(&args.grants)?;
    let mut approved = parse_approvals(&args.approve)?;
    let mut limits = Limits::default();
    if let FileGrant::Pinned {
        scopes,
        approve,
        limits: overrides,
    } = &found
    {
        granted.extend(scopes.iter().copied());
        approved.extend(approve.iter().copied());
        overrides
            .apply(&mut limits)
            .map_err(|e| Failure::new(Exit::Usage, e))?;
    }
    // Flags override the grants file, which overrides the defaults.
    let flags = &args.limits;
    limits.timeout = flags.timeout.unwrap_or(limits.timeout);
    limits.call_timeout = flags.call_timeout.unwrap_or(limits.call_timeout);
    limits.max_memory = flags.max_memory.unwrap_or(limits.max_memory);
    limits.max_output = flags.max_output.unwrap_or(limits.max_output);
    limits.max_calls = flags.max_calls.unwrap_or(limits.max_calls);
    limits.fuel = flags.fuel;
    let context = GrantContext {
        file: file.as_ref(),
        found: &found,
        plugin_path: &path,
        digest: &digest,
    };
    let effective = match resolve_grant(&manifest, &granted, &context, quiet) {
        Ok(effective) => effective,
        Err(refusal) => {
            let missing: Vec<&str> = missing_scopes(&manifest, &granted)
                .iter()
                .map(|s| s.name())
                .collect();
            record(
                &audit,
                "run-refused",
                serde_json::json!({ "missing_scopes": missing }),
            )?;
            return Err(refusal);
        }
    };
    record(
        &audit,
        "run-start",
        serde_json::json!({
            "version": manifest.version,
            "requested_scopes": names(&manifest.scopes),
            "granted_scopes": names(&effective),
            "demo": args.demo,
            "output_dir": args.output_dir.as_ref().map(|d| d.display().to_string()),
            "dry_run": args.dry_run,
        }),
    )?;

    // 5. The tenant: the demo emulator, or real credentials from the environment.
    // From here on a failure still closes the run in the audit log.
    // Notification destinations granted to the plugin: their secrets are read
    // now, so that a missing one stops the run before the plugin starts.
    let notifier = crate::notify::Notifier::for_run(crate::config::get().notify(), &effective)
        .map(std::sync::Arc::new)
        .map_err(|e| not_run(&audit, Failure::new(Exit::Usage, e)))?;
    let (falcon, demo) = connect(&args, quiet)
        .await
        .map_err(|f| not_run(&audit, f))?;

    // 6. Compile and run in the sandbox.
    let sandbox = Sandbox::new(limits.fuel.is_some())
        .map_err(|e| not_run(&audit, Failure::new(Exit::Host, format!("{e:#}"))))?;
    let cache = if args.no_cache {
        None
    } else {
        crate::config::get()
            .cache_dir(args.cache_dir.as_deref())
            .map(|s| ComponentCache::new(s.value))
    };
    let loading = std::time::Instant::now();
    let (component, origin) = sandbox.load(&bytes, &digest, cache.as_ref()).map_err(|e| {
        let message = format!("the plugin `{path}` is not a valid component: {e:#}");
        not_run(&audit, Failure::new(Exit::Usage, message))
    })?;
    let load_time = loading.elapsed();
    let setup = RunSetup {
        gate: Gate::new(effective, limits.max_calls)
            .dry_run(args.dry_run)
            .approve(approved),
        interactive: !args.dry_run && crate::approval::terminal_present(),
        falcon: falcon.clone(),
        plugin_name: manifest.name.clone(),
        quiet,
        audit: audit.clone(),
        output_dir: args.output_dir.clone(),
        progress: progress_line(&manifest.name, quiet),
        notify: notifier,
    };
    let progress = setup.progress.clone();
    let outcome = sandbox.run(&component, setup, &input, &limits).await;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }

    // 7. Report: the plugin's own output, its result, then the summary.
    if !quiet {
        relay(&manifest.name, "stdout", &outcome.stdout);
        relay(&manifest.name, "stderr", &outcome.stderr);
    }
    let exit = match &outcome.result {
        Ok(report) => {
            write_report(report);
            Exit::Ok
        }
        Err(Stop::ReportedFailure { report, reason }) => {
            write_report(report);
            eprintln!(
                "error: plugin `{}` reported a failure: {}",
                manifest.name,
                plugin_text(reason)
            );
            Exit::PluginFailed
        }
        Err(Stop::PluginFailed(message)) => {
            eprintln!(
                "error: plugin `{}` failed: {}",
                manifest.name,
                plugin_text(message)
            );
            Exit::PluginFailed
        }
        Err(Stop::Limit(message)) => {
            eprintln!("error: plugin `{}` was stopped: {message}", manifest.name);
            Exit::Stopped
        }
        Err(Stop::Crashed(message)) => {
            eprintln!("error: plugin `{}` crashed: {message}", manifest.name);
            Exit::Stopped
        }
        Err(Stop::Incompatible(message)) => {
            eprintln!("error: cannot run plugin `{}`: {message}", manifest.name);
            Exit::Usage
        }
        Err(Stop::Host(message)) => {
            eprintln!("error: the host failed: {message}");
            Exit::Host
        }
    };
    if let Some(gate) = outcome.gate.as_ref().filter(|g| g.is_dry_run()) {
        print_plan(&falcon, gate).await;
    }
    // Every started run ends in the log, also when the sandbox could not be
    // set up (then no call was made).
    let (calls, denials, used) = outcome.gate.as_ref().map_or((0, 0, Vec::new()), |g| {
        (g.calls(), g.denials(), names(g.used()))
    });
    let fields = serde_json::json!({
        "outcome": outcome_name(&outcome.result),
        "exit": exit as u8,
        "calls": calls,
        "denials": denials,
        "used_scopes": used,
        "duration_ms": outcome.elapsed.as_millis() as u64,
    });
    record(&audit, "run-end", fields)?;
    if let (Some(audit), false) = (&audit, quiet) {
        eprintln!("host: recorded as run {} in the audit log", audit.run_id());
    }
    if !quiet && let Some(gate) = &outcome.gate {
        let started = Startup {
            origin,
            time: load_time,
        };
        summary(&manifest, &digest, started, gate, &granted, outcome.elapsed);
    }

    // 8. Leave nothing behind: revoke the token, stop the demo tenant.
    if let Err(e) = falcon.revoke().await {
        tracing::warn!("failed to revoke the API token: {e}");
    }
    if let Some(demo) = demo {
        demo.emulator.shutdown().await;
    }
    Ok(exit)
}

/// Opens the audit log named by `--audit-log`, `FALCON_HOST_AUDIT_LOG` or the
/// default path. A log that is configured but unusable stops the run: the
/// host does not act unaudited.
fn open_audit(
    args: &RunArgs,
    plugin: &str,
    digest: &str,
    quiet: bool,
) -> Result<Option<RunAudit>, Failure> {
    let Some(path) = crate::config::get()
        .audit_log(args.audit_log.as_deref())
        .map(|s| s.value)
    else {
        if !quiet {
            eprintln!("warning: no audit log: neither --audit-log nor HOME is set");
        }
        return Ok(None);
    };
    if let Some(dir) = &args.output_dir {
        refuse_log_inside(&path, dir)?;
    }
    let log = AuditLog::open(&path).map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!("{e:#}\nchoose another log with --audit-log PATH"),
        )
    })?;
    Ok(Some(RunAudit::new(log, plugin, digest)))
}

/// The name recorded for a component whose manifest could not be read.
const UNNAMED: &str = "(no usable manifest)";

/// Records a component that was read but has no usable manifest as a refused
/// run (under its digest, since it has no name), then returns the failure.
fn refuse_unusable(
    args: &RunArgs,
    digest: Option<String>,
    failure: Failure,
    quiet: bool,
) -> Failure {
    let Some(digest) = digest else {
        return failure;
    };
    let audit = match open_audit(args, UNNAMED, &digest, quiet) {
        Ok(audit) => audit,
        Err(audit_failure) => return audit_failure,
    };
    let fields = serde_json::json!({ "reason": failure.message });
    match record(&audit, "run-refused", fields) {
        Ok(()) => failure,
        Err(audit_failure) => audit_failure,
    }
}

/// The plugin may write anywhere in `--output-dir`: an audit log (or its
/// head file) inside it could be rewritten by the very plugin it records.
fn refuse_log_inside(log: &std::path::Path, output_dir: &std::path::Path) -> Result<(), Failure> {
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let dir = std::fs::canonicalize(output_dir).unwrap_or_else(|_| absolute(output_dir));
    // The log may not exist yet: resolve its directory, which must.
    let log = absolute(log);
    let parent = log
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| log.clone());
    if parent.starts_with(&dir) {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "the audit log `{}` is inside --output-dir `{}`, where the plugin may write; \
                 keep the log outside it (--audit-log PATH)",
                log.display(),
                output_dir.display()
            ),
        ));
    }
    Ok(())
}

fn record(audit: &Option<RunAudit>, event: &str, fields: serde_json::Value) -> Result<(), Failure> {
    match audit {
        Some(audit) => audit
            .record(event, fields)
            .map_err(|e| Failure::new(Exit::Host, format!("failed to write the audit log: {e:#}"))),
        None => Ok(()),
    }
}

/// A spinner with the calls made so far, on stderr, only on a terminal and
/// never with `--quiet`: scripts and logs get no control characters.
fn progress_line(plugin: &str, quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg}: {pos} calls into the host, {elapsed}",
    )
    .ok()?;
    let bar = indicatif::ProgressBar::new_spinner()
        .with_style(style)
        .with_message(format!("running {plugin}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// Closes a started run in the audit log when it fails before the plugin
/// runs; the failure itself is returned for the operator.
fn not_run(audit: &Option<RunAudit>, failure: Failure) -> Failure {
    let fields = serde_json::json!({
        "outcome": "not-run",
        "exit": failure.exit as u8,
        "reason": failure.message,
    });
    match record(audit, "run-end", fields) {
        Ok(()) => failure,
        Err(audit_failure) => audit_failure,
    }
}

fn outcome_name(result: &Result<String, Stop>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Stop::PluginFailed(_)) => "plugin-failed",
        Err(Stop::ReportedFailure { .. }) => "reported-failure",
        Err(Stop::Limit(_)) => "limit",
        Err(Stop::Crashed(_)) => "crashed",
        Err(Stop::Incompatible(_)) => "incompatible",
        Err(Stop::Host(_)) => "host-failed",
    }
}

fn names(scopes: &BTreeSet<Scope>) -> Vec<&'static str> {
    scopes.iter().map(|s| s.name()).collect()
}

/// Loads the grants file named by `--grants`, `FALCON_HOST_GRANTS` or the
/// default path; none when no path can be found.
pub(crate) fn load_grants(flag: Option<&std::path::Path>) -> Result<Option<GrantsFile>, Failure> {
    let Some(path) = crate::config::get().grants(flag).map(|s| s.value) else {
        return Ok(None);
    };
    GrantsFile::load(&path)
        .map(Some)
        .map_err(|e| Failure::new(Exit::Usage, e))
}

fn parse_approvals(flags: &[String]) -> Result<BTreeSet<Operation>, Failure> {
    flags
        .iter()
        .flat_map(|f| f.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Operation::parse_approval(s)
                .map_err(|e| Failure::new(Exit::Usage, format!("--approve: {e}")))
        })
        .collect()
}

fn parse_grants(flags: &[String]) -> Result<BTreeSet<Scope>, Failure> {
    flags
        .iter()
        .flat_map(|f| f.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Scope::parse_grant(s).map_err(|e| Failure::new(Exit::Usage, format!("--grant: {e}")))
        })
        .collect()
}

/// Where grants come from besides the flags, to explain a refusal.
struct GrantContext<'a> {
    file: Option<&'a GrantsFile>,
    found: &'a FileGrant,
    plugin_path: &'a str,
    digest: &'a str,
}

impl GrantContext<'_> {
    /// The grants-file side of a refusal: a stale pin, and the exact entry
    /// that `host grant` would write.
    fn teach(&self, manifest: &Manifest) -> String {
        let mut out = String::new();
        if let FileGrant::Stale { granted_sha256, .. } = self.found {
            out.push_str(&format!(
                "\nnote: the grants file pins `{}` to sha256 {}, but this component is {}: the \
                 plugin changed since it was granted, so its grant does not apply",
                manifest.name,
                short(granted_sha256),
                short(self.digest)
            ));
        }
        let scopes: Vec<String> = manifest.scopes.iter().map(|s| format!("\"{s}\"")).collect();
        let location = self.file.map_or_else(
            || "the grants file".to_owned(),
            |f| format!("`{}`", f.path.display()),
        );
        // Name the file in the command unless it is the default one, so the
        // suggestion writes where this run reads.
        let file_flag = self
            .file
            .filter(|f| Some(&f.path) != GrantsFile::default_path().as_ref())
            .map(|f| format!(" --grants {}", f.path.display()))
            .unwrap_or_default();
        out.push_str(&format!(
            "\nor grant this exact component for good with `host grant {}{file_flag}`, which writes \
             to {}:\n  [{}]\n  sha256 = \"{}\"\n  scopes = [{}]",
            self.plugin_path,
            location,
            manifest.name,
            self.digest,
            scopes.join(", ")
        ));
        out
    }
}

/// The scopes the plugin may use: requested and granted. A requested scope
/// that is not granted stops the run here, before any plugin code runs.
fn resolve_grant(
    manifest: &Manifest,
    granted: &BTreeSet<Scope>,
    grants: &GrantContext<'_>,
    quiet: bool,
) -> Result<BTreeSet<Scope>, Failure> {
    let missing = missing_scopes(manifest, granted);
    if !missing.is_empty() {
        let mut message = format!(
            "plugin `{}` requests {} that {} not granted; it was not started\n",
            manifest.name,
            plural(missing.len(), "scope", "scopes"),
            if missing.len() == 1 { "was" } else { "were" },
        );
        for scope in &missing {
            let info = scope.info();
            message.push_str(&format!(
                "  {:<28} {} (Falcon API client scope: {})\n",
                scope.name(),
                info.allows,
                info.console_name
            ));
        }
        let flags: Vec<String> = missing.iter().map(|s| s.flag()).collect();
        message.push_str(&format!(
            "to grant {}, run again with: {}",
            if missing.len() == 1 { "it" } else { "them" },
            flags.join(" ")
        ));
        message.push_str(&grants.teach(manifest));
        return Err(Failure::new(Exit::NotGranted, message));
    }
    let requested = |g: &Scope| manifest.scopes.iter().any(|r| r.covers(*g));
    let unrequested: Vec<&str> = granted
        .iter()
        .filter(|g| !requested(g))
        .map(|s| s.name())
        .collect();
    if !unrequested.is_empty() && !quiet {
        eprintln!(
            "note: plugin `{}` does not request {}; {} no effect",
            manifest.name,
            unrequested.join(", "),
            if unrequested.len() == 1 {
                "that grant has"
            } else {
                "those grants have"
            }
        );
    }
    Ok(granted.iter().copied().filter(requested).collect())
}

/// The requested scopes the operator did not grant. `notify:*` is never
/// missing: it allows whichever destinations were granted, none included.
fn missing_scopes(manifest: &Manifest, granted: &BTreeSet<Scope>) -> Vec<Scope> {
    manifest
        .scopes
        .iter()
        .copied()
        .filter(|s| !s.is_any_destination() && !granted.contains(s))
        .collect()
}

async fn connect(
    args: &RunArgs,
    quiet: bool,
) -> Result<(falcon::Client, Option<crate::demo::Demo>), Failure> {
    let (client, demo) = crate::tenant::client(args.demo, args.cloud.as_deref(), quiet).await?;
    // Authenticate now, so bad credentials are reported before the plugin
    // starts rather than as an error inside it.
    client.authenticate().await.map_err(|e| {
        Failure::new(
            Exit::Falcon,
            format!(
                "failed to authenticate to Falcon: {}\n{}",
                crate::chain(&e),
                crate::check::diagnose(&e).unwrap_or("run `host check` for a diagnosis")
            ),
        )
    })?;
    Ok((client, demo))
}

/// Shows what the plugin wrote to its own stdout and stderr, marked as its.
fn relay(plugin: &str, stream: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        eprintln!("[{plugin} {stream}] {clean}");
    }
}

/// The plugin's text on a host line: control characters become spaces and
/// further lines are indented, so that the plugin cannot move the cursor or
/// forge a line of the host's own (`host: ...`).
fn plugin_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Prints the report on stdout; a closed pipe (`| head`) is not an error.
/// Control characters other than line ends and tabs are dropped: a report is
/// text, and an escape sequence in it could rewrite the operator's terminal.
fn write_report(report: &str) {
    let mut chars = report.chars().peekable();
    let mut clean = String::with_capacity(report.len());
    while let Some(c) = chars.next() {
        // CRLF line ends (CSV) stay; a lone carriage return could overwrite
        // the line on a terminal.
        let keep =
            !c.is_control() || c == '\n' || c == '\t' || (c == '\r' && chars.peek() == Some(&'\n'));
        if keep {
            clean.push(c);
        }
    }
    let report = clean.as_str();
    let mut stdout = std::io::stdout().lock();
    let result = stdout.write_all(report.as_bytes()).and_then(|()| {
        if !report.ends_with('\n') {
            stdout.write_all(b"\n")?;
        }
        stdout.flush()
    });
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: failed to write the report: {e}");
    }
}

/// The dry run's plan: every write the plugin would have made, with its
/// targets named as clearly as the tenant allows. Printed even with
/// `--quiet`: it is what a dry run is for.
async fn print_plan(falcon: &falcon::Client, gate: &Gate) {
    let plan = gate.plan();
    if plan.is_empty() {
        eprintln!("host: dry run: the plugin attempted no write");
        return;
    }
    eprintln!(
        "host: dry run: nothing was changed; the plugin would have made {}:",
        plural(plan.len(), "write", "writes")
    );
    for write in plan {
        let op = write.operation;
        eprintln!(
            "  {} ({}) on {}:",
            op.name(),
            op.tier().name(),
            crate::gate::count(write.targets.len(), op.noun())
        );
        // Host names make the plan reviewable.
        for label in crate::approval::labels(falcon, op, &write.targets).await {
            eprintln!("    {label}");
        }
        if let Some(note) = &write.note {
            let clean: String = note
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            eprintln!("    note: {clean}");
        }
    }
}

/// How the plugin's code was obtained, and how long it took.
#[derive(Debug, Clone, Copy)]
struct Startup {
    origin: Origin,
    time: std::time::Duration,
}

/// The run summary and least-privilege report, on stderr.
fn summary(
    manifest: &Manifest,
    digest: &str,
    startup: Startup,
    gate: &Gate,
    granted: &BTreeSet<Scope>,
    elapsed: std::time::Duration,
) {
    let names = |set: &BTreeSet<Scope>| -> String {
        if set.is_empty() {
            "none".to_owned()
        } else {
            set.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
        }
    };
    eprintln!(
        "host: {} {} (sha256:{}) {} in {:.1} ms, ran in {:.2}s: {} into the host, {} denied",
        manifest.name,
        manifest.version,
        &digest[..12],
        match startup.origin {
            Origin::Cached => "loaded from the compile cache",
            Origin::Compiled => "compiled",
        },
        startup.time.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64(),
        plural(gate.calls() as usize, "call", "calls"),
        gate.denials(),
    );
    eprintln!(
        "host: scopes granted: {}; used: {}",
        names(granted),
        names(gate.used())
    );
    let unused: BTreeSet<Scope> = granted.difference(gate.used()).copied().collect();
    if granted.is_empty() {
        eprintln!("host: least privilege: no scope was granted");
    } else if unused.is_empty() {
        eprintln!("host: least privilege: every granted scope was used");
    } else {
        let minimal: Vec<String> = gate.used().iter().map(|s| s.flag()).collect();
        eprintln!(
            "host: least privilege: unused {}: {}; minimal grant for this run: {}",
            plural(unused.len(), "grant", "grants"),
            names(&unused),
            if minimal.is_empty() {
                "none".to_owned()
            } else {
                minimal.join(" ")
            }
        );
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
