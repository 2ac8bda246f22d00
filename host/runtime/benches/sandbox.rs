//! Sandbox runtime benchmarks, printed as one table measured in one run:
//!
//! 1. instantiate + call of the `noop` step (per-step overhead);
//! 2. range reads of a host file by the `checksum` step vs the same loop in native code;
//! 3. host peak RSS while 8 allocation bombs (`chaos` mode `alloc`) run at once;
//! 4. the host-call checks (artifact, handle and media-type caps, files opened when used):
//!    `noop` and 2,000 one-byte artifacts per run with the caps at their defaults and at
//!    their maximum, and natively what a file costs the host before and after the change.
//!
//! Run with `cargo bench -p framepipe-runtime --bench sandbox`; name parts to run only
//! those: `cargo bench -p framepipe-runtime --bench sandbox -- noop hostcalls`
//! (`noop`, `reads`, `bombs`, `hostcalls`).

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use framepipe_runtime::{Input, Plugin, Runtime, RuntimeConfig, StepLimits, StepRequest};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NOOP_RUNS: usize = 5000;
const NOOP_WARMUP: usize = 200;
/// Size of the file read in part 2, MiB.
const FILE_MIB: u64 = 1024;
const CHUNK: usize = 1 << 20;
const ROUNDS: usize = 5;
const BOMBS: u64 = 8;
const CAP_MIB: u32 = 64;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    println!("command: {}", command_line());
    println!(
        "host: {} CPUs; load average at start: {}",
        std::thread::available_parallelism()?,
        load_average()?
    );
    let rt = Runtime::new(RuntimeConfig::default()).map_err(anyhow::Error::msg)?;
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let part = |name: &str| parts.is_empty() || parts.iter().any(|p| p == name);
    if part("noop") {
        noop_overhead(&rt).await?;
    }
    if part("reads") {
        range_reads(&rt).await?;
    }
    if part("bombs") {
        bomb_rss(&rt).await?;
    }
    if part("hostcalls") {
        host_call_checks(&rt).await?;
    }
    println!("load average at end: {}", load_average()?);
    Ok(())
}

/// Part 1: `NOOP_RUNS` sequential runs of `noop`, timed around the whole `run()` call.
async fn noop_overhead(rt: &Runtime) -> Result<()> {
    let noop = load(rt, "noop").await?;
    let dir = tempfile::tempdir()?;
    let (mut call_us, mut inst_us) = (Vec::new(), Vec::new());
    for i in 0..NOOP_WARMUP + NOOP_RUNS {
        let started = Instant::now();
        let run = rt.run(&noop, StepRequest::new(json!({}), dir.path())).await;
        let elapsed = started.elapsed().as_secs_f64() * 1e6;
        if let Err(f) = run.outcome {
            bail!("noop failed: {f}");
        }
        if i >= NOOP_WARMUP {
            call_us.push(elapsed);
            inst_us.push(run.stats.instantiate_us);
        }
    }
    let call = percentiles(&mut call_us);
    println!(
        "\n1. instantiate + call of `noop`: {NOOP_RUNS} sequential runs after {NOOP_WARMUP} warm-up"
    );
    println!("   {:<28} {:>9} {:>9} {:>9}", "us", "median", "p90", "p99");
    for (name, [p50, p90, p99]) in [
        ("whole run() call", call),
        ("stats.instantiate_us", percentiles(&mut inst_us)),
    ] {
        println!("   {name:<28} {p50:>9.1} {p90:>9.1} {p99:>9.1}");
    }
    println!(
        "   goal: median run() under 50 us: {}",
        verdict(call[0] < 50.0)
    );
    Ok(())
}

/// Part 2: `checksum` in the sandbox vs a native pread loop over the same file, per
/// algorithm; the median of `ROUNDS` rounds, alternating which side goes first.
async fn range_reads(rt: &Runtime) -> Result<()> {
    let checksum = load(rt, "checksum").await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("blob.bin");
    let started = Instant::now();
    write_pseudo_random(&path, FILE_MIB << 20)?;
    let written = started.elapsed().as_secs_f64();
    println!(
        "\n2. range reads, 1 MiB chunks, sandbox cap {CAP_MIB} MiB; median of {ROUNDS} alternated rounds"
    );
    println!(
        "   input: {FILE_MIB} MiB file of pseudo-random bytes (written in {written:.1} s, fsynced; reads hit the page cache)"
    );
    println!(
        "   {:<10} {:>13} {:>13} {:>7} {:>13}   goal ratio >= 0.5",
        "work/byte", "sandbox MB/s", "native MB/s", "ratio", "guest CPU s"
    );
    let size = FILE_MIB << 20;
    // One untimed pass, so the first algorithm measured does not pay for a colder cache.
    native_digest(&path, "length")?;
    // `length` only reads (host read, copy into guest memory; natively: read into a
    // buffer): the read path itself. xor64 adds a light pass over every byte; bytesum and
    // sha256 add per-byte work that compiled WebAssembly runs slower than native code
    // (SHA-256 natively uses the CPU's SHA extensions).
    for algorithm in ["length", "xor64", "bytesum", "sha256"] {
        // MB/s of [sandbox, native], and every digest seen.
        let (mut mbps, mut digests) = ([Vec::new(), Vec::new()], Vec::new());
        // CPU time the sandboxed run used.
        let mut cpu_ms = 0.0;
        for round in 0..ROUNDS {
            for side in [round % 2, 1 - round % 2] {
                let started = Instant::now();
                digests.push(if side == 0 {
                    let run = sandboxed_digest(rt, &checksum, &path, algorithm, dir.path());
                    let (digest, used) = run.await?;
                    cpu_ms = used;
                    digest
                } else {
                    native_digest(&path, algorithm)?
                });
                mbps[side].push(size as f64 / started.elapsed().as_secs_f64() / 1e6);
            }
        }
        ensure!(
            digests.iter().all(|d| *d == digests[0]),
            "{algorithm}: sandbox and native digests differ: {digests:?}"
        );
        let [s, n] = mbps.map(|mut v| percentiles(&mut v)[0]);
        println!(
            "   {algorithm:<10} {s:>13.0} {n:>13.0} {:>7.2} {:>13.2}   {}",
            s / n,
            cpu_ms / 1e3,
            // The goal is about reading; the per-byte rows measure the guest's own code.
            if matches!(algorithm, "length" | "xor64") {
                verdict(s / n >= 0.5)
            } else {
                "(compute-bound)"
            }
        );
    }
    println!("   (digests of sandbox and native runs agree)");
    Ok(())
}

/// Part 3: host RSS before and during `BOMBS` allocation bombs at once.
async fn bomb_rss(rt: &Runtime) -> Result<()> {
    let chaos = load(rt, "chaos").await?;
    let limits = StepLimits {
        memory_mib: CAP_MIB,
        ..StepLimits::default()
    };
    // Warm-up: one bomb, so slots, threads and allocator arenas exist before the baseline.
    bomb(rt.clone(), chaos.clone(), limits).await?;
    // Resets VmHWM to the current RSS, so the peak below is this part's own.
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = proc_status_kib("VmRSS")?;
    let peak = Arc::new(AtomicU64::new(base));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || -> Result<()> {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(proc_status_kib("VmRSS")?, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        })
    };
    let started = Instant::now();
    let runs: Vec<_> = (0..BOMBS)
        .map(|_| tokio::spawn(bomb(rt.clone(), chaos.clone(), limits)))
        .collect();
    let mut codes = Vec::new();
    for run in runs {
        codes.push(run.await??);
    }
    let took = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler
        .join()
        .map_err(|_| anyhow!("RSS sampler panicked"))??;
    let (peak, hwm, after) = (
        peak.load(Ordering::Relaxed),
        proc_status_kib("VmHWM")?,
        proc_status_kib("VmRSS")?,
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    let bound = BOMBS * u64::from(CAP_MIB);
    println!(
        "\n3. host RSS, {BOMBS} allocation bombs at once (`chaos` alloc, cap {CAP_MIB} MiB each), {took:.2} s"
    );
    let hwm_note = match hwm_reset {
        true => "VmHWM (reset before the bombs)",
        false => "VmHWM (since start: no reset)",
    };
    for (label, kib) in [
        ("VmRSS before (after 1 warm-up bomb)", base),
        ("VmRSS peak (sampled every 5 ms)", peak),
        (hwm_note, hwm),
        ("VmRSS after", after),
    ] {
        println!("   {label:<36} {:>8.1} MiB", mib(kib));
    }
    // The kernel's high-water mark catches a peak between two samples.
    let grew = mib(peak.max(if hwm_reset { hwm } else { 0 }) - base);
    println!(
        "   peak - before {grew:.1} MiB vs bound {BOMBS} x {CAP_MIB} MiB = {bound} MiB: {}",
        verdict(grew <= bound as f64)
    );
    let limited = codes.iter().filter(|c| **c == "MEMORY_LIMIT_EXCEEDED");
    println!(
        "   outcomes: {}/{BOMBS} MEMORY_LIMIT_EXCEEDED",
        limited.count()
    );
    ensure!(
        codes.iter().all(|c| *c == "MEMORY_LIMIT_EXCEEDED"),
        "outcomes: {codes:?}"
    );
    Ok(())
}

/// Runs one allocation bomb; returns its failure code and checks it stayed in its cap.
async fn bomb(rt: Runtime, chaos: Arc<Plugin>, limits: StepLimits) -> Result<&'static str> {
    let dir = tempfile::tempdir()?;
    let mut req = StepRequest::new(json!({"mode": "alloc"}), dir.path());
    req.limits = limits;
    let run = rt.run(&chaos, req).await;
    ensure!(
        run.stats.peak_memory_bytes <= limits.memory_bytes(),
        "bomb peak {} is over its cap",
        run.stats.peak_memory_bytes
    );
    match run.outcome {
        Ok(out) => bail!("an allocation bomb succeeded: {}", out.result),
        Err(f) => Ok(f.code()),
    }
}

/// The `checksum` step over the file: its digest and the CPU time it used, ms.
async fn sandboxed_digest(
    rt: &Runtime,
    checksum: &Plugin,
    path: &Path,
    algorithm: &str,
    out: &Path,
) -> Result<(String, f64)> {
    let config = json!({"algorithm": algorithm, "chunk_bytes": CHUNK});
    let mut req = StepRequest::new(config, out.join("out"));
    req.inputs
        .push(Input::file("input", path, "application/octet-stream")?);
    req.limits = StepLimits {
        memory_mib: CAP_MIB,
        deadline_ms: 600_000,
        ..StepLimits::default()
    };
    let run = rt.run(checksum, req).await;
    let result = run.outcome.map_err(|f| anyhow!("checksum: {f}"))?.result;
    let digest = result["digest"].as_str().map(str::to_owned);
    let digest = digest.with_context(|| format!("checksum returned no digest: {result}"))?;
    Ok((digest, run.stats.cpu_ms))
}

/// The native baseline: pread of `CHUNK` bytes into one buffer, then the same digest as
/// the plugin computes.
fn native_digest(path: &Path, algorithm: &str) -> Result<String> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut buf = vec![0u8; CHUNK];
    let (mut sha, mut sum, mut xor, mut offset) = (Sha256::new(), 0u64, 0u64, 0u64);
    while offset < size {
        let n = file.read_at(&mut buf, offset)?;
        ensure!(n > 0, "unexpected end of file at {offset}");
        let chunk = &buf[..n];
        match algorithm {
            "sha256" => sha.update(chunk),
            "xor64" => xor ^= xor64(chunk).rotate_left(8 * (offset % 8) as u32),
            "length" => {}
            _ => sum = chunk.iter().fold(sum, |a, &b| a.wrapping_add(u64::from(b))),
        }
        offset += n as u64;
    }
    Ok(match algorithm {
        "sha256" => hex::encode(sha.finalize()),
        "xor64" => format!("{xor:016x}"),
        "length" => offset.to_string(),
        _ => sum.to_string(),
    })
}

/// XOR of `chunk` as little-endian 64-bit words, the last zero-padded (as the plugin does).
fn xor64(chunk: &[u8]) -> u64 {
    // Eight independent lanes a 64-byte block: wide vector XORs, few loop iterations.
    let blocks = chunk.chunks_exact(64);
    let rest = blocks.remainder();
    let mut lanes = [0u64; 8];
    for block in blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane ^= u64::from_le_bytes(word.try_into().expect("8 bytes"));
        }
    }
    let mut acc = lanes.iter().fold(0, |a, l| a ^ l);
    for word in rest.chunks(8) {
        let mut padded = [0u8; 8];
        padded[..word.len()].copy_from_slice(word);
        acc ^= u64::from_le_bytes(padded);
    }
    acc
}

/// Writes `size` bytes from a xorshift generator (real data: a sparse file would read
/// zero pages without touching the disk or the page cache).
fn write_pseudo_random(path: &Path, size: u64) -> Result<()> {
    let file = File::create(path)?;
    let mut out = BufWriter::with_capacity(8 << 20, &file);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..size / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.write_all(&x.to_le_bytes())?;
    }
    out.flush()?;
    drop(out);
    file.sync_all()?;
    Ok(())
}

const ARTIFACTS_PER_RUN: u64 = 2000;
const CHECK_RUNS: usize = 2000;

/// Part 4: the host-call checks. The caps are integer comparisons; what the change costs
/// is a file opened when used instead of held: an artifact is created, closed, then
/// opened for its writes (one more open and close than before). Caps "off" means each at
/// its maximum (`u32::MAX`): the checks still run, nothing is ever refused.
async fn host_call_checks(rt: &Runtime) -> Result<()> {
    let (noop, chaos) = (load(rt, "noop").await?, load(rt, "chaos").await?);
    let on = StepLimits::default();
    let off = StepLimits {
        max_artifacts: u32::MAX,
        max_handles: u32::MAX,
        max_media_type_bytes: u32::MAX,
        ..on
    };
    let dir = tempfile::tempdir()?;
    let (mut noop_on, mut noop_off) = (Vec::new(), Vec::new());
    for i in 0..NOOP_WARMUP + CHECK_RUNS {
        for (limits, out) in [(on, &mut noop_on), (off, &mut noop_off)] {
            let mut req = StepRequest::new(json!({}), dir.path());
            req.limits = limits;
            let started = Instant::now();
            rt.run(&noop, req)
                .await
                .outcome
                .map_err(|f| anyhow!("{f}"))?;
            if i >= NOOP_WARMUP {
                out.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    let (mut art_on, mut art_off) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (limits, out) in [(on, &mut art_on), (off, &mut art_off)] {
            let dir = tempfile::tempdir()?;
            let mut req = StepRequest::new(
                json!({"mode": "artifacts", "count": ARTIFACTS_PER_RUN}),
                dir.path(),
            );
            req.limits = limits;
            let started = Instant::now();
            let run = rt.run(&chaos, req).await;
            let secs = started.elapsed().as_secs_f64();
            let made = run.outcome.map_err(|f| anyhow!("{f}"))?.artifacts.len() as u64;
            ensure!(made == ARTIFACTS_PER_RUN, "made {made} artifacts");
            out.push(ARTIFACTS_PER_RUN as f64 / secs);
        }
    }
    let (held, opened) = native_file_costs()?;
    println!(
        "\n4. host-call checks: caps at their defaults (on) and at u32::MAX (off), alternating"
    );
    println!("   {:<44} {:>10} {:>10}", "median", "on", "off");
    println!(
        "   {:<44} {:>10.1} {:>10.1}",
        "noop run() us",
        percentiles(&mut noop_on)[0],
        percentiles(&mut noop_off)[0]
    );
    println!(
        "   {:<44} {:>10.0} {:>10.0}",
        format!("artifacts/s ({ARTIFACTS_PER_RUN} of 1 byte per run, {ROUNDS} runs)"),
        percentiles(&mut art_on)[0],
        percentiles(&mut art_off)[0]
    );
    println!(
        "   native, per artifact file: held from creation (before) {held:.1} us, created then opened to write (now) {opened:.1} us"
    );
    Ok(())
}

/// Native cost per file, in µs, of what the host does for a one-byte artifact: before
/// (create, write, close) and now (create, close, open for appending, write, close).
fn native_file_costs() -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let per_file = |reopen: bool| -> Result<f64> {
        let started = Instant::now();
        for i in 0..ARTIFACTS_PER_RUN {
            let path = dir.path().join(format!("{}{i}.bin", u8::from(reopen)));
            let mut file = File::create(&path)?;
            if reopen {
                drop(file);
                file = std::fs::OpenOptions::new().append(true).open(&path)?;
            }
            file.write_all(&[1])?;
        }
        Ok(started.elapsed().as_secs_f64() * 1e6 / ARTIFACTS_PER_RUN as f64)
    };
    let (mut before, mut now) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        before.push(per_file(false)?);
        now.push(per_file(true)?);
        for entry in std::fs::read_dir(dir.path())? {
            std::fs::remove_file(entry?.path())?;
        }
    }
    Ok((percentiles(&mut before)[0], percentiles(&mut now)[0]))
}

async fn load(rt: &Runtime, name: &str) -> Result<Arc<Plugin>> {
    let bytes = framepipe_guests::get(name).with_context(|| format!("guest {name} not built"))?;
    rt.load(bytes)
        .await
        .map_err(|e| anyhow!("loading {name}: {e}"))
}

/// Median, p90, p99 (nearest rank).
fn percentiles(values: &mut [f64]) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at =
        |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    [at(0.5), at(0.9), at(0.99)]
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// A field of /proc/self/status in KiB.
fn proc_status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("{field} not in /proc/self/status"))?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

fn load_average() -> Result<String> {
    let avg = std::fs::read_to_string("/proc/loadavg")?;
    Ok(avg.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// The command as run: the target-dir variables and niceness this process inherited.
fn command_line() -> String {
    let home = std::env::var("HOME").ok().filter(|h| !h.is_empty());
    let mut parts = Vec::new();
    for var in ["CARGO_TARGET_DIR", "FRAMEPIPE_GUEST_TARGET_DIR"] {
        if let Ok(mut value) = std::env::var(var) {
            if let Some(home) = &home {
                value = value.replace(home, "$HOME");
            }
            parts.push(format!("{var}={value}"));
        }
    }
    // Field 19 of /proc/self/stat, the nice value, is the 17th after the (name).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let nice = stat
        .rsplit(')')
        .next()
        .and_then(|f| f.split_whitespace().nth(16));
    if let Some(n) = nice.filter(|n| *n != "0") {
        parts.push(format!("nice -n {n}"));
    }
    parts.push("cargo bench -p framepipe-runtime --bench sandbox".into());
    parts.join(" ")
}
