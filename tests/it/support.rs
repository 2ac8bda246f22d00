//! The harness: a real server on loopback (in this process, or as a child process of the
//! real binary), a real SQLite file or PostgreSQL database, real components.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use framepipe::app::{App, Running, start};
use framepipe::config::{Config, FileConfig};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A pipeline running the chaos plugin in a given mode (loaded from a test plugins dir).
pub fn chaos_pipeline(name: &str, mode: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\naccepts = [\"none\"]\n{extra}\n[[steps]]\nname = \"chaos\"\nplugin = \"chaos\"\nconfig = {{ mode = \"{mode}\" }}\nlimits = {{ memory_mib = 32, deadline_ms = 20000 }}\n"
    )
}

/// What a test server is built from.
pub struct Setup {
    /// Settings file text (TOML).
    pub settings: String,
    /// Extra pipeline definitions: (file name, text).
    pub pipelines: Vec<(String, String)>,
    /// Load the chaos plugin from a plugins dir.
    pub chaos: bool,
    /// Queue database URL (SQLite file in the data dir when None).
    pub database_url: Option<String>,
    /// Run workers in the server.
    pub workers: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            settings: String::new(),
            pipelines: Vec::new(),
            chaos: false,
            database_url: None,
            workers: true,
        }
    }
}

/// A server in this process, with a user key and an admin key.
pub struct Server {
    pub dir: TempDir,
    pub running: Running,
    pub base: String,
    pub key: String,
    pub admin_key: String,
    pub http: reqwest::Client,
}

impl Server {
    /// A server with default settings.
    pub async fn start() -> Result<Server> {
        Server::with(Setup::default()).await
    }

    /// A server from a setup.
    pub async fn with(setup: Setup) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let settings = prepare_dir(dir.path(), &setup)?;
        let file = FileConfig::parse(&settings)?;
        let config = Config::new(dir.path().join("data"), setup.database_url.clone(), file);
        let app = App::open(config).await?;
        let (_, admin_key) = app.store.create_key("admin", true).await?;
        let (_, key) = app.store.create_key("user", false).await?;
        let running = start(app, "127.0.0.1:0".parse()?, setup.workers).await?;
        let base = format!("http://{}", running.addr);
        Ok(Server {
            dir,
            running,
            base,
            key,
            admin_key,
            http: reqwest::Client::new(),
        })
    }

    /// The shared state.
    pub fn app(&self) -> &Arc<App> {
        &self.running.app
    }

    /// A URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with the user key.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.key)
    }

    /// POST with the user key.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.key)
    }

    /// Submits a job; returns the response JSON (asserting 202).
    pub async fn submit(&self, body: Value) -> Result<Value> {
        let response = self.post("/api/jobs").json(&body).send().await?;
        let status = response.status();
        let json: Value = response.json().await?;
        if status != 202 {
            bail!("submit answered {status}: {json}");
        }
        Ok(json)
    }

    /// Uploads `data` as a raw body named `filename`; the `201` answer (`input`,
    /// `media_type`, ...), or an error naming the status.
    pub async fn upload(&self, filename: &str, data: Vec<u8>) -> Result<Value> {
        let r = self
            .post(&format!("/api/uploads?filename={filename}"))
            .body(data)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "upload {filename}: {}", r.status());
        Ok(r.json().await?)
    }

    /// Submits a job; returns its id.
    pub async fn submit_id(&self, body: Value) -> Result<String> {
        Ok(self.submit(body).await?["id"]
            .as_str()
            .context("no id")?
            .to_owned())
    }

    /// Polls a job until it is in a terminal state.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Value> {
        wait_job(&self.http, &self.base, &self.key, id, timeout).await
    }

    /// Polls a job until it runs.
    pub async fn wait_running(&self, id: &str) -> Result<Value> {
        wait_status(
            &self.http,
            &self.base,
            &self.key,
            id,
            &["running"],
            Duration::from_secs(30),
        )
        .await
    }

    /// Asks to cancel a job.
    pub async fn cancel(&self, id: &str) -> Result<reqwest::StatusCode> {
        Ok(self
            .post(&format!("/api/jobs/{id}/cancel"))
            .send()
            .await?
            .status())
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.running.shutdown.cancel();
        let _ = self.running.done.await;
        self.running.app.store.close().await;
    }
}

/// Polls `GET /api/jobs/{id}` until the job is terminal.
pub async fn wait_job(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    timeout: Duration,
) -> Result<Value> {
    wait_status(
        http,
        base,
        key,
        id,
        &["succeeded", "failed", "cancelled"],
        timeout,
    )
    .await
}

/// Polls `GET /api/jobs/{id}` until the job is in one of `states`.
pub async fn wait_status(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    states: &[&str],
    timeout: Duration,
) -> Result<Value> {
    let start = Instant::now();
    loop {
        let job: Value = http
            .get(format!("{base}/api/jobs/{id}"))
            .bearer_auth(key)
            .send()
            .await?
            .json()
            .await?;
        let status = job["status"].as_str().unwrap_or("").to_owned();
        if states.contains(&status.as_str()) {
            return Ok(job);
        }
        if start.elapsed() > timeout {
            bail!("job {id} still {status} after {timeout:?}, not {states:?}: {job}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes plugins and pipelines directories for a setup; returns the settings text.
pub fn prepare_dir(dir: &Path, setup: &Setup) -> Result<String> {
    // One compile cache for every test server: each component compiles once per run.
    let cache = std::env::temp_dir().join("framepipe-test-cache");
    let mut settings = format!(
        "runtime = {{ cache_dir = {:?} }}\n{}",
        cache.display().to_string(),
        setup.settings
    );
    // Tests drive one key hard; the per-key quotas are tested on their own (abuse.rs),
    // where the setup names its `[quotas]`.
    if !setup.settings.contains("[quotas]") {
        settings.push_str("\n[quotas]\nrequests_per_second = 0\nmax_active_jobs_per_key = 0\n");
    }
    if setup.chaos {
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins)?;
        std::fs::write(
            plugins.join("chaos.wasm"),
            framepipe_guests::get("chaos").context("chaos not built")?,
        )?;
        settings = format!(
            "plugins_dir = {:?}\n{settings}",
            plugins.display().to_string()
        );
    }
    if !setup.pipelines.is_empty() {
        let pipelines = dir.join("pipelines");
        std::fs::create_dir_all(&pipelines)?;
        for (name, text) in &setup.pipelines {
            std::fs::write(pipelines.join(name), text)?;
        }
        settings = format!(
            "pipelines_dir = {:?}\n{settings}",
            pipelines.display().to_string()
        );
    }
    Ok(settings)
}

/// The `framepipe` binary cargo built beside this test binary: in the same profile
/// directory, or, when cargo keeps intermediates in a separate build directory
/// (`CARGO_BUILD_BUILD_DIR`), in that profile directory of `CARGO_TARGET_DIR`.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let mut bin = dir.join("framepipe");
    if !bin.exists()
        && let (Some(target), Some(profile)) =
            (std::env::var_os("CARGO_TARGET_DIR"), dir.file_name())
    {
        bin = PathBuf::from(target).join(profile).join("framepipe");
    }
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` so the binary is built",
        bin.display()
    );
    bin
}

/// A directory laid out for `framepipe` processes: the settings file written from a
/// [`Setup`] and the data directory they share.
pub struct ProcessDir {
    /// `settings.toml`, for `Process::spawn`.
    pub settings: PathBuf,
    /// The data directory (artifacts, uploads, the SQLite file).
    pub data: PathBuf,
}

/// Writes `setup` into `dir` (see [`prepare_dir`]) as a settings file for processes.
pub fn process_dir(dir: &Path, setup: &Setup) -> Result<ProcessDir> {
    let settings = dir.join("settings.toml");
    std::fs::write(&settings, prepare_dir(dir, setup)?)?;
    Ok(ProcessDir {
        settings,
        data: dir.join("data"),
    })
}

/// A `framepipe` child process.
pub struct Process {
    pub child: Child,
    pub addr: Option<SocketAddr>,
}

impl Process {
    /// Starts `framepipe <args>` with a data dir, database and settings file.
    pub fn spawn(
        args: &[&str],
        data_dir: &Path,
        database_url: Option<&str>,
        settings: Option<&Path>,
    ) -> Result<Process> {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .env("FRAMEPIPE_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn,framepipe=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            cmd.env("FRAMEPIPE_DATABASE_URL", url);
        }
        if let Some(s) = settings {
            cmd.env("FRAMEPIPE_CONFIG", s);
        }
        let addr = args
            .windows(2)
            .find(|w| w[0] == "--addr")
            .map(|w| w[1].parse())
            .transpose()?;
        Ok(Process {
            child: cmd.spawn()?,
            addr,
        })
    }

    /// Waits until `/healthz` answers.
    pub async fn ready(&self, timeout: Duration) -> Result<()> {
        let addr = self.addr.context("no --addr")?;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(r) = reqwest::get(format!("http://{addr}/healthz")).await
                && r.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("server on {addr} not ready after {timeout:?}")
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for exit.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `framepipe keys create` and returns the key (last line of stdout).
pub fn create_key(data_dir: &Path, database_url: Option<&str>, admin: bool) -> Result<String> {
    let mut cmd = Command::new(binary());
    cmd.args(["keys", "create"])
        .env("FRAMEPIPE_DATA_DIR", data_dir);
    if admin {
        cmd.arg("--admin");
    }
    if let Some(url) = database_url {
        cmd.env("FRAMEPIPE_DATABASE_URL", url);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!(
            "keys create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8(out.stdout)?;
    Ok(stdout
        .lines()
        .last()
        .context("no output")?
        .trim()
        .to_owned())
}

/// A fresh PostgreSQL database on the local server; dropped by nobody (names are unique).
pub async fn fresh_postgres() -> Result<String> {
    use sqlx_like::create_database;
    create_database().await
}

/// Creating databases without adding sqlx to this crate: `psql` does it.
mod sqlx_like {
    use anyhow::{Result, bail};

    pub async fn create_database() -> Result<String> {
        let name = framepipe_test_postgres::unique_name("framepipe_it");
        let admin = tokio::task::spawn_blocking(framepipe_test_postgres::admin_url).await?;
        let status = tokio::process::Command::new("psql")
            .arg(&admin)
            .arg("-qc")
            .arg(format!("CREATE DATABASE {name}"))
            .status()
            .await?;
        if !status.success() {
            bail!("psql could not create database {name}");
        }
        Ok(framepipe_test_postgres::database_url(&admin, &name))
    }
}

/// `{"pipeline": name}` with an empty input.
pub fn job(pipeline: &str) -> Value {
    json!({"pipeline": pipeline})
}

/// A loopback HTTP server standing in for the internet: each path answers a scripted
/// sequence of statuses (the last one repeats) with a body and content type.
pub struct Fixtures {
    pub addr: SocketAddr,
    pub hits: Arc<std::sync::Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

/// One scripted path.
#[derive(Clone)]
pub struct Route {
    pub statuses: Vec<u16>,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl Fixtures {
    /// Serves `routes` on 127.0.0.1 (any other path: 404 with a placeholder body).
    pub async fn serve(routes: Vec<(&str, Route)>) -> Result<Fixtures> {
        use axum::extract::State;
        use axum::http::{StatusCode, Uri, header};
        use axum::response::IntoResponse;
        type Table = std::collections::HashMap<String, (Route, usize)>;
        type Shared = (
            Arc<std::sync::Mutex<Table>>,
            Arc<std::sync::Mutex<Vec<String>>>,
        );
        let table: Arc<std::sync::Mutex<Table>> = Arc::new(std::sync::Mutex::new(
            routes
                .into_iter()
                .map(|(p, r)| (p.to_owned(), (r, 0)))
                .collect(),
        ));
        let hits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let state = (table, hits.clone());
        let app = axum::Router::new()
            .fallback(|State((table, hits)): State<Shared>, uri: Uri| async move {
                hits.lock().unwrap().push(uri.path().to_owned());
                let mut table = table.lock().unwrap();
                match table.get_mut(uri.path()) {
                    Some((route, n)) => {
                        let status = route.statuses[(*n).min(route.statuses.len() - 1)];
                        *n += 1;
                        (
                            StatusCode::from_u16(status).unwrap(),
                            [(header::CONTENT_TYPE, route.content_type)],
                            route.body.clone(),
                        )
                            .into_response()
                    }
                    None => (
                        StatusCode::NOT_FOUND,
                        [(header::CONTENT_TYPE, "image/jpeg")],
                        b"placeholder".to_vec(),
                    )
                        .into_response(),
                }
            })
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Fixtures {
            addr,
            hits,
            _task: task,
        })
    }

    /// `http://127.0.0.1:port<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A generated fixture file (from tests/fixtures/make-fixtures.sh); fails clearly if absent.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/generated")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash tests/fixtures/make-fixtures.sh` (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// A JPEG of a given size (a gradient), for thumbnail fixtures.
pub fn jpeg(width: u16, height: u16, letterbox: bool) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    let band = height as usize / 8;
    for y in 0..height as usize {
        for x in 0..width as usize {
            let black = letterbox && (y < band || y >= height as usize - band);
            let v = if black {
                [0, 0, 0]
            } else {
                [
                    (x * 255 / width as usize) as u8,
                    (y * 255 / height as usize) as u8,
                    128,
                ]
            };
            pixels.extend_from_slice(&v);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}
