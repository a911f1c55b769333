//! Falcon's rate limits: refilling token buckets keyed by CID or by source IP.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A pool of buckets that share a capacity and refill rate.
#[derive(Debug)]
pub(crate) struct Pool {
    capacity: u32,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The outcome of taking one request from a bucket, with what the headers report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// When refused: the Unix second at which one request is available again.
    pub(crate) retry_after: Option<u64>,
}

impl Pool {
    /// `capacity` requests at once, refilled continuously over a minute: Falcon's
    /// "6000 per minute" is a bucket of 6000 refilling at 100 per second.
    pub(crate) fn per_minute(capacity: u32) -> Self {
        Self::new(capacity, f64::from(capacity) / 60.0)
    }

    pub(crate) fn new(capacity: u32, per_second: f64) -> Self {
        Self {
            capacity,
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn take(&self, key: &str) -> Decision {
        self.take_at(key, Instant::now(), SystemTime::now())
    }

    fn take_at(&self, key: &str, now: Instant, wall: SystemTime) -> Decision {
        let capacity = f64::from(self.capacity);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(capacity);
        bucket.refilled = now;

        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return self.decision(true, bucket.tokens, None);
        }
        let wait = self.wait_for_one(bucket.tokens);
        self.decision(false, bucket.tokens, Some(retry_second(wall, wait)))
    }

    fn wait_for_one(&self, tokens: f64) -> Duration {
        if self.per_second <= 0.0 {
            // A zero budget never refills; a minute is as good an answer as any.
            return Duration::from_secs(60);
        }
        Duration::from_secs_f64((1.0 - tokens) / self.per_second)
    }

    fn decision(&self, allowed: bool, tokens: f64, retry_after: Option<u64>) -> Decision {
        let remaining = tokens.floor().clamp(0.0, f64::from(self.capacity)) as u32;
        Decision {
            allowed,
            limit: self.capacity,
            remaining,
            retry_after,
        }
    }
}

/// The first whole Unix second at or after `wall + wait`.
fn retry_second(wall: SystemTime, wait: Duration) -> u64 {
    let at = (wall + wait).duration_since(UNIX_EPOCH).unwrap_or_default();
    at.as_secs() + u64::from(at.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_then_refuses_with_a_retry_time() {
        let pool = Pool::per_minute(3);
        let (now, wall) = (Instant::now(), UNIX_EPOCH + Duration::from_secs(1_000));
        let remaining: Vec<u32> = (0..3)
            .map(|_| pool.take_at("cid", now, wall).remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = pool.take_at("cid", now, wall);
        assert!(!refused.allowed);
        // One request refills every 20 s at 3 per minute.
        assert_eq!(refused.retry_after, Some(1_020));
    }

    #[test]
    fn refills_over_time_up_to_capacity() {
        let pool = Pool::per_minute(60);
        let (start, wall) = (Instant::now(), SystemTime::now());
        for _ in 0..60 {
            assert!(pool.take_at("cid", start, wall).allowed);
        }
        assert!(!pool.take_at("cid", start, wall).allowed);
        let later = start + Duration::from_millis(2_500);
        let after = pool.take_at("cid", later, wall);
        assert!(after.allowed);
        assert_eq!(after.remaining, 1);
        let much_later = later + Duration::from_secs(3_600);
        assert_eq!(pool.take_at("cid", much_later, wall).remaining, 59);
    }

    #[test]
    fn keys_are_independent() {
        let pool = Pool::per_minute(1);
        assert!(pool.take("a").allowed);
        assert!(pool.take("b").allowed);
        assert!(!pool.take("a").allowed);
    }

    #[test]
    fn zero_budget_always_refuses() {
        let decision = Pool::per_minute(0).take("cid");
        assert!(!decision.allowed && decision.retry_after.is_some());
    }
}
