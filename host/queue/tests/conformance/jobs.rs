//! Submitting, reading, listing, idempotency, deletion, counts, persistence.

use std::collections::HashSet;
use std::time::Duration;

use framepipe_queue::{JobState, ListFilter, QueueError};
use serde_json::json;

use crate::harness::{Ctx, job};

const LEASE: Duration = Duration::from_secs(30);

pub async fn enqueue_then_get_round_trips(ctx: Ctx) {
    let s = &ctx.store;
    let mut new = job("alice", "people-count");
    new.lane = "analytics".into();
    new.priority = 7;
    new.params = json!({"fps": 5, "zones": [[0, 0], [1, 1]]});
    new.max_attempts = 4;
    let enqueued = s.enqueue(new.clone()).await.unwrap();
    assert!(enqueued.created);
    let j = &enqueued.job;
    assert_eq!(j.state, JobState::Queued);
    assert_eq!((j.attempt, j.max_attempts, j.priority), (0, 4, 7));
    assert_eq!(
        (j.lane.as_str(), j.pipeline.as_str()),
        ("analytics", "people-count")
    );
    assert_eq!((&j.input, &j.params), (&new.input, &new.params));
    assert!(j.result.is_none() && j.error.is_none() && j.progress.is_none());
    assert!(j.run_at >= j.created_at);

    let got = s
        .get(j.id, Some("alice"))
        .await
        .unwrap()
        .expect("owner sees it");
    assert_eq!(&got, j);
    assert_eq!(s.get(j.id, None).await.unwrap().as_ref(), Some(j));
    assert!(s.get(j.id, Some("mallory")).await.unwrap().is_none());
    assert!(s.get(uuid::Uuid::now_v7(), None).await.unwrap().is_none());

    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["state"], "queued");
}

pub async fn list_is_newest_first_paginated_filtered_and_owner_scoped(ctx: Ctx) {
    let s = &ctx.store;
    let mut ids = Vec::new();
    for i in 0..25 {
        let pipeline = if i % 5 == 0 {
            "preview"
        } else {
            "people-count"
        };
        ids.push(s.enqueue(job("alice", pipeline)).await.unwrap().job.id);
    }
    for _ in 0..3 {
        s.enqueue(job("bob", "preview")).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s
            .list("alice", &ListFilter::default(), 10, cursor)
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.iter().all(|j| j.owner == "alice"));
        seen.extend(page.items.iter().map(|j| j.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next.to_string().parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    ids.reverse();
    assert_eq!(seen, ids, "every job once, newest first");

    let previews = ListFilter {
        pipeline: Some("preview".into()),
        ..Default::default()
    };
    let page = s.list("alice", &previews, 100, None).await.unwrap();
    assert_eq!(page.items.len(), 5);
    assert!(page.next_cursor.is_none());
    assert!(page.items.iter().all(|j| j.pipeline == "preview"));

    s.claim("w", &[], 3, LEASE).await.unwrap();
    let running = ListFilter {
        state: Some(JobState::Running),
        ..Default::default()
    };
    assert_eq!(
        s.list("alice", &running, 100, None)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    let queued = ListFilter {
        state: Some(JobState::Queued),
        pipeline: Some("preview".into()),
    };
    let queued_previews = s.list("alice", &queued, 100, None).await.unwrap().items;
    assert!(queued_previews.iter().all(|j| j.state == JobState::Queued));
    assert!(!queued_previews.is_empty());

    assert_eq!(
        s.list("bob", &ListFilter::default(), 100, None)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert!(
        s.list("carol", &ListFilter::default(), 100, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn idempotent_resubmission_returns_the_same_job(ctx: Ctx) {
    let s = &ctx.store;
    let mut first = job("alice", "thumbnail");
    first.input = json!({"a": 1, "b": {"c": 2, "d": 3}});
    first.idempotency_key = Some("req-1".into());
    let a = s.enqueue(first.clone()).await.unwrap();
    // Same body with keys in another order: still the same request.
    let mut again = first.clone();
    again.input = json!({"b": {"d": 3, "c": 2}, "a": 1});
    let b = s.enqueue(again).await.unwrap();
    assert!(a.created && !b.created);
    assert_eq!(a.job.id, b.job.id);
    // The key is per owner: bob's identical submission is his own job.
    let mut bobs = first.clone();
    bobs.owner = "bob".into();
    let c = s.enqueue(bobs).await.unwrap();
    assert!(c.created);
    assert_ne!(c.job.id, a.job.id);
    let all = s
        .list("alice", &ListFilter::default(), 100, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

pub async fn idempotency_key_with_different_request_conflicts(ctx: Ctx) {
    let s = &ctx.store;
    let mut first = job("alice", "thumbnail");
    first.idempotency_key = Some("req-2".into());
    let a = s.enqueue(first.clone()).await.unwrap();
    for changed in [
        {
            let mut j = first.clone();
            j.input = json!({"url": "https://other"});
            j
        },
        {
            let mut j = first.clone();
            j.params = json!({"quality": "high"});
            j
        },
        {
            let mut j = first.clone();
            j.pipeline = "frame".into();
            j
        },
    ] {
        match s.enqueue(changed).await {
            Err(QueueError::IdempotencyConflict { key, existing }) => {
                assert_eq!((key.as_str(), existing), ("req-2", a.job.id));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let all = s
        .list("alice", &ListFilter::default(), 100, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

pub async fn concurrent_idempotent_enqueues_create_one_job(ctx: Ctx) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut j = job("alice", "thumbnail");
            j.idempotency_key = Some("race".into());
            s.enqueue(j).await.unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let e = t.await.unwrap();
        created += usize::from(e.created);
        ids.insert(e.job.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
}

pub async fn delete_removes_only_own_jobs(ctx: Ctx) {
    let s = &ctx.store;
    let id = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    assert!(!s.delete(id, "mallory").await.unwrap());
    assert!(s.get(id, None).await.unwrap().is_some());
    assert!(s.delete(id, "alice").await.unwrap());
    assert!(s.get(id, None).await.unwrap().is_none());
    assert!(!s.delete(id, "alice").await.unwrap());
}

pub async fn counts_report_every_state(ctx: Ctx) {
    let s = &ctx.store;
    let empty = s.counts().await.unwrap();
    assert_eq!(empty.len(), JobState::ALL.len());
    assert!(empty.values().all(|&n| n == 0));
    for _ in 0..4 {
        s.enqueue(job("alice", "p")).await.unwrap();
    }
    let claimed = s.claim("w", &[], 2, LEASE).await.unwrap();
    s.complete(&claimed[0].lease, json!({})).await.unwrap();
    let counts = s.counts().await.unwrap();
    assert_eq!(counts[&JobState::Queued], 2);
    assert_eq!(counts[&JobState::Running], 1);
    assert_eq!(counts[&JobState::Succeeded], 1);
    assert_eq!(counts[&JobState::Failed], 0);
}

pub async fn lane_counts_group_by_lane_and_age_only_claimable_jobs(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s.lane_counts().await.unwrap().is_empty());
    for lane in ["preview", "preview", "analytics"] {
        let mut j = job("alice", "p");
        j.lane = lane.into();
        s.enqueue(j).await.unwrap();
    }
    // One analytics job runs then waits out a 60 s retry backoff: not "waiting" yet.
    let mut j = job("alice", "p");
    j.lane = "analytics".into();
    j.max_attempts = 3;
    let id = s.enqueue(j).await.unwrap().job.id;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let claimed = s
        .claim("w", &["analytics".to_string()], 2, LEASE)
        .await
        .unwrap();
    let retried = claimed.iter().find(|c| c.job.id == id).unwrap();
    let slow = framepipe_queue::RetryPolicy {
        base: Duration::from_secs(60),
        max: Duration::from_secs(60),
        jitter: 0.0,
    };
    let error = framepipe_queue::JobError::new("UNAVAILABLE", "later", true);
    s.fail(&retried.lease, error, slow).await.unwrap();
    let counts = s.lane_counts().await.unwrap();
    let find = |lane: &str, state: JobState| {
        counts
            .iter()
            .find(|c| c.lane == lane && c.state == state)
            .cloned()
    };
    let preview = find("preview", JobState::Queued).expect("preview queued");
    assert_eq!(preview.jobs, 2);
    let age = preview
        .oldest_waiting_seconds
        .expect("claimable preview jobs");
    assert!(
        (0.25..30.0).contains(&age),
        "oldest preview job waited {age} s"
    );
    assert_eq!(find("analytics", JobState::Retrying).unwrap().jobs, 1);
    assert_eq!(
        find("analytics", JobState::Retrying)
            .unwrap()
            .oldest_waiting_seconds,
        None,
        "a job in its backoff is not waiting"
    );
    // The other analytics job was claimed with it.
    let running = find("analytics", JobState::Running).unwrap();
    assert_eq!((running.jobs, running.oldest_waiting_seconds), (1, None));
    assert!(find("analytics", JobState::Queued).is_none());
    assert_eq!(counts.iter().map(|c| c.jobs).sum::<u64>(), 4);
}

pub async fn data_survives_reopening(mut ctx: Ctx) {
    let queued = ctx.store.enqueue(job("alice", "p")).await.unwrap().job;
    ctx.store.enqueue(job("alice", "p")).await.unwrap();
    let claimed = ctx.store.claim("w", &[], 1, LEASE).await.unwrap().remove(0);
    ctx.store
        .complete(&claimed.lease, json!({"frames": 3}))
        .await
        .unwrap();
    let (key, secret) = ctx.store.create_key("ops", true).await.unwrap();
    ctx.reopen().await;
    let s = &ctx.store;
    let done = s
        .get(claimed.job.id, None)
        .await
        .unwrap()
        .expect("job kept");
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result, Some(json!({"frames": 3})));
    assert_eq!(s.verify_key(&secret).await.unwrap(), Some(key));
    let all = s
        .list("alice", &ListFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    let ids: HashSet<_> = all.items.iter().map(|j| j.id).collect();
    assert!(ids.contains(&queued.id) && ids.contains(&claimed.job.id));
    // The reopened store keeps working: the other job can still be claimed.
    assert_eq!(s.claim("w", &[], 10, LEASE).await.unwrap().len(), 1);
}
