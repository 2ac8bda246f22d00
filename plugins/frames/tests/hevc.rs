//! HEVC in every container against ffmpeg's decode of the same fixtures (4 s at 30 fps,
//! keyframe every 2 s, x265 open GOP with B-frames: t=3 s is frame 90, after the CRA at
//! frame 60; frame 45 is a B-frame between keyframes).

mod common;
use common::*;
use frames::config::Mode;

fn check(name: &str, t: f64, mode: Mode, ref_index: u32, want_pts: f64) -> f64 {
    check_frame(name, t, mode, ref_index, want_pts, 2e-3)
}

/// Every frame kind: the first keyframe, a B-frame, the second keyframe, a frame after
/// it, the last frame; keyframe mode picks the keyframe at or before the time.
fn all_modes(name: &str) {
    check(name, 0.0, Mode::Keyframe, 0, 0.0);
    check(name, 1.5, Mode::Exact, 45, 1.5);
    check(name, 3.0, Mode::Keyframe, 60, 2.0);
    check(name, 2.0, Mode::Exact, 60, 2.0);
    check(name, 3.0, Mode::Exact, 90, 3.0);
    check(name, 3.99, Mode::Exact, 119, 119.0 / 30.0);
}

#[test]
fn hevc_main_in_mp4() {
    all_modes("hevc-main-720p.mp4");
    check("hevc-main-720p-hev1.mp4", 3.0, Mode::Exact, 90, 3.0);
}

#[test]
fn hevc_main_in_matroska() {
    all_modes("hevc-main-720p.mkv");
}

#[test]
fn hevc_main10_in_matroska_and_mp4() {
    all_modes("hevc-main10-720p.mkv");
    check("hevc-main10-720p.mp4", 3.0, Mode::Exact, 90, 3.0);
}

#[test]
fn hevc_1080p_exact() {
    check("hevc-main-1080p.mp4", 1.67, Mode::Exact, 50, 50.0 / 30.0);
}

#[test]
fn hevc_rotation_matches_ffmpeg_autorotate() {
    let got = extract("hevc-rotated-720p.mov", 1.5, Mode::Exact).unwrap();
    let turned = frames::rotate::rotate(got.rgb, 270);
    let p = psnr(&turned, &reference("hevc-rotated-720p.mov", 45));
    assert!(p >= 40.0, "rotated PSNR {p:.2}");
}

#[test]
fn hevc_psnr_tells_neighbouring_frames_apart() {
    let got = extract("hevc-main-720p.mp4", 3.0, Mode::Exact).unwrap();
    let p = psnr(&got.rgb, &reference("hevc-main-720p.mp4", 60));
    assert!(p < 30.0, "frame 90 vs 60: {p:.2} dB");
}
