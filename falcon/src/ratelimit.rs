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
//!
//! Clones share the state within a process. Processes that act for the same
//! tenant (several `host run`s at once) share it through a small state file
//! ([`RateLimiter::shared_through`]), locked for each change, so that they
//! pace against one estimate of the pool and wait out one cooldown.

use std::fmt;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// The state file other processes of the tenant share, if any.
    file: Option<PathBuf>,
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
    /// The shared state file, kept open between changes.
    handle: Option<std::fs::File>,
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
        Self::with(DEFAULT_RESERVE, None)
    }

    fn with(reserve: f64, file: Option<PathBuf>) -> Self {
        Self {
            shared: Arc::new(Shared {
                reserve,
                state: Mutex::new(State::default()),
                paced: AtomicU64::new(0),
                cooled: AtomicU64::new(0),
                file,
            }),
        }
    }

    /// Shares the pool's estimate, the pacing and the 429 cooldown with the
    /// other processes that use the same `path` (created if missing; its
    /// directory must exist). Each change reads and writes the file under an
    /// exclusive lock; if the file cannot be used, the limiter goes on with
    /// its own state. Call before sharing the limiter: a clone made earlier
    /// keeps the old state.
    #[must_use]
    pub fn shared_through(self, path: impl Into<PathBuf>) -> Self {
        Self::with(self.shared.reserve, Some(path.into()))
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
        Self::with(share, self.shared.file.clone())
    }

    /// The pool as last reported (`X-Ratelimit-Limit`,
    /// `X-Ratelimit-Remaining`).
    pub fn status(&self) -> RateLimitStatus {
        self.update(|state, _| RateLimitStatus {
            limit: state.limit,
            remaining: state.reported_remaining,
        })
    }

    /// How long the current 429 cooldown still lasts, if one is running.
    pub fn cooldown_remaining(&self) -> Option<Duration> {
        let until = self.update(|state, _| state.cooldown_until)?;
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

    /// Runs `change` on the state: this process's, merged first with the
    /// state file's when there is one and written back after, all under the
    /// file's lock, so that no other process changes it in between.
    fn update<T>(&self, change: impl FnOnce(&mut State, Instant) -> T) -> T {
        let mut state = self.lock();
        let now = Instant::now();
        let Some(path) = &self.shared.file else {
            return change(&mut state, now);
        };
        if state.handle.is_none() {
            match open_shared(path) {
                Ok(file) => state.handle = Some(file),
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "rate-limit state file unusable");
                }
            }
        }
        let Some(mut file) = state.handle.take() else {
            return change(&mut state, now);
        };
        if let Err(e) = file.lock() {
            tracing::debug!(path = %path.display(), error = %e, "rate-limit state file not locked");
            return change(&mut state, now);
        }
        let clock = Clock::now(now);
        if let Some(shared) = read_shared(&mut file) {
            shared.merge_into(&mut state, &clock);
        }
        let out = change(&mut state, now);
        if let Err(e) = write_shared(&mut file, &SharedState::of(&state, &clock)) {
            tracing::debug!(path = %path.display(), error = %e, "rate-limit state not written");
        }
        let _ = file.unlock();
        state.handle = Some(file);
        out
    }

    /// Waits until one request may leave: after any cooldown, and paced
    /// when the pool is below the reserve.
    pub(crate) async fn acquire(&self) {
        let mut cooled = false;
        loop {
            // The guard lives only inside this block: a std mutex guard held
            // across an `.await` would make every caller's future `!Send`.
            let (wait, pace_until) = self.update(|state, now| match state.cooldown_until {
                Some(until) if until > now => (Some(until - now), None),
                _ => {
                    state.cooldown_until = None;
                    let slot = self.pace(state, now);
                    if let Some(rem) = state.remaining.as_mut() {
                        *rem = (*rem - 1.0).max(0.0);
                    }
                    (None, Some(slot.filter(|s| *s > now).map(|s| s - now)))
                }
            });
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
        self.update(|state, _| {
            if let Some(limit) = status.limit {
                state.limit = Some(limit);
            }
            if let Some(remaining) = status.remaining {
                state.reported_remaining = Some(remaining);
                state.remaining = Some(remaining as f64);
            }
        });
    }

    /// Starts (or extends) the shared cooldown after a 429.
    pub(crate) fn cool_down(&self, wait: Duration) {
        self.update(|state, now| {
            let until = now + wait;
            state.remaining = Some(0.0);
            if state.cooldown_until.is_none_or(|c| c < until) {
                state.cooldown_until = Some(until);
            }
        });
    }
}

/// This process's clock and the wall clock at one moment: the state file
/// holds wall-clock times, which mean the same in every process.
struct Clock {
    instant: Instant,
    epoch_ms: u64,
}

impl Clock {
    fn now(instant: Instant) -> Self {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self { instant, epoch_ms }
    }

    /// A future wall-clock time as an instant of this process; a past one
    /// as none.
    fn instant_of(&self, epoch_ms: u64) -> Option<Instant> {
        let ahead = epoch_ms.checked_sub(self.epoch_ms)?;
        Some(self.instant + Duration::from_millis(ahead))
    }

    fn epoch_of(&self, instant: Option<Instant>) -> u64 {
        instant
            .and_then(|i| i.checked_duration_since(self.instant))
            .map_or(0, |d| {
                self.epoch_ms
                    .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            })
    }
}

/// What processes share: one line of numbers, 0 for none.
#[derive(Debug, PartialEq)]
struct SharedState {
    limit: u64,
    remaining: f64,
    reported_remaining: u64,
    next_slot_ms: u64,
    cooldown_until_ms: u64,
}

impl SharedState {
    fn of(state: &State, clock: &Clock) -> Self {
        Self {
            limit: state.limit.unwrap_or(0),
            remaining: state.remaining.unwrap_or(-1.0),
            reported_remaining: state.reported_remaining.map_or(0, |r| r.saturating_add(1)),
            next_slot_ms: clock.epoch_of(state.next_slot),
            cooldown_until_ms: clock.epoch_of(state.cooldown_until),
        }
    }

    /// The file is the tenant's state: every process writes its changes
    /// back, so what is there is at least as recent as this process's.
    fn merge_into(&self, state: &mut State, clock: &Clock) {
        if self.limit > 0 {
            state.limit = Some(self.limit);
        }
        if self.remaining >= 0.0 {
            state.remaining = Some(self.remaining);
        }
        if self.reported_remaining > 0 {
            state.reported_remaining = Some(self.reported_remaining - 1);
        }
        state.next_slot = clock.instant_of(self.next_slot_ms);
        state.cooldown_until = clock.instant_of(self.cooldown_until_ms);
    }

    fn parse(text: &str) -> Option<Self> {
        let mut fields = text.split_whitespace();
        let mut next = || fields.next();
        Some(Self {
            limit: next()?.parse().ok()?,
            remaining: next()?.parse().ok().filter(|r: &f64| r.is_finite())?,
            reported_remaining: next()?.parse().ok()?,
            next_slot_ms: next()?.parse().ok()?,
            cooldown_until_ms: next()?.parse().ok()?,
        })
    }

    /// One line of `RECORD_BYTES`, padded: written in place, the file never
    /// needs truncating.
    fn render(&self) -> String {
        let line = format!(
            "{} {} {} {} {}",
            self.limit,
            self.remaining,
            self.reported_remaining,
            self.next_slot_ms,
            self.cooldown_until_ms
        );
        format!("{line:<width$}\n", width = RECORD_BYTES - 1)
    }
}

/// The length of the state file's one record.
const RECORD_BYTES: usize = 128;

/// Opens the state file, creating it owner-only.
fn open_shared(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn read_shared(file: &mut std::fs::File) -> Option<SharedState> {
    let mut text = String::new();
    file.rewind().ok()?;
    // A few dozen bytes; anything longer is not ours.
    file.take(256).read_to_string(&mut text).ok()?;
    SharedState::parse(&text)
}

fn write_shared(file: &mut std::fs::File, shared: &SharedState) -> std::io::Result<()> {
    file.rewind()?;
    file.write_all(shared.render().as_bytes())
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
    async fn limiters_of_separate_processes_share_the_pool_through_the_file() {
        // Two limiters with their own state stand for two processes.
        let dir = std::env::temp_dir().join(format!("falcon-ratelimit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pool");
        let _ = std::fs::remove_file(&path);
        let a = RateLimiter::new().reserve(0.1).shared_through(&path);
        let b = RateLimiter::new().reserve(0.1).shared_through(&path);
        assert!(!a.same_as(&b));

        // What one learns from a response, the other knows.
        a.record(RateLimitStatus {
            limit: Some(600),
            remaining: Some(30),
        });
        assert_eq!(
            b.status(),
            RateLimitStatus {
                limit: Some(600),
                remaining: Some(30)
            }
        );
        // Below the reserve both pace against one schedule: the second
        // request waits for the slot the first one left.
        let start = Instant::now();
        a.acquire().await;
        b.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(b.stats().paced, 1);

        // A 429 seen by one holds the other.
        b.cool_down(Duration::from_millis(150));
        assert!(a.cooldown_remaining().is_some());
        let start = Instant::now();
        a.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(140));
        assert_eq!(a.stats().cooled_down, 1);

        // A file that cannot be used leaves the limiter working on its own.
        let lost = RateLimiter::new().shared_through(dir.join("no-such-dir").join("pool"));
        lost.record(RateLimitStatus {
            limit: Some(6000),
            remaining: Some(5999),
        });
        assert_eq!(lost.status().remaining, Some(5999));
        lost.acquire().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_shared_line_reads_back_and_garbage_is_ignored() {
        let shared = SharedState {
            limit: 600,
            remaining: 12.5,
            reported_remaining: 14,
            next_slot_ms: 1_800_000_000_000,
            cooldown_until_ms: 0,
        };
        assert_eq!(shared.render().len(), RECORD_BYTES);
        assert_eq!(SharedState::parse(&shared.render()), Some(shared));
        assert_eq!(SharedState::parse("600 NaN 1 2 3"), None);
        assert_eq!(SharedState::parse("600 1"), None);
        assert_eq!(SharedState::parse("not numbers at all"), None);
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
