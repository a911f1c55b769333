//! Who holds which role.

use jiff::Timestamp;

use super::catalog::{ADMIN, REGULAR_ROLE_WEIGHTS, RTR_ADMIN};
use super::people::{DAY, STALE_MIN_DAYS, instant};
use super::{Role, RoleGrant, TenantSpec, User};
use crate::rng::SplitMix64;

/// Role grants for `users`, drawn from the seed's "grants" stream.
///
/// Shares are fixed rather than random so every tenant of ten or more users shows
/// what an access review looks for: users without roles, a handful of
/// administrators (one of them stale when the tenant has stale users), and
/// temporary grants that expire.
pub(super) fn assign(spec: &TenantSpec, users: &[User], roles: &[Role]) -> Vec<RoleGrant> {
    let mut rng = SplitMix64::stream(spec.seed, "grants");
    let n = users.len();
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);

    let without_roles = if n >= 10 { (n / 10).max(5) } else { n / 4 };
    let holders = &mut order[without_roles..];
    let admins = if holders.is_empty() {
        0
    } else {
        (n / 20).max(1)
    };
    let rtr_admins = (n / 24).max(1).min(holders.len().saturating_sub(admins));
    put_stale_user_first(holders, users, spec.anchor);

    let mut per_user: Vec<Vec<&str>> = vec![Vec::new(); n];
    for (rank, user) in holders.iter().enumerate() {
        let is_admin = rank < admins;
        let is_rtr_admin = (admins..admins + rtr_admins).contains(&rank);
        per_user[*user] = roles_for(&mut rng, is_admin, is_rtr_admin);
    }

    let mut grants = to_grants(users, roles, &per_user);
    make_some_temporary(&mut rng, &mut grants, spec.anchor);
    grants
}

/// Moves a stale user to the front of `holders`, where the administrators are.
fn put_stale_user_first(holders: &mut [usize], users: &[User], anchor: Timestamp) {
    let stale_before = anchor.as_second() - STALE_MIN_DAYS * DAY;
    let is_stale = |u: &usize| {
        users[*u]
            .last_login_at
            .is_some_and(|at| at.as_second() <= stale_before)
    };
    if let Some(pos) = holders.iter().position(is_stale) {
        holders.swap(0, pos);
    }
}

/// One to three roles per role holder; administrators get their admin role plus at
/// most one other.
fn roles_for(rng: &mut SplitMix64, is_admin: bool, is_rtr_admin: bool) -> Vec<&'static str> {
    let mut held = Vec::new();
    if is_admin {
        held.push(ADMIN);
    }
    if is_rtr_admin {
        held.push(RTR_ADMIN);
    }
    let extra = if held.is_empty() {
        1 + rng.below(3)
    } else {
        rng.below(2)
    };
    while (held.len() as u64) < extra + u64::from(is_admin) + u64::from(is_rtr_admin) {
        let role = weighted(rng);
        if !held.contains(&role) {
            held.push(role);
        }
    }
    held
}

fn weighted(rng: &mut SplitMix64) -> &'static str {
    let total: u64 = REGULAR_ROLE_WEIGHTS.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.below(total);
    for (role, weight) in REGULAR_ROLE_WEIGHTS {
        if ticket < *weight {
            return role;
        }
        ticket -= weight;
    }
    REGULAR_ROLE_WEIGHTS[0].0
}

/// Grants ordered by user, then by the catalogue's role order.
fn to_grants(users: &[User], roles: &[Role], per_user: &[Vec<&str>]) -> Vec<RoleGrant> {
    let mut grants = Vec::new();
    for (user, held) in users.iter().zip(per_user) {
        for role in roles.iter().filter(|r| held.contains(&r.id.as_str())) {
            grants.push(RoleGrant {
                user_uuid: user.uuid.clone(),
                role_id: role.id.clone(),
                grant_type: "direct".to_owned(),
                expires_at: None,
            });
        }
    }
    grants
}

/// Gives a few non-administrative grants an expiry a few weeks after the anchor.
fn make_some_temporary(rng: &mut SplitMix64, grants: &mut [RoleGrant], anchor: Timestamp) {
    let mut regular: Vec<usize> = (0..grants.len())
        .filter(|i| ![ADMIN, RTR_ADMIN].contains(&grants[*i].role_id.as_str()))
        .collect();
    rng.shuffle(&mut regular);
    let temporary = (grants.len() / 40).max(usize::from(!regular.is_empty()));
    for i in regular.into_iter().take(temporary) {
        let lifetime = rng.between(3 * DAY, 45 * DAY);
        grants[i].expires_at = Some(instant(rng, anchor.as_second() + lifetime));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_holders_get_one_to_three_roles() {
        let mut rng = SplitMix64::new(4);
        for _ in 0..200 {
            let held = roles_for(&mut rng, false, false);
            assert!((1..=3).contains(&held.len()), "{held:?}");
        }
    }

    #[test]
    fn admins_keep_their_admin_roles() {
        let mut rng = SplitMix64::new(4);
        for _ in 0..50 {
            let held = roles_for(&mut rng, true, true);
            assert_eq!(&held[..2], [ADMIN, RTR_ADMIN]);
            assert!(held.len() <= 3);
        }
    }
}
