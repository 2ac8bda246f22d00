//! Frame extraction in the sandbox vs ffmpeg, whole processes, same files, one run:
//! `cargo bench -p framepipe --bench frames` (needs `bash tests/fixtures/make-fixtures.sh`,
//! ffmpeg and /usr/bin/time).
//!
//! - keyframe mode at t=5 s: `framepipe run-step frames` vs `ffmpeg -ss 5 -i in.mp4 -frames:v 1`;
//! - exact mode at t=5 s on 720p H.264 vs ffmpeg with `-threads 1`;
//! - keyframe and exact mode at t=5 s on MPEG-4 Part 2 in AVI vs ffmpeg `-threads 1`;
//! - keyframe and exact mode at t=5 s on 720p VP8 in WebM vs ffmpeg with `-threads 1`;
//! - peak RSS extracting from a ~2 GB file vs from the 10 MB clip it loops;
//! - long-GOP files (x264 and x265 defaults, 768x576, a keyframe every 25 s): exact seek
//!   at t=24 s (240 frames after the keyframe) vs `ffmpeg -threads 1`, and keyframe mode
//!   vs ffmpeg's default threads, H.264 and HEVC side by side.
//!
//! Wall time and peak RSS come from `/usr/bin/time -f "%e %M"`; medians of alternated rounds.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

const ROUNDS: usize = 7;

fn main() -> Result<()> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/generated");
    let clip = fixtures.join("h264-high-720p.mp4");
    ensure!(
        clip.exists(),
        "{} missing: run tests/fixtures/make-fixtures.sh",
        clip.display()
    );
    let work = tempfile::tempdir()?;
    let data = work.path().join("data");
    // Warm the compile cache once (a server has it warm after its first start).
    measure(&framepipe(&data, &clip, "keyframe", work.path()))?;
    // Both programs' files as a deployed machine has them: read from disk through page
    // faults and readahead. Freshly written files (the binary just linked, the compile
    // cache just filled) sit in the page cache in large folios, and a fault maps a whole
    // folio: the same run then peaks 2-3 MiB higher, by the history of the files alone.
    let mut files = vec![PathBuf::from(env!("CARGO_BIN_EXE_framepipe"))];
    files.extend(std::fs::read_dir(data.join("cache"))?.filter_map(|e| Some(e.ok()?.path())));
    files.extend(program_files("ffmpeg")?);
    for file in &files {
        drop_cached(file)?;
    }
    measure(&framepipe(&data, &clip, "keyframe", work.path()))?;
    measure(&ffmpeg(&clip, false, work.path()))?;

    println!("frames plugin vs ffmpeg: whole process, median of {ROUNDS} alternated rounds");
    println!(
        "{:<44} {:>9} {:>10} {:>9} {:>10} {:>7} {:>7}",
        "case", "fp s", "fp MiB", "ff s", "ff MiB", "time x", "rss x"
    );
    // MPEG-4 Part 2 (issue 21): libavcodec's mpeg4 with B-frames in AVI, and OpenCV's
    // Xvid sample with packed B-frames, both against ffmpeg -threads 1.
    let (mpeg4, xvid) = (
        fixtures.join("mpeg4-720p.avi"),
        fixtures.join("megamind.avi"),
    );
    // VP8 (issue 21): our own decoder against ffmpeg's, both on one thread.
    let vp8 = fixtures.join("vp8-720p.webm");
    let long_h264 = fixtures.join("vtest-h264.mp4");
    let long_hevc = fixtures.join("vtest-hevc.mp4");
    let cases: Vec<(&str, &Path, &str, bool, f64)> = vec![
        (
            "keyframe t=5 s, 720p H.264 (ffmpeg default threads)",
            &clip,
            "keyframe",
            false,
            5.0,
        ),
        (
            "exact t=5 s, 720p H.264 (ffmpeg -threads 1)",
            &clip,
            "exact",
            true,
            5.0,
        ),
        (
            "keyframe t=5 s, 720p MPEG-4 AVI (-threads 1)",
            &mpeg4,
            "keyframe",
            true,
            5.0,
        ),
        (
            "exact t=5 s, 720p MPEG-4 AVI (-threads 1)",
            &mpeg4,
            "exact",
            true,
            5.0,
        ),
        (
            "exact t=5 s, Megamind.avi Xvid (-threads 1)",
            &xvid,
            "exact",
            true,
            5.0,
        ),
        (
            "keyframe t=5 s, 720p VP8 WebM (-threads 1)",
            &vp8,
            "keyframe",
            true,
            5.0,
        ),
        (
            "exact t=5 s, 720p VP8 WebM (-threads 1)",
            &vp8,
            "exact",
            true,
            5.0,
        ),
        (
            "keyframe t=24 s, long-GOP H.264",
            &long_h264,
            "keyframe",
            false,
            24.0,
        ),
        (
            "exact t=24 s, long-GOP H.264 (-threads 1)",
            &long_h264,
            "exact",
            true,
            24.0,
        ),
        (
            "keyframe t=24 s, long-GOP HEVC",
            &long_hevc,
            "keyframe",
            false,
            24.0,
        ),
        (
            "exact t=24 s, long-GOP HEVC (-threads 1)",
            &long_hevc,
            "exact",
            true,
            24.0,
        ),
    ];
    for (name, video, mode, single_thread, t) in cases {
        let ours = framepipe_at(&data, video, mode, t, work.path());
        let theirs = ffmpeg_at(video, single_thread, t, work.path());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            a.push(measure(&ours)?);
            b.push(measure(&theirs)?);
        }
        let (at, am) = median(&a);
        let (bt, bm) = median(&b);
        println!(
            "{name:<44} {at:>9.3} {:>10.1} {bt:>9.3} {:>10.1} {:>6.2}x {:>6.2}x",
            am as f64 / 1024.0,
            bm as f64 / 1024.0,
            at / bt,
            am as f64 / bm as f64
        );
    }
    println!(
        "goals: keyframe time <= 0.5x and RSS <= 0.3x ffmpeg's; exact time <= 2x ffmpeg -threads 1 (long GOP: H.264 <= 1.5x, HEVC <= 2x)"
    );

    // A ~2 GB file: the 1080p clip looped with stream copy.
    let big = work.path().join("big.mp4");
    let small = fixtures.join("h264-high-1080p.mp4");
    let loops = (2_000_000_000 / std::fs::metadata(&small)?.len()).max(1);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-stream_loop"])
        .arg(loops.to_string())
        .arg("-i")
        .arg(&small)
        .args(["-c", "copy"])
        .arg(&big)
        .status()?;
    ensure!(status.success(), "ffmpeg could not make the big file");
    let (mut s, mut l) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        s.push(measure(&framepipe(&data, &small, "keyframe", work.path()))?);
        l.push(measure(&framepipe(&data, &big, "keyframe", work.path()))?);
    }
    let (st, sm) = median(&s);
    let (lt, lm) = median(&l);
    println!(
        "peak RSS of the framepipe process, keyframe t=5 s: {:.0} MB file {:.1} MiB ({st:.3} s) vs {:.0} MB file {:.1} MiB ({lt:.3} s)",
        std::fs::metadata(&small)?.len() as f64 / 1e6,
        sm as f64 / 1024.0,
        std::fs::metadata(&big)?.len() as f64 / 1e6,
        lm as f64 / 1024.0
    );
    Ok(())
}

fn framepipe(data: &Path, video: &Path, mode: &str, out: &Path) -> Vec<String> {
    framepipe_at(data, video, mode, 5.0, out)
}

fn framepipe_at(data: &Path, video: &Path, mode: &str, t: f64, out: &Path) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_framepipe").to_owned(),
        "--data-dir".into(),
        data.display().to_string(),
        "run-step".into(),
        "frames".into(),
        "--input".into(),
        format!("video={}", video.display()),
        "--config".into(),
        format!("{{\"at_seconds\": {t}, \"mode\": \"{mode}\"}}"),
        "--out".into(),
        out.join("fp").display().to_string(),
    ]
}

fn ffmpeg(video: &Path, single_thread: bool, out: &Path) -> Vec<String> {
    ffmpeg_at(video, single_thread, 5.0, out)
}

fn ffmpeg_at(video: &Path, single_thread: bool, t: f64, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    if single_thread {
        args.extend(["-threads".into(), "1".into()]);
    }
    args.extend([
        "-ss".into(),
        t.to_string(),
        "-i".into(),
        video.display().to_string(),
    ]);
    if single_thread {
        args.extend(["-threads".into(), "1".into()]);
    }
    args.extend([
        "-frames:v".into(),
        "1".into(),
        out.join("ff.jpg").display().to_string(),
    ]);
    args
}

/// The executable `program` found on PATH and the shared libraries it loads (`ldd`).
fn program_files(program: &str) -> Result<Vec<PathBuf>> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let exe = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("{program} not found on PATH"))?;
    let ldd = Command::new("ldd").arg(&exe).output()?;
    let libs = String::from_utf8_lossy(&ldd.stdout)
        .lines()
        .filter_map(|l| l.split("=> ").nth(1)?.split(' ').next().map(PathBuf::from))
        .filter(|p| p.is_file())
        .collect::<Vec<_>>();
    Ok([vec![exe], libs].concat())
}

/// Drops `file`'s clean pages from the page cache (GNU dd's `nocache`, which is
/// `posix_fadvise(DONTNEED)`); pages other processes have mapped stay.
fn drop_cached(file: &Path) -> Result<()> {
    let status = Command::new("dd")
        .arg(format!("if={}", file.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()?;
    ensure!(
        status.success(),
        "dd could not drop {} from the page cache",
        file.display()
    );
    Ok(())
}

/// (seconds, max RSS KiB) of one run under /usr/bin/time.
fn measure(cmd: &[String]) -> Result<(f64, u64)> {
    let report: PathBuf =
        std::env::temp_dir().join(format!("framepipe-time-{}", std::process::id()));
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&report)
        .args(cmd)
        .output()?;
    ensure!(
        out.status.success(),
        "{} failed: {}",
        cmd[0],
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&report)?;
    let mut parts = text.split_whitespace();
    let secs: f64 = parts.next().context("no time")?.parse()?;
    let kib: u64 = parts.next().context("no rss")?.parse()?;
    Ok((secs, kib))
}

fn median(runs: &[(f64, u64)]) -> (f64, u64) {
    let mut t: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut m: Vec<u64> = runs.iter().map(|r| r.1).collect();
    t.sort_by(f64::total_cmp);
    m.sort();
    (t[t.len() / 2], m[m.len() / 2])
}
