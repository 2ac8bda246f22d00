//! The whole step natively: config in, artifacts and result JSON out, and bad inputs.

mod common;
use common::*;
use frames::config::Config;
use frames::job::{Sink, run};
use frames::media::MediaError;
use serde_json::Value;
use std::fs::File;
use std::io::BufReader;

#[derive(Default, Debug)]
struct Collect {
    frames: Vec<(String, String, Vec<u8>)>,
    progress: Vec<(usize, usize)>,
}

impl Sink for Collect {
    type Error = MediaError;
    fn frame(
        &mut self,
        i: usize,
        n: usize,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), MediaError> {
        self.frames
            .push((name.into(), media_type.into(), bytes.to_vec()));
        self.progress.push((i + 1, n));
        Ok(())
    }
    fn cancelled(&mut self) -> bool {
        false
    }
}

fn run_on(name: &str, config: &str) -> Result<(Value, Collect), MediaError> {
    let path = fixture(name);
    let size = std::fs::metadata(&path).unwrap().len();
    let config: Config = serde_json::from_str(config).unwrap();
    let mut sink = Collect::default();
    let value = run(
        BufReader::new(File::open(path).unwrap()),
        size,
        &config,
        &mut sink,
    )?;
    Ok((value, sink))
}

#[test]
fn metadata_and_jpeg_frames() {
    let (v, sink) = run_on("h264-high-720p.mp4", r#"{"count": 4}"#).unwrap();
    assert_eq!(v["container"], "mp4");
    assert_eq!(v["codec"], "h264");
    assert_eq!(v["profile"], "High");
    assert_eq!(v["width"], 1280);
    assert_eq!(v["height"], 720);
    assert_eq!(v["rotation"], 0);
    assert_eq!(v["fps"], 30.0);
    assert_eq!(v["duration_seconds"], 10.0);
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[1]["artifact"], "frame-1.jpg");
    assert_eq!(frames[1]["requested_seconds"], 3.75);
    assert_eq!(frames[1]["pts_seconds"], 2.0);
    assert_eq!(frames[1]["keyframe"], true);
    assert_eq!(sink.frames.len(), 4);
    assert_eq!(sink.frames[0].1, "image/jpeg");
    assert_eq!(&sink.frames[0].2[..2], &[0xff, 0xd8]);
    assert_eq!(sink.progress.last(), Some(&(4, 4)));
}

#[test]
fn exact_png_scaled_every_seconds() {
    let cfg = r#"{"mode": "exact", "every_seconds": 3, "format": "png", "max_width": 640}"#;
    let (v, sink) = run_on("h264-baseline-720p.mp4", cfg).unwrap();
    let frames = v["frames"].as_array().unwrap();
    let pts: Vec<f64> = frames
        .iter()
        .map(|f| f["pts_seconds"].as_f64().unwrap())
        .collect();
    assert_eq!(pts, vec![0.0, 3.0, 6.0, 9.0]);
    assert_eq!(frames[1]["keyframe"], false);
    assert_eq!(
        (frames[0]["width"].as_u64(), frames[0]["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(sink.frames[2].0, "frame-2.png");
    assert_eq!(&sink.frames[2].2[1..4], b"PNG");
}

#[test]
fn rotation_is_reported_and_applied() {
    let (v, _) = run_on("h264-rotated-720p.mp4", r#"{"at_seconds": 0.5}"#).unwrap();
    // ffmpeg 5.1 turns `rotate=90` into a matrix that ffprobe calls "rotation of 90
    // degrees" (counter-clockwise); we report clockwise degrees, and ffmpeg's autorotated
    // picture matches ours (see tests/psnr.rs).
    assert_eq!(v["rotation"], 270);
    assert_eq!(
        (
            v["frames"][0]["width"].as_u64(),
            v["frames"][0]["height"].as_u64()
        ),
        (Some(720), Some(1280))
    );
}

#[test]
fn limits() {
    let err = run_on("h264-high-720p.mp4", r#"{"every_seconds": 0.05}"#).unwrap_err();
    assert!(
        matches!(&err, MediaError::Invalid(m) if m.contains("max_frames")),
        "{err:?}"
    );
    let err = run_on("h264-high-720p.mp4", r#"{"at_seconds": 30}"#).unwrap_err();
    assert!(
        matches!(&err, MediaError::Invalid(m) if m.contains("past the end")),
        "{err:?}"
    );
}

fn invalid(name: &str, needle: &str) {
    match run_on(name, r#"{"mode": "exact", "count": 3}"#) {
        Err(MediaError::Invalid(m)) => {
            assert!(m.contains(needle), "{name}: `{m}` lacks `{needle}`")
        }
        other => panic!(
            "{name}: expected invalid input, got {:?}",
            other.map(|(v, _)| v)
        ),
    }
}

#[test]
fn corrupt_inputs_are_clear_errors() {
    invalid("corrupt-empty.mp4", "empty");
    invalid("corrupt-truncated.mp4", "truncated");
    invalid("corrupt-truncated-mdat.mp4", "truncated");
    invalid("corrupt-huge-dimensions.mp4", "65535x65535");
    invalid("corrupt-text.mp4", "not a video");
    // Flipped bytes: either an error or frames, never a panic.
    let _ = run_on("corrupt-flipped.mp4", r#"{"mode": "exact", "count": 3}"#);
}

#[test]
fn av1_is_decoded_in_matroska_and_mp4() {
    // Named as unsupported until rav1d's abort on damaged frames was handled (see src/av1.rs).
    for (name, container) in [("av1-720p.mkv", "matroska"), ("av1-720p.mp4", "mp4")] {
        let (v, sink) = run_on(name, r#"{"at_seconds": 0}"#).unwrap();
        assert_eq!(v["container"], container);
        assert_eq!(v["codec"], "av1");
        assert_eq!(v["profile"], "Main");
        assert_eq!(v["frames"][0]["keyframe"], true);
        assert_eq!(&sink.frames[0].2[..2], &[0xff, 0xd8]);
    }
}

#[test]
fn unsupported_codecs_are_named() {
    // Cinepak (OpenCV's tree.avi) is still refused, by name.
    match run_on(
        "/usr/share/doc/opencv-doc/examples/data/tree.avi",
        r#"{"at_seconds": 0}"#,
    ) {
        Err(MediaError::Unsupported(m)) => assert!(m.contains("cvid"), "{m}"),
        other => panic!("{:?}", other.map(|(v, _)| v)),
    }
}

#[test]
fn hevc_ts_and_fragmented_metadata() {
    // (fixture, container, codec, profile, width, height, fps, duration)
    let cases = [
        (
            "hevc-main-720p.mp4",
            "mp4",
            "hevc",
            Some("Main"),
            1280,
            720,
            30.0,
            4.0,
        ),
        (
            "hevc-main10-720p.mkv",
            "matroska",
            "hevc",
            Some("Main 10"),
            1280,
            720,
            // Matroska keeps milliseconds: frames 33 ms apart.
            30.303,
            4.0,
        ),
        (
            "hevc-main-720p.ts",
            "mpegts",
            "hevc",
            None,
            1280,
            720,
            30.0,
            4.0,
        ),
        (
            "h264-high-720p.ts",
            "mpegts",
            "h264",
            None,
            1280,
            720,
            30.0,
            6.133,
        ),
        (
            "h264-high-720p.m2ts",
            "m2ts",
            "h264",
            None,
            1280,
            720,
            30.0,
            6.133,
        ),
        (
            "hevc-fragmented-720p.mp4",
            "mp4",
            "hevc",
            Some("Main"),
            1280,
            720,
            30.0,
            4.0,
        ),
        (
            "h264-fragmented-720p.mp4",
            "mp4",
            "h264",
            Some("High"),
            1280,
            720,
            30.0,
            2.0,
        ),
    ];
    for (name, container, codec, profile, w, h, fps, duration) in cases {
        let (v, sink) = run_on(name, r#"{"mode": "exact", "count": 3}"#)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v["container"], container, "{name}");
        assert_eq!(v["codec"], codec, "{name}");
        assert_eq!(v["profile"].as_str(), profile, "{name}");
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(w), Some(h)),
            "{name}"
        );
        assert_eq!(v["fps"], fps, "{name}");
        let d = v["duration_seconds"].as_f64().unwrap();
        assert!((d - duration).abs() < 0.05, "{name}: duration {d}");
        assert_eq!(sink.frames.len(), 3, "{name}");
    }
}

fn run_bytes(data: Vec<u8>, config: &str) -> Result<Value, MediaError> {
    let size = data.len() as u64;
    let config: Config = serde_json::from_str(config).unwrap();
    run(
        std::io::Cursor::new(data),
        size,
        &config,
        &mut Collect::default(),
    )
}

#[test]
fn avi_metadata_and_damage() {
    let (v, sink) = run_on("mjpeg-720p.avi", r#"{"mode": "exact", "count": 2}"#).unwrap();
    assert_eq!(v["container"], "avi");
    assert_eq!(v["codec"], "mjpeg");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(v["fps"], 30.0);
    assert_eq!(v["duration_seconds"], 10.0);
    assert_eq!(v["frames"][1]["artifact"], "frame-1.jpg");
    assert_eq!(sink.frames.len(), 2);

    let good = std::fs::read(fixture("mjpeg-720p.avi")).unwrap();
    let cut = good[..good.len() * 6 / 10].to_vec();
    match run_bytes(cut, r#"{"at_seconds": 1}"#) {
        Err(MediaError::Invalid(m)) => assert!(m.contains("truncated"), "{m}"),
        other => panic!("truncated AVI: {other:?}"),
    }
    // The video stream format (`strf`, a BITMAPINFOHEADER): width at +4, height at +8.
    let strf = good.windows(4).position(|w| w == b"strf").unwrap() + 8;
    let mut huge = good.clone();
    huge[strf + 4..strf + 12].copy_from_slice(&[0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0]);
    match run_bytes(huge, r#"{"at_seconds": 1}"#) {
        Err(MediaError::Invalid(m)) => assert!(m.contains("65535x65535"), "{m}"),
        other => panic!("huge AVI: {other:?}"),
    }
}
