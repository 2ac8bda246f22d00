//! Failure, retry backoff, max attempts, cancellation.

use std::time::Duration;

use chrono::Utc;
use framepipe_queue::{FailOutcome, JobError, JobState, RetryPolicy};
use serde_json::json;

use crate::harness::{Ctx, job};

const LEASE: Duration = Duration::from_secs(30);

fn no_jitter(base_ms: u64) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(base_ms),
        max: Duration::from_secs(10),
        jitter: 0.0,
    }
}

pub async fn retryable_failure_backs_off_then_fails_at_max_attempts(ctx: Ctx) {
    let s = &ctx.store;
    let mut j = job("alice", "p");
    j.max_attempts = 2;
    let id = s.enqueue(j).await.unwrap().job.id;
    let c = s.claim("w", &[], 1, LEASE).await.unwrap().remove(0);
    let before = Utc::now();
    let err = JobError::new("UPSTREAM_UNAVAILABLE", "503 from thumbnail host", true);
    let FailOutcome::Retrying { run_at } =
        s.fail(&c.lease, err.clone(), no_jitter(400)).await.unwrap()
    else {
        panic!("a retryable first failure must be retried");
    };
    let wait = (run_at - before).num_milliseconds();
    assert!(
        (300..=1500).contains(&wait),
        "backoff of ~400 ms, got {wait} ms"
    );
    let retrying = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(retrying.state, JobState::Retrying);
    assert_eq!(retrying.error.as_ref(), Some(&err));
    assert!(retrying.finished_at.is_none());
    // Not claimable before run_at.
    assert!(s.claim("w", &[], 1, LEASE).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = s.claim("w", &[], 1, LEASE).await.unwrap().remove(0);
    assert_eq!((again.job.id, again.lease.attempt), (id, 2));
    // Last attempt: even a retryable error is final.
    let outcome = s
        .fail(&again.lease, err.clone(), no_jitter(400))
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Failed);
    let failed = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!((failed.attempt, failed.error.as_ref()), (2, Some(&err)));
    assert!(failed.finished_at.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.claim("w", &[], 1, LEASE).await.unwrap().is_empty());
}

pub async fn fatal_failure_and_expired_last_attempt_end_failed(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let c = s.claim("w", &[], 1, LEASE).await.unwrap().remove(0);
    let mut err = JobError::new("INVALID_YOUTUBE_URL", "not a video", false);
    err.details = Some(json!({"steps": [{"name": "resolve", "ms": 3}]}));
    assert_eq!(
        s.fail(&c.lease, err.clone(), no_jitter(10)).await.unwrap(),
        FailOutcome::Failed
    );
    let failed = s.get(id, None).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.error), (JobState::Failed, Some(err)));

    let mut one_shot = job("alice", "p");
    one_shot.max_attempts = 1;
    let id = s.enqueue(one_shot).await.unwrap().job.id;
    s.claim("w", &[], 1, Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.rescue_expired().await.unwrap(), 1);
    let expired = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(expired.state, JobState::Failed);
    assert_eq!(expired.error.unwrap().code, "LEASE_EXPIRED");
    assert!(expired.finished_at.is_some());
}

pub async fn cancel_queued_job_ends_it_at_once(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    assert!(s.cancel(id, "mallory").await.unwrap().is_none());
    assert_eq!(
        s.get(id, None).await.unwrap().unwrap().state,
        JobState::Queued
    );
    let cancelled = s.cancel(id, "alice").await.unwrap().expect("own job");
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(s.claim("w", &[], 10, LEASE).await.unwrap().is_empty());
    // Cancelling a finished job changes nothing.
    let again = s.cancel(id, "alice").await.unwrap().unwrap();
    assert_eq!(again, cancelled);
    assert!(
        s.cancel(uuid::Uuid::now_v7(), "alice")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn cancel_running_job_goes_through_heartbeat(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let c = s.claim("w", &[], 1, LEASE).await.unwrap().remove(0);
    assert!(!s.heartbeat(&c.lease, LEASE).await.unwrap().cancel_requested);
    let requested = s.cancel(id, "alice").await.unwrap().unwrap();
    assert_eq!(
        requested.state,
        JobState::Running,
        "a running job is only asked to stop"
    );
    assert!(requested.cancel_requested);
    assert!(s.heartbeat(&c.lease, LEASE).await.unwrap().cancel_requested);
    // A retryable failure after a cancel request is not retried.
    let mut other = job("alice", "q");
    other.max_attempts = 5;
    let other_id = s.enqueue(other).await.unwrap().job.id;
    let oc = s.claim("w2", &[], 1, LEASE).await.unwrap().remove(0);
    assert_eq!(oc.job.id, other_id);
    s.cancel(other_id, "alice").await.unwrap();
    let err = JobError::new("FLAKY", "would retry", true);
    assert_eq!(
        s.fail(&oc.lease, err, RetryPolicy::default())
            .await
            .unwrap(),
        FailOutcome::Failed
    );

    s.cancelled(&c.lease).await.unwrap();
    let done = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    assert!(done.finished_at.is_some());
    assert!(
        s.heartbeat(&c.lease, LEASE).await.is_err(),
        "lease ends with the job"
    );
}
