//! Host-owned inputs that a plugin reads by range.

use rustix::buffer::spare_capacity;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes a plugin may read by range. Implementations must be cheap to call repeatedly.
pub trait BlobSource: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Reads up to `len` bytes at `offset` into a new buffer (shorter only at the end).
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// A file to serve several reads in a row from, for sources backed by one; the run
    /// keeps at most one such file open at a time (see `state.rs`). `None`: every read
    /// goes through [`read_at`](BlobSource::read_at).
    fn open_file(&self) -> io::Result<Option<File>> {
        Ok(None)
    }
}

/// A local file read with positioned reads; the file is never loaded whole.
///
/// It holds no file descriptor: a run opens it when the plugin reads it (and keeps the
/// last file read open until it reads another), so the host's open files are bounded by
/// the instances running, not by the inputs given. A step given the 10,000 frames of an
/// earlier step holds one of them open at a time.
pub struct FileBlob {
    path: PathBuf,
    size: u64,
}

impl FileBlob {
    /// Checks that `path` is a readable file and records its size; opens nothing.
    pub fn open(path: &Path) -> io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        Ok(FileBlob {
            path: path.to_owned(),
            size: meta.len(),
        })
    }
}

impl BlobSource for FileBlob {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        read_file_at(&File::open(&self.path)?, self.size, offset, len)
    }

    fn open_file(&self) -> io::Result<Option<File>> {
        File::open(&self.path).map(Some)
    }
}

/// Reads up to `len` bytes at `offset` of `file`, whose size is `size`.
pub(crate) fn read_file_at(file: &File, size: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let len = len.min(size.saturating_sub(offset) as usize);
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        // Into the spare capacity: no zeroing pass over memory the kernel fills anyway.
        match rustix::io::pread(file, spare_capacity(&mut buf), at) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

impl BlobSource for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = (offset as usize).min(self.len());
        let end = start.saturating_add(len).min(self.len());
        Ok(self[start..end].to_vec())
    }
}

/// A named input of a step run.
#[derive(Clone)]
pub struct Input {
    /// The port name the plugin opens it by, e.g. `video`.
    pub name: String,
    /// Media type, e.g. `video/mp4`.
    pub media_type: String,
    /// Where the bytes come from.
    pub source: Arc<dyn BlobSource>,
}

impl Input {
    /// An input backed by a local file (opened only while the plugin reads it).
    pub fn file(name: &str, path: &Path, media_type: &str) -> io::Result<Self> {
        Ok(Input {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            source: Arc::new(FileBlob::open(path)?),
        })
    }

    /// An input backed by bytes in memory (small inputs, tests).
    pub fn bytes(name: &str, bytes: Vec<u8>, media_type: &str) -> Self {
        Input {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            source: Arc::new(bytes),
        }
    }
}
