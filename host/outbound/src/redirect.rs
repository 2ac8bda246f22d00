//! The redirect policy: every hop is checked like the first URL.

use std::sync::Arc;

use reqwest::redirect::{Attempt, Policy};

use crate::error::OutboundError;
use crate::policy::OutboundPolicy;

/// A reqwest redirect policy that follows at most `max` redirects and, at
/// each hop, checks scheme, allow-list and IP literals before reqwest
/// connects. Names at a hop are judged by the resolver as usual.
pub(crate) fn checked(policy: Arc<OutboundPolicy>, max: u32) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        // `previous` holds every URL already requested, the original included,
        // so its length is the number of this redirect.
        if attempt.previous().len() > max as usize {
            return attempt.error(OutboundError::TooManyRedirects { max });
        }
        match policy.check_url(attempt.url()) {
            Ok(_) => attempt.follow(),
            Err(err) => {
                tracing::debug!(to = %attempt.url(), %err, "refusing redirect");
                attempt.error(err)
            }
        }
    })
}
