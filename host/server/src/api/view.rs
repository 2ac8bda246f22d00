//! The JSON shape of a job, as every endpoint returns it.

use framepipe_queue::{Job, JobState};
use serde_json::{Value, json};

/// The job as clients see it: status, progress with percentage and ETA, result, error,
/// per-step reports, artifact links.
pub fn job_json(job: &Job) -> Value {
    let id = job.id;
    let stored = job.result.as_ref();
    let steps = stored
        .and_then(|r| r.get("steps"))
        .or_else(|| {
            job.error
                .as_ref()
                .and_then(|e| e.details.as_ref())
                .and_then(|d| d.get("steps"))
        })
        .cloned()
        .unwrap_or_else(|| json!([]));
    let artifacts: Vec<Value> = stored
        .and_then(|r| r.get("artifacts"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| {
                    let mut a = a.clone();
                    let step = a["step"].as_str().unwrap_or_default().to_owned();
                    let name = a["name"].as_str().unwrap_or_default().to_owned();
                    a["url"] = json!(format!("/api/jobs/{id}/artifacts/{step}/{name}"));
                    a
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": id,
        "job_id": id,
        "pipeline": job.pipeline,
        "status": job.state,
        "legacy_status": legacy_status(job.state),
        "lane": job.lane,
        "priority": job.priority,
        "attempts": job.attempt,
        "max_attempts": job.max_attempts,
        "input": job.input,
        "params": job.params,
        "progress": progress_json(job),
        "result": stored.and_then(|r| r.get("output")).cloned(),
        "input_fetch": stored.and_then(|r| r.get("input")).cloned(),
        "steps": steps,
        "artifacts": artifacts,
        "error": job.error.as_ref().map(|e| json!({
            "code": e.code,
            "message": redact_paths(&e.message),
            "retryable": e.retryable,
        })),
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
        "next_attempt_at": (job.state == JobState::Retrying).then_some(job.run_at),
        "polling_url": format!("/api/jobs/{id}/"),
        "links": {
            "self": format!("/api/jobs/{id}"),
            "events": format!("/api/jobs/{id}/events"),
        },
    })
}

/// A job's error message with the server's absolute file paths replaced by `<path>`:
/// its owner may read it, the layout of the server's disk is none of their business.
pub fn redact_paths(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, token) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let start = token
            .find(|c: char| !matches!(c, '"' | '\'' | '(' | '[' | '`'))
            .unwrap_or(token.len());
        let (lead, rest) = token.split_at(start);
        let path_like =
            rest.starts_with('/') && !rest.starts_with("/api/") && rest.matches('/').count() >= 2;
        if path_like {
            let end = rest
                .find(['"', '\'', ')', ']', '`', ',', ';', ':'])
                .unwrap_or(rest.len());
            out.push_str(lead);
            out.push_str("<path>");
            out.push_str(&rest[end..]);
        } else {
            out.push_str(token);
        }
    }
    out
}

/// The old app's state names (`pending -> processing -> completed | failed`).
fn legacy_status(state: JobState) -> &'static str {
    match state {
        JobState::Queued | JobState::Retrying => "pending",
        JobState::Running => "processing",
        JobState::Succeeded => "completed",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

/// Progress with percentage and an ETA from the rate so far (`null` before any report).
pub fn progress_json(job: &Job) -> Value {
    let total_known = |p: &framepipe_queue::Progress| p.total > 0;
    match &job.progress {
        Some(p) if total_known(p) => {
            let percentage = (p.processed as f64 * 1000.0 / p.total as f64).round() / 10.0;
            let eta = job.started_at.and_then(|started| {
                let elapsed = (p.updated_at - started).num_milliseconds() as f64 / 1000.0;
                (p.processed > 0 && elapsed > 0.0 && job.state == JobState::Running).then(|| {
                    let rate = p.processed as f64 / elapsed;
                    ((p.total.saturating_sub(p.processed)) as f64 / rate * 10.0).round() / 10.0
                })
            });
            json!({
                "processed": p.processed,
                "total": p.total,
                "percentage": percentage,
                "estimated_time_remaining": eta,
                "processed_frames": p.processed,
                "total_frames": p.total,
                "updated_at": p.updated_at,
            })
        }
        _ if job.state == JobState::Succeeded => json!({
            "processed": 1, "total": 1, "percentage": 100.0, "estimated_time_remaining": 0.0,
        }),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::redact_paths;

    #[test]
    fn absolute_paths_are_redacted_urls_and_api_paths_kept() {
        assert_eq!(
            redact_paths("cannot open \"/srv/framepipe-data/files/x/input\": gone"),
            "cannot open \"<path>\": gone"
        );
        assert_eq!(
            redact_paths("fetch https://example.com/a/b failed; see /api/jobs/1/input"),
            "fetch https://example.com/a/b failed; see /api/jobs/1/input"
        );
        assert_eq!(redact_paths("at /tmp/x/y: no space"), "at <path>: no space");
    }
}
