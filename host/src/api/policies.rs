//! `policies`: prevention, response and sensor update policies.
//!
//! One contract function serves the three kinds, but each kind has its own
//! scopes, so every function picks the operation of its kind (for example
//! `policies.update-policy/prevention`) before it reaches the gate.

use falcon::policies::{
    NewPolicy, PolicyAction, PolicyActionRequest, PolicyPrecedence, PolicyQuery, PolicyUpdate,
};
use serde_json::Value;

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::policies::{self, PolicyKind};
use crate::bindings::{Filter, PluginError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// The largest settings document a plugin may send. Falcon's settings are a
/// few kilobytes; anything near this is a mistake, refused before a round
/// trip.
const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// What a policy function does; with the kind, it names the operation.
#[derive(Debug, Clone, Copy)]
enum Verb {
    List,
    Get,
    Query,
    Members,
    Create,
    Update,
    Delete,
    Enable,
    Disable,
    AddGroup,
    RemoveGroup,
    Precedence,
}

/// The operation of `verb` on policies of `kind`: its scope is the kind's.
fn operation(kind: PolicyKind, verb: Verb) -> Operation {
    use Operation as O;
    use PolicyKind::{Prevention as P, Response as R, SensorUpdate as S};
    match (verb, kind) {
        (Verb::List, P) => O::ListPreventionPolicies,
        (Verb::List, R) => O::ListResponsePolicies,
        (Verb::List, S) => O::ListSensorUpdatePolicies,
        (Verb::Get, P) => O::GetPreventionPolicies,
        (Verb::Get, R) => O::GetResponsePolicies,
        (Verb::Get, S) => O::GetSensorUpdatePolicies,
        (Verb::Query, P) => O::QueryPreventionPolicies,
        (Verb::Query, R) => O::QueryResponsePolicies,
        (Verb::Query, S) => O::QuerySensorUpdatePolicies,
        (Verb::Members, P) => O::PreventionPolicyMembers,
        (Verb::Members, R) => O::ResponsePolicyMembers,
        (Verb::Members, S) => O::SensorUpdatePolicyMembers,
        (Verb::Create, P) => O::CreatePreventionPolicy,
        (Verb::Create, R) => O::CreateResponsePolicy,
        (Verb::Create, S) => O::CreateSensorUpdatePolicy,
        (Verb::Update, P) => O::UpdatePreventionPolicy,
        (Verb::Update, R) => O::UpdateResponsePolicy,
        (Verb::Update, S) => O::UpdateSensorUpdatePolicy,
        (Verb::Delete, P) => O::DeletePreventionPolicies,
        (Verb::Delete, R) => O::DeleteResponsePolicies,
        (Verb::Delete, S) => O::DeleteSensorUpdatePolicies,
        (Verb::Enable, P) => O::EnablePreventionPolicies,
        (Verb::Enable, R) => O::EnableResponsePolicies,
        (Verb::Enable, S) => O::EnableSensorUpdatePolicies,
        (Verb::Disable, P) => O::DisablePreventionPolicies,
        (Verb::Disable, R) => O::DisableResponsePolicies,
        (Verb::Disable, S) => O::DisableSensorUpdatePolicies,
        (Verb::AddGroup, P) => O::AddPreventionPolicyGroup,
        (Verb::AddGroup, R) => O::AddResponsePolicyGroup,
        (Verb::AddGroup, S) => O::AddSensorUpdatePolicyGroup,
        (Verb::RemoveGroup, P) => O::RemovePreventionPolicyGroup,
        (Verb::RemoveGroup, R) => O::RemoveResponsePolicyGroup,
        (Verb::RemoveGroup, S) => O::RemoveSensorUpdatePolicyGroup,
        (Verb::Precedence, P) => O::PreventionPolicyPrecedence,
        (Verb::Precedence, R) => O::ResponsePolicyPrecedence,
        (Verb::Precedence, S) => O::SensorUpdatePolicyPrecedence,
    }
}

fn client_kind(kind: PolicyKind) -> falcon::policies::PolicyKind {
    match kind {
        PolicyKind::Prevention => falcon::policies::PolicyKind::Prevention,
        PolicyKind::Response => falcon::policies::PolicyKind::Response,
        PolicyKind::SensorUpdate => falcon::policies::PolicyKind::SensorUpdate,
    }
}

impl policies::Host for RunState {
    async fn list_policies(&mut self, kind: PolicyKind, filter: Filter) -> HostResult<Vec<String>> {
        let op = operation(kind, Verb::List);
        let query = match policy_query(&filter) {
            Ok(query) => query,
            Err(e) => return self.refuse(op, e),
        };
        self.call(op, &[], None, |client| async move {
            client
                .policies(client_kind(kind))
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_policies(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
    ) -> HostResult<Vec<policies::Policy>> {
        let op = operation(kind, Verb::Get);
        self.call(op, &ids.clone(), None, |client| async move {
            let batch = client
                .policies(client_kind(kind))
                .get(&ids)
                .await
                .map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                return Err(PluginError::NotFound(batch.missing));
            }
            Ok(batch
                .found
                .into_iter()
                .map(|p| to_policy(kind, p))
                .collect())
        })
        .await
    }

    async fn query_policies(
        &mut self,
        kind: PolicyKind,
        filter: Filter,
    ) -> HostResult<Vec<policies::Policy>> {
        let op = operation(kind, Verb::Query);
        let query = match policy_query(&filter) {
            Ok(query) => query,
            Err(e) => return self.refuse(op, e),
        };
        self.call(op, &[], None, |client| async move {
            let found = client
                .policies(client_kind(kind))
                .list(&query)
                .await
                .map_err(to_plugin_error)?;
            Ok(found.into_iter().map(|p| to_policy(kind, p)).collect())
        })
        .await
    }

    async fn list_members(&mut self, kind: PolicyKind, id: String) -> HostResult<Vec<String>> {
        let op = operation(kind, Verb::Members);
        if let Err(e) = non_empty(op, "id", &id) {
            return self.refuse(op, e);
        }
        let targets = vec![id.clone()];
        self.call(op, &targets, None, |client| async move {
            client
                .policies(client_kind(kind))
                .member_ids(&id)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn policies_of_host(
        &mut self,
        host_id: String,
    ) -> HostResult<Vec<policies::AppliedPolicy>> {
        let op = Operation::PoliciesOfHost;
        if let Err(e) = non_empty(op, "host-id", &host_id) {
            return self.refuse(op, e);
        }
        let targets = vec![host_id.clone()];
        self.call(op, &targets, None, |client| async move {
            let batch = client
                .hosts()
                .get(&[host_id])
                .await
                .map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                return Err(PluginError::NotFound(batch.missing));
            }
            let host = batch.found.into_iter().next().ok_or_else(|| {
                PluginError::InvalidInput("the host was not returned by Falcon".into())
            })?;
            Ok(applied_policies(&host.raw))
        })
        .await
    }

    async fn create_policy(
        &mut self,
        kind: PolicyKind,
        policy: policies::NewPolicy,
    ) -> HostResult<policies::Policy> {
        let op = operation(kind, Verb::Create);
        let settings = match policy
            .settings_json
            .as_deref()
            .map(|s| parse_settings(kind, s))
            .transpose()
        {
            Ok(settings) => settings,
            Err(e) => return self.refuse(op, e),
        };
        if let Err(e) = non_empty(op, "name", &policy.name) {
            return self.refuse(op, e);
        }
        // The policy has no id yet: the plan shows its name.
        let targets = [policy.name.clone()];
        let note = format!("{} policy for {}", kind_name(kind), policy.platform);
        self.call(op, &targets, Some(&note), |client| async move {
            let mut new = NewPolicy::new(policy.name, policy.platform);
            if let Some(description) = policy.description {
                new = new.description(description);
            }
            if let Some(settings) = settings {
                new = new.settings(settings);
            }
            let created = client
                .policies(client_kind(kind))
                .create(&new)
                .await
                .map_err(to_plugin_error)?;
            Ok(to_policy(kind, created))
        })
        .await
    }

    async fn update_policy(
        &mut self,
        kind: PolicyKind,
        id: String,
        change: policies::PolicyChange,
    ) -> HostResult<policies::Policy> {
        let op = operation(kind, Verb::Update);
        if let Err(e) = non_empty(op, "id", &id) {
            return self.refuse(op, e);
        }
        let settings = match change
            .settings_json
            .as_deref()
            .map(|s| parse_settings(kind, s))
            .transpose()
        {
            Ok(settings) => settings,
            Err(e) => return self.refuse(op, e),
        };
        let changed: Vec<&str> = [
            change.name.as_ref().map(|_| "name"),
            change.description.as_ref().map(|_| "description"),
            settings.as_ref().map(|_| "settings"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if changed.is_empty() {
            return self.refuse(
                op,
                PluginError::InvalidInput(format!(
                    "`{}` was given a change that changes nothing; set `name`, `description` or \
                 `settings-json`",
                    op.name()
                )),
            );
        }
        let note = format!("changes {}", changed.join(", "));
        let targets = vec![id.clone()];
        self.call(op, &targets, Some(&note), |client| async move {
            let mut update = PolicyUpdate::new(id);
            if let Some(name) = change.name {
                update = update.name(name);
            }
            if let Some(description) = change.description {
                update = update.description(description);
            }
            if let Some(settings) = settings {
                update = update.settings(settings);
            }
            let policy = client
                .policies(client_kind(kind))
                .update(&update)
                .await
                .map_err(to_plugin_error)?;
            Ok(to_policy(kind, policy))
        })
        .await
    }

    async fn delete_policies(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
    ) -> HostResult<policies::Deletion> {
        let op = operation(kind, Verb::Delete);
        if let Err(e) = some_ids(op, &ids) {
            return self.refuse(op, e);
        }
        self.call(op, &ids.clone(), None, |client| async move {
            let outcome = client
                .policies(client_kind(kind))
                .delete(&ids)
                .await
                .map_err(to_plugin_error)?;
            Ok(policies::Deletion {
                deleted: outcome.affected,
                refused: outcome
                    .errors
                    .into_iter()
                    .map(|e| policies::Refusal {
                        id: e.id,
                        message: e.message,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn enable_policies(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
    ) -> HostResult<Vec<policies::Policy>> {
        self.policy_action(kind, Verb::Enable, PolicyAction::Enable, ids, None)
            .await
    }

    async fn disable_policies(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
    ) -> HostResult<Vec<policies::Policy>> {
        self.policy_action(kind, Verb::Disable, PolicyAction::Disable, ids, None)
            .await
    }

    async fn add_host_group(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
        group_id: String,
    ) -> HostResult<Vec<policies::Policy>> {
        let action = PolicyAction::AddHostGroup;
        self.policy_action(kind, Verb::AddGroup, action, ids, Some(group_id))
            .await
    }

    async fn remove_host_group(
        &mut self,
        kind: PolicyKind,
        ids: Vec<String>,
        group_id: String,
    ) -> HostResult<Vec<policies::Policy>> {
        let action = PolicyAction::RemoveHostGroup;
        self.policy_action(kind, Verb::RemoveGroup, action, ids, Some(group_id))
            .await
    }

    async fn set_precedence(
        &mut self,
        kind: PolicyKind,
        platform: String,
        ids: Vec<String>,
    ) -> HostResult<()> {
        let op = operation(kind, Verb::Precedence);
        if let Err(e) = non_empty(op, "platform", &platform).and_then(|()| some_ids(op, &ids)) {
            return self.refuse(op, e);
        }
        let note = format!("{platform} order, first = highest precedence");
        self.call(op, &ids.clone(), Some(&note), |client| async move {
            client
                .policies(client_kind(kind))
                .set_precedence(&PolicyPrecedence::new(platform, ids))
                .await
                .map_err(to_plugin_error)
        })
        .await
    }
}

impl RunState {
    /// Enable, disable, or add or remove a host group: one action on a set
    /// of policies, with the policies as targets.
    async fn policy_action(
        &mut self,
        kind: PolicyKind,
        verb: Verb,
        action: PolicyAction,
        ids: Vec<String>,
        group_id: Option<String>,
    ) -> HostResult<Vec<policies::Policy>> {
        let op = operation(kind, verb);
        if let Err(e) = some_ids(op, &ids) {
            return self.refuse(op, e);
        }
        if let Some(group) = &group_id
            && let Err(e) = non_empty(op, "group-id", group)
        {
            return self.refuse(op, e);
        }
        let note = group_id.as_ref().map(|g| format!("host group {g}"));
        self.call(op, &ids.clone(), note.as_deref(), |client| async move {
            let mut request = PolicyActionRequest::new(action, ids);
            if let Some(group) = group_id {
                request = request.group(group);
            }
            let changed = client
                .policies(client_kind(kind))
                .act(&request)
                .await
                .map_err(to_plugin_error)?;
            Ok(changed.into_iter().map(|p| to_policy(kind, p)).collect())
        })
        .await
    }
}

fn policy_query(filter: &Filter) -> Result<PolicyQuery, PluginError> {
    Ok(match to_fql(filter)? {
        Some(fql) => PolicyQuery::filtered(fql),
        None => PolicyQuery::all(),
    })
}

fn non_empty(op: Operation, what: &str, value: &str) -> Result<(), PluginError> {
    if value.trim().is_empty() {
        return Err(PluginError::InvalidInput(format!(
            "`{}` needs a non-empty `{what}`",
            op.name()
        )));
    }
    Ok(())
}

fn some_ids(op: Operation, ids: &[String]) -> Result<(), PluginError> {
    if ids.is_empty() {
        return Err(PluginError::InvalidInput(format!(
            "`{}` needs at least one policy id",
            op.name()
        )));
    }
    Ok(())
}

fn kind_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Prevention => "prevention",
        PolicyKind::Response => "response",
        PolicyKind::SensorUpdate => "sensor update",
    }
}

/// Parses settings JSON and checks it has the kind's shape, so that a
/// plugin mixing up the kinds learns it from the host rather than from a
/// Falcon 400.
fn parse_settings(kind: PolicyKind, text: &str) -> Result<Value, PluginError> {
    if text.len() > MAX_SETTINGS_BYTES {
        return Err(PluginError::InvalidInput(format!(
            "`settings-json` is {} bytes; the host accepts at most {MAX_SETTINGS_BYTES}",
            text.len()
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        PluginError::InvalidInput(format!("`settings-json` is not valid JSON: {e}"))
    })?;
    match (kind, &value) {
        (PolicyKind::SensorUpdate, Value::Object(_)) => Ok(value),
        (PolicyKind::SensorUpdate, _) => Err(PluginError::InvalidInput(
            "sensor update settings are a JSON object, for example {\"build\": \"18805\"}".into(),
        )),
        (_, Value::Array(_)) => Ok(value),
        (_, _) => Err(PluginError::InvalidInput(format!(
            "{} policy settings are a JSON list of {{\"id\": ..., \"value\": {{...}}}}",
            kind_name(kind)
        ))),
    }
}

fn to_policy(kind: PolicyKind, p: falcon::policies::Policy) -> policies::Policy {
    let settings = p
        .raw
        .get("prevention_settings")
        .or_else(|| p.raw.get("settings"))
        .cloned()
        .unwrap_or(Value::Null);
    // Falcon reports the platform default with precedence 0 or not at all.
    let precedence = p
        .raw
        .get("precedence")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .and_then(|n| u32::try_from(n).ok());
    policies::Policy {
        raw_json: p.raw.to_string(),
        settings_json: settings.to_string(),
        id: p.id,
        kind,
        name: p.name,
        description: p.description,
        platform: p.platform_name,
        enabled: p.enabled,
        host_groups: p.group_ids,
        precedence,
        modified_at: p.modified_timestamp.map(|t| t.to_string()),
    }
}

/// The `device_policies` of a host record, one entry per policy type,
/// sorted by type.
fn applied_policies(host: &Value) -> Vec<policies::AppliedPolicy> {
    let Some(Value::Object(entries)) = host.get("device_policies") else {
        return Vec::new();
    };
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut out: Vec<policies::AppliedPolicy> = entries
        .iter()
        .map(|(key, entry)| {
            let policy_type = text(entry, "policy_type").unwrap_or_else(|| key.clone());
            let kind = match policy_type.as_str() {
                "prevention" => Some(PolicyKind::Prevention),
                "remote-response" | "remote_response" | "response" => Some(PolicyKind::Response),
                "sensor-update" | "sensor_update" => Some(PolicyKind::SensorUpdate),
                _ => None,
            };
            policies::AppliedPolicy {
                kind,
                policy_id: text(entry, "policy_id").unwrap_or_default(),
                applied: entry
                    .get("applied")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                applied_at: text(entry, "applied_date"),
                assigned_at: text(entry, "assigned_date"),
                raw_json: entry.to_string(),
                policy_type,
            }
        })
        .collect();
    out.sort_by(|a, b| a.policy_type.cmp(&b.policy_type));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Tier;

    const KINDS: [PolicyKind; 3] = [
        PolicyKind::Prevention,
        PolicyKind::Response,
        PolicyKind::SensorUpdate,
    ];
    const VERBS: [Verb; 12] = [
        Verb::List,
        Verb::Get,
        Verb::Query,
        Verb::Members,
        Verb::Create,
        Verb::Update,
        Verb::Delete,
        Verb::Enable,
        Verb::Disable,
        Verb::AddGroup,
        Verb::RemoveGroup,
        Verb::Precedence,
    ];

    #[test]
    fn each_kind_reaches_the_gate_with_its_own_scope() {
        for kind in KINDS {
            let area = client_kind(kind).read_scope().trim_end_matches(":read");
            for verb in VERBS {
                let op = operation(kind, verb);
                let scope = op.scope().name();
                assert!(scope.starts_with(area), "{} has {scope}", op.name());
                let expected = match verb {
                    Verb::List | Verb::Get | Verb::Query | Verb::Members => Tier::Read,
                    Verb::Create => Tier::Write,
                    _ => Tier::Destructive,
                };
                assert_eq!(op.tier(), expected, "{}", op.name());
                assert!(
                    op.name()
                        .ends_with(&format!("/{}", area.trim_end_matches("-policies"))),
                    "{}",
                    op.name()
                );
            }
        }
    }

    #[test]
    fn settings_must_have_the_kinds_shape() {
        assert!(parse_settings(PolicyKind::SensorUpdate, r#"{"build":"1"}"#).is_ok());
        assert!(parse_settings(PolicyKind::Prevention, r#"[{"id":"x","value":{}}]"#).is_ok());
        for (kind, text) in [
            (PolicyKind::SensorUpdate, "[]"),
            (PolicyKind::Response, "{}"),
            (PolicyKind::Prevention, "not json"),
        ] {
            assert!(
                matches!(
                    parse_settings(kind, text),
                    Err(PluginError::InvalidInput(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn applied_policies_are_read_from_the_host_record() {
        let host = serde_json::json!({"device_policies": {
            "sensor_update": {"policy_id": "c", "policy_type": "sensor-update", "applied": true},
            "prevention": {"policy_id": "a", "policy_type": "prevention", "applied": false,
                           "applied_date": "2026-01-01T00:00:00Z"},
            "firewall": {"policy_id": "f", "policy_type": "firewall", "applied": true},
        }});
        let applied = applied_policies(&host);
        let seen: Vec<(&str, Option<PolicyKind>, bool)> = applied
            .iter()
            .map(|p| (p.policy_id.as_str(), p.kind, p.applied))
            .collect();
        assert_eq!(
            seen,
            [
                ("f", None, true),
                ("a", Some(PolicyKind::Prevention), false),
                ("c", Some(PolicyKind::SensorUpdate), true),
            ]
        );
        assert_eq!(
            applied[1].applied_at.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert!(applied_policies(&serde_json::json!({})).is_empty());
    }
}
