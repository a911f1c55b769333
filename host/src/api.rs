//! The host's implementation of the contract's imports.
//!
//! Every Falcon operation goes through [`RunState::call`], which asks the
//! gate first, bounds the call's time and maps the client's errors to the
//! contract's error variant. No function here talks to the client directly.

use std::future::Future;
use std::sync::atomic::Ordering;

use crate::bindings::falcon::plugin::{api, hosts, runtime, types, users};
use crate::bindings::{Comparison, Filter, PluginError, UpstreamError};
use crate::gate::{Operation, Tier};
use crate::sandbox::RunState;

/// How many per-user requests `roles-of-users` keeps in flight at once.
const ROLE_FANOUT: usize = 8;

/// The longest filter a plugin may send. Falcon rejects URLs past a few
/// kilobytes anyway (HTTP 414); refusing here gives the plugin a clear error
/// instead of a round trip that cannot succeed.
const MAX_FILTER_BYTES: usize = 16 * 1024;

/// The most ids one contract call takes. The host batches within this by
/// each endpoint's cap; past it, a plugin should page its own work.
const MAX_IDS_PER_CALL: usize = 100_000;

type HostResult<T> = wasmtime::Result<Result<T, PluginError>>;

impl RunState {
    /// The one path from a plugin to the Falcon client: gate, time bound,
    /// error mapping.
    async fn call<T, F, Fut>(
        &mut self,
        op: Operation,
        targets: &[String],
        note: Option<&str>,
        f: F,
    ) -> HostResult<T>
    where
        F: FnOnce(falcon::Client) -> Fut,
        Fut: Future<Output = Result<T, PluginError>>,
    {
        if targets.len() > MAX_IDS_PER_CALL {
            let message = format!(
                "`{}` was given {} ids; one call takes at most {MAX_IDS_PER_CALL}",
                op.name(),
                targets.len()
            );
            self.audit_call(op, targets.len(), "refused", "invalid-input", 0)?;
            return Ok(Err(PluginError::InvalidInput(message)));
        }
        let plugin = self.plugin_name.clone();
        let interactive = self.interactive;
        let admitted = self.gate.admit(op, targets, note, || {
            interactive && crate::approval::ask(&plugin, op, targets)
        });
        if let Err(refusal) = admitted {
            self.audit_call(
                op,
                targets.len(),
                refusal.decision,
                error_kind(&refusal.error),
                0,
            )?;
            return Ok(Err(refusal.error));
        }
        // A write's intent is on disk before its request leaves: if the host
        // dies mid-call, the log still says what may have happened.
        if op.tier() > Tier::Read {
            self.audit_call(op, targets.len(), "allowed", "intent", 0)?;
        }
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.call_timeout, f(self.falcon.clone())).await;
        let result = outcome.unwrap_or_else(|_| {
            Err(PluginError::Upstream(UpstreamError {
                status: 504,
                code: None,
                message: format!(
                    "`{}` took longer than {} (--call-timeout){}",
                    op.name(),
                    crate::units::show_duration(self.call_timeout),
                    // The request may have left before the deadline.
                    if op.tier() > Tier::Read {
                        "; the write may have been applied: check before repeating it"
                    } else {
                        ""
                    }
                ),
                trace_id: None,
            }))
        });
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if let Some(progress) = &self.progress {
            progress.inc(1);
        }
        tracing::debug!(
            operation = %op.name(),
            ok = result.is_ok(),
            elapsed_ms,
            "host call"
        );
        let status = result.as_ref().err().map_or("ok", error_kind);
        self.audit_call(op, targets.len(), "allowed", status, elapsed_ms)?;
        Ok(result)
    }

    /// Records one call in the audit log. A log that cannot be written stops
    /// the plugin: the host does not act unaudited.
    fn audit_call(
        &self,
        op: Operation,
        targets: usize,
        decision: &str,
        status: &str,
        elapsed_ms: u64,
    ) -> wasmtime::Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let fields = serde_json::json!({
            "operation": op.name(),
            "scope": op.scope().name(),
            "tier": op.tier().name(),
            "decision": decision,
            "targets": targets,
            "status": status,
            "duration_ms": elapsed_ms,
        });
        audit.record("call", fields).map_err(|e| {
            wasmtime::format_err!("stopped the plugin because the audit log failed: {e:#}")
        })
    }
}

/// A stable one-word name of an error, for the audit log.
fn error_kind(err: &PluginError) -> &'static str {
    match err {
        PluginError::NotGranted(_) => "not-granted",
        PluginError::MissingApiScope(_) => "missing-api-scope",
        PluginError::NotFound(_) => "not-found",
        PluginError::RateLimited(_) => "rate-limited",
        PluginError::InvalidInput(_) => "invalid-input",
        PluginError::Upstream(_) => "upstream-error",
        PluginError::BudgetExhausted(_) => "budget-exhausted",
        PluginError::DryRun(_) => "dry-run",
        PluginError::NotApproved(_) => "not-approved",
    }
}

/// Maps a client error to what the plugin can handle. Messages come from the
/// client's `Display`, which never holds a secret or token.
pub(crate) fn to_plugin_error(err: falcon::Error) -> PluginError {
    use falcon::Error as E;
    match err {
        E::Forbidden { .. } => PluginError::MissingApiScope(
            err.console_scope().unwrap_or_else(|| "unknown".to_owned()),
        ),
        E::RateLimited { retry_after, .. } => PluginError::RateLimited(
            retry_after.map_or(60_000, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        ),
        E::NotFound { ids, .. } => PluginError::NotFound(ids),
        E::InvalidInput(message) => PluginError::InvalidInput(message),
        other => PluginError::Upstream(UpstreamError {
            status: other.status().unwrap_or(0),
            code: match &other {
                E::Api { code, .. } => *code,
                _ => None,
            },
            message: other.to_string(),
            trace_id: other.trace_id().map(str::to_owned),
        }),
    }
}

/// Turns a structured filter into FQL; the client's builder escapes every
/// value and checks every field name.
pub(crate) fn to_fql(filter: &Filter) -> Result<Option<String>, PluginError> {
    use falcon::fql::{Condition, Fql, Op, Value};
    let size = match filter {
        Filter::All => 0,
        Filter::Fql(raw) => raw.len(),
        Filter::AllOf(conditions) => conditions
            .iter()
            .map(|c| c.field.len() + c.values.iter().map(String::len).sum::<usize>())
            .sum(),
    };
    if size > MAX_FILTER_BYTES {
        return Err(PluginError::InvalidInput(format!(
            "the filter is {size} bytes; the host accepts at most {MAX_FILTER_BYTES}"
        )));
    }
    let fql = match filter {
        Filter::All => Fql::new(),
        Filter::Fql(raw) => Fql::new().raw(raw.as_str()),
        Filter::AllOf(conditions) => {
            conditions.iter().fold(Fql::new(), |fql, c| {
                let (op, ordered) = match c.op {
                    Comparison::Equals => (Op::Eq, false),
                    Comparison::NotEquals => (Op::Ne, false),
                    Comparison::Greater => (Op::Gt, true),
                    Comparison::GreaterOrEqual => (Op::Ge, true),
                    Comparison::Less => (Op::Lt, true),
                    Comparison::LessOrEqual => (Op::Le, true),
                };
                // Falcon compares numbers unquoted (`severity:>=70`) and
                // everything else quoted, timestamps included.
                let values = c.values.iter().map(|v| match v.parse::<i64>() {
                    Ok(n) if ordered => Value::Int(n),
                    _ => Value::Str(v.clone()),
                });
                fql.and(Condition::new(c.field.as_str(), op, values))
            })
        }
    };
    if fql.is_empty() {
        return Ok(None);
    }
    fql.build()
        .map(Some)
        .map_err(|e| PluginError::InvalidInput(e.to_string()))
}

impl types::Host for RunState {}

impl runtime::Host for RunState {
    async fn log(&mut self, level: runtime::Level, message: String) -> wasmtime::Result<()> {
        let cost = message.len() as u64 + 1;
        if cost > self.log_budget {
            self.output_exceeded.store(true, Ordering::Relaxed);
            wasmtime::bail!(
                "the plugin exceeded the output limit of {} bytes of log (--max-output)",
                self.log_limit
            );
        }
        self.log_budget -= cost;
        if !self.quiet {
            let level = match level {
                runtime::Level::Trace => "trace",
                runtime::Level::Debug => "debug",
                runtime::Level::Info => "info",
                runtime::Level::Warn => "warn",
                runtime::Level::Error => "error",
            };
            // Plugin text goes to the terminal: strip control characters so
            // a plugin cannot move the cursor or forge host lines.
            let clean: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            eprintln!("[{}] {level}: {clean}", self.plugin_name);
        }
        Ok(())
    }

    async fn now(&mut self) -> wasmtime::Result<String> {
        Ok(jiff::Timestamp::now().to_string())
    }
}

impl users::Host for RunState {
    async fn list_users(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::ListUsers, &[], None, |client| async move {
            let query = falcon::users::UserQuery {
                filter: fql,
                sort: None,
            };
            client
                .users()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_users(&mut self, uuids: Vec<String>) -> HostResult<Vec<users::User>> {
        self.call(
            Operation::GetUsers,
            &uuids.clone(),
            None,
            |client| async move {
                let batch = client.users().get(&uuids).await.map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_user).collect())
            },
        )
        .await
    }

    async fn query_users(&mut self, filter: Filter) -> HostResult<Vec<users::User>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::QueryUsers, &[], None, |client| async move {
            let query = falcon::users::UserQuery {
                filter: fql,
                sort: None,
            };
            let ids = client
                .users()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)?;
            // A user deleted between the query and the details call is
            // simply gone; the answer is the users that exist now.
            let batch = client.users().get(&ids).await.map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                tracing::debug!(
                    missing = batch.missing.len(),
                    "users vanished during the query"
                );
            }
            Ok(batch.found.into_iter().map(to_user).collect())
        })
        .await
    }

    async fn roles_of_users(&mut self, uuids: Vec<String>) -> HostResult<Vec<users::UserRoles>> {
        self.call(
            Operation::RolesOfUsers,
            &uuids.clone(),
            None,
            |client| async move { roles_of_users(client, uuids).await },
        )
        .await
    }

    async fn list_roles(&mut self) -> HostResult<Vec<users::Role>> {
        self.call(Operation::ListRoles, &[], None, |client| async move {
            let roles = client.users().list_roles().await.map_err(to_plugin_error)?;
            Ok(roles
                .into_iter()
                .map(|r| users::Role {
                    id: r.id,
                    display_name: r.display_name,
                    description: r.description,
                    is_global: r.is_global,
                })
                .collect())
        })
        .await
    }
}

/// Fetches the grants of each user, a few requests at a time, keeping the
/// order asked.
async fn roles_of_users(
    client: falcon::Client,
    uuids: Vec<String>,
) -> Result<Vec<users::UserRoles>, PluginError> {
    let mut results: Vec<Option<users::UserRoles>> = vec![None; uuids.len()];
    let mut pending = uuids.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < ROLE_FANOUT {
            let Some((index, uuid)) = pending.next() else {
                break;
            };
            let client = client.clone();
            running.spawn(async move {
                let grants = client.users().roles_of_user(&uuid).await;
                (index, uuid, grants)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (index, uuid, grants) = joined.map_err(|e| {
            PluginError::Upstream(UpstreamError {
                status: 0,
                code: None,
                message: format!("host task failed while fetching roles: {e}"),
                trace_id: None,
            })
        })?;
        let grants = grants.map_err(to_plugin_error)?;
        results[index] = Some(users::UserRoles {
            user_uuid: uuid,
            grants: grants
                .into_iter()
                .map(|g| users::RoleGrant {
                    role_id: g.role_id,
                    role_name: g.role_name,
                    grant_type: g.grant_type,
                    expires_at: g.expires_at,
                })
                .collect(),
        });
    }
    Ok(results.into_iter().flatten().collect())
}

fn to_user(u: falcon::users::User) -> users::User {
    users::User {
        raw_json: u.raw.to_string(),
        uuid: u.uuid,
        uid: u.uid,
        first_name: u.first_name,
        last_name: u.last_name,
        status: u.status,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    }
}

impl hosts::Host for RunState {
    async fn list_hosts(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::ListHosts, &[], None, |client| async move {
            let query = host_query(fql);
            client
                .hosts()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_hosts(&mut self, ids: Vec<String>) -> HostResult<Vec<hosts::Device>> {
        self.call(
            Operation::GetHosts,
            &ids.clone(),
            None,
            |client| async move {
                let batch = client.hosts().get(&ids).await.map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_host).collect())
            },
        )
        .await
    }

    async fn query_hosts(&mut self, filter: Filter) -> HostResult<Vec<hosts::Device>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::QueryHosts, &[], None, |client| async move {
            let ids = client
                .hosts()
                .query_ids(&host_query(fql))
                .await
                .map_err(to_plugin_error)?;
            let batch = client.hosts().get(&ids).await.map_err(to_plugin_error)?;
            Ok(batch.found.into_iter().map(to_host).collect())
        })
        .await
    }

    async fn contain(
        &mut self,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        self.host_action(
            Operation::ContainHosts,
            falcon::hosts::HostAction::Contain,
            ids,
            note,
        )
        .await
    }

    async fn lift_containment(
        &mut self,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        let action = falcon::hosts::HostAction::LiftContainment;
        self.host_action(Operation::LiftContainment, action, ids, note)
            .await
    }
}

impl RunState {
    async fn host_action(
        &mut self,
        op: Operation,
        action: falcon::hosts::HostAction,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        if ids.is_empty() {
            return Ok(Err(PluginError::InvalidInput(format!(
                "`{}` needs at least one id",
                op.name()
            ))));
        }
        let (targets, shown_note) = (ids.clone(), note.clone());
        self.call(op, &targets, shown_note.as_deref(), |client| async move {
            let mut request = falcon::hosts::HostActionRequest::new(action, ids);
            if let Some(note) = note {
                request = request.note(note);
            }
            let outcome = client
                .hosts()
                .act(&request)
                .await
                .map_err(to_plugin_error)?;
            Ok(hosts::ActionResult {
                accepted: outcome.affected,
                refused: outcome
                    .errors
                    .into_iter()
                    .map(|e| hosts::Refusal {
                        id: e.id,
                        message: e.message,
                    })
                    .collect(),
            })
        })
        .await
    }
}

fn host_query(filter: Option<String>) -> falcon::hosts::HostQuery {
    match filter {
        Some(fql) => falcon::hosts::HostQuery::filtered(fql),
        None => falcon::hosts::HostQuery::all(),
    }
}

fn to_host(h: falcon::hosts::Host) -> hosts::Device {
    hosts::Device {
        raw_json: h.raw.to_string(),
        device_id: h.device_id,
        hostname: h.hostname,
        platform: h.platform_name,
        os_version: h.os_version,
        agent_version: h.agent_version,
        status: h.status,
        reduced_functionality_mode: h.reduced_functionality_mode.as_deref() == Some("yes"),
        last_seen: h.last_seen.map(|t| t.to_string()),
        local_ip: h.local_ip,
        external_ip: h.external_ip,
        groups: h.groups,
        tags: h.tags,
    }
}

impl api::Host for RunState {
    async fn call(
        &mut self,
        method: String,
        path: String,
        query: Vec<(String, String)>,
        body: Option<String>,
    ) -> HostResult<api::Response> {
        let (index, route) = match crate::routes::resolve(&method, &path) {
            Ok(found) => found,
            Err(reason) => {
                // Not a route: nothing to grant, so nothing reaches the gate,
                // but the attempt is audited like any refusal.
                let shown: String = path.chars().take(120).collect();
                self.audit_route_refusal(&method, &shown, &reason)?;
                return Ok(Err(PluginError::InvalidInput(reason)));
            }
        };
        if let Some(instead) = route.instead {
            let reason = format!(
                "`{} {}` is destructive and is not offered through `api.call`; use {instead}, \
                 which has an approval gate",
                route.endpoint.method.as_str(),
                route.endpoint.path
            );
            self.audit_route_refusal(&method, &path, &reason)?;
            return Ok(Err(PluginError::InvalidInput(reason)));
        }
        let body = match body.map(|text| serde_json::from_str::<serde_json::Value>(&text)) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                return Ok(Err(PluginError::InvalidInput(format!(
                    "the body is not JSON: {e}"
                ))));
            }
        };
        let size: usize = query.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_FILTER_BYTES {
            return Ok(Err(PluginError::InvalidInput(format!(
                "the query is {size} bytes; the host accepts at most {MAX_FILTER_BYTES}"
            ))));
        }
        self.call(Operation::Call(index), &[], None, |client| async move {
            let mut request = falcon::ApiRequest::new(route.endpoint);
            for (key, value) in query {
                request = request.query(key, value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = client.execute(request).await.map_err(to_plugin_error)?;
            Ok(api::Response {
                status: response.status,
                body: envelope_json(&response.envelope),
            })
        })
        .await
    }
}

impl RunState {
    fn audit_route_refusal(&self, method: &str, path: &str, reason: &str) -> wasmtime::Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let fields = serde_json::json!({
            "operation": format!("api.call {method} {path}"),
            "decision": "refused",
            "status": "invalid-input",
            "reason": reason,
        });
        audit.record("call", fields).map_err(|e| {
            wasmtime::format_err!("stopped the plugin because the audit log failed: {e:#}")
        })
    }
}

/// The envelope as Falcon sent it: `meta`, `resources`, `errors`, and any
/// other top-level field.
fn envelope_json(envelope: &falcon::Envelope) -> String {
    let mut object = serde_json::Map::new();
    object.insert("meta".into(), envelope.meta.raw.clone());
    object.insert("resources".into(), envelope.resources.clone());
    let errors: Vec<serde_json::Value> = envelope.errors.iter().map(|e| e.raw.clone()).collect();
    object.insert("errors".into(), serde_json::Value::Array(errors));
    if let serde_json::Value::Object(extra) = &envelope.extra {
        for (key, value) in extra {
            object.insert(key.clone(), value.clone());
        }
    }
    serde_json::Value::Object(object).to_string()
}
