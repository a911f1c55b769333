//! `incidents`: the legacy incidents API (ids, details, actions).

use falcon::incidents::{IncidentAction, IncidentQuery};

use super::alerts::non_blank;
use super::sort::check_sort;
use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::incidents;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

impl incidents::Host for RunState {
    async fn list_incidents(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<String>> {
        let query = match incident_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListIncidents, e),
        };
        self.call(Operation::ListIncidents, &[], None, |client| async move {
            client
                .incidents()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_incidents(&mut self, ids: Vec<String>) -> HostResult<Vec<incidents::Incident>> {
        let targets = ids.clone();
        self.call(
            Operation::GetIncidents,
            &targets,
            None,
            |client| async move {
                let batch = client
                    .incidents()
                    .get(&ids)
                    .await
                    .map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_incident).collect())
            },
        )
        .await
    }

    async fn query_incidents(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<incidents::Incident>> {
        let query = match incident_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::QueryIncidents, e),
        };
        self.call(Operation::QueryIncidents, &[], None, |client| async move {
            let ids = client
                .incidents()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)?;
            let batch = client
                .incidents()
                .get(&ids)
                .await
                .map_err(to_plugin_error)?;
            Ok(batch.found.into_iter().map(to_incident).collect())
        })
        .await
    }

    async fn update_incidents(
        &mut self,
        ids: Vec<String>,
        update: incidents::IncidentUpdate,
    ) -> HostResult<incidents::UpdateResult> {
        let (action, summary) = match incident_action(&ids, &update) {
            Ok(checked) => checked,
            Err(e) => return self.refuse(Operation::UpdateIncidents, e),
        };
        self.call(
            Operation::UpdateIncidents,
            &ids,
            Some(&summary),
            |client| async move {
                let outcome = client
                    .incidents()
                    .act(&action)
                    .await
                    .map_err(to_plugin_error)?;
                Ok(incidents::UpdateResult {
                    updated: outcome.affected,
                    refused: outcome
                        .errors
                        .into_iter()
                        .map(|e| incidents::Refusal {
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

fn incident_query(filter: &Filter, sort: Option<String>) -> Result<IncidentQuery, PluginError> {
    let mut query = match to_fql(filter)? {
        Some(fql) => IncidentQuery::filtered(fql),
        None => IncidentQuery::all(),
    };
    query.sort = check_sort(sort)?;
    Ok(query)
}

/// Falcon's number for a status.
fn status_code(status: incidents::IncidentStatus) -> u16 {
    match status {
        incidents::IncidentStatus::New => 20,
        incidents::IncidentStatus::Reopened => 25,
        incidents::IncidentStatus::InProgress => 30,
        incidents::IncidentStatus::Closed => 40,
    }
}

fn status_of(code: i64) -> Option<incidents::IncidentStatus> {
    match code {
        20 => Some(incidents::IncidentStatus::New),
        25 => Some(incidents::IncidentStatus::Reopened),
        30 => Some(incidents::IncidentStatus::InProgress),
        40 => Some(incidents::IncidentStatus::Closed),
        _ => None,
    }
}

/// The client's action and a one-line summary of it for plans, or why the
/// update cannot be sent.
fn incident_action(
    ids: &[String],
    update: &incidents::IncidentUpdate,
) -> Result<(IncidentAction, String), PluginError> {
    if ids.is_empty() {
        return Err(PluginError::InvalidInput(
            "`incidents.update-incidents` needs at least one incident id".into(),
        ));
    }
    let mut action = IncidentAction::new(ids.iter().cloned());
    let mut summary = Vec::new();
    if let Some(status) = update.status {
        action = action.status(status_code(status));
        summary.push(format!("status {}", status_code(status)));
    }
    match &update.assign {
        Some(incidents::Assignee::User(uuid)) => {
            let uuid = non_blank(uuid, "assignee UUID")?;
            action = action.assign_to(uuid);
            summary.push(format!("assign to {uuid}"));
        }
        Some(incidents::Assignee::Nobody) => {
            // `unassign` takes no value.
            action = action.action("unassign", "");
            summary.push("unassign".to_owned());
        }
        None => {}
    }
    for tag in &update.remove_tags {
        action = action.action("delete_tag", non_blank(tag, "tag")?);
        summary.push(format!("remove tag {tag}"));
    }
    for tag in &update.add_tags {
        action = action.tag(non_blank(tag, "tag")?);
        summary.push(format!("add tag {tag}"));
    }
    if let Some(comment) = &update.comment {
        action = action.comment(non_blank(comment, "comment")?);
        summary.push("comment".to_owned());
    }
    if summary.is_empty() {
        return Err(PluginError::InvalidInput(
            "the incident update changes nothing; set a status, an assignee, tags or a comment"
                .into(),
        ));
    }
    Ok((action, summary.join(", ")))
}

fn to_incident(i: falcon::incidents::Incident) -> incidents::Incident {
    incidents::Incident {
        raw_json: i.raw.to_string(),
        incident_id: i.incident_id,
        host_ids: i.host_ids,
        state: i.state,
        status: i.status.and_then(status_of),
        fine_score: i.fine_score,
        name: i.name,
        description: i.description,
        tags: i.tags,
        assigned_to: i.assigned_to.filter(|a| !a.is_empty()),
        start: i.start.map(|t| t.to_string()),
        end: i.end.map(|t| t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_falcons_numbers() {
        for status in [
            incidents::IncidentStatus::New,
            incidents::IncidentStatus::Reopened,
            incidents::IncidentStatus::InProgress,
            incidents::IncidentStatus::Closed,
        ] {
            assert_eq!(status_of(i64::from(status_code(status))), Some(status));
        }
        assert_eq!(status_of(35), None);
    }

    #[test]
    fn an_update_becomes_falcons_action_parameters() {
        let ids = vec!["inc:a:b".to_owned()];
        let update = incidents::IncidentUpdate {
            status: Some(incidents::IncidentStatus::Closed),
            assign: Some(incidents::Assignee::User("u-1".into())),
            add_tags: vec!["done".into()],
            remove_tags: vec!["open".into()],
            comment: Some("closed by plugin".into()),
        };
        let (action, summary) = incident_action(&ids, &update).unwrap();
        let pairs: Vec<(&str, &str)> = action
            .actions
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("update_status", "40"),
                ("update_assigned_to_v2", "u-1"),
                ("delete_tag", "open"),
                ("add_tag", "done"),
                ("add_comment", "closed by plugin")
            ]
        );
        assert!(summary.starts_with("status 40, assign to u-1"), "{summary}");
        let nothing = incidents::IncidentUpdate {
            status: None,
            assign: None,
            add_tags: Vec::new(),
            remove_tags: Vec::new(),
            comment: None,
        };
        assert!(incident_action(&ids, &nothing).is_err());
    }
}
