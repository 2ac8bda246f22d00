//! The built-in pipelines: ordinary definition files (`host/server/pipelines/`) embedded in
//! the binary, so a fresh install has them and operators have examples of the format.

use super::file::PipelineFile;
use crate::registry::Registry;

/// `(name, definition)` of every built-in pipeline.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("noop", include_str!("../../pipelines/noop.toml")),
    ("checksum", include_str!("../../pipelines/checksum.toml")),
    ("frame-at", include_str!("../../pipelines/frame-at.toml")),
    ("frames", include_str!("../../pipelines/frames.toml")),
    (
        "youtube-preview",
        include_str!("../../pipelines/youtube-preview.toml"),
    ),
    (
        "people-count",
        include_str!("../../pipelines/people-count.toml"),
    ),
];

/// Whether every plugin a built-in definition names (steps and fallbacks) is loaded: a
/// build without a plugin simply lacks the pipelines that use it. A definition that does
/// not parse counts as available, so that the loader reports its error.
pub fn available(definition: &str, registry: &Registry) -> bool {
    let Ok(file) = toml::from_str::<PipelineFile>(definition) else {
        return true;
    };
    file.steps.get_ref().iter().all(|step| {
        std::iter::once(&step.plugin)
            .chain(step.fallback.iter().map(|f| &f.plugin))
            .all(|plugin| registry.resolve(plugin.get_ref()).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_definition_parses_and_is_named_as_listed() {
        for (name, text) in DEFINITIONS {
            let file: PipelineFile = toml::from_str(text).unwrap();
            assert_eq!(file.name.get_ref(), name);
        }
    }
}
