//! The host's implementation of the contract's imports.
//!
//! Every Falcon operation goes through [`RunState::call`], which asks the
//! gate first, bounds the call's time and maps the client's errors to the
//! contract's error variant. No function here talks to the client directly.

use std::future::Future;
use std::sync::atomic::Ordering;

use crate::bindings::falcon::plugin::{runtime, types, users};
use crate::bindings::{Comparison, Filter, PluginError, UpstreamError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// How many per-user requests `roles-of-users` keeps in flight at once.
const ROLE_FANOUT: usize = 8;

type HostResult<T> = wasmtime::Result<Result<T, PluginError>>;

impl RunState {
    /// The one path from a plugin to the Falcon client: gate, time bound,
    /// error mapping.
    async fn call<T, F, Fut>(&mut self, op: Operation, targets: usize, f: F) -> HostResult<T>
    where
        F: FnOnce(falcon::Client) -> Fut,
        Fut: Future<Output = Result<T, PluginError>>,
    {
        if let Err(denied) = self.gate.admit(op) {
            self.audit_call(op, targets, "denied", error_kind(&denied), 0)?;
            return Ok(Err(denied));
        }
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.call_timeout, f(self.falcon.clone())).await;
        let result = outcome.unwrap_or_else(|_| {
            Err(PluginError::Upstream(UpstreamError {
                status: 504,
                code: None,
                message: format!(
                    "`{}` took longer than {} (--call-timeout)",
                    op.name(),
                    crate::units::show_duration(self.call_timeout)
                ),
                trace_id: None,
            }))
        });
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            operation = op.name(),
            ok = result.is_ok(),
            elapsed_ms,
            "host call"
        );
        let status = result.as_ref().err().map_or("ok", error_kind);
        self.audit_call(op, targets, "allowed", status, elapsed_ms)?;
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
        self.call(Operation::ListUsers, 0, |client| async move {
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
        self.call(Operation::GetUsers, uuids.len(), |client| async move {
            let batch = client.users().get(&uuids).await.map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                return Err(PluginError::NotFound(batch.missing));
            }
            Ok(batch.found.into_iter().map(to_user).collect())
        })
        .await
    }

    async fn query_users(&mut self, filter: Filter) -> HostResult<Vec<users::User>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::QueryUsers, 0, |client| async move {
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
        self.call(Operation::RolesOfUsers, uuids.len(), |client| async move {
            roles_of_users(client, uuids).await
        })
        .await
    }

    async fn list_roles(&mut self) -> HostResult<Vec<users::Role>> {
        self.call(Operation::ListRoles, 0, |client| async move {
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
