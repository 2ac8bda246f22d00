//! Helpers for the native fixture tests: fixture paths, reference PNGs, PSNR.

#![allow(dead_code)]

use frames::config::Mode;
use frames::extract::{Extracted, Extractor};
use frames::job::Sink;
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
    let mut track = frames::probe::open(&mut file, size)?;
    frames::probe::index_around(&mut track, &mut file, size, &[t])?;
    let mut ex = Extractor::new(&track, file, size)?;
    ex.extract(t, mode, true, &mut || false)
}

/// Extracts fixture `name` at `t` in `mode` and compares it with ffmpeg's frame
/// `ref_index`: its time within `pts_tolerance` seconds of `want_pts`, its PSNR at least
/// 40 dB. Returns the PSNR.
pub fn check_frame(
    name: &str,
    t: f64,
    mode: Mode,
    ref_index: u32,
    want_pts: f64,
    pts_tolerance: f64,
) -> f64 {
    let got = extract(name, t, mode).unwrap_or_else(|e| panic!("{name} @ {t}: {e}"));
    assert!(
        (got.pts_seconds - want_pts).abs() < pts_tolerance,
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

/// A sink that keeps nothing (for tests about errors and memory, not pictures).
pub struct Discard;

impl Sink for Discard {
    type Error = MediaError;
    fn frame(&mut self, _: usize, _: usize, _: &str, _: &str, _: &[u8]) -> Result<(), MediaError> {
        Ok(())
    }
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// xorshift64*: deterministic, so a failure is reproducible from its seed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// `original` damaged the same way for the same `seed`: 1 to 8 flipped bits, mostly in the
/// first 96 KiB (where the index and the first frames are), some anywhere, and one time in
/// five a cut at a random length.
pub fn damaged(original: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut data = original.to_vec();
    let hot = data.len().min(96 << 10);
    for _ in 0..1 + next(&mut rng) % 8 {
        let span = if next(&mut rng).is_multiple_of(4) {
            data.len()
        } else {
            hot
        };
        let at = (next(&mut rng) as usize) % span;
        data[at] ^= 1 << (next(&mut rng) % 8);
    }
    if next(&mut rng).is_multiple_of(5) {
        let cut = (next(&mut rng) as usize) % data.len();
        data.truncate(cut);
    }
    data
}
