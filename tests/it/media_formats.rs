//! The videos phones and streaming tools write, end to end through the API (issue 20):
//! HEVC in MP4/MOV, H.264 and HEVC in MPEG-TS uploaded under camcorder and HLS names,
//! fragmented MP4, damaged HEVC, and people counting on a phone-style HEVC clip.

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::support::{Server, fixture};

async fn run(server: &Server, pipeline: &str, upload: &Value, params: Value) -> Result<Value> {
    let id = server
        .submit_id(json!({"pipeline": pipeline, "input": upload["input"], "params": params}))
        .await?;
    server.wait(&id, Duration::from_secs(180)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hevc_ts_and_fragmented_mp4_read_through_the_api() -> Result<()> {
    let server = Server::start().await?;
    // (fixture, upload name, media type by content, container, codec)
    let cases = [
        (
            "hevc-main-720p.mp4",
            "IMG_0001.MOV",
            "video/mp4",
            "mp4",
            "hevc",
        ),
        (
            "hevc-main-720p.ts",
            "segment-00001.ts",
            "video/mp2t",
            "mpegts",
            "hevc",
        ),
        (
            "h264-high-720p.m2ts",
            "00001.MTS",
            "video/mp2t",
            "m2ts",
            "h264",
        ),
        // Named without an extension: the content decides.
        (
            "h264-high-720p.ts",
            "dvr-export",
            "video/mp2t",
            "mpegts",
            "h264",
        ),
        (
            "hevc-fragmented-720p.mp4",
            "obs-recording.mp4",
            "video/mp4",
            "mp4",
            "hevc",
        ),
    ];
    for (name, filename, media_type, container, codec) in cases {
        let up = server
            .upload(filename, std::fs::read(fixture(name))?)
            .await?;
        assert_eq!(up["media_type"], media_type, "{name}");
        let done = run(
            &server,
            "frame-at",
            &up,
            json!({"at_seconds": 1.5, "mode": "exact"}),
        )
        .await?;
        assert_eq!(done["status"], "succeeded", "{name}: {done}");
        let result = &done["result"];
        assert_eq!(result["container"], container, "{name}");
        assert_eq!(result["codec"], codec, "{name}");
        assert_eq!(
            (result["width"].as_u64(), result["height"].as_u64()),
            (Some(1280), Some(720))
        );
        let pts = result["frames"][0]["pts_seconds"].as_f64().unwrap();
        assert!((pts - 1.5).abs() < 0.02, "{name}: pts {pts}");
        let step = &done["steps"][0];
        let peak = step["peak_memory_mib"].as_f64().unwrap();
        assert!(peak <= 64.0, "{name}: {peak} MiB");
        println!(
            "{name} exact at 1.5 s: {} ms in the sandbox, peak {peak} MiB",
            step["wall_ms"]
        );

        let done = run(&server, "frames", &up, json!({"count": 3})).await?;
        assert_eq!(done["status"], "succeeded", "{name}: {done}");
        assert_eq!(
            done["result"]["frames"].as_array().unwrap().len(),
            3,
            "{name}"
        );
        assert_eq!(done["artifacts"].as_array().unwrap().len(), 3, "{name}");
    }
    // Neither a known container nor an accepted extension: refused at upload.
    let r = server
        .post("/api/uploads?filename=notes.txt")
        .body(b"not a video at all".repeat(100))
        .send()
        .await?;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await?["error"]["code"],
        "UNSUPPORTED_FILE_TYPE"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn damaged_hevc_is_invalid_input_not_a_crash() -> Result<()> {
    let server = Server::start().await?;
    let good = std::fs::read(fixture("hevc-main-720p.mkv"))?;
    // Cut in the middle: named as truncated.
    let up = server
        .upload("cut.mkv", good[..good.len() / 2].to_vec())
        .await?;
    let done = run(
        &server,
        "frame-at",
        &up,
        json!({"at_seconds": 3, "mode": "exact"}),
    )
    .await?;
    assert_eq!(done["error"]["code"], "INVALID_INPUT", "{done}");
    // Bytes flipped all through the coded pictures (after the first 4 KiB of headers):
    // a wrong picture or INVALID_INPUT, never a host fault.
    for (seed, step) in [(0xa5u8, 997usize), (0x5a, 331), (0xff, 4099)] {
        let mut flipped = good.clone();
        for at in (4096..flipped.len()).step_by(step) {
            flipped[at] ^= seed;
        }
        let up = server.upload("flipped.mkv", flipped).await?;
        let done = run(
            &server,
            "frame-at",
            &up,
            json!({"at_seconds": 3.5, "mode": "exact"}),
        )
        .await?;
        match done["status"].as_str() {
            Some("succeeded") => {}
            _ => assert_eq!(done["error"]["code"], "INVALID_INPUT", "{done}"),
        }
        println!(
            "flipped every {step} bytes: {} {}",
            done["status"], done["error"]["message"]
        );
    }
    // The same for a transport stream: flipped sync bytes and payload.
    let mut ts = std::fs::read(fixture("hevc-main-720p.ts"))?;
    for at in (188 * 20..ts.len()).step_by(1499) {
        ts[at] ^= 0x5a;
    }
    let up = server.upload("flipped.ts", ts).await?;
    let done = run(
        &server,
        "frame-at",
        &up,
        json!({"at_seconds": 2.5, "mode": "exact"}),
    )
    .await?;
    match done["status"].as_str() {
        Some("succeeded") => {}
        _ => assert_eq!(done["error"]["code"], "INVALID_INPUT", "{done}"),
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_count_on_a_phone_style_hevc_clip() -> Result<()> {
    let server = Server::start().await?;
    let up = server
        .upload(
            "IMG_0002.MOV",
            std::fs::read(fixture("vtest-hevc-60s.mov"))?,
        )
        .await?;
    assert_eq!(up["media_type"], "video/quicktime");
    let done = run(&server, "people-count", &up, json!({"every_seconds": 2.0})).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    let result = &done["result"];
    assert_eq!(result["processed_frames"], 30);
    let most = result["person_count"].as_u64().unwrap();
    assert!(
        (4..=9).contains(&most),
        "vtest shows about six people at once, got {most}"
    );
    let frames = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["plugin"] == "frames")
        .unwrap();
    println!(
        "people-count on HEVC: person_count {most}, frames step {} ms, peak {} MiB",
        frames["wall_ms"], frames["peak_memory_mib"]
    );
    server.stop().await;
    Ok(())
}
