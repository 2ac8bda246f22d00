//! A tiny HTTP/1.1 server on 127.0.0.1 that counts every accepted connection,
//! so tests can prove that a refused request never connected.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Body length of `/big` and `/big-chunked`.
pub const BIG_LEN: usize = 4096;
/// How long `/slow-headers` and `/slow-body` stall.
pub const STALL: Duration = Duration::from_secs(3);

/// A running fixture server; stops when dropped.
pub struct Fixture {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixture");
        let addr = listener.local_addr().expect("fixture addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream, addr.port(), Arc::clone(&r)));
            }
        });
        Fixture {
            addr,
            connections,
            requests,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn handle(mut stream: TcpStream, port: u16, requests: Arc<AtomicUsize>) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    requests.fetch_add(1, Ordering::SeqCst);
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let _ = route(&mut stream, port, path, query, &head).await;
}

async fn route(
    s: &mut TcpStream,
    port: u16,
    path: &str,
    query: &str,
    head: &str,
) -> std::io::Result<()> {
    match path {
        "/ok" => respond(s, "200 OK", &[], b"hello").await,
        "/echo-head" => respond(s, "200 OK", &[], head.as_bytes()).await,
        "/echo-body" => {
            let body = read_body(s, head).await?;
            respond(s, "200 OK", &[], &body).await
        }
        "/slow-headers" => {
            tokio::time::sleep(STALL).await;
            respond(s, "200 OK", &[], b"late").await
        }
        "/slow-body" => {
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nhello")
                .await?;
            s.flush().await?;
            tokio::time::sleep(STALL).await;
            s.write_all(b"world").await
        }
        "/big" => respond(s, "200 OK", &[], &[b'x'; BIG_LEN]).await,
        "/big-chunked" => {
            s.write_all(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            )
            .await?;
            for _ in 0..BIG_LEN / 256 {
                s.write_all(b"100\r\n").await?;
                s.write_all(&[b'y'; 256]).await?;
                s.write_all(b"\r\n").await?;
                s.flush().await?;
            }
            s.write_all(b"0\r\n\r\n").await
        }
        "/redirect-loopback" => redirect(s, &format!("http://127.0.0.1:{port}/ok")).await,
        "/redirect-metadata" => redirect(s, "http://169.254.169.254/latest/meta-data/").await,
        "/redirect-loop" => redirect(s, "/redirect-loop").await,
        "/redirect-ftp" => redirect(s, "ftp://127.0.0.1/file").await,
        // Redirects to whatever URL the query holds (already percent-encoded as needed).
        "/redirect-to" => redirect(s, query).await,
        _ => match path
            .strip_prefix("/redirect-chain/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(0) => redirect(s, "/ok").await,
            Some(n) => redirect(s, &format!("/redirect-chain/{}", n - 1)).await,
            None => respond(s, "404 Not Found", &[], b"no such route").await,
        },
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

/// Reads a Content-Length request body (the head may hold its first bytes).
async fn read_body(s: &mut TcpStream, head: &str) -> std::io::Result<Vec<u8>> {
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let already = head
        .split_once("\r\n\r\n")
        .map_or(&b""[..], |(_, rest)| rest.as_bytes());
    let mut body = already.to_vec();
    body.resize(len, 0);
    s.read_exact(&mut body[already.len().min(len)..]).await?;
    Ok(body)
}

async fn redirect(s: &mut TcpStream, location: &str) -> std::io::Result<()> {
    respond(s, "302 Found", &[("location", location)], b"").await
}

async fn respond(
    s: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    s.shutdown().await
}
