//! The `frames` plugin: extracts frames from a video read by range from a host blob.
//!
//! The media modules make no host calls (they take `Read + Seek` and return RGB), so they
//! are tested natively; `plugin` is the thin layer that talks to the host. (The AV1
//! decoder uses the SDK's `PanicNote`, which is plain std.)
#![deny(missing_docs)]

pub mod av1;
pub mod avi;
pub mod config;
pub mod decode;
pub mod ebml;
pub mod encode;
pub mod extract;
pub mod h264;
pub mod hevc;
pub mod job;
pub mod media;
pub mod mjpeg;
pub mod mkv;
pub mod mp4;
pub mod mp4_boxes;
pub mod mp4_fragments;
pub mod mpeg4;
pub mod msmpeg4;
pub mod nal;
// Only in the component: natively the export symbols (`framepipe:plugin/step@0.1.0#run`)
// are not valid linker-script names, and native builds are for tests.
#[cfg(target_family = "wasm")]
mod plugin;
pub mod probe;
pub mod rotate;
pub mod scale;
pub mod ts;
pub mod vp8;
pub mod vp9;
pub mod yuv;

#[cfg(target_family = "wasm")]
pub use plugin::Frames;
