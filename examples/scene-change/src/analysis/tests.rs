//! Synthetic sequences through the whole analysis: encode, decode, measure, decide.

use super::*;
use crate::testing::{H, Memory, W, jpeg, paint, png_rgb, solid};

/// Scene A: a blue-to-cyan sky with a white square whose left edge is at `x`.
fn sky_with_square(x: u32) -> Vec<u8> {
    paint(W, H, |px, py| {
        if (x..x + 24).contains(&px) && (30..54).contains(&py) {
            [250, 250, 250]
        } else {
            [20, (60 + px) as u8, 200]
        }
    })
}

/// Scene B: a red-to-yellow field with a dark band, nothing like scene A.
fn field(shift: u32) -> Vec<u8> {
    paint(W, H, |px, py| {
        if (py + shift) % 30 < 6 {
            [40, 30, 20]
        } else {
            [220, (40 + py * 2) as u8, (30 + px / 4) as u8]
        }
    })
}

fn analyse(source: &mut Memory) -> Value {
    run(&source.names(), &Config::default(), source).unwrap()
}

fn cut_names(result: &Value) -> Vec<&str> {
    result["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["artifact"].as_str().unwrap())
        .collect()
}

#[test]
fn steady_solid_colour_has_no_cut_and_no_motion() {
    let frames = vec![solid(W, H, [90, 140, 60]); 6];
    let r = analyse(&mut Memory::jpegs(&frames));
    assert_eq!(r["frames"], 6);
    assert_eq!(r["scenes"], 1);
    assert!(cut_names(&r).is_empty(), "{r}");
    assert_eq!(r["motion"].as_array().unwrap().len(), 5);
    assert_eq!(r["mean_motion"], 0.0);
}

#[test]
fn moving_square_has_motion_but_no_cut() {
    let still = analyse(&mut Memory::jpegs(&vec![sky_with_square(20); 6]));
    let moving: Vec<_> = (0..6).map(|i| sky_with_square(10 + i * 20)).collect();
    let moving = analyse(&mut Memory::jpegs(&moving));
    println!("still {still}\nmoving {moving}");
    assert!(cut_names(&moving).is_empty(), "{moving}");
    let (m, s) = (
        moving["mean_motion"].as_f64().unwrap(),
        still["mean_motion"].as_f64().unwrap(),
    );
    assert!(m > 0.01 && s < 0.001, "moving {m}, still {s}");
    for entry in moving["motion"].as_array().unwrap() {
        assert!(entry["score"].as_f64().unwrap() > 0.01, "{entry}");
    }
}

#[test]
fn hard_cut_is_found_exactly_where_it_is() {
    let mut frames: Vec<_> = (0..5).map(|i| sky_with_square(10 + i * 12)).collect();
    frames.extend((0..5).map(|i| field(i * 3)));
    let r = analyse(&mut Memory::jpegs(&frames));
    println!("{r}");
    assert_eq!(cut_names(&r), ["frame-5.jpg"]);
    assert_eq!(r["scenes"], 2);
    let score = r["cuts"][0]["score"].as_f64().unwrap();
    assert!(score > 0.8, "cut score {score}");
    // The cut is also the largest motion.
    let motion = r["motion"].as_array().unwrap();
    let top = motion
        .iter()
        .max_by(|a, b| {
            a["score"]
                .as_f64()
                .partial_cmp(&b["score"].as_f64())
                .unwrap()
        })
        .unwrap();
    assert_eq!(top["artifact"], "frame-5.jpg");
}

#[test]
fn frames_go_in_numeric_order_with_times_from_frames_json() {
    // Given out of order: frame-10 must come after frame-9, not after frame-1.
    let mut source = Memory::default();
    for i in [10, 2, 0, 9, 1] {
        let frame = if i < 9 { sky_with_square(20) } else { field(0) };
        source.add(&format!("frame-{i}.jpg"), "image/jpeg", jpeg(&frame, W, H));
    }
    let frames_json = json!({"frames": [
        {"artifact": "frame-0.jpg", "pts_seconds": 0.0},
        {"artifact": "frame-9.jpg", "requested_seconds": 4.5, "pts_seconds": 4.48},
        {"artifact": "frame-10.jpg", "requested_seconds": 5.0},
    ], "codec": "h264"});
    source.add(
        FRAMES_JSON,
        "application/json",
        frames_json.to_string().into_bytes(),
    );
    source.add("notes.txt", "text/plain", b"ignored".to_vec());
    let r = analyse(&mut source);
    assert_eq!(r["frames"], 5);
    assert_eq!(
        r["cuts"],
        json!([{"artifact": "frame-9.jpg", "time_seconds": 4.48, "score": r["cuts"][0]["score"]}])
    );
    let motion = r["motion"].as_array().unwrap();
    let order: Vec<_> = motion
        .iter()
        .map(|m| m["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["frame-1.jpg", "frame-2.jpg", "frame-9.jpg", "frame-10.jpg"]
    );
    assert_eq!(motion[0]["time_seconds"], Value::Null);
    assert_eq!(motion[3]["time_seconds"], 5.0);
    assert_eq!(source.progress.last(), Some(&(5, 5)));
    assert_eq!(source.progress.len(), 5);
}

#[test]
fn png_frames_work_like_jpeg() {
    let mut source = Memory::default();
    for (i, f) in [sky_with_square(10), sky_with_square(30), field(0)]
        .iter()
        .enumerate()
    {
        source.add(&format!("frame-{i}.png"), "image/png", png_rgb(f, W, H));
    }
    let r = analyse(&mut source);
    assert_eq!(cut_names(&r), ["frame-2.png"]);
}

#[test]
fn threshold_decides() {
    let frames = vec![sky_with_square(20), field(0)];
    let mut source = Memory::jpegs(&frames);
    let strict = Config {
        threshold: 1.0,
        ..Config::default()
    };
    let r = run(&source.names(), &strict, &mut source).unwrap();
    assert!(cut_names(&r).is_empty());
}

#[test]
fn bad_image_is_invalid_input_naming_it() {
    let mut source = Memory::jpegs(&[sky_with_square(0), sky_with_square(5)]);
    source.add(
        "frame-2.jpg",
        "image/jpeg",
        b"\xff\xd8\xffnot really".to_vec(),
    );
    let err = run(&source.names(), &Config::default(), &mut source).unwrap_err();
    let Failure::Invalid(m) = err else {
        panic!("{err:?}")
    };
    assert!(m.starts_with("frame-2.jpg: corrupt JPEG: "), "{m}");
    assert_eq!(m.trim_end(), m);
}

#[test]
fn no_image_inputs_is_invalid_input() {
    let mut source = Memory::default();
    source.add(
        FRAMES_JSON,
        "application/json",
        br#"{"frames":[]}"#.to_vec(),
    );
    let err = run(&source.names(), &Config::default(), &mut source).unwrap_err();
    let Failure::Invalid(m) = err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("no image inputs") && m.contains("frames.json"),
        "{m}"
    );
    assert_eq!(source.reads, 0);
}

#[test]
fn malformed_frames_json_and_too_many_frames_are_refused() {
    let mut source = Memory::jpegs(&vec![solid(W, H, [1, 2, 3]); 3]);
    source.add(FRAMES_JSON, "application/json", b"[1,2]".to_vec());
    let err = run(&source.names(), &Config::default(), &mut source).unwrap_err();
    assert!(
        matches!(&err, Failure::Invalid(m) if m.starts_with("frames.json")),
        "{err:?}"
    );
    let small = Config {
        max_frames: 2,
        ..Config::default()
    };
    let err = run(&source.names(), &small, &mut source).unwrap_err();
    assert!(
        matches!(&err, Failure::Invalid(m) if m.contains("max_frames 2")),
        "{err:?}"
    );
}

#[test]
fn cancellation_stops_between_frames() {
    let mut source = Memory::jpegs(&vec![solid(W, H, [9, 9, 9]); 5]);
    source.cancel_after_reads = Some(2);
    let err = run(&source.names(), &Config::default(), &mut source).unwrap_err();
    assert_eq!(err, Failure::Cancelled);
    assert_eq!(source.reads, 2);
    assert_eq!(source.progress, [(1, 5), (2, 5)]);
}

#[test]
fn single_frame_is_one_scene_without_motion() {
    let r = analyse(&mut Memory::jpegs(&[solid(W, H, [200, 10, 10])]));
    assert_eq!(
        r,
        json!({"frames": 1, "cuts": [], "scenes": 1, "motion": [], "mean_motion": 0.0})
    );
}

#[test]
fn index_is_the_last_number_before_the_extension() {
    assert_eq!(index("frame-12.jpg"), Some(12));
    assert_eq!(index("cam2-frame-7.png"), Some(7));
    assert_eq!(index("frame.jpg"), None);
    assert_eq!(index("0042"), Some(42));
}
