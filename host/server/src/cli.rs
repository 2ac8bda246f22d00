//! The `framepipe` command line: `serve`, `worker`, `keys create`, `plugin check`,
//! `plugin new`, `pipeline check`, `run-step` (`--watch`), `job replay`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use framepipe_runtime::{Runtime, RuntimeConfig};

use crate::app::{App, start};
use crate::config::{CommonArgs, Config};

/// framepipe: a job server running video pipelines as sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "framepipe", version)]
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Log as JSON lines (for log collectors) instead of text.
    #[arg(long, env = "FRAMEPIPE_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The HTTP API plus workers (unless --no-workers).
    Serve {
        /// Listen address.
        #[arg(long, env = "FRAMEPIPE_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// API only: leave the jobs to `framepipe worker` processes.
        #[arg(long)]
        no_workers: bool,
    },
    /// Workers only: claim and run jobs; no API.
    Worker {
        /// Serve `GET /metrics`, `/healthz` and `/readyz` (nothing else) on this address.
        #[arg(long, env = "FRAMEPIPE_METRICS_ADDR")]
        metrics_addr: Option<SocketAddr>,
    },
    /// API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Pipeline definitions.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// Runs one plugin once on local files, in the sandbox, without a server or queue:
    /// for trying a plugin while writing it, and for benchmarks.
    RunStep {
        /// A built-in plugin name, or a path to a `.wasm` component.
        plugin: String,
        /// Inputs as `NAME=PATH` (media type from the extension).
        #[arg(long = "input", value_name = "NAME=PATH")]
        inputs: Vec<String>,
        /// The step config, as JSON.
        #[arg(long, default_value = "{}")]
        config: String,
        /// Where artifacts are written.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Memory cap, MiB.
        #[arg(long, default_value_t = 64)]
        memory_mib: u32,
        /// Run again each time the plugin file changes (a rebuild), until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
    /// Jobs, seen through a server's API.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Reruns one step of a finished job locally, on the same inputs and config (fetched
    /// through the API with the job owner's key), with a plugin of your choosing.
    Replay {
        /// The job's id.
        job: String,
        /// The step to rerun (its name in the pipeline).
        #[arg(long)]
        step: String,
        /// The component to run (e.g. a fixed build of the step's plugin).
        #[arg(long)]
        plugin: PathBuf,
        /// The server's base URL.
        #[arg(
            long,
            env = "FRAMEPIPE_SERVER",
            default_value = "http://127.0.0.1:8080"
        )]
        server: String,
        /// The job owner's API key.
        #[arg(long, env = "FRAMEPIPE_KEY", hide_env_values = true)]
        key: String,
        /// Where the inputs (inputs/) and artifacts (artifacts/) go.
        #[arg(long, default_value = "replay")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Creates a key; the key itself is the last line printed (it is stored only hashed).
    Create {
        /// Admin scope: upload plugins, reload pipelines.
        #[arg(long)]
        admin: bool,
        /// A label for the key.
        #[arg(long, default_value = "default")]
        name: String,
        /// The key stops working after this long: `90s`, `15m`, `12h`, `30d`.
        #[arg(long, value_parser = crate::auth::parse_lifetime)]
        expires_in: Option<std::time::Duration>,
    },
    /// Lists every key (id, name, scope, created, expiry, revocation); never secrets.
    List,
    /// Revokes a key: every process refuses it within about a second; it stays listed.
    Revoke {
        /// The key's id (from `keys list`).
        id: uuid::Uuid,
    },
    /// Deletes a key's record (its jobs stay); refused from then on, like a revoked key.
    Delete {
        /// The key's id (from `keys list`).
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Checks a component against the plugin world, offline; prints its description.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Writes a new plugin's skeleton (with a test) into ./NAME (or --dir).
    New {
        /// The plugin's name, `[a-z0-9-]`.
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: crate::devloop::scaffold::Lang,
        /// Directory to create (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The framepipe sources the skeleton takes the SDK from (default:
        /// $FRAMEPIPE_SOURCE_DIR, else the sources this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PipelineCommand {
    /// Checks a pipeline definition against the loaded plugins; errors give file and line.
    Check {
        /// The `.toml` definition.
        file: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,cranelift=warn,wasmtime=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match cli.command {
        Command::Serve { addr, no_workers } => {
            let app = App::open(Config::load(&cli.common)?).await?;
            let running = start(app, addr, !no_workers).await?;
            wait_for_signal().await;
            tracing::info!("shutting down: no new jobs, running ones get the grace period");
            running.shutdown.cancel();
            let _ = running.done.await;
            running.app.store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { metrics_addr } => {
            let app = App::open(Config::load(&cli.common)?).await?;
            let metrics = match metrics_addr {
                Some(addr) => Some(crate::api::serve_metrics_only(app.clone(), addr).await?),
                None => None,
            };
            app.spawn_housekeeping();
            let task = app.spawn_workers(app.shutdown.clone())?;
            tracing::info!(backend = app.store.backend(), "framepipe worker running");
            wait_for_signal().await;
            app.shutdown.cancel();
            let _ = task.await;
            if let Some(metrics) = metrics {
                let _ = metrics.await;
            }
            app.store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => {
            let config = Config::load(&cli.common)?;
            std::fs::create_dir_all(&config.data_dir)?;
            let store = framepipe_queue::Store::open(&config.database_url).await?;
            let result = keys_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Plugin {
            command: PluginCommand::Check { file },
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let runtime = Runtime::new(RuntimeConfig {
                cache_dir: None,
                ..RuntimeConfig::default()
            })
            .map_err(|e| anyhow::anyhow!(e))?;
            match runtime.load(&bytes).await {
                Ok(plugin) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&crate::api::plugin_json(&plugin))?
                    );
                    eprintln!(
                        "ok: {} {} implements framepipe:plugin@{}",
                        plugin.info().name,
                        plugin.info().version,
                        plugin.info().wit_version
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: refused ({}): {e}", file.display(), e.code());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::RunStep {
            plugin,
            inputs,
            config,
            out,
            memory_mib,
            watch: false,
        } => run_step(&cli.common, &plugin, &inputs, &config, &out, memory_mib).await,
        Command::RunStep {
            plugin,
            inputs,
            config,
            out,
            memory_mib,
            watch: true,
        } => {
            let common = &cli.common;
            crate::devloop::watch::watch(std::path::Path::new(&plugin), || {
                run_step(common, &plugin, &inputs, &config, &out, memory_mib)
            })
            .await
        }
        Command::Plugin {
            command:
                PluginCommand::New {
                    name,
                    lang,
                    dir,
                    sdk,
                },
        } => {
            let sources = crate::devloop::scaffold::source_dir(sdk.as_deref())?;
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let files = crate::devloop::scaffold::create(&name, lang, &dir, &sources)?;
            for f in &files {
                println!("{}", f.display());
            }
            eprintln!(
                "created {} ({lang:?}); its README.md has the build, test and run commands",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Job {
            command:
                JobCommand::Replay {
                    job,
                    step,
                    plugin,
                    server,
                    key,
                    out,
                },
        } => {
            crate::devloop::replay::replay(crate::devloop::replay::ReplayArgs {
                server,
                key,
                job,
                step,
                plugin,
                out,
                cache_dir: cli.common.data_dir.join("cache"),
            })
            .await
        }
        Command::Pipeline {
            command: PipelineCommand::Check { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let app = App::open(Config::load(&cli.common)?).await?;
            let cx = app.load_context();
            match crate::pipeline::parse_pipeline(&cx, &file.display().to_string(), &text) {
                Ok(p) => {
                    println!("{}", serde_json::to_string_pretty(&p.to_json())?);
                    eprintln!("ok: pipeline {} ({} steps)", p.name, p.steps.len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

async fn run_step(
    common: &CommonArgs,
    plugin: &str,
    inputs: &[String],
    config: &str,
    out: &std::path::Path,
    memory_mib: u32,
) -> anyhow::Result<std::process::ExitCode> {
    use framepipe_runtime::{Input, StepLimits, StepRequest};
    // A built-in plugin's digest is known from the build: with a warm compile cache its
    // embedded bytes are never read.
    let (bytes, digest): (std::borrow::Cow<[u8]>, String) =
        match framepipe_guests::with_digest(plugin) {
            Some((b, d)) => (b.into(), d.to_owned()),
            None => {
                let b = std::fs::read(plugin).with_context(|| {
                    format!("{plugin:?} is neither a built-in plugin nor a readable file")
                })?;
                let d = framepipe_runtime::digest(&b);
                (b.into(), d)
            }
        };
    let config: serde_json::Value = serde_json::from_str(config).context("--config is not JSON")?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(common.data_dir.join("cache")),
        max_instances: 1,
        ..RuntimeConfig::default()
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let plugin = runtime
        .load_with_digest(&bytes, digest)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
    let mut request = StepRequest::new(config, out);
    request.limits = StepLimits {
        memory_mib,
        ..StepLimits::default()
    };
    for spec in inputs {
        let (name, path) = spec.split_once('=').context("--input must be NAME=PATH")?;
        let path = std::path::Path::new(path);
        let media_type = crate::artifacts::media_type_of(&path.display().to_string())
            .unwrap_or("application/octet-stream");
        request.inputs.push(
            Input::file(name, path, media_type)
                .with_context(|| format!("cannot open {}", path.display()))?,
        );
    }
    std::fs::create_dir_all(out)?;
    let run = runtime.run(&plugin, request).await;
    match run.outcome {
        Ok(output) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "result": output.result,
                    "artifacts": output.artifacts,
                    "stats": run.stats,
                }))?
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(f) => {
            eprintln!("{}: {f}", f.code());
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}

async fn keys_command(
    store: &framepipe_queue::Store,
    command: KeysCommand,
) -> anyhow::Result<std::process::ExitCode> {
    match command {
        KeysCommand::Create {
            admin,
            name,
            expires_in,
        } => {
            let expires_at = expires_in
                .map(|d| chrono::Duration::from_std(d).map(|d| chrono::Utc::now() + d))
                .transpose()
                .context("the lifetime is too long")?;
            let (info, secret) = store.create_key_expiring(&name, admin, expires_at).await?;
            let expiry = info
                .expires_at
                .map(|e| format!(", expires {}", e.to_rfc3339()))
                .unwrap_or_default();
            println!(
                "created key {} ({}{}{expiry})",
                info.id,
                info.name,
                if admin { ", admin" } else { "" }
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            let now = chrono::Utc::now();
            println!("id\tname\tadmin\tcreated\texpires\tstatus");
            for key in store.list_keys().await? {
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else if !key.usable_at(now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{status}",
                    key.id,
                    key.name,
                    key.admin,
                    key.created_at.to_rfc3339(),
                    key.expires_at
                        .map(|e| e.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                );
            }
        }
        KeysCommand::Revoke { id } => match store.revoke_key(id).await? {
            Some(_) => println!("revoked key {id}"),
            None => anyhow::bail!("no key {id} (see `framepipe keys list`)"),
        },
        KeysCommand::Delete { id } => {
            if !store.delete_key(id).await? {
                anyhow::bail!("no key {id} (see `framepipe keys list`)");
            }
            println!("deleted key {id}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
