//! Host-owned inputs (read by range) and outputs (written in chunks).

use crate::StepError;
use crate::bindings::framepipe::plugin::host::{self, IoError};
use std::io::{self, Read, Seek, SeekFrom, Write};

/// The largest single read the host serves; bigger reads are split.
pub const MAX_READ: u32 = 4 << 20;

/// A host-owned input. Its bytes stay on the host; read the ranges you need.
pub struct Blob {
    inner: host::Blob,
    size: u64,
}

impl Blob {
    pub(crate) fn new(inner: host::Blob) -> Self {
        let size = inner.size();
        Blob { inner, size }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Media type as the host knows it.
    pub fn media_type(&self) -> String {
        self.inner.media_type()
    }

    /// Reads up to `len` bytes at `offset` (fewer only at the end of the blob).
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, StepError> {
        let mut out = Vec::new();
        let mut at = offset;
        while out.len() < len {
            let want = (len - out.len()).min(MAX_READ as usize) as u32;
            let chunk = self.inner.read(at, want).map_err(StepError::from)?;
            if chunk.is_empty() {
                break;
            }
            at += chunk.len() as u64;
            if out.is_empty() {
                // The usual case, one host call: hand out its buffer without a copy.
                out = chunk;
            } else {
                out.extend_from_slice(&chunk);
            }
        }
        Ok(out)
    }

    /// Reads the whole blob into memory. Only for inputs known to be small.
    pub fn read_all(&self, limit: u64) -> Result<Vec<u8>, StepError> {
        if self.size > limit {
            return Err(StepError::invalid_input(format!(
                "input is {} bytes, more than the {limit} this step reads whole",
                self.size
            )));
        }
        self.read_at(0, self.size as usize)
    }

    /// A buffered `Read + Seek` view, for demuxers and decoders that want one.
    pub fn reader(&self) -> BlobReader<'_> {
        BlobReader {
            blob: self,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }
}

/// A buffered `Read + Seek` over a [`Blob`] that fetches 256 KiB windows.
pub struct BlobReader<'a> {
    blob: &'a Blob,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

const WINDOW: usize = 256 << 10;

impl Read for BlobReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.blob.size || out.is_empty() {
            return Ok(0);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            if out.len() >= WINDOW {
                // Large reads go straight through, without the copy.
                let data = self
                    .blob
                    .read_at(self.pos, out.len())
                    .map_err(|e| io::Error::other(e.message))?;
                out[..data.len()].copy_from_slice(&data);
                self.pos += data.len() as u64;
                return Ok(data.len());
            }
            self.buf = self
                .blob
                .read_at(self.pos, WINDOW)
                .map_err(|e| io::Error::other(e.message))?;
            self.buf_start = self.pos;
        }
        let start = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - start);
        out[..n].copy_from_slice(&self.buf[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.blob.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos =
            next.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

/// An output being written to the host. Call [`Artifact::finish`] when done.
pub struct Artifact {
    inner: host::Artifact,
}

impl Artifact {
    pub(crate) fn new(inner: host::Artifact) -> Self {
        Artifact { inner }
    }

    /// Appends bytes.
    pub fn write_all_bytes(&mut self, bytes: &[u8]) -> Result<(), StepError> {
        for chunk in bytes.chunks(MAX_READ as usize) {
            self.inner.write(chunk).map_err(StepError::from)?;
        }
        Ok(())
    }

    /// Completes the artifact; an unfinished one is discarded by the host.
    pub fn finish(self) -> Result<(), StepError> {
        self.inner.finish().map_err(StepError::from)
    }
}

impl Write for Artifact {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all_bytes(bytes)
            .map_err(|e| io::Error::other(e.message))?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn io_error(e: IoError) -> StepError {
    StepError::from(e)
}
