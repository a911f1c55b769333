//! `instantiate` and `concurrency`: plugin runs on an engine configured as
//! the host's sandbox (`host/src/sandbox.rs`: epoch interruption, no fuel,
//! a 1 MiB wasm stack, WASI p2 linked with nothing granted).
//!
//! The contract is not implemented here: `runtime.now` is (it yields to the
//! scheduler, as a host call waiting on the network would), every other
//! import traps if called. The benchmark plugin calls nothing else.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::stats::{proc_status_kib, summary};

/// Component instances the pool holds: enough for the concurrency run.
const POOL_INSTANCES: u32 = 128;

/// The host's default memory limit (`--max-memory`).
const MAX_MEMORY: usize = 256 << 20;

/// The host's epoch tick; the deadline below is its default `--timeout`.
const EPOCH_TICK: Duration = Duration::from_millis(10);
const DEADLINE_TICKS: u64 = 30_000;

/// What one run's store holds.
struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCounter,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Counts the linear memory of every memory of the run against one cap, as
/// the host's `MemoryLimiter` does.
#[derive(Debug, Default)]
struct MemoryCounter {
    used: usize,
}

impl ResourceLimiter for MemoryCounter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(desired.saturating_sub(current));
        if total > MAX_MEMORY {
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The host's engine configuration, with the pooling allocator when asked.
fn engine(pooling: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(false);
    config.max_wasm_stack(1 << 20);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        // A Rust plugin is a handful of core instances (the plugin, the WASI
        // adapter, shims) with one or two memories and tables.
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 8)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(MAX_MEMORY);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
    let weak = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    Ok(engine)
}

/// Compiles the component and resolves its imports once.
fn prepare(engine: &Engine, path: &Path) -> anyhow::Result<InstancePre<RunState>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    let component = Component::from_binary(engine, &bytes).map_err(anyhow::Error::from)?;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
    linker
        .instance("falcon:plugin/runtime@0.1.0")
        .and_then(|mut runtime| {
            runtime.func_wrap_async("now", |_store, (): ()| {
                Box::new(async {
                    tokio::task::yield_now().await;
                    Ok((jiff::Timestamp::now().to_string(),))
                })
            })
        })
        .map_err(anyhow::Error::from)?;
    stub_contract(engine, &component, &mut linker)?;
    linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)
}

/// Defines every function of the contract's interfaces except
/// `runtime.now` as one that traps. (`Linker::define_unknown_imports_as_traps`
/// would also shadow WASI imports that are linked under a newer 0.2 version.)
fn stub_contract(
    engine: &Engine,
    component: &Component,
    linker: &mut Linker<RunState>,
) -> anyhow::Result<()> {
    let ty = component.component_type();
    for (name, import) in ty.imports(engine) {
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        if !name.starts_with("falcon:plugin/") {
            continue;
        }
        let mut scope = linker.instance(name).map_err(anyhow::Error::from)?;
        for (function, export) in instance.exports(engine) {
            let is_now = name.starts_with("falcon:plugin/runtime@") && function == "now";
            if is_now || !matches!(export.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let called = format!("{name}#{function}");
            scope
                .func_new(function, move |_, _, _, _| {
                    Err(wasmtime::format_err!(
                        "the benchmark does not implement `{called}`"
                    ))
                })
                .map_err(anyhow::Error::from)?;
        }
    }
    Ok(())
}

/// A store as the host builds one: no environment, arguments, files or
/// network; the memory counter; the epoch deadline.
fn new_store(engine: &Engine) -> Store<RunState> {
    let wasi = WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let state = RunState {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryCounter::default(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    store.set_epoch_deadline(DEADLINE_TICKS);
    store.epoch_deadline_trap();
    store
}

/// Instantiates and calls `run(input)`; returns the live store.
async fn run_once(
    engine: &Engine,
    pre: &InstancePre<RunState>,
    input: &str,
) -> anyhow::Result<Store<RunState>> {
    let mut store = new_store(engine);
    let instance = pre
        .instantiate_async(&mut store)
        .await
        .map_err(anyhow::Error::from)?;
    let run = instance
        .get_typed_func::<(&str,), (Result<String, String>,)>(&mut store, "run")
        .map_err(anyhow::Error::from)?;
    let (result,) = run
        .call_async(&mut store, (input,))
        .await
        .map_err(anyhow::Error::from)?;
    result.map_err(|e| anyhow!("the plugin failed: {e}"))?;
    Ok(store)
}

/// Per allocator: engine creation, the first instantiation after it (what a
/// one-shot `host run` pays), then `iterations` of store + instantiate and
/// of store + instantiate + `run("{}")`, in µs.
pub(crate) async fn instantiate(path: &Path, iterations: usize) -> anyhow::Result<Value> {
    let mut results = serde_json::Map::new();
    for (name, pooling) in [("on_demand", false), ("pooling", true)] {
        let creating = Instant::now();
        let engine = engine(pooling)?;
        let engine_us = micros(creating.elapsed());
        let pre = prepare(&engine, path)?;

        let first = Instant::now();
        let mut store = new_store(&engine);
        pre.instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        let first_us = micros(first.elapsed());
        drop(store);

        let mut instantiate = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let mut store = new_store(&engine);
            pre.instantiate_async(&mut store)
                .await
                .map_err(anyhow::Error::from)?;
            instantiate.push(micros(started.elapsed()));
        }
        let mut with_call = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let store = run_once(&engine, &pre, "{}").await?;
            with_call.push(micros(started.elapsed()));
            drop(store);
        }
        results.insert(
            name.to_owned(),
            json!({
                "engine_us": engine_us,
                "first_instantiate_us": first_us,
                "instantiate_us": summary(&instantiate),
                "instantiate_and_run_us": summary(&with_call),
            }),
        );
    }
    Ok(Value::Object(results))
}

/// `runs` runs of the plugin started at once on one engine. Each keeps its
/// store until all have finished, so the resident memory measured then holds
/// every run.
pub(crate) async fn concurrency(
    path: &Path,
    runs: usize,
    input: &str,
    pooling: bool,
) -> anyhow::Result<Value> {
    let engine = engine(pooling)?;
    let pre = prepare(&engine, path)?;
    // One run first, so that code pages and allocator arenas are in place.
    drop(run_once(&engine, &pre, input).await?);
    let rss_before = proc_status_kib("VmRSS").unwrap_or(0);

    let done = Arc::new(Barrier::new(runs + 1));
    let release = Arc::new(Barrier::new(runs + 1));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..runs {
        let (engine, pre, input) = (engine.clone(), pre.clone(), input.to_owned());
        let (done, release) = (done.clone(), release.clone());
        tasks.spawn(async move {
            let begun = Instant::now();
            let outcome = run_once(&engine, &pre, &input).await;
            let elapsed = begun.elapsed();
            done.wait().await;
            release.wait().await;
            outcome.map(|store| (elapsed, store.data().memory.used))
        });
    }
    done.wait().await;
    let wall = started.elapsed();
    let rss_all = proc_status_kib("VmRSS").unwrap_or(0);
    release.wait().await;

    let mut times = Vec::with_capacity(runs);
    let mut linear = Vec::with_capacity(runs);
    while let Some(joined) = tasks.join_next().await {
        let (elapsed, memory) = joined.context("a run panicked")??;
        times.push(elapsed.as_secs_f64() * 1e3);
        linear.push(memory as f64 / 1024.0);
    }
    let per_run_kib = rss_all.saturating_sub(rss_before) as f64 / runs as f64;
    Ok(json!({
        "runs": runs,
        "pooling": pooling,
        "wall_ms": wall.as_secs_f64() * 1e3,
        "wall_per_run_ms": wall.as_secs_f64() * 1e3 / runs as f64,
        "run_ms": summary(&times),
        "rss_before_kib": rss_before,
        "rss_all_live_kib": rss_all,
        "rss_per_run_kib": per_run_kib,
        "linear_memory_per_run_kib": summary(&linear),
    }))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
