//! `host-groups`: groups, their changes and their members.

use falcon::host_groups::{GroupType, HostGroupQuery, HostGroupUpdate, NewHostGroup};

use super::alerts::non_blank;
use super::sort::check_sort;
use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::host_groups;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

impl host_groups::Host for RunState {
    async fn list_host_groups(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<String>> {
        let query = match group_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListHostGroups, e),
        };
        self.call(Operation::ListHostGroups, &[], None, |client| async move {
            client
                .host_groups()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_host_groups(
        &mut self,
        ids: Vec<String>,
    ) -> HostResult<Vec<host_groups::HostGroup>> {
        let targets = ids.clone();
        self.call(
            Operation::GetHostGroups,
            &targets,
            None,
            |client| async move {
                let batch = client
                    .host_groups()
                    .get(&ids)
                    .await
                    .map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_group).collect())
            },
        )
        .await
    }

    async fn query_host_groups(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<host_groups::HostGroup>> {
        let query = match group_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::QueryHostGroups, e),
        };
        self.call(Operation::QueryHostGroups, &[], None, |client| async move {
            let found = client
                .host_groups()
                .list(&query)
                .await
                .map_err(to_plugin_error)?;
            Ok(found.into_iter().map(to_group).collect())
        })
        .await
    }

    async fn create_host_group(
        &mut self,
        group: host_groups::NewHostGroup,
    ) -> HostResult<host_groups::HostGroup> {
        let name = match non_blank(&group.name, "host group name") {
            Ok(name) => name.to_owned(),
            Err(e) => return self.refuse(Operation::CreateHostGroup, e),
        };
        let group_type = match group.group_type {
            host_groups::GroupType::StaticByName => GroupType::Static,
            host_groups::GroupType::Dynamic => GroupType::Dynamic,
            host_groups::GroupType::StaticById => GroupType::StaticById,
        };
        let summary = format!("a {} group", group_type.as_str());
        let mut request = NewHostGroup::new(name.clone(), group_type);
        if let Some(description) = group.description {
            request = request.description(description);
        }
        if let Some(rule) = group.assignment_rule {
            request = request.assignment_rule(rule);
        }
        self.call(
            Operation::CreateHostGroup,
            &[name],
            Some(&summary),
            |client| async move {
                let created = client
                    .host_groups()
                    .create(&request)
                    .await
                    .map_err(to_plugin_error)?;
                Ok(to_group(created))
            },
        )
        .await
    }

    async fn update_host_group(
        &mut self,
        change: host_groups::HostGroupChange,
    ) -> HostResult<host_groups::HostGroup> {
        let id = match non_blank(&change.id, "host group id") {
            Ok(id) => id.to_owned(),
            Err(e) => return self.refuse(Operation::UpdateHostGroup, e),
        };
        let mut request = HostGroupUpdate::new(id.clone());
        let mut summary = Vec::new();
        if let Some(name) = change.name {
            summary.push(format!("rename to {name}"));
            request = request.name(name);
        }
        if let Some(description) = change.description {
            summary.push("new description".to_owned());
            request = request.description(description);
        }
        if let Some(rule) = change.assignment_rule {
            summary.push(format!("assignment rule {rule}"));
            request = request.assignment_rule(rule);
        }
        if summary.is_empty() {
            return self.refuse(
                Operation::UpdateHostGroup,
                PluginError::InvalidInput(format!(
                    "the change to host group `{id}` changes nothing; set a name, a description or \
                 an assignment rule"
                )),
            );
        }
        self.call(
            Operation::UpdateHostGroup,
            &[id],
            Some(&summary.join(", ")),
            |client| async move {
                let changed = client
                    .host_groups()
                    .update(&request)
                    .await
                    .map_err(to_plugin_error)?;
                Ok(to_group(changed))
            },
        )
        .await
    }

    async fn delete_host_groups(&mut self, ids: Vec<String>) -> HostResult<()> {
        if ids.is_empty() {
            return self.refuse(
                Operation::DeleteHostGroups,
                PluginError::InvalidInput(
                    "`host-groups.delete-host-groups` needs at least one id".into(),
                ),
            );
        }
        let targets = ids.clone();
        self.call(
            Operation::DeleteHostGroups,
            &targets,
            None,
            |client| async move {
                client
                    .host_groups()
                    .delete(&ids)
                    .await
                    .map_err(to_plugin_error)
            },
        )
        .await
    }

    async fn add_hosts(&mut self, group_id: String, host_ids: Vec<String>) -> HostResult<()> {
        self.membership(Operation::AddGroupHosts, group_id, host_ids)
            .await
    }

    async fn remove_hosts(&mut self, group_id: String, host_ids: Vec<String>) -> HostResult<()> {
        self.membership(Operation::RemoveGroupHosts, group_id, host_ids)
            .await
    }

    async fn list_members(&mut self, group_id: String, filter: Filter) -> HostResult<Vec<String>> {
        let group_id = match non_blank(&group_id, "host group id") {
            Ok(id) => id.to_owned(),
            Err(e) => return self.refuse(Operation::ListGroupMembers, e),
        };
        let query = match group_query(&filter, None) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListGroupMembers, e),
        };
        let targets = [group_id.clone()];
        self.call(
            Operation::ListGroupMembers,
            &targets,
            None,
            |client| async move {
                client
                    .host_groups()
                    .member_ids(&group_id, &query)
                    .await
                    .map_err(to_plugin_error)
            },
        )
        .await
    }
}

impl RunState {
    /// Adds hosts to or removes them from a group. The targets are the
    /// hosts, so that a dry run's plan names them; the group is in the note.
    async fn membership(
        &mut self,
        op: Operation,
        group_id: String,
        host_ids: Vec<String>,
    ) -> HostResult<()> {
        let group_id = match non_blank(&group_id, "host group id") {
            Ok(id) => id.to_owned(),
            Err(e) => return self.refuse(op, e),
        };
        if host_ids.is_empty() {
            return self.refuse(
                op,
                PluginError::InvalidInput(format!("`{}` needs at least one host id", op.name())),
            );
        }
        let note = format!("group {group_id}");
        let targets = host_ids.clone();
        self.call(op, &targets, Some(&note), |client| async move {
            let groups = client.host_groups();
            let done = if op == Operation::AddGroupHosts {
                groups.add_hosts(&group_id, &host_ids).await
            } else {
                groups.remove_hosts(&group_id, &host_ids).await
            };
            done.map_err(to_plugin_error)
        })
        .await
    }
}

fn group_query(filter: &Filter, sort: Option<String>) -> Result<HostGroupQuery, PluginError> {
    let mut query = match to_fql(filter)? {
        Some(fql) => HostGroupQuery::filtered(fql),
        None => HostGroupQuery::all(),
    };
    query.sort = check_sort(sort)?;
    Ok(query)
}

fn to_group(g: falcon::host_groups::HostGroup) -> host_groups::HostGroup {
    host_groups::HostGroup {
        raw_json: g.raw.to_string(),
        group_type: g.group_type.as_str().to_owned(),
        id: g.id,
        name: g.name,
        description: g.description,
        assignment_rule: g.assignment_rule.filter(|r| !r.is_empty()),
        created_timestamp: g.created_timestamp.map(|t| t.to_string()),
        modified_timestamp: g.modified_timestamp.map(|t| t.to_string()),
    }
}
