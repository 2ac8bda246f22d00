//! People counts on the fixture images, natively, with the defaults the plugin uses.
//!
//! The images are not committed: `models/extract-test-images.sh` writes them to
//! `tests/fixtures/generated/`. Counts were made by eye (see docs/people-count.md).

use people_count::image;
use people_count::model::{Detector, Params};
use people_count::run::{DEFAULT_INPUT_SIZE, DEFAULT_IOU, DEFAULT_THRESHOLD};
use std::path::PathBuf;

/// The plugin's defaults.
const PARAMS: Params = Params {
    threshold: DEFAULT_THRESHOLD,
    iou: DEFAULT_IOU,
};

fn fixture(name: &str) -> image::Rgb {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run models/extract-test-images.sh first",
            path.display()
        )
    });
    image::decode(&bytes).unwrap()
}

fn count(detector: &Detector, name: &str) -> usize {
    let found = detector.detect(&fixture(name), PARAMS).unwrap();
    let scores: Vec<String> = found.iter().map(|d| format!("{:.2}", d.score)).collect();
    println!(
        "{name} @{}: {} [{}]",
        detector.size(),
        found.len(),
        scores.join(" ")
    );
    found.len()
}

#[test]
fn counts_people_at_the_default_size() {
    let detector = Detector::new(DEFAULT_INPUT_SIZE).unwrap();
    assert_eq!(count(&detector, "astronaut.png"), 1);
    assert_eq!(count(&detector, "coffee.png"), 0);
    assert_eq!(count(&detector, "vtest-300.png"), 6);
    assert_eq!(count(&detector, "vtest-600.png"), 6);
}
