//! Pipelines as files and the plugin registry: every load-time check with its file and
//! line, reload without restart (and under load), plugin uploads checked against the world.

use std::time::Duration;

use anyhow::Result;
use framepipe::pipeline::parse_pipeline;
use serde_json::Value;

use crate::support::{Server, Setup, binary, job};

/// (definition, expected line, expected words in the message)
const BAD: &[(&str, usize, &str)] = &[
    (
        "name = \"x\"\n[[steps]]\nname = \"a\"\nplugin = \"noop\"\nplugn = 1\n",
        5,
        "unknown field `plugn`",
    ),
    ("name = \"x\"\n[[steps]\nname = \"a\"\n", 2, ""),
    (
        "name = \"x\"\n\n[[steps]]\nname = \"a\"\nplugin = \"nosuch\"\n",
        5,
        "unknown plugin `nosuch`",
    ),
    (
        "name = \"x\"\n[[steps]]\nname = \"a\"\nplugin = \"noop@2\"\n",
        4,
        "no version of plugin `noop` matches `2`",
    ),
    (
        "name = \"x\"\naccepts = [\"upload\"]\n[[steps]]\nname = \"f\"\nplugin = \"frames\"\ninputs = { video = \"$input\" }\nconfig = { mode = \"fast\", at_seconds = 1 }\n",
        7,
        "config does not fit plugin `frames`'s schema",
    ),
    (
        "name = \"x\"\naccepts = [\"upload\"]\n[[steps]]\nname = \"a\"\nplugin = \"checksum\"\ninputs = { input = \"b.out\" }\n[[steps]]\nname = \"b\"\nplugin = \"noop\"\n",
        6,
        "which runs later",
    ),
    (
        "name = \"x\"\naccepts = [\"upload\"]\n[[steps]]\nname = \"a\"\nplugin = \"checksum\"\ninputs = { input = \"ghost.out\" }\n",
        6,
        "dangling input: no step named `ghost`",
    ),
    (
        "name = \"x\"\naccepts = [\"upload\"]\n[[steps]]\nname = \"f\"\nplugin = \"frames\"\ninputs = { video = \"$input\" }\nconfig = { at_seconds = \"$params.when\" }\n",
        7,
        "names no parameter",
    ),
    (
        "name = \"x\"\naccepts = [\"upload\"]\n[[steps]]\nname = \"f\"\nplugin = \"frames\"\ninputs = { video = \"$input\" }\nconfig = { at_seconds = 1 }\nlimits = { memory_mib = 2 }\n",
        8,
        "needs at least",
    ),
    (
        "name = \"x\"\naccepts = [\"youtube\"]\n[[steps]]\nname = \"t\"\nplugin = \"thumbnail\"\nconfig = { video_id = \"$input.youtube_id\" }\n",
        5,
        "needs to reach `i.ytimg.com`",
    ),
    (
        "name = \"Bad Name\"\n[[steps]]\nname = \"a\"\nplugin = \"noop\"\n",
        1,
        "must be lowercase",
    ),
    (
        "name = \"x\"\n[[steps]]\nname = \"a\"\nplugin = \"noop\"\n[[steps]]\nname = \"a\"\nplugin = \"noop\"\n",
        6,
        "two steps are named `a`",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_definition_error_names_its_file_and_line() -> Result<()> {
    let server = Server::start().await?;
    let cx = server.app().load_context();
    for (text, line, words) in BAD {
        let errors = match parse_pipeline(&cx, "bad.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        };
        let first = &errors[0];
        assert_eq!(first.file, "bad.toml");
        assert_eq!(first.line, *line, "{first} for:\n{text}");
        assert!(
            first.message.contains(words),
            "{first:?} should say {words:?}"
        );
        assert!(first.to_string().starts_with(&format!("bad.toml:{line}: ")));
    }
    // The built-in definitions load, and a good custom one does.
    let ok =
        "name = \"ok\"\naccepts = [\"none\"]\n[[steps]]\nname = \"a\"\nplugin = \"noop@0.1\"\n";
    assert_eq!(
        parse_pipeline(&cx, "ok.toml", ok)
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .name,
        "ok"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_swaps_definitions_and_keeps_the_old_ones_on_error() -> Result<()> {
    let server = Server::with(Setup {
        pipelines: vec![(
            "a.toml".into(),
            "name = \"custom\"\naccepts = [\"none\"]\n[[steps]]\nname = \"s\"\nplugin = \"noop\"\n"
                .into(),
        )],
        ..Setup::default()
    })
    .await?;
    let dir = server.dir.path().join("pipelines");
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth(&server.admin_key);
    let listed: Value = server
        .get("/api/pipelines/custom")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed["steps"][0]["plugin_name"], "noop");

    // Load 200 jobs while reloading repeatedly: none is lost.
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(
            server
                .submit_id(job(if i % 2 == 0 { "custom" } else { "noop" }))
                .await?,
        );
        if i % 10 == 0 {
            let r = admin(server.http.post(server.url("/api/pipelines/reload")))
                .send()
                .await?;
            assert_eq!(r.status(), 200);
        }
    }
    for id in &ids {
        assert_eq!(
            server.wait(id, Duration::from_secs(60)).await?["status"],
            "succeeded"
        );
    }

    // A broken file: 422 naming file and line; the old definitions keep serving.
    std::fs::write(
        dir.join("b.toml"),
        "name = \"broken\"\n[[steps]]\nname = \"s\"\nplugin = \"ghost\"\n",
    )?;
    let r = admin(server.http.post(server.url("/api/pipelines/reload")))
        .send()
        .await?;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "INVALID_PIPELINE");
    assert_eq!(body["error"]["errors"][0]["line"], 4);
    assert!(
        body["error"]["errors"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("b.toml")
    );
    let id = server.submit_id(job("custom")).await?;
    assert_eq!(
        server.wait(&id, Duration::from_secs(30)).await?["status"],
        "succeeded"
    );

    // Fixed: the new pipeline appears without a restart.
    std::fs::write(
        dir.join("b.toml"),
        "name = \"second\"\naccepts = [\"none\"]\n[[steps]]\nname = \"s\"\nplugin = \"noop\"\n",
    )?;
    let r = admin(server.http.post(server.url("/api/pipelines/reload")))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let id = server.submit_id(job("second")).await?;
    assert_eq!(
        server.wait(&id, Duration::from_secs(30)).await?["status"],
        "succeeded"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_uploads_are_checked_against_the_world() -> Result<()> {
    let server = Server::start().await?;
    let upload = |bytes: Vec<u8>, key: &str| {
        server
            .http
            .post(server.url("/api/plugins"))
            .bearer_auth(key)
            .body(bytes)
            .send()
    };
    let core = wat::parse_str("(module (func (export \"run\")))")?;
    let empty = wat::parse_str("(component)")?;
    let newer = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $step (export "describe" (func $f)) (export "run" (func $f)))
            (export "framepipe:plugin/step@0.2.0" (instance $step)))"#,
    )?;
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"#!/bin/sh\necho hi\n".to_vec(),
            "NOT_WASM",
            "not a WebAssembly binary",
        ),
        (
            core,
            "NOT_A_COMPONENT",
            "core WebAssembly module, not a component",
        ),
        (
            empty,
            "MISSING_EXPORT",
            "no export `framepipe:plugin/step@0.1.0`",
        ),
        (
            newer,
            "INCOMPATIBLE_WIT_VERSION",
            "plugin targets framepipe:plugin@0.2.0; this host offers framepipe:plugin@0.1.0",
        ),
    ];
    for (bytes, code, words) in cases {
        let r = upload(bytes, &server.admin_key).await?;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{body}"
        );
    }
    // A user key may not upload; an admin key registers a real component.
    let chaos = framepipe_guests::get("chaos").unwrap().to_vec();
    assert_eq!(upload(chaos.clone(), &server.key).await?.status(), 403);
    let r = upload(chaos, &server.admin_key).await?;
    assert_eq!(r.status(), 201);
    let info: Value = r.json().await?;
    assert_eq!(info["name"], "chaos");
    assert!(info["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(info["compile_ms"].as_f64().unwrap() >= 0.0);
    let listed: Value = server.get("/api/plugins").send().await?.json().await?;
    let names: Vec<&str> = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"chaos") && names.contains(&"frames"),
        "{names:?}"
    );
    // Stored by digest: the next start has it.
    let stored = std::fs::read_dir(server.dir.path().join("data/plugins"))?.count();
    assert_eq!(stored, 1);
    server.stop().await;
    Ok(())
}

#[test]
fn plugin_check_gives_the_same_verdict_offline() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("noop.wasm");
    std::fs::write(&good, framepipe_guests::get("noop").unwrap())?;
    let out = std::process::Command::new(binary())
        .args(["plugin", "check"])
        .arg(&good)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(info["name"], "noop");
    let bad = dir.path().join("core.wasm");
    std::fs::write(&bad, wat::parse_str("(module)")?)?;
    let out = std::process::Command::new(binary())
        .args(["plugin", "check"])
        .arg(&bad)
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOT_A_COMPONENT") && stderr.contains("not a component"),
        "{stderr}"
    );
    Ok(())
}

/// The third-party example (`examples/scene-change`, written only against the SDK) runs
/// end to end: uploaded as a plugin, its pipeline file loaded by a reload, a job through
/// the API on a real clip.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_example_plugin_runs_end_to_end() -> Result<()> {
    let server = Server::with(Setup {
        pipelines: vec![(
            "keep.toml".into(),
            "name = \"keep\"\naccepts = [\"none\"]\n[[steps]]\nname = \"s\"\nplugin = \"noop\"\n"
                .into(),
        )],
        ..Setup::default()
    })
    .await?;
    let wasm = framepipe_guests::get("scene-change")
        .expect("examples are built")
        .to_vec();
    let r = server
        .http
        .post(server.url("/api/plugins"))
        .bearer_auth(&server.admin_key)
        .body(wasm)
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let definition = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/scene-change/pipeline.toml"
    ))?;
    std::fs::write(
        server.dir.path().join("pipelines/scene-changes.toml"),
        definition,
    )?;
    let r = server
        .http
        .post(server.url("/api/pipelines/reload"))
        .bearer_auth(&server.admin_key)
        .send()
        .await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    let clip = std::fs::read(crate::support::fixture("h264-high-720p.mp4"))?;
    let upload = server.upload("clip.mp4", clip).await?;
    let id = server
        .submit_id(serde_json::json!({"pipeline": "scene-changes", "input": upload["input"], "params": {"every_seconds": 1.0}})).await?;
    let done = server.wait(&id, Duration::from_secs(180)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    let result = &done["result"];
    assert_eq!(
        result["frames"], 10,
        "one frame a second of a 10 s clip: {result}"
    );
    assert_eq!(result["motion"].as_array().unwrap().len(), 9);
    assert!(result["scenes"].as_u64().unwrap() >= 1);
    server.stop().await;
    Ok(())
}
