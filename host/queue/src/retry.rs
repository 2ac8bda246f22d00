//! Retry backoff: exponential, capped, with jitter.

use std::time::Duration;

use rand::Rng;

/// How long a failed attempt waits before the next one.
///
/// The delay before attempt `n + 1` (after attempt `n` failed) is
/// `min(max, base * 2^(n-1))`, shortened by a random fraction of up to `jitter` so that
/// jobs failing together (an outage) do not retry in lockstep. Jitter only shortens the
/// delay, so `max` is a true upper bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Fraction in `0.0..=1.0` of the delay that is randomized away.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 1 s, doubling, capped at 5 min, 20 % jitter.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay after attempt number `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        // 2^31 * base overflows any sane Duration; the cap applies long before.
        let exponent = attempt.saturating_sub(1).min(31);
        let raw = self
            .base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return raw;
        }
        let cut: f64 = rand::rng().random_range(0.0..=jitter);
        raw.mul_f64(1.0 - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters_downwards() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
        };
        assert_eq!(policy.delay(1), Duration::from_millis(100));
        assert_eq!(policy.delay(2), Duration::from_millis(200));
        assert_eq!(policy.delay(4), Duration::from_millis(800));
        assert_eq!(policy.delay(5), Duration::from_secs(1));
        assert_eq!(policy.delay(u32::MAX), Duration::from_secs(1));

        let jittered = RetryPolicy {
            jitter: 0.5,
            ..policy
        };
        for _ in 0..100 {
            let d = jittered.delay(3);
            assert!(d <= Duration::from_millis(400) && d >= Duration::from_millis(200));
        }
    }
}
