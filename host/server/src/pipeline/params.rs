//! Job parameters: what a pipeline lets a client set, checked at submission, and the
//! `$params.NAME` / `$input.youtube_id` / `$settings.NAME` placeholders in step configs.

use serde::Serialize;
use serde_json::{Map, Value};

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// Any JSON number.
    Number,
    /// A whole number.
    Integer,
    /// A string.
    String,
    /// true or false.
    Boolean,
}

impl ParamType {
    /// Parses a type name of a pipeline file.
    pub fn parse(name: &str) -> Option<ParamType> {
        Some(match name {
            "number" => ParamType::Number,
            "integer" => ParamType::Integer,
            "string" => ParamType::String,
            "boolean" => ParamType::Boolean,
            _ => return None,
        })
    }
}

/// A parameter a pipeline accepts.
#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Value when the client gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The client must give it.
    pub required: bool,
    /// Smallest number allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Largest number allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Allowed strings.
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// What it does.
    pub description: String,
}

impl ParamSpec {
    /// Checks one value; the message names the parameter and what is allowed.
    pub fn check(&self, name: &str, value: &Value) -> Result<(), String> {
        let type_ok = match self.kind {
            ParamType::Number => value.is_number(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::String => value.is_string(),
            ParamType::Boolean => value.is_boolean(),
        };
        if !type_ok {
            return Err(format!(
                "parameter `{name}` must be a {}, not {value}",
                serde_json::to_value(self.kind)
                    .unwrap()
                    .as_str()
                    .unwrap_or("value")
            ));
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = self.minimum
                && n < min
            {
                return Err(format!(
                    "parameter `{name}` must be at least {min}, not {n}"
                ));
            }
            if let Some(max) = self.maximum
                && n > max
            {
                return Err(format!("parameter `{name}` must be at most {max}, not {n}"));
            }
        }
        if let (Some(choices), Some(s)) = (&self.choices, value.as_str())
            && !choices.iter().any(|c| c == s)
        {
            return Err(format!(
                "parameter `{name}` must be one of {}, not {s:?}",
                choices.join(", ")
            ));
        }
        Ok(())
    }

    /// A value standing in for the parameter when a pipeline is checked at load time.
    pub fn sample(&self) -> Value {
        if let Some(d) = &self.default {
            return d.clone();
        }
        match self.kind {
            ParamType::Number | ParamType::Integer => {
                let n = self
                    .minimum
                    .unwrap_or(0.0)
                    .min(self.maximum.unwrap_or(f64::MAX));
                if self.kind == ParamType::Integer {
                    Value::from(n.ceil() as i64)
                } else {
                    Value::from(n)
                }
            }
            ParamType::String => self
                .choices
                .as_ref()
                .and_then(|c| c.first().cloned())
                .map(Value::from)
                .unwrap_or_else(|| Value::from("")),
            ParamType::Boolean => Value::from(false),
        }
    }
}

/// Checks a job's `params` against the pipeline's specs and fills in defaults.
pub fn resolve_params(
    specs: &std::collections::BTreeMap<String, ParamSpec>,
    given: &Value,
) -> Result<Map<String, Value>, String> {
    let given = match given {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        other => return Err(format!("`params` must be a JSON object, not {other}")),
    };
    for name in given.keys() {
        if !specs.contains_key(name) {
            let known: Vec<&str> = specs.keys().map(String::as_str).collect();
            return Err(if known.is_empty() {
                format!("unknown parameter `{name}`: this pipeline takes no parameters")
            } else {
                format!(
                    "unknown parameter `{name}`; this pipeline takes: {}",
                    known.join(", ")
                )
            });
        }
    }
    let mut out = Map::new();
    for (name, spec) in specs {
        match given.get(name).or(spec.default.as_ref()) {
            Some(value) => {
                spec.check(name, value)?;
                out.insert(name.clone(), value.clone());
            }
            None if spec.required => return Err(format!("parameter `{name}` is required")),
            None => {}
        }
    }
    Ok(out)
}

/// Values a step config's placeholders are replaced with.
pub struct Placeholders<'a> {
    /// The job's resolved parameters.
    pub params: &'a Map<String, Value>,
    /// `input.*` values (e.g. `youtube_id`).
    pub input: &'a Map<String, Value>,
    /// `settings.*` values (e.g. `thumbnail_base_url`).
    pub settings: &'a Map<String, Value>,
}

/// Replaces every string that is exactly `$params.X`, `$input.X` or `$settings.X`.
/// A parameter left unset removes its key (so the plugin's own default applies).
pub fn substitute(config: &Value, values: &Placeholders<'_>) -> Result<Value, String> {
    match config {
        Value::String(s) => match placeholder(s) {
            Some((scope, key)) => {
                let map = match scope {
                    "params" => values.params,
                    "input" => values.input,
                    "settings" => values.settings,
                    _ => return Err(format!("unknown placeholder scope in {s:?}")),
                };
                Ok(map.get(key).cloned().unwrap_or(Value::Null))
            }
            None => Ok(config.clone()),
        },
        Value::Array(items) => items
            .iter()
            .map(|v| substitute(v, values))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let v = substitute(v, values)?;
                if !v.is_null() {
                    out.insert(k.clone(), v);
                }
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// `("params", "at_seconds")` for `"$params.at_seconds"`.
pub fn placeholder(s: &str) -> Option<(&str, &str)> {
    s.strip_prefix('$')?.split_once('.')
}

/// Every placeholder string in a config, for load-time checks.
pub fn placeholders_in(config: &Value, out: &mut Vec<String>) {
    match config {
        Value::String(s) if placeholder(s).is_some() => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| placeholders_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| placeholders_in(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: ParamType) -> ParamSpec {
        ParamSpec {
            kind,
            default: None,
            required: false,
            minimum: Some(0.0),
            maximum: Some(10.0),
            choices: None,
            description: String::new(),
        }
    }

    #[test]
    fn params_are_checked_and_defaulted() {
        let mut specs = std::collections::BTreeMap::new();
        let mut at = spec(ParamType::Number);
        at.default = Some(json!(1.5));
        specs.insert("at".to_owned(), at);
        specs.insert("n".to_owned(), spec(ParamType::Integer));
        assert_eq!(resolve_params(&specs, &json!({})).unwrap()["at"], 1.5);
        assert_eq!(resolve_params(&specs, &json!({"n": 3})).unwrap()["n"], 3);
        let err = resolve_params(&specs, &json!({"x": 1})).unwrap_err();
        assert!(
            err.contains("unknown parameter `x`") && err.contains("at, n"),
            "{err}"
        );
        let err = resolve_params(&specs, &json!({"n": 2.5})).unwrap_err();
        assert!(err.contains("integer"), "{err}");
        let err = resolve_params(&specs, &json!({"at": 11})).unwrap_err();
        assert!(err.contains("at most 10"), "{err}");
        assert!(resolve_params(&specs, &json!([1])).is_err());
    }

    #[test]
    fn placeholders_are_replaced_and_unset_ones_removed() {
        let params = json!({"at": 2}).as_object().unwrap().clone();
        let input = json!({"youtube_id": "abc"}).as_object().unwrap().clone();
        let settings = Map::new();
        let values = Placeholders {
            params: &params,
            input: &input,
            settings: &settings,
        };
        let config = json!({"at_seconds": "$params.at", "id": "$input.youtube_id",
                            "w": "$params.width", "fixed": "$notaplaceholder"});
        let out = substitute(&config, &values).unwrap();
        assert_eq!(
            out,
            json!({"at_seconds": 2, "id": "abc", "fixed": "$notaplaceholder"})
        );
    }
}
