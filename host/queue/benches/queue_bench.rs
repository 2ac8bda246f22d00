//! Queue throughput, SQLite (temp file) beside PostgreSQL (fresh database).
//!
//! `cargo bench -p framepipe-queue` prints:
//! - enqueue: 64 concurrent tasks submitting `JOBS` jobs, jobs/s and per-call p50/p99;
//! - drain: `WORKERS` workers claiming batches of `BATCH` and acknowledging them with
//!   `complete_many`, jobs/s for the same `JOBS` jobs.
//!
//! PostgreSQL comes from `framepipe-test-postgres` (`FRAMEPIPE_TEST_PG_URL`, else a
//! throwaway cluster); if unreachable its column says so.

use std::time::{Duration, Instant};

use framepipe_queue::{NewJob, Store};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const JOBS: usize = 20_000;
const CLIENTS: usize = 64;
const WORKERS: usize = 4;
const BATCH: usize = 256;
const LEASE: Duration = Duration::from_secs(60);

struct Figures {
    enqueue_rate: f64,
    p50: Duration,
    p99: Duration,
    drain_rate: f64,
}

async fn enqueue_phase(store: &Store) -> (f64, Duration, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(JOBS / CLIENTS + 1);
            for i in (client..JOBS).step_by(CLIENTS) {
                let job = NewJob::new(
                    format!("owner-{}", client % 8),
                    "noop",
                    json!({"url": format!("https://example.com/v/{i}")}),
                );
                let t = Instant::now();
                store.enqueue(job).await.expect("enqueue");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(JOBS);
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    (JOBS as f64 / elapsed.as_secs_f64(), pct(0.50), pct(0.99))
}

async fn drain_phase(store: &Store) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("bench-worker-{worker}");
            let mut done = 0usize;
            loop {
                let claimed = store.claim(&name, &[], BATCH, LEASE).await.expect("claim");
                if claimed.is_empty() {
                    return done;
                }
                let acks = claimed
                    .into_iter()
                    .map(|c| (c.lease, json!({"ok": true})))
                    .collect::<Vec<_>>();
                let results = store.complete_many(acks).await.expect("complete_many");
                done += results.iter().filter(|r| r.is_ok()).count();
            }
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("worker task");
    }
    assert_eq!(done, JOBS, "every job completed exactly once");
    JOBS as f64 / started.elapsed().as_secs_f64()
}

async fn measure(store: Store) -> Figures {
    let (enqueue_rate, p50, p99) = enqueue_phase(&store).await;
    let drain_rate = drain_phase(&store).await;
    store.close().await;
    Figures {
        enqueue_rate,
        p50,
        p99,
        drain_rate,
    }
}

async fn sqlite() -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("bench.db").to_str().expect("utf-8 path"))
        .await
        .expect("open sqlite");
    measure(store).await
}

async fn postgres() -> Result<Figures, String> {
    let base = framepipe_test_postgres::admin_url();
    let name = format!("fp_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base)
        .await
        .map_err(|e| format!("unreachable at {base}: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| format!("CREATE DATABASE: {e}"))?;
    let url = framepipe_test_postgres::database_url(&base, &name);
    let figures = match Store::open(&url).await {
        Ok(store) => Ok(measure(store).await),
        Err(e) => Err(e.to_string()),
    };
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    figures
}

/// Formats one figure of a backend for the table.
type Column = dyn Fn(&Figures) -> String;

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "framepipe-queue bench: {JOBS} jobs, {CLIENTS} enqueue clients, {WORKERS} workers x batch {BATCH}, {cpus} CPUs"
    );
    let lite = sqlite().await;
    let pg = postgres().await;
    let col = |f: &Column| match &pg {
        Ok(figures) => f(figures),
        Err(_) => "n/a".into(),
    };
    println!("{:<28} {:>14} {:>14}", "", "sqlite", "postgres");
    let rows: [(&str, &Column); 4] = [
        ("enqueue jobs/s", &|f| format!("{:.0}", f.enqueue_rate)),
        ("enqueue p50 latency", &|f| ms(f.p50)),
        ("enqueue p99 latency", &|f| ms(f.p99)),
        ("claim+complete_many jobs/s", &|f| {
            format!("{:.0}", f.drain_rate)
        }),
    ];
    for (label, value) in rows {
        println!("{label:<28} {:>14} {:>14}", value(&lite), col(value));
    }
    if let Err(reason) = &pg {
        println!("postgres: {reason}");
    }
}
