//! `hosts`: devices and containment.

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::hosts;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

impl hosts::Host for RunState {
    async fn list_hosts(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::ListHosts, &[], None, |client| async move {
            let query = host_query(fql);
            client
                .hosts()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_hosts(&mut self, ids: Vec<String>) -> HostResult<Vec<hosts::Device>> {
        self.call(
            Operation::GetHosts,
            &ids.clone(),
            None,
            |client| async move {
                let batch = client.hosts().get(&ids).await.map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_host).collect())
            },
        )
        .await
    }

    async fn query_hosts(&mut self, filter: Filter) -> HostResult<Vec<hosts::Device>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return Ok(Err(e)),
        };
        self.call(Operation::QueryHosts, &[], None, |client| async move {
            let ids = client
                .hosts()
                .query_ids(&host_query(fql))
                .await
                .map_err(to_plugin_error)?;
            let batch = client.hosts().get(&ids).await.map_err(to_plugin_error)?;
            Ok(batch.found.into_iter().map(to_host).collect())
        })
        .await
    }

    async fn contain(
        &mut self,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        self.host_action(
            Operation::ContainHosts,
            falcon::hosts::HostAction::Contain,
            ids,
            note,
        )
        .await
    }

    async fn lift_containment(
        &mut self,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        let action = falcon::hosts::HostAction::LiftContainment;
        self.host_action(Operation::LiftContainment, action, ids, note)
            .await
    }
}

impl RunState {
    async fn host_action(
        &mut self,
        op: Operation,
        action: falcon::hosts::HostAction,
        ids: Vec<String>,
        note: Option<String>,
    ) -> HostResult<hosts::ActionResult> {
        if ids.is_empty() {
            return Ok(Err(PluginError::InvalidInput(format!(
                "`{}` needs at least one id",
                op.name()
            ))));
        }
        let (targets, shown_note) = (ids.clone(), note.clone());
        self.call(op, &targets, shown_note.as_deref(), |client| async move {
            let mut request = falcon::hosts::HostActionRequest::new(action, ids);
            if let Some(note) = note {
                request = request.note(note);
            }
            let outcome = client
                .hosts()
                .act(&request)
                .await
                .map_err(to_plugin_error)?;
            Ok(hosts::ActionResult {
                accepted: outcome.affected,
                refused: outcome
                    .errors
                    .into_iter()
                    .map(|e| hosts::Refusal {
                        id: e.id,
                        message: e.message,
                    })
                    .collect(),
            })
        })
        .await
    }
}

fn host_query(filter: Option<String>) -> falcon::hosts::HostQuery {
    match filter {
        Some(fql) => falcon::hosts::HostQuery::filtered(fql),
        None => falcon::hosts::HostQuery::all(),
    }
}

fn to_host(h: falcon::hosts::Host) -> hosts::Device {
    hosts::Device {
        raw_json: h.raw.to_string(),
        device_id: h.device_id,
        hostname: h.hostname,
        platform: h.platform_name,
        os_version: h.os_version,
        agent_version: h.agent_version,
        status: h.status,
        reduced_functionality_mode: h.reduced_functionality_mode.as_deref() == Some("yes"),
        last_seen: h.last_seen.map(|t| t.to_string()),
        local_ip: h.local_ip,
        external_ip: h.external_ip,
        groups: h.groups,
        tags: h.tags,
    }
}
