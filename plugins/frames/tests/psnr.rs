//! Every supported container and codec against ffmpeg's decode of the same fixtures.

mod common;
use common::*;
use frames::config::Mode;

fn check(name: &str, t: f64, mode: Mode, ref_index: u32, want_pts: f64) -> f64 {
    let got = extract(name, t, mode).unwrap_or_else(|e| panic!("{name} @ {t}: {e}"));
    assert!(
        (got.pts_seconds - want_pts).abs() < 1e-3,
        "{name} @ {t}: pts {} want {want_pts}",
        got.pts_seconds
    );
    let p = psnr(&got.rgb, &reference(name, ref_index));
    println!(
        "{name} {mode:?} t={t}: frame {ref_index} pts {:.3} PSNR {p:.2} dB",
        got.pts_seconds
    );
    assert!(p >= 40.0, "{name} @ {t}: PSNR {p:.2} dB < 40");
    p
}

#[test]
fn high_720p_keyframe_and_exact() {
    check("h264-high-720p.mp4", 0.0, Mode::Keyframe, 0, 0.0);
    check("h264-high-720p.mp4", 5.0, Mode::Keyframe, 120, 4.0);
    check("h264-high-720p.mp4", 5.0, Mode::Exact, 150, 5.0);
    check("h264-high-720p.mp4", 9.99, Mode::Exact, 299, 299.0 / 30.0);
}

#[test]
fn baseline_and_main_720p() {
    check("h264-baseline-720p.mp4", 5.0, Mode::Keyframe, 120, 4.0);
    check("h264-baseline-720p.mp4", 5.0, Mode::Exact, 150, 5.0);
    check("h264-main-720p-faststart.mp4", 5.0, Mode::Exact, 150, 5.0);
}

#[test]
fn high_1080p_exact() {
    check("h264-high-1080p.mp4", 5.0, Mode::Exact, 150, 5.0);
}

#[test]
fn vtest_people_frames() {
    check("vtest-h264.mp4", 30.0, Mode::Exact, 300, 30.0);
    check("vtest-h264.mp4", 60.0, Mode::Exact, 600, 60.0);
}

#[test]
fn rotation_matches_ffmpeg_autorotate() {
    let got = extract("h264-rotated-720p.mp4", 0.5, Mode::Exact).unwrap();
    let turned = frames::rotate::rotate(got.rgb, 270);
    let p = psnr(&turned, &reference("h264-rotated-720p.mp4", 15));
    assert!(p >= 40.0, "rotated PSNR {p:.2}");
}

#[test]
fn psnr_tells_neighbouring_frames_apart() {
    // Guards the tests above: the wrong frame must not pass the 40 dB bar.
    let got = extract("h264-high-720p.mp4", 5.0, Mode::Exact).unwrap();
    let p = psnr(&got.rgb, &reference("h264-high-720p.mp4", 120));
    assert!(p < 30.0, "frame 150 vs 120: {p:.2} dB");
}

#[test]
fn mjpeg_in_matroska() {
    check("mjpeg-720p.mkv", 5.0, Mode::Exact, 150, 5.0);
    check("mjpeg-720p.mkv", 5.0, Mode::Keyframe, 150, 5.0);
    check("vtest-mjpeg.mkv", 30.0, Mode::Exact, 300, 30.0);
    check("vtest-mjpeg.mkv", 60.0, Mode::Exact, 600, 60.0);
}

#[test]
fn mjpeg_420_differs_only_by_chroma_upsampling() {
    // zune-jpeg interpolates chroma like libjpeg; ffmpeg's rgb24 conversion repeats it.
    // On testsrc2's saturated edges that costs ~30 dB, so the bar here is lower.
    let got = extract("mjpeg420-720p.mkv", 5.0, Mode::Exact).unwrap();
    let p = psnr(&got.rgb, &reference("mjpeg420-720p.mkv", 150));
    println!("mjpeg420-720p.mkv t=5: PSNR {p:.2} dB");
    assert!(p >= 28.0, "PSNR {p:.2}");
}

#[test]
fn vp9_in_webm() {
    check("vp9-720p.webm", 0.0, Mode::Keyframe, 0, 0.0);
    check("vp9-720p.webm", 5.0, Mode::Keyframe, 120, 4.0);
    check("vp9-720p.webm", 5.0, Mode::Exact, 150, 5.0);
}

#[test]
fn vp9_in_mp4() {
    check("vp9-720p.mp4", 5.0, Mode::Exact, 150, 5.0);
}

#[test]
fn mjpeg_in_avi() {
    check("mjpeg-720p.avi", 5.0, Mode::Exact, 150, 5.0);
    check("mjpeg-720p.avi", 9.99, Mode::Keyframe, 299, 299.0 / 30.0);
}

#[test]
fn av1_in_matroska() {
    check("av1-720p.mkv", 0.0, Mode::Keyframe, 0, 0.0);
    check("av1-720p.mkv", 5.0, Mode::Keyframe, 120, 4.0);
    check("av1-720p.mkv", 5.0, Mode::Exact, 150, 5.0);
    // Matroska keeps milliseconds: frame 299 is at 9.967 s.
    check("av1-720p.mkv", 9.99, Mode::Exact, 299, 9.967);
}

#[test]
fn av1_in_mp4() {
    check("av1-720p.mp4", 5.0, Mode::Keyframe, 120, 4.0);
    check("av1-720p.mp4", 5.0, Mode::Exact, 150, 5.0);
}

#[test]
fn av1_1080p_exact() {
    check("av1-1080p.mkv", 5.0, Mode::Exact, 150, 5.0);
    check("av1-1080p.mkv", 9.99, Mode::Exact, 299, 9.967);
}

#[test]
fn vtest_av1_people_frames() {
    check("vtest-av1.mkv", 30.0, Mode::Exact, 300, 30.0);
    check("vtest-av1.mkv", 60.0, Mode::Exact, 600, 60.0);
}

#[test]
fn av1_psnr_tells_neighbouring_frames_apart() {
    let got = extract("av1-720p.mkv", 5.0, Mode::Exact).unwrap();
    let p = psnr(&got.rgb, &reference("av1-720p.mkv", 120));
    assert!(p < 30.0, "frame 150 vs 120: {p:.2} dB");
}
