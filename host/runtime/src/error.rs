//! Every way loading a plugin or running a step can fail, each with a code a client can
//! switch on. Limits name the limit and the observed value.

use std::time::Duration;

const MIB: f64 = 1048576.0;

/// Why a step run failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepFailure {
    /// The instance asked for more linear memory than its cap.
    #[error("memory limit exceeded: cap {} MiB, requested {:.0} MiB", cap_bytes >> 20, *requested_bytes as f64 / MIB)]
    MemoryLimit {
        /// The cap.
        cap_bytes: u64,
        /// The total the refused growth would have reached.
        requested_bytes: u64,
    },
    /// The CPU budget ran out.
    #[error("cpu budget exceeded: used {:.2} s of CPU, budget {:.2} s", used.as_secs_f64(), budget.as_secs_f64())]
    CpuBudget {
        /// The budget.
        budget: Duration,
        /// CPU time used when the run was stopped.
        used: Duration,
    },
    /// The wall-clock deadline passed.
    #[error("deadline exceeded after {:.2} s", elapsed.as_secs_f64())]
    Deadline {
        /// How long the run had been going.
        elapsed: Duration,
    },
    /// The step wrote more output (artifacts + result) than allowed.
    #[error("output limit exceeded: cap {cap} bytes, attempted {attempted} bytes")]
    OutputLimit {
        /// The cap.
        cap: u64,
        /// The total the step tried to reach.
        attempted: u64,
    },
    /// The step logged more than allowed.
    #[error("log limit exceeded: cap {cap} bytes")]
    LogLimit {
        /// The cap.
        cap: u64,
    },
    /// The step created more artifacts than allowed.
    #[error("artifact limit exceeded: {} artifacts, cap {}", grouped(*attempted), grouped(*cap))]
    ArtifactLimit {
        /// The cap.
        cap: u64,
        /// The count the step tried to reach.
        attempted: u64,
    },
    /// The step held more input and artifact handles open at once than allowed (or filled
    /// the host's resource table with other handles).
    #[error("handle limit exceeded: {} handles open at once, cap {}", grouped(*attempted), grouped(*cap))]
    HandleLimit {
        /// The cap.
        cap: u64,
        /// The count the step tried to reach.
        attempted: u64,
    },
    /// The step gave an artifact a media type longer than allowed.
    #[error("media type too long: {} bytes, cap {}", grouped(*length), grouped(*cap))]
    MediaTypeTooLong {
        /// The cap, in bytes.
        cap: u64,
        /// The length given, in bytes.
        length: u64,
    },
    /// The guest's call stack overflowed (usually unbounded recursion).
    #[error("stack overflow in plugin (unbounded recursion?)")]
    StackOverflow,
    /// The guest panicked. (A panic the guest marked as its input's fault is reported as
    /// `Plugin { kind: InvalidInput }` instead: see `run.rs`.)
    #[error("plugin panicked: {message}")]
    Panicked {
        /// The panic message the guest printed, if any.
        message: String,
    },
    /// The guest trapped for another reason.
    #[error("plugin trapped: {message}")]
    Trapped {
        /// The trap.
        message: String,
    },
    /// The job was cancelled while the step ran.
    #[error("cancelled")]
    Cancelled,
    /// The config given to the step does not fit the plugin's schema.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The plugin returned an expected failure.
    #[error("{message}")]
    Plugin {
        /// Its kind, as the plugin said.
        kind: PluginErrorKind,
        /// Its message.
        message: String,
    },
    /// The host itself failed (I/O, instantiation).
    #[error("host error: {0}")]
    Host(String),
}

/// The kinds of expected failure a plugin can return (mirrors the WIT `error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginErrorKind {
    /// Wrong input or config.
    InvalidInput,
    /// Valid but unsupported input.
    Unsupported,
    /// Temporarily unavailable; retryable.
    Unavailable,
    /// The plugin saw the job's cancellation.
    Cancelled,
    /// A bug in the plugin.
    Internal,
}

impl StepFailure {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StepFailure::MemoryLimit { .. } => "MEMORY_LIMIT_EXCEEDED",
            StepFailure::CpuBudget { .. } => "CPU_BUDGET_EXCEEDED",
            StepFailure::Deadline { .. } => "DEADLINE_EXCEEDED",
            StepFailure::OutputLimit { .. } => "OUTPUT_LIMIT_EXCEEDED",
            StepFailure::LogLimit { .. } => "LOG_LIMIT_EXCEEDED",
            StepFailure::ArtifactLimit { .. } => "ARTIFACT_LIMIT_EXCEEDED",
            StepFailure::HandleLimit { .. } => "HANDLE_LIMIT_EXCEEDED",
            StepFailure::MediaTypeTooLong { .. } => "MEDIA_TYPE_TOO_LONG",
            StepFailure::StackOverflow => "STACK_OVERFLOW",
            StepFailure::Panicked { .. } => "PLUGIN_PANICKED",
            StepFailure::Trapped { .. } => "PLUGIN_TRAPPED",
            StepFailure::Cancelled => "CANCELLED",
            StepFailure::InvalidConfig(_) => "INVALID_CONFIG",
            StepFailure::Plugin { kind, .. } => match kind {
                PluginErrorKind::InvalidInput => "INVALID_INPUT",
                PluginErrorKind::Unsupported => "UNSUPPORTED",
                PluginErrorKind::Unavailable => "UNAVAILABLE",
                PluginErrorKind::Cancelled => "CANCELLED",
                PluginErrorKind::Internal => "PLUGIN_ERROR",
            },
            StepFailure::Host(_) => "HOST_ERROR",
        }
    }

    /// Whether running the job again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            StepFailure::Plugin {
                kind: PluginErrorKind::Unavailable,
                ..
            } | StepFailure::Host(_)
        )
    }
}

/// `n` with a comma between groups of three digits: `4,097`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a component could not be loaded as a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly binary: {0}")]
    NotWasm(String),
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not export what the world requires.
    #[error("component does not implement the framepipe:plugin world: {0}")]
    MissingExport(String),
    /// The component targets a version of the WIT package this host cannot serve.
    #[error("plugin targets framepipe:plugin@{plugin}; this host offers framepipe:plugin@{host}")]
    IncompatibleVersion {
        /// The version the plugin was built against.
        plugin: String,
        /// The version the host implements.
        host: String,
    },
    /// The component imports something the host does not provide.
    #[error("component imports something this host does not provide: {0}")]
    UnsupportedImport(String),
    /// Compilation failed.
    #[error("component failed to compile: {0}")]
    Compile(String),
    /// `describe()` failed or returned something invalid.
    #[error("describe() failed: {0}")]
    Describe(String),
    /// The compile cache could not be used.
    #[error("compile cache: {0}")]
    Cache(String),
}

impl LoadError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::NotWasm(_) => "NOT_WASM",
            LoadError::CoreModule => "NOT_A_COMPONENT",
            LoadError::MissingExport(_) => "MISSING_EXPORT",
            LoadError::IncompatibleVersion { .. } => "INCOMPATIBLE_WIT_VERSION",
            LoadError::UnsupportedImport(_) => "UNSUPPORTED_IMPORT",
            LoadError::Compile(_) => "COMPILE_FAILED",
            LoadError::Describe(_) => "DESCRIBE_FAILED",
            LoadError::Cache(_) => "CACHE_ERROR",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_call_caps_name_the_cap_and_the_count_and_are_final() {
        let f = StepFailure::ArtifactLimit {
            cap: 4096,
            attempted: 4097,
        };
        assert_eq!(f.code(), "ARTIFACT_LIMIT_EXCEEDED");
        assert_eq!(
            f.to_string(),
            "artifact limit exceeded: 4,097 artifacts, cap 4,096"
        );
        let h = StepFailure::HandleLimit {
            cap: 1024,
            attempted: 1025,
        };
        assert_eq!(h.code(), "HANDLE_LIMIT_EXCEEDED");
        let m = StepFailure::MediaTypeTooLong {
            cap: 256,
            length: 1_000_000,
        };
        assert_eq!(
            m.to_string(),
            "media type too long: 1,000,000 bytes, cap 256"
        );
        for f in [f, h, m] {
            assert!(!f.retryable(), "{f}");
        }
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
