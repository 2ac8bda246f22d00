//! The whole multi-frame run ([`run::run`]) natively, over an in-memory host.
//!
//! Uses the fixture images of `models/extract-test-images.sh` (see `counts.rs`).

use people_count::run::{self, Annotate, Config, Failure};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run models/extract-test-images.sh first",
            path.display()
        )
    })
}

/// An in-memory host: inputs by name, artifacts written, progress seen.
#[derive(Default)]
struct MemIo {
    inputs: BTreeMap<String, Vec<u8>>,
    artifacts: BTreeMap<String, Vec<u8>>,
    progress: Vec<(u64, u64)>,
    reads: Vec<String>,
    warnings: Vec<String>,
    /// Reports cancellation once this many frames are done.
    cancel_after: Option<u64>,
}

impl MemIo {
    fn with(inputs: &[(&str, Vec<u8>)]) -> MemIo {
        MemIo {
            inputs: inputs
                .iter()
                .map(|(n, b)| ((*n).to_owned(), b.clone()))
                .collect(),
            ..MemIo::default()
        }
    }
}

impl run::Io for MemIo {
    type Error = Failure;

    fn input_names(&self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        self.reads.push(name.to_owned());
        let bytes = self
            .inputs
            .get(name)
            .ok_or_else(|| Failure::InvalidInput(format!("no input {name}")))?;
        assert!(bytes.len() as u64 <= limit);
        Ok(bytes.clone())
    }

    fn write_artifact(
        &mut self,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), Failure> {
        assert_eq!(media_type, "image/jpeg");
        assert!(
            self.artifacts
                .insert(name.to_owned(), bytes.to_vec())
                .is_none()
        );
        Ok(())
    }

    fn progress(&mut self, processed: u64, total: u64) {
        self.progress.push((processed, total));
    }

    fn cancelled(&mut self) -> bool {
        let done = self.progress.last().map_or(0, |p| p.0);
        self.cancel_after.is_some_and(|n| done >= n)
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_owned());
    }
}

fn counts(result: &Value) -> Vec<u64> {
    result["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .collect()
}

#[test]
fn one_frame_repeated_is_the_same_people() {
    let frame = fixture("vtest-300.png");
    let names: Vec<String> = (0..4).map(|i| format!("frame-{i}.png")).collect();
    let inputs: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (n.as_str(), frame.clone())).collect();
    let mut io = MemIo::with(&inputs);
    let result = run::run(&mut io, &Config::default()).unwrap();
    println!(
        "{}",
        serde_json::to_string_pretty(&result["frames"][0]).unwrap()
    );
    assert_eq!(counts(&result), [6, 6, 6, 6]);
    assert_eq!(result["person_count"], 6);
    assert_eq!(result["average"], 6.0);
    assert_eq!(result["unique_people"], 6, "not 6 x 4");
    assert_eq!(result["processed_frames"], 4);
    assert_eq!(result["total_frames"], 4);
    assert_eq!(result["model"], "nanodet-m");
    assert_eq!(result["input_size"], 416);
    // No frames.json: no times.
    assert!(result["frames"][0]["time_seconds"].is_null());
    // The default annotates the first frame with the most people.
    assert_eq!(result["annotated"], json!(["annotated-0.jpg"]));
    assert_eq!(io.artifacts.keys().collect::<Vec<_>>(), ["annotated-0.jpg"]);
    assert_eq!(io.progress, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]);
    assert!(result["fps"].as_f64().unwrap() > 0.0);
}

/// vtest.avi frames 300 + 5k (k in `ks`) as `frame-<k>.jpg`, with a `frames.json` giving
/// their times at 10 fps.
fn walk(ks: &[usize]) -> MemIo {
    let mut inputs: Vec<(String, Vec<u8>)> = ks
        .iter()
        .map(|k| {
            (
                format!("frame-{k}.jpg"),
                fixture(&format!("vtest-seq/frame-{k}.jpg")),
            )
        })
        .collect();
    let index = json!({
        "frames": ks.iter().map(|k| json!({
            "artifact": format!("frame-{k}.jpg"),
            "pts_seconds": (300 + 5 * k) as f64 / 10.0,
        })).collect::<Vec<_>>(),
        "fps": 10.0,
        "duration_seconds": 79.5,
    });
    inputs.push(("frames.json".into(), serde_json::to_vec(&index).unwrap()));
    let borrowed: Vec<(&str, Vec<u8>)> = inputs
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    MemIo::with(&borrowed)
}

#[test]
fn six_people_walking_are_six_unique_people() {
    // The same 6 people (counted by eye) walk for 4 s; frames 0.5 s apart.
    let ks: Vec<usize> = (0..9).collect();
    let mut io = walk(&ks);
    let config = Config {
        annotate: Annotate::None,
        ..Config::default()
    };
    let result = run::run(&mut io, &config).unwrap();
    let per_frame = counts(&result);
    let mut summary = result.clone();
    summary["frames"] = json!("...");
    println!("every 0.5 s: counts {per_frame:?}, result {summary}");
    // One person is missed in a frame or two (and hidden by the sign at the end).
    assert!(per_frame.iter().all(|&c| c == 5 || c == 6), "{per_frame:?}");
    assert_eq!(result["person_count"], 6);
    assert_eq!(result["unique_people"], 6);
    assert_eq!(result["frames"][4]["time_seconds"], 32.0);
}

#[test]
fn sparser_sampling_stays_near_six() {
    // Frames 1 s apart (k even) and 1 s apart shifted (k odd): estimates, not exact.
    for ks in [vec![0, 2, 4, 6, 8], vec![1, 3, 5, 7]] {
        let mut io = walk(&ks);
        let config = Config {
            annotate: Annotate::None,
            ..Config::default()
        };
        let result = run::run(&mut io, &config).unwrap();
        let unique = result["unique_people"].as_u64().unwrap();
        println!(
            "frames {ks:?}: counts {:?}, unique {unique}",
            counts(&result)
        );
        assert!((5..=7).contains(&unique), "{ks:?}: {unique}");
    }
}

#[test]
fn frames_run_in_index_order_with_their_times() {
    let index = json!({
        "frames": [
            {"artifact": "frame-1.png", "pts_seconds": 0.5, "keyframe": true},
            {"artifact": "frame-2.png", "pts_seconds": 1.0},
            {"artifact": "frame-10.png", "pts_seconds": 5.0},
        ],
        "fps": 10.0,
        "duration_seconds": 79.5,
    });
    let mut io = MemIo::with(&[
        ("frame-10.png", fixture("coffee.png")),
        ("frames.json", serde_json::to_vec(&index).unwrap()),
        ("frame-2.png", fixture("astronaut.png")),
        ("frame-1.png", fixture("vtest-600.png")),
    ]);
    let config = Config {
        annotate: Annotate::All,
        ..Config::default()
    };
    let result = run::run(&mut io, &config).unwrap();
    let frames = result["frames"].as_array().unwrap();
    let order: Vec<&str> = frames
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["frame-1.png", "frame-2.png", "frame-10.png"]);
    let times: Vec<f64> = frames
        .iter()
        .map(|f| f["time_seconds"].as_f64().unwrap())
        .collect();
    assert_eq!(times, [0.5, 1.0, 5.0]);
    assert_eq!(counts(&result), [6, 1, 0]);
    assert_eq!(
        (frames[0]["width"].as_u64(), frames[0]["height"].as_u64()),
        (Some(768), Some(576))
    );
    assert_eq!(result["person_count"], 6);
    assert_eq!(result["average"], 2.33);
    assert_eq!(
        result["annotated"],
        json!(["annotated-1.jpg", "annotated-2.jpg", "annotated-10.jpg"])
    );
    assert_eq!(io.artifacts.len(), 3);
    // Each annotated image is a JPEG of its frame's size.
    let back = people_count::image::decode(&io.artifacts["annotated-2.jpg"]).unwrap();
    assert_eq!((back.width, back.height), (512, 512));
    // frames.json first, then each frame once.
    assert_eq!(
        io.reads,
        ["frames.json", "frame-1.png", "frame-2.png", "frame-10.png"]
    );
}

#[test]
fn the_max_frame_is_annotated_and_boxes_are_in_source_pixels() {
    let mut io = MemIo::with(&[
        ("frame-0.png", fixture("coffee.png")),
        ("frame-1.png", fixture("vtest-300.png")),
        ("frame-2.png", fixture("vtest-600.png")),
    ]);
    let result = run::run(&mut io, &Config::default()).unwrap();
    // vtest-300 and vtest-600 tie at 6: the first wins.
    assert_eq!(result["annotated"], json!(["annotated-1.jpg"]));
    // The best frame is read a second time, for drawing.
    assert_eq!(
        io.reads,
        ["frame-0.png", "frame-1.png", "frame-2.png", "frame-1.png"]
    );
    for d in result["frames"][1]["detections"].as_array().unwrap() {
        let (x, y, w, h) = (
            d["x"].as_f64().unwrap(),
            d["y"].as_f64().unwrap(),
            d["w"].as_f64().unwrap(),
            d["h"].as_f64().unwrap(),
        );
        assert!(
            x >= 0.0 && y >= 0.0 && x + w <= 768.0 && y + h <= 576.0,
            "{d}"
        );
        // Pedestrians: taller than wide.
        assert!(h > w, "{d}");
    }
}

#[test]
fn the_single_image_input_keeps_working() {
    let mut io = MemIo::with(&[("image", fixture("astronaut.png"))]);
    let config = Config {
        annotate: Annotate::None,
        ..Config::default()
    };
    let result = run::run(&mut io, &config).unwrap();
    assert_eq!(result["person_count"], 1);
    assert_eq!(result["unique_people"], 1);
    assert_eq!(result["frames"][0]["artifact"], "image");
    assert!(result["frames"][0]["time_seconds"].is_null());
    assert_eq!(result["annotated"], json!([]));
    assert!(io.artifacts.is_empty());
}

#[test]
fn max_frames_caps_the_work() {
    let frame = fixture("astronaut.png");
    let mut io = MemIo::with(&[
        ("frame-0.png", frame.clone()),
        ("frame-1.png", frame.clone()),
        ("frame-2.png", frame),
    ]);
    let config = Config {
        max_frames: 2,
        annotate: Annotate::None,
        ..Config::default()
    };
    let result = run::run(&mut io, &config).unwrap();
    assert_eq!(result["processed_frames"], 2);
    assert_eq!(result["total_frames"], 3);
    assert_eq!(counts(&result), [1, 1]);
    assert_eq!(io.progress.last(), Some(&(2, 2)));
    assert_eq!(io.warnings.len(), 1, "{:?}", io.warnings);
}

#[test]
fn cancellation_stops_before_the_next_frame() {
    let frame = fixture("coffee.png");
    let names: Vec<String> = (0..5).map(|i| format!("frame-{i}.png")).collect();
    let inputs: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (n.as_str(), frame.clone())).collect();
    let mut io = MemIo::with(&inputs);
    io.cancel_after = Some(2);
    let err = run::run(&mut io, &Config::default()).unwrap_err();
    assert_eq!(err, Failure::Cancelled);
    assert_eq!(io.reads, ["frame-0.png", "frame-1.png"]);
    assert_eq!(io.progress.last(), Some(&(2, 5)));
    assert!(io.artifacts.is_empty());
}

#[test]
fn bad_inputs_are_named() {
    let mut io = MemIo::with(&[
        ("frame-0.png", fixture("coffee.png")),
        ("frame-1.jpg", b"\xFF\xD8\xFFnot really a jpeg".to_vec()),
    ]);
    match run::run(&mut io, &Config::default()) {
        Err(Failure::InvalidInput(m)) => assert!(m.contains("frame-1.jpg"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut io = MemIo::with(&[("frame-0.gif", b"GIF89a".to_vec())]);
    assert!(matches!(
        run::run(&mut io, &Config::default()),
        Err(Failure::Unsupported(_))
    ));
    let mut io = MemIo::with(&[
        ("frame-0.png", fixture("coffee.png")),
        ("frames.json", b"{not json".to_vec()),
    ]);
    assert!(matches!(
        run::run(&mut io, &Config::default()),
        Err(Failure::InvalidInput(m)) if m.contains("frames.json")
    ));
}
