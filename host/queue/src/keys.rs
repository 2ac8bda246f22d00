//! API keys: generation and hashing. Only the SHA-256 of a secret is ever stored.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Prefix of every secret, so leaked keys are recognizable by secret scanners.
pub const KEY_PREFIX: &str = "fp_";

/// A stored API key (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Key id; use it as the job owner.
    pub id: Uuid,
    /// Human label.
    pub name: String,
    /// Admin keys may see every job and manage keys.
    pub admin: bool,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// After this the key is refused (`None`: never expires).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked; a revoked key is refused.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// Whether the key may be used at `now` (neither revoked nor expired).
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A fresh secret: `fp_` + 32 random bytes in hex.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a secret. A plain hash suffices: secrets carry 256 bits of entropy,
/// so there is nothing for a slow password hash to protect.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 3 + 64);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert!(!hash_secret(&a).contains(&a[3..]));
    }
}
