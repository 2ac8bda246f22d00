//! A small JSON Schema validator for plugin configs: the subset plugins use
//! (`type`, `properties`, `required`, `additionalProperties`, `enum`, `const`, `minimum`,
//! `maximum`, `minLength`, `maxLength`, `items`, `minItems`, `maxItems`). Other keywords
//! are ignored, as JSON Schema says of unknown keywords. Errors name the JSON pointer.

use serde_json::Value;

/// Checks `value` against `schema`; the error says where and what to fix.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, wanted: &str) -> bool {
    let actual = type_name(v);
    actual == wanted
        || (wanted == "number" && actual == "integer")
        || (wanted == "integer" && v.as_f64().is_some_and(|f| f.fract() == 0.0))
}

fn at(path: &str) -> &str {
    if path.is_empty() { "config" } else { path }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(()); // `true` or a non-object schema accepts anything
    };
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.is_empty() && !allowed.iter().any(|w| has_type(value, w)) {
            return Err(format!(
                "{}: expected {}, got {}",
                at(path),
                allowed.join(" or "),
                type_name(value)
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!(
            "{}: must be one of {}, got {value}",
            at(path),
            list.join(", ")
        ));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        return Err(format!("{}: must be {c}", at(path)));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{}: {n} is below the minimum {min}", at(path)));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{}: {n} is above the maximum {max}", at(path)));
        }
    }
    if let Value::String(s) = value {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            return Err(format!("{}: shorter than {min} characters", at(path)));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            return Err(format!("{}: longer than {max} characters", at(path)));
        }
    }
    if let Value::Array(items) = value {
        let n = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            return Err(format!("{}: fewer than {min} items", at(path)));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            return Err(format!("{}: more than {max} items", at(path)));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{path}/{i}"))?;
            }
        }
    }
    if let Value::Object(fields) = value {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    return Err(format!("{}: missing required field `{name}`", at(path)));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let field_path = format!("{path}/{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => check(field_schema, field, &field_path)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let known: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        return Err(format!(
                            "{}: unknown field `{name}` (known: {})",
                            at(path),
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ));
                    }
                    Some(extra @ Value::Object(_)) => check(extra, field, &field_path)?,
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;
    use serde_json::json;

    #[test]
    fn accepts_and_rejects_with_paths() {
        let schema = json!({"type":"object","required":["mode"],"additionalProperties":false,"properties":{
            "mode":{"enum":["a","b"]},
            "n":{"type":"integer","minimum":1,"maximum":10},
            "tags":{"type":"array","items":{"type":"string","maxLength":3}}}});
        assert!(validate(&schema, &json!({"mode":"a","n":3,"tags":["x"]})).is_ok());
        assert_eq!(
            validate(&schema, &json!({})).unwrap_err(),
            "config: missing required field `mode`"
        );
        assert!(
            validate(&schema, &json!({"mode":"c"}))
                .unwrap_err()
                .starts_with("/mode: must be one of")
        );
        assert!(
            validate(&schema, &json!({"mode":"a","n":11}))
                .unwrap_err()
                .contains("above the maximum 10")
        );
        assert!(
            validate(&schema, &json!({"mode":"a","n":1.5}))
                .unwrap_err()
                .contains("expected integer")
        );
        assert!(
            validate(&schema, &json!({"mode":"a","tags":["long"]}))
                .unwrap_err()
                .starts_with("/tags/0")
        );
        assert!(
            validate(&schema, &json!({"mode":"a","x":1}))
                .unwrap_err()
                .contains("unknown field `x`")
        );
        assert!(
            validate(&schema, &json!([]))
                .unwrap_err()
                .contains("expected object")
        );
    }
}
