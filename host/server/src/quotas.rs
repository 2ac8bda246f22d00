//! Fairness between keys (`[quotas]`): a request rate per key, kept in each process as a
//! token bucket. (Jobs held in the queue per key are counted in the database, by
//! `api::submit`, so that quota holds across processes.) Admin keys are exempt.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::config::QuotaSettings;

/// Token buckets by key id.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are full again and may be forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// A limiter from the settings (`requests_per_second = 0` turns it off).
    pub fn new(settings: &QuotaSettings) -> RateLimiter {
        RateLimiter {
            rate: f64::from(settings.requests_per_second),
            burst: f64::from(settings.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token for `key`; `Err(wait)` says how long until one is free.
    pub fn check(&self, key: Uuid) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: Uuid, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < FORGET_AFTER);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(&QuotaSettings {
            requests_per_second: rate,
            burst,
            ..QuotaSettings::default()
        })
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = limiter(10, 5);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let t = Instant::now();
        for _ in 0..5 {
            assert!(l.check_at(a, t).is_ok());
        }
        let wait = l.check_at(a, t).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        // Another key has its own bucket.
        assert!(l.check_at(b, t).is_ok());
        // 100 ms later one more token is there, and only one.
        let later = t + Duration::from_millis(100);
        assert!(l.check_at(a, later).is_ok());
        assert!(l.check_at(a, later).is_err());
    }

    #[test]
    fn zero_rate_is_off() {
        let l = limiter(0, 1);
        let k = Uuid::now_v7();
        for _ in 0..1000 {
            assert!(l.check(k).is_ok());
        }
    }
}
