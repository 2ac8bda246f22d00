//! No-op jobs per second with 1, 2 and 4 `framepipe worker` processes, on SQLite and on
//! PostgreSQL, measured side by side in one run. Prints a table; run with
//! `cargo bench -p framepipe --bench scale` (PostgreSQL from `FRAMEPIPE_TEST_PG_URL`, else a
//! throwaway cluster: see `framepipe-test-postgres`);
//! `-- postgres`, `-- 2` or `-- sqlite 4` run only those rows.
//!
//! Each round fills a fresh queue with JOBS no-op jobs first, then starts N worker
//! processes and waits until every job has succeeded. The rate is the steady drain rate:
//! jobs finished between the 10th and the 90th percentile of the finish times, over that
//! span (read back from the queue), which leaves out the processes' start-up (loading the
//! plugins, the first claim) and the last stragglers. Enqueuing is not timed: on a 2-core
//! machine the bench's own inserts would compete with the workers for the CPU it measures.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use framepipe_queue::{ListFilter, NewJob, Store};

mod common;

const JOBS: usize = 20000;
const ROUNDS: usize = 3;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cache = std::env::temp_dir().join("framepipe-bench-cache");
    // `cargo bench -p framepipe --bench scale -- postgres 2` runs only the rows named so
    // (a backend, a process count, or both); no argument runs them all.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |name: &str, all: &[&str]| {
        !wanted.iter().any(|w| all.contains(&w.as_str())) || wanted.iter().any(|w| w == name)
    };
    let mut rows = Vec::new();
    for backend in ["sqlite", "postgres"] {
        if !runs(backend, &["sqlite", "postgres"]) {
            continue;
        }
        let mut base_rate = None;
        for workers in [1usize, 2, 4] {
            if !runs(&workers.to_string(), &["1", "2", "4"]) {
                continue;
            }
            let mut rates = Vec::new();
            for _ in 0..ROUNDS {
                rates.push(round(backend, workers, &cache).await?);
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            if workers == 1 {
                base_rate = Some(median);
            }
            let ratio = base_rate.map(|base| format!("{:.2}x", median / base));
            rows.push((backend, workers, median, ratio, rates));
        }
    }
    println!(
        "\nno-op jobs/s, steady drain of a filled queue ({JOBS} jobs, median of {ROUNDS} rounds, 4 job slots per worker process)"
    );
    println!(
        "{:<10} {:>8} {:>10} {:>8}   rounds",
        "backend", "workers", "jobs/s", "vs 1"
    );
    for (backend, workers, median, ratio, rates) in rows {
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{backend:<10} {workers:>8} {median:>10.0} {:>8}   {}",
            ratio.as_deref().unwrap_or("-"),
            all.join(" ")
        );
    }
    Ok(())
}

async fn round(backend: &str, workers: usize, cache: &Path) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data)?;
    let url = match backend {
        "sqlite" => data.join("framepipe.db").display().to_string(),
        _ => fresh_postgres()?,
    };
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "runtime = {{ cache_dir = {:?} }}\n[workers.lanes]\ndefault = 4\n",
            cache.display().to_string()
        ),
    )?;
    let store = Store::open(&url).await?;
    let mut batch = Vec::new();
    let mut last = None;
    for _ in 0..JOBS {
        batch.push(store.enqueue(NewJob::new("bench", "noop", serde_json::json!({}))));
        if batch.len() == 256 {
            last = futures_join(std::mem::take(&mut batch)).await?.or(last);
        }
    }
    let last = futures_join(batch)
        .await?
        .or(last)
        .expect("jobs were enqueued");
    let started = Instant::now();
    let mut children: Vec<Child> = (0..workers)
        .map(|_| spawn_worker(&data, &url, &settings))
        .collect::<Result<_, _>>()?;
    let label = format!("{backend} x{workers}");
    common::wait_until_succeeded(&store, last, JOBS, started, &label).await?;
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let rate = steady_rate(&store).await?;
    store.close().await;
    drop_postgres(&url)?;
    eprintln!("{backend} x{workers}: {rate:.0} jobs/s");
    Ok(rate)
}

/// Jobs per second between the 10th and the 90th percentile of the jobs' finish times.
async fn steady_rate(store: &Store) -> anyhow::Result<f64> {
    let mut finished = Vec::with_capacity(JOBS);
    let mut cursor = None;
    loop {
        let page = store
            .list("bench", &ListFilter::default(), 1000, cursor)
            .await?;
        finished.extend(page.items.iter().filter_map(|job| job.finished_at));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    anyhow::ensure!(finished.len() == JOBS, "{} jobs finished", finished.len());
    finished.sort();
    let (low, high) = (JOBS / 10, JOBS * 9 / 10);
    let span = (finished[high] - finished[low])
        .num_microseconds()
        .unwrap_or(0) as f64
        / 1e6;
    anyhow::ensure!(span > 0.0, "no time between the 10th and 90th percentile");
    Ok((high - low) as f64 / span)
}

/// Awaits the enqueues; returns the id of the last job.
async fn futures_join<F>(futures: Vec<F>) -> anyhow::Result<Option<uuid::Uuid>>
where
    F: std::future::Future<Output = Result<framepipe_queue::Enqueued, framepipe_queue::QueueError>>,
{
    let mut last = None;
    for r in futures::future::join_all(futures).await {
        last = Some(r?.job.id);
    }
    Ok(last)
}

fn spawn_worker(data: &Path, url: &str, settings: &Path) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_framepipe"))
        .arg("worker")
        .env("FRAMEPIPE_DATA_DIR", data)
        .env("FRAMEPIPE_DATABASE_URL", url)
        .env("FRAMEPIPE_CONFIG", settings)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
}

fn fresh_postgres() -> anyhow::Result<String> {
    let name = format!(
        "framepipe_bench_{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand::random::<u32>() as u128
    );
    psql(&format!("CREATE DATABASE {name}"))?;
    Ok(framepipe_test_postgres::database_url(
        &framepipe_test_postgres::admin_url(),
        &name,
    ))
}

/// Drops the database a round created (no-op for SQLite URLs).
fn drop_postgres(url: &str) -> anyhow::Result<()> {
    match url.rsplit_once('/') {
        Some((_, name)) if url.starts_with("postgres://") => {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        }
        _ => Ok(()),
    }
}

fn psql(sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .arg(framepipe_test_postgres::admin_url())
        .args(["-qc", sql])
        .status()?;
    anyhow::ensure!(status.success(), "psql failed: {sql}");
    Ok(())
}
