//! Incident response: for new high-severity alerts (or the alerts the
//! operator names), open a ticket, alert the chat channel, network-contain
//! the affected hosts, mark the alerts as handled, and write a threat summary
//! with host details and a detection timeline.
//!
//! Containment is destructive: the host asks the operator's approval
//! (`--approve hosts.contain`); in a dry run it is planned, not sent; without
//! approval it is refused, and the plugin reports the refusal and carries on
//! with the rest of the response.
//!
//! Input (all optional): `alert_ids` (composite ids; instead of the query),
//! `min_severity` (`low`, `medium`, `high`, `critical` or 1-100; default
//! `high`), `since` (RFC 3339 or `24h`/`7d` before `as_of`; default `24h`),
//! `ticket_to` and `chat_to` (destination names; default `tickets` and
//! `chat`), `contain` (default `true`), `tag` (default `incident-response`),
//! `format` (`markdown` or `json`), `as_of` (RFC 3339; defaults to the host's
//! clock).

use std::collections::BTreeMap;

use falcon_sdk::alerts::{self, Alert, AlertStatus, AlertUpdate};
use falcon_sdk::format::{self, Blocks};
use falcon_sdk::hosts::{self, Device};
use falcon_sdk::notify::{self, Message, Priority, Severity, Ticket};
use falcon_sdk::report::Table;
use falcon_sdk::{Comparison, Error, Input, Plugin, fql};
use jiff::Timestamp;
use serde::Serialize;

falcon_sdk::manifest! {
    name: "incident-response",
    version: env!("CARGO_PKG_VERSION"),
    description: "Responds to high-severity alerts: ticket, chat alert, containment of the affected hosts (with approval), threat summary and timeline",
    scopes: [
        "detections:read",
        "detections:write",
        "hosts:read",
        "hosts:write",
        "notify:*",
    ],
}

const SECONDS_PER_DAY: i64 = 86_400;

/// The most alerts one response handles: more is an outbreak, not an
/// incident, and needs a person before any host is contained.
const MAX_ALERTS: usize = 200;

/// The most hosts one response contains, for the same reason.
const MAX_HOSTS: usize = 25;

struct IncidentResponse;

impl Plugin for IncidentResponse {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::from_input(&input)?;
        let alerts = select_alerts(&options)?;
        if alerts.len() > MAX_ALERTS {
            return Err(format!(
                "{} alerts match; one response handles at most {MAX_ALERTS}: raise \
                 `min_severity`, shorten `since`, or name the alerts with `alert_ids`",
                alerts.len()
            ));
        }
        let mut response = Response::new(&options, alerts)?;
        if response.alerts.is_empty() {
            falcon_sdk::log_info("no alert to respond to");
            return Ok(response.render(options.format));
        }
        response.contain(&options);
        response.open_ticket(&options);
        response.alert_chat(&options);
        response.mark_alerts(&options);
        let undone = response.undone();
        if !undone.is_empty() {
            falcon_sdk::report_failure(&format!(
                "{} did not happen (see the report)",
                undone.join(", ")
            ));
        }
        Ok(response.render(options.format))
    }
}

falcon_sdk::export_plugin!(IncidentResponse);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Json,
}

#[derive(Debug)]
struct Options {
    alert_ids: Vec<String>,
    min_severity: i64,
    since: Timestamp,
    as_of: Timestamp,
    ticket_to: String,
    chat_to: String,
    contain: bool,
    tag: String,
    format: Format,
}

impl Options {
    fn from_input(input: &Input) -> Result<Self, String> {
        input
            .reject_unknown(&[
                "alert_ids",
                "min_severity",
                "since",
                "ticket_to",
                "chat_to",
                "contain",
                "tag",
                "format",
                "as_of",
            ])
            .map_err(|e| e.to_string())?;
        let alert_ids = input
            .strings_or("alert_ids", &[])
            .map_err(|e| e.to_string())?;
        let min_severity = match input.get("min_severity") {
            None => 60,
            Some(value) => parse_severity(value)?,
        };
        let as_of: Timestamp = match input.opt_str("as_of").map_err(|e| e.to_string())? {
            Some(text) => text.parse().map_err(|e| {
                format!(
                    "input field `as_of` must be an RFC 3339 time such as 2026-12-01T09:00:00Z: {e}"
                )
            })?,
            None => falcon_sdk::runtime::now()
                .parse::<Timestamp>()
                .and_then(|now| Timestamp::from_second(now.as_second()))
                .map_err(|e| format!("the host's clock gave an unreadable time: {e}"))?,
        };
        let since = parse_since(
            input.str_or("since", "24h").map_err(|e| e.to_string())?,
            as_of,
        )?;
        let name = |field: &str, default: &str| -> Result<String, String> {
            let value = input
                .str_or(field, default)
                .map_err(|e| e.to_string())?
                .trim();
            if value.is_empty() {
                return Err(format!(
                    "input field `{field}` must name a notification destination, such as \"{default}\""
                ));
            }
            Ok(value.to_owned())
        };
        let contain = match input.get("contain") {
            None => true,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => {
                return Err(format!(
                    "input field `contain` must be true or false, got {other}"
                ));
            }
        };
        let tag = name("tag", "incident-response")?;
        if tag.contains(char::is_whitespace) {
            return Err(format!(
                "input field `tag` must be one word (Falcon tags have no spaces), got \"{tag}\""
            ));
        }
        let format = match input
            .choice_or("format", &["markdown", "json"], "markdown")
            .map_err(|e| e.to_string())?
        {
            "json" => Format::Json,
            _ => Format::Markdown,
        };
        Ok(Self {
            alert_ids,
            min_severity,
            since,
            as_of,
            ticket_to: name("ticket_to", "tickets")?,
            chat_to: name("chat_to", "chat")?,
            contain,
            tag,
            format,
        })
    }
}

/// `high` or `70`: the lowest severity (1-100) handled. Names stand for the
/// lower bound of Falcon's severity bands.
fn parse_severity(value: &serde_json::Value) -> Result<i64, String> {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_ascii_lowercase(),
        other => other.to_string(),
    };
    let band = match text.as_str() {
        "informational" => Some(1),
        "low" => Some(20),
        "medium" => Some(40),
        "high" => Some(60),
        "critical" => Some(80),
        _ => None,
    };
    match band.or_else(|| text.parse::<i64>().ok().filter(|n| (1..=100).contains(n))) {
        Some(n) => Ok(n),
        None => Err(format!(
            "input field `min_severity` must be low, medium, high, critical or a number from \
             1 to 100, got {value}"
        )),
    }
}

/// `24h`, `7d` or an RFC 3339 time.
fn parse_since(text: &str, as_of: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    let relative = |unit: i64| -> Option<Timestamp> {
        let n: i64 = text[..text.len() - 1].parse().ok().filter(|n| *n > 0)?;
        Timestamp::from_second(as_of.as_second() - n.checked_mul(unit)?).ok()
    };
    let parsed = if text.ends_with('h') {
        relative(3_600)
    } else if text.ends_with('d') {
        relative(SECONDS_PER_DAY)
    } else {
        text.parse().ok()
    };
    parsed.ok_or_else(|| {
        format!(
            "input field `since` must be a duration such as 24h or 7d, or an RFC 3339 time, \
             got \"{text}\""
        )
    })
}

/// The alerts to respond to, oldest first.
fn select_alerts(options: &Options) -> Result<Vec<Alert>, String> {
    let mut alerts = if options.alert_ids.is_empty() {
        let (since, as_of, min) = (
            options.since.to_string(),
            options.as_of.to_string(),
            options.min_severity.to_string(),
        );
        let filter = fql::all_of([
            fql::eq("status", "new"),
            fql::condition("severity", Comparison::GreaterOrEqual, [min.as_str()]),
            fql::condition(
                "created_timestamp",
                Comparison::GreaterOrEqual,
                [since.as_str()],
            ),
            fql::condition(
                "created_timestamp",
                Comparison::LessOrEqual,
                [as_of.as_str()],
            ),
        ]);
        alerts::query_alerts(&filter, Some("created_timestamp|asc")).map_err(|e| e.message())?
    } else {
        match alerts::get_alerts(&options.alert_ids) {
            Ok(found) => found,
            Err(Error::NotFound(ids)) => {
                return Err(format!(
                    "no alert has the composite id {}; copy the ids from the console or from \
                     `alerts.list-alerts`",
                    ids.join(", ")
                ));
            }
            Err(e) => return Err(e.message()),
        }
    };
    alerts.sort_by(|a, b| {
        (&a.created_timestamp, &a.composite_id).cmp(&(&b.created_timestamp, &b.composite_id))
    });
    alerts.dedup_by(|a, b| a.composite_id == b.composite_id);
    Ok(alerts)
}

/// What happened to one step of the response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
enum Outcome {
    /// Done; the detail says what came of it.
    Done(String),
    /// A dry run: planned, not sent.
    Planned(String),
    /// The operator did not approve it.
    NotApproved(String),
    /// Turned off in the input, or nothing to do.
    Skipped(String),
    /// It failed; the rest of the response went on.
    Failed(String),
}

impl Outcome {
    /// The outcome of a failed call.
    fn of(error: &Error) -> Self {
        match error {
            Error::DryRun(m) => Self::Planned(m.clone()),
            Error::NotApproved(m) => Self::NotApproved(m.clone()),
            other => Self::Failed(other.message()),
        }
    }

    /// One line for a host table: the outcome without the host's wording.
    fn short(&self) -> String {
        match self {
            Self::Planned(_) => "planned (dry run)".into(),
            Self::NotApproved(_) => "REFUSED: not approved".into(),
            other => other.line(),
        }
    }

    fn line(&self) -> String {
        match self {
            Self::Done(d) => format!("done: {d}"),
            Self::Planned(_) => "planned (dry run, not sent)".into(),
            Self::NotApproved(d) => format!("REFUSED, not approved: {d}"),
            Self::Skipped(d) => format!("skipped: {d}"),
            Self::Failed(d) => format!("FAILED: {d}"),
        }
    }
}

#[derive(Debug, Serialize)]
struct HostView {
    device_id: String,
    hostname: String,
    platform: String,
    os_version: String,
    sensor_version: String,
    local_ip: String,
    external_ip: String,
    last_seen: String,
    last_login_user: String,
    /// Containment status before the response.
    status_before: String,
    alert_count: usize,
    /// The highest severity of the host's alerts.
    max_severity: i64,
    /// What containment did for this host.
    containment: Outcome,
}

impl HostView {
    fn new(device: &Device, alerts: &[&Alert]) -> Self {
        let raw: serde_json::Value = serde_json::from_str(&device.raw_json).unwrap_or_default();
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            device_id: device.device_id.clone(),
            hostname: text(&device.hostname),
            platform: text(&device.platform),
            os_version: text(&device.os_version),
            sensor_version: text(&device.agent_version),
            local_ip: text(&device.local_ip),
            external_ip: text(&device.external_ip),
            last_seen: text(&device.last_seen),
            last_login_user: raw["last_login_user"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status_before: device.status.clone(),
            alert_count: alerts.len(),
            max_severity: alerts.iter().filter_map(|a| a.severity).max().unwrap_or(0),
            containment: Outcome::Skipped("not yet decided".into()),
        }
    }
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    time: String,
    composite_id: String,
    hostname: String,
    device_id: String,
    severity: i64,
    severity_name: String,
    name: String,
    tactic: String,
    technique: String,
    /// The user the detection ran as, when reported.
    user_name: String,
    /// The process command line, when reported.
    cmdline: String,
    status_before: String,
}

#[derive(Debug, Serialize)]
struct Response {
    as_of: String,
    /// How the alerts were chosen.
    selection: String,
    alert_count: usize,
    max_severity: i64,
    hosts: Vec<HostView>,
    timeline: Vec<TimelineEntry>,
    /// Alerts without a host (identity or cloud alerts): in the timeline, not
    /// contained.
    alerts_without_host: usize,
    containment: Outcome,
    ticket: Outcome,
    /// The ticket's key, when one was opened.
    ticket_key: Option<String>,
    chat: Outcome,
    alert_update: Outcome,
    #[serde(skip)]
    alerts: Vec<Alert>,
}

impl Response {
    /// The steps that failed or were refused: the run fails with them, so
    /// that whoever scheduled it notices.
    fn undone(&self) -> Vec<&'static str> {
        [
            ("the containment", &self.containment),
            ("the ticket", &self.ticket),
            ("the chat alert", &self.chat),
            ("the alert update", &self.alert_update),
        ]
        .into_iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Failed(_) | Outcome::NotApproved(_)))
        .map(|(step, _)| step)
        .collect()
    }

    fn new(options: &Options, alerts: Vec<Alert>) -> Result<Self, String> {
        let selection = if options.alert_ids.is_empty() {
            format!(
                "new alerts of severity {} or more created from {} to {}",
                options.min_severity, options.since, options.as_of
            )
        } else {
            format!("{} alert(s) named in the input", options.alert_ids.len())
        };
        let mut by_host: BTreeMap<String, Vec<&Alert>> = BTreeMap::new();
        for alert in &alerts {
            if let Some(aid) = alert.agent_id.as_deref().filter(|a| !a.is_empty()) {
                by_host.entry(aid.to_owned()).or_default().push(alert);
            }
        }
        if by_host.len() > MAX_HOSTS {
            return Err(format!(
                "the alerts involve {} hosts; one response contains at most {MAX_HOSTS}: raise \
                 `min_severity`, shorten `since`, or name the alerts with `alert_ids`",
                by_host.len()
            ));
        }
        let ids: Vec<String> = by_host.keys().cloned().collect();
        let devices = if ids.is_empty() {
            Vec::new()
        } else {
            hosts::get_hosts(&ids).map_err(|e| e.message())?
        };
        let names: BTreeMap<&str, &str> = devices
            .iter()
            .map(|d| (d.device_id.as_str(), d.hostname.as_deref().unwrap_or("")))
            .collect();
        let mut host_views: Vec<HostView> = devices
            .iter()
            .map(|d| HostView::new(d, &by_host[&d.device_id]))
            .collect();
        host_views
            .sort_by(|a, b| (b.max_severity, &a.hostname).cmp(&(a.max_severity, &b.hostname)));
        let timeline = alerts
            .iter()
            .map(|a| {
                let raw: serde_json::Value = serde_json::from_str(&a.raw_json).unwrap_or_default();
                let aid = a.agent_id.clone().unwrap_or_default();
                TimelineEntry {
                    time: a.created_timestamp.clone().unwrap_or_default(),
                    composite_id: a.composite_id.clone(),
                    hostname: names.get(aid.as_str()).copied().unwrap_or("").to_owned(),
                    device_id: aid,
                    severity: a.severity.unwrap_or(0),
                    severity_name: a.severity_name.clone().unwrap_or_default(),
                    name: a
                        .display_name
                        .clone()
                        .or_else(|| a.name.clone())
                        .unwrap_or_default(),
                    tactic: a.tactic.clone().unwrap_or_default(),
                    technique: a.technique.clone().unwrap_or_default(),
                    user_name: raw["user_name"].as_str().unwrap_or_default().to_owned(),
                    cmdline: raw["cmdline"].as_str().unwrap_or_default().to_owned(),
                    status_before: a.status.clone(),
                }
            })
            .collect();
        let alerts_without_host = alerts
            .iter()
            .filter(|a| a.agent_id.as_deref().is_none_or(str::is_empty))
            .count();
        let nothing = Outcome::Skipped("no alert to respond to".into());
        Ok(Self {
            as_of: options.as_of.to_string(),
            selection,
            alert_count: alerts.len(),
            max_severity: alerts.iter().filter_map(|a| a.severity).max().unwrap_or(0),
            hosts: host_views,
            timeline,
            alerts_without_host,
            containment: nothing.clone(),
            ticket: nothing.clone(),
            ticket_key: None,
            chat: nothing.clone(),
            alert_update: nothing,
            alerts,
        })
    }

    /// Network-contains the affected hosts that are not contained already.
    fn contain(&mut self, options: &Options) {
        if !options.contain {
            let skipped = Outcome::Skipped("`contain` is false in the input".into());
            for host in &mut self.hosts {
                host.containment = skipped.clone();
            }
            self.containment = skipped;
            return;
        }
        let mut targets = Vec::new();
        for host in &mut self.hosts {
            if host.status_before == "normal" {
                targets.push(host.device_id.clone());
            } else {
                host.containment =
                    Outcome::Skipped(format!("already {}", host.status_before.replace('_', " ")));
            }
        }
        if targets.is_empty() {
            self.containment = Outcome::Skipped("every affected host is already contained".into());
            return;
        }
        let note = format!(
            "incident-response: {} alert(s), highest severity {}",
            self.alert_count, self.max_severity
        );
        match hosts::contain(&targets, Some(&note)) {
            Ok(result) => {
                let refused: BTreeMap<&str, &str> = result
                    .refused
                    .iter()
                    .map(|r| (r.id.as_str(), r.message.as_str()))
                    .collect();
                for host in self
                    .hosts
                    .iter_mut()
                    .filter(|h| targets.contains(&h.device_id))
                {
                    host.containment = match refused.get(host.device_id.as_str()) {
                        Some(why) => Outcome::Failed(format!("Falcon refused: {why}")),
                        None if result.accepted.contains(&host.device_id) => {
                            Outcome::Done("containment requested".into())
                        }
                        None => Outcome::Failed("Falcon did not confirm it".into()),
                    };
                }
                self.containment = if result.refused.is_empty() {
                    Outcome::Done(format!("{} host(s) contained", result.accepted.len()))
                } else {
                    Outcome::Failed(format!(
                        "{} host(s) contained, {} refused",
                        result.accepted.len(),
                        result.refused.len()
                    ))
                };
            }
            Err(error) => {
                let outcome = Outcome::of(&error);
                if let Outcome::NotApproved(_) = outcome {
                    falcon_sdk::log_warn(
                        "containment was not approved; rerun with --approve hosts.contain to \
                         contain the hosts",
                    );
                }
                for host in self
                    .hosts
                    .iter_mut()
                    .filter(|h| targets.contains(&h.device_id))
                {
                    host.containment = outcome.clone();
                }
                self.containment = outcome;
            }
        }
    }

    fn title(&self) -> String {
        let hosts: Vec<&str> = self.hosts.iter().map(|h| h.hostname.as_str()).collect();
        let shown = if hosts.len() > 3 {
            format!("{} and {} more", hosts[..3].join(", "), hosts.len() - 3)
        } else {
            hosts.join(", ")
        };
        format!(
            "Falcon incident: {} alert(s), severity up to {}{}",
            self.alert_count,
            self.max_severity,
            if shown.is_empty() {
                String::new()
            } else {
                format!(", on {shown}")
            }
        )
    }

    /// The ticket's description: Markdown without tables (Jira's ADF and
    /// plain text both render lists).
    fn ticket_markdown(&self) -> String {
        let mut out = format!(
            "Falcon raised {} alert(s) ({}); highest severity {}.\n\n## Containment\n\n{}\n\n## Hosts\n\n",
            self.alert_count,
            self.selection,
            self.max_severity,
            self.containment.line()
        );
        for h in &self.hosts {
            out.push_str(&format!(
                "- {} ({}): {} {}, sensor {}, IP {}, last user {}; {} alert(s), max severity {}; containment {}\n",
                h.hostname,
                h.device_id,
                h.platform,
                h.os_version,
                h.sensor_version,
                h.local_ip,
                if h.last_login_user.is_empty() { "unknown" } else { &h.last_login_user },
                h.alert_count,
                h.max_severity,
                h.containment.short()
            ));
        }
        out.push_str("\n## Detection timeline\n\n");
        for t in &self.timeline {
            out.push_str(&format!(
                "- {} {}: {} ({} {}), {} / {}\n",
                t.time, t.hostname, t.name, t.severity_name, t.severity, t.tactic, t.technique
            ));
        }
        out
    }

    fn open_ticket(&mut self, options: &Options) {
        let markdown = self.ticket_markdown();
        let ticket = Ticket {
            summary: self.title(),
            description: format::markdown_to_text(&markdown),
            description_adf: Some(format::markdown_to_adf(&markdown)),
            priority: if self.max_severity >= 80 {
                Priority::Highest
            } else if self.max_severity >= 60 {
                Priority::High
            } else {
                Priority::Medium
            },
            labels: vec!["falcon".into(), options.tag.clone()],
        };
        match notify::create_ticket(&options.ticket_to, &ticket) {
            Ok(created) => {
                self.ticket =
                    Outcome::Done(format!("ticket {} at `{}`", created.key, options.ticket_to));
                self.ticket_key = Some(created.key);
            }
            Err(error) => self.ticket = Outcome::of(&error),
        }
    }

    fn alert_chat(&mut self, options: &Options) {
        let title = self.title();
        let ticket = self
            .ticket_key
            .as_deref()
            .map_or_else(|| "no ticket".to_owned(), |k| format!("ticket {k}"));
        let text = format!(
            "{} alert(s) on {} host(s), highest severity {}; containment: {}; {ticket}.",
            self.alert_count,
            self.hosts.len(),
            self.max_severity,
            self.containment.line()
        );
        let mut hosts = String::new();
        for h in self.hosts.iter().take(10) {
            hosts.push_str(&format!(
                "• *{}* ({}) — {} alert(s), max {} — {}\n",
                format::escape_mrkdwn(&h.hostname),
                format::escape_mrkdwn(&h.platform),
                h.alert_count,
                h.max_severity,
                format::escape_mrkdwn(&h.containment.short())
            ));
        }
        let blocks = Blocks::new()
            .header(&title)
            .section(&format::escape_mrkdwn(&text))
            .section(if hosts.is_empty() {
                "No host involved."
            } else {
                &hosts
            })
            .context(&format!(
                "Selection: {}",
                format::escape_mrkdwn(&self.selection)
            ));
        let message = Message {
            title,
            text,
            blocks: Some(blocks.to_json()),
            severity: if self.max_severity >= 80 {
                Severity::Critical
            } else if self.max_severity >= 60 {
                Severity::High
            } else {
                Severity::Medium
            },
        };
        self.chat = match notify::send_message(&options.chat_to, &message) {
            Ok(()) => Outcome::Done(format!("message sent to `{}`", options.chat_to)),
            Err(error) => Outcome::of(&error),
        };
    }

    /// Sets the handled alerts to `in_progress` with the tag and a comment.
    fn mark_alerts(&mut self, options: &Options) {
        let ids: Vec<String> = self.alerts.iter().map(|a| a.composite_id.clone()).collect();
        let comment = format!(
            "incident-response: {}; containment: {}",
            self.ticket_key
                .as_deref()
                .map_or_else(|| "no ticket".to_owned(), |k| format!("ticket {k}")),
            self.containment.line()
        );
        let update = AlertUpdate {
            status: Some(AlertStatus::InProgress),
            assign: None,
            add_tags: vec![options.tag.clone()],
            remove_tags: Vec::new(),
            comment: Some(comment),
        };
        self.alert_update = match alerts::update_alerts(&ids, &update) {
            Ok(result) if result.refused.is_empty() => Outcome::Done(format!(
                "{} alert(s) set to in_progress and tagged `{}`",
                result.updated.len(),
                options.tag
            )),
            Ok(result) => Outcome::Failed(format!(
                "{} alert(s) updated, {} refused: {}",
                result.updated.len(),
                result.refused.len(),
                result
                    .refused
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.message))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(error) => Outcome::of(&error),
        };
    }

    fn render(&self, format: Format) -> String {
        match format {
            Format::Json => falcon_sdk::report::json(self),
            Format::Markdown => self.markdown(),
        }
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "# Threat summary\n\nAs of {} · {} · {} alert(s), highest severity {}\n\n",
            self.as_of, self.selection, self.alert_count, self.max_severity
        );
        if self.alert_count == 0 {
            out.push_str("No alert to respond to: no ticket, message or containment.\n");
            return out;
        }
        out.push_str("## Response\n\n");
        let mut actions = Table::new(["Step", "Outcome"]);
        actions
            .row(["Containment".to_owned(), self.containment.line()])
            .row(["Ticket".to_owned(), self.ticket.line()])
            .row(["Chat alert".to_owned(), self.chat.line()])
            .row(["Alert update".to_owned(), self.alert_update.line()]);
        out.push_str(&actions.render());
        if let Outcome::NotApproved(_) = self.containment {
            out.push_str(
                "\nThe hosts were **not contained**: containment needs the operator's approval. \
                 To contain them, rerun with `--approve hosts.contain` and these alerts' ids \
                 (the timeline's composite ids) in `alert_ids`.\n",
            );
        }
        out.push_str(&format!("\n## Hosts ({})\n\n", self.hosts.len()));
        let mut hosts = Table::new([
            "Host",
            "Device id",
            "OS",
            "Sensor",
            "IP",
            "Last user",
            "Alerts",
            "Max severity",
            "Status before",
            "Containment",
        ]);
        for h in &self.hosts {
            hosts.row([
                h.hostname.clone(),
                h.device_id.clone(),
                format!("{} ({})", h.os_version, h.platform),
                h.sensor_version.clone(),
                h.local_ip.clone(),
                h.last_login_user.clone(),
                h.alert_count.to_string(),
                h.max_severity.to_string(),
                h.status_before.clone(),
                h.containment.short(),
            ]);
        }
        out.push_str(&hosts.render());
        if self.alerts_without_host > 0 {
            out.push_str(&format!(
                "\n{} alert(s) name no host; they are in the timeline and were not contained.\n",
                self.alerts_without_host
            ));
        }
        out.push_str(&format!(
            "\n## Detection timeline ({})\n\n",
            self.timeline.len()
        ));
        let mut timeline = Table::new([
            "Time",
            "Host",
            "Severity",
            "Detection",
            "Tactic",
            "Technique",
            "User",
            "Command line",
            "Alert id",
        ]);
        for t in &self.timeline {
            timeline.row([
                t.time.clone(),
                t.hostname.clone(),
                format!("{} ({})", t.severity_name, t.severity),
                t.name.clone(),
                t.tactic.clone(),
                t.technique.clone(),
                t.user_name.clone(),
                t.cmdline.clone(),
                t.composite_id.clone(),
            ]);
        }
        out.push_str(&timeline.render());
        out
    }
}
