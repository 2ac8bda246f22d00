//! Decoding speed against ffmpeg's VP8 decoder on one thread, same frames, one run:
//! `cd plugins && cargo bench -p framepipe-vp8 --target x86_64-unknown-linux-gnu`
//! (needs `tests/fixtures/make-fixtures.sh` and ffmpeg).
//!
//! Both decode every frame of the fixtures: this crate natively (the frames plugin runs
//! it as WebAssembly; see host/server/benches/frames.rs for that, whole process), ffmpeg
//! as `ffmpeg -threads 1 -i clip.webm -f null -` (its process start, about 0.1 s of CPU,
//! and demuxing included). Figures are CPU seconds (user + system: this thread's from
//! /proc, ffmpeg's from /usr/bin/time), which a busy machine disturbs less than wall
//! time; medians of alternated rounds.

use framepipe_vp8::Decoder;
use std::path::PathBuf;
use std::process::Command;

const ROUNDS: usize = 7;

fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(name);
    assert!(
        p.exists(),
        "{} missing: run tests/fixtures/make-fixtures.sh",
        p.display()
    );
    p
}

/// The frames of an IVF file.
fn ivf_frames(data: &[u8]) -> Vec<&[u8]> {
    let mut at = usize::from(u16::from_le_bytes([data[6], data[7]]));
    let mut frames = Vec::new();
    while at + 12 <= data.len() {
        let size = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        frames.push(&data[at + 12..at + 12 + size]);
        at += 12 + size;
    }
    frames
}

/// CPU time of the calling thread in seconds (utime + stime from /proc, 10 ms ticks).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the parenthesised command name: utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// CPU seconds (user + system) of one ffmpeg run.
fn ffmpeg_cpu(webm: &std::path::Path) -> f64 {
    let out = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%U %S",
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-threads",
            "1",
        ])
        .arg("-i")
        .arg(webm)
        .args(["-threads", "1", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let last = text.lines().last().unwrap();
    last.split_whitespace()
        .map(|v| v.parse::<f64>().unwrap())
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    println!("VP8 decoding, every frame, CPU seconds: framepipe-vp8 (native) vs ffmpeg -threads 1");
    println!(
        "{:<28} {:>7} {:>10} {:>10} {:>8} {:>9}",
        "clip", "frames", "ours s", "ffmpeg s", "ratio", "ours fps"
    );
    for clip in [
        "vp8-720p",
        "vp8-altref-360p",
        "vp8-hq-360p",
        "vp8-lowrate-360p",
    ] {
        let ivf = std::fs::read(fixture(&format!("{clip}.ivf"))).unwrap();
        let frames = ivf_frames(&ivf);
        let webm = fixture(&format!("{clip}.webm"));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = thread_cpu();
            let mut decoder = Decoder::new();
            for f in &frames {
                decoder.decode(f).unwrap();
            }
            std::hint::black_box(decoder.picture().map(|p| p.y[0]));
            ours.push(thread_cpu() - start);
            theirs.push(ffmpeg_cpu(&webm));
        }
        let (a, b) = (median(ours), median(theirs));
        println!(
            "{clip:<28} {:>7} {a:>10.2} {b:>10.2} {:>7.2}x {:>9.0}",
            frames.len(),
            a / b,
            frames.len() as f64 / a
        );
    }
}
