//! What each `Store` holds for one run, and the host functions a plugin imports.

use crate::bindings::framepipe::plugin::{host, types};
use crate::bindings::{IoError, LogLevel as WitLogLevel};
use crate::blob::Input;
use crate::cpu::CpuMeter;
use crate::error::StepFailure;
use crate::limits::{MemoryLimiter, StepLimits};
use crate::outbound::OutboundHooks;
use crate::run::{ArtifactInfo, CancelFlag, LogLevel, StepObserver};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The most a single `blob.read` may ask for: bounds host memory per call.
pub(crate) const MAX_READ_BYTES: u32 = 8 << 20;
/// Longest log line kept; longer ones are cut (and still counted in full).
const MAX_LOG_LINE: usize = 4096;

/// An open input, as a plugin holds it.
pub struct BlobHandle {
    input: usize,
}

/// An artifact being written. Dropped unfinished, its file is removed.
pub struct ArtifactHandle {
    name: String,
    media_type: String,
    path: PathBuf,
    file: Option<File>,
    written: u64,
    finished: bool,
}

impl Drop for ArtifactHandle {
    fn drop(&mut self) {
        if !self.finished {
            self.file.take();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Store data for one run.
pub(crate) struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hooks: OutboundHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) limits: StepLimits,
    pub(crate) inputs: Vec<Input>,
    pub(crate) output_dir: PathBuf,
    pub(crate) output_used: u64,
    pub(crate) log_used: u64,
    pub(crate) bytes_read: u64,
    pub(crate) artifacts: Vec<ArtifactInfo>,
    names: HashSet<String>,
    pub(crate) observer: Arc<dyn StepObserver>,
    pub(crate) cancel: CancelFlag,
    pub(crate) started: Instant,
    /// CPU time used by the run so far.
    pub(crate) cpu: Arc<CpuMeter>,
    /// Set when the host stops the run (a limit, the deadline, cancellation): the reason
    /// wins over whatever trap the guest then reports.
    pub(crate) interrupted: Option<StepFailure>,
    pub(crate) stderr: MemoryOutputPipe,
}

pub(crate) struct StateParts {
    pub(crate) limits: StepLimits,
    pub(crate) inputs: Vec<Input>,
    pub(crate) output_dir: PathBuf,
    pub(crate) hooks: OutboundHooks,
    pub(crate) observer: Arc<dyn StepObserver>,
    pub(crate) cancel: CancelFlag,
}

impl StepState {
    pub(crate) fn new(parts: StateParts, cpu: Arc<CpuMeter>) -> Self {
        // The guest's stderr (where a Rust panic message goes) is captured, capped by
        // the log limit; nothing else is granted: no files, env, args, sockets.
        let stderr = MemoryOutputPipe::new(parts.limits.log_bytes.min(64 << 10) as usize);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        StepState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: parts.hooks,
            limiter: MemoryLimiter::new(parts.limits.memory_bytes()),
            limits: parts.limits,
            inputs: parts.inputs,
            output_dir: parts.output_dir,
            output_used: 0,
            log_used: 0,
            bytes_read: 0,
            artifacts: Vec::new(),
            names: HashSet::new(),
            observer: parts.observer,
            cancel: parts.cancel,
            started: Instant::now(),
            cpu,
            interrupted: None,
            stderr,
        }
    }

    /// Records why the host stops the run and returns the trap that unwinds the guest.
    fn stop(&mut self, failure: StepFailure) -> wasmtime::Error {
        let message = failure.to_string();
        self.interrupted.get_or_insert(failure);
        wasmtime::Error::msg(message)
    }

    /// Counts `bytes` of output against the cap.
    pub(crate) fn charge_output(&mut self, bytes: u64) -> wasmtime::Result<()> {
        let attempted = self.output_used + bytes;
        if attempted > self.limits.output_bytes {
            return Err(self.stop(StepFailure::OutputLimit {
                cap: self.limits.output_bytes,
                attempted,
            }));
        }
        self.output_used = attempted;
        Ok(())
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for StepState {}

fn valid_artifact_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl host::Host for StepState {
    async fn input_names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.inputs.iter().map(|i| i.name.clone()).collect())
    }

    async fn open_input(&mut self, name: String) -> wasmtime::Result<Option<Resource<BlobHandle>>> {
        match self.inputs.iter().position(|i| i.name == name) {
            Some(input) => Ok(Some(self.table.push(BlobHandle { input })?)),
            None => Ok(None),
        }
    }

    async fn create_artifact(
        &mut self,
        name: String,
        media_type: String,
    ) -> wasmtime::Result<Result<Resource<ArtifactHandle>, IoError>> {
        if !valid_artifact_name(&name) {
            return Ok(Err(IoError::InvalidName(format!(
                "`{name}`: use 1-64 characters of [A-Za-z0-9._-], not starting with a dot"
            ))));
        }
        if !self.names.insert(name.clone()) {
            return Ok(Err(IoError::InvalidName(format!(
                "`{name}` was already created in this run"
            ))));
        }
        let path = self.output_dir.join(&name);
        let file = std::fs::create_dir_all(&self.output_dir).and_then(|()| File::create(&path));
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                return Ok(Err(IoError::Failed(format!(
                    "creating artifact `{name}`: {e}"
                ))));
            }
        };
        let handle = ArtifactHandle {
            name,
            media_type,
            path,
            file: Some(file),
            written: 0,
            finished: false,
        };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn log(&mut self, level: WitLogLevel, message: String) -> wasmtime::Result<()> {
        self.log_used += message.len() as u64 + 1;
        if self.log_used > self.limits.log_bytes {
            return Err(self.stop(StepFailure::LogLimit {
                cap: self.limits.log_bytes,
            }));
        }
        let mut line = message;
        if line.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let level = LogLevel::from(level);
        self.observer.log(level, &line);
        Ok(())
    }

    async fn progress(&mut self, processed: u64, total: u64) -> wasmtime::Result<()> {
        self.observer.progress(processed, total);
        Ok(())
    }

    async fn is_cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.cancel.load(Ordering::Relaxed))
    }
}

impl host::HostBlob for StepState {
    async fn size(&mut self, blob: Resource<BlobHandle>) -> wasmtime::Result<u64> {
        let input = self.table.get(&blob)?.input;
        Ok(self.inputs[input].source.size())
    }

    async fn media_type(&mut self, blob: Resource<BlobHandle>) -> wasmtime::Result<String> {
        let input = self.table.get(&blob)?.input;
        Ok(self.inputs[input].media_type.clone())
    }

    async fn read(
        &mut self,
        blob: Resource<BlobHandle>,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, IoError>> {
        let input = &self.inputs[self.table.get(&blob)?.input];
        if len > MAX_READ_BYTES {
            return Ok(Err(IoError::LimitExceeded(format!(
                "read of {len} bytes is over the {MAX_READ_BYTES}-byte cap per call; read in chunks"
            ))));
        }
        let size = input.source.size();
        if offset > size {
            return Ok(Err(IoError::OutOfRange(format!(
                "offset {offset} is past the end of input `{}` ({size} bytes)",
                input.name
            ))));
        }
        match input.source.read_at(offset, len as usize) {
            Ok(bytes) => {
                self.bytes_read += bytes.len() as u64;
                Ok(Ok(bytes))
            }
            Err(e) => Ok(Err(IoError::Failed(format!(
                "reading input `{}`: {e}",
                input.name
            )))),
        }
    }

    async fn drop(&mut self, blob: Resource<BlobHandle>) -> wasmtime::Result<()> {
        self.table.delete(blob)?;
        Ok(())
    }
}

impl host::HostArtifact for StepState {
    async fn write(
        &mut self,
        artifact: Resource<ArtifactHandle>,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), IoError>> {
        if self.table.get(&artifact)?.finished {
            return Ok(Err(IoError::InvalidName(
                "artifact already finished".into(),
            )));
        }
        self.charge_output(bytes.len() as u64)?;
        let handle = self.table.get_mut(&artifact)?;
        let file = handle
            .file
            .as_mut()
            .expect("unfinished artifact has a file");
        if let Err(e) = file.write_all(&bytes) {
            return Ok(Err(IoError::Failed(format!(
                "writing artifact `{}`: {e}",
                handle.name
            ))));
        }
        handle.written += bytes.len() as u64;
        Ok(Ok(()))
    }

    async fn finish(
        &mut self,
        artifact: Resource<ArtifactHandle>,
    ) -> wasmtime::Result<Result<(), IoError>> {
        let handle = self.table.get_mut(&artifact)?;
        if handle.finished {
            return Ok(Ok(()));
        }
        if let Some(mut file) = handle.file.take()
            && let Err(e) = file.flush()
        {
            return Ok(Err(IoError::Failed(format!(
                "closing artifact `{}`: {e}",
                handle.name
            ))));
        }
        handle.finished = true;
        let info = ArtifactInfo {
            name: handle.name.clone(),
            media_type: handle.media_type.clone(),
            size: handle.written,
            path: handle.path.clone(),
        };
        self.artifacts.push(info);
        Ok(Ok(()))
    }

    async fn drop(&mut self, artifact: Resource<ArtifactHandle>) -> wasmtime::Result<()> {
        self.table.delete(artifact)?;
        Ok(())
    }
}

impl From<WitLogLevel> for LogLevel {
    fn from(level: WitLogLevel) -> Self {
        match level {
            WitLogLevel::Trace => LogLevel::Trace,
            WitLogLevel::Debug => LogLevel::Debug,
            WitLogLevel::Info => LogLevel::Info,
            WitLogLevel::Warn => LogLevel::Warn,
            WitLogLevel::Error => LogLevel::Error,
        }
    }
}
