//! Pipelines: definitions read from TOML (built-in and from a directory), checked against
//! the plugin registry at load, and swapped atomically on reload.

mod builtin;
mod file;
mod load;
pub mod params;
#[cfg(test)]
mod proptests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use framepipe_runtime::{Plugin, StepLimits};
use serde::Serialize;
use serde_json::{Value, json};

pub use load::{LoadContext, parse_pipeline};
pub use params::ParamSpec;

/// What a job's `input` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// `{"upload": "<upload id>"}`: a file sent to `POST /api/uploads`.
    Upload,
    /// `{"url": "https://..."}`: a direct media URL, fetched under the outbound policy.
    Url,
    /// `{"youtube_url": "..."}`: a YouTube video link.
    Youtube,
    /// No input (`{}`).
    None,
}

impl InputKind {
    /// Every kind, in the order the README lists them.
    pub const ALL: [InputKind; 4] = [
        InputKind::Upload,
        InputKind::Url,
        InputKind::Youtube,
        InputKind::None,
    ];

    /// The name used in pipeline files.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Upload => "upload",
            InputKind::Url => "url",
            InputKind::Youtube => "youtube",
            InputKind::None => "none",
        }
    }
}

/// Where a step input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRef {
    /// The job's input media (upload, fetched URL or resolved YouTube video).
    JobInput,
    /// One artifact of an earlier step.
    Artifact {
        /// The earlier step.
        step: String,
        /// Its artifact.
        name: String,
    },
    /// Every artifact of an earlier step, each under its own name.
    AllArtifacts {
        /// The earlier step.
        step: String,
    },
    /// An earlier step's JSON result, as `application/json`.
    Result {
        /// The earlier step.
        step: String,
    },
}

impl InputRef {
    /// The step this input depends on, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            InputRef::JobInput => None,
            InputRef::Artifact { step, .. }
            | InputRef::AllArtifacts { step }
            | InputRef::Result { step } => Some(step),
        }
    }
}

/// One way to run a step: a plugin with its config, inputs, hosts and limits.
#[derive(Clone)]
pub struct Run {
    /// The plugin, resolved at load.
    pub plugin: Arc<Plugin>,
    /// The reference as written (`frames@0.1`).
    pub plugin_ref: String,
    /// Config, with `$...` placeholders still in it.
    pub config: Value,
    /// Input name (as the plugin sees it, `*` for all artifacts) and its source.
    pub inputs: Vec<(String, InputRef)>,
    /// Hosts the step may reach.
    pub hosts: Vec<String>,
    /// Limits of each run.
    pub limits: StepLimits,
}

/// A named step: its run, then fallbacks tried in order when it fails.
#[derive(Clone)]
pub struct Step {
    /// Name; later steps refer to its artifacts as `<name>.<artifact>`.
    pub name: String,
    /// The primary run first.
    pub runs: Vec<Run>,
}

/// A checked pipeline.
#[derive(Clone)]
pub struct Pipeline {
    /// Unique name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Queue lane.
    pub lane: String,
    /// Priority within the lane.
    pub priority: i32,
    /// Attempts per job.
    pub max_attempts: u32,
    /// Input kinds it accepts.
    pub accepts: Vec<InputKind>,
    /// Parameters clients may set.
    pub params: BTreeMap<String, ParamSpec>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// `built-in` or the file it came from.
    pub source: String,
}

impl Pipeline {
    /// Whether any step reads the job input (else no download ever happens).
    pub fn reads_input(&self) -> bool {
        self.steps.iter().any(|s| {
            s.runs
                .iter()
                .any(|r| r.inputs.iter().any(|(_, i)| *i == InputRef::JobInput))
        })
    }

    /// The JSON shape of `GET /api/pipelines/{name}`.
    pub fn to_json(&self) -> Value {
        let run_json = |r: &Run| {
            json!({
                "plugin": r.plugin_ref,
                "plugin_name": r.plugin.info().name,
                "plugin_version": r.plugin.info().version,
                "plugin_digest": r.plugin.info().digest,
                "config": r.config,
                "inputs": r.inputs.iter().map(|(name, src)| (name.clone(), Value::from(input_ref_text(src)))).collect::<serde_json::Map<_, _>>(),
                "hosts": r.hosts,
                "limits": r.limits,
            })
        };
        json!({
            "name": self.name,
            "description": self.description,
            "lane": self.lane,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "accepts": self.accepts,
            "params": self.params,
            "source": self.source,
            "steps": self.steps.iter().map(|s| {
                let mut v = run_json(&s.runs[0]);
                v["name"] = json!(s.name);
                v["fallback"] = Value::Array(s.runs[1..].iter().map(run_json).collect());
                v
            }).collect::<Vec<_>>(),
        })
    }
}

/// The text form of an input source, as written in pipeline files.
pub fn input_ref_text(r: &InputRef) -> String {
    match r {
        InputRef::JobInput => "$input".into(),
        InputRef::Artifact { step, name } => format!("{step}.{name}"),
        InputRef::AllArtifacts { step } => format!("{step}.*"),
        InputRef::Result { step } => format!("{step}.result"),
    }
}

/// A definition error, with the file and line it is on.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PipelineError {
    /// The file (`built-in:<name>` for built-in definitions).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and what to change.
    pub message: String,
}

/// The pipelines in force; replaced as a whole on reload.
pub struct Pipelines {
    current: RwLock<Arc<BTreeMap<String, Arc<Pipeline>>>>,
    dir: Option<PathBuf>,
}

impl Pipelines {
    /// Loads the built-in definitions and those in `dir`; any error fails the whole load.
    pub fn load(
        cx: &LoadContext<'_>,
        dir: Option<PathBuf>,
    ) -> Result<Pipelines, Vec<PipelineError>> {
        let map = load_all(cx, dir.as_deref())?;
        Ok(Pipelines {
            current: RwLock::new(Arc::new(map)),
            dir,
        })
    }

    /// Re-reads every definition; on any error the old set keeps serving.
    pub fn reload(&self, cx: &LoadContext<'_>) -> Result<usize, Vec<PipelineError>> {
        let map = load_all(cx, self.dir.as_deref())?;
        let n = map.len();
        *self.current.write().unwrap() = Arc::new(map);
        Ok(n)
    }

    /// A pipeline by name.
    pub fn get(&self, name: &str) -> Option<Arc<Pipeline>> {
        self.current.read().unwrap().get(name).cloned()
    }

    /// Every pipeline, by name.
    pub fn all(&self) -> Vec<Arc<Pipeline>> {
        self.current.read().unwrap().values().cloned().collect()
    }
}

fn load_all(
    cx: &LoadContext<'_>,
    dir: Option<&std::path::Path>,
) -> Result<BTreeMap<String, Arc<Pipeline>>, Vec<PipelineError>> {
    let mut sources: Vec<(String, String)> = builtin::DEFINITIONS
        .iter()
        .filter(|(_, text)| builtin::available(text, cx.registry))
        .map(|(name, text)| (format!("built-in:{name}.toml"), (*text).to_owned()))
        .collect();
    if let Some(dir) = dir {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| {
                vec![PipelineError {
                    file: dir.display().to_string(),
                    line: 0,
                    message: format!("cannot read the pipelines directory: {e}"),
                }]
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                vec![PipelineError {
                    file: path.display().to_string(),
                    line: 0,
                    message: format!("cannot read: {e}"),
                }]
            })?;
            sources.push((path.display().to_string(), text));
        }
    }
    let mut errors = Vec::new();
    let mut map: BTreeMap<String, Arc<Pipeline>> = BTreeMap::new();
    for (file, text) in sources {
        match parse_pipeline(cx, &file, &text) {
            Ok(p) => {
                if let Some(old) = map.get(&p.name)
                    && !old.source.starts_with("built-in")
                {
                    errors.push(PipelineError {
                        file,
                        line: 1,
                        message: format!("pipeline `{}` is also defined in {}", p.name, old.source),
                    });
                    continue;
                }
                map.insert(p.name.clone(), Arc::new(p));
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(map)
    } else {
        Err(errors)
    }
}
