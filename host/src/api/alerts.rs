//! `alerts`: the Alerts API (composite ids, details, updates).

use falcon::alerts::{AlertQuery, AlertUpdate};

use super::sort::check_sort;
use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::alerts;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

impl alerts::Host for RunState {
    async fn list_alerts(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<String>> {
        let query = match alert_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListAlerts, e),
        };
        self.call(Operation::ListAlerts, &[], None, |client| async move {
            match client.alerts().query_ids(&query).await {
                // The id query stops at 10,000 results; the combined listing
                // pages with `after` tokens and has no such window.
                Err(falcon::Error::WindowExceeded { .. }) => {
                    let found = client
                        .alerts()
                        .combined(&query)
                        .await
                        .map_err(to_plugin_error)?;
                    Ok(found.into_iter().map(|a| a.composite_id).collect())
                }
                other => other.map_err(to_plugin_error),
            }
        })
        .await
    }

    async fn get_alerts(&mut self, composite_ids: Vec<String>) -> HostResult<Vec<alerts::Alert>> {
        let targets = composite_ids.clone();
        self.call(Operation::GetAlerts, &targets, None, |client| async move {
            let batch = client
                .alerts()
                .get(&composite_ids)
                .await
                .map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                return Err(PluginError::NotFound(batch.missing));
            }
            Ok(batch.found.into_iter().map(to_alert).collect())
        })
        .await
    }

    async fn query_alerts(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<alerts::Alert>> {
        let query = match alert_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::QueryAlerts, e),
        };
        self.call(Operation::QueryAlerts, &[], None, |client| async move {
            let found = client
                .alerts()
                .combined(&query)
                .await
                .map_err(to_plugin_error)?;
            Ok(found.into_iter().map(to_alert).collect())
        })
        .await
    }

    async fn update_alerts(
        &mut self,
        composite_ids: Vec<String>,
        update: alerts::AlertUpdate,
    ) -> HostResult<alerts::UpdateResult> {
        let (request, summary) = match alert_update(&composite_ids, &update) {
            Ok(checked) => checked,
            Err(e) => return self.refuse(Operation::UpdateAlerts, e),
        };
        let targets = composite_ids;
        self.call(
            Operation::UpdateAlerts,
            &targets,
            Some(&summary),
            |client| async move {
                let outcome = client
                    .alerts()
                    .update(&request)
                    .await
                    .map_err(to_plugin_error)?;
                Ok(alerts::UpdateResult {
                    updated: outcome.affected,
                    refused: outcome
                        .errors
                        .into_iter()
                        .map(|e| alerts::Refusal {
                            id: e.id,
                            message: e.message,
                        })
                        .collect(),
                })
            },
        )
        .await
    }
}

fn alert_query(filter: &Filter, sort: Option<String>) -> Result<AlertQuery, PluginError> {
    let mut query = match to_fql(filter)? {
        Some(fql) => AlertQuery::filtered(fql),
        None => AlertQuery::all(),
    };
    if let Some(sort) = check_sort(sort)? {
        query = query.sort(sort);
    }
    Ok(query)
}

/// The client's update and a one-line summary of it for plans and the
/// approval prompt, or why the update cannot be sent.
fn alert_update(
    ids: &[String],
    update: &alerts::AlertUpdate,
) -> Result<(AlertUpdate, String), PluginError> {
    if ids.is_empty() {
        return Err(PluginError::InvalidInput(
            "`alerts.update-alerts` needs at least one composite id".into(),
        ));
    }
    let mut request = AlertUpdate::new(ids.iter().cloned());
    let mut summary = Vec::new();
    if let Some(status) = update.status {
        let status = match status {
            alerts::AlertStatus::New => "new",
            alerts::AlertStatus::InProgress => "in_progress",
            alerts::AlertStatus::Reopened => "reopened",
            alerts::AlertStatus::Closed => "closed",
        };
        request = request.status(status);
        summary.push(format!("status {status}"));
    }
    match &update.assign {
        Some(alerts::Assignee::User(uuid)) => {
            let uuid = non_blank(uuid, "assignee UUID")?;
            request = request.assign_to_uuid(uuid);
            summary.push(format!("assign to {uuid}"));
        }
        Some(alerts::Assignee::Nobody) => {
            request = request.unassign();
            summary.push("unassign".to_owned());
        }
        None => {}
    }
    // Falcon removes tags before it adds them; sending them in that order
    // keeps the request readable in the same sense.
    for tag in &update.remove_tags {
        request = request.remove_tag(non_blank(tag, "tag")?);
        summary.push(format!("remove tag {tag}"));
    }
    for tag in &update.add_tags {
        request = request.add_tag(non_blank(tag, "tag")?);
        summary.push(format!("add tag {tag}"));
    }
    if let Some(comment) = &update.comment {
        request = request.comment(non_blank(comment, "comment")?);
        summary.push("comment".to_owned());
    }
    if summary.is_empty() {
        return Err(PluginError::InvalidInput(
            "the alert update changes nothing; set a status, an assignee, tags or a comment".into(),
        ));
    }
    Ok((request, summary.join(", ")))
}

/// `value` trimmed, or an error naming `what` when it is blank.
pub(super) fn non_blank<'a>(value: &'a str, what: &str) -> Result<&'a str, PluginError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(PluginError::InvalidInput(format!("a {what} is empty")))
    } else {
        Ok(trimmed)
    }
}

fn to_alert(a: falcon::alerts::Alert) -> alerts::Alert {
    alerts::Alert {
        raw_json: a.raw.to_string(),
        composite_id: a.composite_id,
        id: a.id,
        agent_id: a.agent_id,
        status: a.status,
        severity: a.severity,
        severity_name: a.severity_name,
        name: a.name,
        display_name: a.display_name,
        description: a.description,
        product: a.product,
        tactic: a.tactic,
        technique: a.technique,
        tags: a.tags,
        assigned_to_uuid: a.assigned_to_uuid,
        assigned_to_name: a.assigned_to_name,
        created_timestamp: a.created_timestamp.map(|t| t.to_string()),
        updated_timestamp: a.updated_timestamp.map(|t| t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> alerts::AlertUpdate {
        alerts::AlertUpdate {
            status: None,
            assign: None,
            add_tags: Vec::new(),
            remove_tags: Vec::new(),
            comment: None,
        }
    }

    #[test]
    fn an_update_lists_its_actions_in_falcons_order() {
        let ids = vec!["c:ind:a:1".to_owned()];
        let change = alerts::AlertUpdate {
            status: Some(alerts::AlertStatus::InProgress),
            assign: Some(alerts::Assignee::Nobody),
            add_tags: vec!["triaged".into()],
            remove_tags: vec!["new-tag".into()],
            comment: Some("seen".into()),
        };
        let (request, summary) = alert_update(&ids, &change).unwrap();
        let names: Vec<&str> = request.actions.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "update_status",
                "unassign",
                "remove_tag",
                "add_tag",
                "append_comment"
            ]
        );
        assert_eq!(
            summary,
            "status in_progress, unassign, remove tag new-tag, add tag triaged, comment"
        );
    }

    #[test]
    fn empty_updates_ids_and_tags_are_refused() {
        let ids = vec!["c:ind:a:1".to_owned()];
        assert!(matches!(
            alert_update(&ids, &update()),
            Err(PluginError::InvalidInput(m)) if m.contains("changes nothing")
        ));
        let closing = alerts::AlertUpdate {
            status: Some(alerts::AlertStatus::Closed),
            ..update()
        };
        assert!(matches!(
            alert_update(&[], &closing),
            Err(PluginError::InvalidInput(m)) if m.contains("at least one composite id")
        ));
        let blank = alerts::AlertUpdate {
            add_tags: vec![" ".into()],
            ..update()
        };
        assert!(matches!(
            alert_update(&ids, &blank),
            Err(PluginError::InvalidInput(m)) if m.contains("tag is empty")
        ));
    }
}
