//! The `people-count` plugin: counts people in one image, or in a video's sampled frames,
//! with NanoDet-m run by tract, and follows them across frames to count unique people.
//!
//! Everything but [`plugin`] is independent of the SDK, so the detector, its
//! post-processing, the tracker and the whole run ([`run::run`] over an in-memory
//! [`run::Io`]) are tested natively
//! (`cargo test -p people-count --target x86_64-unknown-linux-gnu --release`).

pub mod decode;
pub mod draw;
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
mod gemm;
pub mod image;
pub mod model;
pub mod run;
pub mod track;

#[cfg(target_arch = "wasm32")]
mod plugin;
