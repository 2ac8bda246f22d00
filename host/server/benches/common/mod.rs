//! Shared by the benches: waiting until a run of jobs has succeeded.

use std::time::{Duration, Instant};

use framepipe_queue::{JobState, Store};
use uuid::Uuid;

/// The longest a bench waits for its jobs.
const PATIENCE: Duration = Duration::from_secs(600);

/// Returns once `jobs` jobs have succeeded, `last` being the last one enqueued.
///
/// Jobs are claimed oldest first: wait for the last one with cheap point reads, then
/// count the few stragglers (a full count every few ms would cost the queue real time).
pub async fn wait_until_succeeded(
    store: &Store,
    last: Uuid,
    jobs: usize,
    started: Instant,
    label: &str,
) -> anyhow::Result<()> {
    loop {
        let job = store.get(last, None).await?;
        if job.is_some_and(|j| j.state.is_terminal()) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < PATIENCE,
            "{label}: stuck before the last job"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    loop {
        let counts = store.counts().await?;
        let done = counts.get(&JobState::Succeeded).copied().unwrap_or(0) as usize;
        if done == jobs {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < PATIENCE, "{label}: stuck at {counts:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
