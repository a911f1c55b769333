//! Real Time Response (`/real-time-response/...`): sessions, batch sessions, the
//! three command tiers with simulated per-platform output, scripts and put-files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::params::{Params, json_body, read_body};
use super::query::{Outcome, entities, query_ids, stamp, strings, text};
use super::{Shared, scoped};
use crate::rng;
use crate::tenant::Host;

const SERVICE: &str = "empower-api";
const READ: &str = "real-time-response:read";
const WRITE: &str = "real-time-response:write";
const ADMIN: &str = "real-time-response-admin:write";
const MAX_BATCH_HOSTS: usize = 10_000;
/// Falcon's per-host code for a sensor that cannot be reached.
const OFFLINE_CODE: u16 = 40407;

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
    "reg query",
    "users",
    "pwd",
];
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
    "runscript",
    "shutdown",
    "tar",
    "umount",
    "unmap",
    "update",
    "xmemdump",
    "zip",
];
const ADMIN_ONLY: &[&str] = &["put", "put-and-run", "run", "falconscript", "cswindiag"];

/// RTR sessions, batches, queued commands, scripts and put-files.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    sessions: HashMap<String, Session>,
    batches: HashMap<String, Vec<String>>,
    commands: HashMap<String, Command>,
    scripts: Vec<StoredFile>,
    put_files: Vec<StoredFile>,
}

#[derive(Debug, Clone)]
struct Session {
    device_id: String,
    created: Timestamp,
    offline_queued: bool,
    pwd: String,
}

#[derive(Debug, Clone)]
struct Command {
    session_id: String,
    /// Queued for an offline host: it stays incomplete until the host comes back,
    /// which in the emulator it never does.
    queued: bool,
    base_command: String,
    stdout: String,
    stderr: String,
    started: Instant,
}

#[derive(Debug, Clone)]
struct StoredFile {
    id: String,
    name: String,
    description: String,
    content: String,
    platform: Vec<String>,
    permission_type: String,
    created: Timestamp,
}

/// A command tier (read-only, active responder, admin): its scope and verbs.
#[derive(Clone, Copy, Debug)]
struct Tier {
    scope: &'static str,
    allowed: fn(&str) -> bool,
}

fn read_only(base: &str) -> bool {
    READ_ONLY.contains(&base)
}

fn active(base: &str) -> bool {
    read_only(base) || ACTIVE.contains(&base)
}

fn admin(base: &str) -> bool {
    active(base) || ADMIN_ONLY.contains(&base)
}

const TIERS: [(&str, &str, Tier); 3] = [
    (
        "command",
        "batch-command",
        Tier {
            scope: READ,
            allowed: read_only,
        },
    ),
    (
        "active-responder-command",
        "batch-active-responder-command",
        Tier {
            scope: WRITE,
            allowed: active,
        },
    ),
    (
        "admin-command",
        "batch-admin-command",
        Tier {
            scope: ADMIN,
            allowed: admin,
        },
    ),
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    let base = "/real-time-response";
    let mut router = Router::new()
        .route(
            &format!("{base}/entities/sessions/v1"),
            scoped(READ, post(init).delete(close)),
        )
        .route(
            &format!("{base}/entities/refresh-session/v1"),
            scoped(READ, post(refresh)),
        )
        .route(
            &format!("{base}/queries/sessions/v1"),
            scoped(READ, get(list_sessions)),
        )
        .route(
            &format!("{base}/entities/sessions/GET/v1"),
            scoped(READ, post(get_sessions)),
        )
        .route(
            &format!("{base}/combined/batch-init-session/v1"),
            scoped(READ, post(batch_init)),
        )
        .route(
            &format!("{base}/combined/batch-refresh-session/v1"),
            scoped(READ, post(batch_refresh)),
        )
        .route(&format!("{base}/entities/scripts/v1"), file_routes(true))
        .route(&format!("{base}/entities/put-files/v1"), file_routes(false))
        .route(
            &format!("{base}/queries/scripts/v1"),
            scoped(ADMIN, get(|s, c| file_ids(s, c, true))),
        )
        .route(
            &format!("{base}/queries/put-files/v1"),
            scoped(ADMIN, get(|s, c| file_ids(s, c, false))),
        );
    for (single, batch, tier) in TIERS {
        router = router
            .route(
                &format!("{base}/entities/{single}/v1"),
                scoped(
                    tier.scope,
                    post(move |s, c, b| execute(tier, s, c, b)).get(status),
                ),
            )
            .route(
                &format!("{base}/combined/{batch}/v1"),
                scoped(
                    tier.scope,
                    post(move |s, c, q, b| batch_command(tier, s, c, q, b)),
                ),
            );
    }
    router
}

fn file_routes(scripts: bool) -> axum::routing::MethodRouter<Arc<Shared>> {
    scoped(
        ADMIN,
        get(move |s, c, q| files_by_id(s, c, q, scripts))
            .post(move |s, c, h, b| upload(s, c, h, b, scripts))
            .delete(move |s, c, q| delete_file(s, c, q, scripts)),
    )
}

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

type S = State<Arc<Shared>>;
type C = Extension<Ctx>;

// ---- sessions -----------------------------------------------------------------------

async fn init(s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => open_session(&s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

fn host_of<'a>(state: &'a super::state::TenantState, aid: &str) -> Option<&'a Host> {
    state.hosts.get(aid).map(|i| &state.tenant.hosts[i])
}

fn open_session(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let aid =
        text(body, &["device_id"]).ok_or_else(|| Failure::bad_request("device_id is required"))?;
    let queue = body
        .get("queue_offline")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut state = shared.write();
    let host = host_of(&state, aid)
        .cloned()
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "Could not find sensor"))?;
    let online = host.online_state == "online";
    if !online && !queue {
        let error = ApiError::with_code(OFFLINE_CODE, "Sensor appears to be offline");
        let payload = Payload {
            errors: vec![error],
            ..Payload::default()
        };
        return Ok(ctx.respond(StatusCode::NOT_FOUND, SERVICE, payload));
    }
    let id = new_session(&mut state.rtr, &host, !online);
    let session = &state.rtr.sessions[&id];
    let view = json!([{
        "session_id": id,
        "device_id": aid,
        "created_at": stamp(session.created),
        "offline_queued": session.offline_queued,
        "existing_aid_sessions": 1,
        "pwd": session.pwd,
        "scripts": [],
        "platform": host.platform_name.to_lowercase(),
    }]);
    Ok(ctx.respond(StatusCode::CREATED, SERVICE, Payload::resources(view)))
}

fn new_session(rtr: &mut Sessions, host: &Host, queued: bool) -> String {
    let id = rng::unseeded().uuid_v4();
    let pwd = if host.platform_name == "Windows" {
        "C:\\"
    } else {
        "/"
    };
    rtr.sessions.insert(
        id.clone(),
        Session {
            device_id: host.device_id.clone(),
            created: Timestamp::now(),
            offline_queued: queued,
            pwd: pwd.to_owned(),
        },
    );
    id
}

async fn close(s: S, c: C, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = params.required("session_id").and_then(|id| {
        if s.write().rtr.sessions.remove(id).is_none() {
            return Err(Failure::new(StatusCode::NOT_FOUND, "session not found"));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    });
    finish(&c, outcome)
}

async fn refresh(s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => open_session(&s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

async fn list_sessions(s: S, c: C) -> Response {
    let state = s.read();
    let mut ids: Vec<&String> = state.rtr.sessions.keys().collect();
    ids.sort();
    let payload = Payload {
        resources: Some(json!(ids)),
        pagination: Some(super::envelope::Paging {
            offset: 0,
            limit: ids.len(),
            total: ids.len(),
        }),
        ..Payload::default()
    };
    c.respond(StatusCode::OK, SERVICE, payload)
}

async fn get_sessions(s: S, c: C, body: Body) -> Response {
    let outcome = match super::params::ids_body(body, 5000).await {
        Ok(ids) => {
            let state = s.read();
            let (mut out, mut errors) = (Vec::new(), Vec::new());
            for id in &ids {
                match state.rtr.sessions.get(id) {
                    Some(session) => out.push(session_view(&state, id, session)),
                    None => errors.push(ApiError::for_id(
                        StatusCode::NOT_FOUND,
                        "session not found",
                        id,
                    )),
                }
            }
            Ok(entities(&c, SERVICE, out, errors))
        }
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

fn session_view(state: &super::state::TenantState, id: &str, s: &Session) -> Value {
    let host = host_of(state, &s.device_id);
    json!({
        "id": id,
        "cid": state.tenant.cid,
        "device_id": s.device_id,
        "hostname": host.map(|h| h.hostname.clone()).unwrap_or_default(),
        "platform_name": host.map(|h| h.platform_name.clone()).unwrap_or_default(),
        "user_id": "api-client",
        "user_uuid": "00000000-0000-4000-8000-000000000000",
        "origin": "api",
        "created_at": stamp(s.created),
        "updated_at": stamp(s.created),
        "deleted_at": null,
        "duration": 0.0,
        "offline_queued": s.offline_queued,
        "commands_queued": false,
        "cloud_request_ids": [],
        "logs": [],
        "pwd": s.pwd,
    })
}

// ---- single commands ----------------------------------------------------------------

async fn execute(tier: Tier, s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => run_one(tier, &s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

fn parse_command(tier: Tier, body: &Value) -> Result<(String, String), Failure> {
    let base = text(body, &["base_command"])
        .ok_or_else(|| Failure::bad_request("base_command is required"))?;
    let line = text(body, &["command_string"]).unwrap_or(base);
    if !(tier.allowed)(base) {
        return Err(Failure::bad_request(format!(
            "invalid base command: {base}"
        )));
    }
    if !line.starts_with(base) {
        return Err(Failure::bad_request(
            "command_string must start with base_command",
        ));
    }
    Ok((base.to_owned(), line.to_owned()))
}

fn run_one(tier: Tier, shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let (base, line) = parse_command(tier, body)?;
    let session_id = text(body, &["session_id"])
        .ok_or_else(|| Failure::bad_request("session_id is required"))?;
    let mut state = shared.write();
    let session = state
        .rtr
        .sessions
        .get(session_id)
        .cloned()
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "session not found"))?;
    let host = host_of(&state, &session.device_id)
        .cloned()
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "Could not find sensor"))?;
    let (stdout, stderr) = simulate(&host, &base, &line, &state.rtr);
    let request_id = rng::unseeded().uuid_v4();
    state.rtr.commands.insert(
        request_id.clone(),
        Command {
            session_id: session_id.to_owned(),
            queued: session.offline_queued,
            base_command: base,
            stdout,
            stderr,
            started: Instant::now(),
        },
    );
    let view = json!([{
        "cloud_request_id": request_id,
        "session_id": session_id,
        "queued_command_offline": session.offline_queued,
    }]);
    Ok(ctx.respond(StatusCode::CREATED, SERVICE, Payload::resources(view)))
}

/// Command status; output arrives once the configured command delay has passed.
async fn status(s: S, c: C, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = params.required("cloud_request_id").and_then(|id| {
        let delay = s.config().rtr_command_delay;
        let state = s.read();
        let command = state
            .rtr
            .commands
            .get(id)
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "command not found"))?;
        let complete = !command.queued && command.started.elapsed() >= delay;
        let view = json!([{
            "session_id": command.session_id,
            "task_id": id,
            "complete": complete,
            "stdout": if complete { command.stdout.as_str() } else { "" },
            "stderr": if complete { command.stderr.as_str() } else { "" },
            "base_command": command.base_command,
            "sequence_id": 0,
        }]);
        Ok(c.respond(StatusCode::OK, SERVICE, Payload::resources(view)))
    });
    finish(&c, outcome)
}

// ---- batches ------------------------------------------------------------------------

async fn batch_init(s: S, c: C, q: RawQuery, body: Body) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => init_batch(&s, &c, &params, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

/// Per-host outcome of a batch call.
fn host_result(aid: &str, session_id: &str, error: Option<&str>) -> Value {
    let errors = match error {
        Some(message) => json!([{"code": OFFLINE_CODE, "message": message}]),
        None => json!([]),
    };
    let mut result = json!({
        "session_id": session_id,
        "complete": error.is_none(),
        "stdout": "",
        "stderr": "",
        "aid": aid,
        "errors": errors,
        "query_time": 0,
    });
    // The captured per-host failure has no `offline_queued`.
    if error.is_none() {
        result["offline_queued"] = json!(false);
    }
    result
}

fn init_batch(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    timeout_of(params)?;
    let hosts = strings(body, "host_ids");
    if hosts.is_empty() || hosts.len() > MAX_BATCH_HOSTS {
        return Err(Failure::bad_request(format!(
            "host_ids must contain between 1 and {MAX_BATCH_HOSTS} ids"
        )));
    }
    let queue = body
        .get("queue_offline")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut state = shared.write();
    let mut results = serde_json::Map::new();
    let mut members = Vec::new();
    for aid in &hosts {
        let Some(host) = host_of(&state, aid).cloned() else {
            results.insert(
                aid.clone(),
                host_result(aid, "", Some("Could not find sensor")),
            );
            continue;
        };
        let online = host.online_state == "online";
        if !online && !queue {
            results.insert(
                aid.clone(),
                host_result(aid, "", Some("Sensor appears to be offline")),
            );
            continue;
        }
        let id = new_session(&mut state.rtr, &host, !online);
        let mut result = host_result(aid, &id, None);
        result["offline_queued"] = json!(!online);
        results.insert(aid.clone(), result);
        members.push(id);
    }
    if members.is_empty() {
        return Ok(no_hosts(ctx, results));
    }
    let batch_id = rng::unseeded().uuid_v4();
    state.rtr.batches.insert(batch_id.clone(), members);
    let body = json!({
        "meta": meta(ctx),
        "batch_id": batch_id,
        "resources": results,
        "errors": [],
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The whole-batch failure of the captured response: per-host errors plus a
/// top-level 404.
fn no_hosts(ctx: &Ctx, results: serde_json::Map<String, Value>) -> Response {
    let body = json!({
        "meta": meta(ctx),
        "batch_id": "",
        "resources": results,
        "errors": [{"code": 404, "message": "no successful hosts initialized on RTR"}],
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn meta(ctx: &Ctx) -> Value {
    json!({"query_time": ctx.elapsed(), "powered_by": SERVICE, "trace_id": ctx.trace_id})
}

/// `timeout` in seconds (1–600) or `timeout_duration` like `30s` or `2m`.
fn timeout_of(params: &Params) -> Result<Duration, Failure> {
    if let Some(raw) = params.get("timeout_duration") {
        let (number, unit) =
            raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
        let n: u64 = number
            .parse()
            .map_err(|_| Failure::bad_request(format!("invalid timeout_duration: {raw}")))?;
        let secs = match unit {
            "s" | "" => n,
            "m" => n * 60,
            "ms" => n / 1000,
            _ => {
                return Err(Failure::bad_request(format!(
                    "invalid timeout_duration: {raw}"
                )));
            }
        };
        return Ok(Duration::from_secs(secs));
    }
    Ok(Duration::from_secs(
        params.int("timeout", 30, 1, 600)? as u64
    ))
}

async fn batch_refresh(s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => {
            let id = text(&json, &["batch_id"]).unwrap_or_default().to_owned();
            let state = s.read();
            match state.rtr.batches.get(&id) {
                Some(members) => {
                    let results: serde_json::Map<String, Value> = members
                        .iter()
                        .filter_map(|sid| {
                            state.rtr.sessions.get(sid).map(|x| {
                                (x.device_id.clone(), host_result(&x.device_id, sid, None))
                            })
                        })
                        .collect();
                    Ok(c.respond(
                        StatusCode::CREATED,
                        SERVICE,
                        Payload::resources(Value::Object(results)),
                    ))
                }
                None => Err(Failure::new(StatusCode::NOT_FOUND, "batch not found")),
            }
        }
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

async fn batch_command(tier: Tier, s: S, c: C, q: RawQuery, body: Body) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => run_batch(tier, &s, &c, &params, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

/// Runs a command on every host of a batch. Hosts that went offline get the
/// per-host 40407 error; hosts whose command outlasts the timeout come back
/// incomplete with a timeout error.
fn run_batch(tier: Tier, shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let timeout = timeout_of(params)?;
    let (base, line) = parse_command(tier, body)?;
    let batch_id =
        text(body, &["batch_id"]).ok_or_else(|| Failure::bad_request("batch_id is required"))?;
    let optional = strings(body, "optional_hosts");
    let delay = shared.config().rtr_command_delay;
    let state = shared.read();
    let members = state
        .rtr
        .batches
        .get(batch_id)
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "batch not found"))?;
    let mut results = serde_json::Map::new();
    let mut succeeded = 0;
    for sid in members {
        let Some(session) = state.rtr.sessions.get(sid) else {
            continue;
        };
        let aid = &session.device_id;
        if !optional.is_empty() && !optional.contains(aid) {
            continue;
        }
        let Some(host) = host_of(&state, aid) else {
            continue;
        };
        if host.online_state != "online" && !session.offline_queued {
            results.insert(
                aid.clone(),
                host_result(aid, "", Some("Sensor appears to be offline")),
            );
            continue;
        }
        let mut result = host_result(aid, sid, None);
        if delay > timeout {
            result["complete"] = json!(false);
            result["errors"] = json!([{"code": 408, "message": "command timed out"}]);
        } else {
            let (stdout, stderr) = simulate(host, &base, &line, &state.rtr);
            result["stdout"] = json!(stdout);
            result["stderr"] = json!(stderr);
            result["complete"] = json!(!session.offline_queued);
            result["query_time"] = json!(ctx.elapsed());
            succeeded += 1;
        }
        result["task_id"] = json!(rng::unseeded().uuid_v4());
        result["base_command"] = json!(base);
        result["offline_queued"] = json!(session.offline_queued);
        results.insert(aid.clone(), result);
    }
    if succeeded == 0 && !results.is_empty() && results.values().all(|r| r["session_id"] == "") {
        return Ok(no_hosts(ctx, results));
    }
    let body = json!({
        "meta": meta(ctx),
        "combined": {"resources": results},
        "errors": [],
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

// ---- simulated output ---------------------------------------------------------------

const WINDOWS_LS: &str = "Name                 Type         Size (bytes)\n\
                          ----                 ----         ------------\n\
                          Program Files        <Directory>  --\n\
                          Users                <Directory>  --\n\
                          Windows              <Directory>  --\n";
const UNIX_LS: &str = "total 16\n\
                       drwxr-xr-x  4 root root 4096 bin\n\
                       drwxr-xr-x 12 root root 4096 etc\n\
                       drwxr-xr-x  3 root root 4096 home\n";
const WINDOWS_PS: &str = "Name            PID\n----            ---\n\
                          explorer.exe    1040\nlsass.exe       612\nsvchost.exe     884\n";
const UNIX_PS: &str = "  PID TTY      CMD\n    1 ?        systemd\n\
                       812 ?        falcon-sensor\n 1204 ?        sshd\n";
const REG_QUERY: &str = "HKEY_LOCAL_MACHINE\\SOFTWARE\\CrowdStrike\n    CU    REG_SZ    1\n";

/// Plausible output for a command on a host of its platform.
fn simulate(host: &Host, base: &str, line: &str, rtr: &Sessions) -> (String, String) {
    let windows = host.platform_name == "Windows";
    let arg = line.strip_prefix(base).unwrap_or_default().trim();
    let root = if windows { "C:\\" } else { "/" };
    let out = match base {
        "ls" if windows => {
            let dir = if arg.is_empty() { root } else { arg };
            format!("Directory listing for {dir} -\n\n{WINDOWS_LS}")
        }
        "ls" => UNIX_LS.to_owned(),
        "ps" if windows => WINDOWS_PS.to_owned(),
        "ps" => UNIX_PS.to_owned(),
        "ipconfig" | "ifconfig" if windows => {
            format!(
                "Windows IP Configuration\n\n   IPv4 Address. . . : {}\n",
                host.local_ip
            )
        }
        "ipconfig" | "ifconfig" => {
            let mac = host.mac_address.replace('-', ":");
            format!(
                "eth0: flags=4163<UP,BROADCAST,RUNNING>\n  inet {}\n  ether {mac}\n",
                host.local_ip
            )
        }
        "netstat" => format!(
            "Proto  Local Address  State\nTCP    {}:443  ESTABLISHED\n",
            host.local_ip
        ),
        "env" => format!(
            "COMPUTERNAME={}\nUSERNAME={}\n",
            host.hostname, host.last_login_user
        ),
        "users" => format!("{}\n", host.last_login_user),
        "pwd" | "cd" => format!("{root}\n"),
        "filehash" => format!("MD5: {}\nSHA256: {}\n", "0".repeat(32), "0".repeat(64)),
        "getsid" => "S-1-5-21-1000000000-2000000000-3000000000-1001\n".to_owned(),
        "reg query" if !windows => {
            return (
                String::new(),
                "reg is only available on Windows hosts".to_owned(),
            );
        }
        "reg query" => REG_QUERY.to_owned(),
        "cat" => format!("contents of {arg}\n"),
        "runscript" => return run_script(arg, rtr),
        "kill" | "rm" | "mkdir" | "cp" | "mv" | "put" | "run" => format!("{base} {arg}: ok\n"),
        _ => String::new(),
    };
    (out, String::new())
}

/// `runscript -CloudFile="name"` runs an uploaded script; `-Raw=` runs inline text.
fn run_script(arg: &str, rtr: &Sessions) -> (String, String) {
    if let Some(name) = arg.strip_prefix("-CloudFile=") {
        let name = name.trim_matches(|c| c == '"' || c == '\'');
        return match rtr.scripts.iter().find(|s| s.name == name) {
            Some(script) => (
                format!("ran {} ({} bytes)\n", script.name, script.content.len()),
                String::new(),
            ),
            None => (String::new(), format!("cloud file {name} not found")),
        };
    }
    ("script completed\n".to_owned(), String::new())
}

// ---- scripts and put-files ----------------------------------------------------------

fn store(rtr: &mut Sessions, scripts: bool) -> &mut Vec<StoredFile> {
    if scripts {
        &mut rtr.scripts
    } else {
        &mut rtr.put_files
    }
}

async fn file_ids(s: S, c: C, scripts: bool) -> Response {
    let mut state = s.write();
    let ids: Vec<Value> = store(&mut state.rtr, scripts)
        .iter()
        .map(|f| json!(f.id))
        .collect();
    let payload = Payload {
        pagination: Some(super::envelope::Paging {
            offset: 0,
            limit: ids.len().max(1),
            total: ids.len(),
        }),
        resources: Some(Value::Array(ids)),
        ..Payload::default()
    };
    c.respond(StatusCode::OK, SERVICE, payload)
}

async fn files_by_id(s: S, c: C, q: RawQuery, scripts: bool) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = query_ids(&params, 100).map(|ids| {
        let mut state = s.write();
        let files = store(&mut state.rtr, scripts);
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for id in &ids {
            match files.iter().find(|f| &f.id == id) {
                Some(f) => out.push(file_view(f, scripts)),
                None => errors.push(ApiError::for_id(
                    StatusCode::NOT_FOUND,
                    "file not found",
                    id,
                )),
            }
        }
        entities(&c, SERVICE, out, errors)
    });
    finish(&c, outcome)
}

async fn upload(s: S, c: C, headers: HeaderMap, body: Body, scripts: bool) -> Response {
    let outcome = match read_body(body).await {
        Ok(bytes) => {
            form_fields(&headers, &bytes).and_then(|fields| save(&s, &c, &fields, scripts))
        }
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

fn save(shared: &Shared, ctx: &Ctx, fields: &HashMap<String, String>, scripts: bool) -> Outcome {
    let field = |n: &str| fields.get(n).map(String::as_str).filter(|v| !v.is_empty());
    let content = field("file")
        .or(field("content"))
        .ok_or_else(|| Failure::bad_request("file or content is required"))?;
    let name = field("name")
        .or(field("file_name"))
        .ok_or_else(|| Failure::bad_request("name is required"))?;
    let description =
        field("description").ok_or_else(|| Failure::bad_request("description is required"))?;
    let mut state = shared.write();
    let files = store(&mut state.rtr, scripts);
    if files.iter().any(|f| f.name == name) {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "file with given name already exists",
        ));
    }
    let mut rng = rng::unseeded();
    files.push(StoredFile {
        id: format!("{}_{}", rng.hex(32), rng.hex(32)),
        name: name.to_owned(),
        description: description.to_owned(),
        content: content.to_owned(),
        platform: vec![field("platform").unwrap_or("windows").to_owned()],
        permission_type: field("permission_type").unwrap_or("private").to_owned(),
        created: Timestamp::now(),
    });
    let payload = Payload {
        resources: Some(json!([])),
        resources_affected: Some(1),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, SERVICE, payload))
}

async fn delete_file(s: S, c: C, q: RawQuery, scripts: bool) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = params.required("ids").map(str::to_owned).and_then(|id| {
        let mut state = s.write();
        let files = store(&mut state.rtr, scripts);
        let before = files.len();
        files.retain(|f| f.id != id);
        if files.len() == before {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "Could not find file for deletion",
            ));
        }
        let payload = Payload {
            resources: Some(json!([])),
            resources_affected: Some(1),
            ..Payload::default()
        };
        Ok(c.respond(StatusCode::OK, SERVICE, payload))
    });
    finish(&c, outcome)
}

fn file_view(f: &StoredFile, scripts: bool) -> Value {
    let digest: String = (0..4)
        .map(|i| {
            format!(
                "{:016x}",
                f.content
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64 ^ i, |h, b| (h ^ u64::from(b))
                        .wrapping_mul(0x0100_0000_01b3))
            )
        })
        .collect();
    let mut view = json!({
        "id": f.id,
        "name": f.name,
        "description": f.description,
        "file_type": if scripts { "script" } else { "binary" },
        "permission_type": f.permission_type,
        "platform": f.platform,
        "sha256": digest,
        "size": f.content.len(),
        "created_by": "api-client",
        "created_by_uuid": "00000000-0000-4000-8000-000000000000",
        "created_timestamp": stamp(f.created),
        "modified_by": "api-client",
        "modified_timestamp": stamp(f.created),
        "run_attempt_count": 0,
        "run_success_count": 0,
        "write_access": true,
    });
    if scripts {
        view["content"] = json!(f.content);
    }
    view
}

/// Fields of a `multipart/form-data` or `application/x-www-form-urlencoded` body.
fn form_fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Failure> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        let text = String::from_utf8_lossy(body);
        let params = Params::parse(Some(&text));
        let names = [
            "file",
            "content",
            "name",
            "file_name",
            "description",
            "platform",
            "permission_type",
            "comments_for_audit_log",
        ];
        return Ok(names
            .iter()
            .filter_map(|n| params.get(n).map(|v| ((*n).to_owned(), v.to_owned())))
            .collect());
    };
    let boundary = format!("--{}", boundary.trim_matches('"'));
    let text = String::from_utf8_lossy(body);
    let mut fields = HashMap::new();
    for part in text.split(&boundary).skip(1) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let file_name = head
            .split("filename=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        if let Some(file_name) = file_name.filter(|_| name == "file") {
            fields.insert("file_name".to_owned(), file_name.to_owned());
        }
        fields.insert(name.to_owned(), value.to_owned());
    }
    if fields.is_empty() {
        return Err(Failure::bad_request("invalid multipart body"));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_nest() {
        assert!(read_only("ls") && !read_only("rm"));
        assert!(active("rm") && !active("put"));
        assert!(admin("put") && admin("ls"));
    }

    #[test]
    fn multipart_fields_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XyZ".parse().expect("header"),
        );
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n\
                    d\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; \
                    filename=\"a.ps1\"\r\n\r\nWrite-Host hi\r\n--XyZ--\r\n";
        let fields = form_fields(&headers, body.as_bytes()).expect("fields");
        assert_eq!(fields["description"], "d");
        assert_eq!(fields["file"], "Write-Host hi");
        assert_eq!(fields["file_name"], "a.ps1");
    }

    #[test]
    fn timeouts_parse() {
        let params = Params::parse(Some("timeout_duration=2m"));
        assert_eq!(
            timeout_of(&params).expect("valid"),
            Duration::from_secs(120)
        );
        assert!(timeout_of(&Params::parse(Some("timeout=601"))).is_err());
    }
}
