//! Weekly security report: the week's alerts, the fleet's health and its
//! prevention policy compliance, for stakeholders.
//!
//! - **alerts** created in the last `days` days, by severity, by MITRE
//!   tactic, by status, and the hosts with the most;
//! - **host health**: sensor versions per platform (and how many hosts run
//!   one older than the newest production build), hosts in reduced
//!   functionality mode, hosts not seen for `stale_days` days;
//! - **policy compliance**: hosts without an enabled prevention policy, and
//!   hosts left on their platform's default prevention policy.
//!
//! Markdown, HTML (inline SVG charts, no script) or JSON, optionally sent by
//! email (the HTML with a plain-text part) or as a chat summary through the
//! destination `send_to`.

use std::collections::BTreeMap;

use falcon_sdk::alerts::{self, Alert};
use falcon_sdk::format::{self, Blocks};
use falcon_sdk::hosts::{self, Device};
use falcon_sdk::notify::{self, Email, Message, Severity};
use falcon_sdk::policies::{self, PolicyKind};
use falcon_sdk::report::Table;
use falcon_sdk::report::html::{BarChart, Document};
use falcon_sdk::{Comparison, Filter, Input, Plugin, fql, sensors};
use jiff::Timestamp;
use serde::Serialize;

falcon_sdk::manifest! {
    name: "weekly-report",
    version: env!("CARGO_PKG_VERSION"),
    description: "Weekly security report: alerts by severity and tactic, host health, prevention policy compliance; Markdown or HTML with charts, by email or chat",
    scopes: [
        "detections:read",
        "hosts:read",
        "prevention-policies:read",
        "sensor-update-policies:read",
        "notify:*",
    ],
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Hosts read per page of the fleet stream.
const PAGE: u32 = 1_000;

/// Rows of a host list shown in Markdown and HTML; JSON lists them all.
const MAX_ROWS: usize = 50;

/// Falcon's severity names, most severe first.
const SEVERITIES: [&str; 5] = ["Critical", "High", "Medium", "Low", "Informational"];

struct WeeklyReport;

impl Plugin for WeeklyReport {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::from_input(&input)?;
        let mut report = Report::new(&options);
        report.add_alerts(week_alerts(report.since_time, options.as_of)?);
        report.newest_builds = newest_builds()?;
        report.prevention = prevention_policies()?;
        let stream = hosts::stream_hosts(&Filter::All).map_err(|e| e.message())?;
        loop {
            let page = stream.next(PAGE).map_err(|e| e.message())?;
            if page.is_empty() {
                break;
            }
            for device in &page {
                report.add_host(device);
            }
        }
        report.finish();
        falcon_sdk::log_info(&format!(
            "{} alerts, {} hosts",
            report.alerts.total, report.hosts.total
        ));
        report.delivery = deliver(&options, &report);
        Ok(match options.format {
            Format::Markdown => format!("{}\nDelivery: {}.\n", report.markdown(), report.delivery),
            Format::Html => report.html(),
            Format::Json => falcon_sdk::report::json(&report),
        })
    }
}

falcon_sdk::export_plugin!(WeeklyReport);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Send {
    None,
    Email,
    Chat,
}

#[derive(Debug)]
struct Options {
    days: u64,
    stale_days: u64,
    as_of: Timestamp,
    format: Format,
    send: Send,
    send_to: String,
    to: Vec<String>,
}

impl Options {
    fn from_input(input: &Input) -> Result<Self, String> {
        input
            .reject_unknown(&[
                "days",
                "stale_days",
                "as_of",
                "format",
                "send",
                "send_to",
                "to",
            ])
            .map_err(|e| e.to_string())?;
        let days = input.u64_or("days", 7).map_err(|e| e.to_string())?;
        let stale_days = input.u64_or("stale_days", 7).map_err(|e| e.to_string())?;
        for (field, value) in [("days", days), ("stale_days", stale_days)] {
            if !(1..=365).contains(&value) {
                return Err(format!(
                    "input field `{field}` must be between 1 and 365, got {value}"
                ));
            }
        }
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
        let format = match input
            .choice_or("format", &["markdown", "html", "json"], "markdown")
            .map_err(|e| e.to_string())?
        {
            "html" => Format::Html,
            "json" => Format::Json,
            _ => Format::Markdown,
        };
        let send = match input
            .choice_or("send", &["none", "email", "chat"], "none")
            .map_err(|e| e.to_string())?
        {
            "email" => Send::Email,
            "chat" => Send::Chat,
            _ => Send::None,
        };
        let send_to = input
            .str_or("send_to", "reports")
            .map_err(|e| e.to_string())?
            .trim()
            .to_owned();
        if send_to.is_empty() {
            return Err(
                "input field `send_to` must name a notification destination, such as \"reports\""
                    .into(),
            );
        }
        let to = input.strings_or("to", &[]).map_err(|e| e.to_string())?;
        if !to.is_empty() && send != Send::Email {
            return Err(
                "input field `to` picks email recipients; use it with --set send=email".into(),
            );
        }
        Ok(Self {
            days,
            stale_days,
            as_of,
            format,
            send,
            send_to,
            to,
        })
    }
}

/// Every alert created in `[since, as_of]`.
fn week_alerts(since: Timestamp, as_of: Timestamp) -> Result<Vec<Alert>, String> {
    let (since, as_of) = (since.to_string(), as_of.to_string());
    let filter = fql::all_of([
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
    alerts::query_alerts(&filter, Some("created_timestamp|asc")).map_err(|e| e.message())
}

/// The newest production sensor version per platform (lowercase).
fn newest_builds() -> Result<BTreeMap<String, String>, String> {
    let builds = sensors::list_builds(None).map_err(|e| e.message())?;
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for build in builds.iter().filter(|b| b.stage == "prod") {
        let entry = newest
            .entry(build.platform.to_ascii_lowercase())
            .or_insert_with(|| build.sensor_version.clone());
        if version_key(&build.sensor_version) > version_key(entry) {
            *entry = build.sensor_version.clone();
        }
    }
    Ok(newest)
}

/// `7.05.17603.0` as numbers, so that `7.10` sorts after `7.9`.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// Every prevention policy by id.
fn prevention_policies() -> Result<BTreeMap<String, PolicyInfo>, String> {
    let found =
        policies::query_policies(PolicyKind::Prevention, &Filter::All).map_err(|e| e.message())?;
    Ok(found
        .into_iter()
        .map(|p| {
            (
                p.id.clone(),
                PolicyInfo {
                    name: p.name,
                    enabled: p.enabled,
                },
            )
        })
        .collect())
}

#[derive(Debug)]
struct PolicyInfo {
    name: String,
    enabled: bool,
}

#[derive(Debug, Default, Serialize)]
struct AlertStats {
    total: usize,
    /// Counts per severity name, most severe first.
    by_severity: Vec<(String, usize)>,
    /// Counts per MITRE tactic, most frequent first.
    by_tactic: Vec<(String, usize)>,
    /// Counts per status, most frequent first.
    by_status: Vec<(String, usize)>,
    /// Agent id and alert count of the hosts with the most alerts, at most 10.
    top_hosts: Vec<TopHost>,
}

#[derive(Debug, Serialize)]
struct TopHost {
    device_id: String,
    hostname: String,
    alerts: usize,
}

#[derive(Debug, Serialize)]
struct HostFinding {
    device_id: String,
    hostname: String,
    platform: String,
    sensor_version: String,
    last_seen: Option<String>,
    detail: String,
}

#[derive(Debug, Default, Serialize)]
struct HostHealth {
    total: usize,
    /// Hosts per platform and sensor version.
    sensor_versions: Vec<VersionCount>,
    /// Hosts whose sensor is older than the newest production build.
    outdated: usize,
    reduced_functionality_mode: Vec<HostFinding>,
    not_seen: Vec<HostFinding>,
}

#[derive(Debug, Serialize)]
struct VersionCount {
    platform: String,
    version: String,
    hosts: usize,
    /// Against the newest production build of the platform: `newest`,
    /// `older`, `newer` (an early-adopter build) or `unknown` (no build of
    /// the platform).
    status: &'static str,
}

#[derive(Debug, Default, Serialize)]
struct Compliance {
    /// Hosts with an enabled prevention policy applied.
    compliant: usize,
    /// Hosts without one: none applied, or one disabled or unknown.
    without_enabled_prevention: Vec<HostFinding>,
    /// Hosts whose prevention policy is their platform's default: no
    /// custom policy applies to any of their groups.
    on_platform_default: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    as_of: String,
    since: String,
    days: u64,
    stale_days: u64,
    alerts: AlertStats,
    hosts: HostHealth,
    compliance: Compliance,
    newest_builds: BTreeMap<String, String>,
    /// What happened to the delivery.
    delivery: String,
    #[serde(skip)]
    as_of_time: Timestamp,
    #[serde(skip)]
    since_time: Timestamp,
    #[serde(skip)]
    per_host_alerts: BTreeMap<String, usize>,
    #[serde(skip)]
    versions: BTreeMap<(String, String), usize>,
    #[serde(skip)]
    prevention: BTreeMap<String, PolicyInfo>,
}

impl Report {
    fn new(options: &Options) -> Self {
        let since = Timestamp::from_second(
            options.as_of.as_second() - options.days as i64 * SECONDS_PER_DAY,
        )
        .unwrap_or(options.as_of);
        Self {
            as_of: options.as_of.to_string(),
            since: since.to_string(),
            days: options.days,
            stale_days: options.stale_days,
            alerts: AlertStats::default(),
            hosts: HostHealth::default(),
            compliance: Compliance::default(),
            newest_builds: BTreeMap::new(),
            delivery: "not sent".into(),
            as_of_time: options.as_of,
            since_time: since,
            per_host_alerts: BTreeMap::new(),
            versions: BTreeMap::new(),
            prevention: BTreeMap::new(),
        }
    }

    fn add_alerts(&mut self, alerts: Vec<Alert>) {
        let mut severity: BTreeMap<String, usize> = BTreeMap::new();
        let mut tactic: BTreeMap<String, usize> = BTreeMap::new();
        let mut status: BTreeMap<String, usize> = BTreeMap::new();
        for alert in &alerts {
            let name = alert
                .severity_name
                .clone()
                .unwrap_or_else(|| "Unknown".into());
            *severity.entry(name).or_default() += 1;
            let t = alert
                .tactic
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "(none)".into());
            *tactic.entry(t).or_default() += 1;
            *status.entry(alert.status.clone()).or_default() += 1;
            if let Some(aid) = alert.agent_id.as_deref().filter(|a| !a.is_empty()) {
                *self.per_host_alerts.entry(aid.to_owned()).or_default() += 1;
            }
        }
        self.alerts.total = alerts.len();
        // Every severity band, in order, even when empty; unknown names last.
        let mut by_severity: Vec<(String, usize)> = SEVERITIES
            .iter()
            .map(|s| ((*s).to_owned(), severity.remove(*s).unwrap_or(0)))
            .collect();
        by_severity.extend(severity);
        self.alerts.by_severity = by_severity;
        self.alerts.by_tactic = most_first(tactic);
        self.alerts.by_status = most_first(status);
    }

    fn add_host(&mut self, device: &Device) {
        self.hosts.total += 1;
        let platform = device.platform.clone().unwrap_or_default();
        let version = device.agent_version.clone().unwrap_or_default();
        *self
            .versions
            .entry((platform.clone(), version.clone()))
            .or_default() += 1;
        if let Some(newest) = self.newest_builds.get(&platform.to_ascii_lowercase())
            && version_key(&version) < version_key(newest)
        {
            self.hosts.outdated += 1;
        }
        if device.reduced_functionality_mode {
            self.hosts
                .reduced_functionality_mode
                .push(finding(device, "reduced functionality mode".into()));
        }
        let seen = device
            .last_seen
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        let days =
            seen.map(|t| (self.as_of_time.as_second() - t.as_second()).max(0) / SECONDS_PER_DAY);
        if days.is_none_or(|d| d >= self.stale_days as i64) {
            let detail = days.map_or("never reported".into(), |d| format!("{d} days ago"));
            self.hosts.not_seen.push(finding(device, detail));
        }
        if let Some(count) = self.per_host_alerts.get(&device.device_id) {
            self.alerts.top_hosts.push(TopHost {
                device_id: device.device_id.clone(),
                hostname: device.hostname.clone().unwrap_or_default(),
                alerts: *count,
            });
        }
        // The prevention policy the host record says applies.
        let raw: serde_json::Value = serde_json::from_str(&device.raw_json).unwrap_or_default();
        let applied = raw["device_policies"]["prevention"]["policy_id"].as_str();
        match applied.map(|id| (id, self.prevention.get(id))) {
            Some((_, Some(policy))) if policy.enabled => {
                self.compliance.compliant += 1;
                if policy.name == "platform_default" {
                    self.compliance.on_platform_default += 1;
                }
            }
            Some((id, Some(policy))) => self.compliance.without_enabled_prevention.push(finding(
                device,
                format!("policy \"{}\" ({id}) is disabled", policy.name),
            )),
            Some((id, None)) => self
                .compliance
                .without_enabled_prevention
                .push(finding(device, format!("policy {id} does not exist"))),
            None => self
                .compliance
                .without_enabled_prevention
                .push(finding(device, "no prevention policy applied".into())),
        }
    }

    /// Orders the lists and fills the version table.
    fn finish(&mut self) {
        for list in [
            &mut self.hosts.reduced_functionality_mode,
            &mut self.hosts.not_seen,
            &mut self.compliance.without_enabled_prevention,
        ] {
            list.sort_by(|a, b| (&a.hostname, &a.device_id).cmp(&(&b.hostname, &b.device_id)));
        }
        self.alerts
            .top_hosts
            .sort_by(|a, b| (b.alerts, &a.hostname).cmp(&(a.alerts, &b.hostname)));
        self.alerts.top_hosts.truncate(10);
        let newest = &self.newest_builds;
        self.hosts.sensor_versions = self
            .versions
            .iter()
            .map(|((platform, version), hosts)| VersionCount {
                status: match newest.get(&platform.to_ascii_lowercase()) {
                    None => "unknown",
                    Some(n) => match version_key(version).cmp(&version_key(n)) {
                        std::cmp::Ordering::Less => "older",
                        std::cmp::Ordering::Equal => "newest",
                        std::cmp::Ordering::Greater => "newer",
                    },
                },
                platform: platform.clone(),
                version: version.clone(),
                hosts: *hosts,
            })
            .collect();
        self.hosts.sensor_versions.sort_by(|a, b| {
            (&a.platform, version_key(&b.version)).cmp(&(&b.platform, version_key(&a.version)))
        });
    }

    fn title(&self) -> String {
        format!(
            "Falcon weekly security report, {}",
            self.as_of.get(..10).unwrap_or(&self.as_of)
        )
    }

    /// The report's content, once, for both Markdown and HTML.
    fn parts(&self) -> Vec<Part> {
        let mut parts = vec![Part::Paragraph(format!(
            "From {} to {} · {} alerts · {} hosts",
            self.since, self.as_of, self.alerts.total, self.hosts.total
        ))];
        parts.push(Part::Heading(format!("Alerts ({})", self.alerts.total)));
        let counts = |title: &str, label: &str, rows: &[(String, usize)]| {
            let mut chart = BarChart::new(title);
            let mut table = Table::new([label, "Alerts"]);
            for (name, n) in rows {
                chart.bar(name.clone(), *n as f64);
                table.row([name.clone(), n.to_string()]);
            }
            [Part::Chart(chart), Part::Table(table)]
        };
        parts.extend(counts(
            "Alerts by severity",
            "Severity",
            &self.alerts.by_severity,
        ));
        parts.extend(counts("Alerts by tactic", "Tactic", &self.alerts.by_tactic));
        parts.extend(counts("Alerts by status", "Status", &self.alerts.by_status));
        if !self.alerts.top_hosts.is_empty() {
            parts.push(Part::Subheading("Hosts with the most alerts".into()));
            let mut table = Table::new(["Host", "Device id", "Alerts"]);
            for h in &self.alerts.top_hosts {
                table.row([
                    h.hostname.clone(),
                    h.device_id.clone(),
                    h.alerts.to_string(),
                ]);
            }
            parts.push(Part::Table(table));
        }

        parts.push(Part::Heading(format!(
            "Host health ({} hosts)",
            self.hosts.total
        )));
        let mut summary = Table::new(["Finding", "Hosts"]);
        summary
            .row([
                "Sensor older than the newest production build".to_owned(),
                self.hosts.outdated.to_string(),
            ])
            .row([
                "Reduced functionality mode".to_owned(),
                self.hosts.reduced_functionality_mode.len().to_string(),
            ])
            .row([
                format!("Not seen for {} days or more", self.stale_days),
                self.hosts.not_seen.len().to_string(),
            ]);
        parts.push(Part::Table(summary));
        parts.push(Part::Subheading("Sensor versions".into()));
        let mut chart = BarChart::new("Hosts per sensor version");
        let mut table = Table::new([
            "Platform",
            "Sensor version",
            "Hosts",
            "Against newest build",
        ]);
        for v in &self.hosts.sensor_versions {
            chart.bar(format!("{} {}", v.platform, v.version), v.hosts as f64);
            table.row([
                v.platform.clone(),
                v.version.clone(),
                v.hosts.to_string(),
                v.status.to_owned(),
            ]);
        }
        parts.push(Part::Chart(chart));
        parts.push(Part::Table(table));
        parts.extend(host_list(
            "Reduced functionality mode",
            &self.hosts.reduced_functionality_mode,
        ));
        parts.extend(host_list(
            &format!("Not seen for {} days or more", self.stale_days),
            &self.hosts.not_seen,
        ));

        parts.push(Part::Heading("Policy compliance".into()));
        let mut chart = BarChart::new("Prevention policy");
        chart
            .bar(
                "Custom policy",
                (self.compliance.compliant - self.compliance.on_platform_default) as f64,
            )
            .bar(
                "Platform default",
                self.compliance.on_platform_default as f64,
            )
            .bar(
                "No enabled policy",
                self.compliance.without_enabled_prevention.len() as f64,
            );
        parts.push(Part::Chart(chart));
        parts.push(Part::Paragraph(format!(
            "{} of {} hosts have an enabled prevention policy; {} of them only their \
             platform's default policy.",
            self.compliance.compliant, self.hosts.total, self.compliance.on_platform_default
        )));
        parts.extend(host_list(
            "Hosts without an enabled prevention policy",
            &self.compliance.without_enabled_prevention,
        ));
        parts
    }

    fn markdown(&self) -> String {
        let mut out = format!("# {}\n", self.title());
        for part in self.parts() {
            match part {
                Part::Heading(text) => out.push_str(&format!("\n## {text}\n")),
                Part::Subheading(text) => out.push_str(&format!("\n### {text}\n")),
                Part::Paragraph(text) => out.push_str(&format!("\n{text}\n")),
                // The table next to each chart carries the same numbers.
                Part::Chart(_) => {}
                Part::Table(table) => {
                    out.push('\n');
                    out.push_str(&table.render());
                }
            }
        }
        out
    }

    fn html(&self) -> String {
        let mut page = Document::new(self.title());
        for part in self.parts() {
            match part {
                Part::Heading(text) => page.heading(2, &text),
                Part::Subheading(text) => page.heading(3, &text),
                Part::Paragraph(text) => page.paragraph(&text),
                Part::Chart(chart) if chart.is_empty() => page.paragraph("No data."),
                Part::Chart(chart) => page.chart(&chart),
                Part::Table(table) => page.table(&table),
            };
        }
        page.render()
    }

    /// A short summary for chat.
    fn chat_text(&self) -> String {
        let severities: Vec<String> = self
            .alerts
            .by_severity
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!(
            "{} alerts in {} days ({}); {} hosts: {} with an outdated sensor, {} in reduced \
             functionality mode, {} not seen for {} days; {} without an enabled prevention policy.",
            self.alerts.total,
            self.days,
            if severities.is_empty() {
                "none".to_owned()
            } else {
                severities.join(", ")
            },
            self.hosts.total,
            self.hosts.outdated,
            self.hosts.reduced_functionality_mode.len(),
            self.hosts.not_seen.len(),
            self.stale_days,
            self.compliance.without_enabled_prevention.len()
        )
    }
}

/// A piece of the report.
#[derive(Debug)]
enum Part {
    Heading(String),
    Subheading(String),
    Paragraph(String),
    Chart(BarChart),
    Table(Table),
}

/// A titled host list, cut to [`MAX_ROWS`].
fn host_list(title: &str, findings: &[HostFinding]) -> Vec<Part> {
    let mut parts = vec![Part::Subheading(format!("{title} ({})", findings.len()))];
    if findings.is_empty() {
        parts.push(Part::Paragraph("None.".into()));
        return parts;
    }
    let mut table = Table::new(["Host", "Platform", "Sensor", "Last seen", "Detail"]);
    for f in findings.iter().take(MAX_ROWS) {
        table.row([
            f.hostname.clone(),
            f.platform.clone(),
            f.sensor_version.clone(),
            f.last_seen.clone().unwrap_or_else(|| "never".into()),
            f.detail.clone(),
        ]);
    }
    parts.push(Part::Table(table));
    if findings.len() > MAX_ROWS {
        parts.push(Part::Paragraph(format!(
            "… and {} more (the JSON format lists them all).",
            findings.len() - MAX_ROWS
        )));
    }
    parts
}

fn finding(device: &Device, detail: String) -> HostFinding {
    HostFinding {
        device_id: device.device_id.clone(),
        hostname: device.hostname.clone().unwrap_or_default(),
        platform: device.platform.clone().unwrap_or_default(),
        sensor_version: device.agent_version.clone().unwrap_or_default(),
        last_seen: device.last_seen.clone(),
        detail,
    }
}

fn most_first(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| (b.1, &a.0).cmp(&(a.1, &b.0)));
    list
}

/// Sends the report as `send` asks; what happened, for the report. A
/// failure is reported, not fatal: the report itself is still the output.
fn deliver(options: &Options, report: &Report) -> String {
    let to = &options.send_to;
    let result = match options.send {
        Send::None => return "not sent (send=none)".into(),
        Send::Email => {
            let markdown = report.markdown();
            notify::send_email(
                to,
                &Email {
                    subject: report.title(),
                    text: format::markdown_to_text(&markdown),
                    html: Some(report.html()),
                    to: options.to.clone(),
                },
            )
        }
        Send::Chat => {
            let text = report.chat_text();
            let severities = report
                .alerts
                .by_severity
                .iter()
                .map(|(s, n)| (s.clone(), n.to_string()));
            let blocks = Blocks::new()
                .header(&report.title())
                .section(&format::escape_mrkdwn(&text))
                .fields(severities)
                .context(&format!(
                    "From {} to {}",
                    format::escape_mrkdwn(&report.since),
                    format::escape_mrkdwn(&report.as_of)
                ));
            notify::send_message(
                to,
                &Message {
                    title: report.title(),
                    text,
                    blocks: Some(blocks.to_json()),
                    severity: Severity::Info,
                },
            )
        }
    };
    let how = if options.send == Send::Email {
        "email"
    } else {
        "chat message"
    };
    match result {
        Ok(()) => format!("sent as {how} to `{to}`"),
        Err(falcon_sdk::Error::DryRun(_)) => {
            format!("planned as {how} to `{to}` (dry run, not sent)")
        }
        Err(e) => {
            falcon_sdk::report_failure(&format!("the report was not sent: {}", e.message()));
            format!("NOT sent as {how} to `{to}`: {}", e.message())
        }
    }
}
