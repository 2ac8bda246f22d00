//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the whole API (`host/server/openapi.json`).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::App;

/// The document, checked against the router by a test.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response() }),
    )
}
