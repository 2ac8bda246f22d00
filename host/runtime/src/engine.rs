//! The one wasmtime `Engine` and what goes with it: pooling allocator, epoch ticker,
//! the compile cache, and the cap on instances running at once.

use crate::cache::CompileCache;
use crate::limits::StepLimits;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the engine's epoch advances: the granularity of deadlines and cancellation.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances one component may have. Measured (docs/limits.md): a Rust plugin has
/// 1-4; a componentize-py 0.25 (CPython) component 14, one per dynamically linked module
/// (libc, libpython, the WASI adapter, the bindings, ...) plus shims, and each Python
/// package with a native extension adds more; a ComponentizeJS 0.23 (SpiderMonkey)
/// component 4. 16 left a Python plugin two modules of room; 32 leaves it 18. A core
/// instance's slot is only a count (its metadata is allocated when it is created), so the
/// larger total reserves no memory.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Tables one component may have: CPython's has 2 (5684 and 95 elements), SpiderMonkey's
/// 2 (7701 and 33), under the pool's 20,000 elements a table.
const TABLES_PER_COMPONENT: u32 = 8;

/// Settings of the runtime as a whole (per-run limits are in [`StepLimits`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Instances that may run at once; further runs wait for a slot.
    pub max_instances: u32,
    /// The largest memory cap any step may be given, in MiB (sizes the pool's slots).
    pub max_memory_mib: u32,
    /// Where compiled components are cached; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// Limits a step gets when its pipeline sets none.
    pub default_limits: StepLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_instances: 16,
            max_memory_mib: 1024,
            cache_dir: None,
            default_limits: StepLimits::default(),
        }
    }
}

/// Runs plugins. Cheap to clone; clones share the engine, the cache and the instance cap.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) config: RuntimeConfig,
    pub(crate) cache: Option<CompileCache>,
    pub(crate) slots: Semaphore,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, String> {
        if config.max_instances == 0 {
            return Err("max_instances must be at least 1".into());
        }
        if config.default_limits.memory_mib > config.max_memory_mib {
            return Err(format!(
                "default memory cap {} MiB is above max_memory_mib {} MiB",
                config.default_limits.memory_mib, config.max_memory_mib
            ));
        }
        let n = config.max_instances;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .total_memories(n * 2)
            .max_memories_per_component(2)
            .total_tables(n * TABLES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_stacks(n)
            .max_memory_size((config.max_memory_mib as usize) << 20)
            // Reset a freed slot by rewriting only the pages the guest dirtied (PAGEMAP_SCAN,
            // Linux 6.7+), up to 1 MiB of each memory, instead of an madvise whose TLB
            // shootdown interrupts every core: faster reuse, at most 1 MiB resident a slot.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10)
            .max_unused_warm_slots(n);

        let mut wasm = Config::new();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .epoch_interruption(true)
            .wasm_component_model(true)
            .max_wasm_stack(1 << 20)
            .async_stack_size(2 << 20)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        // `FRAMEPIPE_PROFILER=perfmap`: name the plugins' compiled functions in
        // /tmp/perf-<pid>.map, so `perf record` / `perf report` can attribute guest time.
        if std::env::var("FRAMEPIPE_PROFILER").as_deref() == Ok("perfmap") {
            wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&wasm).map_err(|e| format!("creating the wasm engine: {e:#}"))?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(CompileCache::open(dir, &engine).map_err(|e| e.to_string())?),
            None => None,
        };
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), ticker_stop.clone());
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                slots: Semaphore::new(n as usize),
                config,
                cache,
                ticker_stop,
            }),
        })
    }

    /// The runtime's settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Instance slots free right now.
    pub fn free_slots(&self) -> usize {
        self.inner.slots.available_permits()
    }
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("framepipe-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
}
