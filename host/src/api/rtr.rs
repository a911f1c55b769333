//! `rtr`: Real Time Response commands with per-host results, and the admin's
//! scripts and put-files.
//!
//! The host classifies every command line by its base command before the
//! gate sees it: the level the plugin asks for picks the operation (and so
//! the scope and tier), and a command that needs more than that level is
//! refused, so a plugin granted read-only access cannot slip `put` or `rm`
//! through the read-only endpoint. The host opens and closes the sessions;
//! one host gets a single session, several a batch session.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use falcon::rtr::{
    BatchCommand, BatchSessionRequest, Command, FileKind, FileQuery, SessionRequest, Tier,
};

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::rtr::{self, HostStatus, Level};
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// Base commands of read-only analysts (`real-time-response:read`), as
/// Falcon lists them (PSFalcon's validation set, `falcon-api.md` §5.9).
const READ_ONLY: &[&str] = &[
    "cat",
    "cd",
    "clear",
    "csrutil",
    "env",
    "eventlog",
    "filehash",
    "getsid",
    "help",
    "history",
    "ifconfig",
    "ipconfig",
    "ls",
    "mount",
    "netstat",
    "ps",
    "pwd",
    "reg query",
    "users",
];

/// What active responders add (`real-time-response:write`).
const ACTIVE: &[&str] = &[
    "cp",
    "encrypt",
    "get",
    "kill",
    "map",
    "memdump",
    "mkdir",
    "mv",
    "reg delete",
    "reg load",
    "reg set",
    "reg unload",
    "restart",
    "rm",
    "shutdown",
    "tar",
    "umount",
    "unmap",
    "update",
    "xmemdump",
    "zip",
];

/// What administrators add (`real-time-response-admin:write`). Falcon also
/// lets active responders use `runscript`, but `-Raw=` runs any script text
/// on the host, which is what the admin level guards; the host asks for it.
const ADMIN: &[&str] = &[
    "put",
    "put-and-run",
    "run",
    "runscript",
    "falconscript",
    "cswindiag",
];

/// The verbs Falcon only takes with a subcommand, and their subcommands
/// (the last one is the example an error shows).
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("eventlog", &["backup", "export", "list", "view"]),
    ("reg", &["delete", "load", "set", "unload", "query"]),
    ("update", &["history", "install", "query", "list"]),
];

/// The longest command line the host sends (Falcon's own limit is not
/// documented; a `runscript -Raw=` of a real script fits easily).
const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Falcon's per-host code for a sensor that cannot be reached.
const OFFLINE_CODE: i64 = 40407;

/// How long Falcon waits for each host when the plugin does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many session closes run at once after a batch.
const CLOSE_FANOUT: usize = 8;

/// The level a base command (`ls`, `reg query`) needs, or none for a
/// command the host does not know.
pub(crate) fn required_level(base: &str) -> Option<Level> {
    // `eventlog view` and `update list` are classified by their first word,
    // like Falcon's own lists.
    let first = base.split(' ').next().unwrap_or_default();
    let known = |list: &[&str]| list.contains(&base) || (first != "reg" && list.contains(&first));
    if known(READ_ONLY) {
        Some(Level::ReadOnly)
    } else if known(ACTIVE) {
        Some(Level::Active)
    } else if known(ADMIN) {
        Some(Level::Admin)
    } else {
        None
    }
}

fn rank(level: Level) -> u8 {
    match level {
        Level::ReadOnly => 0,
        Level::Active => 1,
        Level::Admin => 2,
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ReadOnly => "read-only",
        Level::Active => "active",
        Level::Admin => "admin",
    }
}

fn level_operation(level: Level) -> Operation {
    match level {
        Level::ReadOnly => Operation::RtrReadOnlyCommand,
        Level::Active => Operation::RtrActiveCommand,
        Level::Admin => Operation::RtrAdminCommand,
    }
}

fn tier(level: Level) -> Tier {
    match level {
        Level::ReadOnly => Tier::ReadOnly,
        Level::Active => Tier::ActiveResponder,
        Level::Admin => Tier::Admin,
    }
}

/// Checks that `command` is one the host knows and that `level` allows it;
/// the message teaches the level (and so the grant) it needs.
fn check_level(level: Level, command: &str) -> Result<(), String> {
    let base = Command::new(Tier::ReadOnly, "", command).base_command();
    if base.is_empty() {
        return Err("the command line is empty; send a command such as `ls` or `ps`".into());
    }
    let mut words = base.split(' ');
    if let (Some(verb), second) = (words.next(), words.next())
        && let Some((_, subcommands)) = SUBCOMMANDS.iter().find(|(v, _)| *v == verb)
        && second.is_none_or(|s| !subcommands.contains(&s))
    {
        return Err(format!(
            "`{base}` is not a command Falcon runs: `{verb}` needs one of its subcommands, {} \
             (for example `{verb} {} ...`)",
            subcommands.join(", "),
            subcommands[subcommands.len() - 1]
        ));
    }
    let Some(needed) = required_level(&base) else {
        return Err(format!(
            "`{base}` is not a Real Time Response command the host knows; read-only commands: \
             {}; active adds: {}; admin adds: {}",
            READ_ONLY.join(", "),
            ACTIVE.join(", "),
            ADMIN.join(", ")
        ));
    };
    if rank(needed) > rank(level) {
        let op = level_operation(needed);
        return Err(format!(
            "`{base}` is {} command and was sent at level `{}`; send it at level `{}` (scope \
             `{}`{})",
            match needed {
                Level::ReadOnly => "a read-only",
                Level::Active => "an active-responder",
                Level::Admin => "an admin",
            },
            level_name(level),
            level_name(needed),
            op.scope().name(),
            if needed == Level::Admin {
                format!(", approved with `--approve {}`", op.name())
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

/// A run's hosts, command and waiting time, checked before the gate.
#[derive(Debug)]
struct Plan {
    hosts: Vec<String>,
    line: String,
    queue_offline: bool,
    timeout: Duration,
}

impl RunState {
    /// Checks the hosts, command line and options of a run; refusals are
    /// audited under `op` like any other refused call.
    fn plan_run(
        &self,
        op: Operation,
        host_ids: Vec<String>,
        line: String,
        options: &rtr::RunOptions,
    ) -> Result<Plan, String> {
        let mut seen = BTreeSet::new();
        let hosts: Vec<String> = host_ids
            .into_iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| seen.insert(h.clone()))
            .collect();
        if hosts.is_empty() || hosts.iter().any(String::is_empty) {
            return Err(format!("`{}` needs host ids, none empty", op.name()));
        }
        if hosts.len() > falcon::rtr::MAX_BATCH_HOSTS {
            return Err(format!(
                "`{}` was given {} hosts; Falcon runs a command on at most {}",
                op.name(),
                hosts.len(),
                falcon::rtr::MAX_BATCH_HOSTS
            ));
        }
        if line.len() > MAX_COMMAND_BYTES {
            return Err(format!(
                "the command line is {} bytes; the host sends at most {MAX_COMMAND_BYTES}",
                line.len()
            ));
        }
        let timeout = match options.timeout_seconds {
            None => DEFAULT_TIMEOUT.min(self.call_timeout),
            Some(s) if !(1..=600).contains(&s) => {
                return Err(format!(
                    "`timeout-seconds` is {s}; Falcon waits 1 to 600 seconds"
                ));
            }
            Some(s) if Duration::from_secs(u64::from(s)) > self.call_timeout => {
                return Err(format!(
                    "`timeout-seconds` is {s}, longer than one host call may take ({}, \
                     --call-timeout); lower it or raise --call-timeout",
                    crate::units::show_duration(self.call_timeout)
                ));
            }
            Some(s) => Duration::from_secs(u64::from(s)),
        };
        Ok(Plan {
            hosts,
            line,
            queue_offline: options.queue_offline,
            timeout,
        })
    }

    /// Runs a checked command through the gate, with its hosts as targets;
    /// a refused one is audited with the number of hosts it was `asked` for.
    async fn run_rtr(
        &mut self,
        op: Operation,
        tier: Tier,
        plan: Result<Plan, String>,
        asked: usize,
        note: String,
    ) -> HostResult<Vec<rtr::HostResult>> {
        let plan = match plan {
            Ok(plan) => plan,
            Err(message) => {
                self.audit_call(op, asked, "refused", "invalid-input", 0)?;
                return Ok(Err(PluginError::InvalidInput(message)));
            }
        };
        let targets = plan.hosts.clone();
        self.call(op, &targets, Some(&note), |client| async move {
            if plan.hosts.len() == 1 {
                run_single(&client, tier, plan).await
            } else {
                run_batch(&client, tier, plan).await
            }
        })
        .await
    }
}

impl rtr::Host for RunState {
    async fn run_command(
        &mut self,
        level: Level,
        host_ids: Vec<String>,
        command: String,
        options: rtr::RunOptions,
    ) -> HostResult<Vec<rtr::HostResult>> {
        let op = level_operation(level);
        let asked = host_ids.len();
        let command = command.trim().to_owned();
        let plan = check_level(level, &command)
            .and_then(|()| self.plan_run(op, host_ids, command.clone(), &options));
        let note = format!("command: {}", shorten(&command));
        self.run_rtr(op, tier(level), plan, asked, note).await
    }

    async fn run_script(
        &mut self,
        host_ids: Vec<String>,
        name: String,
        arguments: Option<String>,
        options: rtr::RunOptions,
    ) -> HostResult<Vec<rtr::HostResult>> {
        let op = Operation::RtrRunScript;
        let asked = host_ids.len();
        let name = name.trim().to_owned();
        let bad = |s: &str| s.contains('"') || s.chars().any(char::is_control);
        let line = if name.is_empty() || bad(&name) {
            Err("the script name must be non-empty, without `\"` or control characters".into())
        } else if arguments.as_deref().is_some_and(bad) {
            Err("script arguments cannot hold `\"` or control characters".into())
        } else {
            let mut line = format!("runscript -CloudFile=\"{name}\"");
            if let Some(args) = arguments.as_deref().filter(|a| !a.trim().is_empty()) {
                line.push_str(&format!(" -CommandLine=\"{args}\""));
            }
            Ok(line)
        };
        let plan = line.and_then(|line| self.plan_run(op, host_ids, line, &options));
        let note = format!("script: {}", shorten(&name));
        self.run_rtr(op, Tier::Admin, plan, asked, note).await
    }

    async fn list_scripts(&mut self, filter: Filter) -> HostResult<Vec<rtr::CloudFile>> {
        self.cloud_files(Operation::RtrListScripts, FileKind::Script, filter)
            .await
    }

    async fn list_put_files(&mut self, filter: Filter) -> HostResult<Vec<rtr::CloudFile>> {
        self.cloud_files(Operation::RtrListPutFiles, FileKind::PutFile, filter)
            .await
    }
}

impl RunState {
    async fn cloud_files(
        &mut self,
        op: Operation,
        kind: FileKind,
        filter: Filter,
    ) -> HostResult<Vec<rtr::CloudFile>> {
        let query = match to_fql(&filter) {
            Ok(Some(fql)) => FileQuery::filtered(kind, fql),
            Ok(None) => FileQuery::all(kind),
            Err(e) => return self.refuse(op, e),
        };
        self.call(op, &[], None, |client| async move {
            let ids = client
                .rtr()
                .file_ids(&query)
                .await
                .map_err(to_plugin_error)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let batch = client
                .rtr()
                .files(kind, &ids)
                .await
                .map_err(to_plugin_error)?;
            Ok(batch.found.into_iter().map(to_cloud_file).collect())
        })
        .await
    }
}

/// One host: a single session, the command, its output, the session closed.
async fn run_single(
    client: &falcon::Client,
    tier: Tier,
    plan: Plan,
) -> Result<Vec<rtr::HostResult>, PluginError> {
    let rtr = client.rtr();
    let host = plan.hosts[0].clone();
    let mut request = SessionRequest::new(&host);
    if plan.queue_offline {
        request = request.queue_offline();
    }
    let session = match rtr.init_session(&request).await {
        Ok(session) => session,
        Err(e) => return Ok(vec![host_failure(&host, e)?]),
    };
    let command = Command::new(tier, &session.session_id, plan.line);
    let outcome = if session.offline_queued {
        // The command waits in Falcon's queue for the host; the session
        // stays open, since closing it would drop the queue.
        match rtr.run(&command).await {
            Ok(_) => Ok(result(&host, HostStatus::Queued)),
            Err(e) => host_failure(&host, e),
        }
    } else {
        let done = match rtr.run_and_wait(&command, plan.timeout).await {
            Ok(output) => Ok(rtr::HostResult {
                stdout: output.stdout,
                stderr: output.stderr,
                ..result(&host, HostStatus::Done)
            }),
            Err(falcon::Error::Timeout { .. }) => Ok(result(&host, HostStatus::TimedOut)),
            Err(e) => host_failure(&host, e),
        };
        close(client, session.session_id).await;
        done
    };
    outcome.map(|r| vec![r])
}

/// Several hosts: a batch session, the command on every host that joined,
/// the sessions closed (except queued ones).
async fn run_batch(
    client: &falcon::Client,
    tier: Tier,
    plan: Plan,
) -> Result<Vec<rtr::HostResult>, PluginError> {
    let rtr = client.rtr();
    let mut request = BatchSessionRequest::new(plan.hosts.iter().cloned());
    if plan.queue_offline {
        request = request.queue_offline();
    }
    let batch = rtr.batch_init(&request).await.map_err(to_plugin_error)?;
    let mut results: HashMap<String, rtr::HostResult> = HashMap::new();
    let mut joined = Vec::new();
    let mut sessions = Vec::new();
    for host in &batch.hosts {
        match (&host.error, &host.session_id) {
            (None, Some(session)) => {
                joined.push(host.device_id.clone());
                if !host.offline_queued {
                    sessions.push(session.clone());
                }
            }
            _ => {
                results.insert(host.device_id.clone(), from_batch(host));
            }
        }
    }
    if !joined.is_empty() && !batch.batch_id.is_empty() {
        let command =
            BatchCommand::new(tier, batch.batch_id.as_str(), plan.line).timeout(plan.timeout);
        let ran = rtr.batch_run(&command, &joined).await;
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => {
                close_all(client, sessions).await;
                return Err(to_plugin_error(e));
            }
        };
        for host in &ran {
            results.insert(host.device_id.clone(), from_batch(host));
        }
    }
    close_all(client, sessions).await;
    Ok(plan
        .hosts
        .iter()
        .map(|h| {
            results.remove(h).unwrap_or_else(|| rtr::HostResult {
                error: Some("Falcon did not report this host".into()),
                ..result(h, HostStatus::Failed)
            })
        })
        .collect())
}

fn result(host: &str, status: HostStatus) -> rtr::HostResult {
    rtr::HostResult {
        host_id: host.to_owned(),
        status,
        stdout: String::new(),
        stderr: String::new(),
        error: None,
        error_code: None,
    }
}

/// One host's entry of a batch answer.
fn from_batch(host: &falcon::rtr::HostResult) -> rtr::HostResult {
    let code = host.error.as_ref().and_then(|e| e.code);
    let status = match (&host.error, code) {
        (Some(_), Some(OFFLINE_CODE)) => HostStatus::Offline,
        (Some(_), Some(408)) => HostStatus::TimedOut,
        (Some(_), _) => HostStatus::Failed,
        (None, _) if host.offline_queued => HostStatus::Queued,
        (None, _) if host.complete => HostStatus::Done,
        (None, _) => HostStatus::TimedOut,
    };
    rtr::HostResult {
        host_id: host.device_id.clone(),
        status,
        stdout: host.stdout.clone(),
        stderr: host.stderr.clone(),
        error: host.error.as_ref().map(|e| e.message.clone()),
        error_code: code,
    }
}

/// A single host's failure: what Falcon said about this host (offline,
/// unknown, a command it refused) is its result; anything else (a missing
/// API scope, the rate limit, a broken connection) fails the whole call.
fn host_failure(host: &str, err: falcon::Error) -> Result<rtr::HostResult, PluginError> {
    match err {
        falcon::Error::Api {
            status,
            code,
            message,
            ..
        } if (400..500).contains(&status) && status != 403 && status != 429 => {
            let status = if code == Some(OFFLINE_CODE) {
                HostStatus::Offline
            } else {
                HostStatus::Failed
            };
            Ok(rtr::HostResult {
                error: Some(message),
                error_code: code,
                ..result(host, status)
            })
        }
        falcon::Error::NotFound { .. } => Ok(rtr::HostResult {
            error: Some("Falcon knows no host with this id".into()),
            ..result(host, HostStatus::Failed)
        }),
        other => Err(to_plugin_error(other)),
    }
}

async fn close(client: &falcon::Client, session: String) {
    if let Err(e) = client.rtr().close_session(&session).await {
        // Falcon expires idle sessions after 10 minutes anyway.
        tracing::debug!(error = %e, "failed to close an rtr session");
    }
}

async fn close_all(client: &falcon::Client, sessions: Vec<String>) {
    let mut pending = sessions.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < CLOSE_FANOUT {
            let Some(session) = pending.next() else {
                break;
            };
            let client = client.clone();
            running.spawn(async move { close(&client, session).await });
        }
        if running.join_next().await.is_none() {
            break;
        }
    }
}

/// A command line cut for the plan and the audit note.
fn shorten(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match clean.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean,
    }
}

fn to_cloud_file(f: falcon::rtr::CloudFile) -> rtr::CloudFile {
    rtr::CloudFile {
        raw_json: f.raw.to_string(),
        id: f.id,
        name: f.name,
        description: f.description,
        platforms: f.platform,
        permission_type: f.permission_type,
        sha256: f.sha256,
        size: f.size.and_then(|n| u64::try_from(n).ok()),
        created_at: f.created_timestamp.map(|t| t.to_string()),
        modified_at: f.modified_timestamp.map(|t| t.to_string()),
        content: f.content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Tier as RiskTier;

    #[test]
    fn commands_are_classified_by_falcons_lists() {
        for (command, level) in [
            ("ls C:\\Windows", Level::ReadOnly),
            ("ps", Level::ReadOnly),
            ("netstat", Level::ReadOnly),
            ("reg query HKLM\\Software", Level::ReadOnly),
            ("eventlog view Application", Level::ReadOnly),
            ("kill 4242", Level::Active),
            ("rm /tmp/x", Level::Active),
            ("get C:\\x.log", Level::Active),
            ("reg set HKLM\\x v 1", Level::Active),
            ("update list", Level::Active),
            ("runscript -Raw=```Get-Date```", Level::Admin),
            ("put tool.exe", Level::Admin),
            ("run C:\\tool.exe", Level::Admin),
        ] {
            let base = Command::new(Tier::ReadOnly, "", command).base_command();
            assert_eq!(required_level(&base), Some(level), "{command}");
        }
        assert_eq!(required_level("reg"), None);
        for bare in ["eventlog", "update", "reg", "eventlog tail", "update now"] {
            let err = check_level(Level::Admin, bare).unwrap_err();
            assert!(
                err.contains("needs one of its subcommands"),
                "{bare}: {err}"
            );
        }
        check_level(Level::ReadOnly, "eventlog list").unwrap();
        assert_eq!(required_level("format"), None);
    }

    #[test]
    fn a_command_above_its_level_is_refused_with_the_level_it_needs() {
        let err = check_level(Level::ReadOnly, "put evil.exe").unwrap_err();
        assert!(err.contains("`put` is an admin command"), "{err}");
        assert!(err.contains("--approve rtr.run-command/admin"), "{err}");
        let err = check_level(Level::Active, "runscript -CloudFile=\"x\"").unwrap_err();
        assert!(err.contains("real-time-response-admin:write"), "{err}");
        let err = check_level(Level::ReadOnly, "rm -rf /").unwrap_err();
        assert!(err.contains("level `active`"), "{err}");
        assert!(check_level(Level::Admin, "ls").is_ok());
        assert!(check_level(Level::Active, "kill 1").is_ok());
        assert!(
            check_level(Level::Admin, "format c:")
                .unwrap_err()
                .contains("not a Real")
        );
        assert!(
            check_level(Level::Admin, "   ")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn levels_map_to_their_scope_and_tier() {
        let seen: Vec<(&str, RiskTier)> = [Level::ReadOnly, Level::Active, Level::Admin]
            .into_iter()
            .map(|l| {
                let op = level_operation(l);
                (op.scope().name(), op.tier())
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("real-time-response:read", RiskTier::Read),
                ("real-time-response:write", RiskTier::Write),
                ("real-time-response-admin:write", RiskTier::Destructive),
            ]
        );
        assert_eq!(Operation::RtrRunScript.tier(), RiskTier::Destructive);
    }
}
