//! The gate every plugin call into the contract crosses.
//!
//! A call is admitted only when its operation's scope is granted and the
//! run's call budget is not spent. Writes are recorded in the plan instead of
//! sent when the run is a dry run; destructive writes also need the
//! operator's approval. The gate records which scopes were used, for the
//! least-privilege report at the end of the run.

use std::collections::BTreeSet;

use crate::bindings::{Denial, PluginError};
use crate::scopes::Scope;

/// How much harm an operation can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    /// Reads only.
    Read,
    /// Changes the tenant in a way that is easy to undo.
    Write,
    /// Changes the tenant in a way that cuts people off or weakens
    /// protection: needs the operator's approval.
    Destructive,
}

impl Tier {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Destructive => "destructive",
        }
    }
}

/// Declares every typed operation of the contract in one table: its variant,
/// contract name, scope, risk tier, and the verb and target noun plans and
/// prompts use ("network-contain" 3 "host"s). A new interface function is one
/// row here and one `self.call(...)` in `api/`.
macro_rules! operations {
    ($($variant:ident => $name:literal, $scope:literal, $tier:ident, $verb:literal, $noun:literal;)*) => {
        /// Every operation of the contract that needs a grant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub(crate) enum Operation {
            $($variant,)*
            /// `api.call` on the route at this index of [`crate::routes::ROUTES`].
            Call(usize),
            /// A send to a notification destination; the scope is the
            /// destination's `notify:<name>`.
            Notify(crate::notify::Action, Scope),
        }

        impl Operation {
            /// Every typed operation (not the routes of `api.call`).
            pub(crate) const ALL: &'static [Operation] = &[$(Self::$variant,)*];

            fn typed_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Call(_) => "api.call",
                    Self::Notify(action, _) => action.name(),
                }
            }

            fn typed_scope(self) -> &'static str {
                match self {
                    $(Self::$variant => $scope,)*
                    Self::Call(index) => crate::routes::ROUTES[index].scope,
                    Self::Notify(_, scope) => scope.name(),
                }
            }

            /// How much harm the operation can do.
            pub(crate) fn tier(self) -> Tier {
                match self {
                    $(Self::$variant => Tier::$tier,)*
                    Self::Call(index) => crate::routes::ROUTES[index].tier,
                    // A notification changes nothing in the tenant, but it
                    // leaves the host: planned in a dry run, never approved.
                    Self::Notify(..) => Tier::Write,
                }
            }

            /// What the operation does, for plans and approval prompts.
            pub(crate) fn verb(self) -> &'static str {
                match self {
                    $(Self::$variant => $verb,)*
                    Self::Call(_) => "call",
                    Self::Notify(action, _) => action.verb(),
                }
            }

            /// What one target of the operation is ("host", "policy"), for
            /// plans and approval prompts.
            pub(crate) fn noun(self) -> &'static str {
                match self {
                    $(Self::$variant => $noun,)*
                    Self::Call(_) => "target",
                    Self::Notify(..) => "destination",
                }
            }
        }
    };
}

operations! {
    ListUsers => "users.list-users", "users:read", Read, "read", "user";
    GetUsers => "users.get-users", "users:read", Read, "read", "user";
    QueryUsers => "users.query-users", "users:read", Read, "read", "user";
    RolesOfUsers => "users.roles-of-users", "roles:read", Read, "read", "user";
    ListRoles => "users.list-roles", "roles:read", Read, "read", "role";
    ListHosts => "hosts.list-hosts", "hosts:read", Read, "read", "host";
    GetHosts => "hosts.get-hosts", "hosts:read", Read, "read", "host";
    QueryHosts => "hosts.query-hosts", "hosts:read", Read, "read", "host";
    StreamHosts => "hosts.stream-hosts", "hosts:read", Read, "read", "host";
    NextHosts => "hosts.host-stream.next", "hosts:read", Read, "read", "host";
    ContainHosts => "hosts.contain", "hosts:write", Destructive, "network-contain", "host";
    LiftContainment => "hosts.lift-containment", "hosts:write", Write, "lift containment from", "host";
    ListAlerts => "alerts.list-alerts", "detections:read", Read, "read", "alert";
    GetAlerts => "alerts.get-alerts", "detections:read", Read, "read", "alert";
    QueryAlerts => "alerts.query-alerts", "detections:read", Read, "read", "alert";
    UpdateAlerts => "alerts.update-alerts", "detections:write", Write, "update", "alert";
    ListIncidents => "incidents.list-incidents", "incidents:read", Read, "read", "incident";
    GetIncidents => "incidents.get-incidents", "incidents:read", Read, "read", "incident";
    QueryIncidents => "incidents.query-incidents", "incidents:read", Read, "read", "incident";
    UpdateIncidents => "incidents.update-incidents", "incidents:write", Write, "update", "incident";
    ListIocs => "iocs.list-iocs", "custom-ioc:read", Read, "read", "indicator";
    GetIocs => "iocs.get-iocs", "custom-ioc:read", Read, "read", "indicator";
    QueryIocs => "iocs.query-iocs", "custom-ioc:read", Read, "read", "indicator";
    CreateIocs => "iocs.create-iocs", "custom-ioc:write", Write, "create detect-only", "indicator";
    CreateBlockingIocs => "iocs.create-blocking", "custom-ioc:write", Destructive, "create, as blocking or allow-listing,", "indicator";
    UpdateIocs => "iocs.update-iocs", "custom-ioc:write", Write, "update", "indicator";
    UpdateBlockingIocs => "iocs.update-blocking", "custom-ioc:write", Destructive, "make blocking or allow-listing", "indicator";
    DeleteIocs => "iocs.delete-iocs", "custom-ioc:write", Write, "delete", "indicator";
    ListHostGroups => "host-groups.list-host-groups", "host-groups:read", Read, "read", "host group";
    GetHostGroups => "host-groups.get-host-groups", "host-groups:read", Read, "read", "host group";
    QueryHostGroups => "host-groups.query-host-groups", "host-groups:read", Read, "read", "host group";
    CreateHostGroup => "host-groups.create-host-group", "host-groups:write", Write, "create", "host group";
    UpdateHostGroup => "host-groups.update-host-group", "host-groups:write", Write, "change", "host group";
    DeleteHostGroups => "host-groups.delete-host-groups", "host-groups:write", Write, "delete", "host group";
    AddGroupHosts => "host-groups.add-hosts", "host-groups:write", Write, "add to a host group", "host";
    RemoveGroupHosts => "host-groups.remove-hosts", "host-groups:write", Write, "remove from a host group", "host";
    ListGroupMembers => "host-groups.list-members", "host-groups:read", Read, "read", "host group";
    ListPreventionPolicies => "policies.list-policies/prevention", "prevention-policies:read", Read, "read", "policy";
    ListResponsePolicies => "policies.list-policies/response", "response-policies:read", Read, "read", "policy";
    ListSensorUpdatePolicies => "policies.list-policies/sensor-update", "sensor-update-policies:read", Read, "read", "policy";
    GetPreventionPolicies => "policies.get-policies/prevention", "prevention-policies:read", Read, "read", "policy";
    GetResponsePolicies => "policies.get-policies/response", "response-policies:read", Read, "read", "policy";
    GetSensorUpdatePolicies => "policies.get-policies/sensor-update", "sensor-update-policies:read", Read, "read", "policy";
    QueryPreventionPolicies => "policies.query-policies/prevention", "prevention-policies:read", Read, "read", "policy";
    QueryResponsePolicies => "policies.query-policies/response", "response-policies:read", Read, "read", "policy";
    QuerySensorUpdatePolicies => "policies.query-policies/sensor-update", "sensor-update-policies:read", Read, "read", "policy";
    PreventionPolicyMembers => "policies.list-members/prevention", "prevention-policies:read", Read, "read", "policy";
    ResponsePolicyMembers => "policies.list-members/response", "response-policies:read", Read, "read", "policy";
    SensorUpdatePolicyMembers => "policies.list-members/sensor-update", "sensor-update-policies:read", Read, "read", "policy";
    CreatePreventionPolicy => "policies.create-policy/prevention", "prevention-policies:write", Write, "create", "policy";
    CreateResponsePolicy => "policies.create-policy/response", "response-policies:write", Write, "create", "policy";
    CreateSensorUpdatePolicy => "policies.create-policy/sensor-update", "sensor-update-policies:write", Write, "create", "policy";
    UpdatePreventionPolicy => "policies.update-policy/prevention", "prevention-policies:write", Destructive, "change", "policy";
    UpdateResponsePolicy => "policies.update-policy/response", "response-policies:write", Destructive, "change", "policy";
    UpdateSensorUpdatePolicy => "policies.update-policy/sensor-update", "sensor-update-policies:write", Destructive, "change", "policy";
    DeletePreventionPolicies => "policies.delete-policies/prevention", "prevention-policies:write", Destructive, "delete", "policy";
    DeleteResponsePolicies => "policies.delete-policies/response", "response-policies:write", Destructive, "delete", "policy";
    DeleteSensorUpdatePolicies => "policies.delete-policies/sensor-update", "sensor-update-policies:write", Destructive, "delete", "policy";
    EnablePreventionPolicies => "policies.enable-policies/prevention", "prevention-policies:write", Destructive, "enable", "policy";
    EnableResponsePolicies => "policies.enable-policies/response", "response-policies:write", Destructive, "enable", "policy";
    EnableSensorUpdatePolicies => "policies.enable-policies/sensor-update", "sensor-update-policies:write", Destructive, "enable", "policy";
    DisablePreventionPolicies => "policies.disable-policies/prevention", "prevention-policies:write", Destructive, "disable", "policy";
    DisableResponsePolicies => "policies.disable-policies/response", "response-policies:write", Destructive, "disable", "policy";
    DisableSensorUpdatePolicies => "policies.disable-policies/sensor-update", "sensor-update-policies:write", Destructive, "disable", "policy";
    AddPreventionPolicyGroup => "policies.add-host-group/prevention", "prevention-policies:write", Destructive, "apply to a host group", "policy";
    AddResponsePolicyGroup => "policies.add-host-group/response", "response-policies:write", Destructive, "apply to a host group", "policy";
    AddSensorUpdatePolicyGroup => "policies.add-host-group/sensor-update", "sensor-update-policies:write", Destructive, "apply to a host group", "policy";
    RemovePreventionPolicyGroup => "policies.remove-host-group/prevention", "prevention-policies:write", Destructive, "take off a host group", "policy";
    RemoveResponsePolicyGroup => "policies.remove-host-group/response", "response-policies:write", Destructive, "take off a host group", "policy";
    RemoveSensorUpdatePolicyGroup => "policies.remove-host-group/sensor-update", "sensor-update-policies:write", Destructive, "take off a host group", "policy";
    PreventionPolicyPrecedence => "policies.set-precedence/prevention", "prevention-policies:write", Destructive, "reorder", "policy";
    ResponsePolicyPrecedence => "policies.set-precedence/response", "response-policies:write", Destructive, "reorder", "policy";
    SensorUpdatePolicyPrecedence => "policies.set-precedence/sensor-update", "sensor-update-policies:write", Destructive, "reorder", "policy";
    PoliciesOfHost => "policies.policies-of-host", "hosts:read", Read, "read", "host";
    ListBuilds => "sensors.list-builds", "sensor-update-policies:read", Read, "read", "build";
    ListInstallers => "sensors.list-installers", "sensor-versions:read", Read, "read", "build";
    GetInstallers => "sensors.get-installers", "sensor-versions:read", Read, "read", "build";
    QueryInstallers => "sensors.query-installers", "sensor-versions:read", Read, "read", "build";
    Ccid => "sensors.ccid", "sensor-versions:read", Read, "read", "build";
    RtrReadOnlyCommand => "rtr.run-command/read-only", "real-time-response:read", Read, "run a read-only command on", "host";
    RtrActiveCommand => "rtr.run-command/active", "real-time-response:write", Write, "run an active-responder command on", "host";
    RtrAdminCommand => "rtr.run-command/admin", "real-time-response-admin:write", Destructive, "run an admin command on", "host";
    RtrRunScript => "rtr.run-script", "real-time-response-admin:write", Destructive, "run a saved script on", "host";
    RtrListScripts => "rtr.list-scripts", "real-time-response-admin:read", Read, "read", "script";
    RtrListPutFiles => "rtr.list-put-files", "real-time-response-admin:read", Read, "read", "file";
}

impl Operation {
    /// The name the operation has in the contract, `interface.function`;
    /// for `api.call`, the route (`api.call GET /devices/queries/devices/v1`).
    pub(crate) fn name(self) -> std::borrow::Cow<'static, str> {
        if let Self::Call(index) = self {
            let endpoint = crate::routes::ROUTES[index].endpoint;
            return format!("api.call {} {}", endpoint.method.as_str(), endpoint.path).into();
        }
        if let Self::Notify(action, scope) = self {
            let destination = scope.destination().unwrap_or_default();
            return format!("{} {destination}", action.name()).into();
        }
        self.typed_name().into()
    }

    /// Looks an operation up by its contract name (for `--approve`).
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|op| op.typed_name() == name.trim())
            .ok_or_else(|| {
                let destructive: Vec<&str> = Self::ALL
                    .iter()
                    .copied()
                    .filter(|op| op.tier() == Tier::Destructive)
                    .map(Self::typed_name)
                    .collect();
                format!(
                    "unknown operation `{}`; operations that need approval: {}",
                    name.trim(),
                    destructive.join(", ")
                )
            })
    }

    /// Parses an approval (`--approve` or a grants file's `approve`): a
    /// destructive operation's name.
    pub(crate) fn parse_approval(name: &str) -> Result<Self, String> {
        let op = Self::parse(name)?;
        if op.tier() != Tier::Destructive {
            return Err(format!(
                "`{}` is not destructive and needs no approval",
                op.name()
            ));
        }
        Ok(op)
    }

    /// The scope the operation needs.
    pub(crate) fn scope(self) -> Scope {
        let name = self.typed_scope();
        // The catalog is static and a unit test walks every operation, so a
        // missing name is a host bug caught before release.
        Scope::find(name).unwrap_or_else(|| panic!("scope `{name}` missing from the catalog"))
    }
}

/// A write a dry run recorded instead of sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedWrite {
    pub(crate) operation: Operation,
    pub(crate) targets: Vec<String>,
    pub(crate) note: Option<String>,
}

/// Why the gate did not let a call through, for the audit log.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) decision: &'static str,
    pub(crate) error: PluginError,
}

/// The grant, budget and write policy of one run.
#[derive(Debug)]
pub(crate) struct Gate {
    granted: BTreeSet<Scope>,
    used: BTreeSet<Scope>,
    calls: u64,
    max_calls: u64,
    denials: u64,
    dry_run: bool,
    approved: BTreeSet<Operation>,
    plan: Vec<PlannedWrite>,
}

impl Gate {
    /// A gate granting `granted`, allowing `max_calls` calls.
    pub(crate) fn new(granted: BTreeSet<Scope>, max_calls: u64) -> Self {
        Self {
            granted,
            used: BTreeSet::new(),
            calls: 0,
            max_calls,
            denials: 0,
            dry_run: false,
            approved: BTreeSet::new(),
            plan: Vec::new(),
        }
    }

    /// Records writes in the plan instead of sending them.
    pub(crate) fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Approves these destructive operations for the whole run.
    pub(crate) fn approve(mut self, ops: impl IntoIterator<Item = Operation>) -> Self {
        self.approved.extend(ops);
        self
    }

    /// Admits a call or says why not, as an error the plugin can handle.
    /// `approve` is asked (at most once per call) when a destructive
    /// operation has no standing approval; it returns whether the operator
    /// approved it.
    pub(crate) fn admit(
        &mut self,
        op: Operation,
        targets: &[String],
        note: Option<&str>,
        approve: impl FnOnce() -> bool,
    ) -> Result<(), Refusal> {
        let scope = op.scope();
        if !self.granted.contains(&scope) {
            tracing::warn!(
                operation = %op.name(),
                scope = scope.name(),
                "denied: scope not granted"
            );
            return Err(self.refuse(
                "denied",
                PluginError::NotGranted(Denial {
                    scope: scope.name().to_owned(),
                    operation: op.name().into_owned(),
                    remedy: if scope.destination().is_some() {
                        format!(
                            "add `{}` (or `notify:*`) to the plugin's requested scopes and run \
                             with `{}`",
                            scope.name(),
                            scope.flag()
                        )
                    } else {
                        format!(
                            "add `{}` to the plugin's requested scopes and run with `{}`",
                            scope.name(),
                            scope.flag()
                        )
                    },
                }),
            ));
        }
        if self.calls >= self.max_calls {
            let message = format!(
                "the run may make {} API calls (--max-calls); `{}` would exceed it",
                self.max_calls,
                op.name()
            );
            return Err(self.refuse("budget-exhausted", PluginError::BudgetExhausted(message)));
        }
        if op.tier() > Tier::Read && self.dry_run {
            self.used.insert(scope);
            self.plan.push(PlannedWrite {
                operation: op,
                targets: targets.to_vec(),
                note: note.map(str::to_owned),
            });
            let message = format!(
                "`{}` on {} was not sent; it is in the plan",
                op.name(),
                count(targets.len(), op.noun())
            );
            return Err(Refusal {
                decision: "dry-run",
                error: PluginError::DryRun(message),
            });
        }
        if op.tier() == Tier::Destructive && !self.approved.contains(&op) && !approve() {
            let message = format!(
                "`{}` is destructive ({} {}) and was not approved; the operator approves it \
                 with `--approve {}` or `approve = [\"{}\"]` in the plugin's grant",
                op.name(),
                op.verb(),
                count(targets.len(), op.noun()),
                op.name(),
                op.name()
            );
            return Err(self.refuse("not-approved", PluginError::NotApproved(message)));
        }
        self.calls += 1;
        self.used.insert(scope);
        Ok(())
    }

    /// Whether admitting `op` would ask the operator: a destructive write,
    /// granted, not approved beforehand, not a dry run.
    pub(crate) fn would_ask(&self, op: Operation) -> bool {
        op.tier() == Tier::Destructive
            && !self.dry_run
            && !self.approved.contains(&op)
            && self.granted.contains(&op.scope())
    }

    fn refuse(&mut self, decision: &'static str, error: PluginError) -> Refusal {
        self.denials += 1;
        Refusal { decision, error }
    }

    pub(crate) fn used(&self) -> &BTreeSet<Scope> {
        &self.used
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls
    }

    pub(crate) fn denials(&self) -> u64 {
        self.denials
    }

    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    pub(crate) fn plan(&self) -> &[PlannedWrite] {
        &self.plan
    }
}

/// "1 host", "3 hosts", "2 policies".
pub(crate) fn count(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> BTreeSet<Scope> {
        names.iter().map(|n| Scope::parse(n).unwrap()).collect()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:032x}")).collect()
    }

    #[test]
    fn every_operation_has_a_catalogued_scope_and_a_parsable_name() {
        for &op in Operation::ALL {
            assert!(op.name().contains('.'), "{}", op.name());
            let _ = op.scope();
            assert_eq!(Operation::parse(&op.name()).unwrap(), op);
            if op.tier() > Tier::Read {
                assert!(
                    op.scope().name().ends_with(":write"),
                    "{} writes",
                    op.name()
                );
            }
        }
        let err = Operation::parse("hosts.nuke").unwrap_err();
        assert!(
            err.contains("operations that need approval: hosts.contain"),
            "{err}"
        );
    }

    #[test]
    fn ungranted_scopes_are_denied_with_the_flag() {
        let mut gate = Gate::new(scopes(&["users:read"]), 10);
        assert!(
            gate.admit(Operation::ListUsers, &[], None, || false)
                .is_ok()
        );
        let refusal = gate
            .admit(Operation::ListRoles, &[], None, || false)
            .unwrap_err();
        assert_eq!(refusal.decision, "denied");
        match refusal.error {
            PluginError::NotGranted(d) => {
                assert_eq!(d.scope, "roles:read");
                assert_eq!(d.operation, "users.list-roles");
                assert!(d.remedy.contains("--grant roles:read"), "{}", d.remedy);
            }
            other => panic!("expected a denial, got {other:?}"),
        }
        assert_eq!((gate.calls(), gate.denials()), (1, 1));
        assert_eq!(gate.used(), &scopes(&["users:read"]));
    }

    #[test]
    fn the_call_budget_is_enforced() {
        let mut gate = Gate::new(scopes(&["users:read"]), 2);
        assert!(gate.admit(Operation::GetUsers, &[], None, || false).is_ok());
        assert!(gate.admit(Operation::GetUsers, &[], None, || false).is_ok());
        let refusal = gate
            .admit(Operation::GetUsers, &[], None, || false)
            .unwrap_err();
        assert!(
            matches!(refusal.error, PluginError::BudgetExhausted(m) if m.contains("2 API calls"))
        );
    }

    #[test]
    fn destructive_writes_need_approval_and_ask_once() {
        let mut gate = Gate::new(scopes(&["hosts:write"]), 10);
        let mut asked = 0;
        let refusal = gate
            .admit(Operation::ContainHosts, &ids(3), None, || {
                asked += 1;
                false
            })
            .unwrap_err();
        assert_eq!(asked, 1);
        assert_eq!(refusal.decision, "not-approved");
        assert!(
            matches!(&refusal.error, PluginError::NotApproved(m) if m.contains("--approve hosts.contain")),
            "{:?}",
            refusal.error
        );
        assert!(
            gate.admit(Operation::ContainHosts, &ids(3), None, || true)
                .is_ok()
        );
        // Lifting containment restores access: a write, not destructive.
        assert!(
            gate.admit(Operation::LiftContainment, &ids(1), None, || false)
                .is_ok()
        );

        let mut approved =
            Gate::new(scopes(&["hosts:write"]), 10).approve([Operation::ContainHosts]);
        assert!(
            approved
                .admit(Operation::ContainHosts, &ids(1), None, || false)
                .is_ok()
        );
    }

    #[test]
    fn a_dry_run_plans_writes_and_sends_none() {
        let mut gate = Gate::new(scopes(&["hosts:write", "hosts:read"]), 10).dry_run(true);
        assert!(
            gate.admit(Operation::QueryHosts, &[], None, || false)
                .is_ok()
        );
        let refusal = gate
            .admit(
                Operation::ContainHosts,
                &ids(2),
                Some("offboarding"),
                || panic!("no prompt"),
            )
            .unwrap_err();
        assert_eq!(refusal.decision, "dry-run");
        assert_eq!(gate.plan().len(), 1);
        assert_eq!(gate.plan()[0].targets, ids(2));
        assert_eq!(gate.plan()[0].note.as_deref(), Some("offboarding"));
        assert_eq!(gate.calls(), 1, "only the read was sent");
    }

    #[test]
    fn a_notification_is_a_write_gated_by_its_destinations_scope() {
        let chat = Scope::notify("chat").unwrap();
        let send = Operation::Notify(crate::notify::Action::SendMessage, chat);
        assert_eq!(send.name(), "notify.send-message chat");
        assert_eq!((send.scope(), send.tier()), (chat, Tier::Write));
        let pager = Operation::Notify(
            crate::notify::Action::SendMessage,
            Scope::notify("pager").unwrap(),
        );

        let mut gate = Gate::new(scopes(&["notify:chat"]), 10);
        let refusal = gate.admit(pager, &[], None, || false).unwrap_err();
        match refusal.error {
            PluginError::NotGranted(d) => {
                assert_eq!(d.scope, "notify:pager");
                assert!(d.remedy.contains("--grant notify:pager"), "{}", d.remedy);
            }
            other => panic!("expected a denial, got {other:?}"),
        }
        assert!(
            gate.admit(send, &[], None, || panic!("no approval"))
                .is_ok()
        );

        let mut dry = Gate::new(scopes(&["notify:chat"]), 10).dry_run(true);
        let refusal = dry
            .admit(send, &["chat".into()], Some("Slack message"), || false)
            .unwrap_err();
        assert_eq!(refusal.decision, "dry-run");
        assert_eq!(dry.plan()[0].note.as_deref(), Some("Slack message"));
        assert_eq!(dry.calls(), 0);
    }
}
