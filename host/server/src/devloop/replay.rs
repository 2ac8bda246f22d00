//! `framepipe job replay JOB_ID --step NAME --plugin FILE.wasm`: reruns one step of a
//! finished job locally, on the same inputs and config, to debug a plugin on the case
//! that failed (or to check a new build gives the same answer).
//!
//! Everything comes through the API with the job owner's key: the job view's step report
//! holds the resolved config, the limits and where each input came from
//! ([`crate::step_record`]); the job's input media is `GET /api/jobs/{id}/input`, earlier
//! steps' artifacts their artifact URLs, an earlier step's JSON result its report's
//! `result`. Inputs are saved under `--out/inputs/`, artifacts under `--out/artifacts/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use framepipe_runtime::{Input, Runtime, RuntimeConfig, StepLimits, StepRequest};
use serde_json::{Value, json};

/// What to replay and where.
#[derive(Debug)]
pub struct ReplayArgs {
    /// The server's base URL.
    pub server: String,
    /// The job owner's API key.
    pub key: String,
    /// The job.
    pub job: String,
    /// The step's name in the job's pipeline.
    pub step: String,
    /// The component to run.
    pub plugin: PathBuf,
    /// Where inputs and artifacts go.
    pub out: PathBuf,
    /// The compile cache directory.
    pub cache_dir: PathBuf,
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn get(&self, path: &str) -> anyhow::Result<bytes::Bytes> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let r = self
            .http
            .get(&url)
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = r.status();
        let body = r.bytes().await.with_context(|| format!("GET {url}"))?;
        if !status.is_success() {
            let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            bail!(
                "GET {url}: {status} {} {}",
                error["error"]["code"].as_str().unwrap_or(""),
                error["error"]["message"]
                    .as_str()
                    .unwrap_or(&String::from_utf8_lossy(&body))
            );
        }
        Ok(body)
    }
}

/// The step's report to replay: its last run (the fallback that succeeded, or the last
/// that failed).
fn step_report<'a>(job: &'a Value, step: &str) -> anyhow::Result<&'a Value> {
    let steps = job["steps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let report = steps
        .iter()
        .filter(|s| s["name"] == step)
        .max_by_key(|s| (s["status"] == "succeeded", s["fallback"].as_u64()))
        .with_context(|| {
            let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
            format!(
                "job {} has no run of step {step:?} (its steps: {names:?})",
                job["id"]
            )
        })?;
    if report.get("inputs").is_none() || report.get("config").is_none() {
        bail!(
            "step {step:?} of job {} was run by a server that did not record step inputs; it cannot be replayed",
            job["id"]
        );
    }
    Ok(report)
}

/// Replays the step; prints the result next to the job's own and says whether they match.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let api = Api {
        http: reqwest::Client::new(),
        base: args.server.clone(),
        key: args.key.clone(),
    };
    let job: Value = serde_json::from_slice(&api.get(&format!("/api/jobs/{}", args.job)).await?)
        .context("the job view is not JSON")?;
    if !matches!(job["status"].as_str(), Some("succeeded" | "failed")) {
        bail!(
            "job {} is {}: replay a finished job",
            args.job,
            job["status"]
        );
    }
    let report = step_report(&job, &args.step)?;
    let inputs_dir = args.out.join("inputs");
    std::fs::create_dir_all(&inputs_dir)
        .with_context(|| format!("creating {}", inputs_dir.display()))?;
    let mut inputs = Vec::new();
    let mut job_input: Option<PathBuf> = None;
    for given in report["inputs"].as_array().into_iter().flatten() {
        let name = given["name"].as_str().context("an input without a name")?;
        let media_type = given["media_type"]
            .as_str()
            .unwrap_or("application/octet-stream");
        let path = inputs_dir.join(sanitize(name));
        match given["source"].as_str() {
            Some("job_input") => {
                let fetched = match &job_input {
                    Some(p) => p.clone(),
                    None => {
                        let bytes = api.get(&format!("/api/jobs/{}/input", args.job)).await?;
                        let p = inputs_dir.join(".job-input");
                        write(&p, &bytes)?;
                        job_input = Some(p.clone());
                        p
                    }
                };
                std::fs::copy(&fetched, &path)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Some("artifact") => {
                let (step, artifact) = (
                    given["step"].as_str().unwrap_or_default(),
                    given["artifact"].as_str().unwrap_or_default(),
                );
                let bytes = api
                    .get(&format!(
                        "/api/jobs/{}/artifacts/{step}/{artifact}",
                        args.job
                    ))
                    .await?;
                write(&path, &bytes)?;
            }
            Some("result") => {
                let step = given["step"].as_str().unwrap_or_default();
                let result = job["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["name"] == step && s["status"] == "succeeded")
                    .and_then(|s| s.get("result"))
                    .with_context(|| format!("the job view has no result of step {step:?}"))?;
                write(&path, &serde_json::to_vec(result)?)?;
            }
            other => bail!("input {name:?} has an unknown source {other:?}"),
        }
        inputs.push(
            Input::file(name, &path, media_type)
                .with_context(|| format!("opening {}", path.display()))?,
        );
    }
    let limits = StepLimits {
        memory_mib: report["memory_cap_mib"]
            .as_u64()
            .map_or(StepLimits::default().memory_mib, |m| m as u32),
        ..StepLimits::default()
    };
    let bytes = std::fs::read(&args.plugin)
        .with_context(|| format!("cannot read {}", args.plugin.display()))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(args.cache_dir.clone()),
        max_instances: 1,
        max_memory_mib: limits
            .memory_mib
            .max(RuntimeConfig::default().max_memory_mib),
        ..RuntimeConfig::default()
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let plugin = runtime
        .load(&bytes)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
    let artifacts_dir = args.out.join("artifacts");
    let mut request = StepRequest::new(report["config"].clone(), &artifacts_dir);
    request.limits = limits;
    request.inputs = inputs;
    eprintln!(
        "replaying step {:?} of job {} ({} inputs in {}) with {}",
        args.step,
        args.job,
        request.inputs.len(),
        inputs_dir.display(),
        args.plugin.display()
    );
    let run = runtime.run(&plugin, request).await;
    let original = if report.get("result").is_some() {
        report["result"].clone()
    } else if job["steps"]
        .as_array()
        .and_then(|s| s.last())
        .map(|s| &s["name"])
        == Some(&json!(args.step))
    {
        job["result"].clone()
    } else {
        Value::Null
    };
    let (replayed, code) = match run.outcome {
        Ok(output) => (
            json!({"status": "succeeded", "result": output.result, "artifacts": output.artifacts}),
            ExitCode::SUCCESS,
        ),
        Err(f) => (
            json!({"status": "failed", "error": {"code": f.code(), "message": f.to_string()}}),
            ExitCode::FAILURE,
        ),
    };
    let same = replayed["status"] == report["status"]
        && if replayed["status"] == "succeeded" {
            replayed["result"] == original
        } else {
            replayed["error"]["code"] == report["error"]["code"]
        };
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "job": args.job,
            "step": args.step,
            "config": report["config"],
            "replayed": replayed,
            "stats": run.stats,
            "original": {"status": report["status"], "result": original, "error": report.get("error")},
            "same_outcome": same,
        }))?
    );
    Ok(code)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// An input name as a file name: the runtime checks names, this only keeps paths flat.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect()
}
