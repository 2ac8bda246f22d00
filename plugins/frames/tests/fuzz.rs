//! A little fuzzing: flipped bytes and cuts in real files must give errors or frames,
//! never a panic (a panic in the guest is a trap, and the job would die as a host fault).

mod common;
use common::fixture;
use frames::config::Config;
use frames::job::{Sink, run};
use frames::media::MediaError;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

struct Discard;
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

fn fuzz(name: &str, rounds: u64, config: &str) {
    let original = std::fs::read(fixture(name)).unwrap();
    let config: Config = serde_json::from_str(config).unwrap();
    let (mut ok, mut errors) = (0, 0);
    for seed in 1..=rounds {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut data = original.clone();
        // Most damage goes where the index and first frames are; some anywhere.
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
        let size = data.len() as u64;
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(Cursor::new(data), size, &config, &mut Discard)
        }));
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                errors += 1;
                if seed <= 12 {
                    println!("{name} seed {seed}: {e}");
                }
            }
            Err(_) => panic!("{name}: seed {seed} panicked"),
        }
    }
    println!("{name}: {ok} decoded, {errors} clear errors, 0 panics");
}

#[test]
fn flipped_mp4_h264() {
    fuzz(
        "h264-main-720p-faststart.mp4",
        60,
        r#"{"mode": "exact", "at_seconds": 0.5}"#,
    );
}

#[test]
fn flipped_mkv_mjpeg() {
    fuzz("mjpeg420-720p.mkv", 60, r#"{"mode": "exact", "count": 2}"#);
}

#[test]
fn flipped_webm_vp9() {
    fuzz(
        "vp9-720p.webm",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
}

#[test]
fn flipped_avi_mjpeg() {
    fuzz(
        "mjpeg-720p.avi",
        30,
        r#"{"mode": "exact", "at_seconds": 0.3}"#,
    );
}
