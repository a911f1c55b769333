//! Console users: names, mail addresses, account ages and last logins.

use std::collections::HashSet;

use jiff::Timestamp;

use super::catalog::{DOMAINS, FIRST_NAMES, LAST_NAMES, mail_local_part};
use super::{TenantSpec, User};
use crate::rng::SplitMix64;

pub(super) const DAY: i64 = 86_400;

/// Users whose last login is at least this old (at the anchor) are "stale".
///
/// Kept three days past the common 90-day audit threshold so that a test running late
/// in the anchor's day, when every age has grown by up to a day, still sees them stale.
pub(super) const STALE_MIN_DAYS: i64 = 93;
/// Recently active users logged in at most this long before the anchor.
const RECENT_MAX_DAYS: i64 = 60;

/// When a user last logged in, relative to the tenant's anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoginAge {
    Never,
    Stale,
    Recent,
}

/// `spec.users` users, drawn from the seed's "users" stream.
pub(super) fn generate(spec: &TenantSpec) -> Vec<User> {
    let mut rng = SplitMix64::stream(spec.seed, "users");
    let n = spec.users;
    let firsts = cycled(&mut rng, FIRST_NAMES, n);
    let lasts = cycled(&mut rng, LAST_NAMES, n);
    let domain = *rng.pick(DOMAINS);
    let ages = login_plan(&mut rng, n);
    let inactive = inactive_plan(&mut rng, &ages);
    let anchor = spec.anchor.as_second();

    let mut taken = HashSet::new();
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let last_login_at = last_login(&mut rng, ages[i], anchor);
        let created_at = created(&mut rng, last_login_at, anchor);
        users.push(User {
            uuid: rng.uuid_v4(),
            uid: unique_uid(&mut taken, firsts[i], lasts[i], domain),
            first_name: firsts[i].to_owned(),
            last_name: lasts[i].to_owned(),
            status: if inactive.contains(&i) {
                "inactive"
            } else {
                "active"
            }
            .to_owned(),
            created_at,
            last_login_at,
        });
    }
    users
}

/// `n` names taken from reshuffled rounds of `list`, so a tenant at least as large as
/// the list uses every name (the demo tenant always has an O'Brien and a Nguyễn).
fn cycled(rng: &mut SplitMix64, list: &[&'static str], n: usize) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(n + list.len());
    while out.len() < n {
        let mut round = list.to_vec();
        rng.shuffle(&mut round);
        out.extend(round);
    }
    out.truncate(n);
    out
}

/// Fixed shares rather than coin flips, so that every tenant of four or more users
/// has users who never logged in and users who went stale.
fn login_plan(rng: &mut SplitMix64, n: usize) -> Vec<LoginAge> {
    let at_least_one = usize::from(n >= 4);
    let never = (n * 3 / 32).max(at_least_one);
    let stale = (n * 5 / 32).max(at_least_one);
    let mut plan = vec![LoginAge::Recent; n];
    plan[..never].fill(LoginAge::Never);
    plan[never..never + stale].fill(LoginAge::Stale);
    rng.shuffle(&mut plan);
    plan
}

/// Indices of inactive users: mostly stale accounts someone disabled, plus one
/// invitation that was never accepted.
fn inactive_plan(rng: &mut SplitMix64, ages: &[LoginAge]) -> HashSet<usize> {
    let wanted = (ages.len() / 16).max(usize::from(ages.len() >= 4));
    let mut of = |age: LoginAge| {
        let mut idx: Vec<usize> = (0..ages.len()).filter(|i| ages[*i] == age).collect();
        rng.shuffle(&mut idx);
        idx
    };
    let (stale, never) = (of(LoginAge::Stale), of(LoginAge::Never));
    let from_stale = stale.len().min(wanted - wanted / 4);
    let from_never = never.len().min(wanted - from_stale);
    stale[..from_stale]
        .iter()
        .chain(&never[..from_never])
        .copied()
        .collect()
}

fn last_login(rng: &mut SplitMix64, age: LoginAge, anchor: i64) -> Option<Timestamp> {
    let secs_before = match age {
        LoginAge::Never => return None,
        LoginAge::Stale => rng.between(STALE_MIN_DAYS * DAY, 540 * DAY),
        LoginAge::Recent => rng.between(300, RECENT_MAX_DAYS * DAY),
    };
    Some(instant(rng, anchor - secs_before))
}

fn created(rng: &mut SplitMix64, last_login: Option<Timestamp>, anchor: i64) -> Timestamp {
    let (before, span) = match last_login {
        Some(at) => (at.as_second(), 4 * 365 * DAY),
        None => (anchor, 3 * 365 * DAY),
    };
    let age = rng.between(DAY, span);
    instant(rng, before - age)
}

/// A timestamp at `second` with a fraction of 0, 2, 3, 6 or 9 digits, the mix of
/// precisions real Falcon responses show.
pub(super) fn instant(rng: &mut SplitMix64, second: i64) -> Timestamp {
    const DIGITS: [u32; 8] = [0, 2, 3, 3, 6, 6, 6, 9];
    let digits = *rng.pick(&DIGITS);
    let nanos = rng.below(10u64.pow(digits)) * 10u64.pow(9 - digits);
    // Generated seconds stay within a few years of the anchor, far inside jiff's range.
    Timestamp::new(second, nanos as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// An instant between `lo` and `hi` seconds before `base`.
pub(super) fn ago(rng: &mut SplitMix64, base: i64, lo: i64, hi: i64) -> Timestamp {
    let seconds = rng.between(lo, hi);
    instant(rng, base - seconds)
}

/// An instant between `lo` and `hi` seconds after `base`.
pub(super) fn later(rng: &mut SplitMix64, base: i64, lo: i64, hi: i64) -> Timestamp {
    let seconds = rng.between(lo, hi);
    instant(rng, base + seconds)
}

fn unique_uid(taken: &mut HashSet<String>, first: &str, last: &str, domain: &str) -> String {
    let local = mail_local_part(first, last);
    let mut uid = format!("{local}@{domain}");
    let mut n = 2;
    while !taken.insert(uid.clone()) {
        uid = format!("{local}{n}@{domain}");
        n += 1;
    }
    uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_plan_has_fixed_shares() {
        let plan = login_plan(&mut SplitMix64::new(1), 64);
        let count = |age| plan.iter().filter(|a| **a == age).count();
        assert_eq!((count(LoginAge::Never), count(LoginAge::Stale)), (6, 10));
        assert!(
            login_plan(&mut SplitMix64::new(1), 2)
                .iter()
                .all(|a| *a == LoginAge::Recent)
        );
    }

    #[test]
    fn small_tenants_still_generate() {
        for n in 0..6 {
            let spec = TenantSpec {
                seed: 5,
                users: n,
                anchor: Timestamp::UNIX_EPOCH,
                ..TenantSpec::demo()
            };
            assert_eq!(generate(&spec).len(), n);
        }
    }

    #[test]
    fn uids_are_unique_even_when_names_repeat() {
        let spec = TenantSpec {
            seed: 9,
            users: 400,
            anchor: Timestamp::UNIX_EPOCH,
            ..TenantSpec::demo()
        };
        let users = generate(&spec);
        let uids: HashSet<&str> = users.iter().map(|u| u.uid.as_str()).collect();
        assert_eq!(uids.len(), users.len());
    }

    #[test]
    fn instants_show_varied_precision() {
        let mut rng = SplitMix64::new(2);
        let lengths: HashSet<usize> = (0..200)
            .map(|_| instant(&mut rng, 1_700_000_000).to_string().len())
            .collect();
        assert!(lengths.len() >= 4, "only {lengths:?}");
    }
}
