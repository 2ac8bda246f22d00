//! CPU time of one run: the thread CPU time spent polling the run's future, which is where
//! the guest's code and the host calls it makes execute.
//!
//! Fuel metering counts instructions, a budget no operator can reason about (and one that
//! says nothing of the time host calls take). A run executes on a wasmtime fiber that only
//! ever advances inside `poll`, so measuring the polling thread's CPU clock around each
//! poll charges the run exactly what it used, and a wait (an HTTP response, a free slot,
//! a descheduled thread) costs it nothing. The epoch callback reads the meter every tick
//! and stops a run over its budget, so the budget is enforced to within one tick.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Accumulated CPU time of one run. Shared by the metered future and the store's data.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    /// Nanoseconds used by finished polls.
    spent_ns: AtomicU64,
    /// The thread's CPU clock when the current poll began; 0 between polls.
    poll_started_ns: AtomicU64,
}

impl CpuMeter {
    /// CPU time used so far, the current poll included. Exact when called on the thread
    /// that polls the run (as the epoch callback is).
    pub(crate) fn used(&self) -> Duration {
        let mut ns = self.spent_ns.load(Ordering::Relaxed);
        let started = self.poll_started_ns.load(Ordering::Relaxed);
        if started != 0 {
            ns += thread_cpu_ns().saturating_sub(started);
        }
        Duration::from_nanos(ns)
    }
}

/// Wraps a run's future and charges the CPU time of each poll to `meter`.
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
}

impl<F> Metered<F> {
    pub(crate) fn new(inner: F, meter: Arc<CpuMeter>) -> Self {
        Metered {
            inner: Box::pin(inner),
            meter,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `max(1)`: 0 means "not polling"; a thread's clock is never 0 ns once it runs.
        let started = thread_cpu_ns().max(1);
        self.meter.poll_started_ns.store(started, Ordering::Relaxed);
        let poll = self.inner.as_mut().poll(cx);
        let used = thread_cpu_ns().saturating_sub(started);
        self.meter.poll_started_ns.store(0, Ordering::Relaxed);
        self.meter.spent_ns.fetch_add(used, Ordering::Relaxed);
        poll
    }
}

/// The calling thread's CPU clock, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn charges_computation_and_not_waiting() {
        let meter = Arc::new(CpuMeter::default());
        Metered::new(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let started = thread_cpu_ns();
                let mut x = 0u64;
                while thread_cpu_ns() - started < 30_000_000 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            },
            meter.clone(),
        )
        .await;
        let used = meter.used();
        assert!(
            used >= Duration::from_millis(30) && used < Duration::from_millis(40),
            "30 ms of computing after a 50 ms sleep was charged {used:?}"
        );
    }
}
