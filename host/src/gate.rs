//! The gate every plugin call into the contract crosses.
//!
//! A call is admitted only when its operation's scope is granted and the
//! run's call budget is not spent. The gate also records which scopes were
//! used, for the least-privilege report at the end of the run.

use std::collections::BTreeSet;

use crate::bindings::{Denial, PluginError};
use crate::scopes::Scope;

/// Every operation of the contract that needs a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    ListUsers,
    GetUsers,
    QueryUsers,
    RolesOfUsers,
    ListRoles,
}

impl Operation {
    /// The name the operation has in the contract, `interface.function`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ListUsers => "users.list-users",
            Self::GetUsers => "users.get-users",
            Self::QueryUsers => "users.query-users",
            Self::RolesOfUsers => "users.roles-of-users",
            Self::ListRoles => "users.list-roles",
        }
    }

    /// The scope the operation needs.
    pub(crate) fn scope(self) -> Scope {
        let name = match self {
            Self::ListUsers | Self::GetUsers | Self::QueryUsers => "users:read",
            Self::RolesOfUsers | Self::ListRoles => "roles:read",
        };
        // The catalog is static and a unit test walks every operation, so a
        // missing name is a host bug caught before release.
        Scope::find(name).unwrap_or_else(|| panic!("scope `{name}` missing from the catalog"))
    }

    /// Every operation.
    #[cfg(test)]
    pub(crate) const ALL: [Operation; 5] = [
        Self::ListUsers,
        Self::GetUsers,
        Self::QueryUsers,
        Self::RolesOfUsers,
        Self::ListRoles,
    ];
}

/// The grant and budget of one run.
#[derive(Debug)]
pub(crate) struct Gate {
    granted: BTreeSet<Scope>,
    used: BTreeSet<Scope>,
    calls: u64,
    max_calls: u64,
    denials: u64,
}

impl Gate {
    pub(crate) fn new(granted: BTreeSet<Scope>, max_calls: u64) -> Self {
        Self {
            granted,
            used: BTreeSet::new(),
            calls: 0,
            max_calls,
            denials: 0,
        }
    }

    /// Admits a call or says why not, as an error the plugin can handle.
    pub(crate) fn admit(&mut self, op: Operation) -> Result<(), PluginError> {
        let scope = op.scope();
        if !self.granted.contains(&scope) {
            self.denials += 1;
            tracing::warn!(
                operation = op.name(),
                scope = scope.name(),
                "denied: scope not granted"
            );
            return Err(PluginError::NotGranted(Denial {
                scope: scope.name().to_owned(),
                operation: op.name().to_owned(),
                remedy: format!(
                    "add `{}` to the plugin's requested scopes and run with `{}`",
                    scope.name(),
                    scope.flag()
                ),
            }));
        }
        if self.calls >= self.max_calls {
            self.denials += 1;
            return Err(PluginError::BudgetExhausted(format!(
                "the run may make {} API calls (--max-calls); `{}` would exceed it",
                self.max_calls,
                op.name()
            )));
        }
        self.calls += 1;
        self.used.insert(scope);
        Ok(())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> BTreeSet<Scope> {
        names.iter().map(|n| Scope::parse(n).unwrap()).collect()
    }

    #[test]
    fn every_operation_has_a_catalogued_scope() {
        for op in Operation::ALL {
            assert!(op.name().contains('.'), "{}", op.name());
            let _ = op.scope();
        }
    }

    #[test]
    fn ungranted_scopes_are_denied_with_the_flag() {
        let mut gate = Gate::new(scopes(&["users:read"]), 10);
        assert!(gate.admit(Operation::ListUsers).is_ok());
        match gate.admit(Operation::ListRoles) {
            Err(PluginError::NotGranted(d)) => {
                assert_eq!(d.scope, "roles:read");
                assert_eq!(d.operation, "users.list-roles");
                assert!(d.remedy.contains("--grant roles:read"), "{}", d.remedy);
            }
            other => panic!("expected a denial, got {other:?}"),
        }
        assert_eq!(gate.calls(), 1);
        assert_eq!(gate.denials(), 1);
        assert_eq!(gate.used(), &scopes(&["users:read"]));
    }

    #[test]
    fn the_call_budget_is_enforced() {
        let mut gate = Gate::new(scopes(&["users:read"]), 2);
        assert!(gate.admit(Operation::GetUsers).is_ok());
        assert!(gate.admit(Operation::GetUsers).is_ok());
        match gate.admit(Operation::GetUsers) {
            Err(PluginError::BudgetExhausted(m)) => assert!(m.contains("2 API calls"), "{m}"),
            other => panic!("expected budget exhaustion, got {other:?}"),
        }
    }
}
