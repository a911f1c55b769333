//! `iocs`: custom indicators. Which operation a create or update is, and so
//! whether it needs approval, follows from what it asks for: an indicator
//! that blocks (or allow-lists) is destructive, any other a write.

use falcon::iocs::{IocChange, IocQuery, IocUpdate, NewIoc};

use super::alerts::non_blank;
use super::sort::check_sort;
use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::iocs;
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// The most indicators one create or update takes (Falcon's batch size).
const MAX_PER_WRITE: usize = falcon::iocs::CREATE_LIMIT;

impl iocs::Host for RunState {
    async fn list_iocs(&mut self, filter: Filter, sort: Option<String>) -> HostResult<Vec<String>> {
        let query = match ioc_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::ListIocs, e),
        };
        self.call(Operation::ListIocs, &[], None, |client| async move {
            client
                .iocs()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_iocs(&mut self, ids: Vec<String>) -> HostResult<Vec<iocs::Ioc>> {
        let targets = ids.clone();
        self.call(Operation::GetIocs, &targets, None, |client| async move {
            let batch = client.iocs().get(&ids).await.map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                return Err(PluginError::NotFound(batch.missing));
            }
            Ok(batch.found.into_iter().map(to_ioc).collect())
        })
        .await
    }

    async fn query_iocs(
        &mut self,
        filter: Filter,
        sort: Option<String>,
    ) -> HostResult<Vec<iocs::Ioc>> {
        let query = match ioc_query(&filter, sort) {
            Ok(query) => query,
            Err(e) => return self.refuse(Operation::QueryIocs, e),
        };
        self.call(Operation::QueryIocs, &[], None, |client| async move {
            let found = client.iocs().list(&query).await.map_err(to_plugin_error)?;
            Ok(found.into_iter().map(to_ioc).collect())
        })
        .await
    }

    async fn create_iocs(&mut self, new: Vec<iocs::NewIoc>) -> HostResult<Vec<iocs::Ioc>> {
        let (op, request, targets, summary) = match ioc_creation(&new) {
            Ok(checked) => checked,
            Err(e) => return self.refuse(Operation::CreateIocs, e),
        };
        self.call(op, &targets, Some(&summary), |client| async move {
            let created = client
                .iocs()
                .create(&request)
                .await
                .map_err(to_plugin_error)?;
            Ok(created.into_iter().map(to_ioc).collect())
        })
        .await
    }

    async fn update_iocs(
        &mut self,
        changes: Vec<iocs::IocChange>,
        comment: Option<String>,
    ) -> HostResult<iocs::UpdateResult> {
        let (op, request, summary) = match ioc_update(&changes, comment) {
            Ok(checked) => checked,
            Err(e) => return self.refuse(Operation::UpdateIocs, e),
        };
        let targets: Vec<String> = changes.iter().map(|c| c.id.trim().to_owned()).collect();
        self.call(op, &targets, Some(&summary), |client| async move {
            let batch = client
                .iocs()
                .update(&request)
                .await
                .map_err(to_plugin_error)?;
            let refused = batch
                .missing
                .iter()
                .map(|id| iocs::Refusal {
                    message: batch
                        .errors
                        .iter()
                        .find(|e| &e.id == id)
                        .map_or_else(|| "not changed".to_owned(), |e| e.message.clone()),
                    id: id.clone(),
                })
                .collect();
            Ok(iocs::UpdateResult {
                updated: batch.found.into_iter().map(to_ioc).collect(),
                refused,
            })
        })
        .await
    }

    async fn delete_iocs(&mut self, ids: Vec<String>) -> HostResult<()> {
        if ids.is_empty() {
            return self.refuse(
                Operation::DeleteIocs,
                PluginError::InvalidInput("`iocs.delete-iocs` needs at least one id".into()),
            );
        }
        let targets = ids.clone();
        self.call(Operation::DeleteIocs, &targets, None, |client| async move {
            client.iocs().delete(&ids).await.map_err(to_plugin_error)
        })
        .await
    }
}

fn ioc_query(filter: &Filter, sort: Option<String>) -> Result<IocQuery, PluginError> {
    let mut query = match to_fql(filter)? {
        Some(fql) => IocQuery::filtered(fql),
        None => IocQuery::all(),
    };
    query.sort = check_sort(sort)?;
    Ok(query)
}

/// Whether an action decides what the sensor blocks: `prevent` and
/// `prevent-no-ui` block, `allow` exempts from Falcon's own blocking.
fn decides_blocking(action: iocs::IocAction) -> bool {
    matches!(
        action,
        iocs::IocAction::Prevent | iocs::IocAction::PreventNoUi | iocs::IocAction::Allow
    )
}

fn action_name(action: iocs::IocAction) -> &'static str {
    match action {
        iocs::IocAction::NoAction => "no_action",
        iocs::IocAction::Allow => "allow",
        iocs::IocAction::Detect => "detect",
        iocs::IocAction::Prevent => "prevent",
        iocs::IocAction::PreventNoUi => "prevent_no_ui",
    }
}

fn type_name(ioc_type: iocs::IocType) -> &'static str {
    match ioc_type {
        iocs::IocType::Sha256 => "sha256",
        iocs::IocType::Md5 => "md5",
        iocs::IocType::Domain => "domain",
        iocs::IocType::Ipv4 => "ipv4",
        iocs::IocType::Ipv6 => "ipv6",
    }
}

fn severity_name(severity: iocs::IocSeverity) -> &'static str {
    match severity {
        iocs::IocSeverity::Informational => "informational",
        iocs::IocSeverity::Low => "low",
        iocs::IocSeverity::Medium => "medium",
        iocs::IocSeverity::High => "high",
        iocs::IocSeverity::Critical => "critical",
    }
}

fn platform_names(platforms: &[iocs::IocPlatform]) -> Vec<String> {
    platforms
        .iter()
        .map(|p| match p {
            iocs::IocPlatform::Windows => "windows",
            iocs::IocPlatform::Mac => "mac",
            iocs::IocPlatform::Linux => "linux",
        })
        .map(str::to_owned)
        .collect()
}

/// The host-group ids of `applies-to`, checked; `None` for every host.
fn group_ids(applies: &iocs::AppliesTo) -> Result<Option<Vec<String>>, PluginError> {
    match applies {
        iocs::AppliesTo::EveryHost => Ok(None),
        iocs::AppliesTo::HostGroups(ids) if ids.is_empty() => Err(PluginError::InvalidInput(
            "`applies-to` names no host group; name at least one, or use `every-host`".into(),
        )),
        iocs::AppliesTo::HostGroups(ids) => ids
            .iter()
            .map(|id| non_blank(id, "host group id").map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

/// The operation a creation is, the client's request, its targets (the
/// indicators as `type:value`) and a summary for plans and prompts.
fn ioc_creation(
    new: &[iocs::NewIoc],
) -> Result<(Operation, Vec<NewIoc>, Vec<String>, String), PluginError> {
    if new.is_empty() {
        return Err(PluginError::InvalidInput(
            "`iocs.create-iocs` needs at least one indicator".into(),
        ));
    }
    if new.len() > MAX_PER_WRITE {
        return Err(PluginError::InvalidInput(format!(
            "`iocs.create-iocs` takes at most {MAX_PER_WRITE} indicators; split the list"
        )));
    }
    let mut request = Vec::with_capacity(new.len());
    let mut targets = Vec::with_capacity(new.len());
    for item in new {
        let value = non_blank(&item.value, "indicator value")?;
        if item.platforms.is_empty() {
            return Err(PluginError::InvalidInput(format!(
                "indicator `{value}` names no platform; name at least one"
            )));
        }
        let mut ioc = NewIoc::new(type_name(item.ioc_type), value).action(action_name(item.action));
        if let Some(severity) = item.severity {
            ioc = ioc.severity(severity_name(severity));
        }
        match group_ids(&item.applies_to)? {
            None => ioc = ioc.globally(),
            Some(ids) => {
                for id in ids {
                    ioc = ioc.host_group(id);
                }
            }
        }
        ioc.description = item.description.clone();
        ioc.platforms = platform_names(&item.platforms);
        ioc.tags = item.tags.clone();
        targets.push(format!("{}:{value}", type_name(item.ioc_type)));
        request.push(ioc);
    }
    let blocking = new.iter().any(|i| decides_blocking(i.action));
    let op = if blocking {
        Operation::CreateBlockingIocs
    } else {
        Operation::CreateIocs
    };
    let summary = format!("actions {}", actions_summary(new.iter().map(|i| i.action)));
    Ok((op, request, targets, summary))
}

/// The operation an update is, the client's request and a summary.
fn ioc_update(
    changes: &[iocs::IocChange],
    comment: Option<String>,
) -> Result<(Operation, IocUpdate, String), PluginError> {
    if changes.is_empty() {
        return Err(PluginError::InvalidInput(
            "`iocs.update-iocs` needs at least one change".into(),
        ));
    }
    if changes.len() > MAX_PER_WRITE {
        return Err(PluginError::InvalidInput(format!(
            "`iocs.update-iocs` takes at most {MAX_PER_WRITE} changes; split the list"
        )));
    }
    let mut request = Vec::with_capacity(changes.len());
    for change in changes {
        let id = non_blank(&change.id, "indicator id")?;
        let mut c = IocChange::new(id);
        if let Some(action) = change.action {
            c = c.action(action_name(action));
        }
        if let Some(severity) = change.severity {
            c = c.severity(severity_name(severity));
        }
        if let Some(description) = &change.description {
            c = c.description(description.clone());
        }
        if let Some(platforms) = &change.platforms {
            if platforms.is_empty() {
                return Err(PluginError::InvalidInput(format!(
                    "the change to indicator `{id}` leaves it no platform"
                )));
            }
            c = c.platforms(platform_names(platforms));
        }
        if let Some(tags) = &change.tags {
            c = c.tags(tags.iter().cloned());
        }
        if let Some(applies) = &change.applies_to {
            c = match group_ids(applies)? {
                None => c.globally(),
                Some(ids) => c.host_groups(ids),
            };
        }
        let changes_nothing = change.action.is_none()
            && change.severity.is_none()
            && change.description.is_none()
            && change.platforms.is_none()
            && change.tags.is_none()
            && change.applies_to.is_none();
        if changes_nothing {
            return Err(PluginError::InvalidInput(format!(
                "the change to indicator `{id}` changes nothing"
            )));
        }
        request.push(c);
    }
    let mut update = IocUpdate::new(request);
    if let Some(comment) = comment.filter(|c| !c.trim().is_empty()) {
        update = update.comment(comment);
    }
    let op = if changes.iter().any(widens_blocking) {
        Operation::UpdateBlockingIocs
    } else {
        Operation::UpdateIocs
    };
    let set: Vec<iocs::IocAction> = changes.iter().filter_map(|c| c.action).collect();
    let summary = if set.is_empty() {
        "no action changed".to_owned()
    } else {
        format!("set actions {}", actions_summary(set.into_iter()))
    };
    Ok((op, update, summary))
}

/// Whether a change may make Falcon block (or let through) something it did
/// not before: it sets such an action, or it moves the indicator to other
/// hosts or platforms while keeping an action the host cannot see without a
/// read (and a read-then-write would race).
fn widens_blocking(change: &iocs::IocChange) -> bool {
    match change.action {
        Some(action) => decides_blocking(action),
        None => change.platforms.is_some() || change.applies_to.is_some(),
    }
}

/// `prevent ×2, detect` for plans.
fn actions_summary(actions: impl Iterator<Item = iocs::IocAction>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for action in actions {
        let name = action_name(action);
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts
        .iter()
        .map(|(name, count)| {
            if *count == 1 {
                (*name).to_owned()
            } else {
                format!("{name} ×{count}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_ioc(i: falcon::iocs::Ioc) -> iocs::Ioc {
    iocs::Ioc {
        raw_json: i.raw.to_string(),
        id: i.id,
        ioc_type: i.ioc_type,
        value: i.value,
        action: i.action,
        severity: i.severity,
        description: i.description,
        platforms: i.platforms,
        tags: i.tags,
        applied_globally: i.applied_globally,
        host_groups: i.host_groups,
        expiration: i.expiration.map(|t| t.to_string()),
        created_on: i.created_on.map(|t| t.to_string()),
        modified_on: i.modified_on.map(|t| t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Tier;

    fn new_ioc(action: iocs::IocAction) -> iocs::NewIoc {
        iocs::NewIoc {
            ioc_type: iocs::IocType::Domain,
            value: "bad.example".into(),
            action,
            severity: None,
            description: None,
            platforms: vec![iocs::IocPlatform::Windows],
            tags: Vec::new(),
            applies_to: iocs::AppliesTo::EveryHost,
        }
    }

    fn change(action: Option<iocs::IocAction>) -> iocs::IocChange {
        iocs::IocChange {
            id: "a".repeat(64),
            action,
            severity: None,
            description: None,
            platforms: None,
            tags: None,
            applies_to: None,
        }
    }

    #[test]
    fn creating_a_blocking_or_allowing_ioc_is_destructive() {
        use iocs::IocAction as A;
        for (actions, expected) in [
            (vec![A::Detect], Operation::CreateIocs),
            (vec![A::NoAction, A::Detect], Operation::CreateIocs),
            (vec![A::Detect, A::Prevent], Operation::CreateBlockingIocs),
            (vec![A::PreventNoUi], Operation::CreateBlockingIocs),
            (vec![A::Allow], Operation::CreateBlockingIocs),
        ] {
            let new: Vec<iocs::NewIoc> = actions.iter().map(|a| new_ioc(*a)).collect();
            let (op, request, targets, _) = ioc_creation(&new).unwrap();
            assert_eq!(op, expected, "{actions:?}");
            assert_eq!(request.len(), actions.len());
            assert!(targets.iter().all(|t| t == "domain:bad.example"));
        }
        assert_eq!(Operation::CreateBlockingIocs.tier(), Tier::Destructive);
        assert_eq!(Operation::CreateIocs.tier(), Tier::Write);
    }

    #[test]
    fn an_update_that_may_widen_blocking_is_destructive() {
        use iocs::IocAction as A;
        let moved = iocs::IocChange {
            applies_to: Some(iocs::AppliesTo::EveryHost),
            ..change(None)
        };
        let moved_detect_only = iocs::IocChange {
            applies_to: Some(iocs::AppliesTo::EveryHost),
            ..change(Some(A::Detect))
        };
        let retagged = iocs::IocChange {
            tags: Some(vec!["x".into()]),
            ..change(None)
        };
        for (changes, expected) in [
            (vec![change(Some(A::Detect))], Operation::UpdateIocs),
            (vec![retagged], Operation::UpdateIocs),
            (vec![moved_detect_only], Operation::UpdateIocs),
            (vec![moved], Operation::UpdateBlockingIocs),
            (
                vec![change(Some(A::NoAction)), change(Some(A::Prevent))],
                Operation::UpdateBlockingIocs,
            ),
            (vec![change(Some(A::Allow))], Operation::UpdateBlockingIocs),
        ] {
            let (op, _, _) = ioc_update(&changes, None).unwrap();
            assert_eq!(op, expected, "{changes:?}");
        }
        assert_eq!(Operation::UpdateBlockingIocs.tier(), Tier::Destructive);
    }

    #[test]
    fn api_call_offers_no_way_around_the_blocking_gate() {
        use falcon::iocs::{CREATE, UPDATE};
        // Creation is destructive there and points at the typed operations.
        let (_, route) = crate::routes::resolve("POST", CREATE.path).unwrap();
        assert_eq!(route.tier, Tier::Destructive);
        let instead = route
            .instead
            .expect("a destructive route names its typed operation");
        assert!(instead.contains("iocs.create-iocs"), "{instead}");
        assert!(
            instead.contains("--approve iocs.create-blocking"),
            "{instead}"
        );
        // A change can set `prevent`: not a route at all.
        assert!(crate::routes::resolve("PATCH", UPDATE.path).is_err());
    }

    #[test]
    fn bad_indicators_are_refused_before_the_gate() {
        let mut blank = new_ioc(iocs::IocAction::Detect);
        blank.value = "  ".into();
        assert!(ioc_creation(&[blank]).is_err());
        let mut nowhere = new_ioc(iocs::IocAction::Detect);
        nowhere.applies_to = iocs::AppliesTo::HostGroups(Vec::new());
        assert!(matches!(
            ioc_creation(&[nowhere]),
            Err(PluginError::InvalidInput(m)) if m.contains("names no host group")
        ));
        let mut no_platform = new_ioc(iocs::IocAction::Detect);
        no_platform.platforms.clear();
        assert!(ioc_creation(&[no_platform]).is_err());
        assert!(ioc_creation(&[]).is_err());
        assert!(matches!(
            ioc_update(&[change(None)], None),
            Err(PluginError::InvalidInput(m)) if m.contains("changes nothing")
        ));
        let summary = actions_summary(
            [
                iocs::IocAction::Prevent,
                iocs::IocAction::Detect,
                iocs::IocAction::Prevent,
            ]
            .into_iter(),
        );
        assert_eq!(summary, "prevent ×2, detect");
    }
}
