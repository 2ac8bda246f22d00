//! framepipe end to end: the real server over loopback HTTP, real SQLite and PostgreSQL,
//! real WebAssembly components built from `plugins/`.

mod abuse;
mod api;
mod hostcalls;
mod languages;
mod media;
mod media_formats;
mod metrics;
mod pipelines;
mod process;
mod scale;
mod support;
mod uploads;
