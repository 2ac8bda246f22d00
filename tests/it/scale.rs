//! Scaling out on PostgreSQL: one API process and three worker processes share the queue;
//! a worker killed mid-run has its jobs re-run by the others; a cancel from the API stops
//! a job running in another process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use crate::support::{
    Process, ProcessDir, Setup, create_key, free_port, fresh_postgres, process_dir, wait_job,
    wait_status,
};

const SPIN: &str = "name = \"spin\"\naccepts = [\"none\"]\n\n[[steps]]\nname = \"chaos\"\nplugin = \"chaos\"\nconfig = { mode = \"loop\" }\nlimits = { memory_mib = 32, deadline_ms = 60000 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_share_2000_jobs_survive_a_kill_and_obey_remote_cancel() -> Result<()> {
    let db = fresh_postgres().await?;
    let dir = tempfile::tempdir()?;
    let ProcessDir {
        settings: settings_path,
        data,
    } = process_dir(
        dir.path(),
        &Setup {
            settings: "[workers]\nlease_seconds = 3\nheartbeat_seconds = 1\n[workers.lanes]\ndefault = 4\n".into(),
            chaos: true,
            pipelines: vec![("spin.toml".into(), SPIN.into())],
            ..Setup::default()
        },
    )?;
    // Artifacts and uploads live in one shared directory (the data dir) for all processes.
    let key = create_key(&data, Some(&db), false)?;
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");

    let api = Process::spawn(
        &["serve", "--no-workers", "--addr", &addr],
        &data,
        Some(&db),
        Some(&settings_path),
    )?;
    api.ready(Duration::from_secs(120)).await?;
    let mut workers: Vec<Process> = (0..3)
        .map(|_| Process::spawn(&["worker"], &data, Some(&db), Some(&settings_path)))
        .collect::<Result<_>>()?;

    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(2000);
    let mut pending = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    for _ in 0..2000 {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        pending.push(async move {
            let r = http
                .post(format!("{base}/api/jobs"))
                .bearer_auth(&key)
                .json(&json!({"pipeline": "noop"}))
                .send()
                .await?;
            ensure!(r.status() == 202, "submit answered {}", r.status());
            Ok::<String, anyhow::Error>(r.json::<Value>().await?["id"].as_str().unwrap().to_owned())
        });
        if pending.len() >= 32 {
            ids.push(pending.next().await.unwrap()?);
        }
    }
    while let Some(id) = pending.next().await {
        ids.push(id?);
    }
    let submitted = started.elapsed();

    // Kill one worker while jobs are flowing.
    let store = framepipe_queue::Store::open(&db).await?;
    loop {
        let counts = store.counts().await?;
        let done = counts
            .get(&framepipe_queue::JobState::Succeeded)
            .copied()
            .unwrap_or(0);
        if done >= 300 {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "workers too slow: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers[0].kill();
    let killed_at = Instant::now();

    loop {
        let counts = store.counts().await?;
        let done = counts
            .get(&framepipe_queue::JobState::Succeeded)
            .copied()
            .unwrap_or(0);
        if done == 2000 {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(300),
            "not all jobs finished: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed();
    // Every job ran to success; only jobs in flight on the killed worker ran twice.
    let mut attempts: HashMap<u32, usize> = HashMap::new();
    let mut owners: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        let job = store.get(id.parse()?, None).await?.expect("job exists");
        assert_eq!(job.state, framepipe_queue::JobState::Succeeded);
        *attempts.entry(job.attempt).or_default() += 1;
        *owners
            .entry(job.lease_owner.unwrap_or_default())
            .or_default() += 1;
    }
    let reruns = attempts
        .iter()
        .filter(|(a, _)| **a > 1)
        .map(|(_, n)| n)
        .sum::<usize>();
    assert!(
        reruns <= 4,
        "more re-runs ({reruns}) than the killed worker had in flight: {attempts:?}"
    );
    assert!(
        owners.len() >= 2,
        "jobs were shared between processes: {owners:?}"
    );
    println!(
        "2000 jobs: submitted in {submitted:?}, all done in {total:?} ({:.0} jobs/s), {reruns} re-run after SIGKILL (kill at +{:?}), per-worker: {:?}",
        2000.0 / total.as_secs_f64(),
        killed_at.duration_since(started),
        owners.values().collect::<Vec<_>>()
    );

    // Cancel from the API process stops a job running in a worker process.
    let r = http
        .post(format!("{base}/api/jobs"))
        .bearer_auth(&key)
        .json(&json!({"pipeline": "spin"}))
        .send()
        .await?;
    let id = r.json::<Value>().await?["id"].as_str().unwrap().to_owned();
    wait_status(
        &http,
        &base,
        &key,
        &id,
        &["running"],
        Duration::from_secs(30),
    )
    .await?;
    let asked = Instant::now();
    http.post(format!("{base}/api/jobs/{id}/cancel"))
        .bearer_auth(&key)
        .send()
        .await?;
    let j = wait_job(&http, &base, &key, &id, Duration::from_secs(10)).await?;
    let took = asked.elapsed();
    assert_eq!(j["status"], "cancelled");
    assert!(took < Duration::from_secs(2), "remote cancel took {took:?}");
    println!("cancel across processes took {took:?}");
    store.close().await;
    for w in &mut workers {
        w.terminate()?;
    }
    drop(api);
    Ok(())
}
