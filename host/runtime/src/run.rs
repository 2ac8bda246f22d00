//! One run of one step: a fresh `Store` with the run's limits, the call, and the mapping
//! of whatever happened to a typed result.

use crate::bindings::{self, ErrorKind, PluginPre};
use crate::blob::Input;
use crate::cpu::{CpuMeter, Metered};
use crate::engine::Runtime;
use crate::error::{PluginErrorKind, StepFailure};
use crate::limits::StepLimits;
use crate::outbound::{OutboundAccess, OutboundHooks};
use crate::plugin::Plugin;
use crate::schema;
use crate::state::{StateParts, StepState};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use wasmtime::component::ResourceTableError;
use wasmtime::{Store, Trap, UpdateDeadline};

/// Set to `true` to cancel a run: the guest is interrupted within one epoch tick (10 ms).
pub type CancelFlag = Arc<AtomicBool>;

/// Severity of a plugin's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Normal.
    Info,
    /// Odd but going on.
    Warn,
    /// Failed.
    Error,
}

/// Receives what a running step reports. Called on the runtime's async workers: keep it quick.
pub trait StepObserver: Send + Sync {
    /// Progress: `processed` of `total` (0 = unknown).
    fn progress(&self, _processed: u64, _total: u64) {}
    /// A log line (already length-capped).
    fn log(&self, _level: LogLevel, _message: &str) {}
}

/// Ignores everything.
pub struct NoopObserver;
impl StepObserver for NoopObserver {}

/// Everything one run needs.
pub struct StepRequest {
    /// The step's config (checked against the plugin's schema before the run).
    pub config: Value,
    /// Named inputs, read by range.
    pub inputs: Vec<Input>,
    /// Where artifacts are written (created on demand).
    pub output_dir: PathBuf,
    /// Limits of this run.
    pub limits: StepLimits,
    /// What the step may reach over HTTP (nothing by default).
    pub outbound: OutboundAccess,
    /// Receives progress and logs.
    pub observer: Arc<dyn StepObserver>,
    /// Cancels the run when set.
    pub cancel: CancelFlag,
}

impl StepRequest {
    /// A request with default limits, no inputs, no network, no observer.
    pub fn new(config: Value, output_dir: impl Into<PathBuf>) -> Self {
        StepRequest {
            config,
            inputs: Vec::new(),
            output_dir: output_dir.into(),
            limits: StepLimits::default(),
            outbound: OutboundAccess::deny_all(),
            observer: Arc::new(NoopObserver),
            cancel: CancelFlag::default(),
        }
    }
}

/// An artifact a step finished writing.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactInfo {
    /// Its name (unique within the run).
    pub name: String,
    /// Media type the plugin gave.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Where it is on disk.
    #[serde(skip)]
    pub path: PathBuf,
}

/// What a successful run produced.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The JSON result.
    pub result: Value,
    /// Finished artifacts.
    pub artifacts: Vec<ArtifactInfo>,
}

/// Resource use of a run, whether it succeeded or not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepStats {
    /// Time waiting for a free instance slot, ms.
    pub wait_ms: f64,
    /// Time to instantiate, µs.
    pub instantiate_us: f64,
    /// Wall time of instantiate + call, ms.
    pub wall_ms: f64,
    /// CPU time used (guest code and the host calls it made), ms.
    pub cpu_ms: f64,
    /// Peak linear memory of the instance, bytes.
    pub peak_memory_bytes: u64,
    /// Bytes read from inputs.
    pub bytes_read: u64,
    /// Bytes of output (artifacts and result).
    pub output_bytes: u64,
    /// Bytes logged.
    pub log_bytes: u64,
}

/// The outcome of a run together with its resource use.
#[derive(Debug)]
pub struct StepRun {
    /// What the step produced, or why it failed.
    pub outcome: Result<StepOutput, StepFailure>,
    /// What it used.
    pub stats: StepStats,
}

/// Store setup shared by `describe` and `run`.
pub(crate) struct CallSetup {
    parts: StateParts,
}

impl CallSetup {
    pub(crate) fn new(limits: StepLimits, observer: Arc<dyn StepObserver>) -> Self {
        CallSetup {
            parts: StateParts {
                limits,
                inputs: Vec::new(),
                output_dir: PathBuf::new(),
                hooks: OutboundHooks {
                    access: OutboundAccess::deny_all(),
                },
                observer,
                cancel: CancelFlag::default(),
            },
        }
    }
}

type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

impl Runtime {
    /// Runs a step. Never panics on guest behaviour: every failure is a [`StepFailure`].
    pub async fn run(&self, plugin: &Plugin, req: StepRequest) -> StepRun {
        let fail = |f| StepRun {
            outcome: Err(f),
            stats: StepStats::default(),
        };
        if let Some(schema) = &plugin.info().config_schema
            && let Err(message) = schema::validate(schema, &req.config)
        {
            return fail(StepFailure::InvalidConfig(message));
        }
        let ceiling = self.inner.config.max_memory_mib;
        if req.limits.memory_mib > ceiling {
            return fail(StepFailure::InvalidConfig(format!(
                "memory cap {} MiB is above this host's ceiling of {ceiling} MiB",
                req.limits.memory_mib
            )));
        }
        let cap = req.limits.output_bytes;
        let config = req.config.to_string();
        let setup = CallSetup {
            parts: StateParts {
                limits: req.limits,
                inputs: req.inputs,
                output_dir: req.output_dir,
                hooks: OutboundHooks {
                    access: req.outbound,
                },
                observer: req.observer,
                cancel: req.cancel,
            },
        };
        let (result, mut done) = self
            .call(&plugin.pre, setup, move |p, store| {
                Box::pin(async move { p.framepipe_plugin_step().call_run(store, &config).await })
            })
            .await;
        let outcome = match result {
            Ok(Ok(json)) => {
                let attempted = done.stats.output_bytes + json.len() as u64;
                if attempted > cap {
                    Err(StepFailure::OutputLimit { cap, attempted })
                } else {
                    done.stats.output_bytes = attempted;
                    serde_json::from_str(&json)
                        .map(|result| StepOutput {
                            result,
                            artifacts: std::mem::take(&mut done.artifacts),
                        })
                        .map_err(|e| StepFailure::Plugin {
                            kind: PluginErrorKind::Internal,
                            message: format!("plugin returned a result that is not JSON: {e}"),
                        })
                }
            }
            Ok(Err(e)) => Err(StepFailure::Plugin {
                kind: plugin_kind(e.kind),
                message: cut(e.message, MAX_ERROR_MESSAGE),
            }),
            Err(failure) => Err(failure),
        };
        // A failed run leaves nothing behind.
        for artifact in &done.artifacts {
            let _ = std::fs::remove_file(&artifact.path);
        }
        StepRun {
            outcome,
            stats: done.stats,
        }
    }

    /// Instantiates `pre` in a fresh store with the setup's limits and runs `f` in it.
    pub(crate) async fn call<R, F>(
        &self,
        pre: &PluginPre<StepState>,
        setup: CallSetup,
        f: F,
    ) -> (Result<R, StepFailure>, Done)
    where
        F: for<'a> FnOnce(&'a bindings::Plugin, &'a mut Store<StepState>) -> CallFuture<'a, R>,
    {
        let queued = Instant::now();
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .expect("instance semaphore is never closed");
        let wait_ms = queued.elapsed().as_secs_f64() * 1e3;
        let limits = setup.parts.limits;
        let cpu = Arc::new(CpuMeter::default());
        let mut store = Store::new(&self.inner.engine, StepState::new(setup.parts, cpu.clone()));
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            if s.cancel.load(Ordering::Relaxed) {
                s.interrupted.get_or_insert(StepFailure::Cancelled);
                return Ok(UpdateDeadline::Interrupt);
            }
            let used = s.cpu.used();
            if used >= s.limits.cpu_budget() {
                let budget = s.limits.cpu_budget();
                s.interrupted
                    .get_or_insert(StepFailure::CpuBudget { budget, used });
                return Ok(UpdateDeadline::Interrupt);
            }
            let elapsed = s.started.elapsed();
            if elapsed >= s.limits.deadline() {
                s.interrupted
                    .get_or_insert(StepFailure::Deadline { elapsed });
                return Ok(UpdateDeadline::Interrupt);
            }
            // Yield each tick so one busy guest never holds an async worker.
            Ok(UpdateDeadline::Yield(1))
        });

        let started = Instant::now();
        let mut instantiate_us = 0.0;
        let outcome = {
            let run = async {
                let plugin = pre.instantiate_async(&mut store).await?;
                instantiate_us = started.elapsed().as_secs_f64() * 1e6;
                f(&plugin, &mut store).await
            };
            // The epoch callback stops a guest that computes; this stops one that waits
            // in a host call (a slow download, say).
            tokio::time::timeout(limits.deadline(), Metered::new(run, cpu.clone())).await
        };
        let wall_ms = started.elapsed().as_secs_f64() * 1e3;
        let result = match outcome {
            Err(_) => Err(StepFailure::Deadline {
                elapsed: store.data().started.elapsed(),
            }),
            Ok(Err(e)) => Err(classify(&e, store.data_mut(), &limits)),
            Ok(Ok(r)) => match store.data_mut().interrupted.take() {
                Some(f) => Err(f),
                None => Ok(r),
            },
        };
        let state = store.into_data();
        let stats = StepStats {
            wait_ms,
            instantiate_us,
            wall_ms,
            cpu_ms: cpu.used().as_secs_f64() * 1e3,
            peak_memory_bytes: state.limiter.peak,
            bytes_read: state.bytes_read,
            output_bytes: state.output_used,
            log_bytes: state.log_used,
        };
        (
            result,
            Done {
                stats,
                artifacts: state.artifacts,
            },
        )
    }
}

/// What is left of a store after a call.
pub(crate) struct Done {
    pub(crate) stats: StepStats,
    pub(crate) artifacts: Vec<crate::run::ArtifactInfo>,
}

/// Longest plugin error message kept in the job record; longer ones are cut.
const MAX_ERROR_MESSAGE: usize = 4096;

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Turns a trap into the failure that explains it. A reason the host recorded (a limit,
/// the deadline, cancellation, a refused memory growth) wins over the trap's own text.
fn classify(error: &wasmtime::Error, state: &mut StepState, limits: &StepLimits) -> StepFailure {
    if let Some(f) = state.interrupted.take() {
        return f;
    }
    if let Some(requested_bytes) = state.limiter.denied {
        return StepFailure::MemoryLimit {
            cap_bytes: limits.memory_bytes(),
            requested_bytes,
        };
    }
    if error
        .chain()
        .any(|e| matches!(e.downcast_ref(), Some(ResourceTableError::Full)))
    {
        // WASI's or wasi:http's own handles filled the table (the step's input and
        // artifact handles are counted, and stopped, before it can fill).
        let cap = state.table.max_capacity() as u64;
        return StepFailure::HandleLimit {
            cap,
            attempted: cap + 1,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => StepFailure::StackOverflow,
        Some(Trap::UnreachableCodeReached) => match panic_message(&state.stderr.contents()) {
            Some((message, place)) => panicked(message, place),
            None => StepFailure::Trapped { message: "unreachable code reached".into() },
        },
        Some(Trap::MemoryOutOfBounds) => StepFailure::Trapped {
            // A Rust guest's shadow stack lives in linear memory: running it out shows up here.
            message: "out of bounds memory access (a memory bug, or the guest's shadow stack overflowing from deep recursion)".into(),
        },
        Some(trap) => StepFailure::Trapped { message: trap.to_string() },
        None => StepFailure::Host(format!("{error:#}")),
    }
}

/// Starts the message of a panic the guest attributes to its input: the SDK's
/// `panic::INVALID_INPUT_MARK`, printed by its `PanicNote` (the two must agree). Used where
/// a library the plugin calls aborts on bad input instead of returning an error (rav1d 1.1
/// on a damaged AV1 frame, memorysafety/rav1d#1497). Such a run is reported as the
/// guest's `invalid-input` error with the note as its message: a guest could return that
/// error anyway, so the mark grants nothing.
const INVALID_INPUT_MARK: &str = "[framepipe:invalid-input] ";

/// The failure for a guest panic: `INVALID_INPUT` when the guest marked it so, else a panic.
fn panicked(message: String, place: String) -> StepFailure {
    match message.strip_prefix(INVALID_INPUT_MARK) {
        // The note names the place itself.
        Some(note) => StepFailure::Plugin {
            kind: PluginErrorKind::InvalidInput,
            message: cut(note.to_owned(), MAX_ERROR_MESSAGE),
        },
        None => StepFailure::Panicked {
            message: cut(format!("{message} (at {place})"), MAX_ERROR_MESSAGE),
        },
    }
}

/// The message and place of a Rust panic as the guest printed it to stderr.
fn panic_message(stderr: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(stderr);
    let at = text.find("panicked at")?;
    let rest = &text[at..];
    // Rust prints "panicked at src/lib.rs:1:2:\n<message>\nnote: ...".
    let mut lines = rest.lines();
    let location = lines
        .next()?
        .trim_start_matches("panicked at ")
        .trim_end_matches(':')
        .to_owned();
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    Some((message.join(" ").trim().to_owned(), location))
}

fn plugin_kind(kind: ErrorKind) -> PluginErrorKind {
    match kind {
        ErrorKind::InvalidInput => PluginErrorKind::InvalidInput,
        ErrorKind::Unsupported => PluginErrorKind::Unsupported,
        ErrorKind::Unavailable => PluginErrorKind::Unavailable,
        ErrorKind::Cancelled => PluginErrorKind::Cancelled,
        ErrorKind::Internal => PluginErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::{panic_message, panicked};
    use crate::error::{PluginErrorKind, StepFailure};

    fn failure(stderr: &[u8]) -> StepFailure {
        let (message, place) = panic_message(stderr).unwrap();
        panicked(message, place)
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        assert_eq!(super::cut("short".into(), 10), "short");
        assert_eq!(super::cut("ééé".into(), 3), "é…");
        assert_eq!(
            super::cut("x".repeat(10_000), 4096).len(),
            4096 + '…'.len_utf8()
        );
    }

    #[test]
    fn reads_a_rust_panic_message() {
        let stderr = b"\nthread '<unnamed>' panicked at src/lib.rs:80:27:\nboom on purpose\nnote: run with `RUST_BACKTRACE=1`\n";
        let f = failure(stderr);
        assert_eq!(f.code(), "PLUGIN_PANICKED");
        assert_eq!(
            f.to_string(),
            "plugin panicked: boom on purpose (at src/lib.rs:80:27)"
        );
        assert_eq!(panic_message(b"nothing here"), None);
    }

    #[test]
    fn a_panic_marked_as_bad_input_is_invalid_input() {
        let stderr = b"\nthread '<unnamed>' panicked at rav1d-1.1.0/src/decode.rs:4997:33:\n[framepipe:invalid-input] the AV1 stream is damaged (boom at rav1d-1.1.0/src/decode.rs:4997:33)\n\n";
        match failure(stderr) {
            StepFailure::Plugin { kind, message } => {
                assert_eq!(kind, PluginErrorKind::InvalidInput);
                assert_eq!(
                    message,
                    "the AV1 stream is damaged (boom at rav1d-1.1.0/src/decode.rs:4997:33)"
                );
            }
            other => panic!("{other:?}"),
        }
        // The mark counts only at the start of the message.
        let stderr = b"thread 'x' panicked at a.rs:1:1:\nsaid [framepipe:invalid-input] late\n";
        assert_eq!(failure(stderr).code(), "PLUGIN_PANICKED");
    }
}
