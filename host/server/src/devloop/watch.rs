//! `framepipe run-step FILE.wasm --watch`: runs the step, then again each time the file
//! is rebuilt. Polls the file's modification time and size (four times a second; no
//! file-notification dependency, and it works the same on every filesystem) and waits
//! for a change to settle, so a compiler still writing the file is not caught halfway.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(250);

/// What identifies a version of the file.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Runs `run` now and after each change of `path`, until Ctrl-C or SIGTERM.
pub async fn watch<F, Fut>(path: &Path, mut run: F) -> anyhow::Result<ExitCode>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    let stop = crate::devloop::signal();
    tokio::pin!(stop);
    let mut seen = stamp(path);
    loop {
        if let Err(e) = run().await {
            eprintln!("error: {e:#}");
        }
        eprintln!("watching {} for a rebuild (Ctrl-C stops)", path.display());
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(ExitCode::SUCCESS),
                _ = tokio::time::sleep(POLL) => {}
            }
            let now = stamp(path);
            if now.is_none() || now == seen {
                continue;
            }
            // Changed: wait until two looks agree (the writer has finished).
            tokio::time::sleep(POLL).await;
            if stamp(path) != now {
                continue;
            }
            seen = now;
            eprintln!("--- {} changed: running again", path.display());
            break;
        }
    }
}
