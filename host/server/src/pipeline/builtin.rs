//! The built-in pipelines: ordinary definition files (`host/server/pipelines/`) embedded in
//! the binary, so a fresh install has them and operators have examples of the format.

use crate::registry::Registry;

/// `(name, plugins it needs, definition)`.
pub const DEFINITIONS: &[(&str, &[&str], &str)] = &[
    ("noop", &["noop"], include_str!("../../pipelines/noop.toml")),
    (
        "checksum",
        &["checksum"],
        include_str!("../../pipelines/checksum.toml"),
    ),
    (
        "frame-at",
        &["frames"],
        include_str!("../../pipelines/frame-at.toml"),
    ),
    (
        "frames",
        &["frames"],
        include_str!("../../pipelines/frames.toml"),
    ),
    (
        "youtube-preview",
        &["thumbnail", "frames"],
        include_str!("../../pipelines/youtube-preview.toml"),
    ),
    (
        "people-count",
        &["frames", "people-count"],
        include_str!("../../pipelines/people-count.toml"),
    ),
];

/// Whether every plugin a built-in pipeline needs is loaded (a build without a plugin
/// simply lacks the pipelines that use it).
pub fn available(plugins: &[&str], registry: &Registry) -> bool {
    plugins.iter().all(|p| registry.resolve(p).is_ok())
}
