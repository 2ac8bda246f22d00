//! The `thumbnail` plugin: fetches a YouTube video's best thumbnail.
//!
//! Sizes are tried best first (`maxresdefault` ... `default`), webp before jpg for each.
//! The HTTP status is trusted (YouTube answers 404 with a valid placeholder image, so a
//! non-200 is "missing"), and a 200 must decode as an image. The chosen bytes are written
//! as `thumbnail.webp` or `thumbnail.jpg`.
//!
//! `config`, `picture` and `select` know nothing of the host (the network is behind
//! [`select::Fetch`]), so they are tested natively
//! (`cargo test -p thumbnail --target x86_64-unknown-linux-gnu`); `plugin` is the thin
//! layer that talks to the host.
#![deny(missing_docs)]

pub mod config;
pub mod picture;
pub mod select;
// Only in the component: natively the export symbols are not valid linker names, and
// native builds are for tests.
#[cfg(target_family = "wasm")]
mod plugin;

#[cfg(target_family = "wasm")]
pub use plugin::Thumbnail;
