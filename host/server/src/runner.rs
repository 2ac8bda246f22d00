//! Runs one attempt of a job: its pipeline's steps in order, each as a sandboxed plugin run,
//! fallbacks on failure, artifacts passed by reference, a report per step.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use framepipe_queue::Job;
use framepipe_runtime::{
    ArtifactInfo, CancelFlag, Input, LogLevel, OutboundAccess, Runtime, StepFailure, StepObserver,
    StepOutput, StepRequest, StepRun, escape_control,
};
use serde_json::{Map, Value, json};
use tokio::sync::{OnceCell, watch};
use tracing::Instrument;

use crate::artifacts::ArtifactStore;
use crate::fetch::{FetchError, Fetcher, LocalInput};
use crate::input::JobInput;
use crate::pipeline::params::{Placeholders, resolve_params, substitute};
use crate::pipeline::{InputRef, Pipeline, Run};
use crate::step_record::{GivenInput, InputSource, StepRecord};

/// Builds the network access of a step from the hosts it is granted.
pub type OutboundFactory = Arc<dyn Fn(&[String]) -> OutboundAccess + Send + Sync>;

/// Everything a job attempt needs besides the job.
pub struct Runner {
    /// The sandbox.
    pub runtime: Arc<Runtime>,
    /// File storage.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Input downloads.
    pub fetcher: Fetcher,
    /// Network access per step.
    pub outbound: OutboundFactory,
    /// `$settings.*` values.
    pub settings: Map<String, Value>,
    /// Step durations, CPU, memory and limit hits are counted here.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct JobFailure {
    /// Machine-readable code.
    pub code: String,
    /// What went wrong, naming the step.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
    /// Per-step reports up to the failure.
    pub steps: Vec<Value>,
}

impl JobFailure {
    /// True when the attempt stopped because the job was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.code == "CANCELLED"
    }
}

/// Progress of the running step: `(processed, total)`.
pub type ProgressSender = watch::Sender<(u64, u64)>;

struct Observer {
    /// Only the pipeline's last step reports the job's progress (its units are what a
    /// client counts, e.g. frames analysed); earlier steps' progress would restart it.
    progress: Option<ProgressSender>,
}

impl StepObserver for Observer {
    fn progress(&self, processed: u64, total: u64) {
        if let Some(p) = &self.progress {
            p.send_replace((processed, total));
        }
    }

    /// The line (control characters already escaped by the runtime) is a field of an
    /// event inside the step's span (job, step, plugin), never the event's own text.
    fn log(&self, level: LogLevel, message: &str) {
        match level {
            LogLevel::Error => tracing::error!(plugin_log = message, "plugin log"),
            LogLevel::Warn => tracing::warn!(plugin_log = message, "plugin log"),
            LogLevel::Info => tracing::info!(plugin_log = message, "plugin log"),
            _ => tracing::debug!(plugin_log = message, "plugin log"),
        }
    }
}

/// One step's outputs, for later steps.
struct Produced {
    result: Value,
    artifacts: Vec<ArtifactInfo>,
}

impl Runner {
    /// Runs every step of `pipeline` for `job`. `cancel` interrupts the running plugin.
    pub async fn run(
        &self,
        job: &Job,
        pipeline: &Pipeline,
        cancel: CancelFlag,
        progress: ProgressSender,
    ) -> Result<Value, JobFailure> {
        let mut reports: Vec<Value> = Vec::new();
        let fail = |code: &str, message: String, retryable: bool, steps: &Vec<Value>| JobFailure {
            code: code.to_owned(),
            message,
            retryable,
            steps: steps.clone(),
        };
        let input = JobInput::from_stored(&job.input)
            .map_err(|e| fail(e.code, e.message, false, &reports))?;
        let params = resolve_params(&pipeline.params, &job.params)
            .map_err(|m| fail("INVALID_PARAMS", m, false, &reports))?;
        let input_values = input.placeholder_values();
        let placeholders = Placeholders {
            params: &params,
            input: &input_values,
            settings: &self.settings,
        };
        let local_input: OnceCell<LocalInput> = OnceCell::new();
        let mut produced: HashMap<String, Produced> = HashMap::new();
        let mut all_artifacts = Vec::new();

        for (step_index, step) in pipeline.steps.iter().enumerate() {
            let reports_progress = (step_index + 1 == pipeline.steps.len()).then_some(&progress);
            let mut failures: Vec<(String, String, bool)> = Vec::new();
            let mut done = None;
            for (index, run) in step.runs.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    return Err(fail("CANCELLED", "cancelled".into(), false, &reports));
                }
                let attempt = self
                    .run_once(
                        job,
                        &input,
                        &local_input,
                        &produced,
                        &placeholders,
                        step.name.as_str(),
                        run,
                        &cancel,
                        reports_progress,
                    )
                    .await;
                let (report, outcome) = match attempt {
                    Ok((run_result, record)) => {
                        let mut report =
                            step_report(&step.name, index, run, Some(&run_result), None);
                        record.write_to(&mut report);
                        match run_result.outcome {
                            Ok(out) => {
                                // A later step may read this result: kept for a replay.
                                if step_index + 1 < pipeline.steps.len() {
                                    report["result"] = out.result.clone();
                                }
                                (report, Ok(out))
                            }
                            Err(f) => {
                                let (code, message) = failure_code(&f);
                                let mut report = step_report(
                                    &step.name,
                                    index,
                                    run,
                                    None,
                                    Some((&code, message.clone(), &run_result.stats)),
                                );
                                record.write_to(&mut report);
                                (
                                    report,
                                    Err((
                                        code,
                                        message,
                                        f.retryable(),
                                        matches!(f, StepFailure::Cancelled),
                                    )),
                                )
                            }
                        }
                    }
                    Err(e) => {
                        let mut report = step_report(&step.name, index, run, None, None);
                        report["status"] = json!("failed");
                        report["error"] = json!({"code": e.code(), "message": e.to_string()});
                        (
                            report,
                            Err((e.code().to_owned(), e.to_string(), e.retryable(), false)),
                        )
                    }
                };
                reports.push(report);
                match outcome {
                    Ok(out) => {
                        done = Some(out);
                        break;
                    }
                    Err((_, _, _, true)) => {
                        return Err(fail("CANCELLED", "cancelled".into(), false, &reports));
                    }
                    Err((code, message, retryable, false)) => {
                        tracing::info!(job_id = %job.id, step = %step.name, run = index, code = %code, error = %escape_control(&message), "step run failed");
                        failures.push((code, message, retryable));
                    }
                }
            }
            let Some(StepOutput { result, artifacts }) = done else {
                let (code, first_message, _) = failures[0].clone();
                let retryable = failures.iter().any(|f| f.2);
                let mut message = format!("step `{}` failed: {first_message}", step.name);
                for (i, (code, m, _)) in failures.iter().enumerate().skip(1) {
                    message.push_str(&format!("; fallback {i} ({code}): {m}"));
                }
                return Err(fail(&code, message, retryable, &reports));
            };
            for a in &artifacts {
                all_artifacts.push(json!({
                    "step": step.name,
                    "name": a.name,
                    "media_type": a.media_type,
                    "size": a.size,
                }));
            }
            produced.insert(step.name.clone(), Produced { result, artifacts });
        }

        let last = pipeline.steps.last().map(|s| s.name.as_str()).unwrap_or("");
        let output = produced
            .remove(last)
            .map(|p| p.result)
            .unwrap_or(Value::Null);
        let mut result = json!({
            "output": output,
            "steps": reports,
            "artifacts": all_artifacts,
        });
        if let Some(input) = local_input.get() {
            result["input"] = json!({
                "source": input.source,
                "media_type": input.media_type,
                "bytes": input.size,
                "fetch_ms": round2(input.fetch_ms),
            });
        }
        Ok(result)
    }

    /// One run of one step: inputs materialized, config filled in, plugin run.
    #[allow(clippy::too_many_arguments)]
    async fn run_once(
        &self,
        job: &Job,
        input: &JobInput,
        local_input: &OnceCell<LocalInput>,
        produced: &HashMap<String, Produced>,
        placeholders: &Placeholders<'_>,
        step: &str,
        run: &Run,
        cancel: &CancelFlag,
        progress: Option<&ProgressSender>,
    ) -> Result<(StepRun, StepRecord), FetchError> {
        let mut inputs = Vec::new();
        let mut given = Vec::new();
        let mut record = |name: &str, media_type: &str, source: InputSource| {
            given.push(GivenInput {
                name: name.to_owned(),
                media_type: media_type.to_owned(),
                source,
            })
        };
        for (key, source) in &run.inputs {
            match source {
                InputRef::JobInput => {
                    let local = local_input
                        .get_or_try_init(|| self.materialize(job, input))
                        .await?;
                    inputs.push(Input::file(key, &local.path, &local.media_type)?);
                    record(key, &local.media_type, InputSource::JobInput);
                }
                InputRef::Artifact { step, name } => {
                    let found = produced
                        .get(step)
                        .and_then(|p| p.artifacts.iter().find(|a| &a.name == name));
                    match found {
                        Some(a) => {
                            inputs.push(Input::file(key, &a.path, &a.media_type)?);
                            record(
                                key,
                                &a.media_type,
                                InputSource::Artifact {
                                    step: step.clone(),
                                    artifact: a.name.clone(),
                                },
                            );
                        }
                        None => {
                            tracing::debug!(step = %step, artifact = %name, "optional artifact absent")
                        }
                    }
                }
                InputRef::AllArtifacts { step } => {
                    for a in produced
                        .get(step)
                        .map(|p| p.artifacts.as_slice())
                        .unwrap_or(&[])
                    {
                        inputs.push(Input::file(&a.name, &a.path, &a.media_type)?);
                        record(
                            &a.name,
                            &a.media_type,
                            InputSource::Artifact {
                                step: step.clone(),
                                artifact: a.name.clone(),
                            },
                        );
                    }
                }
                InputRef::Result { step } => {
                    let value = produced
                        .get(step)
                        .map(|p| &p.result)
                        .unwrap_or(&Value::Null);
                    inputs.push(Input::bytes(
                        key,
                        serde_json::to_vec(value).unwrap_or_default(),
                        "application/json",
                    ));
                    record(
                        key,
                        "application/json",
                        InputSource::Result { step: step.clone() },
                    );
                }
            }
        }
        let config = substitute(&run.config, placeholders)
            .map_err(|m| FetchError::Io(std::io::Error::other(m)))?;
        let record = StepRecord {
            config: config.clone(),
            inputs: given,
        };
        let output_dir = self.artifacts.step_dir(job.id, step)?;
        if let Some(p) = progress {
            p.send_replace((0, 0));
        }
        let request = StepRequest {
            config,
            inputs,
            output_dir,
            limits: run.limits,
            outbound: if run.hosts.is_empty() && run.plugin.info().hosts.is_empty() {
                OutboundAccess::deny_all()
            } else {
                (self.outbound)(&run.hosts)
            },
            observer: Arc::new(Observer {
                progress: progress.cloned(),
            }),
            cancel: cancel.clone(),
        };
        let span = tracing::info_span!("step", job_id = %job.id, step = %step, plugin = %run.plugin.info().name);
        let _enter = span.enter();
        tracing::info!(config = %request.config, "step started");
        drop(_enter);
        // Inside the span: the plugin's log lines (emitted from its host calls) carry it.
        let result = self
            .runtime
            .run(&run.plugin, request)
            .instrument(span.clone())
            .await;
        self.metrics
            .step_finished(&job.pipeline, &run.plugin.info().name, &result);
        let _enter = span.enter();
        match &result.outcome {
            Ok(_) => tracing::info!(
                wall_ms = result.stats.wall_ms,
                cpu_ms = result.stats.cpu_ms,
                peak_mib = result.stats.peak_memory_bytes >> 20,
                "step succeeded"
            ),
            Err(f) => tracing::warn!(
                code = f.code(),
                wall_ms = result.stats.wall_ms,
                error = %escape_control(&f.to_string()),
                "step failed"
            ),
        }
        Ok((result, record))
    }

    async fn materialize(&self, job: &Job, input: &JobInput) -> Result<LocalInput, FetchError> {
        match input {
            JobInput::Upload(id) => {
                let (meta, path) = self
                    .artifacts
                    .upload(*id)
                    .filter(|(meta, _)| meta.owner == job.owner)
                    .ok_or_else(|| FetchError::Status {
                        status: 404,
                        url: format!("upload {id}"),
                    })?;
                Ok(LocalInput {
                    path,
                    media_type: meta.media_type,
                    size: meta.size,
                    fetch_ms: 0.0,
                    source: format!("upload {id}"),
                })
            }
            JobInput::Url(url) => {
                self.fetcher
                    .fetch_url(url, self.artifacts.input_dir(job.id)?)
                    .await
            }
            JobInput::Youtube(v) => {
                self.fetcher
                    .fetch_youtube(&v.canonical_url, self.artifacts.input_dir(job.id)?)
                    .await
            }
            JobInput::None => Err(FetchError::Io(std::io::Error::other(
                "this job has no input, but a step reads `$input`",
            ))),
        }
    }
}

/// The job error code and message of a step failure. A plugin may give its own code by
/// starting its message with `CODE: ` (SCREAMING_SNAKE, e.g. `NO_THUMBNAIL: ...`); the
/// error kind still decides whether the job is retried.
pub fn failure_code(f: &StepFailure) -> (String, String) {
    if let StepFailure::Plugin { message, .. } = f
        && let Some((code, rest)) = message.split_once(": ")
        && (3..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return (code.to_owned(), rest.to_owned());
    }
    (f.code().to_owned(), f.to_string())
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The report of one step run, kept in the job's result (or error details).
fn step_report(
    step: &str,
    index: usize,
    run: &Run,
    ok: Option<&StepRun>,
    failed: Option<(&str, String, &framepipe_runtime::StepStats)>,
) -> Value {
    let info = run.plugin.info();
    let stats = ok.map(|r| &r.stats).or(failed.as_ref().map(|f| f.2));
    let mut report = json!({
        "name": step,
        "plugin": info.name,
        "version": info.version,
        "digest": info.digest,
        "fallback": index,
        "status": if failed.is_some() { "failed" } else { "succeeded" },
    });
    if let Some(s) = stats {
        report["wall_ms"] = json!(round2(s.wall_ms));
        report["wait_ms"] = json!(round2(s.wait_ms));
        report["instantiate_us"] = json!(round2(s.instantiate_us));
        report["cpu_ms"] = json!(round2(s.cpu_ms));
        report["peak_memory_mib"] = json!(round2(s.peak_memory_bytes as f64 / 1048576.0));
        report["memory_cap_mib"] = json!(run.limits.memory_mib);
        report["bytes_read"] = json!(s.bytes_read);
        report["output_bytes"] = json!(s.output_bytes);
    }
    if let Some((code, message, _)) = failed {
        report["error"] = json!({"code": code, "message": message});
    }
    report
}
