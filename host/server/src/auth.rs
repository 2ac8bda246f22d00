//! API keys: `Authorization: Bearer <key>`, verified against the stored hash. A verified
//! key is trusted for a second without asking the database again, so a polling client
//! costs one key lookup a second, and a revoked (or deleted) key is refused by every
//! process within about a second. Expiry is checked on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use framepipe_queue::{KeyInfo, Store};

use crate::api::ApiError;
use crate::app::App;

/// How long a verified key is trusted without asking the store again: the bound on how
/// long a revoked key keeps working (docs/limits.md promises 2 s).
const CACHE_FOR: Duration = Duration::from_secs(1);

/// Verified keys by secret hash.
pub struct KeyCache {
    store: Store,
    cache: Mutex<HashMap<String, (KeyInfo, Instant)>>,
}

impl KeyCache {
    /// An empty cache over the store's keys.
    pub fn new(store: Store) -> KeyCache {
        KeyCache {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key for a secret, or `None` if it is not a valid key.
    pub async fn verify(&self, secret: &str) -> Result<Option<KeyInfo>, ApiError> {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        let now = chrono::Utc::now();
        if let Some((key, at)) = self.cache.lock().unwrap().get(&hash)
            && at.elapsed() < CACHE_FOR
        {
            return Ok(Some(key.clone()).filter(|k| k.usable_at(now)));
        }
        let key = self.store.verify_key(secret).await?;
        if let Some(key) = &key {
            let mut cache = self.cache.lock().unwrap();
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (key.clone(), Instant::now()));
        }
        Ok(key.filter(|k| k.usable_at(now)))
    }
}

/// The authenticated caller of a request.
pub struct Caller(pub KeyInfo);

impl Caller {
    /// The owner id of the caller's jobs and uploads.
    pub fn owner(&self) -> String {
        self.0.id.to_string()
    }

    /// Fails with 403 unless the key has the admin scope.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.admin {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ADMIN_REQUIRED",
                "this operation needs an admin key (framepipe keys create --admin)",
            ))
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized =
            |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing `Authorization: Bearer <key>` header; create a key with `framepipe keys create`"))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
        match app.keys.verify(secret).await? {
            Some(key) => {
                tracing::Span::current().record("key", key.name.as_str());
                if !key.admin
                    && let Err(wait) = app.rate.check(key.id)
                {
                    let seconds = wait.as_secs_f64().ceil() as u64;
                    return Err(ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "RATE_LIMITED",
                        format!(
                            "this key is over its {} requests per second; retry in {seconds} s",
                            app.config.file.quotas.requests_per_second
                        ),
                    )
                    .with_retry_after(seconds));
                }
                Ok(Caller(key))
            }
            None => Err(unauthorized(
                "unknown, revoked or expired API key; ask an admin for a new one",
            )),
        }
    }
}

/// A caller whose key has the admin scope; as an extractor of the request head it refuses
/// (403) before the handler reads any of the body.
pub struct Admin(pub Caller);

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, app).await?;
        caller.require_admin()?;
        Ok(Admin(caller))
    }
}

/// Parses a key lifetime: a number with a unit, `90s`, `15m`, `12h`, `30d` (or plain
/// seconds).
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a lifetime like 90s, 15m, 12h or 30d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("unknown unit in {text:?}; use s, m, h or d")),
    };
    if seconds == 0 {
        return Err("a key's lifetime must be longer than 0 seconds".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_lifetime;
    use std::time::Duration;

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(parse_lifetime("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_lifetime("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_lifetime("2w").is_err());
        assert!(parse_lifetime("0s").is_err());
        assert!(parse_lifetime("h").is_err());
    }
}
