//! `hosts`: devices and containment.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::hosts;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// The most streams a run holds open at once: each holds up to one page of
/// 10,000 host records in the host (outside the plugin's memory limit), so
/// a plugin opening them in a loop must not grow the host's memory without
/// bound.
const MAX_OPEN_STREAMS: usize = 4;

/// The host side of a `host-stream`: the pages it hands out. The mutex
/// lets a `next` own the pages across its await while the resource stays
/// in the table; a `next` that timed out leaves them where the last
/// finished page left them.
// `pub`: the generated bindings re-export it.
#[allow(unreachable_pub)]
pub struct HostStream {
    pages: Arc<tokio::sync::Mutex<falcon::hosts::HostPages>>,
    total: Option<u64>,
}

impl hosts::Host for RunState {
    async fn list_hosts(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return self.refuse(Operation::ListHosts, e),
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
            Err(e) => return self.refuse(Operation::QueryHosts, e),
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

    async fn stream_hosts(&mut self, filter: Filter) -> HostResult<Resource<HostStream>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return self.refuse(Operation::StreamHosts, e),
        };
        if self.open_streams >= MAX_OPEN_STREAMS {
            return self.refuse(
                Operation::StreamHosts,
                PluginError::InvalidInput(format!(
                    "the plugin holds {MAX_OPEN_STREAMS} open streams, the most a run may; \
                 drop one before opening another"
                )),
            );
        }
        let opened = self
            .call(Operation::StreamHosts, &[], None, |client| async move {
                Ok(client.hosts().pages(host_query(fql)))
            })
            .await?;
        let pages = match opened {
            Ok(pages) => pages,
            Err(e) => return Ok(Err(e)),
        };
        let stream = HostStream {
            pages: Arc::new(tokio::sync::Mutex::new(pages)),
            total: None,
        };
        let resource = self.table.push(stream)?;
        self.open_streams += 1;
        Ok(Ok(resource))
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

impl hosts::HostHostStream for RunState {
    async fn next(
        &mut self,
        stream: Resource<HostStream>,
        max: u32,
    ) -> HostResult<Vec<hosts::Device>> {
        if max == 0 || max as usize > falcon::hosts::SCROLL_LIMIT as usize {
            return self.refuse(
                Operation::NextHosts,
                PluginError::InvalidInput(format!(
                    "`hosts.host-stream.next` takes 1 to {} hosts at a time, not {max}",
                    falcon::hosts::SCROLL_LIMIT
                )),
            );
        }
        let pages = Arc::clone(&self.table.get(&stream)?.pages);
        let page = self
            .call(Operation::NextHosts, &[], None, |_client| async move {
                let mut pages = pages.lock().await;
                let hosts = pages
                    .next_hosts(max as usize)
                    .await
                    .map_err(to_plugin_error)?;
                Ok((hosts.into_iter().map(to_host).collect(), pages.total()))
            })
            .await?;
        Ok(match page {
            Ok((devices, total)) => {
                self.table.get_mut(&stream)?.total = total;
                Ok(devices)
            }
            Err(e) => Err(e),
        })
    }

    async fn total(&mut self, stream: Resource<HostStream>) -> wasmtime::Result<Option<u64>> {
        Ok(self.table.get(&stream)?.total)
    }

    async fn drop(&mut self, stream: Resource<HostStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        self.open_streams = self.open_streams.saturating_sub(1);
        Ok(())
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
            return self.refuse(
                op,
                PluginError::InvalidInput(format!("`{}` needs at least one id", op.name())),
            );
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
