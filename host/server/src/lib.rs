//! framepipe: a job server running video pipelines as sandboxed WebAssembly plugins.
//!
//! - [`config`]: flags, environment and the settings file;
//! - [`app`]: shared state, `serve` and `worker` bodies;
//! - [`api`]: the REST API, one module per resource;
//! - [`pipeline`]: definitions, checked at load; [`registry`]: loaded plugins;
//! - [`worker`]: claims, leases, heartbeats, acks; [`runner`]: one job attempt, step by step;
//! - [`fetch`]: job inputs from URLs and YouTube; [`egress`]: plugins' outbound HTTP;
//! - [`http_server`]: the listener, with its connection cap and timeouts;
//! - [`artifacts`]: uploads and artifacts on disk; [`auth`]: API keys;
//!   [`quotas`]: fairness between keys;
//! - [`metrics`]: Prometheus instruments and the `/metrics` text.

pub mod api;
pub mod app;
pub mod artifacts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod devloop;
pub mod egress;
pub mod fetch;
pub mod http_server;
pub mod input;
pub mod metrics;
pub mod pipeline;
pub mod quotas;
pub mod registry;
pub mod runner;
pub mod sniff;
pub mod step_record;
pub mod worker;
