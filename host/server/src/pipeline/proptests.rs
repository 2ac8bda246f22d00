//! Property tests of the loader: whatever text an operator (or a mistaken upload) hands
//! it, [`parse_pipeline`] answers with a pipeline or a list of positioned errors, never
//! a panic.
//!
//! The registry holds the built-in `noop` and `checksum` plugins (when this build embeds
//! them), so generated definitions that name them get past plugin resolution into the
//! input, placeholder, limit and schema checks.

use std::sync::{Arc, LazyLock};

use framepipe_runtime::{Runtime, RuntimeConfig, StepLimits};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::builtin::DEFINITIONS;
use super::{LoadContext, PipelineError, parse_pipeline};
use crate::registry::Registry;

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            max_instances: 1,
            max_memory_mib: 256,
            cache_dir: Some(std::env::temp_dir().join("framepipe-proptest-cache")),
            default_limits: StepLimits::default(),
        })
        .expect("runtime"),
    );
    let registry = Registry::new(
        runtime,
        std::env::temp_dir().join("framepipe-proptest-plugins"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for name in ["noop", "checksum"] {
        if let Some((bytes, digest)) = framepipe_guests::with_digest(name) {
            rt.block_on(registry.add_with_digest(bytes, digest.to_owned()))
                .expect("built-in plugin loads");
        }
    }
    registry
});

static SETTINGS: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

fn context() -> LoadContext<'static> {
    LoadContext {
        registry: &REGISTRY,
        default_limits: StepLimits::default(),
        max_memory_mib: 256,
        default_max_attempts: 3,
        settings: &SETTINGS,
    }
}

/// Parses `text`; on error, every error names the file, a line inside the text and says
/// something.
fn check(text: &str) -> Result<(), TestCaseError> {
    let lines = text.matches('\n').count() + 1;
    match parse_pipeline(&context(), "prop.toml", text) {
        Ok(p) => {
            prop_assert!(!p.name.is_empty());
            prop_assert!(!p.steps.is_empty());
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty(), "an Err with no error");
            for PipelineError {
                file,
                line,
                message,
            } in &errors
            {
                prop_assert_eq!(file, "prop.toml");
                prop_assert!((1..=lines).contains(line), "line {} of {}", line, lines);
                prop_assert!(!message.trim().is_empty());
            }
        }
    }
    Ok(())
}

/// A built-in definition with one edit: a span cut out, or arbitrary text put in.
fn mutated_builtin() -> impl Strategy<Value = String> {
    (
        prop::sample::select(DEFINITIONS.iter().map(|(_, t)| *t).collect::<Vec<_>>()),
        any::<prop::sample::Index>(),
        0usize..40,
        prop_oneof![
            Just(String::new()),
            "[\\[\\]{}=\"'#.,\\n a-z0-9$_-]{1,12}",
            any::<String>(),
        ],
    )
        .prop_map(|(text, at, cut, insert)| {
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let start = boundaries[at.index(boundaries.len())];
            let end = boundaries
                .iter()
                .copied()
                .find(|&b| b >= start + cut)
                .unwrap_or(text.len());
            format!("{}{insert}{}", &text[..start], &text[end..])
        })
}

/// A definition assembled from plausible and hostile pieces.
fn generated() -> impl Strategy<Value = String> {
    let name = prop_oneof![Just("ok-name".to_owned()), "[A-Za-z0-9_ -]{0,10}"];
    let plugin = prop::sample::select(vec![
        "noop",
        "checksum",
        "checksum@0.1",
        "checksum@>=9",
        "checksum@x",
        "missing",
        "",
        "sha256:00",
    ]);
    let source = prop::sample::select(vec![
        "$input",
        "$steps.first",
        "$steps.first.out",
        "$steps.second",
        "$params.n",
        "$nothing",
        "plain",
        "",
    ]);
    let config_value = prop::sample::select(vec![
        "\"$params.n\"",
        "\"$params.missing\"",
        "\"$settings.x\"",
        "\"$input.youtube_id\"",
        "\"$steps.first\"",
        "1",
        "-1",
        "1e308",
        "true",
        "[1, \"$params.n\"]",
        "{ a = \"$params.n\" }",
    ]);
    let limits = prop::sample::select(vec![
        "",
        "limits = { memory_mib = 0 }",
        "limits = { memory_mib = 4294967295 }",
        "limits = { cpu_ms = 0, deadline_ms = 18446744073709551615 }",
        "limits = { max_artifacts = 0 }",
    ]);
    let param = prop::sample::select(vec![
        "",
        "[params.n]\ntype = \"integer\"\ndefault = 5\nminimum = 1\nmaximum = 3",
        "[params.n]\ntype = \"number\"\nminimum = nan",
        "[params.n]\ntype = \"string\"\nenum = []\ndefault = \"a\"",
        "[params.n]\ntype = \"widget\"",
        "[params.n]\ntype = \"boolean\"\nrequired = true\ndefault = 1",
    ]);
    let step = (
        prop::sample::select(vec!["first", "second", "first", "bad name", ""]),
        plugin.clone(),
        source,
        config_value,
        limits,
        prop::option::of(plugin),
    )
        .prop_map(|(name, plugin, source, value, limits, fallback)| {
            let mut s = format!(
                "[[steps]]\nname = \"{name}\"\nplugin = \"{plugin}\"\ninputs = {{ input = \"{source}\" }}\nconfig = {{ key = {value} }}\n{limits}\n"
            );
            if let Some(fallback) = fallback {
                s.push_str(&format!(
                    "[[steps.fallback]]\nplugin = \"{fallback}\"\ninputs = {{ input = \"{source}\" }}\n"
                ));
            }
            s
        });
    (
        name,
        prop::sample::select(vec!["", "lane = \"x\"", "lane = \"Bad Lane\""]),
        prop::sample::select(vec![
            "",
            "max_attempts = 0",
            "max_attempts = 101",
            "max_attempts = 2",
        ]),
        prop::sample::select(vec![
            "",
            "accepts = []",
            "accepts = [\"none\"]",
            "accepts = [\"upload\", \"url\"]",
            "accepts = [\"carrier-pigeon\"]",
        ]),
        param,
        prop::collection::vec(step, 0..4),
    )
        .prop_map(|(name, lane, attempts, accepts, param, steps)| {
            format!(
                "name = \"{name}\"\n{lane}\n{attempts}\n{accepts}\n{param}\n{}",
                steps.concat()
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_is_a_pipeline_or_positioned_errors(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn edited_builtin_definitions_are_pipelines_or_positioned_errors(text in mutated_builtin()) {
        check(&text)?;
    }

    #[test]
    fn generated_definitions_are_pipelines_or_positioned_errors(text in generated()) {
        check(&text)?;
    }
}

/// The generator is not vacuous: this build embeds `noop`, and its plain definition
/// loads, so generated definitions do reach the checks after plugin resolution.
#[test]
fn the_registry_resolves_the_plugins_the_generator_names() {
    let noop = DEFINITIONS.iter().find(|(n, _)| *n == "noop").unwrap().1;
    if framepipe_guests::with_digest("noop").is_some() {
        parse_pipeline(&context(), "noop.toml", noop).expect("noop loads");
    }
}
