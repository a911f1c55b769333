//! Help-desk context: what Falcon knows about the device (or the user's
//! devices) a ticket is about, ready to paste into the ticket.
//!
//! For each host: the sensor's status (version, last seen, online state,
//! reduced functionality mode, containment), the alerts of the last `days`
//! days, and the prevention, sensor update and response policies applied to
//! it. Everything is read; nothing is changed.
//!
//! Input: exactly one of `device` (a hostname or a 32-hex-digit device id)
//! or `user` (a login name or an email address, matched against the host's
//! last logged-in user); optional `days` (default 7), `format` (`text` or
//! `json`), `as_of` (RFC 3339; defaults to the host's clock).

use std::collections::BTreeMap;

use falcon_sdk::alerts::{self, Alert};
use falcon_sdk::hosts::{self, Device};
use falcon_sdk::policies::{self, PolicyKind};
use falcon_sdk::{Comparison, Error, Input, Plugin, api, fql};
use jiff::Timestamp;
use serde::Serialize;

falcon_sdk::manifest! {
    name: "helpdesk-context",
    version: env!("CARGO_PKG_VERSION"),
    description: "Sensor status, recent alerts and policy assignments of a device or a user's devices, for a help-desk ticket",
    scopes: [
        "hosts:read",
        "detections:read",
        "prevention-policies:read",
        "sensor-update-policies:read",
        "response-policies:read",
    ],
}

const SECONDS_PER_DAY: i64 = 86_400;

/// The most hosts one report covers: a user on more machines than this is
/// not a help-desk ticket, and the operator should narrow it to a device.
const MAX_HOSTS: usize = 20;

/// The most alerts the text format lists per host; the JSON lists them all.
const MAX_ALERTS_PER_HOST: usize = 50;

const ONLINE_STATE_PATH: &str = "/devices/entities/online-state/v1";

/// The policy kinds a ticket cares about, in the order they are shown.
const KINDS: [(PolicyKind, &str); 3] = [
    (PolicyKind::Prevention, "prevention"),
    (PolicyKind::SensorUpdate, "sensor_update"),
    (PolicyKind::Response, "response"),
];

struct HelpdeskContext;

impl Plugin for HelpdeskContext {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::from_input(&input)?;
        let devices = find_devices(&options.subject)?;
        let online = online_states(&devices)?;
        let since = Timestamp::from_second(
            options.as_of.as_second() - options.days as i64 * SECONDS_PER_DAY,
        )
        .map_err(|e| format!("input field `days` is too large: {e}"))?;

        let mut report = Report {
            as_of: options.as_of.to_string(),
            days: options.days,
            since: since.to_string(),
            subject: options.subject.clone(),
            hosts: Vec::with_capacity(devices.len()),
        };
        for device in &devices {
            let alerts = recent_alerts(&device.device_id, since, options.as_of)?;
            let policies = host_policies(&device.device_id)?;
            report.hosts.push(HostContext::new(
                device,
                online.get(&device.device_id).cloned(),
                options.as_of,
                policies,
                alerts,
            ));
        }
        falcon_sdk::log_info(&format!(
            "{} host(s), {} alert(s) in the last {} days",
            report.hosts.len(),
            report.hosts.iter().map(|h| h.alert_count).sum::<usize>(),
            options.days
        ));
        Ok(match options.format {
            Format::Text => report.text(),
            Format::Json => falcon_sdk::report::json(&report),
        })
    }
}

falcon_sdk::export_plugin!(HelpdeskContext);

/// What the ticket is about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
enum Subject {
    /// A hostname or a device id.
    Device(String),
    /// A login name (the part of an email address before `@`).
    User(String),
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Text,
    Json,
}

#[derive(Debug)]
struct Options {
    subject: Subject,
    days: u64,
    format: Format,
    as_of: Timestamp,
}

impl Options {
    fn from_input(input: &Input) -> Result<Self, String> {
        input
            .reject_unknown(&["device", "user", "days", "format", "as_of"])
            .map_err(|e| e.to_string())?;
        let device = input.opt_str("device").map_err(|e| e.to_string())?;
        let user = input.opt_str("user").map_err(|e| e.to_string())?;
        let subject = match (device.map(str::trim), user.map(str::trim)) {
            (Some(d), None) if !d.is_empty() => Subject::Device(d.to_owned()),
            (None, Some(u)) if !u.is_empty() => {
                let login = u.split('@').next().unwrap_or(u).trim();
                if login.is_empty() {
                    return Err(format!(
                        "input field `user` must be a login name or an email address, got \"{u}\""
                    ));
                }
                Subject::User(login.to_owned())
            }
            (Some(_), Some(_)) => {
                return Err(
                    "give either `device` or `user`, not both: --set device=HOSTNAME \
                     or --set user=LOGIN"
                        .into(),
                );
            }
            _ => {
                return Err(
                    "say what the ticket is about: --set device=HOSTNAME (or a device \
                     id) or --set user=LOGIN (or an email address)"
                        .into(),
                );
            }
        };
        let days = input.u64_or("days", 7).map_err(|e| e.to_string())?;
        if !(1..=365).contains(&days) {
            return Err(format!(
                "input field `days` must be between 1 and 365, got {days}"
            ));
        }
        let format = match input
            .choice_or("format", &["text", "json"], "text")
            .map_err(|e| e.to_string())?
        {
            "json" => Format::Json,
            _ => Format::Text,
        };
        let as_of = match input.opt_str("as_of").map_err(|e| e.to_string())? {
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
        Ok(Self {
            subject,
            days,
            format,
            as_of,
        })
    }
}

/// Whether `text` is an agent id: 32 hex digits.
fn is_device_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The hosts the ticket is about, ordered by hostname.
fn find_devices(subject: &Subject) -> Result<Vec<Device>, String> {
    let mut devices = match subject {
        Subject::Device(id) if is_device_id(id) => {
            match hosts::get_hosts(&[id.to_ascii_lowercase()]) {
                Ok(devices) => devices,
                Err(Error::NotFound(_)) => {
                    return Err(format!(
                        "no host has the device id {id}; check the id in the console \
                         (Host setup and management > Host management)"
                    ));
                }
                Err(e) => return Err(e.message()),
            }
        }
        Subject::Device(name) => {
            let found = hosts::query_hosts(&fql::all_of([fql::eq("hostname", name)]))
                .map_err(|e| e.message())?;
            if found.is_empty() {
                return Err(format!(
                    "no host is named \"{name}\"; check the spelling, use `*` as a wildcard \
                     (--set device='{name}*'), or give the device id"
                ));
            }
            found
        }
        Subject::User(login) => {
            let found = hosts::query_hosts(&fql::all_of([fql::eq("last_login_user", login)]))
                .map_err(|e| e.message())?;
            if found.is_empty() {
                return Err(format!(
                    "no host has \"{login}\" as its last logged-in user; ask for the device's \
                     hostname and run again with --set device=HOSTNAME"
                ));
            }
            found
        }
    };
    if devices.len() > MAX_HOSTS {
        return Err(format!(
            "{} hosts match; a ticket covers at most {MAX_HOSTS}: name one device \
             (--set device=HOSTNAME)",
            devices.len()
        ));
    }
    devices.sort_by(|a, b| (&a.hostname, &a.device_id).cmp(&(&b.hostname, &b.device_id)));
    Ok(devices)
}

/// Online state per device id (`online`, `offline`, `unknown`), through the
/// generic call: it has no typed function. Scope `hosts:read`.
fn online_states(devices: &[Device]) -> Result<BTreeMap<String, String>, String> {
    let query: Vec<(String, String)> = devices
        .iter()
        .map(|d| ("ids".to_owned(), d.device_id.clone()))
        .collect();
    let response = api::call("GET", ONLINE_STATE_PATH, &query, None).map_err(|e| e.message())?;
    let body: serde_json::Value = serde_json::from_str(&response.body)
        .map_err(|e| format!("the online-state response is not JSON: {e}"))?;
    Ok(body["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["id"].as_str()?.to_owned(),
                r["state"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// The host's alerts created in `[since, as_of]`, newest first.
fn recent_alerts(
    device_id: &str,
    since: Timestamp,
    as_of: Timestamp,
) -> Result<Vec<Alert>, String> {
    let (since, as_of) = (since.to_string(), as_of.to_string());
    let filter = fql::all_of([
        fql::eq("agent_id", device_id),
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
    alerts::query_alerts(&filter, Some("created_timestamp|desc")).map_err(|e| e.message())
}

/// The prevention, sensor update and response policies applied to the host,
/// with their names.
fn host_policies(device_id: &str) -> Result<BTreeMap<&'static str, PolicyView>, String> {
    let applied = policies::policies_of_host(device_id).map_err(|e| e.message())?;
    let mut out = BTreeMap::new();
    for (kind, key) in KINDS {
        let Some(entry) = applied.iter().find(|a| a.kind == Some(kind)) else {
            continue;
        };
        let policy = match policies::get_policies(kind, std::slice::from_ref(&entry.policy_id)) {
            Ok(mut found) => found.pop(),
            // Applied but since deleted: still worth showing by id.
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e.message()),
        };
        out.insert(
            key,
            PolicyView {
                policy_id: entry.policy_id.clone(),
                name: policy.as_ref().map(|p| p.name.clone()),
                enabled: policy.as_ref().map(|p| p.enabled),
                applied: entry.applied,
                applied_at: entry.applied_at.clone(),
            },
        );
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
struct Report {
    as_of: String,
    days: u64,
    since: String,
    subject: Subject,
    hosts: Vec<HostContext>,
}

#[derive(Debug, Serialize)]
struct HostContext {
    device_id: String,
    hostname: String,
    platform: String,
    os_version: String,
    sensor_version: String,
    last_seen: Option<String>,
    /// Whole days between `last_seen` and `as_of`.
    days_since_seen: Option<i64>,
    /// `online`, `offline` or `unknown`; none when Falcon did not say.
    online_state: Option<String>,
    reduced_functionality_mode: bool,
    /// The host's containment status: `normal`, `containment_pending`,
    /// `contained` or `lift_containment_pending`.
    containment: String,
    local_ip: Option<String>,
    last_login_user: Option<String>,
    /// Applied policies by kind: `prevention`, `sensor_update`, `response`.
    policies: BTreeMap<&'static str, PolicyView>,
    /// How many alerts the window holds.
    alert_count: usize,
    /// The window's alerts, newest first.
    alerts: Vec<AlertView>,
}

impl HostContext {
    fn new(
        device: &Device,
        online_state: Option<String>,
        as_of: Timestamp,
        policies: BTreeMap<&'static str, PolicyView>,
        alerts: Vec<Alert>,
    ) -> Self {
        let raw: serde_json::Value = serde_json::from_str(&device.raw_json).unwrap_or_default();
        let days_since_seen = device
            .last_seen
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(|t| (as_of.as_second() - t.as_second()).max(0) / SECONDS_PER_DAY);
        Self {
            device_id: device.device_id.clone(),
            hostname: device.hostname.clone().unwrap_or_default(),
            platform: device.platform.clone().unwrap_or_default(),
            os_version: device.os_version.clone().unwrap_or_default(),
            sensor_version: device.agent_version.clone().unwrap_or_default(),
            last_seen: device.last_seen.clone(),
            days_since_seen,
            online_state,
            reduced_functionality_mode: device.reduced_functionality_mode,
            containment: device.status.clone(),
            local_ip: device.local_ip.clone(),
            last_login_user: raw["last_login_user"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            policies,
            alert_count: alerts.len(),
            alerts: alerts.iter().map(AlertView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct PolicyView {
    policy_id: String,
    /// None when the policy no longer exists.
    name: Option<String>,
    enabled: Option<bool>,
    /// Whether the sensor has applied the policy's current settings.
    applied: bool,
    applied_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct AlertView {
    composite_id: String,
    created_timestamp: Option<String>,
    severity: Option<i64>,
    severity_name: Option<String>,
    name: Option<String>,
    tactic: Option<String>,
    technique: Option<String>,
    status: String,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        Self {
            composite_id: a.composite_id.clone(),
            created_timestamp: a.created_timestamp.clone(),
            severity: a.severity,
            severity_name: a.severity_name.clone(),
            name: a.display_name.clone().or_else(|| a.name.clone()),
            tactic: a.tactic.clone(),
            technique: a.technique.clone(),
            status: a.status.clone(),
        }
    }
}

fn or_unknown(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("unknown")
}

impl Report {
    /// Plain text that reads the same in any ticketing system: no Markdown,
    /// labels aligned, one block per host.
    fn text(&self) -> String {
        let about = match &self.subject {
            Subject::Device(d) => format!("device {d}"),
            Subject::User(u) => format!("user {u}"),
        };
        let mut out = format!(
            "Falcon context for {about}: {} host(s), as of {}\n",
            self.hosts.len(),
            self.as_of
        );
        for host in &self.hosts {
            out.push_str(&format!(
                "\n== {} ({}) ==\n",
                or_unknown(Some(&host.hostname)),
                host.device_id
            ));
            let seen = match (&host.last_seen, host.days_since_seen) {
                (Some(at), Some(0)) => format!("{at} (today)"),
                (Some(at), Some(d)) => format!("{at} ({d} days ago)"),
                (Some(at), None) => at.clone(),
                (None, _) => "never".into(),
            };
            let containment = match host.containment.as_str() {
                "normal" => "not contained".to_owned(),
                "contained" => "CONTAINED (network isolated)".to_owned(),
                other => other.replace('_', " "),
            };
            let lines = [
                (
                    "Platform",
                    format!("{} ({})", or_unknown(Some(&host.os_version)), host.platform),
                ),
                (
                    "Sensor version",
                    or_unknown(Some(&host.sensor_version)).to_owned(),
                ),
                ("Last seen", seen),
                (
                    "Online state",
                    or_unknown(host.online_state.as_deref()).to_owned(),
                ),
                (
                    "Reduced functionality",
                    if host.reduced_functionality_mode {
                        "YES: the sensor runs with reduced protection".to_owned()
                    } else {
                        "no".to_owned()
                    },
                ),
                ("Containment", containment),
                ("Local IP", or_unknown(host.local_ip.as_deref()).to_owned()),
                (
                    "Last user",
                    or_unknown(host.last_login_user.as_deref()).to_owned(),
                ),
            ];
            for (label, value) in lines {
                out.push_str(&format!("{:<22} {value}\n", format!("{label}:")));
            }
            out.push_str("Policies:\n");
            for (_, key) in KINDS {
                let label = match key {
                    "prevention" => "Prevention",
                    "sensor_update" => "Sensor update",
                    _ => "Response",
                };
                let value = match host.policies.get(key) {
                    None => "none applied".to_owned(),
                    Some(p) => {
                        let name = p.name.as_deref().unwrap_or("(deleted policy)");
                        let mut notes = Vec::new();
                        if p.enabled == Some(false) {
                            notes.push("disabled");
                        }
                        if !p.applied {
                            notes.push("not yet applied by the sensor");
                        }
                        let notes = if notes.is_empty() {
                            String::new()
                        } else {
                            format!(", {}", notes.join(", "))
                        };
                        format!("{name} ({}{notes})", p.policy_id)
                    }
                };
                out.push_str(&format!("  {:<20} {value}\n", format!("{label}:")));
            }
            out.push_str(&format!(
                "Alerts since {} ({} days): {}\n",
                self.since, self.days, host.alert_count
            ));
            for a in host.alerts.iter().take(MAX_ALERTS_PER_HOST) {
                out.push_str(&format!(
                    "  {}  {:<13} {}  [{} / {}]  {}\n",
                    a.created_timestamp.as_deref().unwrap_or("?"),
                    format!(
                        "{} ({})",
                        a.severity_name.as_deref().unwrap_or("?"),
                        a.severity.map_or("?".into(), |s| s.to_string())
                    ),
                    a.name.as_deref().unwrap_or("unnamed alert"),
                    or_unknown(a.tactic.as_deref()),
                    or_unknown(a.technique.as_deref()),
                    a.status,
                ));
            }
            if host.alert_count > MAX_ALERTS_PER_HOST {
                out.push_str(&format!(
                    "  ... and {} older (the JSON format lists them all)\n",
                    host.alert_count - MAX_ALERTS_PER_HOST
                ));
            }
        }
        out
    }
}
