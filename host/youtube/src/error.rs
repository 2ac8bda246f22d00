//! Why a pasted URL is not accepted, with a machine-readable code per case.

/// Why [`crate::parse`] refused its input. [`YoutubeError::code`] gives the
/// API error code; the message (`Display`) tells the user what to paste instead.
///
/// Codes:
/// - `INVALID_YOUTUBE_URL`: empty or over-long input, not a URL, a scheme
///   other than http(s), user-info (`user@host`), a host that is not
///   YouTube's, an explicit port, a YouTube page that is not a video, or
///   several different `v` parameters;
/// - `INVALID_VIDEO_ID`: no video id, or one that is not 11 of `[A-Za-z0-9_-]`;
/// - `YOUTUBE_PLAYLIST_NOT_SUPPORTED`: a playlist without a `v` video;
/// - `YOUTUBE_CHANNEL_NOT_SUPPORTED`: `/channel/`, `/c/`, `/user/`, `/@handle`;
/// - `YOUTUBE_CLIP_NOT_SUPPORTED`: `/clip/`;
/// - `INVALID_START_TIME`: a `t` / `start` value that is not `90`, `90s`,
///   `1m30s` or `1h2m3s` (refused rather than ignored: the start time decides
///   which frames get analysed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YoutubeError {
    /// Nothing but whitespace.
    #[error("the YouTube URL is empty")]
    Empty,
    /// Longer than [`crate::MAX_INPUT_CHARS`].
    #[error("the URL is {len} characters long; the limit is {max}", max = crate::MAX_INPUT_CHARS)]
    TooLong {
        /// Length in characters, after trimming.
        len: usize,
    },
    /// A scheme other than http or https.
    #[error(
        "unsupported URL scheme {scheme:?}: paste an https://www.youtube.com/... or https://youtu.be/... link"
    )]
    BadScheme {
        /// The scheme found (lower-case).
        scheme: String,
    },
    /// Not parseable as a URL.
    #[error("not a valid URL: {reason}")]
    Malformed {
        /// The parser's message.
        reason: String,
    },
    /// The URL has a user name or password (`https://youtube.com@evil.com/`).
    #[error(
        "URLs with a user name or password before the host are refused; paste the plain YouTube link"
    )]
    UserInfo,
    /// A host that is not one of YouTube's.
    #[error(
        "{host:?} is not a YouTube host; accepted: youtube.com (www., m., music.), youtu.be, youtube-nocookie.com, youtubekids.com"
    )]
    NotYoutubeHost {
        /// The host found.
        host: String,
    },
    /// An explicit port (`youtube.com:8443`); YouTube links never have one.
    #[error("YouTube links do not carry a port (found :{port})")]
    Port {
        /// The port found.
        port: u16,
    },
    /// A YouTube page that is not a single video (home page, search, feed...).
    #[error(
        "{path:?} is not a YouTube video page; paste a watch, shorts, live, embed or youtu.be link"
    )]
    NotAVideo {
        /// The path found.
        path: String,
    },
    /// Several `v` parameters with different values.
    #[error("the URL names several different videos (v={first} and v={second})")]
    ConflictingIds {
        /// The first `v`.
        first: String,
        /// The other `v`.
        second: String,
    },
    /// A video page without a video id (`/watch` without `v`, `youtu.be/`).
    #[error("the URL has no video id")]
    MissingVideoId,
    /// An id of the wrong length or with characters outside `[A-Za-z0-9_-]`.
    #[error(
        "{id:?} is not a YouTube video id: ids are exactly 11 characters of A-Z, a-z, 0-9, '_' and '-'"
    )]
    InvalidVideoId {
        /// The id found (cut to 40 characters).
        id: String,
    },
    /// A playlist without a `v` video.
    #[error("playlists are not supported; open one video of the playlist and paste its link")]
    Playlist,
    /// A channel, `/c/`, `/user/` or `@handle` page.
    #[error("channels are not supported; paste the link of one video")]
    Channel,
    /// A clip (`/clip/...`).
    #[error(
        "YouTube clips are not supported; paste the link of the full video (with ?t= for the start time)"
    )]
    Clip,
    /// A `t` or `start` value that is not a time.
    #[error("start time {value:?} is not understood; use seconds (90 or 90s) or 1h2m3s")]
    InvalidStartTime {
        /// The value found (cut to 40 characters).
        value: String,
    },
}

impl YoutubeError {
    /// The machine-readable code for API errors (SCREAMING_SNAKE).
    pub fn code(&self) -> &'static str {
        match self {
            YoutubeError::Empty
            | YoutubeError::TooLong { .. }
            | YoutubeError::BadScheme { .. }
            | YoutubeError::Malformed { .. }
            | YoutubeError::UserInfo
            | YoutubeError::NotYoutubeHost { .. }
            | YoutubeError::Port { .. }
            | YoutubeError::NotAVideo { .. }
            | YoutubeError::ConflictingIds { .. } => "INVALID_YOUTUBE_URL",
            YoutubeError::MissingVideoId | YoutubeError::InvalidVideoId { .. } => {
                "INVALID_VIDEO_ID"
            }
            YoutubeError::Playlist => "YOUTUBE_PLAYLIST_NOT_SUPPORTED",
            YoutubeError::Channel => "YOUTUBE_CHANNEL_NOT_SUPPORTED",
            YoutubeError::Clip => "YOUTUBE_CLIP_NOT_SUPPORTED",
            YoutubeError::InvalidStartTime { .. } => "INVALID_START_TIME",
        }
    }
}

/// Cuts user input echoed in messages, on a character boundary.
pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}
