//! `notify`: messages, tickets and email sent by the host to destinations the
//! operator configured.
//!
//! A send crosses the gate like any write (scope `notify:<destination>`,
//! call budget, dry run) through [`RunState::call`], which also writes its
//! `call` line in the audit log. A `notify` line follows with what only a
//! notification has: the destination, its kind, the size sent, the attempts
//! and the final status. Neither ever holds the URL, a token or a password.

use std::time::{Duration, Instant};

use super::{HostResult, error_kind};
use crate::bindings::PluginError;
use crate::bindings::falcon::plugin::notify;
use crate::gate::Operation;
use crate::notify::{Action, Delivered, Payload};
use crate::sandbox::RunState;

/// Time kept back from the call timeout, so that delivery gives up with its
/// own typed error (and the attempts it made) before the gate's timeout
/// cuts it off.
const DELIVERY_MARGIN: Duration = Duration::from_millis(500);

impl notify::Host for RunState {
    async fn send_message(
        &mut self,
        destination: String,
        message: notify::Message,
    ) -> HostResult<()> {
        let sent = self
            .notify_send(destination, Payload::Message(message))
            .await?;
        Ok(sent.map(|_| ()))
    }

    async fn create_ticket(
        &mut self,
        destination: String,
        ticket: notify::Ticket,
    ) -> HostResult<notify::CreatedTicket> {
        let sent = self
            .notify_send(destination, Payload::Ticket(ticket))
            .await?;
        Ok(sent.and_then(|ticket| {
            ticket.ok_or_else(|| {
                PluginError::InvalidInput("the destination created no ticket".to_owned())
            })
        }))
    }

    async fn send_email(&mut self, destination: String, email: notify::Email) -> HostResult<()> {
        let sent = self.notify_send(destination, Payload::Email(email)).await?;
        Ok(sent.map(|_| ()))
    }
}

impl RunState {
    /// Renders, gates, sends and audits one notification.
    async fn notify_send(
        &mut self,
        destination: String,
        payload: Payload,
    ) -> HostResult<Option<notify::CreatedTicket>> {
        let action = match &payload {
            Payload::Message(_) => Action::SendMessage,
            Payload::Ticket(_) => Action::CreateTicket,
            Payload::Email(_) => Action::SendEmail,
        };
        let notifier = self.notify.clone();
        let kind = notifier.kind(&destination).map_or("unknown", |k| k.name());

        // 1. Only a configured destination has a scope; any other name is
        //    the plugin's mistake, not a grant to teach.
        let scope = match notifier.scope_of(&destination) {
            Ok(scope) => scope,
            Err(error) => {
                self.audit_notify(action, &destination, kind, 0, &Err(error.clone()))?;
                return Ok(Err(error));
            }
        };
        let op = Operation::Notify(action, scope);

        // 2. Render before the gate, so that a dry run's plan shows what
        //    would have been sent and its size.
        let rendered = match notifier.render(&destination, payload, &self.plugin_name) {
            Ok(rendered) => rendered,
            Err(error) => {
                self.audit_call(op, 1, "refused", error_kind(&error), 0)?;
                self.audit_notify(action, &destination, kind, 0, &Err(error.clone()))?;
                return Ok(Err(error));
            }
        };
        let bytes = rendered.bytes;
        let note = format!("{}, {bytes} bytes", rendered.summary);

        // 3. The gate (grant, budget, dry run), the send, the call's audit line.
        let deadline = Instant::now() + self.call_timeout.saturating_sub(DELIVERY_MARGIN);
        let plugin = self.plugin_name.clone();
        let target = notifier.granted(&destination);
        let targets = vec![destination.clone()];
        let result = self
            .call(op, &targets, Some(&note), |_| async move {
                // The gate admitted the call, so the scope is granted and the
                // run loaded the destination's secrets when it started.
                let Some(target) = target else {
                    return Err(PluginError::InvalidInput(format!(
                        "destination `{destination}` was not loaded for this run"
                    )));
                };
                target.deliver(rendered, &plugin, deadline).await
            })
            .await?;

        // 4. The notification's own audit line.
        self.audit_notify(action, &targets[0], kind, bytes, &result)?;
        Ok(result.map(|delivered| delivered.ticket))
    }

    /// Records one notification: destination, kind, size, attempts, status.
    fn audit_notify(
        &self,
        action: Action,
        destination: &str,
        kind: &str,
        bytes: usize,
        result: &Result<Delivered, PluginError>,
    ) -> wasmtime::Result<()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let shown: String = destination.chars().take(64).collect();
        let (status, attempts, code) = match result {
            Ok(d) => ("sent", d.attempts, d.status),
            Err(PluginError::DeliveryFailed(f)) => ("delivery-failed", f.attempts, f.status),
            Err(e) => (error_kind(e), 0, None),
        };
        let fields = serde_json::json!({
            "operation": action.name(),
            "destination": shown,
            "kind": kind,
            "bytes": bytes,
            "status": status,
            "attempts": attempts,
            "reply": code,
        });
        audit.record("notify", fields).map_err(|e| {
            wasmtime::format_err!("stopped the plugin because the audit log failed: {e:#}")
        })
    }
}
