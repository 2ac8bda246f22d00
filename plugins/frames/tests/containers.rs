//! MPEG-TS (188 and 192-byte packets) and fragmented MP4 (plain, with `sidx`, with
//! `mfra`) against ffmpeg's decode of the same fixtures. The H.264 ones are 6 s cut from
//! h264-high-720p.mp4 (keyframe every 2 s, 30 fps); the HEVC ones as in `hevc.rs`.

mod common;
use common::*;
use frames::config::Mode;
use std::fs::File;
use std::io::BufReader;

fn check(name: &str, t: f64, mode: Mode, ref_index: u32, want_pts: f64) {
    check_frame(name, t, mode, ref_index, want_pts, 2e-3);
}

fn h264_cases(name: &str) {
    check(name, 0.0, Mode::Keyframe, 0, 0.0);
    check(name, 1.5, Mode::Exact, 45, 1.5);
    check(name, 2.5, Mode::Keyframe, 60, 2.0);
    check(name, 5.0, Mode::Exact, 150, 5.0);
    check(name, 5.99, Mode::Exact, 179, 179.0 / 30.0);
}

#[test]
fn h264_in_mpeg_ts() {
    h264_cases("h264-high-720p.ts");
}

#[test]
fn h264_in_m2ts() {
    h264_cases("h264-high-720p.m2ts");
}

#[test]
fn hevc_in_mpeg_ts() {
    let name = "hevc-main-720p.ts";
    check(name, 0.0, Mode::Keyframe, 0, 0.0);
    check(name, 1.5, Mode::Exact, 45, 1.5);
    check(name, 3.0, Mode::Keyframe, 60, 2.0);
    check(name, 3.0, Mode::Exact, 90, 3.0);
    check(name, 3.99, Mode::Exact, 119, 119.0 / 30.0);
}

#[test]
fn fragmented_mp4() {
    check("h264-fragmented-720p.mp4", 1.5, Mode::Exact, 45, 1.5);
    check(
        "h264-fragmented-720p.mp4",
        1.99,
        Mode::Exact,
        59,
        59.0 / 30.0,
    );
    h264_cases("h264-dash-720p.mp4");
    h264_cases("h264-mfra-720p.mp4");
    let name = "hevc-fragmented-720p.mp4";
    check(name, 1.5, Mode::Exact, 45, 1.5);
    check(name, 3.0, Mode::Keyframe, 60, 2.0);
    check(name, 3.0, Mode::Exact, 90, 3.0);
}

/// The transport stream index covers only what a time needs: a few keyframe windows, not
/// every frame, and a later time needs no frame from before its keyframe.
#[test]
fn mpeg_ts_is_indexed_around_the_times_only() {
    let path = fixture("h264-high-720p.ts");
    let size = std::fs::metadata(&path).unwrap().len();
    let mut file = BufReader::new(File::open(&path).unwrap());
    let mut track = frames::probe::open(&mut file, size).unwrap();
    // Cut at 6 s by stream copy: 184 frames (ffprobe: 6.133 s).
    let d = track.duration_seconds();
    assert!((d - 6.133).abs() < 0.05, "duration {d} (ffprobe: 6.133)");
    frames::probe::index_around(&mut track, &mut file, size, &[5.0]).unwrap();
    let first = track.samples.iter().map(|s| s.pts).min().unwrap();
    assert!(track.samples.len() < 90, "{} samples", track.samples.len());
    assert!(
        first >= 90_000,
        "indexed from {first} ticks: far more than the keyframe window"
    );
    assert!(
        track
            .samples
            .iter()
            .any(|s| s.keyframe && s.pts == 4 * 90_000)
    );
}
