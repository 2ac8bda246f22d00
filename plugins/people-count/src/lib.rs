//! The `people-count` plugin: counts people in one image with NanoDet-m run by tract.
//!
//! Everything but [`plugin`] is independent of the SDK, so the detector, its
//! post-processing and the tracker are tested natively
//! (`cargo test -p people-count --target x86_64-unknown-linux-gnu --release`).

pub mod decode;
pub mod draw;
pub mod image;
pub mod model;
pub mod track;

#[cfg(target_arch = "wasm32")]
mod plugin;
