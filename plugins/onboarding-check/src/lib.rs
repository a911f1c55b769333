//! Onboarding check: is a new hire's device ready?
//!
//! Given a user (their login or mail address) or a device (host name or
//! agent id), the plugin finds the hosts and checks each one:
//!
//! 1. **sensor installed**: Falcon knows the host;
//! 2. **recently seen**: the sensor reported within `seen_within_days`;
//! 3. **full functionality**: the sensor is not in reduced functionality
//!    mode;
//! 4. **sensor current**: the version is at least the newest production
//!    sensor build of the host's platform;
//! 5. **host group**: the first of `group_rules` that matches the host (or
//!    `default_group`) names the group; the host is added unless it is a
//!    member already (dynamic groups are never edited by hand);
//! 6. **prevention policy**: the prevention policy applied to the host is
//!    enabled, applied by the sensor, and the expected one when
//!    `expected_prevention_policy` names one.
//!
//! When no host is found the sensor is missing: the plugin opens a help-desk
//! ticket through the notification destination `ticket_destination`.
//!
//! Output: a Markdown checklist, or JSON with `format` = `json`.

use std::collections::{BTreeMap, BTreeSet};

use falcon_sdk::host_groups::{self, HostGroup};
use falcon_sdk::hosts::Device;
use falcon_sdk::notify::{self, Priority};
use falcon_sdk::policies::{self, AppliedPolicy, Policy, PolicyKind};
use falcon_sdk::{Error, Input, Plugin, format, fql, lookup, sensors};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

falcon_sdk::manifest! {
    name: "onboarding-check",
    version: env!("CARGO_PKG_VERSION"),
    description: "Checks a new hire's device: sensor installed and healthy, host group, prevention policy; opens a help-desk ticket when the sensor is missing",
    scopes: [
        "hosts:read",
        "host-groups:read",
        "host-groups:write",
        "sensor-update-policies:read",
        "prevention-policies:read",
        "notify:*",
    ],
}

/// The help-desk destination when the input names none. The manifest asks
/// for `notify:*`: the operator grants the destination by name
/// (`--grant notify:helpdesk`), and the host refuses any other.
const DEFAULT_DESTINATION: &str = "helpdesk";

/// The input fields the plugin knows.
const FIELDS: &[&str] = &[
    "user",
    "device",
    "group_rules",
    "default_group",
    "expected_prevention_policy",
    "seen_within_days",
    "include_servers",
    "ticket_destination",
    "format",
    "as_of",
];

struct OnboardingCheck;

impl Plugin for OnboardingCheck {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::read(&input)?;
        let subject = Subject::read(&input)?;

        let Found {
            hosts: devices,
            ignored,
            device_missing,
        } = find_hosts(&subject, options.include_servers)?;
        let mut context = Context::new(&options);
        let mut hosts = Vec::new();
        for (index, device) in devices.iter().enumerate() {
            hosts.push(context.check(index, device)?);
        }
        // One call per group for the hosts the rules add to it; then the
        // policies, which a new group can change.
        context.assign_groups(&mut hosts);
        context.check_policies(&devices, &mut hosts)?;
        for host in &mut hosts {
            host.ready = host.checks.iter().all(|c| c.status == Status::Pass);
        }
        let ticket = devices
            .is_empty()
            .then(|| open_ticket(&options.destination, &subject));
        // A failed check is a finding; a help-desk ticket that could not be
        // opened is work left undone, and fails the run.
        if let Some(ticket) = ticket.as_ref().filter(|t| t.status == Status::Fail) {
            falcon_sdk::report_failure(&ticket.detail);
        }

        let report = Report {
            as_of: options.as_of.to_string(),
            user: subject.user.clone(),
            device: subject.device.clone(),
            sensor_missing: devices.is_empty(),
            device_missing,
            ready: !devices.is_empty() && !device_missing && hosts.iter().all(|h| h.ready),
            hosts,
            ignored_servers: ignored,
            ticket,
        };
        falcon_sdk::log_info(&format!(
            "checked {} host(s) for {}",
            report.hosts.len(),
            subject.describe()
        ));
        Ok(if options.json {
            falcon_sdk::report::json(&report)
        } else {
            report.markdown()
        })
    }
}

falcon_sdk::export_plugin!(OnboardingCheck);

/// Whose hosts to check.
#[derive(Debug)]
struct Subject {
    /// The user's login or mail address, as given.
    user: Option<String>,
    /// A host name or agent id, as given.
    device: Option<String>,
}

impl Subject {
    fn read(input: &Input) -> Result<Self, String> {
        let text = |field: &str| -> Result<Option<String>, String> {
            Ok(input
                .opt_str(field)
                .map_err(|e| e.to_string())?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned))
        };
        let subject = Self {
            user: text("user")?,
            device: text("device")?,
        };
        if subject.user.is_none() && subject.device.is_none() {
            return Err("name whom to check: give `user` (a login or mail address, \
                        `--set user=ana@example.com`) or `device` (a host name or agent id, \
                        `--set device=WKS-WIN-00042`), or both"
                .into());
        }
        Ok(subject)
    }

    fn describe(&self) -> String {
        match (&self.user, &self.device) {
            (Some(user), Some(device)) => format!("user `{user}` and device `{device}`"),
            (Some(user), None) => format!("user `{user}`"),
            (None, Some(device)) => format!("device `{device}`"),
            (None, None) => "nobody".into(),
        }
    }
}

/// The options of one run, read and checked before any call.
#[derive(Debug)]
struct Options {
    rules: Vec<Rule>,
    default_group: Option<String>,
    expected_policy: Option<String>,
    seen_within_days: u64,
    include_servers: bool,
    destination: String,
    json: bool,
    as_of: Timestamp,
}

impl Options {
    fn read(input: &Input) -> Result<Self, String> {
        input.reject_unknown(FIELDS).map_err(|e| e.to_string())?;
        let text = |field: &str| -> Result<Option<String>, String> {
            Ok(input
                .opt_str(field)
                .map_err(|e| e.to_string())?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned))
        };
        let destination = input
            .str_or("ticket_destination", DEFAULT_DESTINATION)
            .map_err(|e| e.to_string())?
            .to_owned();
        Ok(Self {
            rules: Rule::read_all(input.get("group_rules"))?,
            default_group: text("default_group")?,
            expected_policy: text("expected_prevention_policy")?,
            seen_within_days: input
                .u64_or("seen_within_days", 7)
                .map_err(|e| e.to_string())?,
            include_servers: flag(input, "include_servers")?,
            destination,
            json: input
                .choice_or("format", &["markdown", "json"], "markdown")
                .map_err(|e| e.to_string())?
                == "json",
            as_of: as_of(input)?,
        })
    }
}

/// A true/false field, false when absent; `--set` gives the words.
fn flag(input: &Input, field: &str) -> Result<bool, String> {
    match input.get(field) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(format!(
            "input field `{field}`: expected true or false, found {other}"
        )),
    }
}

/// `as_of` from the input, or the host's clock.
fn as_of(input: &Input) -> Result<Timestamp, String> {
    match input.opt_str("as_of").map_err(|e| e.to_string())? {
        Some(text) => text
            .parse()
            .map_err(|e| format!("input field `as_of`: {e}; give an RFC 3339 time")),
        None => falcon_sdk::runtime::now()
            .parse::<Timestamp>()
            .and_then(|now| Timestamp::from_second(now.as_second()))
            .map_err(|e| format!("the host's clock gave an unreadable time: {e}")),
    }
}

/// One rule of `group_rules`: which hosts go to which group.
#[derive(Debug)]
struct Rule {
    /// `Windows`, `Mac` or `Linux`; any platform when none.
    platform: Option<String>,
    /// A host-name pattern, `*` matching any run of characters; any name
    /// when none.
    hostname: Option<String>,
    /// The group's name.
    group: String,
}

impl Rule {
    fn read_all(value: Option<&Value>) -> Result<Vec<Self>, String> {
        const EXAMPLE: &str = r#"`{"group_rules": [{"platform": "Windows", "hostname": "WS-*", "group": "Workstations"}]}`"#;
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Some(items) = value.as_array() else {
            return Err(format!(
                "input field `group_rules`: expected a list of rules, for example {EXAMPLE}"
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let wrong = |what: &str| {
                    format!(
                        "input field `group_rules`, rule {}: {what}; for example {EXAMPLE}",
                        i + 1
                    )
                };
                let Some(fields) = item.as_object() else {
                    return Err(wrong("expected an object"));
                };
                if let Some(unknown) = fields
                    .keys()
                    .find(|k| !["platform", "hostname", "group"].contains(&k.as_str()))
                {
                    return Err(wrong(&format!(
                        "unknown field `{unknown}` (known: platform, hostname, group)"
                    )));
                }
                let text = |name: &str| -> Result<Option<String>, String> {
                    match fields.get(name) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) if !s.trim().is_empty() => {
                            Ok(Some(s.trim().to_owned()))
                        }
                        Some(_) => Err(wrong(&format!("`{name}` must be a non-empty string"))),
                    }
                };
                Ok(Self {
                    platform: text("platform")?,
                    hostname: text("hostname")?,
                    group: text("group")?.ok_or_else(|| wrong("`group` is required"))?,
                })
            })
            .collect()
    }

    fn matches(&self, device: &Device) -> bool {
        let platform = device.platform.as_deref().unwrap_or_default();
        let hostname = device.hostname.as_deref().unwrap_or_default();
        self.platform
            .as_deref()
            .is_none_or(|p| p.eq_ignore_ascii_case(platform))
            && self
                .hostname
                .as_deref()
                .is_none_or(|pattern| glob(pattern, hostname))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of
/// characters; letters compare without case, as Falcon's host names do.
fn glob(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut left) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        // No `*`: the whole text must be the pattern.
        return left.is_empty();
    };
    for part in middle {
        match left.find(part) {
            Some(at) => left = &left[at + part.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

/// Finds the subject's hosts: by agent id or host name for a device, by
/// the last logged-in user for a user. Each host once, in the order found.
fn find_hosts(subject: &Subject, include_servers: bool) -> Result<Found, String> {
    let mut found = Found::default();
    if let Some(device) = &subject.device {
        let hits = lookup::hosts_named(device)
            .map_err(|e| format!("failed to look up host `{device}`: {}", e.message()))?;
        found.device_missing = hits.is_empty();
        found.hosts.extend(hits);
    }
    if let Some(user) = &subject.user {
        let hosts = lookup::hosts_last_used_by(user)
            .map_err(|e| format!("failed to find the hosts of `{user}`: {}", e.message()))?;
        for device in hosts {
            // The last user of a server is whoever administered it last: a
            // new hire's devices are workstations, unless told otherwise.
            let role = lookup::product_type(&device);
            if include_servers || role == "Workstation" {
                found.hosts.push(device);
            } else {
                found.ignored.push(Ignored {
                    device_id: device.device_id.clone(),
                    hostname: device.hostname.clone().unwrap_or_default(),
                    product_type: role,
                });
            }
        }
    }
    let mut seen = BTreeSet::new();
    found.hosts.retain(|d| seen.insert(d.device_id.clone()));
    found.ignored.retain(|d| seen.insert(d.device_id.clone()));
    Ok(found)
}

/// The hosts a run checks, and the ones it leaves out.
#[derive(Debug, Default)]
struct Found {
    hosts: Vec<Device>,
    /// Servers whose last user is the user, left out unless
    /// `include_servers` is true.
    ignored: Vec<Ignored>,
    /// A device was named and no host has that name or id.
    device_missing: bool,
}

/// A server the user logged into last, not checked.
#[derive(Debug, Serialize)]
struct Ignored {
    device_id: String,
    hostname: String,
    /// Falcon's `product_type_desc`: `Server` or `Domain Controller`.
    product_type: String,
}

/// `7.05.17603.0` as numbers, so that `7.10` sorts after `7.9`.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    /// The check holds (or the plugin made it hold).
    Pass,
    /// The check does not hold.
    Fail,
    /// The check was not made; the detail says why.
    Skipped,
    /// A dry run: the change was planned, not made.
    Planned,
    /// Decided, waiting for the batched call; never in a report.
    Pending,
}

/// One line of a host's checklist.
#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    status: Status,
    detail: String,
}

fn check(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
    }
}

/// The checklist of one host.
#[derive(Debug, Serialize)]
struct HostReport {
    device_id: String,
    hostname: String,
    platform: String,
    agent_version: String,
    last_seen: Option<String>,
    /// Every check passed.
    ready: bool,
    checks: Vec<Check>,
}

/// A host the rules chose for a group: its index in the run's hosts, and
/// why (`rule` or `default group`).
type Chosen = (usize, &'static str);

/// What the run learned once and reuses for every host.
struct Context<'a> {
    options: &'a Options,
    /// The newest production sensor version per platform (lowercase).
    newest: BTreeMap<String, Option<String>>,
    /// Host groups by the name the rules use.
    groups: BTreeMap<String, Option<HostGroup>>,
    /// Hosts to add to each group (by id): the group, and each host's index
    /// with the reason it was chosen.
    pending: BTreeMap<String, (HostGroup, Vec<Chosen>)>,
}

impl<'a> Context<'a> {
    fn new(options: &'a Options) -> Self {
        Self {
            options,
            newest: BTreeMap::new(),
            groups: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Runs the checks of one host that need nothing from the others: the
    /// group and the policy checks are completed by [`Self::assign_groups`]
    /// and [`Self::check_policies`].
    fn check(&mut self, index: usize, device: &Device) -> Result<HostReport, String> {
        let hostname = device.hostname.clone().unwrap_or_default();
        let version = device.agent_version.clone().unwrap_or_default();
        let mut checks = vec![check(
            "Sensor installed",
            Status::Pass,
            format!("agent id `{}`, sensor {version}", device.device_id),
        )];
        checks.push(self.seen(device));
        checks.push(if device.reduced_functionality_mode {
            check(
                "Full functionality",
                Status::Fail,
                "the sensor runs in reduced functionality mode: check that the OS and kernel are \
                 supported by this sensor version",
            )
        } else {
            check(
                "Full functionality",
                Status::Pass,
                "not in reduced functionality mode",
            )
        });
        checks.push(self.version(device)?);
        checks.push(self.group(index, device)?);
        Ok(HostReport {
            device_id: device.device_id.clone(),
            hostname,
            platform: device.platform.clone().unwrap_or_default(),
            agent_version: version,
            last_seen: device.last_seen.clone(),
            ready: false,
            checks,
        })
    }

    fn seen(&self, device: &Device) -> Check {
        const NAME: &str = "Recently seen";
        let limit = self.options.seen_within_days;
        let Some(seen) = device
            .last_seen
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
        else {
            return check(NAME, Status::Fail, "the sensor never reported");
        };
        let days = (self.options.as_of.as_second() - seen.as_second()).max(0) / 86_400;
        let when = format!(
            "last seen {seen} ({days} days before {})",
            self.options.as_of
        );
        if days < limit as i64 {
            check(NAME, Status::Pass, when)
        } else {
            check(
                NAME,
                Status::Fail,
                format!("{when}, not within {limit} days: is the machine on and online?"),
            )
        }
    }

    fn version(&mut self, device: &Device) -> Result<Check, String> {
        const NAME: &str = "Sensor current";
        let platform = device
            .platform
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let version = device.agent_version.as_deref().unwrap_or_default();
        if !self.newest.contains_key(&platform) {
            let builds = sensors::list_builds(Some(&platform)).map_err(|e| {
                format!(
                    "failed to list the sensor builds of `{platform}`: {}",
                    e.message()
                )
            })?;
            let newest = builds
                .iter()
                .filter(|b| b.stage == "prod")
                .map(|b| b.sensor_version.clone())
                .max_by_key(|v| version_key(v));
            self.newest.insert(platform.clone(), newest);
        }
        Ok(match self.newest[&platform].as_deref() {
            None => check(
                NAME,
                Status::Skipped,
                format!("no production sensor build is listed for `{platform}`"),
            ),
            Some(newest) if version_key(version) >= version_key(newest) => check(
                NAME,
                Status::Pass,
                format!("{version}, newest production build {newest}"),
            ),
            Some(newest) => check(
                NAME,
                Status::Fail,
                format!(
                    "{version} is older than the newest production build {newest}: move the host \
                     to a sensor update policy on a current build"
                ),
            ),
        })
    }

    /// The group the rules choose, looked up by name once per run.
    fn group_named(&mut self, name: &str) -> Result<Option<HostGroup>, String> {
        if let Some(group) = self.groups.get(name) {
            return Ok(group.clone());
        }
        let found = host_groups::query_host_groups(&fql::all_of([fql::eq("name", name)]), None)
            .map_err(|e| format!("failed to look up host group `{name}`: {}", e.message()))?;
        let group = found
            .into_iter()
            .find(|g| g.name.eq_ignore_ascii_case(name));
        self.groups.insert(name.to_owned(), group.clone());
        Ok(group)
    }

    fn group(&mut self, index: usize, device: &Device) -> Result<Check, String> {
        const NAME: &str = "Host group";
        let options = self.options;
        let wanted = options
            .rules
            .iter()
            .find(|r| r.matches(device))
            .map(|r| (r.group.as_str(), "rule"))
            .or(options
                .default_group
                .as_deref()
                .map(|g| (g, "default group")));
        let Some((name, why)) = wanted else {
            return Ok(check(
                NAME,
                Status::Skipped,
                "no rule of `group_rules` matches the host and no `default_group` was given",
            ));
        };
        let Some(group) = self.group_named(name)? else {
            return Ok(check(
                NAME,
                Status::Fail,
                format!("the {why} names `{name}`, but the tenant has no host group of that name"),
            ));
        };
        if device.groups.contains(&group.id) {
            return Ok(check(
                NAME,
                Status::Pass,
                format!("already a member of `{}` (by {why})", group.name),
            ));
        }
        if group.group_type == "dynamic" {
            return Ok(check(
                NAME,
                Status::Fail,
                format!(
                    "`{}` is a dynamic group: its rule `{}` decides its members and it does not \
                     match this host; fix the rule or choose a static group",
                    group.name,
                    group.assignment_rule.clone().unwrap_or_default()
                ),
            ));
        }
        self.pending
            .entry(group.id.clone())
            .or_insert_with(|| (group.clone(), Vec::new()))
            .1
            .push((index, why));
        Ok(check(
            NAME,
            Status::Pending,
            format!("to be added to `{}`", group.name),
        ))
    }

    /// Adds the hosts the rules chose to each group, one call per group,
    /// and completes their host-group check.
    fn assign_groups(&mut self, hosts: &mut [HostReport]) {
        const NAME: &str = "Host group";
        for (group, members) in std::mem::take(&mut self.pending).into_values() {
            let ids: Vec<String> = members
                .iter()
                .map(|(i, _)| hosts[*i].device_id.clone())
                .collect();
            let result = host_groups::add_hosts(&group.id, &ids);
            for (i, why) in members {
                let done = match &result {
                    Ok(()) => check(
                        NAME,
                        Status::Pass,
                        format!("added to `{}` (by {why})", group.name),
                    ),
                    Err(Error::DryRun(_)) => check(
                        NAME,
                        Status::Planned,
                        format!("dry run: would add the host to `{}` (by {why})", group.name),
                    ),
                    Err(e) => check(
                        NAME,
                        Status::Fail,
                        format!(
                            "adding the host to `{}` failed: {}",
                            group.name,
                            e.message()
                        ),
                    ),
                };
                if let Some(slot) = hosts[i].checks.iter_mut().find(|c| c.check == NAME) {
                    *slot = done;
                }
            }
        }
    }

    /// Checks the prevention policy applied to each host, reading each
    /// policy once.
    fn check_policies(&self, devices: &[Device], hosts: &mut [HostReport]) -> Result<(), String> {
        let mut applied = Vec::new();
        for device in devices {
            let list = policies::policies_of_host(&device.device_id).map_err(|e| {
                format!(
                    "failed to read the policies of host `{}`: {}",
                    device.device_id,
                    e.message()
                )
            })?;
            applied.push(
                list.into_iter()
                    .find(|p| p.kind == Some(PolicyKind::Prevention)),
            );
        }
        let ids: BTreeSet<String> = applied
            .iter()
            .flatten()
            .map(|p| p.policy_id.clone())
            .collect();
        let ids: Vec<String> = ids.into_iter().collect();
        let found = if ids.is_empty() {
            Vec::new()
        } else {
            policies::get_policies(PolicyKind::Prevention, &ids)
                .map_err(|e| format!("failed to read the prevention policies: {}", e.message()))?
        };
        let by_id: BTreeMap<&str, &Policy> = found.iter().map(|p| (p.id.as_str(), p)).collect();
        for (host, entry) in hosts.iter_mut().zip(&applied) {
            host.checks.push(self.policy(entry.as_ref(), &by_id));
        }
        Ok(())
    }

    fn policy(&self, entry: Option<&AppliedPolicy>, policies: &BTreeMap<&str, &Policy>) -> Check {
        const NAME: &str = "Prevention policy";
        let Some(entry) = entry else {
            return check(
                NAME,
                Status::Fail,
                "no prevention policy applies to the host",
            );
        };
        let Some(policy) = policies.get(entry.policy_id.as_str()) else {
            return check(
                NAME,
                Status::Fail,
                format!(
                    "prevention policy `{}` applies but Falcon did not return it",
                    entry.policy_id
                ),
            );
        };
        let shown = format!("`{}` ({})", policy.name, policy.id);
        if let Some(expected) = &self.options.expected_policy
            && !(policy.id.eq_ignore_ascii_case(expected)
                || policy.name.eq_ignore_ascii_case(expected))
        {
            return check(
                NAME,
                Status::Fail,
                format!(
                    "{shown} applies, not the expected `{expected}`: put the host in a group the \
                     expected policy is assigned to"
                ),
            );
        }
        if !policy.enabled {
            check(
                NAME,
                Status::Fail,
                format!("{shown} applies but is disabled"),
            )
        } else if !entry.applied {
            check(
                NAME,
                Status::Fail,
                format!("{shown} is assigned, but the sensor has not applied it yet"),
            )
        } else {
            check(NAME, Status::Pass, format!("{shown}, enabled and applied"))
        }
    }
}

/// What became of the help-desk ticket.
#[derive(Debug, Serialize)]
struct TicketOutcome {
    destination: String,
    status: Status,
    /// The ticket's key, when one was opened.
    key: Option<String>,
    detail: String,
}

/// Opens the help-desk ticket for a missing sensor.
fn open_ticket(destination: &str, subject: &Subject) -> TicketOutcome {
    let who = subject.describe();
    let mut markdown = format!(
        "The Falcon onboarding check found no host with a Falcon sensor for {who}.\n\n\
         Please install the Falcon sensor on the device and run the check again.\n\n"
    );
    if let Some(user) = &subject.user {
        markdown.push_str(&format!(
            "- Looked for hosts whose last logged-in user is {}.\n",
            lookup::login_names(user)
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if let Some(device) = &subject.device {
        let by = if lookup::is_agent_id(device) {
            "agent id"
        } else {
            "host name"
        };
        markdown.push_str(&format!("- Looked for the host with {by} `{device}`.\n"));
    }
    let ticket = notify::Ticket {
        summary: format!("Falcon sensor missing for {}", subject_line(subject)),
        description: format::markdown_to_text(&markdown),
        description_adf: Some(format::markdown_to_adf(&markdown)),
        priority: Priority::Medium,
        labels: vec!["falcon".into(), "onboarding".into()],
    };
    let outcome = |status, key, detail: String| TicketOutcome {
        destination: destination.to_owned(),
        status,
        key,
        detail,
    };
    match notify::create_ticket(destination, &ticket) {
        Ok(created) => outcome(
            Status::Pass,
            Some(created.key.clone()),
            format!("opened {} at `{destination}`", created.key),
        ),
        Err(Error::DryRun(_)) => outcome(
            Status::Planned,
            None,
            format!("dry run: would open a ticket at `{destination}`"),
        ),
        Err(e) => outcome(
            Status::Fail,
            None,
            format!("the ticket could not be opened: {}", e.message()),
        ),
    }
}

/// The subject in a ticket's one-line summary.
fn subject_line(subject: &Subject) -> String {
    match (&subject.user, &subject.device) {
        (Some(user), Some(device)) => format!("{user} ({device})"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => String::new(),
    }
}

/// The whole result.
#[derive(Debug, Serialize)]
struct Report {
    as_of: String,
    user: Option<String>,
    device: Option<String>,
    /// No host was found: the sensor is not installed (or never reported).
    sensor_missing: bool,
    /// The named device was not found (the user's hosts may have been).
    device_missing: bool,
    /// At least one host was found and every check of every host passed.
    ready: bool,
    hosts: Vec<HostReport>,
    /// Servers the user logged into last, not checked.
    ignored_servers: Vec<Ignored>,
    /// The help-desk ticket, opened only when the sensor is missing.
    ticket: Option<TicketOutcome>,
}

impl Report {
    fn markdown(&self) -> String {
        let who = Subject {
            user: self.user.clone(),
            device: self.device.clone(),
        }
        .describe();
        let verdict = if self.ready {
            "ready"
        } else if self.sensor_missing {
            "sensor missing"
        } else {
            "needs attention"
        };
        let mut out = format!(
            "# Falcon onboarding check\n\n{who} · as of {} · **{verdict}**\n",
            self.as_of
        );
        if self.sensor_missing {
            out.push_str(&format!(
                "\n- [ ] Sensor installed: no host found for {who}\n"
            ));
        } else if let (true, Some(device)) = (self.device_missing, &self.device) {
            out.push_str(&format!(
                "\n- [ ] Sensor installed on `{}`: no host has that name or id\n",
                falcon_sdk::report::cell(device)
            ));
        }
        if let Some(ticket) = &self.ticket {
            out.push_str(&format!(
                "- {} Help-desk ticket: {}\n",
                mark(ticket.status),
                falcon_sdk::report::cell(&ticket.detail)
            ));
        }
        if !self.ignored_servers.is_empty() {
            let names: Vec<String> = self
                .ignored_servers
                .iter()
                .map(|i| {
                    format!(
                        "{} ({})",
                        falcon_sdk::report::cell(&i.hostname),
                        i.product_type
                    )
                })
                .collect();
            out.push_str(&format!(
                "\nNot checked: the user logged into these servers last, which makes them \
                 shared machines rather than the user's device (`include_servers=true` checks \
                 them too): {}.\n",
                names.join(", ")
            ));
        }
        for host in &self.hosts {
            out.push_str(&format!(
                "\n## {} ({}, {})\n\n",
                falcon_sdk::report::cell(&host.hostname),
                host.platform,
                host.device_id
            ));
            for c in &host.checks {
                out.push_str(&format!(
                    "- {} {}: {}\n",
                    mark(c.status),
                    c.check,
                    falcon_sdk::report::cell(&c.detail)
                ));
            }
        }
        out
    }
}

/// A checklist box: ticked when the check passed; otherwise open, with the
/// reason in bold when it was skipped or only planned.
fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "[x]",
        Status::Fail => "[ ]",
        Status::Skipped => "[ ] *skipped*",
        Status::Planned => "[ ] *planned*",
        Status::Pending => "[ ] *pending*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_falcon_host_name_patterns() {
        assert!(glob("WS-*", "ws-0042"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(glob("SRV-*-01", "SRV-LNX-01"));
        assert!(!glob("SRV-*-01", "SRV-LNX-011"));
        assert!(!glob("WS-*", "XWS-1"));
        assert!(glob("exact", "EXACT"));
        assert!(!glob("exact", "exact1"));
        assert!(!glob("a*aa", "aa"));
    }

    #[test]
    fn group_rules_are_checked_and_explained() {
        let rules = serde_json::json!([{"platform": "Windows", "hostname": "WS-*", "group": "W"}]);
        assert_eq!(Rule::read_all(Some(&rules)).unwrap().len(), 1);
        let bad = serde_json::json!([{"platfrom": "Windows", "group": "W"}]);
        let message = Rule::read_all(Some(&bad)).unwrap_err();
        assert!(message.contains("unknown field `platfrom`"), "{message}");
        let no_group = serde_json::json!([{"platform": "Mac"}]);
        assert!(
            Rule::read_all(Some(&no_group))
                .unwrap_err()
                .contains("`group` is required")
        );
    }
}
