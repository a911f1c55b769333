//! The live tenant with the lookup indexes the endpoints need.

use std::collections::HashMap;
use std::time::Instant;

use super::rtr::Sessions;
use crate::rng::SplitMix64;
use crate::tenant::{RoleGrant, Tenant, User};

/// Positions of entities by id, so batch lookups of thousands of ids stay fast at any
/// tenant size.
#[derive(Debug, Default)]
pub(super) struct Index {
    positions: HashMap<String, usize>,
}

impl Index {
    pub(super) fn build<'a>(ids: impl Iterator<Item = &'a str>) -> Self {
        let positions = ids.enumerate().map(|(i, id)| (id.to_owned(), i)).collect();
        Self { positions }
    }

    pub(super) fn get(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.positions.contains_key(id)
    }
}

/// The tenant as the API changes it, indexed by user UUID so that batch lookups of
/// thousands of ids stay fast at any tenant size.
#[derive(Debug)]
pub(super) struct TenantState {
    pub(super) tenant: Tenant,
    pub(super) hosts: Index,
    pub(super) alerts: Index,
    pub(super) incidents: Index,
    pub(super) groups: Index,
    pub(super) policies: Index,
    pub(super) iocs: Index,
    /// Hosts whose containment change is in flight, with when it was asked for.
    pub(super) pending: HashMap<String, Instant>,
    /// Real Time Response sessions, batches and commands.
    pub(super) rtr: Sessions,
    by_uuid: HashMap<String, usize>,
    /// Positions in `tenant.grants` of each user's grants: a user's roles are
    /// one lookup, not a scan of every grant of the tenant.
    grants_by_user: HashMap<String, Vec<usize>>,
    /// Ids for users created through the API: deterministic per tenant, so a test
    /// that creates users sees the same ids on every run.
    ids: SplitMix64,
}

impl TenantState {
    pub(super) fn new(tenant: Tenant) -> Self {
        let ids = SplitMix64::stream(0, &tenant.cid);
        let mut state = Self {
            tenant,
            hosts: Index::default(),
            alerts: Index::default(),
            incidents: Index::default(),
            groups: Index::default(),
            policies: Index::default(),
            iocs: Index::default(),
            pending: HashMap::new(),
            rtr: Sessions::default(),
            by_uuid: HashMap::new(),
            grants_by_user: HashMap::new(),
            ids,
        };
        state.reindex();
        state.reindex_all();
        state
    }

    /// Rebuilds every entity index after entities were removed or added.
    pub(super) fn reindex_all(&mut self) {
        let t = &self.tenant;
        self.hosts = Index::build(t.hosts.iter().map(|h| h.device_id.as_str()));
        self.alerts = Index::build(t.alerts.iter().map(|a| a.composite_id.as_str()));
        self.incidents = Index::build(t.incidents.iter().map(|i| i.incident_id.as_str()));
        self.groups = Index::build(t.host_groups.iter().map(|g| g.id.as_str()));
        self.policies = Index::build(t.policies.iter().map(|p| p.id.as_str()));
        self.iocs = Index::build(t.iocs.iter().map(|i| i.id.as_str()));
    }

    /// A fresh id of `len` hex digits from the tenant's deterministic stream.
    pub(super) fn fresh_hex(&mut self, len: usize) -> String {
        self.ids.hex(len)
    }

    /// Rebuilds the indexes after users or grants were removed or reordered.
    pub(super) fn reindex(&mut self) {
        self.by_uuid = self
            .tenant
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.uuid.clone(), i))
            .collect();
        self.reindex_grants();
    }

    /// Rebuilds the grants index after grants were added or removed.
    pub(super) fn reindex_grants(&mut self) {
        let mut by_user: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, grant) in self.tenant.grants.iter().enumerate() {
            by_user.entry(grant.user_uuid.clone()).or_default().push(i);
        }
        self.grants_by_user = by_user;
    }

    /// The grants of one user, in the tenant's order.
    pub(super) fn grants_of<'a>(&'a self, uuid: &str) -> impl Iterator<Item = &'a RoleGrant> + 'a {
        self.grants_by_user
            .get(uuid)
            .into_iter()
            .flatten()
            .map(|i| &self.tenant.grants[*i])
    }

    pub(super) fn user(&self, uuid: &str) -> Option<&User> {
        self.by_uuid.get(uuid).map(|i| &self.tenant.users[*i])
    }

    pub(super) fn user_mut(&mut self, uuid: &str) -> Option<&mut User> {
        self.by_uuid.get(uuid).map(|i| &mut self.tenant.users[*i])
    }

    pub(super) fn add_user(&mut self, user: User) {
        self.by_uuid
            .insert(user.uuid.clone(), self.tenant.users.len());
        self.tenant.users.push(user);
    }

    /// Removes a user and their grants; false when there is no such user.
    pub(super) fn remove_user(&mut self, uuid: &str) -> bool {
        let Some(index) = self.by_uuid.get(uuid).copied() else {
            return false;
        };
        self.tenant.users.remove(index);
        self.tenant.grants.retain(|g| g.user_uuid != uuid);
        self.reindex();
        true
    }

    /// A UUID no user has.
    pub(super) fn fresh_uuid(&mut self) -> String {
        loop {
            let uuid = self.ids.uuid_v4();
            if !self.by_uuid.contains_key(&uuid) {
                return uuid;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantSpec;

    fn state() -> TenantState {
        let spec = TenantSpec {
            seed: 1,
            users: 20,
            anchor: jiff::Timestamp::UNIX_EPOCH,
            ..TenantSpec::demo()
        };
        TenantState::new(Tenant::generate(&spec))
    }

    #[test]
    fn lookups_follow_removals() {
        let mut state = state();
        let first = state.tenant.users[0].uuid.clone();
        let last = state.tenant.users[19].uuid.clone();
        assert!(state.remove_user(&first));
        assert!(!state.remove_user(&first));
        assert!(state.user(&first).is_none());
        assert_eq!(
            state.user(&last).map(|u| u.uuid.as_str()),
            Some(last.as_str())
        );
        assert!(state.tenant.grants.iter().all(|g| g.user_uuid != first));
    }

    #[test]
    fn fresh_uuids_are_deterministic_and_unused() {
        let (mut a, mut b) = (state(), state());
        let id = a.fresh_uuid();
        assert_eq!(id, b.fresh_uuid());
        assert!(a.user(&id).is_none());
    }
}
