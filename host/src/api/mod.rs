//! The host's implementation of the contract's imports.
//!
//! Every Falcon operation goes through [`RunState::call`], which asks the
//! gate first, bounds the call's time and maps the client's errors to the
//! contract's error variant. No function here talks to the client directly.
//!
//! One file per interface of the contract; this file holds the gate path and
//! the conversions every interface shares.

mod alerts;
mod call;
mod host_groups;
pub(crate) mod hosts;
mod incidents;
mod iocs;
mod notify;
mod policies;
mod rtr;
mod runtime;
mod sensors;
mod sort;
mod users;

use std::future::Future;

use crate::bindings::{Comparison, Filter, PluginError, UpstreamError};
use crate::gate::{Operation, Tier};
use crate::sandbox::RunState;

/// The longest filter a plugin may send. Falcon rejects URLs past a few
/// kilobytes anyway (HTTP 414); refusing here gives the plugin a clear error
/// instead of a round trip that cannot succeed.
pub(crate) const MAX_FILTER_BYTES: usize = 16 * 1024;

/// The most ids one contract call takes. The host batches within this by
/// each endpoint's cap; past it, a plugin should page its own work.
const MAX_IDS_PER_CALL: usize = 100_000;

pub(crate) type HostResult<T> = wasmtime::Result<Result<T, PluginError>>;

impl RunState {
    /// The one path from a plugin to the Falcon client: gate, time bound,
    /// error mapping.
    pub(crate) async fn call<T, F, Fut>(
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
        // The prompt names hosts, not only their ids; looked up only when a
        // person will be asked, within the call's time bound.
        let shown = if interactive && self.gate.would_ask(op) {
            tokio::time::timeout(
                self.call_timeout,
                crate::approval::labels(&self.falcon, op, targets),
            )
            .await
            .unwrap_or_else(|_| targets.to_vec())
        } else {
            Vec::new()
        };
        let progress = self.progress.clone();
        let admitted = self.gate.admit(op, targets, note, || {
            // The spinner would share the prompt's line: hidden meanwhile.
            let ask = || crate::approval::ask(&plugin, op, &shown);
            interactive && progress.as_ref().map_or_else(ask, |bar| bar.suspend(ask))
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

    /// Refuses a call whose arguments the host rejected before it reached
    /// the gate (a filter too large, a blank id): audited like every other
    /// refusal, then handed to the plugin.
    pub(crate) fn refuse<T>(&self, op: Operation, error: PluginError) -> HostResult<T> {
        self.audit_call(op, 0, "refused", error_kind(&error), 0)?;
        Ok(Err(error))
    }

    /// Records one call in the audit log. A log that cannot be written stops
    /// the plugin: the host does not act unaudited.
    pub(crate) fn audit_call(
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
pub(crate) fn error_kind(err: &PluginError) -> &'static str {
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
        PluginError::DeliveryFailed(_) => "delivery-failed",
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
    // Each condition and value also costs its separators and quotes, so a
    // million empty conditions count as what they would become.
    let size = match filter {
        Filter::All => 0,
        Filter::Fql(raw) => raw.len(),
        Filter::AllOf(conditions) => conditions
            .iter()
            .map(|c| c.field.len() + 2 + c.values.iter().map(|v| v.len() + 3).sum::<usize>())
            .sum(),
    };
    if size > MAX_FILTER_BYTES {
        return Err(PluginError::InvalidInput(format!(
            "the filter is {size} bytes; the host accepts at most {MAX_FILTER_BYTES}"
        )));
    }
    if let Filter::Fql(raw) = filter
        && let Some(c) = raw.chars().find(|c| c.is_control())
    {
        return Err(PluginError::InvalidInput(format!(
            "the FQL filter holds the control character `{}`; FQL is one line of printable text",
            c.escape_default()
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
