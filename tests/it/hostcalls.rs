//! What a plugin can make the server hold through host calls: artifacts, open handles,
//! open files, media types. Each cap fails the job once (not retried) with its own code;
//! the server's open files stay bounded while hostile jobs run, and under `ulimit -n 1024`
//! a step reads the 10,000 artifacts of an earlier one.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use crate::support::{
    Process, ProcessDir, Server, Setup, binary, create_key, free_port, job, process_dir, wait_job,
};

/// A one-step chaos pipeline with a config and limits (TOML inline tables' insides).
fn pipeline(name: &str, config: &str, limits: &str) -> (String, String) {
    (
        format!("{name}.toml"),
        format!(
            "name = \"{name}\"\naccepts = [\"none\"]\nmax_attempts = 3\n\n[[steps]]\nname = \"chaos\"\nplugin = \"chaos\"\nconfig = {{ {config} }}\nlimits = {{ memory_mib = 32, deadline_ms = 120000, cpu_ms = 120000{limits} }}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_host_call_cap_fails_the_job_once_with_its_code() -> Result<()> {
    let server = Server::with(Setup {
        chaos: true,
        settings: "[workers]\nretry_base_ms = 50\nretry_max_ms = 100\n".into(),
        pipelines: vec![
            pipeline(
                "many",
                "mode = \"artifacts\", count = 101",
                ", max_artifacts = 100",
            ),
            pipeline("handles", "mode = \"held-artifacts\", count = 200000", ""),
            pipeline("media", "mode = \"long-media-type\", count = 1048576", ""),
            pipeline("forge", "mode = \"log-forge\"", ""),
        ],
        ..Setup::default()
    })
    .await?;
    let cases = [
        (
            "many",
            "ARTIFACT_LIMIT_EXCEEDED",
            "artifact limit exceeded: 101 artifacts, cap 100",
        ),
        (
            "handles",
            "HANDLE_LIMIT_EXCEEDED",
            "handle limit exceeded: 1,025 handles open at once, cap 1,024",
        ),
        (
            "media",
            "MEDIA_TYPE_TOO_LONG",
            "media type too long: 1,048,588 bytes, cap 256",
        ),
    ];
    for (name, code, message) in cases {
        let id = server.submit_id(job(name)).await?;
        let done = server.wait(&id, Duration::from_secs(120)).await?;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["code"], code, "{done}");
        assert_eq!(done["error"]["retryable"], false, "{done}");
        assert_eq!(done["attempts"], 1, "not retried: {done}");
        let text = done["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text}");
    }
    let id = server.submit_id(job("forge")).await?;
    let done = server.wait(&id, Duration::from_secs(60)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    server.stop().await;
    Ok(())
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Sixteen hostile jobs at once, a 10,000-artifact job and a normal one, in the real
/// binary with `RLIMIT_NOFILE` at 1,024: every job ends as it should and the server's
/// open files stay within two per instance slot of where they started (plus its own
/// database and HTTP connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_files_stay_bounded_under_hostile_jobs_with_ulimit_1024() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let thousands = "name = \"thousands\"\naccepts = [\"none\"]\nmax_attempts = 1\n\n[[steps]]\nname = \"gen\"\nplugin = \"chaos\"\nconfig = { mode = \"artifacts\", count = 10000 }\nlimits = { memory_mib = 32, deadline_ms = 300000, cpu_ms = 300000 }\n\n[[steps]]\nname = \"read\"\nplugin = \"chaos\"\ninputs = { \"*\" = \"gen.*\" }\nconfig = { mode = \"read-all\" }\nlimits = { memory_mib = 32, deadline_ms = 300000, cpu_ms = 300000 }\n";
    let ProcessDir {
        settings: settings_path,
        data,
    } = process_dir(
        dir.path(),
        &Setup {
            chaos: true,
            settings: "[workers.lanes]\ndefault = 17\npreview = 1\n".into(),
            pipelines: vec![
                pipeline("held", "mode = \"held-artifacts\", count = 1000", ""),
                pipeline(
                    "leak",
                    "mode = \"unfinished-artifacts\", count = 3000",
                    ", max_artifacts = 2000",
                ),
                pipeline("many", "mode = \"artifacts\", count = 1000", ""),
                pipeline("handles", "mode = \"held-artifacts\", count = 200000", ""),
                ("thousands.toml".into(), thousands.into()),
                (
                    "quick.toml".into(),
                    crate::support::chaos_pipeline("quick", "ok", "lane = \"preview\""),
                ),
            ],
            ..Setup::default()
        },
    )?;
    let key = create_key(&data, None, false)?;
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    // `prlimit` sets the limit and execs the server: the child's pid is the server's.
    let child = Command::new("prlimit")
        .arg("--nofile=1024:1024")
        .arg(binary())
        .args(["serve", "--addr", &addr])
        .env("FRAMEPIPE_DATA_DIR", &data)
        .env("FRAMEPIPE_CONFIG", &settings_path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Process {
        child,
        addr: Some(addr.parse()?),
    };
    server.ready(Duration::from_secs(60)).await?;
    let pid = server.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(nofile.contains(" 1024 "), "{nofile}");
    let http = reqwest::Client::new();
    let submit = |pipeline: &'static str| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        async move {
            let r = http
                .post(format!("{base}/api/jobs"))
                .bearer_auth(&key)
                .json(&job(pipeline))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 202, "submit {pipeline}: {}", r.status());
            Ok::<String, anyhow::Error>(r.json::<Value>().await?["id"].as_str().unwrap().into())
        }
    };

    let base_fds = open_fds(pid);
    let peak = Arc::new(AtomicUsize::new(base_fds));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_fds(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let thousands = submit("thousands").await?;
    let hostile = ["held", "leak", "many", "handles"];
    let mut ids = Vec::new();
    for i in 0..16 {
        let name = hostile[i % hostile.len()];
        ids.push((name, submit(name).await?));
    }
    let quick = submit("quick").await?;
    let done = wait_job(&http, &base, &key, &quick, Duration::from_secs(120)).await?;
    assert_eq!(
        done["status"], "succeeded",
        "a normal job beside them: {done}"
    );
    for (name, id) in ids {
        let done = wait_job(&http, &base, &key, &id, Duration::from_secs(300)).await?;
        let want = match name {
            "held" | "many" => "succeeded",
            _ => "failed",
        };
        assert_eq!(done["status"], want, "{name}: {done}");
        assert_eq!(done["attempts"], 1, "{name}: {done}");
    }
    let done = wait_job(&http, &base, &key, &thousands, Duration::from_secs(600)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["inputs"], 10_000, "{}", done["result"]);
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew = peak.load(Ordering::Relaxed) - base_fds;
    // Two files per instance slot (16), and the server's own: database connections and
    // the HTTP connections of this test's polling.
    let bound = 2 * 16 + 32;
    println!("server open files: base {base_fds}, peak growth {grew}, bound {bound}");
    assert!(grew <= bound, "open files grew by {grew}, bound {bound}");
    Ok(())
}

/// A plugin's log line with a newline and terminal escapes is one JSON log record of the
/// real binary: the `plugin_log` field of an event inside the job's and step's spans.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_log_lines_are_escaped_fields_of_the_step_span() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ProcessDir {
        settings: settings_path,
        data,
    } = process_dir(
        dir.path(),
        &Setup {
            chaos: true,
            pipelines: vec![pipeline("forge", "mode = \"log-forge\"", "")],
            ..Setup::default()
        },
    )?;
    let key = create_key(&data, None, false)?;
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    let log_path = dir.path().join("server.log");
    let child = Command::new(binary())
        .args(["serve", "--log-json", "--addr", &addr])
        .env("FRAMEPIPE_DATA_DIR", &data)
        .env("FRAMEPIPE_CONFIG", &settings_path)
        .env("RUST_LOG", "warn,framepipe=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path)?)
        .spawn()?;
    let mut server = Process {
        child,
        addr: Some(addr.parse()?),
    };
    server.ready(Duration::from_secs(60)).await?;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/jobs"))
        .bearer_auth(&key)
        .json(&job("forge"))
        .send()
        .await?;
    let id = r.json::<Value>().await?["id"].as_str().unwrap().to_owned();
    let done = wait_job(&http, &base, &key, &id, Duration::from_secs(60)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    server.terminate()?;
    let log = std::fs::read_to_string(&log_path)?;
    let mut lines = Vec::new();
    for line in log.lines() {
        let record: Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("not a JSON log record ({e}): {line:?}"))?;
        if record["fields"]["message"] == "plugin log" {
            lines.push(record);
        }
    }
    assert_eq!(lines.len(), 2, "{log}");
    let first = &lines[0];
    assert_eq!(
        first["fields"]["plugin_log"],
        r"first\n2026-01-01T00:00:00Z ERROR framepipe: forged line\r\u{1b}[31mred"
    );
    assert_eq!(first["level"], "INFO");
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(first["span"]["name"], "step");
    assert_eq!(first["span"]["step"], "chaos");
    assert_eq!(first["span"]["plugin"], "chaos");
    let spans: Vec<&str> = first["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(spans, ["job", "step"], "{first}");
    assert_eq!(first["spans"][0]["job_id"], id.as_str());
    Ok(())
}
