//! The live tenant with the lookup indexes the endpoints need.

use std::collections::HashMap;

use crate::rng::SplitMix64;
use crate::tenant::{Tenant, User};

/// The tenant as the API changes it, indexed by user UUID so that batch lookups of
/// thousands of ids stay fast at any tenant size.
#[derive(Debug)]
pub(super) struct TenantState {
    pub(super) tenant: Tenant,
    by_uuid: HashMap<String, usize>,
    /// Ids for users created through the API: deterministic per tenant, so a test
    /// that creates users sees the same ids on every run.
    ids: SplitMix64,
}

impl TenantState {
    pub(super) fn new(tenant: Tenant) -> Self {
        let ids = SplitMix64::stream(0, &tenant.cid);
        let mut state = Self {
            tenant,
            by_uuid: HashMap::new(),
            ids,
        };
        state.reindex();
        state
    }

    /// Rebuilds the index after users were removed or reordered.
    pub(super) fn reindex(&mut self) {
        self.by_uuid = self
            .tenant
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.uuid.clone(), i))
            .collect();
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
