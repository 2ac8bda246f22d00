//! Every URL form a user might paste, with its expected id and start time or
//! error code.

use framepipe_youtube::{MAX_INPUT_CHARS, YoutubeError, parse};

const ID: &str = "dQw4w9WgXcQ";

/// Expected outcome: `Ok((id, start))` or `Err(code)`.
type Want = Result<(&'static str, Option<u32>), &'static str>;

const fn ok(start: Option<u32>) -> Want {
    Ok((ID, start))
}

const URL: &str = "INVALID_YOUTUBE_URL";
const VID: &str = "INVALID_VIDEO_ID";
const PLAYLIST: &str = "YOUTUBE_PLAYLIST_NOT_SUPPORTED";
const CHANNEL: &str = "YOUTUBE_CHANNEL_NOT_SUPPORTED";
const CLIP: &str = "YOUTUBE_CLIP_NOT_SUPPORTED";
const TIME: &str = "INVALID_START_TIME";

const TABLE: &[(&str, Want)] = &[
    // watch?v= on every host, with and without scheme
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    (
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
        ok(None),
    ),
    ("www.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("m.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("//www.youtube.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://WwW.YouTube.Com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com./watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com:443/watch?v=dQw4w9WgXcQ", ok(None)),
    (
        "  \n https://www.youtube.com/watch?v=dQw4w9WgXcQ \t ",
        ok(None),
    ),
    ("https://youtubekids.com/watch?v=dQw4w9WgXcQ", ok(None)),
    ("https://www.youtubekids.com/watch?v=dQw4w9WgXcQ", ok(None)),
    // v anywhere in the query, other parameters around it
    (
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch?app=desktop&feature=youtu.be&v=dQw4w9WgXcQ&pp=ygU",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&si=AbCdEfGh12345678",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=dQw4w9WgXcQ",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch_popup?v=dQw4w9WgXcQ",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&index=3",
        ok(None),
    ),
    (
        "https://www.youtube.com/watch?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG&v=dQw4w9WgXcQ",
        ok(None),
    ),
    // start times
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90",
        ok(Some(90)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90s",
        ok(Some(90)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1m30s",
        ok(Some(90)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s",
        ok(Some(3723)),
    ),
    (
        "https://www.youtube.com/watch?t=42&v=dQw4w9WgXcQ",
        ok(Some(42)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=30",
        ok(Some(30)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=1m",
        ok(Some(60)),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10#t=99",
        ok(Some(10)),
    ),
    (
        "https://www.youtube.com/embed/dQw4w9WgXcQ?start=75",
        ok(Some(75)),
    ),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=", ok(None)),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=abc",
        Err(TIME),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1:30",
        Err(TIME),
    ),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=99999999999",
        Err(TIME),
    ),
    // youtu.be
    ("https://youtu.be/dQw4w9WgXcQ", ok(None)),
    ("youtu.be/dQw4w9WgXcQ", ok(None)),
    ("https://youtu.be/dQw4w9WgXcQ/", ok(None)),
    ("https://youtu.be/dQw4w9WgXcQ?si=AbCdEfGh12345678", ok(None)),
    ("https://youtu.be/dQw4w9WgXcQ?t=90", ok(Some(90))),
    (
        "https://YOUTU.BE/dQw4w9WgXcQ?feature=shared&t=2m",
        ok(Some(120)),
    ),
    ("https://youtu.be/", Err(VID)),
    ("https://youtu.be/dQw4w9WgXcQ/extra", Err(URL)),
    // path forms
    ("https://www.youtube.com/shorts/dQw4w9WgXcQ", ok(None)),
    (
        "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
        ok(None),
    ),
    ("https://m.youtube.com/shorts/dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com/live/dQw4w9WgXcQ?si=xyz", ok(None)),
    ("https://www.youtube.com/embed/dQw4w9WgXcQ", ok(None)),
    (
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ?rel=0",
        ok(None),
    ),
    ("https://youtube-nocookie.com/embed/dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com/e/dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com/v/dQw4w9WgXcQ", ok(None)),
    ("https://www.youtube.com/shorts/", Err(VID)),
    // ids
    (
        "https://www.youtube.com/watch?v=abc_DEF-123",
        Ok(("abc_DEF-123", None)),
    ),
    ("https://www.youtube.com/watch?v=dQw4w9WgXc", Err(VID)),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQQ", Err(VID)),
    ("https://www.youtube.com/watch?v=dQw4w9WgX.Q", Err(VID)),
    ("https://www.youtube.com/watch?v=dQw4w9WgX%20Q", Err(VID)),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcé", Err(VID)),
    ("https://www.youtube.com/watch?v=", Err(VID)),
    ("https://www.youtube.com/watch", Err(VID)),
    (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=aaaaaaaaaaa",
        Err(URL),
    ),
    // playlists, channels, clips
    (
        "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
        Err(PLAYLIST),
    ),
    (
        "https://www.youtube.com/watch?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
        Err(PLAYLIST),
    ),
    (
        "https://www.youtube.com/embed/videoseries?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
        Err(PLAYLIST),
    ),
    (
        "https://music.youtube.com/playlist?list=OLAK5uy_abc",
        Err(PLAYLIST),
    ),
    (
        "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
        Err(CHANNEL),
    ),
    ("https://www.youtube.com/c/SomeChannel", Err(CHANNEL)),
    ("https://www.youtube.com/user/someone/videos", Err(CHANNEL)),
    ("https://www.youtube.com/@handle", Err(CHANNEL)),
    ("https://www.youtube.com/@handle/shorts", Err(CHANNEL)),
    (
        "https://www.youtube.com/clip/UgkxU2HSeGL_NvmDJ-nQJrlLwllwMDBdGZFs",
        Err(CLIP),
    ),
    // other YouTube pages
    ("https://www.youtube.com/", Err(URL)),
    (
        "https://www.youtube.com/results?search_query=cats",
        Err(URL),
    ),
    ("https://www.youtube.com/feed/trending", Err(URL)),
    // other hosts and look-alikes
    ("https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://evilyoutube.com/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://www.youtube.co/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://vimeo.com/123456", Err(URL)),
    ("https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://[::1]/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://127.0.0.1/watch?v=dQw4w9WgXcQ", Err(URL)),
    // user-info tricks
    ("https://youtube.com@evil.com/watch?v=dQw4w9WgXcQ", Err(URL)),
    ("https://evil.com@youtube.com/watch?v=dQw4w9WgXcQ", Err(URL)),
    (
        "https://user:pass@www.youtube.com/watch?v=dQw4w9WgXcQ",
        Err(URL),
    ),
    (
        "https://evil.com\\@youtube.com/watch?v=dQw4w9WgXcQ",
        Err(URL),
    ),
    // schemes and garbage
    ("ftp://www.youtube.com/watch?v=dQw4w9WgXcQ", Err(URL)),
    (
        "javascript:alert(1)//youtube.com/watch?v=dQw4w9WgXcQ",
        Err(URL),
    ),
    ("file:///watch?v=dQw4w9WgXcQ", Err(URL)),
    ("data:text/html,youtube.com", Err(URL)),
    ("", Err(URL)),
    ("   ", Err(URL)),
    ("not a url", Err(URL)),
    ("dQw4w9WgXcQ", Err(URL)),
];

#[test]
fn table_of_forms() {
    assert!(TABLE.len() >= 60, "{} rows", TABLE.len());
    let mut failures = Vec::new();
    for &(input, want) in TABLE {
        let got = parse(input)
            .map(|v| (v.id, v.start_seconds))
            .map_err(|e| e.code());
        let matches = match (&got, want) {
            (Ok((id, start)), Ok((want_id, want_start))) => id == want_id && *start == want_start,
            (Err(code), Err(want_code)) => *code == want_code,
            _ => false,
        };
        if !matches {
            failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn canonical_url_is_the_watch_form() {
    let video = parse("youtu.be/dQw4w9WgXcQ?t=5").unwrap();
    assert_eq!(
        video.canonical_url,
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    );
    assert_eq!(video.start_seconds, Some(5));
}

#[test]
fn over_long_input_is_refused_but_the_limit_itself_passes() {
    let base = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&x=";
    let at_limit = format!("{base}{}", "a".repeat(MAX_INPUT_CHARS - base.len()));
    assert!(parse(&at_limit).is_ok());
    let over = format!("{at_limit}a");
    assert_eq!(
        parse(&over),
        Err(YoutubeError::TooLong {
            len: MAX_INPUT_CHARS + 1
        })
    );
    // Multi-byte characters count once.
    let wide = format!("{base}{}", "é".repeat(MAX_INPUT_CHARS - base.len()));
    assert!(parse(&wide).is_ok());
}

#[test]
fn errors_distinguish_the_user_info_trick_and_name_the_scheme() {
    assert_eq!(
        parse("https://youtube.com@evil.com/watch?v=dQw4w9WgXcQ"),
        Err(YoutubeError::UserInfo)
    );
    let err = parse("ftp://youtube.com/watch?v=dQw4w9WgXcQ").unwrap_err();
    assert_eq!(
        err,
        YoutubeError::BadScheme {
            scheme: "ftp".into()
        }
    );
    assert!(err.to_string().contains("ftp"), "{err}");
    let err = parse("https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ").unwrap_err();
    assert!(err.to_string().contains("youtube.com.evil.com"), "{err}");
}

#[test]
fn messages_do_not_echo_unbounded_input() {
    let long_id = "a".repeat(1000);
    let err = parse(&format!("https://youtu.be/{long_id}")).unwrap_err();
    assert_eq!(err.code(), "INVALID_VIDEO_ID");
    assert!(err.to_string().len() < 200, "{err}");
}
