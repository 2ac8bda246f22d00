//! One conformance suite for both backends: every case runs against SQLite (a temp file)
//! and PostgreSQL (a fresh database per test, on the server
//! `framepipe-test-postgres` gives: `FRAMEPIPE_TEST_PG_URL`, else a throwaway cluster). An unreachable PostgreSQL fails the
//! `postgres::*` tests; it never skips them.

#[path = "conformance/admin.rs"]
mod admin;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/jobs.rs"]
mod jobs;
#[path = "conformance/leases.rs"]
mod leases;
#[path = "conformance/retries.rs"]
mod retries;

/// Expands each `module::case` into `sqlite::case` and `postgres::case` tests.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run(crate::harness::Backend::Sqlite, crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run(crate::harness::Backend::Postgres, crate::$module::$case).await;
                }
            )*
        }
    };
}

conformance! {
    jobs::enqueue_then_get_round_trips,
    jobs::list_is_newest_first_paginated_filtered_and_owner_scoped,
    jobs::idempotent_resubmission_returns_the_same_job,
    jobs::idempotency_key_with_different_request_conflicts,
    jobs::concurrent_idempotent_enqueues_create_one_job,
    jobs::delete_removes_only_own_jobs,
    jobs::counts_report_every_state,
    jobs::lane_counts_group_by_lane_and_age_only_claimable_jobs,
    jobs::data_survives_reopening,
    leases::claim_orders_by_priority_and_isolates_lanes,
    leases::concurrent_claimers_never_share_a_job,
    leases::expired_lease_is_rescued_and_reclaimed_as_attempt_two,
    leases::stale_worker_is_fenced_out,
    leases::progress_and_heartbeat_are_recorded,
    leases::complete_many_reports_each_lease,
    leases::complete_and_claim_acks_and_leases_in_one_call,
    retries::retryable_failure_backs_off_then_fails_at_max_attempts,
    retries::fatal_failure_and_expired_last_attempt_end_failed,
    retries::cancel_queued_job_ends_it_at_once,
    retries::cancel_running_job_goes_through_heartbeat,
    admin::prune_returns_ids_and_removes_rows,
    admin::api_keys_verify_and_store_only_hashes,
    admin::keys_expire_revoke_delete_and_active_jobs_count,
    admin::wait_for_work_wakes_on_enqueue,
    admin::try_lead_elects_one_leader,
}

/// Compile-time check: every `Store` future can be spawned on a multi-threaded runtime
/// (axum handlers and worker tasks need that). Not run; it only has to type-check.
#[allow(dead_code)]
fn store_futures_are_send(store: framepipe_queue::Store, lease: framepipe_queue::Lease) {
    use std::time::Duration;
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    let s = store;
    spawnable(async { framepipe_queue::Store::open("x").await });
    spawnable({
        let s = s.clone();
        async move { s.claim("w", &["lane".to_string()], 1, Duration::ZERO).await }
    });
    spawnable({
        let s = s.clone();
        async move { s.complete(&lease, serde_json::Value::Null).await }
    });
    spawnable({
        let s = s.clone();
        async move { s.list("o", &Default::default(), 10, None).await }
    });
    spawnable(async move { s.try_lead().await });
}
