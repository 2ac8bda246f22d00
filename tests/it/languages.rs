//! Plugins in Python and JavaScript, end to end: the examples (`examples/python-frame-stats`,
//! `examples/js-frame-colors`, built with the SDKs by `framepipe-test-langs`) uploaded to a
//! real server and run in a pipeline after the `frames` step on a real clip; `job replay`
//! rerunning a step from the API; `run-step --watch` rerunning on a rebuild.
//! Needs the toolchains (`bash tests/plugin-toolchains.sh install`); fails saying so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::support::{Server, Setup, binary};

/// A server with the two examples uploaded and their pipelines loaded.
async fn server_with_examples() -> Result<Server> {
    let server = Server::with(Setup {
        pipelines: vec![(
            "keep.toml".into(),
            "name = \"keep\"\naccepts = [\"none\"]\n[[steps]]\nname = \"s\"\nplugin = \"noop\"\n"
                .into(),
        )],
        ..Setup::default()
    })
    .await?;
    for (plugin, dir) in [
        ("python-frame-stats", "python-frame-stats"),
        ("js-frame-colors", "js-frame-colors"),
    ] {
        let wasm = framepipe_test_langs::component(plugin).map_err(|e| anyhow::anyhow!("{e}"))?;
        let r = server
            .http
            .post(server.url("/api/plugins"))
            .bearer_auth(&server.admin_key)
            .body(wasm)
            .send()
            .await?;
        assert_eq!(r.status(), 201, "{plugin}: {}", r.text().await?);
        let definition = std::fs::read_to_string(
            framepipe_test_langs::repo_root().join(format!("examples/{dir}/pipeline.toml")),
        )?;
        std::fs::write(
            server.dir.path().join(format!("pipelines/{dir}.toml")),
            definition,
        )?;
    }
    let r = server
        .http
        .post(server.url("/api/pipelines/reload"))
        .bearer_auth(&server.admin_key)
        .send()
        .await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    Ok(server)
}

async fn upload_clip(server: &Server) -> Result<Value> {
    let clip = std::fs::read(crate::support::fixture("h264-high-720p.mp4"))?;
    server.upload("clip.mp4", clip).await
}

async fn artifact_text(server: &Server, job: &Value, name: &str) -> Result<String> {
    let url = job["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == name)
        .and_then(|a| a["url"].as_str())
        .with_context(|| format!("no artifact {name} in {job}"))?
        .to_owned();
    let r = server.get(&url).send().await?;
    assert_eq!(r.status(), 200);
    Ok(r.text().await?)
}

/// Both examples run in their pipelines on the same clip, and agree: the luma of the JS
/// plugin's mean colour of a frame is the Python plugin's brightness of it (the mean is
/// linear; the JS plugin samples every other pixel, hence the tolerance).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_and_javascript_examples_run_in_pipelines() -> Result<()> {
    let server = server_with_examples().await?;
    let upload = upload_clip(&server).await?;
    let params = json!({"every_seconds": 1.0});
    let py = server
        .submit_id(
            json!({"pipeline": "python-frame-stats", "input": upload["input"], "params": params}),
        )
        .await?;
    let js = server
        .submit_id(
            json!({"pipeline": "js-frame-colors", "input": upload["input"], "params": params}),
        )
        .await?;
    let py = server.wait(&py, Duration::from_secs(240)).await?;
    let js = server.wait(&js, Duration::from_secs(240)).await?;
    assert_eq!(py["status"], "succeeded", "{py}");
    assert_eq!(js["status"], "succeeded", "{js}");

    let stats = &py["result"];
    assert_eq!(
        stats["frames"], 10,
        "one frame a second of a 10 s clip: {stats}"
    );
    let rows = stats["per_frame"].as_array().unwrap();
    assert_eq!(rows[0]["artifact"], "frame-0.png");
    assert!(rows[0]["motion"].is_null());
    assert!(
        rows[1..]
            .iter()
            .all(|r| r["motion"].as_f64().unwrap() >= 0.0)
    );
    assert!(
        rows.iter().all(|r| r["time_seconds"].is_number()),
        "{stats}"
    );
    let mean = stats["mean_brightness"].as_f64().unwrap();
    assert!(mean > 5.0 && mean < 250.0, "{mean}");
    let csv = artifact_text(&server, &py, "stats.csv").await?;
    assert_eq!(csv.lines().count(), 11, "{csv}");

    let colors = &js["result"];
    assert_eq!(colors["frames"], 10, "{colors}");
    let js_rows = colors["per_frame"].as_array().unwrap();
    for (p, j) in rows.iter().zip(js_rows) {
        assert_eq!(p["artifact"], j["artifact"]);
        let rgb: Vec<f64> = j["mean_rgb"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let luma = (77.0 * rgb[0] + 150.0 * rgb[1] + 29.0 * rgb[2]) / 256.0;
        let brightness = p["brightness"].as_f64().unwrap();
        assert!(
            (luma - brightness).abs() < 4.0,
            "{}: JS mean colour {rgb:?} (luma {luma:.1}) vs Python brightness {brightness}",
            p["artifact"]
        );
    }
    let csv = artifact_text(&server, &js, "colors.csv").await?;
    assert_eq!(csv.lines().count(), 11, "{csv}");

    // What each step used is in its report: the interpreters need more than a Rust plugin.
    let step = |job: &Value, name: &str| {
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    let s = step(&py, "stats");
    assert!(s["peak_memory_mib"].as_f64().unwrap() <= 64.0, "{s}");
    assert_eq!(s["config"], json!({}));
    assert_eq!(s["inputs"].as_array().unwrap().len(), 11, "{s}");
    server.stop().await;
    Ok(())
}

/// `framepipe job replay` reruns a finished job's step locally from the API: same config,
/// same inputs (the job's input, earlier artifacts and results), same result. The job's
/// input is downloadable by its owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_replay_reruns_a_step_on_the_same_inputs() -> Result<()> {
    let server = server_with_examples().await?;
    let upload = upload_clip(&server).await?;
    let id = server
        .submit_id(json!({"pipeline": "python-frame-stats", "input": upload["input"], "params": {"every_seconds": 2.0}}))
        .await?;
    let job = server.wait(&id, Duration::from_secs(240)).await?;
    assert_eq!(job["status"], "succeeded", "{job}");

    let clip = std::fs::read(crate::support::fixture("h264-high-720p.mp4"))?;
    let r = server.get(&format!("/api/jobs/{id}/input")).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await?.as_ref(), clip.as_slice());
    let r = server
        .http
        .get(server.url(&format!("/api/jobs/{id}/input")))
        .bearer_auth(&server.admin_key)
        .send()
        .await?;
    assert_eq!(r.status(), 404, "another key's job is not found");

    let plugin = framepipe_test_langs::component_path("python-frame-stats")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = tempfile::tempdir()?;
    for (step, plugin) in [
        ("stats", plugin.clone()),
        // The first step too, with its own (built-in) plugin: its input is the job's input.
        ("frames", write_builtin(out.path(), "frames")?),
    ] {
        let replay = Command::new(binary())
            .args(["job", "replay", &id, "--step", step, "--plugin"])
            .arg(&plugin)
            .args(["--server", &server.base, "--key", &server.key, "--out"])
            .arg(out.path().join(step))
            .env("FRAMEPIPE_DATA_DIR", out.path().join("data"))
            .output()?;
        let stderr = String::from_utf8_lossy(&replay.stderr);
        assert!(replay.status.success(), "{step}: {stderr}");
        let report: Value = serde_json::from_slice(&replay.stdout)?;
        assert_eq!(report["replayed"]["status"], "succeeded", "{report}");
        assert_eq!(report["same_outcome"], true, "{step}: {report}");
    }
    let frames = std::fs::read_dir(out.path().join("stats/inputs"))?.count();
    assert_eq!(frames, 6, "five frames and the frames result");

    // A step the job does not have is refused, naming the ones it has.
    let replay = Command::new(binary())
        .args(["job", "replay", &id, "--step", "nope", "--plugin"])
        .arg(&plugin)
        .args(["--server", &server.base, "--key", &server.key])
        .output()?;
    assert!(!replay.status.success());
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(stderr.contains("no run of step \"nope\""), "{stderr}");
    assert!(stderr.contains("\"frames\", \"stats\""), "{stderr}");
    server.stop().await;
    Ok(())
}

fn write_builtin(dir: &std::path::Path, name: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, framepipe_guests::get(name).context("built-in")?)?;
    Ok(path)
}

/// `run-step --watch` runs at once, then again when the component file is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_step_watch_reruns_when_the_plugin_is_rebuilt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wasm = dir.path().join("plugin.wasm");
    std::fs::write(&wasm, framepipe_guests::get("noop").context("noop")?)?;
    let input = dir.path().join("input.bin");
    std::fs::write(&input, b"hello watch")?;
    let mut child = Command::new(binary())
        .arg("run-step")
        .arg(&wasm)
        .arg("--input")
        .arg(format!("input={}", input.display()))
        .args(["--watch", "--out"])
        .arg(dir.path().join("out"))
        .env("FRAMEPIPE_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        // Each run prints one pretty JSON document; its last line is a lone `}`.
        let mut doc = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            doc.push_str(&line);
            if line == "}" {
                if let Ok(v) = serde_json::from_str(&doc) {
                    let _ = tx.send(v);
                }
                doc.clear();
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60))?;
    assert_eq!(first["result"]["inputs"], json!(["input"]), "{first}");
    // "Rebuild": another component at the same path (checksum reads its input).
    let replacement = dir.path().join("next.wasm");
    std::fs::write(
        &replacement,
        framepipe_guests::get("checksum").context("checksum")?,
    )?;
    std::fs::rename(&replacement, &wasm)?;
    let second = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let second = second.context("no second run after the rebuild")?;
    assert_eq!(second["result"]["bytes"], 11, "{second}");
    assert_eq!(second["result"]["algorithm"], "sha256");
    Ok(())
}

/// `framepipe plugin new` writes a skeleton per language whose native test passes, which
/// builds into a component that `run-step` runs (Python and JavaScript with the pinned
/// toolchains, Rust with cargo for wasm32-wasip2).
#[test]
fn plugin_new_skeletons_test_build_and_run() -> Result<()> {
    let work = tempfile::tempdir()?;
    let root = framepipe_test_langs::repo_root();
    let input = work.path().join("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\n")?;
    for lang in ["python", "js", "rust"] {
        let name = format!("hello-{lang}");
        let dir = work.path().join(&name);
        let out = Command::new(binary())
            .args(["plugin", "new", &name, "--lang", lang, "--dir"])
            .arg(&dir)
            .arg("--sdk")
            .arg(&root)
            .output()?;
        assert!(
            out.status.success(),
            "{lang}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (test, build, wasm): (Vec<&str>, Command, std::path::PathBuf) = match lang {
            "python" => {
                let venv = framepipe_test_langs::toolchain(framepipe_test_langs::Lang::Python)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut c = Command::new(venv.join("bin/python"));
                c.env("PYTHONPATH", root.join("sdk/python/src")).args([
                    "-m",
                    "framepipe_plugin",
                    "build",
                    "app",
                    "-o",
                    "p.wasm",
                ]);
                (
                    vec!["python3", "-m", "unittest", "-q"],
                    c,
                    dir.join("p.wasm"),
                )
            }
            "js" => {
                let modules = framepipe_test_langs::toolchain(framepipe_test_langs::Lang::Js)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut c = Command::new("node");
                c.env("FRAMEPIPE_JS_MODULES", modules)
                    .arg(root.join("sdk/js/bin/framepipe-js.js"))
                    .args(["build", "app.js", "-o", "p.wasm"]);
                (vec!["node", "--test", "test/"], c, dir.join("p.wasm"))
            }
            _ => {
                // A target dir kept between runs: the SDK's dependencies build once.
                let target = std::env::temp_dir().join("framepipe-skeleton-target");
                let mut c = Command::new("cargo");
                c.args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--target-dir",
                ])
                .arg(&target)
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("CARGO_BUILD_BUILD_DIR")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS");
                (
                    vec!["cargo", "test", "--quiet"],
                    c,
                    target.join("wasm32-wasip2/release/hello_rust.wasm"),
                )
            }
        };
        let mut t = Command::new(test[0]);
        t.args(&test[1..]).current_dir(&dir);
        if lang == "rust" {
            t.env(
                "CARGO_TARGET_DIR",
                std::env::temp_dir().join("framepipe-skeleton-target"),
            )
            .env_remove("CARGO_BUILD_BUILD_DIR");
        }
        let ran = t.output()?;
        assert!(
            ran.status.success(),
            "{lang} skeleton test: {}{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        let mut build = build;
        let built = build.current_dir(&dir).output()?;
        assert!(
            built.status.success(),
            "{lang} skeleton build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let run = Command::new(binary())
            .arg("run-step")
            .arg(&wasm)
            .arg("--input")
            .arg(format!("input={}", input.display()))
            .arg("--out")
            .arg(dir.join("out"))
            .env("FRAMEPIPE_DATA_DIR", work.path().join("data"))
            .output()?;
        assert!(
            run.status.success(),
            "{lang}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let report: Value = serde_json::from_slice(&run.stdout)?;
        assert_eq!(report["result"]["bytes"], 14, "{lang}: {report}");
        assert_eq!(report["result"]["lines"], 3, "{lang}: {report}");
    }
    Ok(())
}
