//! Per-instance limits: typed configuration, and the memory limiter that enforces the cap.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits for one run of one step. Every field is enforced; a hit fails only that run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepLimits {
    /// Linear memory of the instance, summed over all its memories, in MiB.
    pub memory_mib: u32,
    /// CPU budget: thread CPU time the run may use (guest code and the host calls it
    /// makes; waiting is free), in milliseconds.
    pub cpu_ms: u64,
    /// Wall-clock deadline for the run, in milliseconds.
    pub deadline_ms: u64,
    /// Bytes of output: all artifacts plus the JSON result.
    pub output_bytes: u64,
    /// Bytes of log lines (including what the guest writes to stderr).
    pub log_bytes: u64,
    /// Artifacts the run may create, finished or not.
    pub max_artifacts: u32,
    /// Input and artifact handles the run may hold open at once.
    pub max_handles: u32,
    /// Longest media type an artifact may be given, in bytes.
    pub max_media_type_bytes: u32,
}

impl Default for StepLimits {
    fn default() -> Self {
        StepLimits {
            memory_mib: 64,
            cpu_ms: 60_000,
            deadline_ms: 60_000,
            output_bytes: 64 << 20,
            log_bytes: 256 << 10,
            // `frames` makes up to 10,000 frames for `people-count`: well under.
            max_artifacts: 16_384,
            max_handles: 1_024,
            // RFC 6838: type and subtype of at most 127 characters each.
            max_media_type_bytes: 256,
        }
    }
}

impl StepLimits {
    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> u64 {
        u64::from(self.memory_mib) << 20
    }

    /// The CPU budget.
    pub fn cpu_budget(&self) -> Duration {
        Duration::from_millis(self.cpu_ms)
    }

    /// The wall-clock deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Enforces the memory cap over the sum of an instance's memories, and remembers a denied
/// growth so the run can be reported as "memory limit exceeded" instead of the
/// `unreachable` trap a Rust guest raises when its allocator is refused.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    cap: u64,
    /// Bytes currently held by all memories of the instance.
    total: u64,
    /// Largest `total` seen.
    pub(crate) peak: u64,
    /// The total a refused growth asked for.
    pub(crate) denied: Option<u64>,
}

impl MemoryLimiter {
    pub(crate) fn new(cap: u64) -> Self {
        MemoryLimiter {
            cap,
            total: 0,
            peak: 0,
            denied: None,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let wanted = self.total - current as u64 + desired as u64;
        if wanted > self.cap {
            self.denied = Some(self.denied.map_or(wanted, |d| d.max(wanted)));
            return Ok(false);
        }
        self.total = wanted;
        self.peak = self.peak.max(wanted);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any real plugin.
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn sums_memories_and_records_denials() {
        let mut l = MemoryLimiter::new(10 << 20);
        assert!(l.memory_growing(0, 6 << 20, None).unwrap());
        assert!(l.memory_growing(0, 3 << 20, None).unwrap());
        // The first memory grows from 6 to 8 MiB: 11 MiB in all, over the cap.
        assert!(!l.memory_growing(6 << 20, 8 << 20, None).unwrap());
        assert_eq!(l.denied, Some(11 << 20));
        assert_eq!(l.peak, 9 << 20);
    }
}
