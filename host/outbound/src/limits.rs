//! Per-request limits: a request may lower, never raise, the policy's limits.

use std::time::Duration;

use crate::policy::OutboundPolicy;

/// Limits for one request. `None` keeps the policy's value; a value above the
/// policy's is ignored (the policy is the ceiling).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestLimits {
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Time until response headers.
    pub first_byte_timeout: Option<Duration>,
    /// Time for the whole exchange, body included.
    pub total_timeout: Option<Duration>,
    /// Largest response body, in bytes.
    pub max_body_bytes: Option<u64>,
    /// Redirects followed.
    pub max_redirects: Option<u32>,
}

/// The limits in force for one request: the policy's, lowered by the request's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time until response headers.
    pub first_byte_timeout: Duration,
    /// Time for the whole exchange.
    pub total_timeout: Duration,
    /// Largest response body, in bytes.
    pub max_body_bytes: u64,
    /// Redirects followed.
    pub max_redirects: u32,
}

impl RequestLimits {
    /// Combines with the policy: for each limit, the lower of the two.
    pub fn effective(&self, policy: &OutboundPolicy) -> EffectiveLimits {
        fn lower<T: Ord + Copy>(ceiling: T, requested: Option<T>) -> T {
            requested.map_or(ceiling, |r| r.min(ceiling))
        }
        let ms = Duration::from_millis;
        EffectiveLimits {
            connect_timeout: lower(ms(policy.connect_timeout_ms), self.connect_timeout),
            first_byte_timeout: lower(ms(policy.first_byte_timeout_ms), self.first_byte_timeout),
            total_timeout: lower(ms(policy.total_timeout_ms), self.total_timeout),
            max_body_bytes: lower(policy.max_body_bytes, self.max_body_bytes),
            max_redirects: lower(policy.max_redirects, self.max_redirects),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_lower_but_never_raise() {
        let policy = OutboundPolicy::default();
        let limits = RequestLimits {
            connect_timeout: Some(Duration::from_millis(100)),
            total_timeout: Some(Duration::from_secs(3600)),
            max_body_bytes: Some(u64::MAX),
            max_redirects: Some(0),
            first_byte_timeout: None,
        };
        let eff = limits.effective(&policy);
        assert_eq!(eff.connect_timeout, Duration::from_millis(100));
        assert_eq!(
            eff.total_timeout,
            Duration::from_millis(policy.total_timeout_ms)
        );
        assert_eq!(eff.max_body_bytes, policy.max_body_bytes);
        assert_eq!(eff.max_redirects, 0);
        assert_eq!(
            eff.first_byte_timeout,
            Duration::from_millis(policy.first_byte_timeout_ms)
        );
    }
}
