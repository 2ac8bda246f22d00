//! The real binary as a process: SIGKILL mid-job and restart, SIGTERM with a job running,
//! `keys create`.

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::support::{
    Process, ProcessDir, Setup, create_key, free_port, process_dir, wait_job, wait_status,
};

const WORK: &str = r#"
name = "work"
accepts = ["none"]

[params.ms]
type = "integer"
default = 3000

[[steps]]
name = "chaos"
plugin = "chaos"
config = { mode = "work", ms = "$params.ms" }
limits = { memory_mib = 32, deadline_ms = 60000 }
"#;

fn setup_dir(dir: &std::path::Path) -> Result<ProcessDir> {
    process_dir(
        dir,
        &Setup {
            settings: "[workers]\nlease_seconds = 2\nheartbeat_seconds = 1\ngrace_seconds = 10\n"
                .into(),
            chaos: true,
            pipelines: vec![("work.toml".into(), WORK.into())],
            ..Setup::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_survive_sigkill_and_are_rerun_after_the_lease() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ProcessDir { settings, data } = setup_dir(dir.path())?;
    let key = create_key(&data, None, false)?;
    assert!(key.starts_with("fp_"), "the key is the last line: {key}");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let mut first = Process::spawn(&["serve", "--addr", &addr], &data, None, Some(&settings))?;
    first.ready(Duration::from_secs(60)).await?;
    let submit = |body: Value| {
        let http = http.clone();
        let base = base.clone();
        let key = key.clone();
        async move {
            let r = http
                .post(format!("{base}/api/jobs"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 202, "submit: {}", r.status());
            Ok::<String, anyhow::Error>(r.json::<Value>().await?["id"].as_str().unwrap().to_owned())
        }
    };
    let running = submit(json!({"pipeline": "work"})).await?;
    wait_status(
        &http,
        &base,
        &key,
        &running,
        &["running"],
        Duration::from_secs(30),
    )
    .await?;
    let queued: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(submit(json!({"pipeline": "noop"})).await?);
        }
        ids
    };
    first.kill();

    let mut second = Process::spawn(&["serve", "--addr", &addr], &data, None, Some(&settings))?;
    second.ready(Duration::from_secs(60)).await?;
    let done = wait_job(&http, &base, &key, &running, Duration::from_secs(60)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["attempts"], 2,
        "the killed attempt counts; the job ran again"
    );
    for id in queued {
        let j = wait_job(&http, &base, &key, &id, Duration::from_secs(30)).await?;
        assert_eq!(j["status"], "succeeded");
    }

    // SIGTERM with a job running: it finishes inside the grace period, then the process exits.
    let id = submit(json!({"pipeline": "work", "params": {"ms": 1500}})).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = second.terminate()?;
    assert!(status.success(), "graceful exit: {status}");
    let mut third = Process::spawn(
        &["serve", "--addr", &addr, "--no-workers"],
        &data,
        None,
        Some(&settings),
    )?;
    third.ready(Duration::from_secs(60)).await?;
    let j: Value = http
        .get(format!("{base}/api/jobs/{id}"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        j["status"], "succeeded",
        "finished during the grace period: {j}"
    );
    assert_eq!(j["attempts"], 1);
    third.terminate()?;
    Ok(())
}
