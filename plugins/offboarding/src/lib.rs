//! Offboarding: close down a departing user's hosts.
//!
//! Given the user (login or mail address) and/or their devices (host names or
//! agent ids), the plugin finds the hosts and, for each one:
//!
//! 1. **contains** it (network containment, destructive: the operator's
//!    approval is needed; a dry run only plans it);
//! 2. **removes** it from its static host groups (dynamic groups follow
//!    their rule and are left alone);
//! 3. **archives** its details, as found before any change, with what was
//!    done, as JSON in the output directory (`--output-dir`);
//!
//! then sends a summary through the notification destination
//! `summary_destination`. The output says what was done per host, and what
//! was refused and why.

use std::collections::{BTreeMap, BTreeSet};

use falcon_sdk::host_groups::{self, HostGroup};
use falcon_sdk::hosts::{self, Device};
use falcon_sdk::notify::{self, Severity};
use falcon_sdk::report::{Table, cell};
use falcon_sdk::{Error, Input, Plugin, format, lookup};
use serde::Serialize;
use serde_json::{Value, json};

falcon_sdk::manifest! {
    name: "offboarding",
    version: env!("CARGO_PKG_VERSION"),
    description: "Offboards a departing user's hosts: contains them, removes them from static host groups, archives their details and sends a summary",
    scopes: [
        "hosts:read",
        "hosts:write",
        "host-groups:read",
        "host-groups:write",
        "notify:*",
    ],
}

/// The summary's destination when the input names none. The manifest asks
/// for `notify:*`: the operator grants the destination by name
/// (`--grant notify:secops`), and the host refuses any other.
const DEFAULT_DESTINATION: &str = "secops";

/// Where the host mounts the directory the operator grants with
/// `--output-dir`.
const OUTPUT_DIR: &str = "/output";

/// Host statuses that mean containment is already in place or under way.
const CONTAINED: &[&str] = &["contained", "containment_pending"];

struct Offboarding;

impl Plugin for Offboarding {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::read(&input)?;
        let now = falcon_sdk::runtime::now();

        let Found {
            hosts: devices,
            ignored,
            not_found,
        } = find_hosts(&options)?;
        let groups = groups_of(&devices)?;
        let mut hosts: Vec<HostReport> = devices.iter().map(HostReport::new).collect();
        contain(&mut hosts, &options);
        remove_from_groups(&mut hosts, &groups);
        for (host, device) in hosts.iter_mut().zip(&devices) {
            archive(host, device, &groups, &options, &now);
        }

        let mut report = Report {
            as_of: now,
            user: options.user.clone(),
            devices: options.devices.clone(),
            hosts,
            ignored_servers: ignored,
            not_found,
            summary: None,
        };
        report.summary = Some(send_summary(&options.destination, &report));
        falcon_sdk::log_info(&format!(
            "offboarded {} host(s) of {}",
            report.hosts.len(),
            options.describe()
        ));
        // The report stands, but a run that left work undone must fail for
        // whoever scheduled it.
        let mut undone = Vec::new();
        let refused = report.refusals().len();
        if refused > 0 {
            undone.push(format!("{refused} action(s) were refused"));
        }
        if report
            .summary
            .as_ref()
            .is_some_and(|s| s.status == Status::Refused)
        {
            undone.push("the summary was not sent".to_owned());
        }
        if !undone.is_empty() {
            falcon_sdk::report_failure(&format!("{} (see the report)", undone.join("; ")));
        }
        Ok(if options.json {
            falcon_sdk::report::json(&report)
        } else {
            report.markdown()
        })
    }
}

falcon_sdk::export_plugin!(Offboarding);

/// The options of one run, read and checked before any call.
#[derive(Debug)]
struct Options {
    /// The departing user's login or mail address.
    user: Option<String>,
    /// Host names or agent ids given by the operator.
    devices: Vec<String>,
    /// Also offboard servers whose last user is the user.
    include_servers: bool,
    /// Recorded with the containment.
    note: String,
    destination: String,
    json: bool,
}

impl Options {
    fn read(input: &Input) -> Result<Self, String> {
        input
            .reject_unknown(&[
                "user",
                "devices",
                "include_servers",
                "note",
                "summary_destination",
                "format",
            ])
            .map_err(|e| e.to_string())?;
        let user = input
            .opt_str("user")
            .map_err(|e| e.to_string())?
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let mut devices = input
            .strings_or("devices", &[])
            .map_err(|e| e.to_string())?;
        devices.retain(|d| !d.trim().is_empty());
        if user.is_none() && devices.is_empty() {
            return Err(
                "name whom to offboard: give `user` (a login or mail address, \
                        `--set user=ana@example.com`) and/or `devices` (host names or agent ids, \
                        `--set devices=WKS-WIN-00042,MAC-00007`)"
                    .into(),
            );
        }
        let destination = input
            .str_or("summary_destination", DEFAULT_DESTINATION)
            .map_err(|e| e.to_string())?
            .to_owned();
        let mut options = Self {
            user,
            devices,
            include_servers: match input.get("include_servers") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
                Some(other) => {
                    return Err(format!(
                        "input field `include_servers`: expected true or false, found {other}"
                    ));
                }
            },
            note: String::new(),
            destination,
            json: input
                .choice_or("format", &["markdown", "json"], "markdown")
                .map_err(|e| e.to_string())?
                == "json",
        };
        options.note = match input.opt_str("note").map_err(|e| e.to_string())? {
            Some(note) => note.to_owned(),
            None => format!("offboarding of {}", options.describe()),
        };
        Ok(options)
    }

    fn describe(&self) -> String {
        match (&self.user, self.devices.is_empty()) {
            (Some(user), true) => user.clone(),
            (Some(user), false) => format!("{user} ({})", self.devices.join(", ")),
            (None, _) => self.devices.join(", "),
        }
    }
}

/// The user's hosts (by last logged-in user) and the named devices, each
/// once; and the named devices that were not found.
fn find_hosts(options: &Options) -> Result<Found, String> {
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    let mut not_found = Vec::new();
    for device in &options.devices {
        let hits = lookup::hosts_named(device)
            .map_err(|e| format!("failed to look up host `{device}`: {}", e.message()))?;
        if hits.is_empty() {
            not_found.push(device.clone());
        }
        found.extend(hits);
    }
    if let Some(user) = &options.user {
        let hits = lookup::hosts_last_used_by(user)
            .map_err(|e| format!("failed to find the hosts of `{user}`: {}", e.message()))?;
        if hits.is_empty() && options.devices.is_empty() {
            not_found.push(user.clone());
        }
        for device in hits {
            // The last user of a server is whoever administered it last:
            // containing it would cut off everyone it serves. Servers are
            // offboarded only when named in `devices` or asked for.
            let role = lookup::product_type(&device);
            if options.include_servers || role == "Workstation" {
                found.push(device);
            } else {
                ignored.push(Ignored {
                    device_id: device.device_id.clone(),
                    hostname: device.hostname.clone().unwrap_or_default(),
                    product_type: role,
                });
            }
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|d: &Device| seen.insert(d.device_id.clone()));
    ignored.retain(|d| seen.insert(d.device_id.clone()));
    Ok(Found {
        hosts: found,
        ignored,
        not_found,
    })
}

/// The hosts to offboard, the ones left alone and the names not found.
#[derive(Debug)]
struct Found {
    hosts: Vec<Device>,
    ignored: Vec<Ignored>,
    not_found: Vec<String>,
}

/// A server the user logged into last, left alone.
#[derive(Debug, Serialize)]
struct Ignored {
    device_id: String,
    hostname: String,
    /// Falcon's `product_type_desc`: `Server` or `Domain Controller`.
    product_type: String,
}

/// Every group any of the hosts is in, by id.
fn groups_of(devices: &[Device]) -> Result<BTreeMap<String, HostGroup>, String> {
    let ids: BTreeSet<String> = devices.iter().flat_map(|d| d.groups.clone()).collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let groups = match host_groups::get_host_groups(&ids) {
        // A group deleted since the host was read: keep the others.
        Err(Error::NotFound(gone)) => {
            let left: Vec<String> = ids.into_iter().filter(|id| !gone.contains(id)).collect();
            if left.is_empty() {
                Vec::new()
            } else {
                host_groups::get_host_groups(&left)
                    .map_err(|e| format!("failed to read the hosts' groups: {}", e.message()))?
            }
        }
        other => other.map_err(|e| format!("failed to read the hosts' groups: {}", e.message()))?,
    };
    Ok(groups.into_iter().map(|g| (g.id.clone(), g)).collect())
}

/// How one action came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    /// Done.
    Done,
    /// A dry run: planned, not done.
    Planned,
    /// Not needed, or deliberately left alone; the detail says why.
    Skipped,
    /// Refused by the host, the operator or Falcon; the detail says why.
    Refused,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Planned => "planned",
            Self::Skipped => "skipped",
            Self::Refused => "refused",
        }
    }
}

/// One action and how it came out.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    status: Status,
    detail: String,
}

fn outcome(status: Status, detail: impl Into<String>) -> Outcome {
    Outcome {
        status,
        detail: detail.into(),
    }
}

/// A host group the host was in, and what became of the membership.
#[derive(Debug, Clone, Serialize)]
struct GroupOutcome {
    id: String,
    name: String,
    group_type: String,
    status: Status,
    detail: String,
}

/// The archive file of one host.
#[derive(Debug, Clone, Serialize)]
struct ArchiveOutcome {
    status: Status,
    /// The file, as the plugin sees it (under `/output`).
    path: Option<String>,
    detail: String,
}

/// What was done to one host.
#[derive(Debug, Serialize)]
struct HostReport {
    device_id: String,
    hostname: String,
    platform: String,
    /// The containment status before the run.
    status_before: String,
    /// The host's group ids as found.
    #[serde(skip)]
    group_ids: Vec<String>,
    containment: Outcome,
    groups: Vec<GroupOutcome>,
    archive: ArchiveOutcome,
}

impl HostReport {
    fn new(device: &Device) -> Self {
        Self {
            device_id: device.device_id.clone(),
            hostname: device.hostname.clone().unwrap_or_default(),
            platform: device.platform.clone().unwrap_or_default(),
            status_before: device.status.clone(),
            group_ids: device.groups.clone(),
            containment: outcome(Status::Skipped, "not attempted"),
            groups: Vec::new(),
            archive: ArchiveOutcome {
                status: Status::Skipped,
                path: None,
                detail: "not attempted".into(),
            },
        }
    }
}

/// Contains every host not contained yet, in one call.
fn contain(hosts: &mut [HostReport], options: &Options) {
    let mut targets = Vec::new();
    for host in hosts.iter_mut() {
        if CONTAINED.contains(&host.status_before.as_str()) {
            host.containment = outcome(
                Status::Skipped,
                format!("already {}", host.status_before.replace('_', " ")),
            );
        } else {
            targets.push(host.device_id.clone());
        }
    }
    if targets.is_empty() {
        return;
    }
    let result = hosts::contain(&targets, Some(&options.note));
    for host in hosts.iter_mut().filter(|h| targets.contains(&h.device_id)) {
        host.containment = match &result {
            Ok(done) => match done.refused.iter().find(|r| r.id == host.device_id) {
                Some(refusal) => outcome(
                    Status::Refused,
                    format!("Falcon refused containment: {}", refusal.message),
                ),
                None if done.accepted.contains(&host.device_id) => {
                    outcome(Status::Done, "network containment requested")
                }
                None => outcome(
                    Status::Refused,
                    "Falcon neither accepted nor refused the host; check it in the console",
                ),
            },
            Err(Error::DryRun(_)) => outcome(Status::Planned, "dry run: would contain the host"),
            Err(e) => outcome(Status::Refused, e.message()),
        };
    }
}

/// Removes the hosts from each static group they are in, one call per
/// group. Dynamic groups choose their members by rule; removing a host by
/// hand would not last, so they are left alone.
fn remove_from_groups(hosts: &mut [HostReport], groups: &BTreeMap<String, HostGroup>) {
    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for host in hosts.iter() {
        for id in &host.group_ids {
            if let Some(group) = groups.get(id)
                && group.group_type != "dynamic"
            {
                members
                    .entry(group.id.as_str())
                    .or_default()
                    .push(host.device_id.clone());
            }
        }
    }
    let mut results: BTreeMap<&str, Outcome> = BTreeMap::new();
    for (id, ids) in &members {
        let result = match host_groups::remove_hosts(id, ids) {
            Ok(()) => outcome(Status::Done, "removed"),
            Err(Error::DryRun(_)) => outcome(Status::Planned, "dry run: would remove the host"),
            Err(e) => outcome(Status::Refused, e.message()),
        };
        results.insert(id, result);
    }
    for host in hosts.iter_mut() {
        for id in host.group_ids.clone() {
            // A group Falcon did not return (deleted meanwhile) is skipped.
            let Some(group) = groups.get(&id) else {
                continue;
            };
            let result = results.get(id.as_str()).cloned().unwrap_or_else(|| {
                outcome(
                    Status::Skipped,
                    format!(
                        "dynamic group: its rule `{}` decides its members",
                        group.assignment_rule.clone().unwrap_or_default()
                    ),
                )
            });
            host.groups.push(GroupOutcome {
                id: group.id.clone(),
                name: group.name.clone(),
                group_type: group.group_type.clone(),
                status: result.status,
                detail: result.detail,
            });
        }
    }
}

/// Writes the host's details, as found, and what was done, to
/// `/output/offboarding-<agent id>.json`.
fn archive(
    host: &mut HostReport,
    device: &Device,
    groups: &BTreeMap<String, HostGroup>,
    options: &Options,
    now: &str,
) {
    let path = format!("{OUTPUT_DIR}/offboarding-{}.json", device.device_id);
    if std::fs::metadata(OUTPUT_DIR).is_err() {
        host.archive = ArchiveOutcome {
            status: Status::Refused,
            path: None,
            detail: "no output directory: the operator grants one with `--output-dir DIR`".into(),
        };
        return;
    }
    let details: Value = serde_json::from_str(&device.raw_json).unwrap_or(Value::Null);
    let member_of: Vec<Value> = device
        .groups
        .iter()
        .map(|id| match groups.get(id) {
            Some(g) => json!({ "id": g.id, "name": g.name, "group_type": g.group_type }),
            None => json!({ "id": id }),
        })
        .collect();
    let document = json!({
        "archived_at": now,
        "reason": options.note,
        "user": options.user,
        "device": details,
        "host_groups": member_of,
        "offboarding": {
            "containment": host.containment,
            "groups": host.groups,
        },
    });
    host.archive = match std::fs::write(&path, falcon_sdk::report::json(&document)) {
        Ok(()) => ArchiveOutcome {
            status: Status::Done,
            path: Some(path),
            detail: "device details archived".into(),
        },
        Err(e) => ArchiveOutcome {
            status: Status::Refused,
            path: None,
            detail: format!("failed to write `{path}`: {e}"),
        },
    };
}

/// The summary for the security team.
#[derive(Debug, Serialize)]
struct SummaryOutcome {
    destination: String,
    status: Status,
    detail: String,
}

fn send_summary(destination: &str, report: &Report) -> SummaryOutcome {
    let contained = report
        .hosts
        .iter()
        .filter(|h| h.containment.status == Status::Done)
        .count();
    let title = format!(
        "Offboarding of {}: {} host(s), {contained} contained",
        report.subject(),
        report.hosts.len()
    );
    let mut markdown = String::new();
    for host in &report.hosts {
        let removed: Vec<&str> = host
            .groups
            .iter()
            .filter(|g| g.status == Status::Done)
            .map(|g| g.name.as_str())
            .collect();
        markdown.push_str(&format!(
            "- {} ({}): containment {}; removed from {}; archive {}\n",
            host.hostname,
            host.device_id,
            host.containment.status.word(),
            if removed.is_empty() {
                "no group".to_owned()
            } else {
                removed.join(", ")
            },
            host.archive.status.word(),
        ));
    }
    if !report.not_found.is_empty() {
        markdown.push_str(&format!("\nNot found: {}\n", report.not_found.join(", ")));
    }
    let refusals = report.refusals();
    if !refusals.is_empty() {
        markdown.push_str("\nRefused:\n");
        for (action, reason, hosts) in by_reason(refusals) {
            markdown.push_str(&format!("- {action} of {}: {reason}\n", hosts.join(", ")));
        }
    }
    if report.hosts.is_empty() {
        markdown.push_str("No host was found.\n");
    }
    let message = notify::Message {
        title,
        text: format::markdown_to_mrkdwn(&markdown),
        blocks: None,
        severity: Severity::Medium,
    };
    let (status, detail) = match notify::send_message(destination, &message) {
        Ok(()) => (Status::Done, format!("sent to `{destination}`")),
        Err(Error::DryRun(_)) => (
            Status::Planned,
            format!("dry run: would send to `{destination}`"),
        ),
        Err(e) => (Status::Refused, e.message()),
    };
    SummaryOutcome {
        destination: destination.to_owned(),
        status,
        detail,
    }
}

/// Refusals as (action, reason, hosts), one entry per action and reason: an
/// unapproved containment refuses every host for the same reason.
fn by_reason(refusals: Vec<(String, String, String)>) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for (host, action, reason) in refusals {
        match out
            .iter_mut()
            .find(|(a, r, _)| *a == action && *r == reason)
        {
            Some((_, _, hosts)) => hosts.push(host),
            None => out.push((action, reason, vec![host])),
        }
    }
    out
}

/// The whole result.
#[derive(Debug, Serialize)]
struct Report {
    as_of: String,
    user: Option<String>,
    devices: Vec<String>,
    hosts: Vec<HostReport>,
    /// Servers the user logged into last, left alone.
    ignored_servers: Vec<Ignored>,
    /// Devices named in the input (or the user) with no host found.
    not_found: Vec<String>,
    summary: Option<SummaryOutcome>,
}

impl Report {
    fn subject(&self) -> String {
        match (&self.user, self.devices.is_empty()) {
            (Some(user), _) => user.clone(),
            (None, _) => self.devices.join(", "),
        }
    }

    /// Every refused action: (host, action, reason).
    fn refusals(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for host in &self.hosts {
            let name = format!("{} ({})", host.hostname, host.device_id);
            if host.containment.status == Status::Refused {
                out.push((
                    name.clone(),
                    "containment".into(),
                    host.containment.detail.clone(),
                ));
            }
            for group in host.groups.iter().filter(|g| g.status == Status::Refused) {
                out.push((
                    name.clone(),
                    format!("removal from `{}`", group.name),
                    group.detail.clone(),
                ));
            }
            if host.archive.status == Status::Refused {
                out.push((name.clone(), "archive".into(), host.archive.detail.clone()));
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "# Falcon offboarding\n\n{} · {} host(s) · {}\n\n",
            cell(&self.subject()),
            self.hosts.len(),
            self.as_of
        );
        if self.hosts.is_empty() {
            out.push_str("No host was found.\n");
        } else {
            let mut table =
                Table::new(["Host", "Agent id", "Containment", "Host groups", "Archive"]);
            for host in &self.hosts {
                let groups: Vec<String> = host
                    .groups
                    .iter()
                    .map(|g| match g.status {
                        Status::Skipped => format!("{}: kept (dynamic)", g.name),
                        status => format!("{}: {}", g.name, status.word()),
                    })
                    .collect();
                table.row([
                    host.hostname.clone(),
                    host.device_id.clone(),
                    match host.containment.status {
                        Status::Refused => "refused (below)".into(),
                        status => format!("{}: {}", status.word(), host.containment.detail),
                    },
                    if groups.is_empty() {
                        "none".into()
                    } else {
                        groups.join("; ")
                    },
                    match (&host.archive.path, host.archive.status) {
                        (Some(path), Status::Done) => path.clone(),
                        _ => host.archive.status.word().into(),
                    },
                ]);
            }
            out.push_str(&table.render());
        }
        if !self.not_found.is_empty() {
            out.push_str(&format!(
                "\n## Not found\n\n{}\n",
                self.not_found
                    .iter()
                    .map(|d| format!("- `{}`: no host", cell(d)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if !self.ignored_servers.is_empty() {
            let names: Vec<String> = self
                .ignored_servers
                .iter()
                .map(|i| {
                    format!(
                        "- {} ({}, {})",
                        cell(&i.hostname),
                        i.product_type,
                        i.device_id
                    )
                })
                .collect();
            out.push_str(&format!(
                "\n## Left alone ({})\n\nServers the user logged into last: they serve others, \
                 so they are offboarded only when named in `devices` (or with \
                 `include_servers=true`).\n\n{}\n",
                names.len(),
                names.join("\n")
            ));
        }
        let refusals = self.refusals();
        out.push_str(&format!("\n## Refused ({} action(s))\n\n", refusals.len()));
        if refusals.is_empty() {
            out.push_str("Nothing was refused.\n");
        }
        for (action, reason, hosts) in by_reason(refusals) {
            out.push_str(&format!(
                "- {action} of {}: {}\n",
                cell(&hosts.join(", ")),
                cell(&reason)
            ));
        }
        if let Some(summary) = &self.summary {
            out.push_str(&format!(
                "\n## Summary notification\n\n{}: {}\n",
                summary.status.word(),
                cell(&summary.detail)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_for_the_same_reason_are_one_entry() {
        let refusal = |host: &str, action: &str, reason: &str| {
            (host.to_owned(), action.to_owned(), reason.to_owned())
        };
        let grouped = by_reason(vec![
            refusal("a", "containment", "not approved"),
            refusal("b", "containment", "not approved"),
            refusal("a", "archive", "no output directory"),
            refusal("c", "containment", "Falcon refused"),
        ]);
        assert_eq!(grouped.len(), 3);
        assert_eq!(grouped[0].2, ["a", "b"]);
        assert_eq!(grouped[1].0, "archive");
        assert_eq!(grouped[2].2, ["c"]);
    }
}
