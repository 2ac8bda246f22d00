//! What each `Store` holds for one run, and the host functions a plugin imports.

use crate::bindings::framepipe::plugin::{host, types};
use crate::bindings::{IoError, LogLevel as WitLogLevel};
use crate::blob::{Input, read_file_at};
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
/// Entries of the resource table beyond the step's own handle cap, for what WASI and
/// `wasi:http` push (streams, fields, requests). Filling them is a handle-limit hit too.
const OTHER_HANDLES: usize = 4096;
/// Bytes each finished artifact adds to the job record besides its name and media type
/// (the step name, the size, JSON punctuation): charged against `output_bytes`.
pub(crate) const ARTIFACT_RECORD_BYTES: u64 = 64;

/// An open input, as a plugin holds it.
pub struct BlobHandle {
    input: usize,
}

/// An artifact being written. It holds no file descriptor: the run keeps the file of the
/// artifact last written open (see [`OpenFiles`]). Dropped unfinished, its file is removed.
pub struct ArtifactHandle {
    name: String,
    media_type: String,
    path: PathBuf,
    written: u64,
    finished: bool,
}

impl Drop for ArtifactHandle {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The files a run holds open: at most the input it read last and the artifact it wrote
/// last. A plugin with a thousand handles still costs the host two descriptors, so the
/// process's open files are bounded by its instance slots (2 per slot), whatever plugins
/// do; reading or writing one file after another (the usual pattern) opens each once.
#[derive(Default)]
pub(crate) struct OpenFiles {
    /// Index into the run's inputs, and its file.
    input: Option<(usize, File)>,
    /// Path of the artifact, and its file (opened for appending).
    artifact: Option<(PathBuf, File)>,
}

impl OpenFiles {
    /// The artifact file at `path`, opened (for appending) unless it is the one open.
    fn artifact(&mut self, path: &std::path::Path) -> std::io::Result<&mut File> {
        if self.artifact.as_ref().is_none_or(|(p, _)| p != path) {
            // Close the other one first: never two artifact files at once.
            self.artifact = None;
            let file = std::fs::OpenOptions::new().append(true).open(path)?;
            self.artifact = Some((path.to_owned(), file));
        }
        Ok(&mut self.artifact.as_mut().expect("just opened").1)
    }

    /// Closes the artifact file at `path` if it is the one open.
    fn close_artifact(&mut self, path: &std::path::Path) {
        if self.artifact.as_ref().is_some_and(|(p, _)| p == path) {
            self.artifact = None;
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
    /// Input and artifact handles the guest holds now.
    handles: u64,
    files: OpenFiles,
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
        let mut table = ResourceTable::new();
        table.set_max_capacity(parts.limits.max_handles as usize + OTHER_HANDLES);
        StepState {
            wasi,
            table,
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
            handles: 0,
            files: OpenFiles::default(),
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

    /// Counts one more open handle against the cap.
    fn charge_handle(&mut self) -> wasmtime::Result<()> {
        let attempted = self.handles + 1;
        let cap = u64::from(self.limits.max_handles);
        if attempted > cap {
            return Err(self.stop(StepFailure::HandleLimit { cap, attempted }));
        }
        self.handles = attempted;
        Ok(())
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
            Some(input) => {
                self.charge_handle()?;
                Ok(Some(self.table.push(BlobHandle { input })?))
            }
            None => Ok(None),
        }
    }

    async fn create_artifact(
        &mut self,
        name: String,
        media_type: String,
    ) -> wasmtime::Result<Result<Resource<ArtifactHandle>, IoError>> {
        let cap = u64::from(self.limits.max_media_type_bytes);
        if media_type.len() as u64 > cap {
            return Err(self.stop(StepFailure::MediaTypeTooLong {
                cap,
                length: media_type.len() as u64,
            }));
        }
        let attempted = self.names.len() as u64 + 1;
        let cap = u64::from(self.limits.max_artifacts);
        if attempted > cap {
            return Err(self.stop(StepFailure::ArtifactLimit { cap, attempted }));
        }
        if media_type.is_empty() || !media_type.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Ok(Err(IoError::InvalidName(format!(
                "media type {media_type:?}: use printable ASCII, e.g. `image/jpeg`"
            ))));
        }
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
        self.charge_handle()?;
        let path = self.output_dir.join(&name);
        // Created now (so a name clash on disk shows here), written through `files`.
        let created = std::fs::create_dir_all(&self.output_dir).and_then(|()| File::create(&path));
        if let Err(e) = created {
            self.handles -= 1;
            return Ok(Err(IoError::Failed(format!(
                "creating artifact `{name}`: {e}"
            ))));
        }
        let handle = ArtifactHandle {
            name,
            media_type,
            path,
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
        self.observer.log(level, &escape_control(&line));
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
        let index = self.table.get(&blob)?.input;
        let input = &self.inputs[index];
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
        match read_input(&mut self.files, index, input, offset, len as usize) {
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
        self.handles -= 1;
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
        let written = self
            .files
            .artifact(&handle.path)
            .and_then(|file| file.write_all(&bytes));
        if let Err(e) = written {
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
        let handle = self.table.get(&artifact)?;
        if handle.finished {
            return Ok(Ok(()));
        }
        // The job record lists it: its entry counts as output, so the record is bounded.
        let record = ARTIFACT_RECORD_BYTES + (handle.name.len() + handle.media_type.len()) as u64;
        self.charge_output(record)?;
        let handle = self.table.get_mut(&artifact)?;
        // Writes went straight to the file (no user-space buffer): closing is enough.
        self.files.close_artifact(&handle.path);
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
        let handle = self.table.delete(artifact)?;
        self.files.close_artifact(&handle.path);
        self.handles -= 1;
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

/// Reads `len` bytes at `offset` of input `index`, through the run's one open input file
/// when the source has a file (opened here, replacing the previous one).
fn read_input(
    files: &mut OpenFiles,
    index: usize,
    input: &Input,
    offset: u64,
    len: usize,
) -> std::io::Result<Vec<u8>> {
    if files.input.as_ref().is_none_or(|(i, _)| *i != index) {
        files.input = None;
        match input.source.open_file()? {
            Some(file) => files.input = Some((index, file)),
            None => return input.source.read_at(offset, len),
        }
    }
    let (_, file) = files.input.as_ref().expect("just opened");
    read_file_at(file, input.source.size(), offset, len)
}

/// `text` with control characters (newlines, carriage returns, escape sequences, ...)
/// written as Rust escapes (`\n`, `\u{1b}`), so a plugin's text cannot forge or colour
/// lines of the server's log. Other characters are kept as they are.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_control;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            escape_control("ok\n2026-01-01 ERROR forged\r\u{1b}[31mred\u{7f}\t"),
            "ok\\n2026-01-01 ERROR forged\\r\\u{1b}[31mred\\u{7f}\\t"
        );
        // Unicode line and paragraph separators are not control characters, but some
        // terminals break lines on NEL (U+0085), which is one.
        assert_eq!(escape_control("a\u{85}b"), "a\\u{85}b");
    }
}
