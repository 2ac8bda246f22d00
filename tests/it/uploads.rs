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
    // The server answers 413 without reading the rest of the body and closes the
    // connection, so these requests go over a raw socket that reads the answer even when
    // the rest of the body can no longer be written (an HTTP client library may report
    // only the broken pipe).
    let addr = server.running.addr;
    let declared = raw_upload(addr, &server.key, "a.mp4", Framing::Length, 200_000).await?;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    assert!(declared.contains("FILE_TOO_LARGE"), "{declared}");
    let streamed = raw_upload(addr, &server.key, "a.mp4", Framing::Chunked, 200_000).await?;
    assert!(
        streamed.starts_with("HTTP/1.1 413"),
        "streamed past the cap: {streamed}"
    );
    let multipart = raw_upload(addr, &server.key, "a.mkv", Framing::Multipart, 150_000).await?;
    assert!(
        multipart.starts_with("HTTP/1.1 413"),
        "multipart past the cap: {multipart}"
    );
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

/// How a raw upload frames its body.
enum Framing {
    /// `Content-Length` declared up front.
    Length,
    /// `Transfer-Encoding: chunked`, no length known.
    Chunked,
    /// A multipart form with one `file` part, chunked.
    Multipart,
}

/// POSTs `size` bytes to `/api/uploads` over a plain TCP socket, writing until the server
/// stops reading, then returns the server's whole answer as text.
async fn raw_upload(
    addr: std::net::SocketAddr,
    key: &str,
    filename: &str,
    framing: Framing,
    size: usize,
) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let data = bytes(size);
    let (path, head, body): (String, String, Vec<u8>) = match framing {
        Framing::Length => (
            format!("/api/uploads?filename={filename}"),
            format!("Content-Length: {size}\r\nContent-Type: application/octet-stream\r\n"),
            data,
        ),
        Framing::Chunked => (
            format!("/api/uploads?filename={filename}"),
            "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n".into(),
            data,
        ),
        Framing::Multipart => {
            let mut form = format!(
                "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .into_bytes();
            form.extend_from_slice(&data);
            form.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
            (
                "/api/uploads".into(),
                "Transfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary=XBOUNDARY\r\n".into(),
                form,
            )
        }
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n{head}\r\n"
    );
    socket.write_all(request.as_bytes()).await?;
    let chunked = !matches!(framing, Framing::Length);
    for piece in body.chunks(8192) {
        let written = if chunked {
            let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
            frame.extend_from_slice(piece);
            frame.extend_from_slice(b"\r\n");
            socket.write_all(&frame).await
        } else {
            socket.write_all(piece).await
        };
        if written.is_err() {
            break; // the server answered and stopped reading: read its answer below
        }
    }
    if chunked {
        let _ = socket.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        socket.read_to_end(&mut answer),
    )
    .await;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
