//! A job's `input`, checked for syntax only (the request path never touches the network).

use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use crate::pipeline::InputKind;

/// A parsed job input.
#[derive(Debug, Clone, PartialEq)]
pub enum JobInput {
    /// Nothing.
    None,
    /// A file uploaded before.
    Upload(Uuid),
    /// A direct media URL.
    Url(Url),
    /// A YouTube video.
    Youtube(framepipe_youtube::YoutubeVideo),
}

/// Why an input was refused: a code and a message that says what to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// Machine-readable code (the old app's `INVALID_YOUTUBE_URL`, `MISSING_INPUT`, ...).
    pub code: &'static str,
    /// What to fix.
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> InputError {
    InputError {
        code,
        message: message.into(),
    }
}

impl JobInput {
    /// Parses `{"upload": id}`, `{"url": "..."}`, `{"youtube_url": "..."}` or `{}`/null.
    pub fn parse(value: &Value) -> Result<JobInput, InputError> {
        let map = match value {
            Value::Null => return Ok(JobInput::None),
            Value::Object(map) => map,
            other => {
                return Err(err(
                    "INVALID_INPUT",
                    format!(
                        "`input` must be an object such as {{\"url\": \"https://...\"}}, not {other}"
                    ),
                ));
            }
        };
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        match keys.as_slice() {
            [] => Ok(JobInput::None),
            ["upload"] => {
                let id = map["upload"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| {
                        err(
                            "INVALID_INPUT",
                            "`input.upload` must be an upload id returned by POST /api/uploads",
                        )
                    })?;
                Ok(JobInput::Upload(id))
            }
            ["url"] => {
                let text = map["url"]
                    .as_str()
                    .ok_or_else(|| err("INVALID_URL", "`input.url` must be a string"))?;
                parse_media_url(text).map(JobInput::Url)
            }
            ["youtube_url"] => {
                let text = map["youtube_url"].as_str().ok_or_else(|| {
                    err(
                        "INVALID_YOUTUBE_URL",
                        "`input.youtube_url` must be a string",
                    )
                })?;
                framepipe_youtube::parse(text)
                    .map(JobInput::Youtube)
                    .map_err(|e| err(e.code(), e.to_string()))
            }
            _ => Err(err(
                "INVALID_INPUT",
                format!(
                    "`input` must have exactly one of `upload`, `url` or `youtube_url`; got: {}",
                    keys.join(", ")
                ),
            )),
        }
    }

    /// The kind of input.
    pub fn kind(&self) -> InputKind {
        match self {
            JobInput::None => InputKind::None,
            JobInput::Upload(_) => InputKind::Upload,
            JobInput::Url(_) => InputKind::Url,
            JobInput::Youtube(_) => InputKind::Youtube,
        }
    }

    /// The normalized form stored with the job.
    pub fn to_json(&self) -> Value {
        match self {
            JobInput::None => json!({}),
            JobInput::Upload(id) => json!({"upload": id}),
            JobInput::Url(url) => json!({"url": url.as_str()}),
            JobInput::Youtube(v) => json!({
                "youtube_url": v.canonical_url,
                "youtube_id": v.id,
                "start_seconds": v.start_seconds,
            }),
        }
    }

    /// The `$input.*` values step configs may use (`youtube_id` for YouTube inputs).
    pub fn placeholder_values(&self) -> serde_json::Map<String, Value> {
        let mut values = serde_json::Map::new();
        if let JobInput::Youtube(v) = self {
            values.insert("youtube_id".into(), Value::from(v.id.clone()));
        }
        values
    }

    /// Reads back the stored form.
    pub fn from_stored(value: &Value) -> Result<JobInput, InputError> {
        if let Some(url) = value.get("youtube_url") {
            let mut parsed = JobInput::parse(&json!({"youtube_url": url}))?;
            if let JobInput::Youtube(v) = &mut parsed {
                v.start_seconds = value["start_seconds"].as_u64().map(|s| s as u32);
            }
            return Ok(parsed);
        }
        JobInput::parse(value)
    }
}

/// A direct media URL: http(s), a host, no credentials, at most 2,000 characters.
pub fn parse_media_url(text: &str) -> Result<Url, InputError> {
    if text.len() > 2000 {
        return Err(err(
            "INVALID_URL",
            "the URL is longer than 2,000 characters",
        ));
    }
    let url = Url::parse(text.trim())
        .map_err(|e| err("INVALID_URL", format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(
            "INVALID_URL",
            format!(
                "only http and https URLs can be fetched, not {}:",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("INVALID_URL", format!("{text:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            "INVALID_URL",
            "URLs with credentials (user:password@) are not accepted",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse_and_round_trip() {
        assert_eq!(JobInput::parse(&json!({})).unwrap(), JobInput::None);
        assert_eq!(JobInput::parse(&Value::Null).unwrap(), JobInput::None);
        let yt =
            JobInput::parse(&json!({"youtube_url": "https://youtu.be/dQw4w9WgXcQ?t=90"})).unwrap();
        assert_eq!(yt.kind(), InputKind::Youtube);
        let stored = yt.to_json();
        assert_eq!(stored["youtube_id"], "dQw4w9WgXcQ");
        assert_eq!(stored["start_seconds"], 90);
        assert_eq!(JobInput::from_stored(&stored).unwrap(), yt);
        let url = JobInput::parse(&json!({"url": "https://example.com/a.mp4"})).unwrap();
        assert_eq!(JobInput::from_stored(&url.to_json()).unwrap(), url);
    }

    #[test]
    fn bad_inputs_get_specific_codes() {
        let code = |v: Value| JobInput::parse(&v).unwrap_err().code;
        assert_eq!(
            code(json!({"youtube_url": "https://www.youtube.com/playlist?list=PL1"})),
            "YOUTUBE_PLAYLIST_NOT_SUPPORTED"
        );
        assert_eq!(
            code(json!({"youtube_url": "https://vimeo.com/1"})),
            "INVALID_YOUTUBE_URL"
        );
        assert_eq!(code(json!({"url": "ftp://x/a.mp4"})), "INVALID_URL");
        assert_eq!(code(json!({"url": "https://u:p@x/a.mp4"})), "INVALID_URL");
        assert_eq!(
            code(json!({"url": "https://x/a.mp4", "upload": "y"})),
            "INVALID_INPUT"
        );
        assert_eq!(code(json!({"upload": "nope"})), "INVALID_INPUT");
        assert_eq!(code(json!("https://x")), "INVALID_INPUT");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Text that looks like a URL: a scheme, maybe credentials, a host (name, IP
        /// literal or nothing), a port and a path, each partly arbitrary.
        fn url_like() -> impl Strategy<Value = String> {
            (
                prop::sample::select(vec![
                    "http://", "https://", "HTTP://", "ftp://", "file://", "data:", "", "//",
                ]),
                prop::sample::select(vec!["", "", "u@", "u:p@", ":p@"]),
                prop::sample::select(vec![
                    "example.com",
                    "127.0.0.1",
                    "[::1]",
                    "0x7f.1",
                    "b\u{fc}cher.de",
                    "",
                    "%00",
                    ".",
                ]),
                prop::sample::select(vec!["", ":80", ":0", ":99999", ":"]),
                "[/a-z0-9?#%.\\\\ -]{0,30}",
            )
                .prop_map(|(s, u, h, p, rest)| format!("{s}{u}{h}{p}{rest}"))
        }

        fn check_url(text: &str) -> Result<(), TestCaseError> {
            match parse_media_url(text) {
                Ok(url) => {
                    prop_assert!(matches!(url.scheme(), "http" | "https"), "{url}");
                    prop_assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{url}");
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                    prop_assert!(text.len() <= 2000);
                }
                Err(e) => {
                    prop_assert_eq!(e.code, "INVALID_URL");
                    prop_assert!(!e.message.is_empty());
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_text_is_a_media_url_or_invalid_url(text in any::<String>()) {
                check_url(&text)?;
            }

            #[test]
            fn url_like_text_is_a_media_url_or_invalid_url(text in url_like()) {
                check_url(&text)?;
            }

            #[test]
            fn any_input_object_parses_or_gets_a_known_code(
                key in prop::sample::select(vec!["url", "youtube_url", "upload", "other"]),
                text in prop_oneof![any::<String>(), url_like()],
                extra in any::<bool>(),
            ) {
                let mut value = json!({ key: text });
                if extra {
                    value["upload"] = json!(text);
                }
                match JobInput::parse(&value) {
                    Ok(input) => {
                        // What is accepted is stored and read back unchanged.
                        let back = JobInput::from_stored(&input.to_json());
                        prop_assert_eq!(back.as_ref().ok(), Some(&input));
                    }
                    Err(e) => prop_assert!(
                        e.code.starts_with("INVALID_") || e.code.starts_with("YOUTUBE_"),
                        "code {}", e.code
                    ),
                }
            }
        }
    }
}
