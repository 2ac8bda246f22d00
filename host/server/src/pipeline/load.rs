//! From TOML text to a checked [`Pipeline`]: every reference resolved, every error with
//! its file and line.

use std::collections::BTreeMap;

use framepipe_runtime::StepLimits;
use serde_json::{Map, Value};
use toml::Spanned;

use super::file::{LimitsFile, PipelineFile, RunFile};
use super::params::{ParamSpec, ParamType, Placeholders, placeholder, placeholders_in, substitute};
use super::{InputKind, InputRef, Pipeline, PipelineError, Run, Step};
use crate::registry::Registry;

/// What definitions are checked against.
pub struct LoadContext<'a> {
    /// Plugins references resolve to.
    pub registry: &'a Registry,
    /// Limits of a step that sets none.
    pub default_limits: StepLimits,
    /// Largest memory cap a step may set.
    pub max_memory_mib: u32,
    /// Attempts of a pipeline that sets none.
    pub default_max_attempts: u32,
    /// `$settings.NAME` values.
    pub settings: &'a Map<String, Value>,
}

/// Collects errors with positions in one file.
struct Errors<'t> {
    file: &'t str,
    text: &'t str,
    list: Vec<PipelineError>,
}

impl Errors<'_> {
    fn at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        self.list.push(PipelineError {
            file: self.file.to_owned(),
            line,
            message: message.into(),
        });
    }

    fn on<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        self.at(spanned.span().start, message)
    }
}

/// Parses and checks one definition.
pub fn parse_pipeline(
    cx: &LoadContext<'_>,
    file: &str,
    text: &str,
) -> Result<Pipeline, Vec<PipelineError>> {
    let mut errors = Errors {
        file,
        text,
        list: Vec::new(),
    };
    let raw: PipelineFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            errors.at(offset, e.message().to_owned());
            return Err(errors.list);
        }
    };

    let name = raw.name.get_ref().clone();
    if !valid_name(&name) {
        errors.on(
            &raw.name,
            format!("pipeline name {name:?} must be lowercase letters, digits and `-`"),
        );
    }
    let lane = match &raw.lane {
        Some(lane) if !valid_name(lane.get_ref()) => {
            errors.on(
                lane,
                format!(
                    "lane {:?} must be lowercase letters, digits and `-`",
                    lane.get_ref()
                ),
            );
            String::new()
        }
        Some(lane) => lane.get_ref().clone(),
        None => "default".to_owned(),
    };
    let max_attempts = match &raw.max_attempts {
        Some(n) if !(1..=100).contains(n.get_ref()) => {
            errors.on(n, "max_attempts must be from 1 to 100");
            1
        }
        Some(n) => *n.get_ref(),
        None => cx.default_max_attempts,
    };
    let accepts = match &raw.accepts {
        None => vec![InputKind::Upload, InputKind::Url, InputKind::Youtube],
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list.get_ref() {
                match InputKind::ALL.iter().find(|x| x.as_str() == k) {
                    Some(kind) => kinds.push(*kind),
                    None => errors.on(
                        list,
                        format!("unknown input kind {k:?} in `accepts`; use upload, url, youtube or none"),
                    ),
                }
            }
            kinds
        }
    };

    let mut params = BTreeMap::new();
    for (pname, spec) in &raw.params {
        let raw_spec = spec.get_ref();
        let Some(kind) = ParamType::parse(&raw_spec.kind) else {
            errors.on(
                spec,
                format!(
                    "parameter `{pname}` has unknown type {:?}; use number, integer, string or boolean",
                    raw_spec.kind
                ),
            );
            continue;
        };
        let parsed = ParamSpec {
            kind,
            default: raw_spec.default.as_ref().map(toml_to_json),
            required: raw_spec.required,
            minimum: raw_spec.minimum,
            maximum: raw_spec.maximum,
            choices: raw_spec.choices.clone(),
            description: raw_spec.description.clone(),
        };
        if let Some(d) = &parsed.default
            && let Err(e) = parsed.check(pname, d)
        {
            errors.on(spec, format!("default of {e}"));
        }
        params.insert(pname.clone(), parsed);
    }

    let mut steps: Vec<Step> = Vec::new();
    let all_names: Vec<String> = raw
        .steps
        .get_ref()
        .iter()
        .map(|s| s.name.get_ref().clone())
        .collect();
    if raw.steps.get_ref().is_empty() {
        errors.on(&raw.steps, "a pipeline needs at least one step");
    }
    for step in raw.steps.get_ref() {
        let step_name = step.name.get_ref().clone();
        if !valid_step_name(&step_name) {
            errors.on(
                &step.name,
                format!("step name {step_name:?} must be letters, digits, `-` or `_`"),
            );
        }
        if steps.iter().any(|s| s.name == step_name) {
            errors.on(&step.name, format!("two steps are named `{step_name}`"));
        }
        let earlier: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        let mut runs = Vec::new();
        for run in step.runs() {
            let checker = RunCheck {
                cx,
                step: &step_name,
                earlier: &earlier,
                all_names: &all_names,
                params: &params,
                accepts: &accepts,
            };
            if let Some(run) = checker.check(&run, &mut errors) {
                runs.push(run);
            }
        }
        steps.push(Step {
            name: step_name,
            runs,
        });
    }

    if errors.list.is_empty() {
        Ok(Pipeline {
            name,
            description: raw.description,
            lane,
            priority: raw.priority,
            max_attempts,
            accepts,
            params,
            steps,
            source: file.to_owned(),
        })
    } else {
        Err(errors.list)
    }
}

/// Checks of one run of a step.
struct RunCheck<'a> {
    cx: &'a LoadContext<'a>,
    step: &'a str,
    earlier: &'a [&'a str],
    all_names: &'a [String],
    params: &'a BTreeMap<String, ParamSpec>,
    accepts: &'a [InputKind],
}

impl RunCheck<'_> {
    fn check(&self, run: &RunFile<'_>, errors: &mut Errors<'_>) -> Option<Run> {
        let step = self.step;
        let plugin = match self.cx.registry.resolve(run.plugin.get_ref()) {
            Ok(p) => p,
            Err(e) => {
                errors.on(run.plugin, format!("step `{step}`: {e}"));
                return None;
            }
        };
        let info = plugin.info();

        // Inputs: known sources, earlier steps only.
        let mut inputs = Vec::new();
        for (key, source) in run.inputs {
            match self.input_ref(key, source.get_ref()) {
                Ok(r) => inputs.push((key.clone(), r)),
                Err(message) => {
                    errors.on(source, format!("step `{step}`, input `{key}`: {message}"))
                }
            }
        }
        for port in &info.inputs {
            if !port.optional && !port.name.contains('*') && !run.inputs.contains_key(&port.name) {
                errors.on(
                    run.plugin,
                    format!(
                        "step `{step}`: plugin `{}` needs input `{}` ({}); add it to `inputs`",
                        info.name, port.name, port.description
                    ),
                );
            }
        }

        // Hosts: what the plugin needs must be granted.
        let hosts: Vec<String> = run
            .hosts
            .as_ref()
            .map(|h| h.get_ref().iter().filter_map(|h| self.host(h)).collect())
            .unwrap_or_default();
        if !info.hosts.iter().any(|h| h == "*") {
            for needed in &info.hosts {
                if !hosts.iter().any(|h| h == needed || h == "*") {
                    let at = run
                        .hosts
                        .as_ref()
                        .map(|h| h.span().start)
                        .unwrap_or(run.plugin.span().start);
                    errors.at(
                        at,
                        format!(
                            "step `{step}`: plugin `{}` needs to reach `{needed}`, which the step does not grant; add it to `hosts`",
                            info.name
                        ),
                    );
                }
            }
        }

        // Limits: over the defaults, inside the host's caps and the plugin's needs.
        let limits = apply_limits(
            self.cx.default_limits,
            run.limits.as_ref().map(|l| *l.get_ref()),
        );
        let limits_at = run
            .limits
            .as_ref()
            .map(|l| l.span().start)
            .unwrap_or(run.plugin.span().start);
        if limits.memory_mib > self.cx.max_memory_mib {
            errors.at(
                limits_at,
                format!(
                    "step `{step}`: memory_mib {} is over the host's cap of {} MiB (runtime.max_memory_mib)",
                    limits.memory_mib, self.cx.max_memory_mib
                ),
            );
        }
        if limits.memory_mib < info.min_memory_mib {
            errors.at(
                limits_at,
                format!(
                    "step `{step}`: plugin `{}` needs at least {} MiB of memory; memory_mib is {}",
                    info.name, info.min_memory_mib, limits.memory_mib
                ),
            );
        }

        // Config: placeholders known, and the config fits the plugin's schema.
        let config = run
            .config
            .as_ref()
            .map(|c| toml_to_json(&toml::Value::Table(c.get_ref().clone())))
            .unwrap_or_else(|| Value::Object(Map::new()));
        let config_at = run
            .config
            .as_ref()
            .map(|c| c.span().start)
            .unwrap_or(run.plugin.span().start);
        let mut found = Vec::new();
        placeholders_in(&config, &mut found);
        let mut placeholders_ok = true;
        for p in &found {
            if let Err(message) = self.placeholder_known(p) {
                errors.at(config_at, format!("step `{step}`, config: {message}"));
                placeholders_ok = false;
            }
        }
        if placeholders_ok && let Some(schema) = &info.config_schema {
            // Unset optional parameters drop their key, as they will at run time.
            let samples: Map<String, Value> = self
                .params
                .iter()
                .filter(|(_, v)| v.default.is_some() || v.required)
                .map(|(k, v)| (k.clone(), v.sample()))
                .collect();
            let input = Map::from_iter([("youtube_id".to_owned(), Value::from("dQw4w9WgXcQ"))]);
            let values = Placeholders {
                params: &samples,
                input: &input,
                settings: self.cx.settings,
            };
            match substitute(&config, &values) {
                Ok(sample) => {
                    if let Err(message) = framepipe_runtime::schema::validate(schema, &sample) {
                        errors.at(
                            config_at,
                            format!(
                                "step `{step}`: config does not fit plugin `{}`'s schema: {message}",
                                info.name
                            ),
                        );
                    }
                }
                Err(message) => errors.at(config_at, format!("step `{step}`: {message}")),
            }
        }

        Some(Run {
            plugin_ref: run.plugin.get_ref().clone(),
            plugin: plugin.clone(),
            config,
            inputs,
            hosts,
            limits,
        })
    }

    fn input_ref(&self, key: &str, source: &str) -> Result<InputRef, String> {
        if source == "$input" {
            if self.accepts.iter().all(|k| *k == InputKind::None) {
                return Err("`$input` is used but the pipeline accepts no input".into());
            }
            return Ok(InputRef::JobInput);
        }
        let Some((step, what)) = source.split_once('.') else {
            return Err(format!(
                "{source:?} is not a source; use \"$input\", \"<step>.<artifact>\", \"<step>.*\" or \"<step>.result\""
            ));
        };
        if !self.earlier.contains(&step) {
            return Err(if step == self.step {
                format!("refers to its own step `{step}` (a cycle)")
            } else if self.all_names.iter().any(|n| n == step) {
                format!(
                    "refers to step `{step}`, which runs later (a cycle or wrong order: steps may only use earlier steps' outputs)"
                )
            } else {
                format!("dangling input: no step named `{step}` before this one")
            });
        }
        let step = step.to_owned();
        Ok(match what {
            "*" => {
                if key != "*" {
                    return Err(format!(
                        "`{source}` gives every artifact; write it as `\"*\" = \"{source}\"`"
                    ));
                }
                InputRef::AllArtifacts { step }
            }
            "result" => InputRef::Result { step },
            name => InputRef::Artifact {
                step,
                name: name.to_owned(),
            },
        })
    }

    fn host(&self, host: &str) -> Option<String> {
        match placeholder(host) {
            Some(("settings", key)) => self
                .cx
                .settings
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            _ => Some(host.to_owned()),
        }
    }

    fn placeholder_known(&self, text: &str) -> Result<(), String> {
        match placeholder(text) {
            Some(("params", name)) if self.params.contains_key(name) => Ok(()),
            Some(("params", name)) => Err(format!(
                "{text:?} names no parameter; declare it under [params.{name}]"
            )),
            Some(("input", "youtube_id")) if self.accepts.contains(&InputKind::Youtube) => Ok(()),
            Some(("input", "youtube_id")) => Err(format!("{text:?} needs `youtube` in `accepts`")),
            Some(("settings", key)) if self.cx.settings.contains_key(key) => Ok(()),
            _ => Err(format!(
                "unknown placeholder {text:?}; use $params.NAME, $input.youtube_id or $settings.{}",
                self.cx
                    .settings
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("|")
            )),
        }
    }
}

fn apply_limits(base: StepLimits, over: Option<LimitsFile>) -> StepLimits {
    let Some(o) = over else { return base };
    StepLimits {
        memory_mib: o.memory_mib.unwrap_or(base.memory_mib),
        cpu_ms: o.cpu_ms.unwrap_or(base.cpu_ms),
        deadline_ms: o.deadline_ms.unwrap_or(base.deadline_ms),
        output_bytes: o.output_bytes.unwrap_or(base.output_bytes),
        log_bytes: o.log_bytes.unwrap_or(base.log_bytes),
        max_artifacts: o.max_artifacts.unwrap_or(base.max_artifacts),
        max_handles: o.max_handles.unwrap_or(base.max_handles),
        max_media_type_bytes: o.max_media_type_bytes.unwrap_or(base.max_media_type_bytes),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_step_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// TOML to JSON (datetimes become strings).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::from(*b),
        toml::Value::Datetime(d) => Value::from(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
