//! What a step run was given, kept in its report so the run can be repeated elsewhere:
//! `framepipe job replay` fetches the job view, reads the step's resolved config and its
//! inputs' sources, downloads each input through the API (the job's input, earlier steps'
//! artifacts; an earlier step's result is in that step's report) and runs a local plugin
//! on them.

use serde::Serialize;
use serde_json::Value;

/// Where one input of a step run came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum InputSource {
    /// The job's input media: `GET /api/jobs/{id}/input`.
    JobInput,
    /// An artifact of an earlier step: `GET /api/jobs/{id}/artifacts/{step}/{artifact}`.
    Artifact {
        /// The earlier step.
        step: String,
        /// The artifact's name there.
        artifact: String,
    },
    /// An earlier step's JSON result (in that step's report, `result`).
    Result {
        /// The earlier step.
        step: String,
    },
}

/// One input as the plugin saw it.
#[derive(Debug, Clone, Serialize)]
pub struct GivenInput {
    /// The name the plugin opened it by.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Where it came from.
    #[serde(flatten)]
    pub source: InputSource,
}

/// A step run's resolved config and inputs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepRecord {
    /// The config after `$params`, `$input` and `$settings` were filled in.
    pub config: Value,
    /// The inputs, in the order given.
    pub inputs: Vec<GivenInput>,
}

impl StepRecord {
    /// Adds the record to a step report: `config` and `inputs` keys.
    pub fn write_to(&self, report: &mut Value) {
        report["config"] = self.config.clone();
        report["inputs"] = serde_json::to_value(&self.inputs).unwrap_or(Value::Null);
    }
}
