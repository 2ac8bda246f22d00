//! AV1: metadata, and damage. What the checks before rav1d refuse as invalid input, and
//! what still ends in rav1d's abort (memorysafety/rav1d#1497) with the panic note.
//!
//! rav1d 1.1 aborts the process when a frame fails inside its decoder, natively too (the
//! panic crosses an `extern "C"` function), so every damaged input that reaches the AV1
//! decoder runs in a child process: this test binary again, running only `child`.

mod common;
use common::{Discard, damaged, fixture};
use frames::config::Config;
use frames::job::run;
use frames::media::{MediaError, Sample};
use serde_json::Value;
use std::io::Cursor;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn run_bytes(data: &[u8], config: &str) -> Result<Value, MediaError> {
    let config: Config = serde_json::from_str(config).unwrap();
    run(Cursor::new(data), data.len() as u64, &config, &mut Discard)
}

const CHILD_INPUT: &str = "FRAMES_AV1_CHILD_INPUT";
const CHILD_CONFIG: &str = "FRAMES_AV1_CHILD_CONFIG";
const RESULT: &str = "child-result ";

/// How a run in a child process ended.
#[derive(Debug)]
enum Outcome {
    /// Frames came out (damage inside the picture data can decode to a wrong picture).
    Frames,
    /// An error value.
    Error(MediaError),
    /// rav1d aborted the process; its stderr.
    Aborted(String),
}

#[test]
#[ignore = "the child process of the damage tests, run by them"]
fn child() {
    let Ok(path) = std::env::var(CHILD_INPUT) else {
        return;
    };
    let data = std::fs::read(path).unwrap();
    let result = run_bytes(&data, &std::env::var(CHILD_CONFIG).unwrap());
    let line = match result {
        Ok(_) => "frames".to_owned(),
        Err(MediaError::Invalid(m)) => format!("invalid {m}"),
        Err(MediaError::Unsupported(m)) => format!("unsupported {m}"),
        Err(MediaError::Cancelled) => "cancelled".to_owned(),
    };
    println!("{RESULT}{line}");
}

/// Runs the job on `data` in a child process (60 s at most).
fn in_child(data: &[u8], config: &str) -> Outcome {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "frames-av1-{}-{}.bin",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_INPUT, &path)
        .env(CHILD_CONFIG, config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the child hung on {config}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.signal() == Some(6) {
        return Outcome::Aborted(stderr);
    }
    let line = stdout
        .lines()
        .find_map(|l| l.find(RESULT).map(|at| &l[at + RESULT.len()..]))
        .unwrap_or_else(|| panic!("the child failed ({}): {stdout}\n{stderr}", out.status));
    match line.split_once(' ') {
        None if line == "frames" => Outcome::Frames,
        Some(("invalid", m)) => Outcome::Error(MediaError::invalid(m)),
        Some(("unsupported", m)) => Outcome::Error(MediaError::unsupported(m)),
        _ => panic!("child said {line}"),
    }
}

/// The file and its samples, as the demuxer indexes them.
fn indexed(name: &str) -> (Vec<u8>, Vec<Sample>) {
    let data = std::fs::read(fixture(name)).unwrap();
    let track = frames::probe::open(&mut Cursor::new(&data), data.len() as u64).unwrap();
    (data, track.samples)
}

/// `(offset in the sample, header length, payload size, type)` of each OBU of a sample.
fn obus(sample: &[u8]) -> Vec<(usize, usize, usize, u8)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < sample.len() {
        let kind = (sample[pos] >> 3) & 15;
        let mut p = pos + 1 + usize::from(sample[pos] & 4 != 0);
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = sample[p];
            size |= usize::from(b & 0x7f) << shift;
            p += 1;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        out.push((pos, p - pos, size, kind));
        pos = p + size;
    }
    out
}

fn sample_bytes<'a>(data: &'a [u8], s: &Sample) -> &'a [u8] {
    &data[s.offset as usize..s.offset as usize + s.size as usize]
}

/// Asserts a clear invalid-input error mentioning `needle`.
fn assert_invalid(outcome: Outcome, needle: &str) {
    match outcome {
        Outcome::Error(MediaError::Invalid(m)) => {
            assert!(m.contains(needle), "`{m}` lacks `{needle}`");
            println!("invalid input: {m}");
        }
        other => panic!("expected invalid input with `{needle}`, got {other:?}"),
    }
}

const NOTE: &str =
    "[framepipe:invalid-input] the AV1 stream is damaged: rav1d failed decoding frame";

#[test]
fn metadata_and_frames() {
    for (name, container) in [("av1-720p.mkv", "matroska"), ("av1-720p.mp4", "mp4")] {
        let data = std::fs::read(fixture(name)).unwrap();
        let v = run_bytes(&data, r#"{"mode": "exact", "count": 3, "format": "png"}"#).unwrap();
        assert_eq!(v["container"], container);
        assert_eq!(v["codec"], "av1");
        assert_eq!(v["profile"], "Main");
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(1280), Some(720))
        );
        let fps = v["fps"].as_f64().unwrap();
        assert!((29.0..=31.0).contains(&fps), "{name}: fps {fps}");
        assert_eq!(v["frames"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn empty_and_truncated_files_are_invalid_input() {
    match run_bytes(&[], r#"{"at_seconds": 1}"#) {
        Err(MediaError::Invalid(m)) => assert!(m.contains("empty"), "{m}"),
        other => panic!("empty: {other:?}"),
    }
    for name in ["av1-720p.mkv", "av1-720p.mp4"] {
        let data = std::fs::read(fixture(name)).unwrap();
        for cut in [data.len() * 6 / 10, data.len() - 1] {
            match run_bytes(&data[..cut], r#"{"mode": "exact", "at_seconds": 5}"#) {
                Err(MediaError::Invalid(m)) => assert!(m.contains("truncated"), "{name}: {m}"),
                other => panic!("{name} cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn damaged_obu_syntax_is_invalid_input() {
    let (good, samples) = indexed("av1-720p.mkv");
    let key = samples[120];
    assert!(key.keyframe);
    let at = key.offset as usize;
    let units = obus(sample_bytes(&good, &key));
    let (seq, frame) = (units[0], units[1]);
    assert_eq!(
        (seq.3, frame.3),
        (1, 6),
        "sequence header then frame: {units:?}"
    );
    let exact5 = r#"{"mode": "exact", "at_seconds": 5}"#;

    let mut d = good.clone();
    d[at + frame.0] |= 0x80;
    assert_invalid(
        in_child(&d, exact5),
        "OBU 2 has the forbidden bit of its header set",
    );

    let mut d = good.clone();
    d[at + frame.0] = (d[at + frame.0] & !0x78) | (12 << 3);
    assert_invalid(in_child(&d, exact5), "OBU 2 has the reserved type 12");

    // obu_size of the frame two bytes larger than what is left of the sample.
    let mut d = good.clone();
    let size_at = at + frame.0 + 1;
    let bigger = frame.2 + 2;
    for i in 0..frame.1 - 1 {
        let more = if i + 1 < frame.1 - 1 { 0x80 } else { 0 };
        d[size_at + i] = ((bigger >> (7 * i)) & 0x7f) as u8 | more;
    }
    assert_invalid(in_child(&d, exact5), "only");

    // A bit of the sequence header's frame size fields (byte 5 of its payload).
    let mut d = good.clone();
    d[at + seq.0 + seq.1 + 5] ^= 0x10;
    assert_invalid(in_child(&d, exact5), "the sequence header");

    // The container calls an inter frame a keyframe (SimpleBlock flags, 1 byte before the
    // payload): decoding starts there and finds no reference frames.
    let mut d = good.clone();
    let inter = samples[125];
    assert!(!inter.keyframe);
    d[inter.offset as usize - 1] |= 0x80;
    let t = inter.pts as f64 / 1e6;
    assert_invalid(
        in_child(&d, &format!(r#"{{"mode": "keyframe", "at_seconds": {t}}}"#)),
        "no key frame was decoded before it",
    );
}

/// The frame OBU of keyframe sample 120 keeps its header and 40 bytes of tile data; a
/// padding OBU fills the rest, so the container and OBU sizes stay consistent. rav1d reads
/// past the end of the tile data, fails inside its frame decoding, and aborts: the panic
/// note must say so. (If this starts returning an error instead, rav1d fixed #1497.)
#[test]
fn tile_data_cut_short_aborts_with_the_note() {
    let (good, samples) = indexed("av1-720p.mkv");
    let key = samples[120];
    let units = obus(sample_bytes(&good, &key));
    let frame = units[1];
    let (len_bytes, keep) = (frame.1 - 1, 40);
    let leb = |v: usize| -> Vec<u8> {
        (0..len_bytes)
            .map(|i| ((v >> (7 * i)) & 0x7f) as u8 | if i + 1 < len_bytes { 0x80 } else { 0 })
            .collect()
    };
    let mut d = good.clone();
    let start = key.offset as usize + frame.0;
    d[start + 1..start + frame.1].copy_from_slice(&leb(keep));
    let pad = start + frame.1 + keep;
    let pad_size = frame.2 - keep - frame.1;
    d[pad] = 15 << 3 | 2;
    d[pad + 1..pad + frame.1].copy_from_slice(&leb(pad_size));
    match in_child(&d, r#"{"mode": "keyframe", "at_seconds": 4}"#) {
        Outcome::Aborted(stderr) => {
            assert!(stderr.contains(NOTE), "{stderr}");
            assert!(
                stderr.contains("decoding frame 120 at 4.000 s ("),
                "{stderr}"
            );
            let line = stderr.lines().find(|l| l.contains(NOTE)).unwrap();
            println!("aborted: {line}");
        }
        other => panic!("expected rav1d's abort with the note, got {other:?}"),
    }
}

/// Single flipped bytes inside the tile data of the frames an exact seek to 5 s decodes
/// (its keyframe and the 15 coded frames after it; the 3-byte `show_existing_frame`
/// samples between them are covered by `damaged_obu_syntax_is_invalid_input`'s kind of
/// check). Each gives frames (a wrong picture: nothing short of decoding sees such
/// damage), an error value, or rav1d's abort with the note. Never a bare panic or a hang.
#[test]
fn flipped_bytes_in_frame_payloads_fail_cleanly() {
    for name in ["av1-720p.mkv", "av1-720p.mp4"] {
        let (good, samples) = indexed(name);
        let (mut frames, mut errors, mut aborts) = (0, 0, 0);
        let coded = (120..=150).filter(|&i| samples[i].size > 100);
        for (n, i) in coded.enumerate() {
            let s = samples[i];
            let units = obus(sample_bytes(&good, &s));
            // The largest OBU's payload, at an eighth, a half or seven eighths of it.
            let &(o, h, size, _) = units.iter().max_by_key(|u| u.2).unwrap();
            let within = size * [1, 4, 7][n % 3] / 8;
            let mut d = good.clone();
            d[s.offset as usize + o + h + within] ^= 0x5a;
            match in_child(&d, r#"{"mode": "exact", "at_seconds": 5}"#) {
                Outcome::Frames => frames += 1,
                Outcome::Error(MediaError::Invalid(m)) => {
                    println!("{name} sample {i}: invalid input: {m}");
                    errors += 1;
                }
                Outcome::Error(e) => panic!("{name} sample {i}: {e:?}"),
                Outcome::Aborted(stderr) => {
                    assert!(stderr.contains(NOTE), "{name} sample {i}: {stderr}");
                    aborts += 1;
                }
            }
        }
        println!(
            "{name}: {frames} decoded (wrong pictures), {errors} errors, {aborts} aborts with the note"
        );
        assert!(frames + errors + aborts >= 16);
    }
}

/// Random damage anywhere (as tests/fuzz.rs does for the other codecs): 1 to 8 flipped
/// bits, mostly in the first 96 KiB (index and first frames), sometimes a cut.
#[test]
fn random_damage_fails_cleanly() {
    let original = std::fs::read(fixture("av1-720p.mkv")).unwrap();
    let mut counts = [0; 3];
    for seed in 1..=24u64 {
        let data = damaged(&original, seed);
        match in_child(&data, r#"{"mode": "exact", "at_seconds": 0.3}"#) {
            Outcome::Frames => counts[0] += 1,
            Outcome::Error(e) => {
                counts[1] += 1;
                println!("seed {seed}: {e}");
            }
            Outcome::Aborted(stderr) => {
                assert!(stderr.contains(NOTE), "seed {seed}: {stderr}");
                counts[2] += 1;
            }
        }
    }
    println!(
        "av1-720p.mkv: {} decoded, {} clear errors, {} aborts with the note",
        counts[0], counts[1], counts[2]
    );
}
