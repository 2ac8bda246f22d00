//! Helpers for the native fixture tests: fixture paths, reference PNGs, PSNR.

#![allow(dead_code)]

use frames::config::Mode;
use frames::extract::{Extracted, Extractor};
use frames::media::{MediaError, Rgb};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

/// Path of a generated fixture; fails the test (never skips) when it is missing.
pub fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run tests/fixtures/make-fixtures.sh (needs apt packages ffmpeg opencv-doc)",
        p.display()
    );
    p
}

/// ffmpeg's frame `index` of fixture `name`, as RGB.
pub fn reference(name: &str, index: u32) -> Rgb {
    let path = fixture(&format!("ref/{name}@{index}.png"));
    let decoder = png::Decoder::new(BufReader::new(File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut data = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut data).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    data.truncate(info.buffer_size());
    Rgb {
        width: info.width,
        height: info.height,
        data,
    }
}

/// PSNR in dB over all RGB samples (infinite when identical).
pub fn psnr(a: &Rgb, b: &Rgb) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "sizes differ");
    let se: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / a.data.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// Extracts the frame at `t` from fixture `name`.
pub fn extract(name: &str, t: f64, mode: Mode) -> Result<Extracted, MediaError> {
    let path = fixture(name);
    let size = std::fs::metadata(&path).unwrap().len();
    let mut file = BufReader::new(File::open(&path).unwrap());
    let track = frames::probe::open(&mut file, size)?;
    let mut ex = Extractor::new(&track, file, size)?;
    ex.extract(t, mode, &mut || false)
}
