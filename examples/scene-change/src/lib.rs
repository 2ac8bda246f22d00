//! `scene-change`: scene cuts and motion over the frames a `frames` step sampled.
//!
//! Each frame is decoded, area-averaged to a 64x36 colour thumbnail and compared with the
//! previous one: the mean luma difference is its motion, the distance between their colour
//! histograms marks a cut when it passes the threshold.
//!
//! The analysis knows nothing of the SDK (it reads frames through [`analysis::Source`]), so
//! it is tested natively; `plugin` is the thin layer that talks to the host.
#![deny(missing_docs)]

pub mod analysis;
pub mod config;
pub mod decode;
// Only in the component: natively the export symbols are not valid linker names, and
// native builds are for tests.
#[cfg(target_family = "wasm")]
mod plugin;
#[cfg(test)]
mod testing;
pub mod thumb;

#[cfg(target_family = "wasm")]
pub use plugin::SceneChange;
