//! Workers: claim jobs per lane, run them, keep their leases alive, report progress,
//! acknowledge (fenced on the lease), and stop cleanly on shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framepipe_queue::{Claimed, FailOutcome, JobError, Lease, QueueError, Store};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::WorkerSettings;
use crate::metrics::{AttemptOutcome, Metrics};
use crate::pipeline::Pipelines;
use crate::runner::Runner;

/// Shared by every lane of one process.
pub struct Workers {
    /// The queue.
    pub store: Store,
    /// Runs jobs.
    pub runner: Arc<Runner>,
    /// Pipelines by name.
    pub pipelines: Arc<Pipelines>,
    /// Lanes, leases, retries.
    pub settings: WorkerSettings,
    /// This process's worker id (host:pid:random).
    pub id: String,
    /// Poked by the API after an enqueue in the same process, so pickup is immediate.
    pub wake: Arc<Notify>,
    /// Claims and finished attempts are counted here.
    pub metrics: Arc<Metrics>,
}

/// A succeeded job's lease and result, waiting to be acknowledged.
type Succeeded = (Lease, serde_json::Value);

/// Keeps a finished job's success for the lane's next acknowledgement.
fn keep_success(
    done: Result<Option<Succeeded>, tokio::task::JoinError>,
    succeeded: &mut Vec<Succeeded>,
) {
    match done {
        Ok(Some(success)) => succeeded.push(success),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "a job task panicked; its job will be re-leased"),
    }
}

/// How long a busy lane waits for more free slots before claiming.
const CLAIM_GATHER: Duration = Duration::from_millis(2);

/// How often progress is written to the queue at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(300);

impl Workers {
    /// A worker id unique to this process.
    pub fn new_id() -> String {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        format!(
            "{host}:{}:{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    }

    /// Runs every configured lane until `shutdown`, then lets running jobs finish for the
    /// grace period; jobs still running after it are left to be re-leased.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut lanes = JoinSet::new();
        for (lane, &concurrency) in &self.settings.lanes {
            if concurrency == 0 {
                continue;
            }
            let this = self.clone();
            let lane = lane.clone();
            let shutdown = shutdown.clone();
            lanes.spawn(async move { this.lane(lane, concurrency, shutdown).await });
        }
        while lanes.join_next().await.is_some() {}
    }

    async fn lane(self: Arc<Self>, lane: String, concurrency: usize, shutdown: CancellationToken) {
        tracing::info!(lane = %lane, concurrency, worker = %self.id, "lane started");
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut running: JoinSet<Option<Succeeded>> = JoinSet::new();
        // Succeeded jobs not yet acknowledged: they ride along with the next claim.
        let mut succeeded: Vec<Succeeded> = Vec::new();
        let lanes = vec![lane.clone()];
        let stop_jobs = CancellationToken::new();
        loop {
            while let Some(done) = running.try_join_next() {
                keep_success(done, &mut succeeded);
            }
            if slots.available_permits() == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    Some(done) = running.join_next() => {
                        keep_success(done, &mut succeeded);
                        continue;
                    }
                }
            }
            // Under load, let the other running jobs finish too (for at most 2 ms) so that
            // one statement acknowledges and claims several jobs instead of one per job.
            // Waiting for every slot rather than half of them: 4,428 -> 5,969 no-op jobs/s
            // for one PostgreSQL worker process with 4 slots (`--bench scale`).
            let gather_until = tokio::time::Instant::now() + CLAIM_GATHER;
            while slots.available_permits() < concurrency && !running.is_empty() {
                tokio::select! {
                    Some(done) = running.join_next() => keep_success(done, &mut succeeded),
                    _ = tokio::time::sleep_until(gather_until) => break,
                }
            }
            let free = slots.available_permits();
            // Acknowledge the finished jobs and claim more in one round trip.
            let claimed = match self
                .store
                .complete_and_claim(&succeeded, &self.id, &lanes, free, self.settings.lease())
                .await
            {
                Ok((answers, claimed)) => {
                    succeeded.clear();
                    answers.into_iter().for_each(|answer| self.ack(answer));
                    claimed
                }
                Err(e) => {
                    // Nothing was committed: the acknowledgements wait for the next try.
                    tracing::warn!(lane = %lane, error = %e, acks = succeeded.len(), "claim failed; retrying in 1 s");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            self.metrics.jobs_claimed(&lane, claimed.len());
            if claimed.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = self.store.wait_for_work(Duration::from_secs(2)) => {}
                    Some(done) = running.join_next(), if !running.is_empty() => {
                        keep_success(done, &mut succeeded);
                    }
                }
                continue;
            }
            for job in claimed {
                let permit = slots.clone().acquire_owned().await.expect("semaphore open");
                let this = self.clone();
                let stop = stop_jobs.clone();
                running.spawn(async move {
                    let succeeded = this.run_job(job, stop).await;
                    drop(permit);
                    succeeded
                });
            }
        }
        let grace = Duration::from_secs(self.settings.grace_seconds);
        tracing::info!(lane = %lane, running = running.len(), "lane stopping; waiting up to {grace:?}");
        let drained = tokio::time::timeout(grace, async {
            while let Some(done) = running.join_next().await {
                keep_success(done, &mut succeeded);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(lane = %lane, left = running.len(), "grace period over; remaining jobs will be re-leased");
            stop_jobs.cancel();
            running.abort_all();
        }
        match self.store.complete_many(succeeded).await {
            Ok(answers) => answers.into_iter().for_each(|answer| self.ack(answer)),
            Err(e) => {
                tracing::error!(error = %e, "acknowledging finished jobs failed; they will be re-leased")
            }
        }
    }

    /// Runs one claimed job. A success is returned for the lane to acknowledge with its
    /// next claim; failures and cancellations are acknowledged here.
    async fn run_job(&self, claimed: Claimed, stop: CancellationToken) -> Option<Succeeded> {
        let Claimed { job, lease } = claimed;
        let span = tracing::info_span!("job", job_id = %job.id, pipeline = %job.pipeline, attempt = lease.attempt, lane = %job.lane);
        let started = Instant::now();
        let waited = (chrono::Utc::now() - job.run_at.max(job.created_at)).to_std();
        self.metrics
            .job_waited(&job.lane, waited.unwrap_or_default());
        let finished = |outcome| {
            self.metrics
                .job_finished(&job.pipeline, outcome, started.elapsed())
        };
        async {
            tracing::info!("job started");
            let Some(pipeline) = self.pipelines.get(&job.pipeline) else {
                let error = JobError::new(
                    "PIPELINE_NOT_FOUND",
                    format!("pipeline `{}` is no longer defined", job.pipeline),
                    false,
                );
                let failed = self.store.fail(&lease, error, self.settings.retry()).await;
                finished(fail_outcome(&failed));
                self.ack(failed.map(|_| ()));
                return None;
            };
            let cancel = Arc::new(AtomicBool::new(false));
            let lost = Arc::new(AtomicBool::new(false));
            let (progress_tx, progress_rx) = watch::channel((0u64, 0u64));
            let keeper = tokio::spawn(keep_alive(
                self.store.clone(),
                lease.clone(),
                self.settings.clone(),
                cancel.clone(),
                lost.clone(),
                progress_rx,
                stop,
            ));
            let outcome = self.runner.run(&job, &pipeline, cancel.clone(), progress_tx).await;
            keeper.abort();
            if lost.load(Ordering::Relaxed) {
                finished(AttemptOutcome::LeaseLost);
                tracing::warn!("lease lost while running; the result is dropped (another worker owns the job)");
                return None;
            }
            let acked = match outcome {
                Ok(result) => {
                    finished(AttemptOutcome::Succeeded);
                    tracing::info!("job succeeded");
                    return Some((lease, result));
                }
                Err(f) if f.is_cancelled() && cancel.load(Ordering::Relaxed) => {
                    tracing::info!("job cancelled");
                    finished(AttemptOutcome::Cancelled);
                    self.store.cancelled(&lease).await
                }
                Err(f) => {
                    tracing::warn!(code = %f.code, retryable = f.retryable, error = %framepipe_runtime::escape_control(&f.message), "job attempt failed");
                    let mut error = JobError::new(f.code, f.message, f.retryable);
                    error.details = Some(serde_json::json!({"steps": f.steps}));
                    let failed = self.store.fail(&lease, error, self.settings.retry()).await;
                    finished(fail_outcome(&failed));
                    failed.map(|_| ())
                }
            };
            self.ack(acked);
            None
        }
        .instrument(span)
        .await
    }

    fn ack(&self, result: Result<(), QueueError>) {
        match result {
            Ok(()) => {}
            Err(e @ QueueError::LeaseLost { .. }) => tracing::warn!("{e}"),
            Err(e) => {
                tracing::error!(error = %e, "acknowledging the job failed; it will be re-leased")
            }
        }
    }
}

/// What a failed attempt became; an unacknowledged failure is counted as `retrying` (the
/// lease will expire and the job be rescued).
fn fail_outcome(failed: &Result<FailOutcome, QueueError>) -> AttemptOutcome {
    match failed {
        Ok(FailOutcome::Failed) => AttemptOutcome::Failed,
        Ok(FailOutcome::Retrying { .. }) | Err(_) => AttemptOutcome::Retrying,
    }
}

/// Heartbeats the lease (learning of cancellation), and writes progress as it changes.
async fn keep_alive(
    store: Store,
    lease: Lease,
    settings: WorkerSettings,
    cancel: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    mut progress: watch::Receiver<(u64, u64)>,
    stop: CancellationToken,
) {
    // Cancellation is seen on heartbeats: beat at least every second so a cancel lands fast.
    let beat = settings.heartbeat().min(Duration::from_secs(1));
    let mut next_beat = tokio::time::Instant::now() + beat;
    loop {
        tokio::select! {
            _ = stop.cancelled() => { cancel.store(true, Ordering::Relaxed); return; }
            _ = tokio::time::sleep_until(next_beat) => {
                next_beat = tokio::time::Instant::now() + beat;
                match store.heartbeat(&lease, settings.lease()).await {
                    Ok(hb) if hb.cancel_requested => {
                        if !cancel.swap(true, Ordering::Relaxed) {
                            tracing::info!(job_id = %lease.job_id, "cancel requested; interrupting the step");
                        }
                    }
                    Ok(_) => {}
                    Err(QueueError::LeaseLost { .. }) => {
                        lost.store(true, Ordering::Relaxed);
                        cancel.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
            changed = progress.changed() => {
                if changed.is_err() { return; }
                let (done, total) = *progress.borrow_and_update();
                if total > 0 && let Err(e) = store.progress(&lease, done, total).await {
                    tracing::debug!(error = %e, "progress write failed");
                }
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
        }
    }
}

/// The leader's chores: re-queue jobs of dead workers, prune finished jobs and old uploads.
pub async fn housekeeping(
    store: Store,
    artifacts: Arc<dyn crate::artifacts::ArtifactStore>,
    retention: crate::config::RetentionSettings,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut last_prune = tokio::time::Instant::now() - Duration::from_secs(3600);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.try_lead().await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "leader election failed");
                continue;
            }
        }
        match store.rescue_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "re-queued jobs whose lease expired"),
            Err(e) => tracing::warn!(error = %e, "rescue failed"),
        }
        if last_prune.elapsed() >= Duration::from_secs(600) {
            last_prune = tokio::time::Instant::now();
            let before =
                chrono::Utc::now() - chrono::Duration::hours(retention.finished_hours as i64);
            match store.prune(before).await {
                Ok(ids) => {
                    for id in &ids {
                        if let Err(e) = artifacts.delete_job(*id) {
                            tracing::warn!(job_id = %id, error = %e, "deleting pruned artifacts failed");
                        }
                    }
                    if !ids.is_empty() {
                        tracing::info!(jobs = ids.len(), "pruned finished jobs");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "prune failed"),
            }
            let before =
                chrono::Utc::now() - chrono::Duration::hours(retention.uploads_hours as i64);
            if let Err(e) = artifacts.prune_uploads(before) {
                tracing::warn!(error = %e, "pruning uploads failed");
            }
        }
    }
}
