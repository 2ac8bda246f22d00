//! MPEG-4 Part 2 and MS-MPEG4 v3 against ffmpeg's decode of the same frames: OpenCV's
//! Xvid sample (packed B-frames) and vtest.avi as they are, and libavcodec's encodes with
//! B-frames, four vectors, video packets, quarter samples and MPEG quantisation.

mod common;
use common::*;
use frames::config::Mode;

fn check(name: &str, t: f64, mode: Mode, ref_index: u32, want_pts: f64) -> f64 {
    check_frame(name, t, mode, ref_index, want_pts, 1e-3)
}

/// The four standard probes of a 10-second 30 fps fixture with a keyframe every 2 s.
fn probes(name: &str) {
    check(name, 0.0, Mode::Keyframe, 0, 0.0);
    check(name, 5.0, Mode::Keyframe, 120, 4.0);
    check(name, 5.0, Mode::Exact, 150, 5.0);
    check(name, 9.99, Mode::Exact, 299, 299.0 / 30.0);
}

#[test]
fn mpeg4_avi_b_frames_and_four_vectors() {
    probes("mpeg4-720p.avi");
}

#[test]
fn mpeg4_avi_quarter_samples_and_video_packets() {
    probes("mpeg4-qpel-720p.avi");
}

#[test]
fn mpeg4_avi_mpeg_quantisation() {
    probes("mpeg4-mpegquant-720p.avi");
}

#[test]
fn mpeg4_in_mp4() {
    probes("mpeg4-720p.mp4");
}

/// Megamind.avi frame `i` (23.976 fps): its time.
fn megamind_t(i: u32) -> f64 {
    f64::from(i) * 1001.0 / 24000.0
}

#[test]
fn megamind_xvid_packed_b_frames() {
    let name = "megamind.avi";
    check(name, 0.0, Mode::Keyframe, 0, 0.0);
    for i in [100, 200, 269] {
        check(name, megamind_t(i) + 1e-4, Mode::Exact, i, megamind_t(i));
    }
}

#[test]
fn msmpeg4v3_avi() {
    probes("msmpeg4-720p.avi");
}

#[test]
fn vtest_divx3_as_it_is() {
    // OpenCV's vtest.avi: MS-MPEG4 v3 from MEncoder, keyframes every 25 s.
    check("vtest.avi", 30.0, Mode::Exact, 300, 30.0);
    check("vtest.avi", 60.0, Mode::Exact, 600, 60.0);
    check("vtest.avi", 30.0, Mode::Keyframe, 250, 25.0);
    let v = frames::job::run(
        std::io::BufReader::new(std::fs::File::open(fixture("vtest.avi")).unwrap()),
        std::fs::metadata(fixture("vtest.avi")).unwrap().len(),
        &serde_json::from_str(r#"{"at_seconds": 1}"#).unwrap(),
        &mut Discard,
    )
    .unwrap();
    assert_eq!(v["codec"], "msmpeg4v3");
}

#[test]
fn mpeg4_psnr_tells_neighbouring_frames_apart() {
    let got = extract("mpeg4-720p.avi", 5.0, Mode::Exact).unwrap();
    let p = psnr(&got.rgb, &reference("mpeg4-720p.avi", 120));
    assert!(p < 30.0, "frame 150 vs 120: {p:.2} dB");
}

/// Runs the step on damaged copies of `name`: each gives frames or a typed error, never
/// a panic (a panic in the guest would be a trap).
fn fuzz(name: &str, rounds: u64, config: &str) {
    use frames::config::Config;
    use frames::job::run;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let original = std::fs::read(fixture(name)).unwrap();
    let config: Config = serde_json::from_str(config).unwrap();
    let (mut ok, mut errors) = (0, 0);
    for seed in 1..=rounds {
        let data = damaged(&original, seed);
        let size = data.len() as u64;
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(std::io::Cursor::new(data), size, &config, &mut Discard)
        }));
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(frames::media::MediaError::Cancelled)) => {
                panic!("{name}: seed {seed} cancelled")
            }
            Ok(Err(e)) => {
                errors += 1;
                println!("{name} seed {seed}: {e}");
            }
            Err(_) => panic!("{name}: seed {seed} panicked"),
        }
    }
    println!("{name}: {ok} decoded, {errors} clear errors, 0 panics");
}

#[test]
fn damaged_xvid_avi_gives_frames_or_errors() {
    fuzz(
        "megamind.avi",
        30,
        r#"{"mode": "exact", "at_seconds": 1.0}"#,
    );
}

#[test]
fn damaged_mpeg4_mp4_gives_frames_or_errors() {
    fuzz(
        "mpeg4-720p.mp4",
        12,
        r#"{"mode": "exact", "at_seconds": 0.2}"#,
    );
}

#[test]
fn cut_and_lying_avi_headers_are_invalid_input() {
    use frames::media::MediaError;
    let original = std::fs::read(fixture("megamind.avi")).unwrap();
    let open = |data: Vec<u8>| -> Result<(), MediaError> {
        let size = data.len() as u64;
        let mut cursor = std::io::Cursor::new(data);
        let track = frames::probe::open(&mut cursor, size)?;
        let mut ex = frames::extract::Extractor::new(&track, cursor, size)?;
        ex.extract(4.2, Mode::Exact, true, &mut || false)
            .map(|_| ())
    };
    // Cut in the middle: the RIFF size says more than there is.
    let cut = original[..original.len() / 2].to_vec();
    assert!(matches!(open(cut), Err(MediaError::Invalid(m)) if m.contains("truncated")));
    // The stream format claims 64x64: the VOL's 720x528 is refused before allocating.
    let mut lying = original.clone();
    let strf = lying.windows(4).position(|w| w == b"strf").unwrap();
    lying[strf + 12..strf + 16].copy_from_slice(&64u32.to_le_bytes());
    lying[strf + 16..strf + 20].copy_from_slice(&64u32.to_le_bytes());
    match open(lying) {
        Err(MediaError::Invalid(m)) => assert!(m.contains("VOL header claims"), "{m}"),
        other => panic!("lying header: {other:?}"),
    }
}
