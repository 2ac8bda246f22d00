//! Submitting a job: the checks of the request path (syntax, ownership, parameters against
//! the pipeline and its plugins' schemas), then one insert. No network, no media work.

use axum::http::StatusCode;
use framepipe_queue::{Job, NewJob};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ApiError, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::input::JobInput;
use crate::pipeline::InputKind;
use crate::pipeline::params::{Placeholders, resolve_params, substitute};

/// The body of `POST /api/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Pipeline name.
    pub pipeline: String,
    /// `{"upload": id}`, `{"url": ...}`, `{"youtube_url": ...}` or absent.
    #[serde(default)]
    pub input: Value,
    /// Pipeline parameters.
    #[serde(default)]
    pub params: Value,
    /// Overrides the pipeline's priority (higher first, -100..=100).
    #[serde(default)]
    pub priority: Option<i32>,
    /// Resubmitting with the same key returns the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Checks and enqueues; returns the job and whether it is new.
pub async fn submit(app: &App, caller: &Caller, req: SubmitRequest) -> ApiResult<(Job, bool)> {
    let Some(pipeline) = app.pipelines.get(&req.pipeline) else {
        let names: Vec<String> = app.pipelines.all().iter().map(|p| p.name.clone()).collect();
        return Err(ApiError::bad_request(
            "UNKNOWN_PIPELINE",
            format!(
                "no pipeline named {:?}; available: {}",
                req.pipeline,
                names.join(", ")
            ),
        ));
    };
    let input =
        JobInput::parse(&req.input).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let accepts = |k: InputKind| pipeline.accepts.contains(&k);
    if !accepts(input.kind()) {
        let names: Vec<&str> = pipeline.accepts.iter().map(|k| k.as_str()).collect();
        let code = if input.kind() == InputKind::None {
            "MISSING_INPUT"
        } else {
            "INPUT_NOT_ACCEPTED"
        };
        return Err(ApiError::bad_request(
            code,
            format!(
                "pipeline `{}` takes an input of kind {} (as `input`: {{\"upload\": id}}, {{\"url\": ...}} or {{\"youtube_url\": ...}}); got {}",
                pipeline.name,
                names.join(" or "),
                input.kind().as_str()
            ),
        ));
    }
    if let JobInput::Upload(id) = &input {
        let owned = app
            .artifacts
            .upload(*id)
            .is_some_and(|(meta, _)| meta.owner == caller.owner());
        if !owned {
            return Err(ApiError::bad_request(
                "UPLOAD_NOT_FOUND",
                format!("no upload {id} of yours; upload the file with POST /api/uploads first"),
            ));
        }
    }
    let mut params = match req.params {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(ApiError::bad_request(
                "INVALID_PARAMS",
                format!("`params` must be a JSON object, not {other}"),
            ));
        }
    };
    // A YouTube link's start time (`t=90`) is the frame time unless the client chose one.
    if let JobInput::Youtube(v) = &input
        && let Some(start) = v.start_seconds
        && pipeline.params.contains_key("at_seconds")
        && !params.contains_key("at_seconds")
    {
        params.insert("at_seconds".into(), Value::from(start));
    }
    let resolved = resolve_params(&pipeline.params, &Value::Object(params.clone()))
        .map_err(|m| ApiError::bad_request("INVALID_PARAMS", m))?;
    check_step_configs(app, &pipeline, &input, &resolved)?;
    if let Some(p) = req.priority
        && !(-100..=100).contains(&p)
    {
        return Err(ApiError::bad_request(
            "INVALID_PRIORITY",
            "priority must be from -100 to 100",
        ));
    }
    if let Some(p) = req.priority
        && p > pipeline.priority
        && !caller.0.admin
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PRIORITY_NOT_ALLOWED",
            format!(
                "only an admin key may raise a job's priority above its pipeline's ({}); give at most {} or leave `priority` out",
                pipeline.priority, pipeline.priority
            ),
        ));
    }
    if let Some(key) = &req.idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "an idempotency key must be 1 to 200 characters",
        ));
    }
    check_queue_quota(app, caller).await?;
    let mut job = NewJob::new(caller.owner(), pipeline.name.clone(), input.to_json());
    job.lane = pipeline.lane.clone();
    job.priority = req.priority.unwrap_or(pipeline.priority);
    job.params = Value::Object(params);
    job.max_attempts = pipeline.max_attempts;
    job.idempotency_key = req.idempotency_key;
    let enqueued = app.store.enqueue(job).await?;
    if enqueued.created {
        app.wake.notify_waiters();
        app.metrics.job_enqueued(&pipeline.name, &pipeline.lane);
        tracing::info!(job_id = %enqueued.job.id, pipeline = %pipeline.name, "job submitted");
    }
    Ok((enqueued.job, enqueued.created))
}

/// 429 `QUEUE_QUOTA_EXCEEDED` when the key already holds its quota of queued, retrying
/// and running jobs (`[quotas] max_active_jobs_per_key`; counted in the database, so it
/// holds across processes; admin keys are exempt). Submissions racing in several
/// processes may overshoot it by the number in flight at once.
async fn check_queue_quota(app: &App, caller: &Caller) -> ApiResult<()> {
    let max = app.config.file.quotas.max_active_jobs_per_key;
    if max == 0 || caller.0.admin {
        return Ok(());
    }
    let active = app.store.active_jobs(&caller.owner()).await?;
    if active >= max {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "QUEUE_QUOTA_EXCEEDED",
            format!(
                "this key has {active} jobs queued or running, its quota is {max}; wait for some to finish (or cancel them)"
            ),
        )
        .with_retry_after(5));
    }
    Ok(())
}

/// Every step config, with this job's parameters filled in, must fit its plugin's schema:
/// a bad parameter is a 400 now rather than a failed job later.
fn check_step_configs(
    app: &App,
    pipeline: &crate::pipeline::Pipeline,
    input: &JobInput,
    params: &Map<String, Value>,
) -> ApiResult<()> {
    let input_values = input.placeholder_values();
    let values = Placeholders {
        params,
        input: &input_values,
        settings: &app.settings,
    };
    for step in &pipeline.steps {
        for run in &step.runs {
            let Some(schema) = &run.plugin.info().config_schema else {
                continue;
            };
            let config = substitute(&run.config, &values)
                .map_err(|m| ApiError::bad_request("INVALID_PARAMS", m))?;
            if let Err(m) = framepipe_runtime::schema::validate(schema, &config) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMS",
                    format!(
                        "step `{}` would get an invalid config from these params: {m}",
                        step.name
                    ),
                ));
            }
        }
    }
    Ok(())
}
