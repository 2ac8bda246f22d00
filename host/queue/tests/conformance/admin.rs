//! Retention, API keys, wakeups, leadership.

use std::time::{Duration, Instant};

use chrono::Utc;
use framepipe_queue::{JobError, JobState, RetryPolicy};
use serde_json::json;

use crate::harness::{Backend, Ctx, job};

const LEASE: Duration = Duration::from_secs(30);

pub async fn prune_returns_ids_and_removes_rows(ctx: Ctx) {
    let s = &ctx.store;
    let mut finished = Vec::new();
    for _ in 0..3 {
        s.enqueue(job("alice", "p")).await.unwrap();
    }
    let claimed = s.claim("w", &[], 3, LEASE).await.unwrap();
    s.complete(&claimed[0].lease, json!({})).await.unwrap();
    s.fail(
        &claimed[1].lease,
        JobError::new("BAD", "x", false),
        RetryPolicy::default(),
    )
    .await
    .unwrap();
    finished.push(claimed[0].job.id);
    finished.push(claimed[1].job.id);
    let cancelled = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    s.cancel(cancelled, "alice").await.unwrap();
    finished.push(cancelled);
    let queued = s.enqueue(job("alice", "p")).await.unwrap().job.id;
    let running = claimed[2].job.id;

    // Nothing finished before a cutoff in the past.
    let past = Utc::now() - chrono::Duration::hours(1);
    assert!(s.prune(past).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut pruned = s
        .prune(Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    pruned.sort();
    finished.sort();
    assert_eq!(pruned, finished);
    for id in &finished {
        assert!(s.get(*id, None).await.unwrap().is_none());
    }
    assert!(s.get(queued, None).await.unwrap().is_some());
    assert_eq!(
        s.get(running, None).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert!(
        s.prune(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn api_keys_verify_and_store_only_hashes(ctx: Ctx) {
    let s = &ctx.store;
    let (admin, admin_secret) = s.create_key("ops", true).await.unwrap();
    let (user, user_secret) = s.create_key("ci", false).await.unwrap();
    assert!(admin_secret.starts_with("fp_") && admin_secret.len() == 67);
    assert_ne!(admin_secret, user_secret);
    assert_eq!((admin.name.as_str(), admin.admin), ("ops", true));
    assert_eq!(
        s.verify_key(&admin_secret).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        s.verify_key(&user_secret)
            .await
            .unwrap()
            .map(|k| (k.id, k.admin)),
        Some((user.id, false))
    );
    let mut wrong = user_secret.clone();
    wrong.pop();
    wrong.push(if user_secret.ends_with('0') { '1' } else { '0' });
    assert_eq!(s.verify_key(&wrong).await.unwrap(), None);
    assert_eq!(s.verify_key("").await.unwrap(), None);

    let stored = ctx.raw_strings("SELECT key_hash FROM api_keys").await;
    assert_eq!(stored.len(), 2);
    for hash in &stored {
        assert_eq!(hash.len(), 64, "hex sha-256");
        assert!(!hash.contains(&admin_secret[3..]) && !hash.contains(&user_secret[3..]));
    }
}

pub async fn wait_for_work_wakes_on_enqueue(ctx: Ctx) {
    let s = ctx.store.clone();
    let started = Instant::now();
    // Nothing happens: the timeout bounds the wait.
    s.wait_for_work(Duration::from_millis(200)).await;
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(150),
        "returned early after {idle:?}"
    );

    // Let the PostgreSQL listener settle (and drain any startup wake-up permit).
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.wait_for_work(Duration::from_millis(50)).await;
    let waiter = tokio::spawn({
        let s = s.clone();
        async move {
            let started = Instant::now();
            s.wait_for_work(Duration::from_secs(10)).await;
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.enqueue(job("alice", "p")).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "not woken by enqueue: waited {waited:?}"
    );
}

pub async fn try_lead_elects_one_leader(ctx: Ctx) {
    let s = &ctx.store;
    assert!(s.try_lead().await.unwrap());
    assert!(
        s.try_lead().await.unwrap(),
        "leadership is kept across calls"
    );
    let other = ctx.open_another().await;
    match ctx.backend {
        // SQLite serves one host; every process may run the idempotent duties.
        Backend::Sqlite => assert!(other.try_lead().await.unwrap()),
        Backend::Postgres => {
            assert!(!other.try_lead().await.unwrap(), "only one leader");
            s.close().await;
            assert!(
                other.try_lead().await.unwrap(),
                "takes over when the leader leaves"
            );
        }
    }
    other.close().await;
}

pub async fn keys_expire_revoke_delete_and_active_jobs_count(ctx: Ctx) {
    let s = &ctx.store;
    s.ping().await.unwrap();
    let soon = Utc::now() + chrono::Duration::hours(1);
    let (brief, brief_secret) = s
        .create_key_expiring("brief", false, Some(soon))
        .await
        .unwrap();
    let (user, user_secret) = s.create_key("user", false).await.unwrap();
    let found = s.verify_key(&brief_secret).await.unwrap().unwrap();
    assert!(
        found
            .expires_at
            .is_some_and(|e| (e - soon).num_milliseconds().abs() < 5)
    );
    assert!(found.usable_at(Utc::now()));
    assert!(!found.usable_at(soon + chrono::Duration::seconds(1)));
    // Revoking keeps the row, marks it, and a second revoke keeps the first time.
    let revoked = s.revoke_key(user.id).await.unwrap().unwrap();
    let at = revoked.revoked_at.expect("revoked_at");
    assert!(!revoked.usable_at(Utc::now()));
    let again = s.revoke_key(user.id).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at));
    let verified = s.verify_key(&user_secret).await.unwrap().unwrap();
    assert!(!verified.usable_at(Utc::now()));
    assert_eq!(s.revoke_key(uuid::Uuid::now_v7()).await.unwrap(), None);
    let listed: Vec<_> = s.list_keys().await.unwrap().iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![brief.id, user.id]);
    assert!(s.delete_key(brief.id).await.unwrap());
    assert!(!s.delete_key(brief.id).await.unwrap());
    assert_eq!(s.verify_key(&brief_secret).await.unwrap(), None);

    // Active jobs per owner: queued and running count, finished ones and others' do not.
    for _ in 0..3 {
        s.enqueue(framepipe_queue::NewJob::new(
            "a",
            "p",
            serde_json::Value::Null,
        ))
        .await
        .unwrap();
    }
    s.enqueue(framepipe_queue::NewJob::new(
        "b",
        "p",
        serde_json::Value::Null,
    ))
    .await
    .unwrap();
    assert_eq!(s.active_jobs("a").await.unwrap(), 3);
    let claimed = s
        .claim(
            "w",
            &["default".to_string()],
            1,
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        s.active_jobs("a").await.unwrap() + s.active_jobs("b").await.unwrap(),
        4
    );
    s.complete(&claimed[0].lease, serde_json::Value::Null)
        .await
        .unwrap();
    assert_eq!(
        s.active_jobs("a").await.unwrap() + s.active_jobs("b").await.unwrap(),
        3
    );
    assert_eq!(s.active_jobs("nobody").await.unwrap(), 0);
}
