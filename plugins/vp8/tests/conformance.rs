//! Every picture of the VP8 fixtures against ffmpeg's decode of the same frames, bit for
//! bit: `tests/fixtures/make-fixtures.sh` writes each clip as IVF and, from ffmpeg,
//! the Adler-32 of every decoded picture (its `framecrc` output).

use framepipe_vp8::{Decoder, Picture};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run tests/fixtures/make-fixtures.sh (needs ffmpeg)",
        p.display()
    );
    p
}

/// The frames of an IVF file (32-byte header, then 12-byte frame headers).
fn ivf_frames(data: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&data[..4], b"DKIF", "not an IVF file");
    let mut at = usize::from(u16::from_le_bytes([data[6], data[7]]));
    let mut frames = Vec::new();
    while at + 12 <= data.len() {
        let size = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        frames.push(&data[at + 12..at + 12 + size]);
        at += 12 + size;
    }
    frames
}

/// ffmpeg's per-frame checksums: the last column of each packet line, in hex.
fn framecrc(text: &str) -> Vec<u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let hex = l
                .rsplit(", ")
                .next()
                .unwrap()
                .trim()
                .trim_start_matches("0x");
            u32::from_str_radix(hex, 16).unwrap()
        })
        .collect()
}

/// Adler-32 from 0, as ffmpeg's framecrc computes it, over the packed planes.
fn adler32(p: &Picture) -> u32 {
    let (w, h) = (p.width as usize, p.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let rows = (0..h)
        .map(|r| &p.y[r * p.y_stride..][..w])
        .chain((0..ch).map(|r| &p.u[r * p.uv_stride..][..cw]))
        .chain((0..ch).map(|r| &p.v[r * p.uv_stride..][..cw]));
    let (mut a, mut b) = (0u32, 0u32);
    for row in rows {
        for &px in row {
            a = (a + u32::from(px)) % 65521;
            b = (b + a) % 65521;
        }
    }
    (b << 16) | a
}

/// Decodes every frame of `name`; returns (pictures, pictures matching ffmpeg).
fn check(name: &str) -> (usize, usize) {
    let ivf = std::fs::read(fixture(&format!("{name}.ivf"))).unwrap();
    let want = framecrc(&std::fs::read_to_string(fixture(&format!("{name}.framecrc"))).unwrap());
    let mut decoder = Decoder::new();
    let (mut shown, mut exact) = (0, 0);
    let mut first_mismatch = None;
    for (i, frame) in ivf_frames(&ivf).into_iter().enumerate() {
        let visible = decoder
            .decode(frame)
            .unwrap_or_else(|e| panic!("{name} frame {i}: {e}"));
        if !visible {
            continue;
        }
        let got = adler32(&decoder.picture().unwrap());
        if want.get(shown) == Some(&got) {
            exact += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some((i, shown));
        }
        shown += 1;
    }
    println!("{name}: {exact} of {shown} pictures bit-exact, first mismatch {first_mismatch:?}");
    assert_eq!(shown, want.len(), "{name}: picture count");
    (shown, exact)
}

fn assert_exact(name: &str) {
    let (shown, exact) = check(name);
    assert_eq!(exact, shown, "{name}: pictures differing from ffmpeg's");
}

#[test]
fn realtime_720p_like_media_recorder() {
    assert_exact("vp8-720p");
}

#[test]
fn golden_and_hidden_altref_frames() {
    assert_exact("vp8-altref-360p");
}

#[test]
fn eight_token_partitions() {
    assert_exact("vp8-partitions-360p");
}

#[test]
fn odd_size() {
    assert_exact("vp8-odd-317x239");
}

#[test]
fn near_lossless_and_low_bitrate() {
    assert_exact("vp8-hq-360p");
    assert_exact("vp8-lowrate-360p");
}

#[test]
fn bilinear_simple_filter_and_full_pixel_versions() {
    assert_exact("vp8-profile1-320x240");
    assert_exact("vp8-profile3-320x240");
}
