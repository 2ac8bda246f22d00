//! Which YouTube hosts are accepted, and what a path on them points at.

/// The YouTube host families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Site {
    /// `youtu.be`: the id is the first path segment.
    Short,
    /// youtube.com and its www./m./music. forms, youtube-nocookie.com, youtubekids.com.
    Full,
}

/// Recognises a (lower-case) host; a single trailing dot is accepted.
pub(crate) fn site(host: &str) -> Option<Site> {
    let host = host.strip_suffix('.').unwrap_or(host);
    match host {
        "youtu.be" => Some(Site::Short),
        "youtube.com"
        | "www.youtube.com"
        | "m.youtube.com"
        | "music.youtube.com"
        | "youtube-nocookie.com"
        | "www.youtube-nocookie.com"
        | "youtubekids.com"
        | "www.youtubekids.com" => Some(Site::Full),
        _ => None,
    }
}

/// What a path points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// A video whose id is in the path.
    PathId(&'a str),
    /// A video page whose id is the `v` query parameter (`/watch`).
    QueryId,
    /// A video page with no id (`/shorts/`).
    MissingId,
    /// `/playlist`, `/embed/videoseries`.
    Playlist,
    /// `/channel/...`, `/c/...`, `/user/...`, `/@handle`.
    Channel,
    /// `/clip/...`.
    Clip,
    /// Anything else.
    NotAVideo,
}

/// Routes the non-empty path segments of a URL on `site`.
pub(crate) fn target<'a>(site: Site, segments: &[&'a str]) -> Target<'a> {
    if site == Site::Short {
        return match segments {
            [id] => Target::PathId(id),
            [] => Target::MissingId,
            _ => Target::NotAVideo,
        };
    }
    match segments {
        ["watch" | "watch_popup"] => Target::QueryId,
        ["embed", "videoseries"] | ["playlist"] => Target::Playlist,
        ["shorts" | "live" | "embed" | "e" | "v", id] => Target::PathId(id),
        ["shorts" | "live" | "embed" | "e" | "v"] => Target::MissingId,
        ["channel" | "c" | "user", ..] => Target::Channel,
        [first, ..] if first.starts_with('@') => Target::Channel,
        ["clip", ..] => Target::Clip,
        _ => Target::NotAVideo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(site("youtu.be"), Some(Site::Short));
        assert_eq!(site("music.youtube.com"), Some(Site::Full));
        assert_eq!(site("www.youtube.com."), Some(Site::Full));
        for bad in [
            "youtube.com.evil.com",
            "evilyoutube.com",
            "www.youtu.be",
            "youtube.co",
            "gaming.youtube.com",
        ] {
            assert_eq!(site(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            target(Site::Full, &["shorts", "abc"]),
            Target::PathId("abc")
        );
        assert_eq!(target(Site::Full, &["@someone", "videos"]), Target::Channel);
        assert_eq!(
            target(Site::Full, &["shorts", "abc", "extra"]),
            Target::NotAVideo
        );
        assert_eq!(target(Site::Short, &["abc", "extra"]), Target::NotAVideo);
        assert_eq!(target(Site::Full, &[]), Target::NotAVideo);
    }
}
