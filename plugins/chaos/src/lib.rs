//! A deliberately hostile plugin for the sandbox's tests: each `mode` misbehaves in one
//! way (loops, allocates without end, recurses, panics, floods output or log, reads past
//! the end of its input). The host must stop each one with its own typed error and go on.

use framepipe_plugin_sdk::{Context, Descriptor, LogLevel, PanicNote, Plugin, Port, StepError};
use serde::Deserialize;
use serde_json::{Value, json};

struct Chaos;

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Behaves: returns at once.
    Ok,
    /// Spins forever without calling the host.
    Loop,
    /// Allocates and touches memory until refused.
    Alloc,
    /// Recurses without end.
    Recursion,
    /// Panics.
    Panic,
    /// Panics under a `PanicNote`, as when a library aborts on damaged input.
    InputPanic,
    /// Writes artifact bytes without end.
    OutputFlood,
    /// Logs without end.
    LogFlood,
    /// Reads past the end of its input.
    ReadPastEnd,
    /// Loops, checking for cancellation between rounds.
    Polite,
    /// Works for `ms` milliseconds of wall time (busy), reporting progress in ten steps and
    /// stopping when cancelled; then succeeds. Stands in for a long analytics step.
    Work,
    /// Fails with a retryable `unavailable` error.
    Unavailable,
    /// Creates `count` artifacts of one byte, finishing and closing each; then succeeds.
    Artifacts,
    /// Creates `count` artifacts of one byte and drops each unfinished; then succeeds.
    UnfinishedArtifacts,
    /// Creates `count` artifacts and holds every handle open; then succeeds.
    HeldArtifacts,
    /// Opens its input `count` times and holds every handle open, reading a byte of each.
    HeldInputs,
    /// Creates an artifact whose media type is `count` bytes long.
    LongMediaType,
    /// Logs lines with newlines and terminal escapes (a forged log line); then succeeds.
    LogForge,
    /// Behaves: reads every input whole, one after another, and reports their count and
    /// total size (what `people-count` does with the frames of an earlier step).
    ReadAll,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    /// For `work`: how long, in milliseconds.
    #[serde(default = "default_ms")]
    ms: u64,
    /// For the artifact, handle and media-type modes: how many (or how long).
    #[serde(default = "default_count")]
    count: u64,
}

fn default_count() -> u64 {
    20_000
}

fn default_ms() -> u64 {
    1000
}

impl Plugin for Chaos {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("chaos", env!("CARGO_PKG_VERSION"), "Misbehaves on purpose, for sandbox tests.")
            .config_schema(
                r#"{"type":"object","required":["mode"],"additionalProperties":false,"properties":{
                    "mode":{"enum":["ok","loop","alloc","recursion","panic","input-panic","output-flood","log-flood","read-past-end","polite","work","unavailable","artifacts","unfinished-artifacts","held-artifacts","held-inputs","long-media-type","log-forge","read-all"]},
                    "ms":{"type":"integer","minimum":0},
                    "count":{"type":"integer","minimum":0}}}"#,
            )
            .input(Port::new("input", &["*/*"], "Read by read-past-end.").optional())
            .min_memory_mib(1)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        match config.mode {
            Mode::Ok => Ok(json!({"mode": "ok"})),
            Mode::Loop => {
                let mut x = 1u64;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            Mode::Alloc => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Recursion => Ok(json!({"depth": recurse(std::hint::black_box(1))})),
            Mode::Panic => panic!("chaos plugin panicked on purpose"),
            Mode::InputPanic => {
                let _note = PanicNote::invalid_input("chaos: the input is damaged (on purpose)");
                panic!("a library gave up on the input")
            }
            Mode::OutputFlood => {
                let mut out = ctx.create_artifact("flood.bin", "application/octet-stream")?;
                let chunk = vec![7u8; 1 << 16];
                loop {
                    out.write_all_bytes(&chunk)?;
                }
            }
            Mode::LogFlood => loop {
                ctx.log(
                    LogLevel::Info,
                    "flooding the log with a line that is not short at all ........",
                );
            },
            Mode::ReadPastEnd => {
                let blob = ctx.input("input")?;
                let data = blob.read_at(blob.size() + 1024, 16)?;
                Ok(json!({"read": data.len()}))
            }
            Mode::Polite => loop {
                ctx.check_cancelled()?;
                let mut x = 1u64;
                for _ in 0..1_000_000 {
                    x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
                }
            },
            Mode::Work => {
                let start = std::time::Instant::now();
                for i in 0..10u64 {
                    let until = config.ms * (i + 1) / 10;
                    while (start.elapsed().as_millis() as u64) < until {
                        ctx.check_cancelled()?;
                        std::hint::black_box(0u64);
                    }
                    ctx.progress(i + 1, 10);
                }
                Ok(json!({"mode": "work", "ms": config.ms}))
            }
            Mode::Unavailable => Err(StepError::unavailable(
                "chaos: the service it needs is down (on purpose)",
            )),
            Mode::Artifacts => {
                for i in 0..config.count {
                    ctx.write_artifact(&format!("a{i}.bin"), "application/octet-stream", &[1])?;
                }
                Ok(json!({"artifacts": config.count}))
            }
            Mode::UnfinishedArtifacts => {
                for i in 0..config.count {
                    let mut a =
                        ctx.create_artifact(&format!("u{i}.bin"), "application/octet-stream")?;
                    a.write_all_bytes(&[1])?;
                }
                Ok(json!({"unfinished": config.count}))
            }
            Mode::HeldArtifacts => {
                let mut held = Vec::new();
                for i in 0..config.count {
                    let mut a =
                        ctx.create_artifact(&format!("h{i}.bin"), "application/octet-stream")?;
                    a.write_all_bytes(&[1])?;
                    held.push(a);
                }
                Ok(json!({"held": held.len()}))
            }
            Mode::HeldInputs => {
                let mut held = Vec::new();
                for _ in 0..config.count {
                    let blob = ctx.input("input")?;
                    blob.read_at(0, 1)?;
                    held.push(blob);
                }
                Ok(json!({"held": held.len()}))
            }
            Mode::LongMediaType => {
                let media_type = format!("application/{}", "x".repeat(config.count as usize));
                ctx.write_artifact("long.bin", &media_type, &[1])?;
                Ok(json!({"media_type_bytes": media_type.len()}))
            }
            Mode::ReadAll => {
                let names = ctx.input_names();
                let mut bytes = 0u64;
                for name in &names {
                    bytes += ctx.input(name)?.read_all(16 << 20)?.len() as u64;
                }
                Ok(json!({"inputs": names.len(), "bytes": bytes}))
            }
            Mode::LogForge => {
                ctx.info("first\n2026-01-01T00:00:00Z ERROR framepipe: forged line\r\u{1b}[31mred");
                ctx.warn("tab\there and a bell\u{7}");
                Ok(json!({"mode": "log-forge"}))
            }
        }
    }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    // Scalars only, so the frames live on the engine's stack (not the guest's shadow stack
    // in linear memory), and black_box keeps LLVM from turning this into a loop.
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + n
}

framepipe_plugin_sdk::export!(Chaos);
