//! `GET /metrics`: Prometheus metrics for an admin key or the configured scrape token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::ApiResult;
use crate::app::App;
use crate::auth::Caller;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(app): State<Arc<App>>, req: Request) -> ApiResult<Response> {
    let (mut parts, _) = req.into_parts();
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let scraper = token.is_some_and(|t| app.config.file.metrics.is_scrape_token(t));
    if !scraper {
        Caller::from_request_parts(&mut parts, &app)
            .await?
            .require_admin()?;
    }
    let counts = match app.store.lane_counts().await {
        Ok(counts) => Some(counts),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the queue did not answer");
            None
        }
    };
    let mut lanes: Vec<String> = app.config.file.workers.lanes.keys().cloned().collect();
    lanes.extend(app.pipelines.all().iter().map(|p| p.lane.clone()));
    let body = app.metrics.render(counts.as_deref(), &lanes);
    Ok(([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response())
}

/// Serves `/metrics`, `/healthz` and `/readyz` only on `addr` until the app shuts down:
/// `framepipe worker --metrics-addr`, so worker processes' job and step figures can be
/// scraped without exposing the API.
pub async fn serve_metrics_only(
    app: Arc<App>,
    addr: std::net::SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    let router = routes()
        .merge(super::health::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.metrics.clone(),
            crate::metrics::track_http,
        ))
        .with_state(app.clone());
    let stop = app.shutdown.clone();
    tracing::info!(%addr, "metrics listening");
    Ok(tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = server.await {
            tracing::error!(error = %e, "metrics server failed");
        }
    }))
}
