//! Request fingerprints for idempotency keys.
//!
//! Two submissions with the same key are "the same request" when pipeline, input and
//! params are equal as JSON values. We hash a canonical encoding (object keys sorted) so
//! that key order in the client's body does not matter, whatever `serde_json` features
//! other crates in the build enable (`preserve_order` would keep insertion order).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the canonical `(pipeline, input, params)`.
pub(crate) fn request_hash(pipeline: &str, input: &Value, params: &Value) -> String {
    let mut hasher = Sha256::new();
    write_canonical(&mut hasher, &Value::String(pipeline.to_owned()));
    hasher.update(b"\x1f");
    write_canonical(&mut hasher, input);
    hasher.update(b"\x1f");
    write_canonical(&mut hasher, params);
    hex::encode(hasher.finalize())
}

fn write_canonical(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            hasher.update(b"{");
            for (key, item) in entries {
                write_canonical(hasher, &Value::String(key.clone()));
                hasher.update(b":");
                write_canonical(hasher, item);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                write_canonical(hasher, item);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        // Scalars: serde_json's encoding is already canonical.
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_but_values_do() {
        let a = request_hash(
            "p",
            &json!({"a": 1, "b": [1, {"x": 2, "y": 3}]}),
            &json!({}),
        );
        let b = request_hash(
            "p",
            &json!({"b": [1, {"y": 3, "x": 2}], "a": 1}),
            &json!({}),
        );
        assert_eq!(a, b);
        assert_ne!(a, request_hash("q", &json!({"a": 1}), &json!({})));
        assert_ne!(
            request_hash("p", &json!({"a": 1}), &json!({})),
            request_hash("p", &json!({"a": "1"}), &json!({}))
        );
        assert_ne!(
            request_hash("p", &json!({"a": 1}), &json!({})),
            request_hash("p", &json!({}), &json!({"a": 1}))
        );
    }
}
