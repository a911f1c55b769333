//! Hosts and host groups: platforms, OS and sensor versions, last-seen times,
//! reduced functionality mode and group membership.

use jiff::Timestamp;
use serde::Serialize;

use super::people::{DAY, ago, instant, later};
use super::{TenantSpec, User};
use crate::rng::SplitMix64;

/// A host with a Falcon sensor (the fields of `deviceapi.DeviceSwagger` that vary
/// between hosts; the rest are derived when a host is served).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Host {
    /// The agent id (AID): 32 lowercase hex digits.
    pub device_id: String,
    /// The host name; some contain non-ASCII letters and apostrophes.
    pub hostname: String,
    /// `Windows`, `Mac` or `Linux`.
    pub platform_name: String,
    /// The OS version as Falcon shows it, e.g. `Windows 11` or `Ventura (13)`.
    pub os_version: String,
    /// The OS build, e.g. `22631` or `22G120`.
    pub os_build: String,
    /// The kernel version.
    pub kernel_version: String,
    /// `Workstation`, `Server` or `Domain Controller`.
    pub product_type_desc: String,
    /// The sensor version, e.g. `7.18.18805.0`.
    pub agent_version: String,
    /// `yes`, `no` or empty (unknown).
    pub reduced_functionality_mode: String,
    /// When the sensor first connected.
    pub first_seen: Timestamp,
    /// When the sensor last connected; weeks ago for some hosts.
    pub last_seen: Timestamp,
    /// The private address.
    pub local_ip: String,
    /// The public address the sensor connects from (documentation ranges only).
    pub external_ip: String,
    /// The MAC address, dash-separated.
    pub mac_address: String,
    /// The Active Directory domain, or empty.
    pub machine_domain: String,
    /// The hardware serial number.
    pub serial_number: String,
    /// The hardware vendor.
    pub system_manufacturer: String,
    /// The hardware model.
    pub system_product_name: String,
    /// Ids of the host groups the host is in.
    pub groups: Vec<String>,
    /// Sensor grouping tags, each starting `FalconGroupingTags/`.
    pub tags: Vec<String>,
    /// `normal`, `containment_pending`, `contained` or `lift_containment_pending`.
    pub status: String,
    /// Whether the host is hidden from the console and the default queries.
    pub hidden: bool,
    /// `online`, `offline` or `unknown` (the online-state endpoint).
    pub online_state: String,
    /// The user who last logged in.
    pub last_login_user: String,
}

/// A host group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostGroup {
    /// 32 lowercase hex digits.
    pub id: String,
    /// The name; some contain non-ASCII letters and quotes.
    pub name: String,
    /// What the group is for.
    pub description: String,
    /// `static`, `dynamic` or `staticByID`.
    pub group_type: String,
    /// The FQL rule of a dynamic group; empty for static groups.
    pub assignment_rule: String,
    /// Who created the group (a user's mail address).
    pub created_by: String,
    /// When it was created.
    pub created_timestamp: Timestamp,
    /// Who changed it last.
    pub modified_by: String,
    /// When it was changed last.
    pub modified_timestamp: Timestamp,
}

/// (platform, weight, OS versions as (os_version, os_build, kernel, major, minor)).
type OsRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const WINDOWS: &[OsRow] = &[
    ("Windows 11", "22631", "10.0.22631.4460", "10", "0"),
    ("Windows 11", "26100", "10.0.26100.2314", "10", "0"),
    ("Windows 10", "19045", "10.0.19045.5131", "10", "0"),
    ("Windows Server 2022", "20348", "10.0.20348.2849", "10", "0"),
    ("Windows Server 2019", "17763", "10.0.17763.6532", "10", "0"),
    ("Windows Server 2016", "14393", "10.0.14393.7515", "10", "0"),
];
const MAC: &[OsRow] = &[
    ("Sequoia (15)", "24B83", "24.1.0", "24", "1"),
    ("Sonoma (14)", "23H222", "23.6.0", "23", "6"),
    ("Ventura (13)", "22G120", "22.6.0", "22", "6"),
];
const LINUX: &[OsRow] = &[
    ("Ubuntu 24.04", "", "6.8.0-48-generic", "6", "8"),
    ("Ubuntu 22.04", "", "5.15.0-125-generic", "5", "15"),
    ("RHEL 9.4", "", "5.14.0-427.42.1.el9_4.x86_64", "5", "14"),
    (
        "Amazon Linux 2023",
        "",
        "6.1.112-122.189.amzn2023.x86_64",
        "6",
        "1",
    ),
    ("Debian 12", "", "6.1.0-26-amd64", "6", "1"),
];

/// Sensor versions per platform, newest first; the last two are outdated.
pub(super) const SENSOR_VERSIONS: &[(&str, &[&str])] = &[
    (
        "Windows",
        &[
            "7.19.18913.0",
            "7.18.18807.0",
            "7.17.18721.0",
            "7.10.17706.0",
            "6.54.16812.0",
        ],
    ),
    (
        "Mac",
        &[
            "7.19.18903.0",
            "7.18.18802.0",
            "7.17.18704.0",
            "7.05.17603.0",
            "6.57.16902.0",
        ],
    ),
    (
        "Linux",
        &[
            "7.19.18806.0",
            "7.18.18703.0",
            "7.17.18605.0",
            "7.07.17309.0",
            "6.50.16306.0",
        ],
    ),
];

/// Host-group names: (name, description, group type, assignment rule).
const GROUPS: &[(&str, &str, &str, &str)] = &[
    (
        "Workstations",
        "Every employee laptop and desktop",
        "dynamic",
        "product_type_desc:'Workstation'",
    ),
    (
        "Servers – Produção",
        "Production servers (São Paulo and Frankfurt)",
        "static",
        "",
    ),
    (
        "Mac fleet",
        "Managed Macs",
        "dynamic",
        "platform_name:'Mac'",
    ),
    (
        "Linux servers",
        "Linux servers in the data centre",
        "dynamic",
        "platform_name:'Linux'",
    ),
    (
        "Contractors' laptops",
        "Laptops of external contractors",
        "static",
        "",
    ),
    (
        "Kritische Systeme (Ökonomie)",
        "Finance systems with \"crown jewel\" data",
        "staticByID",
        "",
    ),
    (
        "Domain controllers",
        "Active Directory domain controllers",
        "static",
        "",
    ),
    (
        "Pilot – early adopters",
        "Hosts that get new sensor builds first",
        "static",
        "",
    ),
];

const VENDORS: &[(&str, &[&str])] = &[
    (
        "Dell Inc.",
        &["Latitude 7440", "OptiPlex 7010", "PowerEdge R750"],
    ),
    ("LENOVO", &["20VE", "21DF", "ThinkSystem SR650"]),
    ("HP", &["EliteBook 840 G10", "ProLiant DL380 Gen10"]),
    ("VMware, Inc.", &["VMware7,1"]),
];
const MAC_VENDOR: (&str, &[&str]) = ("Apple Inc.", &["MacBookPro18,3", "Mac14,2", "Macmini9,1"]);

const TAGS: &[&str] = &["engineering", "finance", "sales", "lab", "vip", "pci"];
const DOMAINS: &[&str] = &["CORP.EXAMPLE", "EU.CORP.EXAMPLE", ""];

/// Host groups for a tenant of `hosts` hosts: the fixed catalogue, plus one numbered
/// site group per 2,000 hosts so large tenants have many groups.
pub(super) fn groups(spec: &TenantSpec, users: &[User]) -> Vec<HostGroup> {
    let mut rng = SplitMix64::stream(spec.seed, "host-groups");
    let anchor = spec.anchor.as_second();
    let extra = spec.hosts / 2000;
    let mut out = Vec::with_capacity(GROUPS.len() + extra);
    let rows = GROUPS
        .iter()
        .map(|&(n, d, t, r)| (n.to_owned(), d.to_owned(), t, r));
    let sites = (1..=extra).map(|i| {
        (
            format!("Site {i:03}"),
            format!("Hosts at site {i}"),
            "static",
            "",
        )
    });
    for (name, description, group_type, rule) in rows.chain(sites) {
        let created = ago(&mut rng, anchor, 200 * DAY, 900 * DAY);
        let modified = later(&mut rng, created.as_second(), DAY, 150 * DAY);
        out.push(HostGroup {
            id: rng.hex(32),
            name,
            description,
            group_type: group_type.to_owned(),
            assignment_rule: rule.to_owned(),
            created_by: author(&mut rng, users),
            created_timestamp: created,
            modified_by: author(&mut rng, users),
            modified_timestamp: modified,
        });
    }
    out
}

/// A user's mail address, or the API's name when the tenant has no users.
pub(super) fn author(rng: &mut SplitMix64, users: &[User]) -> String {
    if users.is_empty() {
        return "api-client".to_owned();
    }
    rng.pick(users).uid.clone()
}

/// `spec.hosts` hosts in `groups`, drawn from the seed's "hosts" stream.
pub(super) fn hosts(spec: &TenantSpec, users: &[User], groups: &[HostGroup]) -> Vec<Host> {
    let mut rng = SplitMix64::stream(spec.seed, "hosts");
    let anchor = spec.anchor.as_second();
    (0..spec.hosts)
        .map(|i| host(&mut rng, i, anchor, users, groups))
        .collect()
}

fn host(rng: &mut SplitMix64, i: usize, anchor: i64, users: &[User], groups: &[HostGroup]) -> Host {
    let (platform, os) = match rng.below(10) {
        0..=5 => ("Windows", rng.pick(WINDOWS)),
        6..=7 => ("Mac", rng.pick(MAC)),
        _ => ("Linux", rng.pick(LINUX)),
    };
    let role = product_type(rng, platform, os.0);
    let login_user = users.get(rng.below(users.len().max(1) as u64) as usize);
    let (first_seen, last_seen) = seen(rng, anchor);
    let (vendor, models) = if platform == "Mac" {
        MAC_VENDOR
    } else {
        *rng.pick(VENDORS)
    };
    let online = if anchor - last_seen.as_second() < 3600 {
        "online"
    } else {
        "offline"
    };
    Host {
        device_id: rng.hex(32),
        hostname: hostname(rng, i, platform, role, login_user),
        platform_name: platform.to_owned(),
        os_version: os.0.to_owned(),
        os_build: os.1.to_owned(),
        kernel_version: os.2.to_owned(),
        product_type_desc: role.to_owned(),
        agent_version: sensor_version(rng, platform).to_owned(),
        reduced_functionality_mode: rfm(rng).to_owned(),
        first_seen,
        last_seen,
        local_ip: format!(
            "10.{}.{}.{}",
            rng.below(40),
            rng.below(256),
            1 + rng.below(254)
        ),
        external_ip: format!("198.51.100.{}", 1 + rng.below(254)),
        mac_address: mac(rng),
        machine_domain: if platform == "Windows" {
            rng.pick(DOMAINS).to_string()
        } else {
            String::new()
        },
        serial_number: format!("SN{}", rng.hex(10).to_uppercase()),
        system_manufacturer: vendor.to_owned(),
        system_product_name: rng.pick(models).to_string(),
        groups: membership(rng, platform, role, groups),
        tags: tags(rng),
        status: "normal".to_owned(),
        hidden: rng.below(100) == 0,
        online_state: if rng.below(50) == 0 {
            "unknown"
        } else {
            online
        }
        .to_owned(),
        last_login_user: login_user.map_or_else(String::new, login_name),
    }
}

fn product_type(rng: &mut SplitMix64, platform: &str, os: &str) -> &'static str {
    match platform {
        "Windows" if os.contains("Server") && rng.below(8) == 0 => "Domain Controller",
        "Windows" if os.contains("Server") => "Server",
        "Linux" => "Server",
        _ => "Workstation",
    }
}

/// Mostly recent; one host in eight not seen for weeks, as fleets with retired or
/// travelling machines look.
fn seen(rng: &mut SplitMix64, anchor: i64) -> (Timestamp, Timestamp) {
    let back = match rng.below(8) {
        0 => rng.between(14 * DAY, 75 * DAY),
        1..=2 => rng.between(2 * 3600, 7 * DAY),
        _ => rng.between(30, 3000),
    };
    let last = instant(rng, anchor - back);
    let first = ago(rng, last.as_second(), DAY, 700 * DAY);
    (first, last)
}

/// Most hosts run one of the three supported builds; about one in ten is outdated.
fn sensor_version(rng: &mut SplitMix64, platform: &str) -> &'static str {
    let versions = SENSOR_VERSIONS
        .iter()
        .find(|(p, _)| *p == platform)
        .map_or(&[][..], |(_, v)| v);
    let index = match rng.below(20) {
        0 => 4,
        1 => 3,
        2..=7 => 2,
        8..=12 => 1,
        _ => 0,
    };
    versions.get(index).copied().unwrap_or("7.19.18913.0")
}

fn rfm(rng: &mut SplitMix64) -> &'static str {
    match rng.below(40) {
        0 => "yes",
        1 => "",
        _ => "no",
    }
}

/// Server-style names for servers; for some workstations the owner's name, which
/// is how non-ASCII letters and apostrophes reach host names in real fleets.
fn hostname(
    rng: &mut SplitMix64,
    i: usize,
    platform: &str,
    role: &str,
    user: Option<&User>,
) -> String {
    let short = match platform {
        "Windows" => "WIN",
        "Mac" => "MAC",
        _ => "LNX",
    };
    match (role, user) {
        ("Workstation", Some(u)) if rng.below(5) == 0 && platform == "Mac" => {
            format!("{}'s MacBook Pro ({i})", u.first_name)
        }
        ("Workstation", Some(u)) if rng.below(5) == 0 => {
            format!("{}-{}-{i:05}", u.last_name, short)
        }
        ("Workstation", _) => format!("WKS-{short}-{i:05}"),
        ("Domain Controller", _) => format!("DC-{i:05}"),
        _ => format!("SRV-{short}-{i:05}"),
    }
}

fn mac(rng: &mut SplitMix64) -> String {
    let bytes: Vec<String> = (0..4).map(|_| rng.hex(2)).collect();
    format!("02-00-{}", bytes.join("-"))
}

/// The platform's dynamic group, sometimes a static one too.
fn membership(
    rng: &mut SplitMix64,
    platform: &str,
    role: &str,
    groups: &[HostGroup],
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut push = |name: &str| {
        if let Some(g) = groups.iter().find(|g| g.name == name) {
            ids.push(g.id.clone());
        }
    };
    match (platform, role) {
        ("Mac", _) => push("Mac fleet"),
        ("Linux", _) => push("Linux servers"),
        (_, "Workstation") => push("Workstations"),
        (_, "Domain Controller") => push("Domain controllers"),
        _ => push("Servers – Produção"),
    }
    if rng.below(6) == 0 && groups.len() > 4 {
        let static_groups = &groups[4..];
        ids.push(rng.pick(static_groups).id.clone());
    }
    ids.dedup();
    ids
}

fn tags(rng: &mut SplitMix64) -> Vec<String> {
    match rng.below(4) {
        0 => vec![format!("FalconGroupingTags/{}", rng.pick(TAGS))],
        _ => Vec::new(),
    }
}

/// The login name a sensor reports: `DOMAIN\first.last` style, ASCII letters kept as
/// they are written.
fn login_name(user: &User) -> String {
    user.uid.split('@').next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: usize) -> TenantSpec {
        TenantSpec {
            seed: 3,
            hosts,
            ..TenantSpec::demo()
        }
    }

    #[test]
    fn hosts_are_varied() {
        let spec = spec(400);
        let groups = groups(&spec, &[]);
        let hosts = hosts(&spec, &[], &groups);
        let count = |f: &dyn Fn(&Host) -> bool| hosts.iter().filter(|h| f(h)).count();
        for platform in ["Windows", "Mac", "Linux"] {
            assert!(count(&|h| h.platform_name == platform) > 20, "{platform}");
        }
        assert!(count(&|h| h.reduced_functionality_mode == "yes") > 0);
        let weeks_ago = spec.anchor.as_second() - 14 * DAY;
        assert!(count(&|h| h.last_seen.as_second() <= weeks_ago) > 10);
        assert!(count(&|h| h.agent_version.starts_with("6.")) > 0);
        assert!(
            hosts
                .iter()
                .all(|h| h.device_id.len() == 32 && !h.groups.is_empty())
        );
    }

    #[test]
    fn demo_host_names_include_non_ascii_letters_and_quotes() {
        let t = crate::tenant::Tenant::generate(&TenantSpec::demo());
        assert!(t.hosts.iter().any(|h| h.hostname.contains('\'')));
        assert!(t.hosts.iter().any(|h| !h.hostname.is_ascii()));
        assert!(t.host_groups.iter().any(|g| !g.name.is_ascii()));
    }

    #[test]
    fn large_tenants_get_site_groups() {
        assert_eq!(groups(&spec(10_000), &[]).len(), GROUPS.len() + 5);
    }
}
