//! Claiming, leases, fencing, progress, batch completion.

use std::collections::HashSet;
use std::time::Duration;

use framepipe_queue::{JobState, QueueError, RetryPolicy};
use serde_json::json;

use crate::harness::{Ctx, job};

const LEASE: Duration = Duration::from_secs(30);

fn lanes(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub async fn claim_orders_by_priority_and_isolates_lanes(ctx: Ctx) {
    let s = &ctx.store;
    let mut ids = std::collections::HashMap::new();
    for (name, lane, priority) in [
        ("low", "analytics", 0),
        ("high", "analytics", 10),
        ("mid-old", "analytics", 5),
        ("mid-new", "analytics", 5),
        ("preview", "preview", -100),
    ] {
        let mut j = job("alice", name);
        j.lane = lane.into();
        j.priority = priority;
        ids.insert(s.enqueue(j).await.unwrap().job.id, name);
        // Distinct creation times, so "older first" is observable.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The preview lane's worker sees only the preview job, whatever the priorities.
    let preview = s
        .claim("pw", &lanes(&["preview"]), 10, LEASE)
        .await
        .unwrap();
    assert_eq!(preview.len(), 1);
    assert_eq!(ids[&preview[0].job.id], "preview");
    assert!(
        s.claim("pw", &lanes(&["preview"]), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.claim("pw", &lanes(&["nothing-here"]), 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    let first = s
        .claim("aw", &lanes(&["analytics"]), 1, LEASE)
        .await
        .unwrap();
    assert_eq!(ids[&first[0].job.id], "high");
    let rest = s
        .claim("aw", &lanes(&["analytics", "other"]), 10, LEASE)
        .await
        .unwrap();
    let order: Vec<_> = rest.iter().map(|c| ids[&c.job.id]).collect();
    assert_eq!(order, ["mid-old", "mid-new", "low"]);
    for c in first.iter().chain(&rest) {
        assert_eq!(c.job.state, JobState::Running);
        assert_eq!((c.job.attempt, c.lease.attempt), (1, 1));
        assert_eq!(c.lease.owner, "aw");
        assert_eq!(c.job.lease_owner.as_deref(), Some("aw"));
        assert!(c.job.started_at.is_some() && c.job.lease_expires_at > c.job.started_at);
    }
    assert_eq!(s.claim("x", &[], 0, LEASE).await.unwrap().len(), 0);
}

pub async fn concurrent_claimers_never_share_a_job(ctx: Ctx) {
    let s = &ctx.store;
    let mut all = HashSet::new();
    for _ in 0..500 {
        all.insert(s.enqueue(job("alice", "p")).await.unwrap().job.id);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.claim(&format!("w{w}"), &[], 7, LEASE).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.job.id));
            }
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 500, "no job handed out twice");
    assert_eq!(unique, all, "every job handed out");
}

pub async fn expired_lease_is_rescued_and_reclaimed_as_attempt_two(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let first = s
        .claim("dead", &[], 1, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(s.rescue_expired().await.unwrap(), 0, "lease still valid");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.rescue_expired().await.unwrap(), 1);
    let rescued = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(rescued.state, JobState::Retrying);
    assert_eq!(
        rescued.error.as_ref().map(|e| e.code.as_str()),
        Some("LEASE_EXPIRED")
    );
    let second = s.claim("alive", &[], 1, LEASE).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].job.id, id);
    assert_eq!(second[0].lease.attempt, 2);
    assert_eq!(s.rescue_expired().await.unwrap(), 0);
}

pub async fn stale_worker_is_fenced_out(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let stale = s
        .claim("a", &[], 1, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.rescue_expired().await.unwrap(), 1);
    let fresh = s.claim("b", &[], 1, LEASE).await.unwrap().remove(0);
    let before = s.get(id, None).await.unwrap().unwrap();

    let is_lost = |r: Result<(), QueueError>| matches!(r, Err(QueueError::LeaseLost { .. }));
    assert!(is_lost(
        s.complete(&stale.lease, json!({"stale": true})).await
    ));
    assert!(is_lost(s.progress(&stale.lease, 1, 2).await));
    assert!(is_lost(s.cancelled(&stale.lease).await));
    assert!(matches!(
        s.heartbeat(&stale.lease, LEASE).await,
        Err(QueueError::LeaseLost { attempt: 1, .. })
    ));
    let err = framepipe_queue::JobError::new("X", "stale", true);
    assert!(matches!(
        s.fail(&stale.lease, err, RetryPolicy::default()).await,
        Err(QueueError::LeaseLost { .. })
    ));
    // Same worker name but the old attempt number is fenced too.
    let mut same_owner_old_attempt = fresh.lease.clone();
    same_owner_old_attempt.attempt = 1;
    assert!(is_lost(
        s.complete(&same_owner_old_attempt, json!({})).await
    ));
    assert_eq!(
        s.get(id, None).await.unwrap().unwrap(),
        before,
        "job unchanged"
    );

    s.complete(&fresh.lease, json!({"ok": true})).await.unwrap();
    let done = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert!(done.finished_at.is_some());
    // Finished: even the rightful worker can no longer write.
    assert!(is_lost(
        s.complete(&fresh.lease, json!({"again": true})).await
    ));
}

pub async fn progress_and_heartbeat_are_recorded(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let c = s
        .claim("w", &[], 1, Duration::from_millis(300))
        .await
        .unwrap()
        .remove(0);
    s.progress(&c.lease, 40, 100).await.unwrap();
    let p = s
        .get(id, None)
        .await
        .unwrap()
        .unwrap()
        .progress
        .expect("progress stored");
    assert_eq!((p.processed, p.total), (40, 100));
    // Heartbeats keep a short lease alive past its original expiry.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let beat = s
            .heartbeat(&c.lease, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(!beat.cancel_requested);
        assert_eq!(s.rescue_expired().await.unwrap(), 0);
    }
    let j = s.get(id, None).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Running);
    assert!(j.lease_expires_at.unwrap() > c.job.lease_expires_at.unwrap());
}

pub async fn complete_many_reports_each_lease(ctx: Ctx) {
    let s = &ctx.store;
    for _ in 0..5 {
        s.enqueue(job("alice", "p")).await.unwrap();
    }
    let claimed = s.claim("w", &[], 5, LEASE).await.unwrap();
    let mut stale = claimed[4].lease.clone();
    stale.owner = "someone-else".into();
    let mut batch: Vec<_> = claimed[..4]
        .iter()
        .enumerate()
        .map(|(i, c)| (c.lease.clone(), json!({"n": i})))
        .collect();
    batch.insert(2, (stale, json!({"n": "stale"})));
    let results = s.complete_many(batch).await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(results[2], Err(QueueError::LeaseLost { .. })));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    for (i, c) in claimed[..4].iter().enumerate() {
        let j = s.get(c.job.id, None).await.unwrap().unwrap();
        assert_eq!(j.state, JobState::Succeeded);
        assert_eq!(j.result, Some(json!({"n": i})));
    }
    let untouched = s.get(claimed[4].job.id, None).await.unwrap().unwrap();
    assert_eq!(untouched.state, JobState::Running);
    assert!(untouched.result.is_none());
    assert!(s.complete_many(Vec::new()).await.unwrap().is_empty());
}

pub async fn complete_and_claim_acks_and_leases_in_one_call(ctx: Ctx) {
    let s = &ctx.store;
    let lanes = ["default".to_string()];
    for _ in 0..5 {
        s.enqueue(job("alice", "p")).await.unwrap();
    }
    let first = s.claim("w", &lanes, 2, LEASE).await.unwrap();
    let mut stale = first[1].lease.clone();
    stale.attempt += 1;
    let done = vec![
        (first[0].lease.clone(), json!({"n": 0})),
        (stale, json!({"n": "stale"})),
    ];
    let (answers, next) = s
        .complete_and_claim(&done, "w", &lanes, 2, LEASE)
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(matches!(answers[1], Err(QueueError::LeaseLost { .. })));
    assert_eq!(answers.len(), 2);
    // The next two in claim order, leased to the caller; none of the first two again.
    assert_eq!(next.len(), 2);
    for c in &next {
        assert!(first.iter().all(|f| f.job.id != c.job.id));
        assert_eq!(c.job.state, JobState::Running);
        assert_eq!(c.lease.owner, "w");
    }
    let acked = s.get(first[0].job.id, None).await.unwrap().unwrap();
    assert_eq!(acked.state, JobState::Succeeded);
    assert_eq!(acked.result, Some(json!({"n": 0})));
    let fenced = s.get(first[1].job.id, None).await.unwrap().unwrap();
    assert_eq!(fenced.state, JobState::Running);
    assert!(fenced.result.is_none());

    // With nothing left to claim the completions still land; with none, it is a claim.
    let done: Vec<_> = next.iter().map(|c| (c.lease.clone(), json!({}))).collect();
    let last = s.claim("w", &lanes, 5, LEASE).await.unwrap();
    assert_eq!(last.len(), 1);
    let (answers, none) = s
        .complete_and_claim(&done, "w", &lanes, 3, LEASE)
        .await
        .unwrap();
    assert!(answers.iter().all(Result::is_ok) && none.is_empty());
    for c in &next {
        let j = s.get(c.job.id, None).await.unwrap().unwrap();
        assert_eq!(j.state, JobState::Succeeded);
    }
    s.enqueue(job("alice", "p")).await.unwrap();
    let (answers, claimed) = s
        .complete_and_claim(&[], "w", &lanes, 3, LEASE)
        .await
        .unwrap();
    assert!(answers.is_empty());
    assert_eq!(claimed.len(), 1);
}
