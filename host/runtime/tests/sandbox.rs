//! The sandbox's promises, checked with real components built from `plugins/`:
//! each hostile guest fails on its own with its own typed error, inside its limit, and the
//! runtime goes on running good steps.

use framepipe_runtime::{
    CancelFlag, Input, LoadError, Plugin, Runtime, RuntimeConfig, StepFailure, StepLimits,
    StepRequest, StepRun,
};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).expect("runtime")
}

async fn plugin(rt: &Runtime, name: &str) -> Arc<Plugin> {
    let bytes = framepipe_guests::get(name).unwrap_or_else(|| panic!("guest {name} not built"));
    rt.load(bytes)
        .await
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

fn limits() -> StepLimits {
    StepLimits {
        memory_mib: 64,
        cpu_ms: 2_000,
        deadline_ms: 2_000,
        output_bytes: 1 << 20,
        log_bytes: 64 << 10,
        ..StepLimits::default()
    }
}

async fn chaos(rt: &Runtime, p: &Plugin, mode: &str, limits: StepLimits) -> StepRun {
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({ "mode": mode }), dir.path());
    req.limits = limits;
    req.inputs
        .push(Input::bytes("input", b"0123456789".to_vec(), "text/plain"));
    rt.run(p, req).await
}

fn failure(run: StepRun) -> StepFailure {
    match run.outcome {
        Ok(out) => panic!("expected a failure, got {:?}", out.result),
        Err(f) => f,
    }
}

/// After any failure, the same runtime still runs a good step.
async fn good_step_still_runs(rt: &Runtime, noop: &Plugin) {
    let dir = tempfile::tempdir().unwrap();
    let run = rt
        .run(noop, StepRequest::new(json!({"x": 1}), dir.path()))
        .await;
    let out = run.outcome.expect("noop succeeds");
    assert_eq!(out.result["echo"], json!({"x": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_step_runs_and_reports_its_resource_use() {
    let rt = runtime();
    let noop = plugin(&rt, "noop").await;
    assert_eq!(noop.info().name, "noop");
    assert_eq!(noop.info().wit_version, "0.1.0");
    assert!(noop.info().digest.starts_with("sha256:"));
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({"hello": "world"}), dir.path());
    req.inputs.push(Input::bytes(
        "input",
        vec![1, 2, 3],
        "application/octet-stream",
    ));
    let run = rt.run(&noop, req).await;
    let out = run.outcome.unwrap();
    assert_eq!(
        out.result,
        json!({"echo": {"hello": "world"}, "inputs": ["input"]})
    );
    assert!(run.stats.cpu_ms > 0.0 && run.stats.cpu_ms < 1_000.0);
    assert!(run.stats.peak_memory_bytes > 0 && run.stats.peak_memory_bytes <= 64 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_hits_the_deadline() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let started = Instant::now();
    let f = failure(
        chaos(
            &rt,
            &p,
            "loop",
            StepLimits {
                deadline_ms: 500,
                ..limits()
            },
        )
        .await,
    );
    assert!(matches!(f, StepFailure::Deadline { .. }), "{f}");
    assert!(
        f.to_string().starts_with("deadline exceeded after 0.5"),
        "{f}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped late: {:?}",
        started.elapsed()
    );
    assert_eq!(f.code(), "DEADLINE_EXCEEDED");
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_exhausts_its_cpu_budget() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(
        chaos(
            &rt,
            &p,
            "loop",
            StepLimits {
                cpu_ms: 300,
                deadline_ms: 30_000,
                ..limits()
            },
        )
        .await,
    );
    assert_eq!(f.code(), "CPU_BUDGET_EXCEEDED");
    let StepFailure::CpuBudget { budget, used } = f.clone() else {
        panic!("expected a cpu budget failure, got {f:?}")
    };
    // Stopped at the first epoch tick past the budget (ticks are 10 ms).
    assert_eq!(budget, Duration::from_millis(300));
    assert!(
        used >= budget && used < Duration::from_millis(400),
        "used {used:?}"
    );
    assert!(
        f.to_string().starts_with("cpu budget exceeded: used 0.3"),
        "{f}"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_bomb_hits_the_memory_cap() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let run = chaos(&rt, &p, "alloc", limits()).await;
    assert!(
        run.stats.peak_memory_bytes <= 64 << 20,
        "peak {}",
        run.stats.peak_memory_bytes
    );
    let f = failure(run);
    let StepFailure::MemoryLimit {
        cap_bytes,
        requested_bytes,
    } = f
    else {
        panic!("{f}")
    };
    assert_eq!(cap_bytes, 64 << 20);
    assert!(requested_bytes > cap_bytes);
    assert!(
        f.to_string()
            .starts_with("memory limit exceeded: cap 64 MiB, requested 6"),
        "{f}"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_overflows_the_stack() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(chaos(&rt, &p, "recursion", limits()).await);
    assert!(matches!(f, StepFailure::StackOverflow), "{f}");
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_reported_with_its_message() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(chaos(&rt, &p, "panic", limits()).await);
    assert_eq!(f.code(), "PLUGIN_PANICKED");
    assert!(
        f.to_string().contains("chaos plugin panicked on purpose"),
        "{f}"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_the_guest_blames_on_its_input_is_invalid_input() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(chaos(&rt, &p, "input-panic", limits()).await);
    assert_eq!(f.code(), "INVALID_INPUT", "{f}");
    assert!(!f.retryable());
    let message = f.to_string();
    assert!(
        message.starts_with(
            "chaos: the input is damaged (on purpose) (a library gave up on the input at "
        ),
        "{message}"
    );
    assert!(!message.contains("[framepipe:"), "{message}");
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_flood_hits_the_output_cap_and_leaves_no_file() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({"mode": "output-flood"}), dir.path());
    req.limits = limits();
    let run = rt.run(&p, req).await;
    let f = failure(run);
    let StepFailure::OutputLimit { cap, attempted } = f else {
        panic!("{f}")
    };
    assert_eq!(cap, 1 << 20);
    assert!(attempted > cap);
    assert!(
        !dir.path().join("flood.bin").exists(),
        "unfinished artifact left behind"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_hits_the_log_cap() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(chaos(&rt, &p, "log-flood", limits()).await);
    assert_eq!(
        f.to_string(),
        format!("log limit exceeded: cap {} bytes", 64 << 10)
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_past_the_end_is_an_input_error() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let f = failure(chaos(&rt, &p, "read-past-end", limits()).await);
    assert_eq!(f.code(), "INVALID_INPUT");
    assert!(
        f.to_string()
            .contains("offset 1034 is past the end of input `input` (10 bytes)"),
        "{f}"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_is_refused_before_the_run() {
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let f = failure(chaos(&rt, &p, "explode", limits()).await);
    assert_eq!(f.code(), "INVALID_CONFIG");
    assert!(f.to_string().contains("/mode: must be one of"), "{f}");
    let dir = tempfile::tempdir().unwrap();
    let f = failure(
        rt.run(
            &p,
            StepRequest::new(json!({"mode": "ok", "extra": 1}), dir.path()),
        )
        .await,
    );
    assert!(f.to_string().contains("unknown field `extra`"), "{f}");
    let f = failure(rt.run(&p, StepRequest::new(json!({}), dir.path())).await);
    assert!(
        f.to_string().contains("missing required field `mode`"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_interrupts_a_busy_guest_within_a_tick() {
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({"mode": "loop"}), dir.path());
    req.limits = StepLimits {
        deadline_ms: 30_000,
        ..limits()
    };
    let cancel = CancelFlag::default();
    req.cancel = cancel.clone();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.store(true, Ordering::Relaxed);
    });
    let f = failure(rt.run(&p, req).await);
    canceller.await.unwrap();
    assert!(matches!(f, StepFailure::Cancelled), "{f}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polite_guest_sees_the_cancellation_itself() {
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({"mode": "polite"}), dir.path());
    req.limits = StepLimits {
        deadline_ms: 30_000,
        ..limits()
    };
    req.cancel = CancelFlag::new(true.into());
    let f = failure(rt.run(&p, req).await);
    assert_eq!(f.code(), "CANCELLED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_input_is_read_by_range_under_a_64_mib_cap() {
    let rt = runtime();
    let p = plugin(&rt, "checksum").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(1 << 30).unwrap(); // sparse: zeros, plus marks at both ends
        f.write_all_at(&[200; 1000], 0).unwrap();
        f.write_all_at(&[100; 1000], (1 << 30) - 1000).unwrap();
    }
    let mut req = StepRequest::new(json!({"algorithm": "bytesum"}), dir.path().join("out"));
    req.inputs
        .push(Input::file("input", &path, "application/octet-stream").unwrap());
    // The memory cap is under test, not speed: a debug build on a loaded 2-core machine
    // has taken over 60 s for the 1 GiB.
    req.limits = StepLimits {
        memory_mib: 64,
        deadline_ms: 600_000,
        cpu_ms: 600_000,
        ..StepLimits::default()
    };
    let run = rt.run(&p, req).await;
    let stats = run.stats.clone();
    let out = run.outcome.unwrap();
    assert_eq!(out.result["bytes"], json!(1u64 << 30));
    assert_eq!(
        out.result["digest"],
        json!((200 * 1000 + 100 * 1000).to_string())
    );
    assert_eq!(stats.bytes_read, 1 << 30);
    assert!(
        stats.peak_memory_bytes < 64 << 20,
        "peak {}",
        stats.peak_memory_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xor64_over_unaligned_chunks_matches_the_whole_input() {
    let rt = runtime();
    let p = plugin(&rt, "checksum").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.bin");
    let bytes: Vec<u8> = (0u32..100_003)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let mut padded = bytes.clone();
    padded.resize(bytes.len().next_multiple_of(8), 0);
    let want = padded.chunks_exact(8).fold(0u64, |acc, w| {
        acc ^ u64::from_le_bytes(w.try_into().unwrap())
    });
    // 4099-byte reads: every chunk after the first starts off a word boundary.
    let config = json!({"algorithm": "xor64", "chunk_bytes": 4099});
    let mut req = StepRequest::new(config, dir.path().join("out"));
    req.inputs
        .push(Input::file("input", &path, "application/octet-stream").unwrap());
    let out = rt.run(&p, req).await.outcome.unwrap();
    assert_eq!(out.result["digest"], json!(format!("{want:016x}")));
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_hostile_and_eight_good_steps_run_at_once() {
    let rt = runtime();
    let (p, sum) = (plugin(&rt, "chaos").await, plugin(&rt, "checksum").await);
    let base = rss_bytes();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(base));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let hostile = [
        "alloc",
        "loop",
        "recursion",
        "panic",
        "output-flood",
        "log-flood",
        "alloc",
        "alloc",
    ];
    let mut tasks = Vec::new();
    for mode in hostile {
        let (rt, p) = (rt.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            (mode, chaos(&rt, &p, mode, limits()).await)
        }));
    }
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected: u64 = data.iter().map(|&b| u64::from(b)).sum();
    for _ in 0..8 {
        let (rt, sum, data) = (rt.clone(), sum.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            let dir = tempfile::tempdir().unwrap();
            let mut req = StepRequest::new(
                json!({"algorithm": "bytesum", "chunk_bytes": 65536}),
                dir.path(),
            );
            req.inputs
                .push(Input::bytes("input", data, "application/octet-stream"));
            req.limits = limits();
            ("good", rt.run(&sum, req).await)
        }));
    }
    for task in tasks {
        let (mode, run) = task.await.unwrap();
        match mode {
            "good" => assert_eq!(
                run.outcome.unwrap().result["digest"],
                json!(expected.to_string())
            ),
            _ => assert!(run.outcome.is_err(), "{mode} should fail"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew = peak.load(Ordering::Relaxed).saturating_sub(base);
    let bound = 16 * (64u64 << 20);
    eprintln!(
        "RSS base {} MiB, peak growth {} MiB, bound {} MiB",
        base >> 20,
        grew >> 20,
        bound >> 20
    );
    assert!(grew < bound, "RSS grew {grew} bytes, bound {bound}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let bytes = framepipe_guests::get("checksum").unwrap();
    let first = Runtime::new(config.clone())
        .unwrap()
        .load(bytes)
        .await
        .unwrap();
    assert!(!first.info().cache_hit);
    // A new runtime (a restart) finds the compiled code.
    let second = Runtime::new(config).unwrap().load(bytes).await.unwrap();
    assert!(second.info().cache_hit);
    assert_eq!(first.info().digest, second.info().digest);
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_plugin_is_refused_with_a_clear_error() {
    let rt = runtime();
    let err = |r: Result<Arc<Plugin>, LoadError>| r.err().expect("refused");
    let e = err(rt.load(b"#!/bin/sh\necho hi\n").await);
    assert_eq!(e.code(), "NOT_WASM");
    let core = wat::parse_str("(module (func (export \"run\")))").unwrap();
    let e = err(rt.load(&core).await);
    assert_eq!(e.code(), "NOT_A_COMPONENT");
    assert!(
        e.to_string()
            .contains("core WebAssembly module, not a component")
    );
    let empty = wat::parse_str("(component)").unwrap();
    let e = err(rt.load(&empty).await);
    assert_eq!(
        e.to_string(),
        "component does not implement the framepipe:plugin world: no export `framepipe:plugin/step@0.1.0` (the component exports: nothing)"
    );
    let newer = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $step (export "describe" (func $f)) (export "run" (func $f)))
            (export "framepipe:plugin/step@0.2.0" (instance $step)))"#,
    )
    .unwrap();
    let e = err(rt.load(&newer).await);
    assert_eq!(
        e.to_string(),
        "plugin targets framepipe:plugin@0.2.0; this host offers framepipe:plugin@0.1.0"
    );
    let no_run = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $step (export "describe" (func $f)))
            (export "framepipe:plugin/step@0.1.0" (instance $step)))"#,
    )
    .unwrap();
    let e = err(rt.load(&no_run).await);
    assert!(e.to_string().contains("has no function `run`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_is_refused_by_default() {
    // The chaos plugin has no network mode; the SDK's http client is exercised by the
    // outbound tests in the server. Here: a step's result value is typed JSON.
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let out = chaos(&rt, &p, "ok", limits()).await.outcome.unwrap();
    assert_eq!(out.result, json!({"mode": "ok"}));
}

// Host calls: what a plugin can make the host hold (artifacts, handles, open files,
// media types, log text) is capped per run, each cap with its own final error.

async fn chaos_with(
    rt: &Runtime,
    p: &Plugin,
    config: serde_json::Value,
    limits: StepLimits,
    dir: &std::path::Path,
) -> StepRun {
    let mut req = StepRequest::new(config, dir);
    req.limits = limits;
    req.inputs
        .push(Input::bytes("input", b"0123456789".to_vec(), "text/plain"));
    rt.run(p, req).await
}

/// Limits for runs that make thousands of host calls: a debug build of the host takes
/// about a millisecond per artifact, more on a loaded machine.
fn roomy() -> StepLimits {
    StepLimits {
        cpu_ms: 120_000,
        deadline_ms: 120_000,
        ..limits()
    }
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_too_many_artifacts_fails_at_once_and_leaves_nothing() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let dir = tempfile::tempdir().unwrap();
    let small = StepLimits {
        max_artifacts: 100,
        ..roomy()
    };
    let config = json!({"mode": "artifacts", "count": 101});
    let f = failure(chaos_with(&rt, &p, config, small, dir.path()).await);
    assert_eq!(f.code(), "ARTIFACT_LIMIT_EXCEEDED");
    assert_eq!(
        f.to_string(),
        "artifact limit exceeded: 101 artifacts, cap 100"
    );
    assert!(!f.retryable());
    assert_eq!(files_in(dir.path()), 0, "a failed run leaves no artifact");
    // Exactly the cap is fine.
    let config = json!({"mode": "artifacts", "count": 100});
    let out = chaos_with(&rt, &p, config, small, dir.path()).await;
    assert_eq!(out.outcome.unwrap().artifacts.len(), 100);

    // The issue's case, with the default cap: 20,000 created and never finished.
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"mode": "unfinished-artifacts", "count": 20_000});
    let f = failure(chaos_with(&rt, &p, config, roomy(), dir.path()).await);
    assert_eq!(
        f.to_string(),
        "artifact limit exceeded: 16,385 artifacts, cap 16,384"
    );
    assert_eq!(files_in(dir.path()), 0);
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_too_many_handles_is_a_handle_limit_not_a_host_error() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    for mode in ["held-inputs", "held-artifacts"] {
        let dir = tempfile::tempdir().unwrap();
        // 200,000 input handles used to reach wasmtime's table: a retryable HOST_ERROR.
        let config = json!({"mode": mode, "count": 200_000});
        let f = failure(chaos_with(&rt, &p, config, roomy(), dir.path()).await);
        assert_eq!(f.code(), "HANDLE_LIMIT_EXCEEDED", "{mode}: {f}");
        assert_eq!(
            f.to_string(),
            "handle limit exceeded: 1,025 handles open at once, cap 1,024"
        );
        assert!(!f.retryable());
        assert_eq!(files_in(dir.path()), 0, "{mode}");
    }
    // Handles closed along the way do not count: 2,000 artifacts one at a time pass a
    // cap of 10 open at once.
    let dir = tempfile::tempdir().unwrap();
    let few = StepLimits {
        max_handles: 10,
        ..roomy()
    };
    let config = json!({"mode": "artifacts", "count": 2_000});
    let out = chaos_with(&rt, &p, config, few, dir.path()).await;
    assert_eq!(out.outcome.unwrap().artifacts.len(), 2_000);
    let config = json!({"mode": "held-inputs", "count": 11});
    let f = failure(chaos_with(&rt, &p, config, few, dir.path()).await);
    assert_eq!(
        f.to_string(),
        "handle limit exceeded: 11 handles open at once, cap 10"
    );
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_media_type_is_refused() {
    let rt = runtime();
    let (p, noop) = (plugin(&rt, "chaos").await, plugin(&rt, "noop").await);
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"mode": "long-media-type", "count": 1 << 20});
    let f = failure(chaos_with(&rt, &p, config, limits(), dir.path()).await);
    assert_eq!(f.code(), "MEDIA_TYPE_TOO_LONG");
    assert_eq!(
        f.to_string(),
        "media type too long: 1,048,588 bytes, cap 256"
    );
    assert!(!f.retryable());
    // 256 bytes ("application/" and 244 more) is allowed.
    let config = json!({"mode": "long-media-type", "count": 244});
    let out = chaos_with(&rt, &p, config, limits(), dir.path()).await;
    assert_eq!(out.outcome.unwrap().artifacts[0].media_type.len(), 256);
    good_step_still_runs(&rt, &noop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_artifact_list_counts_as_output() {
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let dir = tempfile::tempdir().unwrap();
    // 1,000 one-byte artifacts are 1,000 bytes of files but ~100 KB of job record.
    let tight = StepLimits {
        output_bytes: 64 << 10,
        ..roomy()
    };
    let config = json!({"mode": "artifacts", "count": 1_000});
    let f = failure(chaos_with(&rt, &p, config, tight, dir.path()).await);
    assert_eq!(f.code(), "OUTPUT_LIMIT_EXCEEDED", "{f}");
    // Each artifact: its byte, its name (`a0.bin`..), its media type, 64 for the entry.
    let config = json!({"mode": "artifacts", "count": 10});
    let run = chaos_with(&rt, &p, config, tight, dir.path()).await;
    let result_len = run.outcome.as_ref().unwrap().result.to_string().len() as u64;
    let per = 1 + 6 + "application/octet-stream".len() as u64 + 64;
    assert_eq!(run.stats.output_bytes, 10 * per + result_len);
}

/// Records the log lines a run reports.
#[derive(Default)]
struct Lines(std::sync::Mutex<Vec<String>>);
impl framepipe_runtime::StepObserver for Lines {
    fn log(&self, _level: framepipe_runtime::LogLevel, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_cannot_forge_lines_or_escape_sequences() {
    let rt = runtime();
    let p = plugin(&rt, "chaos").await;
    let dir = tempfile::tempdir().unwrap();
    let lines = Arc::new(Lines::default());
    let mut req = StepRequest::new(json!({"mode": "log-forge"}), dir.path());
    req.observer = lines.clone();
    rt.run(&p, req).await.outcome.unwrap();
    let got = lines.0.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            r"first\n2026-01-01T00:00:00Z ERROR framepipe: forged line\r\u{1b}[31mred",
            r"tab\there and a bell\u{7}",
        ]
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_files_stay_bounded_while_sixteen_hostile_runs_go_at_once() {
    let rt = runtime();
    let (p, sum) = (plugin(&rt, "chaos").await, plugin(&rt, "checksum").await);
    let inputs = tempfile::tempdir().unwrap();
    let input = inputs.path().join("input.bin");
    std::fs::write(&input, vec![5u8; 100_000]).unwrap();
    let base = open_fds();
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(base));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_fds(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let modes = [
        ("held-inputs", 1_000),
        ("held-artifacts", 1_000),
        ("unfinished-artifacts", 3_000),
        ("artifacts", 1_000),
    ];
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (mode, count) = modes[i % modes.len()];
        let (rt, p, input) = (rt.clone(), p.clone(), input.clone());
        tasks.push(tokio::spawn(async move {
            let dir = tempfile::tempdir().unwrap();
            let mut req = StepRequest::new(json!({"mode": mode, "count": count}), dir.path());
            req.limits = StepLimits {
                max_artifacts: 2_000,
                ..roomy()
            };
            req.inputs
                .push(Input::file("input", &input, "application/octet-stream").unwrap());
            let run = rt.run(&p, req).await;
            (mode, run.outcome.map(|o| o.artifacts.len()))
        }));
    }
    // A normal job beside them.
    let good = {
        let (rt, sum, input) = (rt.clone(), sum.clone(), input.clone());
        tokio::spawn(async move {
            let dir = tempfile::tempdir().unwrap();
            let mut req = StepRequest::new(json!({"algorithm": "bytesum"}), dir.path());
            req.inputs
                .push(Input::file("input", &input, "application/octet-stream").unwrap());
            rt.run(&sum, req).await
        })
    };
    for task in tasks {
        let (mode, outcome) = task.await.unwrap();
        match mode {
            // 1,000 held handles are under the cap of 1,024: these succeed, holding them.
            "held-inputs" => assert_eq!(outcome.unwrap(), 0),
            "held-artifacts" => assert_eq!(outcome.unwrap(), 0),
            "artifacts" => assert_eq!(outcome.unwrap(), 1_000),
            _ => assert_eq!(outcome.unwrap_err().code(), "ARTIFACT_LIMIT_EXCEEDED"),
        }
    }
    let good = good.await.unwrap();
    assert_eq!(
        good.outcome.unwrap().result["digest"],
        json!((5u64 * 100_000).to_string())
    );
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew = peak.load(Ordering::Relaxed) - base;
    // Two files per instance slot (the input read last, the artifact written last), and
    // a little for the runtime's own (a compile cache file, the sampler's directory).
    let bound = 2 * RuntimeConfig::default().max_instances as usize + 8;
    eprintln!("open files: base {base}, peak growth {grew}, bound {bound}");
    assert!(grew <= bound, "open files grew by {grew}, bound {bound}");
}
