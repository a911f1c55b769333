//! Retry policy: waits after 429, capped exponential backoff with jitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How the client retries reads (and token requests) that failed for a
/// transient reason. Writes are never replayed once they may have arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of a read after HTTP 429.
    pub max_rate_limit_retries: u32,
    /// Retries of a read after a 5xx answer or a transport error.
    pub max_transient_retries: u32,
    /// Longest wait honoured for `X-Ratelimit-Retryafter`; longer waits are
    /// clamped to it.
    pub max_retry_after: Duration,
    /// First backoff step; doubled per attempt.
    pub backoff_base: Duration,
    /// Cap of one backoff step.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_rate_limit_retries: 5,
            max_transient_retries: 3,
            max_retry_after: Duration::from_secs(60),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (errors surface at once).
    pub fn none() -> Self {
        Self {
            max_rate_limit_retries: 0,
            max_transient_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff before retry number `attempt` (0-based): `base * 2^attempt`
    /// capped at `backoff_max`, with "equal jitter" (half fixed, half random).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.backoff_max);
        let half = exp / 2;
        half + jitter(exp - half)
    }

    /// The wait before retrying a 429, from the `X-Ratelimit-Retryafter`
    /// value (absolute epoch seconds, or milliseconds when above 10^12),
    /// clamped to `[0, max_retry_after]`. `None` when the header is missing
    /// or unreadable.
    pub(crate) fn retry_after_wait(
        &self,
        header: Option<&str>,
        now: SystemTime,
    ) -> Option<Duration> {
        let raw = header?.trim();
        let value: f64 = raw.parse().ok()?;
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        let target_ms = if value > 1e12 { value } else { value * 1000.0 };
        let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis() as f64;
        let wait_ms = (target_ms - now_ms).max(0.0);
        Some(Duration::from_millis(wait_ms as u64).min(self.max_retry_after))
    }
}

static JITTER_STATE: AtomicU64 = AtomicU64::new(0);

/// A pseudo-random duration in `[0, max]` (splitmix64 over a shared
/// counter seeded from the clock; not for cryptography).
pub(crate) fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = JITTER_STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let max_nanos = max.as_nanos().min(u128::from(u64::MAX)) as u64;
    Duration::from_nanos(z % max_nanos.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_milliseconds() {
        let p = RetryPolicy::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            p.retry_after_wait(Some("1700000005"), now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            p.retry_after_wait(Some("1700000002500"), now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            p.retry_after_wait(Some("1699999990"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            p.retry_after_wait(Some("1700009999"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(p.retry_after_wait(Some("soon"), now), None);
        assert_eq!(p.retry_after_wait(None, now), None);
        let short = RetryPolicy {
            max_retry_after: Duration::from_secs(2),
            ..p
        };
        assert_eq!(
            short.retry_after_wait(Some("1700000005"), now),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            let d = p.backoff(attempt);
            assert!(d <= p.backoff_max, "{attempt}: {d:?}");
            let floor =
                (p.backoff_base.saturating_mul(1 << attempt.min(20))).min(p.backoff_max) / 2;
            assert!(d >= floor, "{attempt}: {d:?}");
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
