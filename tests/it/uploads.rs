//! Uploads: streamed to disk, capped (413), typed (415), owned; read by range by plugins.

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Server, Setup};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_and_multipart_uploads_feed_a_pipeline() -> Result<()> {
    let server = Server::start().await?;
    let data = bytes(3 << 20);
    let raw = server
        .post("/api/uploads?filename=clip.mp4")
        .body(data.clone())
        .send()
        .await?;
    assert_eq!(raw.status(), 201);
    let raw: Value = raw.json().await?;
    assert_eq!(raw["size"], data.len());
    assert_eq!(raw["media_type"], "video/mp4");

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(data.clone()).file_name("clip.webm"),
    );
    let multi: Value = server
        .post("/api/uploads")
        .multipart(form)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(multi["media_type"], "video/webm");

    let want = hex::encode(Sha256::digest(&data));
    for upload in [&raw, &multi] {
        let id = server
            .submit_id(json!({"pipeline": "checksum", "input": upload["input"]}))
            .await?;
        let done = server.wait(&id, Duration::from_secs(60)).await?;
        assert_eq!(done["status"], "succeeded", "{done}");
        let result = done["result"].to_string();
        assert!(result.contains(&want), "checksum {want} not in {result}");
        assert_eq!(done["steps"][0]["bytes_read"], data.len());
    }
    // Another key cannot use the upload.
    let (_, other) = server.app().store.create_key("other", false).await?;
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth(other)
        .json(&json!({"pipeline": "checksum", "input": raw["input"]}))
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_and_mistyped_uploads_are_refused() -> Result<()> {
    let server = Server::with(Setup {
        settings: "[uploads]\nmax_bytes = 100000\n".into(),
        ..Setup::default()
    })
    .await?;
    // Declared too large: refused before reading.
    let r = server
        .post("/api/uploads?filename=a.mp4")
        .body(bytes(200_000))
        .send()
        .await?;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "FILE_TOO_LARGE");
    // Streamed without a length: cut off at the cap.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..20).map(|_| Ok(bytes(10_000))).collect();
    let stream = futures_util_stream(chunks);
    let r = server
        .post("/api/uploads?filename=a.mp4")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    assert_eq!(r.status(), 413);
    // Multipart too large.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes(150_000)).file_name("a.mkv"),
    );
    let r = server.post("/api/uploads").multipart(form).send().await?;
    assert_eq!(r.status(), 413);
    // Wrong type, empty file, no name.
    let r = server
        .post("/api/uploads?filename=run.exe")
        .body(bytes(10))
        .send()
        .await?;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await?["error"]["code"],
        "UNSUPPORTED_FILE_TYPE"
    );
    let r = server
        .post("/api/uploads?filename=a.mp4")
        .body(Vec::new())
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?["error"]["code"], "EMPTY_FILE");
    let r = server.post("/api/uploads").body(bytes(10)).send().await?;
    assert_eq!(
        r.json::<Value>().await?["error"]["code"],
        "MISSING_FILENAME"
    );
    // Nothing partial was kept.
    let uploads = server.dir.path().join("data/files/uploads");
    assert_eq!(
        std::fs::read_dir(uploads)?.count(),
        0,
        "refused uploads leave no files"
    );
    server.stop().await;
    Ok(())
}

fn futures_util_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::iter(chunks)
}
