//! Plugins written in Python and JavaScript (built with `sdk/python` and `sdk/js` by
//! `framepipe-test-langs`) under the same sandbox as Rust ones: they load, run, read
//! inputs by range, write artifacts, report their SDK's errors with their kinds and
//! codes, and a hostile one fails with the same typed error as the Rust `chaos` plugin.
//! Needs the toolchains (`bash tests/plugin-toolchains.sh install`); fails saying so
//! without them.

use framepipe_runtime::{
    Input, Plugin, Runtime, RuntimeConfig, StepFailure, StepLimits, StepRequest, StepRun,
};
use serde_json::json;
use std::sync::Arc;

/// A runtime with the compile cache the integration tests share: compiling CPython's or
/// SpiderMonkey's component takes a minute of CPU in a debug build; once cached, loading
/// takes milliseconds.
fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(std::env::temp_dir().join("framepipe-test-cache")),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

async fn lang_plugin(rt: &Runtime, name: &str) -> Arc<Plugin> {
    let bytes = framepipe_test_langs::component(name).unwrap_or_else(|e| panic!("{e}"));
    rt.load(&bytes)
        .await
        .unwrap_or_else(|e| panic!("loading {name}: {} {e}", e.code()))
}

async fn chaos(rt: &Runtime) -> Arc<Plugin> {
    rt.load(framepipe_guests::get("chaos").expect("chaos is built"))
        .await
        .expect("chaos loads")
}

async fn run(rt: &Runtime, p: &Plugin, mode: &str, limits: StepLimits) -> StepRun {
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({ "mode": mode }), dir.path());
    req.limits = limits;
    req.inputs.push(Input::bytes(
        "input",
        b"0123456789abcdef".to_vec(),
        "text/plain",
    ));
    rt.run(p, req).await
}

fn failure(run: StepRun) -> StepFailure {
    match run.outcome {
        Ok(out) => panic!("expected a failure, got {:?}", out.result),
        Err(f) => f,
    }
}

/// Limits as a pipeline would give a language plugin: room for its interpreter.
fn limits(p: &Plugin) -> StepLimits {
    StepLimits {
        memory_mib: p.info().min_memory_mib.max(64),
        cpu_ms: 3_000,
        deadline_ms: 10_000,
        output_bytes: 1 << 20,
        log_bytes: 64 << 10,
        ..StepLimits::default()
    }
}

const HOSTILE: &[&str] = &["python-hostile", "js-hostile"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_plugins_read_inputs_by_range_and_write_artifacts() {
    let rt = runtime();
    for name in HOSTILE {
        let p = lang_plugin(&rt, name).await;
        assert_eq!(p.info().name, *name);
        assert_eq!(p.info().wit_version, "0.1.0");
        let dir = tempfile::tempdir().unwrap();
        let mut req = StepRequest::new(json!({"mode": "read"}), dir.path());
        req.limits = limits(&p);
        req.inputs.push(Input::bytes(
            "input",
            b"0123456789abcdef".to_vec(),
            "text/plain",
        ));
        let run = rt.run(&p, req).await;
        let out = run.outcome.unwrap_or_else(|f| panic!("{name}: {f}"));
        assert_eq!(
            out.result,
            json!({"size": 16, "media_type": "text/plain", "head": "012", "tail": "cdef"}),
            "{name}"
        );
        assert_eq!(out.artifacts.len(), 1, "{name}");
        assert_eq!(
            std::fs::read(&out.artifacts[0].path).unwrap(),
            b"0123456789abcdef",
            "{name}"
        );
        assert!(run.stats.peak_memory_bytes > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_errors_keep_their_kind_and_code() {
    let rt = runtime();
    for name in HOSTILE {
        let p = lang_plugin(&rt, name).await;
        let f = failure(run(&rt, &p, "step-error", limits(&p)).await);
        assert_eq!(f.code(), "UNSUPPORTED", "{name}: {f}");
        assert_eq!(
            f.to_string(),
            "NOT_SUPPORTED_HERE: this input is not supported",
            "{name}"
        );
        // An uncaught exception is the plugin's bug: `internal`, naming the exception.
        let f = failure(run(&rt, &p, "raise", limits(&p)).await);
        assert_eq!(f.code(), "PLUGIN_ERROR", "{name}: {f}");
        let text = f.to_string();
        assert!(
            text.starts_with("KeyError") || text.starts_with("TypeError"),
            "{name}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_in_any_language_exhausts_the_cpu_budget() {
    let rt = runtime();
    let rust = chaos(&rt).await;
    let budget = StepLimits {
        cpu_ms: 400,
        deadline_ms: 30_000,
        ..limits(&rust)
    };
    let f = failure(run(&rt, &rust, "loop", budget).await);
    assert_eq!(f.code(), "CPU_BUDGET_EXCEEDED");
    for name in HOSTILE {
        let p = lang_plugin(&rt, name).await;
        let f = failure(
            run(
                &rt,
                &p,
                "loop",
                StepLimits {
                    memory_mib: limits(&p).memory_mib,
                    ..budget
                },
            )
            .await,
        );
        assert_eq!(f.code(), "CPU_BUDGET_EXCEEDED", "{name}: {f}");
        let StepFailure::CpuBudget { used, .. } = f else {
            unreachable!()
        };
        assert!(used.as_millis() < 600, "{name} stopped late: {used:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_in_any_language_hits_the_deadline() {
    let rt = runtime();
    for name in HOSTILE {
        let p = lang_plugin(&rt, name).await;
        let started = std::time::Instant::now();
        let f = failure(
            run(
                &rt,
                &p,
                "loop",
                StepLimits {
                    cpu_ms: 60_000,
                    deadline_ms: 500,
                    ..limits(&p)
                },
            )
            .await,
        );
        assert_eq!(f.code(), "DEADLINE_EXCEEDED", "{name}: {f}");
        assert!(started.elapsed().as_secs_f64() < 3.0, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_in_any_language_hits_the_memory_cap() {
    let rt = runtime();
    let rust = chaos(&rt).await;
    let f = failure(run(&rt, &rust, "alloc", limits(&rust)).await);
    assert_eq!(f.code(), "MEMORY_LIMIT_EXCEEDED");
    for name in HOSTILE {
        let p = lang_plugin(&rt, name).await;
        let cap = limits(&p);
        let run = run(&rt, &p, "alloc", cap).await;
        assert!(
            run.stats.peak_memory_bytes <= cap.memory_bytes(),
            "{name}: peak {} over the cap",
            run.stats.peak_memory_bytes
        );
        let f = failure(run);
        assert_eq!(f.code(), "MEMORY_LIMIT_EXCEEDED", "{name}: {f}");
        assert!(
            f.to_string().starts_with(&format!(
                "memory limit exceeded: cap {} MiB",
                cap.memory_mib
            )),
            "{name}: {f}"
        );
        // The runtime goes on: the same plugin runs a good step afterwards.
        let dir = tempfile::tempdir().unwrap();
        let mut req = StepRequest::new(json!({"mode": "ok"}), dir.path());
        req.limits = limits(&p);
        let out = rt.run(&p, req).await.outcome.expect("a good run after");
        assert_eq!(out.result["ok"], true);
    }
}
