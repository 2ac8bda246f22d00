//! `framepipe plugin new NAME --lang rust|python|js`: a working plugin skeleton with a
//! native test of its analysis, in the shape of the tutorials in docs/plugins.md. The
//! skeleton names the SDK by path in the framepipe sources (`--sdk`, else
//! `$FRAMEPIPE_SOURCE_DIR`, else the sources this binary was built from, when present),
//! as the tutorials do; an author with a published SDK changes that one line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// `framepipe-plugin-sdk` (plugins/sdk), built with cargo for wasm32-wasip2.
    Rust,
    /// `framepipe-plugin` (sdk/python), built with componentize-py.
    Python,
    /// `@framepipe/plugin` (sdk/js), built with ComponentizeJS.
    Js,
}

/// One file of a skeleton: its path in the new directory and its template.
type Template = (&'static str, &'static str);

const RUST: &[Template] = &[
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    ("README.md", include_str!("templates/rust/README.md")),
];

const PYTHON: &[Template] = &[
    ("app.py", include_str!("templates/python/app.py")),
    ("analysis.py", include_str!("templates/python/analysis.py")),
    (
        "test_analysis.py",
        include_str!("templates/python/test_analysis.py"),
    ),
    ("README.md", include_str!("templates/python/README.md")),
];

const JS: &[Template] = &[
    ("package.json", include_str!("templates/js/package.json")),
    (".npmrc", include_str!("templates/js/.npmrc")),
    ("app.js", include_str!("templates/js/app.js")),
    (
        "src/analysis.js",
        include_str!("templates/js/src/analysis.js"),
    ),
    (
        "test/analysis.test.js",
        include_str!("templates/js/test/analysis.test.js"),
    ),
    ("README.md", include_str!("templates/js/README.md")),
];

/// Where the framepipe sources are: `--sdk`, `$FRAMEPIPE_SOURCE_DIR`, or the checkout
/// this binary was built from.
pub fn source_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = match given {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("FRAMEPIPE_SOURCE_DIR") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        },
    };
    let dir = candidate
        .canonicalize()
        .ok()
        .filter(|d| d.join("plugins/sdk/Cargo.toml").exists() && d.join("sdk/python").exists());
    dir.with_context(|| {
        format!(
            "cannot find the framepipe sources (with plugins/sdk, sdk/python, sdk/js) at {}: pass --sdk /path/to/framepipe",
            candidate.display()
        )
    })
}

/// Writes the skeleton of plugin `name` in `lang` into `dir` (which must not exist or be
/// empty). Returns the files written.
pub fn create(name: &str, lang: Lang, dir: &Path, sources: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let name_ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        bail!("plugin name {name:?} must be 1-64 characters of [a-z0-9-], starting with a letter");
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} exists and is not empty", dir.display());
    }
    let sdk_dependency = format!(
        "{{ path = {:?} }}",
        sources.join("plugins/sdk").display().to_string()
    );
    let vars = [
        ("{{name}}", name.to_owned()),
        ("{{crate_name}}", name.replace('-', "_")),
        ("{{sdk_dependency}}", sdk_dependency),
        (
            "{{sdk_python}}",
            sources.join("sdk/python").display().to_string(),
        ),
        ("{{sdk_js}}", sources.join("sdk/js").display().to_string()),
    ];
    let templates = match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    let mut written = Vec::new();
    for (path, template) in templates {
        let mut text = (*template).to_owned();
        for (key, value) in &vars {
            text = text.replace(key, value);
        }
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder_and_refuses_bad_names_and_full_dirs() {
        let sources = source_dir(None).expect("built from a checkout");
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("p");
            let files = create("my-plugin", lang, &target, &sources).unwrap();
            for f in &files {
                let text = std::fs::read_to_string(f).unwrap();
                assert!(!text.contains("{{"), "{}: {text}", f.display());
            }
            assert!(create("my-plugin", lang, &target, &sources).is_err());
        }
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "My-Plugin", "1x", "a_b", "a b"] {
            let err = create(bad, Lang::Rust, &dir.path().join("x"), &sources).unwrap_err();
            assert!(err.to_string().contains("[a-z0-9-]"), "{bad}: {err}");
        }
    }
}
