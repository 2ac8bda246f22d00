//! A little fuzzing: flipped bytes and cuts in real files must give errors or frames,
//! never a panic (a panic in the guest is a trap, and the job would die as a host fault).

mod common;
use common::{Discard, damaged, fixture};
use frames::config::Config;
use frames::job::run;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn fuzz(name: &str, rounds: u64, config: &str) {
    let original = std::fs::read(fixture(name)).unwrap();
    let config: Config = serde_json::from_str(config).unwrap();
    let (mut ok, mut errors) = (0, 0);
    for seed in 1..=rounds {
        let data = damaged(&original, seed);
        let size = data.len() as u64;
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(Cursor::new(data), size, &config, &mut Discard)
        }));
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                errors += 1;
                if seed <= 12 {
                    println!("{name} seed {seed}: {e}");
                }
            }
            Err(_) => panic!("{name}: seed {seed} panicked"),
        }
    }
    println!("{name}: {ok} decoded, {errors} clear errors, 0 panics");
}

#[test]
fn flipped_mp4_h264() {
    fuzz(
        "h264-main-720p-faststart.mp4",
        60,
        r#"{"mode": "exact", "at_seconds": 0.5}"#,
    );
}

#[test]
fn flipped_mkv_mjpeg() {
    fuzz("mjpeg420-720p.mkv", 60, r#"{"mode": "exact", "count": 2}"#);
}

#[test]
fn flipped_webm_vp9() {
    fuzz(
        "vp9-720p.webm",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
}

#[test]
fn flipped_avi_mjpeg() {
    fuzz(
        "mjpeg-720p.avi",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
}

#[test]
fn flipped_mp4_hevc() {
    fuzz(
        "hevc-main-720p.mp4",
        40,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
}

#[test]
fn flipped_ts_h264_and_hevc() {
    fuzz(
        "h264-high-720p.ts",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
    fuzz(
        "hevc-main-720p.ts",
        30,
        r#"{"mode": "exact", "at_seconds": 2.2}"#,
    );
}

#[test]
fn flipped_fragmented_mp4() {
    fuzz(
        "hevc-fragmented-720p.mp4",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
    fuzz(
        "h264-dash-720p.mp4",
        30,
        r#"{"mode": "exact", "at_seconds": 2.3}"#,
    );
}

#[test]
fn flipped_webm_vp8() {
    fuzz(
        "vp8-altref-360p.webm",
        40,
        r#"{"mode": "exact", "at_seconds": 0.6}"#,
    );
}
