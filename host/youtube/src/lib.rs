//! Syntax-only validation of pasted YouTube video URLs.
//!
//! [`parse`] runs inside the HTTP request path: no network, no regex, a few
//! small allocations. It accepts every single-video form users paste
//! (`watch?v=` anywhere in the query, `watch_popup`, `youtu.be/ID`, `shorts/`,
//! `live/`, `embed/`, `e/`, `v/`; hosts youtube.com with `www.`, `m.`,
//! `music.`, youtube-nocookie.com, youtubekids.com, youtu.be; with or without
//! an http(s) scheme; any case in the host; extra parameters and fragments)
//! and returns the id, the start time and a canonical URL.
//!
//! Decisions worth knowing:
//! - any user-info (`https://youtube.com@evil.com/`, `https://evil.com@youtube.com/`)
//!   is refused: it is a classic phishing trick and never part of a real link;
//! - the URL is parsed with WHATWG rules (the `url` crate), as a browser
//!   would: `\` counts as `/`, so `https://evil.com\@youtube.com` has host
//!   evil.com and is refused;
//! - `v` plus `list` means the `v` video; `list` alone is a playlist;
//! - the start time comes from `t`, else `start`, else a `#t=` fragment; an
//!   unreadable one is an error, not silently dropped.

mod error;
mod route;
mod time;

pub use error::YoutubeError;

use error::cut;
use route::{Target, site, target};
use serde::Serialize;

/// Inputs longer than this (in characters, after trimming) are refused.
pub const MAX_INPUT_CHARS: usize = 2048;

/// A validated single-video reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct YoutubeVideo {
    /// The video id: exactly 11 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// Where playback starts, from `t`, `start` or a `#t=` fragment.
    pub start_seconds: Option<u32>,
    /// `https://www.youtube.com/watch?v=ID`
    pub canonical_url: String,
}

/// Validates a pasted YouTube URL; see the crate docs for what is accepted.
pub fn parse(input: &str) -> Result<YoutubeVideo, YoutubeError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(YoutubeError::Empty);
    }
    // Characters never outnumber bytes: count only when the bytes exceed the limit.
    if input.len() > MAX_INPUT_CHARS && input.chars().count() > MAX_INPUT_CHARS {
        return Err(YoutubeError::TooLong {
            len: input.chars().count(),
        });
    }
    let url = parse_url(input)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(YoutubeError::UserInfo);
    }
    let host = url.host_str().unwrap_or_default();
    let site = site(host).ok_or_else(|| YoutubeError::NotYoutubeHost { host: cut(host) })?;
    if let Some(port) = url.port() {
        return Err(YoutubeError::Port { port });
    }
    let params = QueryParams::read(&url)?;
    let segments: Vec<&str> = url
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    let id = match target(site, &segments) {
        Target::PathId(id) => id.to_owned(),
        Target::QueryId => match params.v {
            Some(v) => v,
            None if params.has_list => return Err(YoutubeError::Playlist),
            None => return Err(YoutubeError::MissingVideoId),
        },
        Target::MissingId => return Err(YoutubeError::MissingVideoId),
        Target::Playlist => return Err(YoutubeError::Playlist),
        Target::Channel => return Err(YoutubeError::Channel),
        Target::Clip => return Err(YoutubeError::Clip),
        Target::NotAVideo if params.has_list && params.v.is_none() => {
            return Err(YoutubeError::Playlist);
        }
        Target::NotAVideo => {
            return Err(YoutubeError::NotAVideo {
                path: cut(url.path()),
            });
        }
    };
    check_id(&id)?;
    let start = match params.start.or_else(|| fragment_start(url.fragment())) {
        None => None,
        Some(value) => Some(
            time::parse_start(&value)
                .ok_or(YoutubeError::InvalidStartTime { value: cut(&value) })?,
        ),
    };
    Ok(YoutubeVideo {
        canonical_url: format!("https://www.youtube.com/watch?v={id}"),
        id,
        start_seconds: start,
    })
}

/// Parses with WHATWG rules, adding `https://` when no scheme is given.
fn parse_url(input: &str) -> Result<url::Url, YoutubeError> {
    let parsed = match scheme_of(input) {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            url::Url::parse(input)
        }
        Some(scheme) => {
            return Err(YoutubeError::BadScheme {
                scheme: cut(&scheme.to_ascii_lowercase()),
            });
        }
        None if input.starts_with("//") => url::Url::parse(&format!("https:{input}")),
        None => url::Url::parse(&format!("https://{input}")),
    };
    parsed.map_err(|e| YoutubeError::Malformed {
        reason: e.to_string(),
    })
}

/// The scheme of `input` if it has one: `name:` where name is a URL scheme
/// and what follows is not a port (`youtube.com:443/...` has no scheme).
fn scheme_of(input: &str) -> Option<&str> {
    let (name, rest) = input.split_once(':')?;
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let port_follows = rest.bytes().next().is_some_and(|b| b.is_ascii_digit());
    (valid && !port_follows).then_some(name)
}

/// The query parameters that matter.
struct QueryParams {
    v: Option<String>,
    start: Option<String>,
    has_list: bool,
}

impl QueryParams {
    fn read(url: &url::Url) -> Result<Self, YoutubeError> {
        let (mut v, mut t, mut start, mut has_list) = (None::<String>, None, None, false);
        for (key, value) in url.query_pairs() {
            match &*key {
                "v" => match &v {
                    Some(first) if *first != value => {
                        return Err(YoutubeError::ConflictingIds {
                            first: cut(first),
                            second: cut(&value),
                        });
                    }
                    Some(_) => {}
                    None => v = Some(value.into_owned()),
                },
                "t" if t.is_none() && !value.is_empty() => t = Some(value.into_owned()),
                "start" if start.is_none() && !value.is_empty() => start = Some(value.into_owned()),
                "list" => has_list = true,
                _ => {}
            }
        }
        Ok(QueryParams {
            v,
            start: t.or(start),
            has_list,
        })
    }
}

/// `t` from a fragment like `#t=30` or `#a=1&t=1m30s`.
fn fragment_start(fragment: Option<&str>) -> Option<String> {
    fragment?
        .split('&')
        .find_map(|pair| pair.strip_prefix("t="))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn check_id(id: &str) -> Result<(), YoutubeError> {
    let valid = id.len() == 11
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(YoutubeError::InvalidVideoId { id: cut(id) })
    }
}

/// Property tests: whatever is pasted, [`parse`] answers with a video or a typed error,
/// never a panic, and what it accepts is always a well-formed id.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    const CODES: &[&str] = &[
        "INVALID_YOUTUBE_URL",
        "INVALID_VIDEO_ID",
        "YOUTUBE_PLAYLIST_NOT_SUPPORTED",
        "YOUTUBE_CHANNEL_NOT_SUPPORTED",
        "YOUTUBE_CLIP_NOT_SUPPORTED",
        "INVALID_START_TIME",
    ];

    fn well_formed(video: &YoutubeVideo) -> bool {
        check_id(&video.id).is_ok()
            && video.canonical_url == format!("https://www.youtube.com/watch?v={}", video.id)
    }

    /// Text that looks like a YouTube link: a scheme (or none), a host the parser knows
    /// (or a near miss), a path, a query and a fragment, each partly arbitrary.
    fn link_like() -> impl Strategy<Value = String> {
        let scheme = prop::sample::select(vec![
            "",
            "https://",
            "http://",
            "HTTPS://",
            "//",
            "ftp://",
            "javascript:",
        ]);
        let userinfo = prop::sample::select(vec!["", "", "", "user@", "a:b@", "youtube.com@"]);
        let host = prop::sample::select(vec![
            "youtube.com",
            "www.youtube.com",
            "m.youtube.com",
            "music.youtube.com",
            "youtu.be",
            "www.youtube-nocookie.com",
            "youtubekids.com",
            "YOUTUBE.COM",
            "youtube.com.evil.com",
            "evil.com",
            "[::1]",
            "",
        ]);
        let port = prop::sample::select(vec!["", "", "", ":443", ":80", ":"]);
        let path = prop::sample::select(vec![
            "/watch",
            "/watch_popup",
            "/shorts/",
            "/live/",
            "/embed/",
            "/v/",
            "/e/",
            "/",
            "/playlist",
            "/channel/",
            "/clip/",
            "/@name",
            "",
        ]);
        (
            scheme,
            userinfo,
            host,
            port,
            path,
            "[A-Za-z0-9_-]{0,13}",
            "(\\?(v|t|start|list|feature)=[A-Za-z0-9_%&=.:-]{0,20}){0,3}",
            "(#t=[0-9hms]{0,8})?",
            ".{0,4}",
        )
            .prop_map(|(s, u, h, p, path, id, query, fragment, tail)| {
                format!("{s}{u}{h}{p}{path}{id}{query}{fragment}{tail}")
            })
    }

    fn check(input: &str) -> Result<(), TestCaseError> {
        match parse(input) {
            Ok(video) => prop_assert!(well_formed(&video), "{input:?} gave {video:?}"),
            Err(e) => {
                prop_assert!(CODES.contains(&e.code()), "unknown code {}", e.code());
                prop_assert!(!e.to_string().is_empty());
                // Echoed input is cut: a message never grows with the input.
                prop_assert!(e.to_string().chars().count() < 400, "{e}");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_gets_a_video_or_a_typed_error(input in any::<String>()) {
            check(&input)?;
        }

        #[test]
        fn link_like_text_gets_a_video_or_a_typed_error(input in link_like()) {
            check(&input)?;
        }

        #[test]
        fn every_well_formed_id_round_trips(
            id in "[A-Za-z0-9_-]{11}",
            form in prop::sample::select(vec![
                "https://www.youtube.com/watch?v={}",
                "youtu.be/{}",
                "https://youtube.com/shorts/{}",
                "m.youtube.com/watch?feature=share&v={}",
            ]),
        ) {
            let video = parse(&form.replace("{}", &id)).map_err(|e| {
                TestCaseError::fail(format!("{form} with {id}: {e}"))
            })?;
            prop_assert_eq!(&video.id, &id);
            prop_assert_eq!(parse(&video.canonical_url).unwrap().id, id);
        }
    }
}
