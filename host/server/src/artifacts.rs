//! Where uploads, fetched inputs and step artifacts live.
//!
//! [`ArtifactStore`] is the boundary: workers and handlers only ask it for paths of a job's
//! files. [`LocalStore`] keeps them under one directory, which every process must see (the
//! data dir on one host, a shared mount across hosts). An object-storage store would stage
//! files locally behind the same trait.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An uploaded file's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadMeta {
    /// Upload id (what a job's input names).
    pub id: Uuid,
    /// Key id of the uploader; only they can use it.
    pub owner: String,
    /// File name as sent.
    pub filename: String,
    /// Media type derived from the extension.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was received.
    pub created_at: DateTime<Utc>,
}

/// File storage for uploads and job artifacts.
pub trait ArtifactStore: Send + Sync {
    /// Directory a step run writes its artifacts to, emptied of an older attempt's; the
    /// runtime creates it when the step writes its first artifact.
    fn step_dir(&self, job: Uuid, step: &str) -> io::Result<PathBuf>;
    /// Path of one artifact of a job, if it exists.
    fn artifact(&self, job: Uuid, step: &str, name: &str) -> Option<PathBuf>;
    /// Directory for a job's fetched input.
    fn input_dir(&self, job: Uuid) -> io::Result<PathBuf>;
    /// Removes everything a job stored.
    fn delete_job(&self, job: Uuid) -> io::Result<()>;
    /// A new, empty upload slot: its id and the path to stream the bytes to.
    fn new_upload(&self) -> io::Result<(Uuid, PathBuf)>;
    /// Records a finished upload.
    fn finish_upload(&self, meta: &UploadMeta) -> io::Result<()>;
    /// An upload's record and data path, if it exists.
    fn upload(&self, id: Uuid) -> Option<(UploadMeta, PathBuf)>;
    /// Removes an upload (finished or not).
    fn delete_upload(&self, id: Uuid) -> io::Result<()>;
    /// Removes uploads older than `before`; returns how many.
    fn prune_uploads(&self, before: DateTime<Utc>) -> io::Result<usize>;
}

/// Files under one directory: `jobs/<id>/<step>/<name>`, `uploads/<id>/{data,meta.json}`.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> io::Result<LocalStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join("jobs"))?;
        std::fs::create_dir_all(root.join("uploads"))?;
        Ok(LocalStore { root })
    }

    fn job_dir(&self, job: Uuid) -> PathBuf {
        self.root.join("jobs").join(job.to_string())
    }

    fn upload_dir(&self, id: Uuid) -> PathBuf {
        self.root.join("uploads").join(id.to_string())
    }
}

/// A name safe as one path component (what plugins and users give is checked here too).
pub fn safe_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
}

fn remove_dir_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl ArtifactStore for LocalStore {
    fn step_dir(&self, job: Uuid, step: &str) -> io::Result<PathBuf> {
        if !safe_component(step) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad step name"));
        }
        // Not created here: the runtime creates it with the first artifact, so a step that
        // writes none (most no-op and analytics steps) costs no directory operations.
        let dir = self.job_dir(job).join(step);
        remove_dir_if_exists(&dir)?;
        Ok(dir)
    }

    fn artifact(&self, job: Uuid, step: &str, name: &str) -> Option<PathBuf> {
        if !safe_component(step) || !safe_component(name) || step == "input" {
            return None;
        }
        let path = self.job_dir(job).join(step).join(name);
        path.is_file().then_some(path)
    }

    fn input_dir(&self, job: Uuid) -> io::Result<PathBuf> {
        let dir = self.job_dir(job).join("input");
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn delete_job(&self, job: Uuid) -> io::Result<()> {
        remove_dir_if_exists(&self.job_dir(job))
    }

    fn new_upload(&self) -> io::Result<(Uuid, PathBuf)> {
        let id = Uuid::now_v7();
        let dir = self.upload_dir(id);
        std::fs::create_dir_all(&dir)?;
        Ok((id, dir.join("data")))
    }

    fn finish_upload(&self, meta: &UploadMeta) -> io::Result<()> {
        let dir = self.upload_dir(meta.id);
        let tmp = dir.join("meta.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(meta)?)?;
        std::fs::rename(tmp, dir.join("meta.json"))
    }

    fn upload(&self, id: Uuid) -> Option<(UploadMeta, PathBuf)> {
        let dir = self.upload_dir(id);
        let meta: UploadMeta =
            serde_json::from_slice(&std::fs::read(dir.join("meta.json")).ok()?).ok()?;
        Some((meta, dir.join("data")))
    }

    fn delete_upload(&self, id: Uuid) -> io::Result<()> {
        remove_dir_if_exists(&self.upload_dir(id))
    }

    fn prune_uploads(&self, before: DateTime<Utc>) -> io::Result<usize> {
        let mut n = 0;
        for entry in std::fs::read_dir(self.root.join("uploads"))? {
            let entry = entry?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                continue;
            };
            let modified: DateTime<Utc> = entry.metadata()?.modified()?.into();
            if modified < before {
                self.delete_upload(id)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Media type of a file name's extension (`None` when the extension is not a known one).
pub fn media_type_of(filename: &str) -> Option<&'static str> {
    let ext = Path::new(filename)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" => "video/mp4",
        "m4v" => "video/x-m4v",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "ts" | "m2ts" | "mts" => "video/mp2t",
        "3gp" => "video/3gpp",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_dirs_are_fresh_and_names_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path()).unwrap();
        let job = Uuid::now_v7();
        let dir = store.step_dir(job, "frame").unwrap();
        assert!(!dir.exists(), "created lazily, by the first artifact");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.jpg"), b"x").unwrap();
        assert!(store.artifact(job, "frame", "a.jpg").is_some());
        assert!(store.artifact(job, "frame", "../frame/a.jpg").is_none());
        assert!(store.artifact(job, "..", "a.jpg").is_none());
        store.step_dir(job, "frame").unwrap();
        assert!(
            store.artifact(job, "frame", "a.jpg").is_none(),
            "a retry starts empty"
        );
        assert!(store.step_dir(job, "../x").is_err());
        store.delete_job(job).unwrap();
        store.delete_job(job).unwrap();
    }

    #[test]
    fn media_types_come_from_extensions() {
        assert_eq!(media_type_of("a.MP4"), Some("video/mp4"));
        assert_eq!(media_type_of("clip.webm"), Some("video/webm"));
        assert_eq!(media_type_of("x.exe"), None);
        assert_eq!(media_type_of("noext"), None);
    }
}
