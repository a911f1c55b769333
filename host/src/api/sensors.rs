//! `sensors`: sensor update builds, sensor installers and the CCID.

use falcon::sensors::InstallerQuery;

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::sensors;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

impl sensors::Host for RunState {
    async fn list_builds(
        &mut self,
        platform: Option<String>,
    ) -> HostResult<Vec<sensors::SensorBuild>> {
        let platform = platform
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty());
        self.call(Operation::ListBuilds, &[], None, |client| async move {
            let builds = client
                .sensors()
                .builds(platform.as_deref())
                .await
                .map_err(to_plugin_error)?;
            Ok(builds
                .into_iter()
                .map(|b| sensors::SensorBuild {
                    raw_json: b.raw.to_string(),
                    build: b.build,
                    platform: b.platform,
                    sensor_version: b.sensor_version,
                    stage: b.stage,
                    is_lts: b.is_lts_build,
                })
                .collect())
        })
        .await
    }

    async fn list_installers(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let query = match installer_query(&filter) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListInstallers, e),
        };
        self.call(Operation::ListInstallers, &[], None, |client| async move {
            client
                .sensors()
                .installer_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_installers(
        &mut self,
        sha256s: Vec<String>,
    ) -> HostResult<Vec<sensors::Installer>> {
        self.call(
            Operation::GetInstallers,
            &sha256s.clone(),
            None,
            |client| async move {
                let batch = client
                    .sensors()
                    .get(&sha256s)
                    .await
                    .map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_installer).collect())
            },
        )
        .await
    }

    async fn query_installers(&mut self, filter: Filter) -> HostResult<Vec<sensors::Installer>> {
        let query = match installer_query(&filter) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::QueryInstallers, e),
        };
        self.call(Operation::QueryInstallers, &[], None, |client| async move {
            let found = client
                .sensors()
                .installers(&query)
                .await
                .map_err(to_plugin_error)?;
            Ok(found.into_iter().map(to_installer).collect())
        })
        .await
    }

    async fn ccid(&mut self) -> HostResult<String> {
        self.call(Operation::Ccid, &[], None, |client| async move {
            client.sensors().ccid().await.map_err(to_plugin_error)
        })
        .await
    }
}

fn installer_query(filter: &Filter) -> Result<InstallerQuery, PluginError> {
    Ok(match to_fql(filter)? {
        Some(fql) => InstallerQuery::filtered(fql),
        None => InstallerQuery::all(),
    })
}

fn to_installer(i: falcon::sensors::Installer) -> sensors::Installer {
    let text = |key: &str| {
        i.raw
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    sensors::Installer {
        description: text("description"),
        os_version: text("os_version"),
        raw_json: i.raw.to_string(),
        sha256: i.sha256,
        name: i.name,
        platform: i.platform,
        os: i.os,
        version: i.version,
        file_size: i.file_size.and_then(|n| u64::try_from(n).ok()),
        file_type: i.file_type,
        release_date: i.release_date.map(|t| t.to_string()),
        architectures: i.architectures,
    }
}
