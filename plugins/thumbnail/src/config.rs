//! The step's config: which video, where its thumbnails live, which formats to try;
//! and the candidate URLs that follow from it, best first.

use serde::Deserialize;

/// Thumbnail sizes as YouTube names them, best first. `maxresdefault` (1280x720) and
/// `hq720` exist only for some videos; `hqdefault` (480x360, 4:3, letterboxed for 16:9
/// videos) and smaller exist for nearly all.
pub const SIZES: [&str; 6] = [
    "maxresdefault",
    "hq720",
    "sddefault",
    "hqdefault",
    "mqdefault",
    "default",
];

/// Where YouTube serves thumbnails.
pub const DEFAULT_BASE_URL: &str = "https://i.ytimg.com";

/// An image format a thumbnail is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// WebP, under `/vi_webp/`; usually the smaller file.
    Webp,
    /// JPEG, under `/vi/`.
    Jpg,
}

impl Format {
    /// The name used in results and artifact file names: `webp` or `jpg`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Webp => "webp",
            Format::Jpg => "jpg",
        }
    }

    /// The media type of an artifact in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Webp => "image/webp",
            Format::Jpg => "image/jpeg",
        }
    }

    /// The artifact name: `thumbnail.webp` or `thumbnail.jpg`.
    pub fn artifact_name(self) -> &'static str {
        match self {
            Format::Webp => "thumbnail.webp",
            Format::Jpg => "thumbnail.jpg",
        }
    }

    /// The thumbnail's URL under `base` (no trailing slash).
    pub fn url(self, base: &str, video_id: &str, size: &str) -> String {
        match self {
            Format::Webp => format!("{base}/vi_webp/{video_id}/{size}.webp"),
            Format::Jpg => format!("{base}/vi/{video_id}/{size}.jpg"),
        }
    }
}

/// The step's config, as the pipeline gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The 11-character video id (`[A-Za-z0-9_-]`).
    pub video_id: String,
    /// Scheme and host (and optionally a path prefix) of the thumbnail server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Formats to try for each size, in order of preference.
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_formats() -> Vec<Format> {
    vec![Format::Webp, Format::Jpg]
}

/// The JSON Schema `describe()` declares for [`Config`].
pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["video_id"],"properties":{
    "video_id":{"type":"string","pattern":"^[A-Za-z0-9_-]{11}$"},
    "base_url":{"type":"string","pattern":"^https?://"},
    "formats":{"type":"array","minItems":1,"uniqueItems":true,"items":{"enum":["webp","jpg"]}}}}"#;

/// One URL to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The YouTube size name, e.g. `hq720`.
    pub size: &'static str,
    /// The format the URL asks for.
    pub format: Format,
    /// The full URL.
    pub url: String,
}

impl Config {
    /// Checks the config (the host checks the schema too, but a plugin must not rely on
    /// that) and normalises `base_url` (no trailing slash). The error says what to change.
    pub fn validate(mut self) -> Result<Config, String> {
        if !valid_video_id(&self.video_id) {
            return Err(format!(
                "video_id {:?} is not a YouTube video id: 11 characters of [A-Za-z0-9_-]",
                self.video_id
            ));
        }
        let base = self.base_url.trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => {}
            _ => {
                return Err(format!(
                    "base_url {:?} must be an http(s) URL without query or fragment, e.g. {DEFAULT_BASE_URL}",
                    self.base_url
                ));
            }
        }
        self.base_url = base.to_owned();
        if self.formats.is_empty() {
            return Err("formats must name at least one of \"webp\", \"jpg\"".into());
        }
        for (i, f) in self.formats.iter().enumerate() {
            if self.formats[..i].contains(f) {
                return Err(format!("formats lists {:?} twice", f.name()));
            }
        }
        Ok(self)
    }

    /// Every URL to try, best first: sizes in [`SIZES`] order, and for each size the
    /// formats in the configured order.
    pub fn candidates(&self) -> Vec<Candidate> {
        SIZES
            .iter()
            .flat_map(|&size| {
                self.formats.iter().map(move |&format| Candidate {
                    size,
                    format,
                    url: format.url(&self.base_url, &self.video_id, size),
                })
            })
            .collect()
    }
}

/// 11 characters of `[A-Za-z0-9_-]`.
pub fn valid_video_id(id: &str) -> bool {
    id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<Config, String> {
        serde_json::from_str::<Config>(json)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn defaults_try_webp_then_jpg_for_each_size() {
        let c = config(r#"{"video_id":"dQw4w9WgXcQ"}"#).unwrap();
        let urls: Vec<String> = c.candidates().into_iter().map(|c| c.url).collect();
        assert_eq!(urls.len(), 12);
        assert_eq!(
            urls[..3],
            [
                "https://i.ytimg.com/vi_webp/dQw4w9WgXcQ/maxresdefault.webp",
                "https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg",
                "https://i.ytimg.com/vi_webp/dQw4w9WgXcQ/hq720.webp",
            ]
        );
        assert_eq!(urls[11], "https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg");
    }

    #[test]
    fn formats_and_base_url_are_honoured() {
        let c = config(
            r#"{"video_id":"abc_DEF-123","base_url":"http://127.0.0.1:9/yt/","formats":["jpg"]}"#,
        )
        .unwrap();
        let cands = c.candidates();
        assert_eq!(cands.len(), 6);
        assert_eq!(
            cands[0].url,
            "http://127.0.0.1:9/yt/vi/abc_DEF-123/maxresdefault.jpg"
        );
        assert!(cands.iter().all(|c| c.format == Format::Jpg));
    }

    #[test]
    fn bad_configs_say_what_to_change() {
        for (json, needle) in [
            (r#"{"video_id":"short"}"#, "11 characters"),
            (r#"{"video_id":"dQw4w9WgXc/"}"#, "11 characters"),
            (
                r#"{"video_id":"dQw4w9WgXcQ","base_url":"ftp://x"}"#,
                "http(s)",
            ),
            (
                r#"{"video_id":"dQw4w9WgXcQ","base_url":"https://"}"#,
                "http(s)",
            ),
            (r#"{"video_id":"dQw4w9WgXcQ","formats":[]}"#, "at least one"),
            (
                r#"{"video_id":"dQw4w9WgXcQ","formats":["jpg","jpg"]}"#,
                "twice",
            ),
            (
                r#"{"video_id":"dQw4w9WgXcQ","formats":["png"]}"#,
                "unknown variant",
            ),
            (r#"{"video_id":"dQw4w9WgXcQ","size":"hq"}"#, "unknown field"),
        ] {
            let err = config(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(v["required"][0], "video_id");
    }
}
