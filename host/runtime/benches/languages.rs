//! The same kind of plugin in Rust, Python and JavaScript, side by side in one run:
//! `scene-change` (Rust, examples/), `python-frame-stats` (componentize-py) and
//! `js-frame-colors` (ComponentizeJS) each read the 10 PNG frames the built-in `frames`
//! plugin samples from a 10 s 720p clip (one a second, 320 px wide) and decode and
//! measure every one. Printed per plugin: component size, compile time (no cache),
//! instantiation (median of the runs' `instantiate_us`), run time and CPU (medians), and
//! peak linear memory (what `min_memory_mib` must cover).
//!
//! Run with `cargo bench -p framepipe-runtime --bench languages` (needs the Python and JS
//! toolchains: `bash tests/plugin-toolchains.sh install`).

use anyhow::{Context as _, Result, anyhow, bail};
use framepipe_runtime::{Input, Plugin, Runtime, RuntimeConfig, StepLimits, StepRequest};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const RUNS: usize = 7;
const CLIP: &str = "h264-high-720p.mp4";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    println!("command: cargo bench -p framepipe-runtime --bench languages");
    println!(
        "host: {} CPUs; load average at start: {}",
        std::thread::available_parallelism()?,
        load_average()?
    );
    let rt = Runtime::new(RuntimeConfig::default()).map_err(anyhow::Error::msg)?;
    let frames_dir = tempfile::tempdir()?;
    let frames = sample_frames(&rt, frames_dir.path()).await?;
    println!(
        "input: {} PNG frames of {CLIP} ({} KiB in all), {RUNS} runs each after one warm-up",
        frames.len(),
        frames
            .iter()
            .map(|(_, p)| p.metadata().map_or(0, |m| m.len()))
            .sum::<u64>()
            >> 10
    );
    let plugins: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "scene-change",
            "Rust",
            framepipe_guests::get("scene-change")
                .context("scene-change not built")?
                .to_vec(),
        ),
        (
            "python-frame-stats",
            "Python",
            framepipe_test_langs::component("python-frame-stats").map_err(|e| anyhow!("{e}"))?,
        ),
        (
            "js-frame-colors",
            "JavaScript",
            framepipe_test_langs::component("js-frame-colors").map_err(|e| anyhow!("{e}"))?,
        ),
    ];
    println!(
        "\n| plugin | language | component MiB | compile s | instantiate ms (median) | run ms (median) | CPU ms (median) | peak memory MiB | min_memory_mib |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, lang, bytes) in plugins {
        let started = Instant::now();
        let plugin = rt
            .load(&bytes)
            .await
            .map_err(|e| anyhow!("loading {name}: {e}"))?;
        let compile_s = started.elapsed().as_secs_f64();
        let (mut inst, mut wall, mut cpu, mut peak) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
        for i in 0..=RUNS {
            let run = run_on(&rt, &plugin, &frames).await?;
            if i > 0 {
                inst.push(run.0 / 1e3);
                wall.push(run.1);
                cpu.push(run.2);
            }
            peak = peak.max(run.3);
        }
        println!(
            "| {name} | {lang} | {:.1} | {compile_s:.1} | {:.2} | {:.0} | {:.0} | {:.1} | {} |",
            bytes.len() as f64 / 1048576.0,
            median(&mut inst),
            median(&mut wall),
            median(&mut cpu),
            peak as f64 / 1048576.0,
            plugin.info().min_memory_mib,
        );
    }
    println!("\nload average at end: {}", load_average()?);
    Ok(())
}

/// Runs the built-in `frames` plugin on the clip: `(name, path)` of each PNG frame.
async fn sample_frames(rt: &Runtime, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let clip = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/generated")
        .join(CLIP);
    if !clip.exists() {
        bail!(
            "{} missing: run bash tests/fixtures/make-fixtures.sh",
            clip.display()
        );
    }
    let frames = rt
        .load(framepipe_guests::get("frames").context("frames not built")?)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut req = StepRequest::new(
        json!({"every_seconds": 1.0, "max_width": 320, "format": "png"}),
        dir,
    );
    req.limits = StepLimits {
        memory_mib: 256,
        ..StepLimits::default()
    };
    req.inputs.push(Input::file("video", &clip, "video/mp4")?);
    let out = rt
        .run(&frames, req)
        .await
        .outcome
        .map_err(|f| anyhow!("frames: {f}"))?;
    Ok(out
        .artifacts
        .into_iter()
        .map(|a| (a.name, a.path))
        .collect())
}

/// One run on the frames: (instantiate µs, wall ms, CPU ms, peak memory bytes).
async fn run_on(
    rt: &Runtime,
    plugin: &Arc<Plugin>,
    frames: &[(String, PathBuf)],
) -> Result<(f64, f64, f64, u64)> {
    let out = tempfile::tempdir()?;
    let mut req = StepRequest::new(json!({}), out.path());
    req.limits = StepLimits {
        memory_mib: plugin.info().min_memory_mib.max(64),
        cpu_ms: 120_000,
        deadline_ms: 120_000,
        ..StepLimits::default()
    };
    for (name, path) in frames {
        req.inputs.push(Input::file(name, path, "image/png")?);
    }
    let run = rt.run(plugin, req).await;
    let result: Value = run
        .outcome
        .map_err(|f| anyhow!("{}: {f}", plugin.info().name))?
        .result;
    if result["frames"] != json!(frames.len()) {
        bail!("{}: unexpected result {result}", plugin.info().name);
    }
    let s = run.stats;
    Ok((s.instantiate_us, s.wall_ms, s.cpu_ms, s.peak_memory_bytes))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load_average() -> Result<String> {
    let avg = std::fs::read_to_string("/proc/loadavg")?;
    Ok(avg.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
