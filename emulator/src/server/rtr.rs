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

/// Read-only verbs. Commands with sub-commands (`eventlog`, `reg`, `update`)
/// are listed per sub-command: the tier depends on it (`reg query` is
/// read-only, `reg set` needs an active responder).
const READ_ONLY: &[&str] = &[
    "cat",
    "cd",
    "clear",
    "csrutil",
    "env",
    "eventlog backup",
    "eventlog export",
    "eventlog list",
    "eventlog view",
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
    "update history",
    "update install",
    "update list",
    "update query",
    "xmemdump",
    "zip",
];
const ADMIN_ONLY: &[&str] = &["put", "put-and-run", "run", "falconscript", "cswindiag"];
/// Commands whose second word is a sub-command. Falcon's session `scripts`
/// list them as one command with `sub_commands`, and clients name them both
/// ways in `base_command`: the command (`reg`, as in
/// `{"base_command": "reg", "command_string": "reg set ..."}`) or the verb
/// (`reg delete`, as CrowdStrike's own FalconPy samples send), so both are
/// accepted; the sub-command then comes from `command_string`.
const WITH_SUB_COMMANDS: &[&str] = &["eventlog", "reg", "update"];

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

/// A command as the client sent it.
#[derive(Debug)]
struct Parsed {
    /// `base_command` as sent (`reg` or `reg query`), echoed in statuses.
    base: String,
    /// The verb it names, sub-command included (`reg query`).
    verb: String,
    /// The whole command line.
    line: String,
}

impl Parsed {
    /// The command line after the verb.
    fn arguments(&self) -> &str {
        let mut rest = self.line.trim_start();
        for _ in self.verb.split_whitespace() {
            rest = rest
                .find(char::is_whitespace)
                .map_or("", |end| rest[end..].trim_start());
        }
        rest.trim_end()
    }
}

/// Reads `base_command` and `command_string` and checks the verb against the
/// tier. `base_command` may name a command with sub-commands by its first
/// word (`reg`) or by both (`reg query`); see [`WITH_SUB_COMMANDS`].
fn parse_command(tier: Tier, body: &Value) -> Result<Parsed, Failure> {
    let base = text(body, &["base_command"])
        .map(str::trim)
        .ok_or_else(|| Failure::bad_request("base_command is required"))?;
    let line = text(body, &["command_string"]).map_or(base, str::trim);
    let base_words: Vec<&str> = base.split_whitespace().collect();
    let line_words: Vec<&str> = line.split_whitespace().take(base_words.len() + 1).collect();
    if !line_words.starts_with(&base_words) {
        return Err(Failure::bad_request(
            "command_string must start with base_command",
        ));
    }
    let verb = match base_words.as_slice() {
        [command] if WITH_SUB_COMMANDS.contains(command) => match line_words.get(1) {
            Some(sub) => format!("{command} {sub}"),
            None => {
                let subs: Vec<&str> = [READ_ONLY, ACTIVE]
                    .concat()
                    .into_iter()
                    .filter_map(|v| v.strip_prefix(command)?.strip_prefix(' '))
                    .collect();
                return Err(Failure::bad_request(format!(
                    "{command} needs a sub-command: {}",
                    subs.join(", ")
                )));
            }
        },
        words => words.join(" "),
    };
    if !(tier.allowed)(&verb) {
        return Err(Failure::bad_request(format!(
            "invalid base command: {verb}"
        )));
    }
    Ok(Parsed {
        base: base.to_owned(),
        verb,
        line: line.to_owned(),
    })
}

fn run_one(tier: Tier, shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let command = parse_command(tier, body)?;
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
    let (stdout, stderr) = simulate(&host, &command, &state.rtr);
    let request_id = rng::unseeded().uuid_v4();
    state.rtr.commands.insert(
        request_id.clone(),
        Command {
            session_id: session_id.to_owned(),
            queued: session.offline_queued,
            base_command: command.base,
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

/// Per-host outcome of a batch call; `error` is the code and message.
fn host_result(aid: &str, session_id: &str, error: Option<(u16, &str)>) -> Value {
    let errors = match error {
        Some((code, message)) => json!([{"code": code, "message": message}]),
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
    // The captured offline failure has no `offline_queued`; the captured
    // malformed-id failure has `offline_queued: false`.
    if error.is_none_or(|(code, _)| code != OFFLINE_CODE) {
        result["offline_queued"] = json!(false);
    }
    result
}

/// Why Falcon cannot parse `aid`, if it cannot. Falcon parses every agent id
/// of a batch as a UUID (32 hex digits, or the hyphenated, braced or
/// `urn:uuid:` forms) before it looks for the sensor, and reports one that
/// does not parse per host with code 500 and the parser's message, as in the
/// captured `{"code": 500, "message": "uuid: incorrect UUID length 47 in
/// string \"...\""}`.
fn aid_parse_error(aid: &str) -> Option<String> {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let canonical = |s: &str| {
        s.len() == 36
            && s.char_indices().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let inner = match aid.len() {
        32 | 36 => aid,
        34 | 38 if aid.starts_with('{') && aid.ends_with('}') => &aid[1..aid.len() - 1],
        41 | 45 if aid.starts_with("urn:uuid:") => &aid[9..],
        34 | 38 | 41 | 45 => {
            return Some(format!("uuid: incorrect UUID format in string {aid:?}"));
        }
        n => return Some(format!("uuid: incorrect UUID length {n} in string {aid:?}")),
    };
    let valid = if inner.len() == 32 {
        hex(inner)
    } else {
        canonical(inner)
    };
    (!valid).then(|| format!("uuid: incorrect UUID format in string {aid:?}"))
}

/// Per-host code for a well-formed agent id that is not a sensor of this CID.
/// No captured body shows this case; the emulator answers like the
/// single-host session start (404, "Could not find sensor") and never queues
/// such a host, whatever `queue_offline` says: Falcon opens sessions only on
/// its own CID's sensors, so this is not the offline code 40407, which means
/// a known sensor that does not answer.
const UNKNOWN_HOST: (u16, &str) = (404, "Could not find sensor");

fn init_batch(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    timeout_of(params)?;
    let hosts = strings(body, "host_ids");
    if hosts.is_empty() || hosts.len() > MAX_BATCH_HOSTS {
        // The captured answer: HTTP 400, an empty batch and this message.
        let body = json!({
            "meta": meta(ctx),
            "batch_id": "",
            "resources": {},
            "errors": [{"code": 400, "message": format!(
                "Invalid number of hosts in request: {}. Must be an integer greater than 0 \
                 and less than or equal to {MAX_BATCH_HOSTS}",
                hosts.len()
            )}],
        });
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    let queue = body
        .get("queue_offline")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut state = shared.write();
    let mut results = serde_json::Map::new();
    let mut members = Vec::new();
    for aid in &hosts {
        if let Some(message) = aid_parse_error(aid) {
            results.insert(aid.clone(), host_result(aid, "", Some((500, &message))));
            continue;
        }
        let Some(host) = host_of(&state, aid).cloned() else {
            results.insert(aid.clone(), host_result(aid, "", Some(UNKNOWN_HOST)));
            continue;
        };
        let online = host.online_state == "online";
        if !online && !queue {
            results.insert(
                aid.clone(),
                host_result(
                    aid,
                    "",
                    Some((OFFLINE_CODE, "Sensor appears to be offline")),
                ),
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
    let command = parse_command(tier, body)?;
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
                host_result(
                    aid,
                    "",
                    Some((OFFLINE_CODE, "Sensor appears to be offline")),
                ),
            );
            continue;
        }
        let mut result = host_result(aid, sid, None);
        if delay > timeout {
            result["complete"] = json!(false);
            result["errors"] = json!([{"code": 408, "message": "command timed out"}]);
        } else {
            let (stdout, stderr) = simulate(host, &command, &state.rtr);
            result["stdout"] = json!(stdout);
            result["stderr"] = json!(stderr);
            result["complete"] = json!(!session.offline_queued);
            result["query_time"] = json!(ctx.elapsed());
            succeeded += 1;
        }
        result["task_id"] = json!(rng::unseeded().uuid_v4());
        result["base_command"] = json!(command.base);
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

const EVENT_LOGS: &str = "Application\nSecurity\nSetup\nSystem\n";
const UPDATES: &str = "KB5034441  Security Update  Installed\n\
                       KB5035845  Cumulative Update  Installed\n";

/// Plausible output for a command on a host of its platform.
fn simulate(host: &Host, command: &Parsed, rtr: &Sessions) -> (String, String) {
    let windows = host.platform_name == "Windows";
    let (verb, arg) = (command.verb.as_str(), command.arguments());
    let family = verb.split(' ').next().unwrap_or_default();
    if !windows && matches!(family, "eventlog" | "reg" | "update") {
        return (
            String::new(),
            format!("{family} is only available on Windows hosts"),
        );
    }
    let root = if windows { "C:\\" } else { "/" };
    let out = match verb {
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
        "reg query" => REG_QUERY.to_owned(),
        "eventlog list" => EVENT_LOGS.to_owned(),
        "eventlog view" => {
            let log = arg.split_whitespace().next().unwrap_or("System");
            format!(
                "Log: {log}\nSource  EventID  Computer\nService Control Manager  7036  {}\n",
                host.hostname
            )
        }
        "update list" | "update history" | "update query" => UPDATES.to_owned(),
        "cat" => format!("contents of {arg}\n"),
        "runscript" => return run_script(arg, rtr),
        "kill" | "rm" | "mkdir" | "cp" | "mv" | "put" | "run" | "reg set" | "reg delete"
        | "reg load" | "reg unload" | "eventlog backup" | "eventlog export" | "update install" => {
            format!("{verb} {arg}: ok\n")
        }
        _ => String::new(),
    };
    (out, String::new())
}

/// The `-Name=value` flags of an RTR command line, names lowercased. Values
/// may be bare words or quoted with `"`, `'` or triple backticks
/// (`-Raw=```...```), and quoted values keep their spaces.
fn flags(arg: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = arg.trim_start();
    while !rest.is_empty() {
        let Some(flag) = rest.strip_prefix('-') else {
            let word = rest.split_whitespace().next().unwrap_or_default();
            return Err(format!(
                "unexpected argument `{word}`: flags look like -Name=value"
            ));
        };
        let name_end = flag
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(flag.len());
        let name = flag[..name_end].to_ascii_lowercase();
        let after = &flag[name_end..];
        let Some(value) = after.strip_prefix('=') else {
            out.push((name, String::new()));
            rest = after.trim_start();
            continue;
        };
        let quote = ["```", "\"", "'"]
            .into_iter()
            .find(|q| value.starts_with(q));
        let (text, tail) = match quote {
            Some(q) => {
                let inner = &value[q.len()..];
                let end = inner
                    .find(q)
                    .ok_or_else(|| format!("-{name}: the value has no closing {q}"))?;
                (&inner[..end], &inner[end + q.len()..])
            }
            None => {
                let end = value.find(char::is_whitespace).unwrap_or(value.len());
                (&value[..end], &value[end..])
            }
        };
        if !tail.is_empty() && !tail.starts_with(char::is_whitespace) {
            return Err(format!("-{name}: text right after the closing quote"));
        }
        out.push((name, text.to_owned()));
        rest = tail.trim_start();
    }
    Ok(out)
}

/// `runscript -CloudFile="name"` runs an uploaded script, optionally with
/// `-CommandLine="arguments"`; `-Raw=` runs inline text and `-HostPath=` a
/// script already on the host.
fn run_script(arg: &str, rtr: &Sessions) -> (String, String) {
    let flags = match flags(arg) {
        Ok(flags) => flags,
        Err(e) => return (String::new(), format!("runscript: {e}")),
    };
    let flag = |name: &str| {
        flags
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let arguments = flag("commandline").filter(|a| !a.is_empty());
    let with_arguments = |out: String| match arguments {
        Some(a) => format!("{out}arguments: {a}\n"),
        None => out,
    };
    if let Some(name) = flag("cloudfile") {
        return match rtr.scripts.iter().find(|s| s.name == name) {
            Some(script) => (
                with_arguments(format!(
                    "ran {} ({} bytes)\n",
                    script.name,
                    script.content.len()
                )),
                String::new(),
            ),
            None => (String::new(), format!("cloud file {name} not found")),
        };
    }
    if flag("raw").is_some() || flag("hostpath").is_some() {
        return (
            with_arguments("script completed\n".to_owned()),
            String::new(),
        );
    }
    (
        String::new(),
        "runscript needs -CloudFile=, -HostPath= or -Raw=".to_owned(),
    )
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

    fn parsed(tier: usize, base: &str, line: &str) -> Result<Parsed, Failure> {
        parse_command(
            TIERS[tier].2,
            &json!({"base_command": base, "command_string": line}),
        )
    }

    #[test]
    fn sub_commands_resolve_from_either_base_command() {
        for base in ["reg", "reg query"] {
            let p = parsed(0, base, "reg query HKLM\\Software").expect("read-only");
            assert_eq!(
                (p.verb.as_str(), p.arguments()),
                ("reg query", "HKLM\\Software")
            );
            assert_eq!(p.base, base);
        }
        assert!(parsed(0, "reg", "reg set HKLM\\x v").is_err());
        assert_eq!(
            parsed(1, "reg", "reg set HKLM\\x v").expect("active").verb,
            "reg set"
        );
        assert_eq!(
            parsed(0, "eventlog", "eventlog view System")
                .expect("ro")
                .verb,
            "eventlog view"
        );
        assert!(parsed(0, "update list", "update list").is_err());
        assert!(parsed(1, "update", "update list").is_ok());
        assert!(parsed(1, "reg", "reg").is_err());
        assert!(parsed(0, "reg query", "reg set x").is_err());
        assert!(parsed(0, "ls", "lsof").is_err());
    }

    #[test]
    fn flags_keep_quoted_values_whole() {
        let got =
            flags(r#"-CloudFile="collect it.ps1" -CommandLine="-Days 3 -Path 'C:\x'" -Timeout=30"#)
                .expect("flags");
        assert_eq!(
            got,
            [
                ("cloudfile".to_owned(), "collect it.ps1".to_owned()),
                ("commandline".to_owned(), "-Days 3 -Path 'C:\\x'".to_owned()),
                ("timeout".to_owned(), "30".to_owned()),
            ]
        );
        let raw = flags("-Raw=```Get-Date; \"x\"```").expect("raw");
        assert_eq!(raw[0].1, "Get-Date; \"x\"");
        assert!(flags(r#"-CloudFile="open"#).is_err());
        assert!(flags("collect.ps1").is_err());
    }

    #[test]
    fn agent_ids_parse_like_uuids() {
        assert_eq!(aid_parse_error(&"a".repeat(32)), None);
        assert_eq!(
            aid_parse_error("0b5b5e1c-8d6a-4e2b-9c3d-1f2e3d4c5b6a"),
            None
        );
        assert_eq!(
            aid_parse_error("wrongAgentId").as_deref(),
            Some("uuid: incorrect UUID length 12 in string \"wrongAgentId\"")
        );
        assert!(aid_parse_error(&"g".repeat(32)).is_some_and(|m| m.contains("format")));
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
