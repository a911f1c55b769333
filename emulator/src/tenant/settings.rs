//! Policies, sensor builds, sensor installers and custom IOCs.

use jiff::Timestamp;
use serde::Serialize;

use super::fleet::{HostGroup, SENSOR_VERSIONS, author};
use super::people::{DAY, ago, instant, later};
use super::{TenantSpec, User};
use crate::rng::SplitMix64;

/// The policy kinds the emulator serves.
pub const POLICY_KINDS: &[&str] = &["prevention", "response", "sensor-update"];

/// A prevention, response or sensor-update policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `prevention`, `response` or `sensor-update`.
    pub kind: String,
    /// 32 lowercase hex digits.
    pub id: String,
    /// The name; the platform default is `platform_default`.
    pub name: String,
    /// What the policy is for.
    pub description: String,
    /// `Windows`, `Mac` or `Linux`.
    pub platform_name: String,
    /// Whether the policy is applied.
    pub enabled: bool,
    /// Host group ids the policy is assigned to.
    pub groups: Vec<String>,
    /// Lower is stronger; the platform default is always last.
    pub precedence: u32,
    /// Sensor-update policies: the build they pin, e.g. `18913` or `18913|n-1|tagged|1`.
    pub build: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_timestamp: Timestamp,
    /// Who changed it last.
    pub modified_by: String,
    /// When it was changed last.
    pub modified_timestamp: Timestamp,
}

/// A sensor build offered to sensor-update policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SensorBuild {
    /// The build number, with `|n-1|tagged|...` for the auto-update tracks.
    pub build: String,
    /// `windows`, `mac` or `linux`.
    pub platform: String,
    /// The sensor version.
    pub sensor_version: String,
    /// `prod` or `early_adopter`.
    pub stage: String,
    /// Long-term support build.
    pub is_lts_build: bool,
}

/// A downloadable sensor installer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installer {
    /// SHA-256 of the file: the installer's id.
    pub sha256: String,
    /// The file name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `windows`, `mac` or `linux`.
    pub platform: String,
    /// The OS family, e.g. `Windows`, `macOS`, `RHEL/CentOS/Oracle`.
    pub os: String,
    /// The OS version the package is for, or `*`.
    pub os_version: String,
    /// The sensor version.
    pub version: String,
    /// Bytes.
    pub file_size: u64,
    /// `exe`, `pkg`, `rpm` or `deb`.
    pub file_type: String,
    /// When it was released.
    pub release_date: Timestamp,
}

/// A custom IOC (`api.IndicatorV1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ioc {
    /// 64 lowercase hex digits.
    pub id: String,
    /// `sha256`, `md5`, `domain`, `ipv4` or `ipv6`.
    #[serde(rename = "type")]
    pub ioc_type: String,
    /// The indicator.
    pub value: String,
    /// `no_action`, `allow`, `detect`, `prevent` or `prevent_no_ui`.
    pub action: String,
    /// `informational` to `critical`.
    pub severity: String,
    /// Free text; may contain non-ASCII letters and quotes.
    pub description: String,
    /// Where it came from.
    pub source: String,
    /// `windows`, `mac`, `linux`.
    pub platforms: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Applies to every host, else to `host_groups`.
    pub applied_globally: bool,
    /// Host group ids when not global.
    pub host_groups: Vec<String>,
    /// When it lapses.
    pub expiration: Option<Timestamp>,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_on: Timestamp,
    /// Who changed it last.
    pub modified_by: String,
    /// When it was changed last.
    pub modified_on: Timestamp,
}

const PLATFORMS: &[&str] = &["Windows", "Mac", "Linux"];

/// Per kind and platform a `platform_default` policy, plus custom policies assigned
/// to the host groups of that platform.
pub(super) fn policies(spec: &TenantSpec, groups: &[HostGroup], users: &[User]) -> Vec<Policy> {
    let mut rng = SplitMix64::stream(spec.seed, "policies");
    let mut out = Vec::new();
    for kind in POLICY_KINDS {
        for platform in PLATFORMS {
            let customs = custom_policies(kind, platform, groups);
            for (precedence, (name, group_ids)) in customs.into_iter().enumerate() {
                out.push(policy(
                    &mut rng,
                    spec,
                    kind,
                    platform,
                    name,
                    group_ids,
                    precedence as u32 + 1,
                    users,
                ));
            }
            out.push(policy(
                &mut rng,
                spec,
                kind,
                platform,
                "platform_default".to_owned(),
                Vec::new(),
                0,
                users,
            ));
        }
    }
    out
}

/// Custom policies of one platform with the groups they cover.
fn custom_policies(kind: &str, platform: &str, groups: &[HostGroup]) -> Vec<(String, Vec<String>)> {
    let ids_of = |names: &[&str]| -> Vec<String> {
        groups
            .iter()
            .filter(|g| names.contains(&g.name.as_str()))
            .map(|g| g.id.clone())
            .collect()
    };
    let label = match kind {
        "prevention" => "Prevention",
        "response" => "RTR",
        _ => "Sensor updates",
    };
    match platform {
        "Windows" => vec![
            (
                format!("{label} – Servers (strict)"),
                ids_of(&["Servers – Produção", "Domain controllers"]),
            ),
            (
                format!("{label} – Workstations"),
                ids_of(&["Workstations", "Contractors' laptops"]),
            ),
            (
                format!("{label} – Pilot \"early\""),
                ids_of(&["Pilot – early adopters"]),
            ),
        ],
        "Mac" => vec![(format!("{label} – Macs"), ids_of(&["Mac fleet"]))],
        _ => vec![(format!("{label} – Linux"), ids_of(&["Linux servers"]))],
    }
}

#[allow(clippy::too_many_arguments)]
fn policy(
    rng: &mut SplitMix64,
    spec: &TenantSpec,
    kind: &str,
    platform: &str,
    name: String,
    groups: Vec<String>,
    precedence: u32,
    users: &[User],
) -> Policy {
    let created = ago(rng, spec.anchor.as_second(), 100 * DAY, 800 * DAY);
    let modified = later(rng, created.as_second(), DAY, 90 * DAY);
    let default = name == "platform_default";
    Policy {
        kind: kind.to_owned(),
        id: rng.hex(32),
        description: if default {
            format!("Platform default policy for {platform}")
        } else {
            format!("{name} ({platform})")
        },
        name,
        platform_name: platform.to_owned(),
        enabled: default || rng.below(8) != 0,
        groups,
        // The default goes last: give it a precedence after every custom policy.
        precedence: if default { u32::MAX } else { precedence },
        build: if kind == "sensor-update" {
            pinned_build(rng, platform)
        } else {
            String::new()
        },
        created_by: author(rng, users),
        created_timestamp: created,
        modified_by: author(rng, users),
        modified_timestamp: modified,
    }
}

fn pinned_build(rng: &mut SplitMix64, platform: &str) -> String {
    let builds = builds_for(platform);
    rng.pick(&builds).build.clone()
}

/// Every build offered: the versions of each platform, plus the `n-1` and `n-2`
/// auto-update tracks.
pub(super) fn builds() -> Vec<SensorBuild> {
    PLATFORMS.iter().flat_map(|p| builds_for(p)).collect()
}

fn builds_for(platform: &str) -> Vec<SensorBuild> {
    let versions = SENSOR_VERSIONS
        .iter()
        .find(|(p, _)| *p == platform)
        .map_or(&[][..], |(_, v)| v);
    let lower = platform.to_ascii_lowercase();
    let mut out = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let number = version.split('.').nth(2).unwrap_or("0");
        let build = match i {
            1 => format!("{number}|n-1|tagged|1"),
            2 => format!("{number}|n-2|tagged|2"),
            _ => number.to_owned(),
        };
        out.push(SensorBuild {
            build,
            platform: lower.clone(),
            sensor_version: (*version).to_owned(),
            stage: if i == 0 { "early_adopter" } else { "prod" }.to_owned(),
            is_lts_build: i == 3,
        });
    }
    out
}

/// Installers for every sensor version and package type.
pub(super) fn installers(spec: &TenantSpec) -> Vec<Installer> {
    let mut rng = SplitMix64::stream(spec.seed, "installers");
    let packages: &[(&str, &str, &str, &str)] = &[
        ("windows", "Windows", "*", "exe"),
        ("mac", "macOS", "*", "pkg"),
        ("linux", "RHEL/CentOS/Oracle", "9", "rpm"),
        ("linux", "Ubuntu", "16/18/20/22/24", "deb"),
    ];
    let mut out = Vec::new();
    for (platform, os, os_version, file_type) in packages {
        let versions = SENSOR_VERSIONS
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(&platform_title(platform)));
        for (age, version) in versions.map_or(&[][..], |(_, v)| v).iter().enumerate() {
            out.push(Installer {
                sha256: rng.hex(64),
                name: format!("falcon-sensor-{version}.{file_type}"),
                description: format!("Falcon sensor for {os}"),
                platform: (*platform).to_owned(),
                os: (*os).to_owned(),
                os_version: (*os_version).to_owned(),
                version: (*version).to_owned(),
                file_size: 40_000_000 + rng.below(90_000_000),
                file_type: (*file_type).to_owned(),
                release_date: instant(
                    &mut rng,
                    spec.anchor.as_second() - (age as i64 * 45 + 10) * DAY,
                ),
            });
        }
    }
    out
}

fn platform_title(platform: &str) -> String {
    match platform {
        "mac" => "Mac".to_owned(),
        "linux" => "Linux".to_owned(),
        _ => "Windows".to_owned(),
    }
}

const IOC_DESCRIPTIONS: &[&str] = &[
    "Dropper seen in the \"Rechnung\" phishing wave",
    "C2 domain from CERT-Bund advisory (Müller & Søn case)",
    "Analyst's block of the commodity loader",
    "Leaked tool used in the Ñandú intrusion",
    "Known-good internal build tool",
];

/// `spec.iocs` custom indicators of every type.
pub(super) fn iocs(spec: &TenantSpec, groups: &[HostGroup], users: &[User]) -> Vec<Ioc> {
    let mut rng = SplitMix64::stream(spec.seed, "iocs");
    let anchor = spec.anchor.as_second();
    (0..spec.iocs)
        .map(|i| {
            let (ioc_type, value) = indicator(&mut rng, i);
            let created = ago(&mut rng, anchor, DAY, 400 * DAY);
            let global = groups.is_empty() || rng.below(4) != 0;
            Ioc {
                id: rng.hex(64),
                ioc_type: ioc_type.to_owned(),
                value,
                action: rng
                    .pick(&["detect", "prevent", "no_action", "allow"])
                    .to_string(),
                severity: rng
                    .pick(&["informational", "low", "medium", "high", "critical"])
                    .to_string(),
                description: rng.pick(IOC_DESCRIPTIONS).to_string(),
                source: rng
                    .pick(&["Threat intel", "Incident response", "CERT-Bund"])
                    .to_string(),
                platforms: vec!["windows".into(), "mac".into(), "linux".into()],
                tags: vec![format!("campaign-{}", 1 + rng.below(5))],
                applied_globally: global,
                host_groups: if global {
                    Vec::new()
                } else {
                    vec![rng.pick(groups).id.clone()]
                },
                expiration: (rng.below(3) == 0)
                    .then(|| later(&mut rng, anchor, -30 * DAY, 90 * DAY)),
                created_by: author(&mut rng, users),
                created_on: created,
                modified_by: author(&mut rng, users),
                modified_on: created,
            }
        })
        .collect()
}

fn indicator(rng: &mut SplitMix64, i: usize) -> (&'static str, String) {
    match i % 5 {
        0 => ("sha256", rng.hex(64)),
        1 => ("md5", rng.hex(32)),
        2 => ("domain", format!("update-{}.bad-cdn.example", rng.hex(6))),
        3 => ("ipv4", format!("203.0.113.{}", 1 + rng.below(254))),
        _ => ("ipv6", format!("2001:db8::{}", rng.hex(4))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::Tenant;

    #[test]
    fn every_kind_and_platform_has_a_default_last() {
        let t = Tenant::generate(&TenantSpec::demo());
        for kind in POLICY_KINDS {
            for platform in PLATFORMS {
                let mut of: Vec<&Policy> = t
                    .policies
                    .iter()
                    .filter(|p| p.kind == *kind && p.platform_name == *platform)
                    .collect();
                of.sort_by_key(|p| p.precedence);
                assert_eq!(of.last().map(|p| p.name.as_str()), Some("platform_default"));
                assert!(of.len() >= 2, "{kind} {platform}");
            }
        }
        assert!(t.builds.iter().any(|b| b.build.contains("n-1")));
        assert!(t.installers.iter().all(|i| i.sha256.len() == 64));
        assert_eq!(t.iocs.len(), TenantSpec::demo().iocs);
    }
}
