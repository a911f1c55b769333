//! A test plugin for notifications: sends what its input lists, in order,
//! through the SDK's formatting helpers, and reports each answer so that the
//! tests can compare what the receivers got with what was asked.
//!
//! Input: `{"sends": [{"op": "message" | "ticket" | "email", "to": "<destination>", ...}]}`
//! - message: `title`, `markdown`, `severity`, `blocks` (true: built with
//!   `format::Blocks`; false: the host's default blocks);
//! - ticket: `summary`, `markdown`, `priority`, `labels`, `adf` (true: the
//!   description also as ADF);
//! - email: `subject`, `markdown`, `recipients`, `html` (true: with an HTML part).

use falcon_sdk::format::{self, Blocks};
use falcon_sdk::notify::{self, Priority, Severity};
use falcon_sdk::{Error, Input, Plugin};
use serde_json::{Value, json};

falcon_sdk::manifest! {
    name: "notify-probe",
    version: "0.1.0",
    description: "Test plugin that sends notifications and reports each answer",
    scopes: ["notify:chat", "notify:soar", "notify:jira-sec", "notify:snow", "notify:mail"],
}

struct NotifyProbe;

impl Plugin for NotifyProbe {
    fn run(input: Input) -> Result<String, String> {
        let sends = input
            .get("sends")
            .and_then(Value::as_array)
            .ok_or("the input needs `sends`, a list of objects")?;
        let answers: Vec<Value> = sends.iter().map(send).collect();
        Ok(json!({ "answers": answers }).to_string())
    }
}

fn text<'a>(send: &'a Value, field: &str) -> &'a str {
    send.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn flag(send: &Value, field: &str) -> bool {
    send.get(field).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(send: &Value, field: &str) -> Vec<String> {
    send.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn send(send: &Value) -> Value {
    let to = text(send, "to");
    let markdown = text(send, "markdown");
    let result = match text(send, "op") {
        "message" => {
            let title = text(send, "title");
            let severity = match text(send, "severity") {
                "critical" => Severity::Critical,
                "high" => Severity::High,
                "medium" => Severity::Medium,
                "low" => Severity::Low,
                _ => Severity::Info,
            };
            let blocks = flag(send, "blocks").then(|| {
                Blocks::new()
                    .header(title)
                    .fields([
                        ("Severity", text(send, "severity")),
                        ("Plugin", "notify-probe"),
                    ])
                    .section(&format::markdown_to_mrkdwn(markdown))
                    .context("sent by `notify-probe`")
                    .to_json()
            });
            let message = notify::Message {
                title: title.to_owned(),
                text: format::markdown_to_mrkdwn(markdown),
                blocks,
                severity,
            };
            notify::send_message(to, &message).map(|()| json!("sent"))
        }
        "ticket" => {
            let priority = match text(send, "priority") {
                "highest" => Priority::Highest,
                "high" => Priority::High,
                "low" => Priority::Low,
                "lowest" => Priority::Lowest,
                _ => Priority::Medium,
            };
            let ticket = notify::Ticket {
                summary: text(send, "summary").to_owned(),
                description: format::markdown_to_text(markdown),
                description_adf: flag(send, "adf").then(|| format::markdown_to_adf(markdown)),
                priority,
                labels: strings(send, "labels"),
            };
            notify::create_ticket(to, &ticket).map(|t| json!({ "key": t.key, "id": t.id }))
        }
        "email" => {
            let subject = text(send, "subject");
            let body = format::html_email(subject, markdown);
            let email = notify::Email {
                subject: subject.to_owned(),
                text: body.text,
                html: flag(send, "html").then_some(body.html),
                to: strings(send, "recipients"),
            };
            notify::send_email(to, &email).map(|()| json!("sent"))
        }
        other => {
            return json!({ "error": { "kind": "probe", "message": format!("unknown op `{other}`") } });
        }
    };
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(e) => json!({ "error": describe(&e) }),
    }
}

/// The error's variant and fields, for the tests to check.
fn describe(e: &Error) -> Value {
    let (kind, extra) = match e {
        Error::NotGranted(d) => (
            "not-granted",
            json!({ "scope": d.scope, "remedy": d.remedy }),
        ),
        Error::InvalidInput(_) => ("invalid-input", json!({})),
        Error::RateLimited(ms) => ("rate-limited", json!({ "retry_after_ms": ms })),
        Error::DryRun(_) => ("dry-run", json!({})),
        Error::DeliveryFailed(f) => (
            "delivery-failed",
            json!({ "status": f.status, "attempts": f.attempts, "destination": f.destination }),
        ),
        Error::BudgetExhausted(_) => ("budget-exhausted", json!({})),
        _ => ("other", json!({})),
    };
    json!({ "kind": kind, "message": e.message(), "detail": extra })
}

falcon_sdk::export_plugin!(NotifyProbe);
