//! Sensor health: which hosts need attention.
//!
//! Findings:
//! - **outdated**: the sensor is older than the newest production build for
//!   its platform (from the sensor update builds API);
//! - **reduced functionality mode**: the sensor runs with reduced
//!   protection, usually after an unsupported kernel or OS update;
//! - **not seen**: the sensor has not reported for `stale_days` days.
//!
//! Input (all optional): `stale_days` (default 14), `format` (`markdown` or
//! `json`), `as_of` (RFC 3339; defaults to the host's clock).

use std::collections::BTreeMap;

use falcon_sdk::hosts::Device;
use falcon_sdk::report::Table;
use falcon_sdk::{Filter, Input, Plugin, api};
use jiff::Timestamp;
use serde::Serialize;

falcon_sdk::manifest! {
    name: "sensor-health",
    version: env!("CARGO_PKG_VERSION"),
    description: "Finds outdated sensors, sensors in reduced functionality mode and hosts not seen for a while",
    scopes: ["hosts:read", "sensor-update-policies:read"],
}

const BUILDS_PATH: &str = "/policy/combined/sensor-update-builds/v1";

/// Hosts read per page of the stream.
const PAGE: u32 = 1_000;

struct SensorHealth;

impl Plugin for SensorHealth {
    fn run(input: Input) -> Result<String, String> {
        input
            .reject_unknown(&["stale_days", "format", "as_of"])
            .map_err(|e| e.to_string())?;
        let stale_days = input.u64_or("stale_days", 14).map_err(|e| e.to_string())?;
        let json = input
            .choice_or("format", &["markdown", "json"], "markdown")
            .map_err(|e| e.to_string())?
            == "json";
        let as_of: Timestamp = match input.opt_str("as_of").map_err(|e| e.to_string())? {
            Some(text) => text
                .parse()
                .map_err(|e| format!("input field `as_of`: {e}"))?,
            None => falcon_sdk::runtime::now()
                .parse::<Timestamp>()
                .and_then(|now| Timestamp::from_second(now.as_second()))
                .map_err(|e| format!("the host's clock gave an unreadable time: {e}"))?,
        };

        let newest = newest_builds()?;
        let mut report = Report::new(newest, as_of, stale_days);
        // A page at a time: the plugin holds the findings, never the fleet.
        for device in
            falcon_sdk::stream::hosts_matching(&Filter::All, PAGE).map_err(|e| e.message())?
        {
            report.add(&device.map_err(|e| e.message())?);
        }
        report.finish();
        falcon_sdk::log_info(&format!("checked {} hosts", report.host_count));
        Ok(if json {
            report.json()
        } else {
            report.markdown()
        })
    }
}

falcon_sdk::export_plugin!(SensorHealth);

/// The newest production sensor version per platform (`windows`, `mac`,
/// `linux`), through the generic call: builds have no typed interface yet.
fn newest_builds() -> Result<BTreeMap<String, String>, String> {
    let response = api::call("GET", BUILDS_PATH, &[("stage".into(), "prod".into())], None)
        .map_err(|e| e.message())?;
    let body: serde_json::Value = serde_json::from_str(&response.body)
        .map_err(|e| format!("the builds response is not JSON: {e}"))?;
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for build in body["resources"].as_array().into_iter().flatten() {
        let (Some(platform), Some(version)) =
            (build["platform"].as_str(), build["sensor_version"].as_str())
        else {
            continue;
        };
        if build["stage"].as_str().is_some_and(|s| s != "prod") {
            continue;
        }
        let entry = newest
            .entry(platform.to_ascii_lowercase())
            .or_insert_with(|| version.into());
        if version_key(version) > version_key(entry) {
            *entry = version.into();
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

#[derive(Debug, Serialize)]
struct Finding {
    device_id: String,
    hostname: String,
    platform: String,
    agent_version: String,
    last_seen: Option<String>,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Report {
    #[serde(skip)]
    as_of_time: Timestamp,
    as_of: String,
    stale_days: u64,
    host_count: usize,
    newest_builds: BTreeMap<String, String>,
    outdated: Vec<Finding>,
    reduced_functionality_mode: Vec<Finding>,
    not_seen: Vec<Finding>,
}

impl Report {
    fn new(newest: BTreeMap<String, String>, as_of: Timestamp, stale_days: u64) -> Self {
        Self {
            as_of_time: as_of,
            as_of: as_of.to_string(),
            stale_days,
            host_count: 0,
            newest_builds: newest,
            outdated: Vec::new(),
            reduced_functionality_mode: Vec::new(),
            not_seen: Vec::new(),
        }
    }

    /// Checks one host against the three rules.
    fn add(&mut self, device: &Device) {
        self.host_count += 1;
        let platform = device.platform.clone().unwrap_or_default();
        let version = device.agent_version.clone().unwrap_or_default();
        if let Some(latest) = self.newest_builds.get(&platform.to_ascii_lowercase())
            && version_key(&version) < version_key(latest)
        {
            let detail = format!("{version} < {latest}");
            self.outdated.push(finding(device, detail));
        }
        if device.reduced_functionality_mode {
            self.reduced_functionality_mode
                .push(finding(device, "reduced functionality".into()));
        }
        let as_of = self.as_of_time;
        let seen = device
            .last_seen
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        let days = seen.map(|t| (as_of.as_second() - t.as_second()).max(0) / 86_400);
        if days.is_none_or(|d| d >= self.stale_days as i64) {
            let detail = days.map_or("never reported".into(), |d| format!("{d} days ago"));
            self.not_seen.push(finding(device, detail));
        }
    }

    /// Orders each finding list by host name, then agent id.
    fn finish(&mut self) {
        for findings in [
            &mut self.outdated,
            &mut self.reduced_functionality_mode,
            &mut self.not_seen,
        ] {
            findings.sort_by(|a, b| (&a.hostname, &a.device_id).cmp(&(&b.hostname, &b.device_id)));
        }
    }

    fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "# Falcon sensor health\n\nAs of {} · {} hosts · not seen after {} days\n\n",
            self.as_of, self.host_count, self.stale_days
        );
        let mut summary = Table::new(["Finding", "Hosts", "What to do"]);
        let sections = [
            (
                "Outdated sensors",
                &self.outdated,
                "Move these hosts to a sensor update policy on the current build.",
            ),
            (
                "Reduced functionality mode",
                &self.reduced_functionality_mode,
                "Check kernel/OS support for the sensor version; update the sensor or roll back the OS change.",
            ),
            (
                "Not seen",
                &self.not_seen,
                "Confirm the host still exists; reinstall the sensor or retire the host.",
            ),
        ];
        for (title, findings, advice) in &sections {
            summary.row([
                title.to_string(),
                findings.len().to_string(),
                advice.to_string(),
            ]);
        }
        out.push_str(&summary.render());
        for (title, findings, _) in &sections {
            out.push_str(&format!("\n## {title} ({})\n\n", findings.len()));
            if findings.is_empty() {
                out.push_str("None.\n");
                continue;
            }
            let mut table = Table::new(["Host", "Platform", "Sensor", "Last seen", "Detail"]);
            for f in findings.iter() {
                table.row([
                    f.hostname.clone(),
                    f.platform.clone(),
                    f.agent_version.clone(),
                    f.last_seen.clone().unwrap_or_else(|| "never".into()),
                    f.detail.clone(),
                ]);
            }
            out.push_str(&table.render());
        }
        out
    }
}

fn finding(device: &Device, detail: String) -> Finding {
    Finding {
        device_id: device.device_id.clone(),
        hostname: device.hostname.clone().unwrap_or_default(),
        platform: device.platform.clone().unwrap_or_default(),
        agent_version: device.agent_version.clone().unwrap_or_default(),
        last_seen: device.last_seen.clone(),
        detail,
    }
}
