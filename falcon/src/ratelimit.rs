//! The tenant's shared rate limiter: paces requests before the pool runs
//! dry and holds every caller during a 429 cooldown.
//!
//! Falcon pools requests per customer (CID): every API client and every
//! plugin of the tenant draws from one bucket of `X-Ratelimit-Limit`
//! requests that refills over a minute. A [`RateLimiter`] follows that pool
//! from the `X-Ratelimit-Limit` and `X-Ratelimit-Remaining` headers of each
//! response and, once fewer than its reserve are left, spaces requests so
//! that the pool refills at least as fast as it drains. After a 429 it holds
//! every request until the `X-Ratelimit-Retryafter` time (one cooldown
//! shared by all callers).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::envelope::RateLimitStatus;
use crate::retry::jitter;

/// Default share of the pool kept in reserve before requests are paced.
pub const DEFAULT_RESERVE: f64 = 0.05;

/// Paces the requests of one tenant. Cheap to clone: clones share the state.
///
/// Clients built for the same cloud, client id and member CID share one
/// limiter (and one token) automatically. Clients of the same tenant (CID)
/// that use different API clients draw from the same pool too: give them
/// the same limiter with
/// [`ClientBuilder::rate_limiter`](crate::ClientBuilder::rate_limiter).
///
/// ```
/// use falcon::{Client, Cloud, Credentials, RateLimiter};
///
/// # fn demo() -> falcon::Result<()> {
/// let limiter = RateLimiter::new().reserve(0.1);
/// let cloud: Cloud = "http://127.0.0.1:8080".parse()?;
/// let a = Client::builder(cloud.clone(), Credentials::new("id-a", "secret-a"))
///     .rate_limiter(limiter.clone())
///     .build()?;
/// let b = Client::builder(cloud, Credentials::new("id-b", "secret-b"))
///     .rate_limiter(limiter.clone())
///     .build()?;
/// # let _ = (a, b);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    reserve: f64,
    state: Mutex<State>,
    paced: AtomicU64,
    cooled: AtomicU64,
}

#[derive(Default)]
struct State {
    limit: Option<u64>,
    /// The last reported `X-Ratelimit-Remaining`, less the requests sent
    /// since (the estimate concurrent callers pace by).
    remaining: Option<f64>,
    reported_remaining: Option<u64>,
    /// The earliest instant the next paced request may leave.
    next_slot: Option<Instant>,
    /// No request leaves before this instant (after a 429).
    cooldown_until: Option<Instant>,
}

/// What a [`RateLimiter`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Requests delayed because the pool was below the reserve.
    pub paced: u64,
    /// Requests held back by a 429 cooldown.
    pub cooled_down: u64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter that starts pacing when less than 5 % of the pool is left.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                reserve: DEFAULT_RESERVE,
                state: Mutex::new(State::default()),
                paced: AtomicU64::new(0),
                cooled: AtomicU64::new(0),
            }),
        }
    }

    /// Sets the share of the pool (`0.0` to `0.5`, clamped) below which
    /// requests are paced. `0.0` turns pacing off; the 429 cooldown stays.
    /// Call before sharing the limiter: a clone made earlier keeps the old
    /// state.
    #[must_use]
    pub fn reserve(self, share: f64) -> Self {
        let share = if share.is_finite() {
            share.clamp(0.0, 0.5)
        } else {
            DEFAULT_RESERVE
        };
        Self {
            shared: Arc::new(Shared {
                reserve: share,
                state: Mutex::new(State::default()),
                paced: AtomicU64::new(0),
                cooled: AtomicU64::new(0),
            }),
        }
    }

    /// The pool as last reported (`X-Ratelimit-Limit`,
    /// `X-Ratelimit-Remaining`).
    pub fn status(&self) -> RateLimitStatus {
        let state = self.lock();
        RateLimitStatus {
            limit: state.limit,
            remaining: state.reported_remaining,
        }
    }

    /// How long the current 429 cooldown still lasts, if one is running.
    pub fn cooldown_remaining(&self) -> Option<Duration> {
        let until = self.lock().cooldown_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts of paced and cooled-down requests.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            paced: self.shared.paced.load(Ordering::Relaxed),
            cooled_down: self.shared.cooled.load(Ordering::Relaxed),
        }
    }

    /// Whether two limiters are the same shared one.
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until one request may leave: after any cooldown, and paced
    /// when the pool is below the reserve.
    pub(crate) async fn acquire(&self) {
        let mut cooled = false;
        loop {
            // The guard lives only inside this block: a std mutex guard held
            // across an `.await` would make every caller's future `!Send`.
            let (wait, pace_until) = {
                let mut state = self.lock();
                let now = Instant::now();
                match state.cooldown_until {
                    Some(until) if until > now => (Some(until - now), None),
                    _ => {
                        state.cooldown_until = None;
                        let slot = self.pace(&mut state, now);
                        if let Some(rem) = state.remaining.as_mut() {
                            *rem = (*rem - 1.0).max(0.0);
                        }
                        (None, Some(slot.filter(|s| *s > now).map(|s| s - now)))
                    }
                }
            };
            if let Some(pace) = pace_until {
                if let Some(pause) = pace {
                    self.shared.paced.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                }
                return;
            }
            if let Some(wait) = wait {
                if !cooled {
                    cooled = true;
                    self.shared.cooled.fetch_add(1, Ordering::Relaxed);
                }
                // A little jitter so that waiting callers do not all fire at
                // the same instant.
                tokio::time::sleep(wait + jitter(Duration::from_millis(50))).await;
            }
        }
    }

    /// The instant the next request may leave, reserving it; `None` when
    /// the pool is above the reserve (or unknown).
    fn pace(&self, state: &mut State, now: Instant) -> Option<Instant> {
        let (limit, remaining) = (state.limit?, state.remaining?);
        if limit == 0 || self.shared.reserve <= 0.0 {
            return None;
        }
        let reserve = (limit as f64 * self.shared.reserve).max(1.0);
        if remaining >= reserve {
            state.next_slot = None;
            return None;
        }
        // The pool refills `limit` per minute. Below the reserve, space
        // requests from nothing up to twice the refill interval as the pool
        // empties: the pace settles where half the reserve is left.
        let refill = Duration::from_secs_f64(60.0 / limit as f64);
        let deficit = ((reserve - remaining) / reserve).clamp(0.0, 1.0);
        let step = refill.mul_f64(2.0 * deficit);
        let slot = state.next_slot.map_or(now, |s| s.max(now));
        state.next_slot = Some(slot + step);
        Some(slot)
    }

    /// Records the rate-limit headers of a response.
    pub(crate) fn record(&self, status: RateLimitStatus) {
        if status.limit.is_none() && status.remaining.is_none() {
            return;
        }
        let mut state = self.lock();
        if let Some(limit) = status.limit {
            state.limit = Some(limit);
        }
        if let Some(remaining) = status.remaining {
            state.reported_remaining = Some(remaining);
            state.remaining = Some(remaining as f64);
        }
    }

    /// Starts (or extends) the shared cooldown after a 429.
    pub(crate) fn cool_down(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        state.remaining = Some(0.0);
        if state.cooldown_until.is_none_or(|c| c < until) {
            state.cooldown_until = Some(until);
        }
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("reserve", &self.shared.reserve)
            .field("status", &self.status())
            .field("cooldown_remaining", &self.cooldown_remaining())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_only_below_the_reserve_and_settles_at_half() {
        let limiter = RateLimiter::new().reserve(0.1);
        let mut state = State {
            limit: Some(600),
            remaining: Some(100.0),
            ..State::default()
        };
        let now = Instant::now();
        assert_eq!(limiter.pace(&mut state, now), None);
        // 60 is the reserve; at 30 left, the step is one refill interval.
        state.remaining = Some(30.0);
        assert_eq!(limiter.pace(&mut state, now), Some(now));
        assert_eq!(state.next_slot, Some(now + Duration::from_millis(100)));
        assert_eq!(
            limiter.pace(&mut state, now),
            Some(now + Duration::from_millis(100))
        );
        state.remaining = Some(0.0);
        let slot = limiter.pace(&mut state, now).unwrap();
        assert_eq!(slot, now + Duration::from_millis(200));
        assert_eq!(state.next_slot, Some(slot + Duration::from_millis(200)));
        // Unknown pool or pacing off: never paced.
        let mut unknown = State::default();
        assert_eq!(limiter.pace(&mut unknown, now), None);
        let off = RateLimiter::new().reserve(0.0);
        state.remaining = Some(0.0);
        assert_eq!(off.pace(&mut state, now), None);
    }

    #[tokio::test]
    async fn cooldown_is_shared_by_clones() {
        let limiter = RateLimiter::new();
        let clone = limiter.clone();
        assert!(limiter.same_as(&clone));
        limiter.cool_down(Duration::from_millis(150));
        assert!(clone.cooldown_remaining().is_some());
        let start = Instant::now();
        clone.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(140));
        assert_eq!(clone.stats().cooled_down, 1);
        assert!(limiter.cooldown_remaining().is_none());
        limiter.record(RateLimitStatus {
            limit: Some(6000),
            remaining: Some(5999),
        });
        assert_eq!(clone.status().remaining, Some(5999));
    }
}
