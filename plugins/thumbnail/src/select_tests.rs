//! The selection, against a scripted server.

use super::*;
use crate::config::Config;
use std::collections::HashMap;

const ID: &str = "dQw4w9WgXcQ";
const BASE: &str = "https://i.ytimg.com";

/// A scripted server: URL -> response or failure; anything else is a 404 with
/// YouTube's kind of body (a valid 120x90 placeholder JPEG).
#[derive(Default)]
struct Script {
    answers: HashMap<String, Result<Fetched, FetchError>>,
    requested: Vec<String>,
    warnings: Vec<String>,
    cancelled: bool,
}

impl Script {
    fn answer(mut self, size: &str, format: Format, status: u16, body: Vec<u8>) -> Self {
        self.answers
            .insert(format.url(BASE, ID, size), Ok(Fetched { status, body }));
        self
    }
    fn fail(mut self, size: &str, format: Format, error: FetchError) -> Self {
        self.answers.insert(format.url(BASE, ID, size), Err(error));
        self
    }
}

impl Fetch for Script {
    fn get(&mut self, url: &str) -> Result<Fetched, FetchError> {
        self.requested.push(url.to_owned());
        self.answers.get(url).cloned().unwrap_or_else(|| {
            Ok(Fetched {
                status: 404,
                body: placeholder(),
            })
        })
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_owned());
    }
    fn cancelled(&mut self) -> bool {
        self.cancelled
    }
}

fn config(json: serde_json::Value) -> Config {
    serde_json::from_value::<Config>(json)
        .unwrap()
        .validate()
        .unwrap()
}

fn default_config() -> Config {
    config(serde_json::json!({ "video_id": ID }))
}

/// A w x h RGB picture with busy content; with `letterbox`, 16:9 inside black bands.
fn rgb(w: u32, h: u32, letterbox: bool) -> Vec<u8> {
    let band = if letterbox { h / 8 } else { 0 };
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            if y < band || y >= h - band {
                out.extend_from_slice(&[0, 0, 0]);
            } else {
                let v = (60 + (x * 7 + y * 13) % 160) as u8;
                out.extend_from_slice(&[v, v / 2 + 40, 255 - v]);
            }
        }
    }
    out
}

fn jpeg(w: u32, h: u32, letterbox: bool) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(
            &rgb(w, h, letterbox),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn webp(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&rgb(w, h, false), w, h, image_webp::ColorType::Rgb8)
        .unwrap();
    out
}

/// What YouTube sends with a 404: a real image.
fn placeholder() -> Vec<u8> {
    jpeg(120, 90, false)
}

#[test]
fn missing_maxres_falls_to_hq720_webp_without_reading_404_bodies() {
    let mut s = Script::default().answer("hq720", Format::Webp, 200, webp(1280, 720));
    let sel = select(&default_config(), &mut s).unwrap();
    assert_eq!(sel.candidate.size, "hq720");
    assert_eq!(sel.format(), Format::Webp);
    assert_eq!((sel.picture.width, sel.picture.height), (1280, 720));
    assert!(!sel.letterboxed);
    let statuses: Vec<u16> = sel.tried.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [404, 404, 200]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let r = sel.result();
    assert_eq!(r["method"], "thumbnail");
    assert_eq!(r["size"], "hq720");
    assert_eq!(r["format"], "webp");
    assert_eq!(r["source_url"], format!("{BASE}/vi_webp/{ID}/hq720.webp"));
    assert_eq!(r["width"], 1280);
    assert_eq!(r["bytes"], sel.bytes.len());
    assert_eq!(
        r["tried"][0]["url"],
        format!("{BASE}/vi_webp/{ID}/maxresdefault.webp")
    );
    assert_eq!(r["tried"][0]["status"], 404);
}

#[test]
fn jpg_is_tried_before_the_next_size() {
    let mut s = Script::default().answer("maxresdefault", Format::Jpg, 200, jpeg(1280, 720, false));
    let sel = select(&default_config(), &mut s).unwrap();
    assert_eq!(
        (sel.candidate.size, sel.format()),
        ("maxresdefault", Format::Jpg)
    );
    assert_eq!(s.requested.len(), 2);
}

#[test]
fn all_missing_is_no_thumbnail_and_not_retryable() {
    let mut s = Script::default();
    let err = select(&default_config(), &mut s).unwrap_err();
    assert_eq!(s.requested.len(), 12);
    let SelectError::NoThumbnail { tried, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(tried.iter().all(|a| a.status == 404));
    let step = StepError::from(err);
    assert_eq!(step.kind, ErrorKind::Unsupported);
    assert!(
        step.message.starts_with("NO_THUMBNAIL: "),
        "{}",
        step.message
    );
    assert!(step.message.contains(ID), "{}", step.message);
}

#[test]
fn a_200_that_is_not_an_image_is_skipped_with_a_warning() {
    let mut s = Script::default()
        .answer(
            "maxresdefault",
            Format::Webp,
            200,
            b"<html>oops</html>".to_vec(),
        )
        .answer("maxresdefault", Format::Jpg, 200, {
            let j = jpeg(1280, 720, false);
            j[..j.len() / 3].to_vec() // cut short
        })
        .answer("hq720", Format::Webp, 200, Vec::new())
        .answer("hq720", Format::Jpg, 200, jpeg(1280, 720, false));
    let sel = select(&default_config(), &mut s).unwrap();
    assert_eq!((sel.candidate.size, sel.format()), ("hq720", Format::Jpg));
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("not an image"), "{}", s.warnings[0]);
    let statuses: Vec<u16> = sel.tried.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200]);
}

#[test]
fn only_undecodable_200s_is_still_no_thumbnail() {
    let mut s = Script::default().answer("default", Format::Jpg, 200, b"GIF89a".to_vec());
    let step = StepError::from(select(&default_config(), &mut s).unwrap_err());
    assert!(step.message.starts_with("NO_THUMBNAIL: "));
    assert!(step.message.contains("1 answered 200"), "{}", step.message);
}

#[test]
fn a_refusal_stops_everything_and_names_the_policy() {
    let reason = "outbound policy: host \"i.ytimg.com\" is not in the allowed hosts";
    let mut s = Script::default().fail(
        "maxresdefault",
        Format::Webp,
        FetchError::Refused(reason.into()),
    );
    let err = select(&default_config(), &mut s).unwrap_err();
    assert_eq!(s.requested.len(), 1);
    let step = StepError::from(err);
    assert_eq!(step.kind, ErrorKind::InvalidInput);
    assert!(step.message.contains(reason), "{}", step.message);
}

#[test]
fn a_network_failure_is_retryable() {
    let mut s = Script::default()
        .answer("maxresdefault", Format::Webp, 404, placeholder())
        .fail(
            "maxresdefault",
            Format::Jpg,
            FetchError::Failed("ConnectionRefused".into()),
        );
    let step = StepError::from(select(&default_config(), &mut s).unwrap_err());
    assert_eq!(s.requested.len(), 2);
    assert_eq!(step.kind, ErrorKind::Unavailable);
    assert!(
        step.message.contains("ConnectionRefused"),
        "{}",
        step.message
    );
}

#[test]
fn server_errors_skip_but_make_a_miss_retryable() {
    let mut s = Script::default()
        .answer("maxresdefault", Format::Webp, 503, Vec::new())
        .answer("hqdefault", Format::Jpg, 200, jpeg(480, 360, true));
    let sel = select(&default_config(), &mut s).unwrap();
    assert_eq!(sel.candidate.size, "hqdefault");
    assert_eq!(s.warnings.len(), 1);

    let mut s = Script::default().answer("hq720", Format::Jpg, 500, Vec::new());
    let step = StepError::from(select(&default_config(), &mut s).unwrap_err());
    assert_eq!(step.kind, ErrorKind::Unavailable);
    assert!(step.message.contains("(500)"), "{}", step.message);
}

#[test]
fn a_letterboxed_hqdefault_is_reported() {
    let mut s = Script::default().answer("hqdefault", Format::Jpg, 200, jpeg(480, 360, true));
    let sel = select(&default_config(), &mut s).unwrap();
    assert!(sel.letterboxed);
    assert_eq!(sel.result()["letterboxed"], true);
    assert_eq!(sel.result()["height"], 360);
    let mut s = Script::default().answer("hqdefault", Format::Jpg, 200, jpeg(480, 360, false));
    assert!(!select(&default_config(), &mut s).unwrap().letterboxed);
}

#[test]
fn configured_formats_limit_the_urls() {
    let mut s = Script::default();
    let c = config(serde_json::json!({ "video_id": ID, "formats": ["jpg"] }));
    select(&c, &mut s).unwrap_err();
    assert_eq!(s.requested.len(), 6);
    assert!(s.requested.iter().all(|u| u.ends_with(".jpg")));
}

#[test]
fn the_format_is_read_from_the_bytes() {
    let mut s =
        Script::default().answer("maxresdefault", Format::Webp, 200, jpeg(1280, 720, false));
    let sel = select(&default_config(), &mut s).unwrap();
    assert_eq!(sel.format(), Format::Jpg);
    assert_eq!(sel.result()["format"], "jpg");
    assert_eq!(s.warnings.len(), 1);
}

#[test]
fn cancellation_stops_before_the_next_request() {
    let mut s = Script {
        cancelled: true,
        ..Script::default()
    };
    assert_eq!(
        select(&default_config(), &mut s).unwrap_err(),
        SelectError::Cancelled
    );
    assert!(s.requested.is_empty());
}
