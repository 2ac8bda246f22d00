//! Fairness between keys (`[quotas]`): a request rate per key, kept in each process as a
//! token bucket, and a cap on the event streams a key holds open in each process. (Jobs held in the queue per key are counted in the database, by
//! `api::submit`, so that quota holds across processes.) Admin keys are exempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// Event streams open per key in this process (`quotas.max_event_streams`; 0 = off).
pub struct StreamLimiter {
    max: u32,
    open: Mutex<HashMap<Uuid, u32>>,
}

/// One open stream, counted until dropped (when the stream ends or its client goes).
pub struct StreamGuard {
    limiter: Arc<StreamLimiter>,
    key: Uuid,
}

impl StreamLimiter {
    /// A limiter from the settings.
    pub fn new(settings: &QuotaSettings) -> Arc<StreamLimiter> {
        Arc::new(StreamLimiter {
            max: settings.max_event_streams,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The cap (0 = off).
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Counts one more stream for `key`; `None` when the key already holds `max`.
    /// A limit of 0 counts nothing and always grants.
    pub fn acquire(self: &Arc<Self>, key: Uuid) -> Option<StreamGuard> {
        if self.max > 0 {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(key).or_insert(0);
            if *n >= self.max {
                return None;
            }
            *n += 1;
        }
        Some(StreamGuard {
            limiter: self.clone(),
            key,
        })
    }

    /// Streams `key` holds open now.
    pub fn open(&self, key: Uuid) -> u32 {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&key).copied().unwrap_or(0)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.limiter.max == 0 {
            return;
        }
        let mut open = self.limiter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
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

    #[test]
    fn streams_are_capped_per_key_and_released_on_drop() {
        let l = StreamLimiter::new(&QuotaSettings {
            max_event_streams: 2,
            ..QuotaSettings::default()
        });
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = l.acquire(a).unwrap();
        let _second = l.acquire(a).unwrap();
        assert!(l.acquire(a).is_none());
        assert!(l.acquire(b).is_some(), "another key has its own count");
        drop(first);
        assert_eq!(l.open(a), 1);
        assert!(l.acquire(a).is_some());
        let off = StreamLimiter::new(&QuotaSettings {
            max_event_streams: 0,
            ..QuotaSettings::default()
        });
        let held: Vec<_> = (0..100).map(|_| off.acquire(a).unwrap()).collect();
        assert_eq!((held.len(), off.open(a)), (100, 0));
    }
}
