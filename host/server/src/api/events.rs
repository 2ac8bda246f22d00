//! `GET /api/jobs/{id}/events`: Server-Sent Events with the job's progress and state.
//!
//! Events: `state` (the whole job, on each state change, first one at once), `progress`
//! (on each new progress report), and a last `done` (the final job) before the stream
//! closes. The stream reads the queue, so it works whichever process runs the job.
//!
//! A key holds at most `[quotas] max_event_streams` streams open in each process (admin
//! keys exempt); one more is refused with `429 TOO_MANY_STREAMS`. A stream's place is
//! given back when the stream is dropped: when it ends, or when its client goes away.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use framepipe_queue::JobState;
use futures::Stream;
use uuid::Uuid;

use super::jobs::owned_job;
use super::view::{job_json, progress_json};
use super::{ApiError, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::quotas::StreamGuard;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/jobs/{id}/events", get(events))
}

/// How often the stream looks at the job.
const POLL: Duration = Duration::from_millis(200);

async fn events(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = owned_job(&app, &caller, &id).await?.id;
    let guard = stream_place(&app, &caller)?;
    let owner = caller.owner();
    let stream = futures::stream::unfold(Watch::new(app, id, owner, guard), |mut w| async move {
        w.next().await.map(|event| (Ok(event), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Takes one of the key's stream places, or refuses with `429 TOO_MANY_STREAMS`.
/// Admin keys are not counted.
fn stream_place(app: &Arc<App>, caller: &Caller) -> ApiResult<Option<StreamGuard>> {
    if caller.0.admin {
        return Ok(None);
    }
    match app.streams.acquire(caller.0.id) {
        Some(guard) => Ok(Some(guard)),
        None => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_STREAMS",
            format!(
                "this key already has {} event streams open, its quota (quotas.max_event_streams); close one, or poll GET /api/jobs/{{id}} instead",
                app.streams.max()
            ),
        )
        .with_retry_after(5)),
    }
}

struct Watch {
    app: Arc<App>,
    /// The key's stream place, given back when the stream (and so this) is dropped.
    _place: Option<StreamGuard>,
    id: Uuid,
    owner: String,
    last_state: Option<JobState>,
    last_progress: Option<(u64, u64)>,
    finished: bool,
}

impl Watch {
    fn new(app: Arc<App>, id: Uuid, owner: String, place: Option<StreamGuard>) -> Watch {
        Watch {
            app,
            _place: place,
            id,
            owner,
            last_state: None,
            last_progress: None,
            finished: false,
        }
    }

    /// The next event, waiting for a change; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.finished {
            return None;
        }
        let mut first = self.last_state.is_none();
        loop {
            if !first {
                tokio::select! {
                    _ = self.app.shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            first = false;
            let job = match self.app.store.get(self.id, Some(&self.owner)).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    self.finished = true;
                    return Some(
                        Event::default()
                            .event("deleted")
                            .data(format!("{{\"id\":\"{}\"}}", self.id)),
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    continue;
                }
            };
            if job.state.is_terminal() {
                self.finished = true;
                return Some(json_event("done", &job_json(&job)));
            }
            if self.last_state != Some(job.state) {
                self.last_state = Some(job.state);
                return Some(json_event("state", &job_json(&job)));
            }
            let progress = job.progress.as_ref().map(|p| (p.processed, p.total));
            if progress.is_some() && progress != self.last_progress {
                self.last_progress = progress;
                return Some(json_event("progress", &progress_json(&job)));
            }
        }
    }
}

fn json_event(name: &str, value: &serde_json::Value) -> Event {
    Event::default().event(name).data(value.to_string())
}
