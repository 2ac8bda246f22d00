//! No-op jobs per second with 1, 2 and 4 `framepipe worker` processes, on SQLite and on
//! PostgreSQL, measured side by side in one run. Prints a table; run with
//! `cargo bench -p framepipe --bench scale` (PostgreSQL on 127.0.0.1:5432, trust auth).
//!
//! Each round: start N worker processes on a fresh queue, let them load (the compile cache
//! is warm), enqueue JOBS no-op jobs at once, and time until the last one has succeeded.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use framepipe_queue::{NewJob, Store};

mod common;

const JOBS: usize = 3000;
const ROUNDS: usize = 3;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cache = std::env::temp_dir().join("framepipe-bench-cache");
    let mut rows = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let mut base_rate = None;
        for workers in [1usize, 2, 4] {
            let mut rates = Vec::new();
            for _ in 0..ROUNDS {
                rates.push(round(backend, workers, &cache).await?);
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            let base = *base_rate.get_or_insert(median);
            rows.push((backend, workers, median, median / base, rates));
        }
    }
    println!(
        "\nno-op jobs/s ({JOBS} jobs, median of {ROUNDS} rounds, 4 job slots per worker process)"
    );
    println!(
        "{:<10} {:>8} {:>10} {:>8}   rounds",
        "backend", "workers", "jobs/s", "vs 1"
    );
    for (backend, workers, median, ratio, rates) in rows {
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{backend:<10} {workers:>8} {median:>10.0} {ratio:>7.2}x   {}",
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
    let mut children: Vec<Child> = (0..workers)
        .map(|_| spawn_worker(&data, &url, &settings))
        .collect::<Result<_, _>>()?;
    // Let the workers open the queue and load their plugins.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
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
    let label = format!("{backend} x{workers}");
    common::wait_until_succeeded(&store, last, JOBS, started, &label).await?;
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    store.close().await;
    drop_postgres(&url)?;
    eprintln!("{backend} x{workers}: {rate:.0} jobs/s");
    Ok(rate)
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
    Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
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
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .status()?;
    anyhow::ensure!(status.success(), "psql failed: {sql}");
    Ok(())
}
