//! The sandbox a plugin runs in: the wasmtime engine, the WASI context that
//! grants nothing, and the limits on time, memory and output.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use crate::audit::RunAudit;
use crate::bindings::{Plugin, PluginPre};
use crate::cache::{ComponentCache, Origin};
use crate::gate::Gate;
use crate::output::CappedOutput;
use crate::units::{show_duration, show_size};

/// Where the plugin sees the output directory, when one is granted.
pub(crate) const OUTPUT_DIR: &str = "/output";

/// How often the epoch ticker advances; the time limit's resolution.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits of one run. Each has a default and a flag.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Wall-clock time of the whole run (`--timeout`).
    pub(crate) timeout: Duration,
    /// Time of one host call (`--call-timeout`).
    pub(crate) call_timeout: Duration,
    /// Bytes of all linear memories together (`--max-memory`).
    pub(crate) max_memory: u64,
    /// Bytes of each of stdout, stderr and the log (`--max-output`).
    pub(crate) max_output: u64,
    /// API calls through the gate (`--max-calls`).
    pub(crate) max_calls: u64,
    /// Fuel for deterministic runs (`--fuel`); none means unmetered.
    pub(crate) fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            call_timeout: Duration::from_secs(60),
            max_memory: 256 << 20,
            max_output: 1 << 20,
            max_calls: 10_000,
            fuel: None,
        }
    }
}

/// Counts every linear memory of the plugin against one cap.
///
/// `StoreLimits` caps each memory on its own; a component has several (the
/// plugin's, the WASI adapter's), so a per-memory cap would let a plugin use
/// a multiple of it.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max: usize,
    used: usize,
    exceeded: Arc<AtomicBool>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let delta = desired.saturating_sub(current);
        match self.used.checked_add(delta) {
            Some(total) if total <= self.max => {
                self.used = total;
                Ok(true)
            }
            _ => {
                self.exceeded.store(true, Ordering::Relaxed);
                Ok(false)
            }
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real
        // plugin and bounds the host memory a table can take.
        Ok(desired <= 1_000_000)
    }
}

/// Everything a run's store holds.
pub(crate) struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) gate: Gate,
    pub(crate) falcon: falcon::Client,
    pub(crate) plugin_name: String,
    pub(crate) call_timeout: Duration,
    /// Bytes the plugin may still write through `runtime.log`.
    pub(crate) log_budget: u64,
    pub(crate) log_limit: u64,
    pub(crate) output_exceeded: Arc<AtomicBool>,
    pub(crate) quiet: bool,
    pub(crate) audit: Option<RunAudit>,
    /// Whether destructive writes may be approved at a terminal prompt.
    pub(crate) interactive: bool,
    /// The progress line on a terminal, if any; plugin log lines print above it.
    pub(crate) progress: Option<indicatif::ProgressBar>,
    /// Streams (`hosts.host-stream`) the plugin holds open.
    pub(crate) open_streams: usize,
    /// The notification destinations of the run (secrets of granted ones).
    pub(crate) notify: Arc<crate::notify::Notifier>,
    /// Set by `runtime.report-failure`: the run's report is printed and the
    /// run still fails with this reason.
    pub(crate) reported_failure: Option<String>,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState")
            .field("plugin_name", &self.plugin_name)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The engine and linker, shared by every run of this process.
pub(crate) struct Sandbox {
    engine: Engine,
    linker: Linker<RunState>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Builds the engine with epoch interruption (and fuel when asked) and
    /// links WASI plus the contract.
    ///
    /// All of WASI p2 is linked so that a plugin's standard library loads,
    /// but the context built in [`Sandbox::run`] grants nothing: no
    /// environment, no arguments, no preopened directories, no network.
    pub(crate) fn new(fuel: bool) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.consume_fuel(fuel);
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("failed to create the wasmtime engine")?;
        spawn_epoch_ticker(&engine).context("failed to start the epoch ticker")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("failed to link WASI into the sandbox")?;
        Plugin::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)
            .context("failed to link the plugin contract")?;
        Ok(Self { engine, linker })
    }

    /// Loads a component: from the compiled-artifact cache when it holds
    /// this digest, else by compiling it.
    ///
    /// # Errors
    ///
    /// The bytes are not a valid component.
    pub(crate) fn load(
        &self,
        bytes: &[u8],
        digest: &str,
        cache: Option<&ComponentCache>,
    ) -> anyhow::Result<(Component, Origin)> {
        ComponentCache::load_or_compile(cache, &self.engine, bytes, digest)
    }

    /// Runs the plugin once with `input` and classifies how it ended.
    pub(crate) async fn run(
        &self,
        component: &Component,
        setup: RunSetup,
        input: &str,
        limits: &Limits,
    ) -> RunOutcome {
        let memory_exceeded = Arc::new(AtomicBool::new(false));
        let output_exceeded = Arc::new(AtomicBool::new(false));
        let cap = usize::try_from(limits.max_output).unwrap_or(usize::MAX);
        let stdout = CappedOutput::new(cap, output_exceeded.clone());
        let stderr = CappedOutput::new(cap, output_exceeded.clone());

        // Nothing is granted: no env, args, preopens or network; stdin closed.
        let mut builder = WasiCtx::builder();
        builder
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        // The one directory an operator may grant. wasmtime resolves every
        // path in it with cap-std, so `..` and symbolic links cannot leave it.
        if let Some(dir) = &setup.output_dir
            && let Err(e) = builder.preopened_dir(dir, OUTPUT_DIR, FsPerms::ReadWrite)
        {
            return RunOutcome::failed(Stop::Host(format!(
                "failed to open the output directory `{}`: {e:#}",
                dir.display()
            )));
        }
        let wasi = builder.build();
        let state = RunState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max: usize::try_from(limits.max_memory).unwrap_or(usize::MAX),
                used: 0,
                exceeded: memory_exceeded.clone(),
            },
            gate: setup.gate,
            falcon: setup.falcon,
            plugin_name: setup.plugin_name,
            call_timeout: limits.call_timeout,
            log_budget: limits.max_output,
            log_limit: limits.max_output,
            output_exceeded: output_exceeded.clone(),
            quiet: setup.quiet,
            audit: setup.audit,
            interactive: setup.interactive,
            progress: setup.progress,
            open_streams: 0,
            notify: setup.notify,
            reported_failure: None,
        };

        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let ticks = limits.timeout.as_millis() / EPOCH_TICK.as_millis();
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
        store.epoch_deadline_trap();
        if let Some(fuel) = limits.fuel
            && let Err(e) = store.set_fuel(fuel)
        {
            return RunOutcome::failed(Stop::Host(format!("failed to set fuel: {e:#}")));
        }

        let started = Instant::now();
        let result = self
            .instantiate_and_call(&mut store, component, input, limits)
            .await;
        let elapsed = started.elapsed();
        let gate = std::mem::replace(&mut store.data_mut().gate, Gate::new(Default::default(), 0));

        let reported_failure = store.data_mut().reported_failure.take();
        let stop = match result {
            Ok(Ok(report)) => match reported_failure {
                None => Ok(report),
                Some(reason) => Err(Stop::ReportedFailure { report, reason }),
            },
            Ok(Err(message)) => Err(Stop::PluginFailed(message)),
            Err(err) => Err(classify(
                err,
                limits,
                memory_exceeded.load(Ordering::Relaxed),
                output_exceeded.load(Ordering::Relaxed),
            )),
        };
        RunOutcome {
            result: stop,
            stdout: stdout.contents(),
            stderr: stderr.contents(),
            gate: Some(gate),
            elapsed,
        }
    }

    async fn instantiate_and_call(
        &self,
        store: &mut Store<RunState>,
        component: &Component,
        input: &str,
        limits: &Limits,
    ) -> Result<Result<String, String>, CallError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(CallError::Link)?;
        let pre = PluginPre::new(pre).map_err(CallError::Link)?;
        // The epoch deadline cannot interrupt a plugin blocked in a host
        // call, so a tokio timeout backs it up (with a little slack so that
        // the epoch, which names the limit precisely, normally fires first).
        let backstop = limits.timeout + Duration::from_secs(1);
        let call = async {
            let plugin = pre.instantiate_async(&mut *store).await?;
            plugin.call_run(&mut *store, input).await
        };
        match tokio::time::timeout(backstop, call).await {
            Ok(result) => result.map_err(CallError::Trap),
            Err(_) => Err(CallError::TimedOut),
        }
    }
}

/// What a run needs besides the component and its input.
#[derive(Debug)]
pub(crate) struct RunSetup {
    pub(crate) gate: Gate,
    pub(crate) falcon: falcon::Client,
    pub(crate) plugin_name: String,
    pub(crate) quiet: bool,
    pub(crate) audit: Option<RunAudit>,
    pub(crate) interactive: bool,
    /// The directory granted with `--output-dir`, seen as `/output`.
    pub(crate) output_dir: Option<std::path::PathBuf>,
    /// The progress line, on a terminal.
    pub(crate) progress: Option<indicatif::ProgressBar>,
    /// The notification destinations granted to the plugin.
    pub(crate) notify: Arc<crate::notify::Notifier>,
}

#[derive(Debug)]
enum CallError {
    Link(wasmtime::Error),
    Trap(wasmtime::Error),
    TimedOut,
}

/// Why a run did not produce a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The plugin returned an error message.
    PluginFailed(String),
    /// The plugin returned its report but said the run failed.
    ReportedFailure { report: String, reason: String },
    /// The plugin broke a limit; the message names the limit and its value.
    Limit(String),
    /// The plugin trapped (a panic, for example).
    Crashed(String),
    /// The component cannot run in this host.
    Incompatible(String),
    /// The host itself failed.
    Host(String),
}

/// How a run ended, with the plugin's captured output.
#[derive(Debug)]
pub(crate) struct RunOutcome {
    pub(crate) result: Result<String, Stop>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) gate: Option<Gate>,
    pub(crate) elapsed: Duration,
}

impl RunOutcome {
    fn failed(stop: Stop) -> Self {
        Self {
            result: Err(stop),
            stdout: Vec::new(),
            stderr: Vec::new(),
            gate: None,
            elapsed: Duration::ZERO,
        }
    }
}

fn classify(err: CallError, limits: &Limits, memory: bool, output: bool) -> Stop {
    let err = match err {
        CallError::TimedOut => return time_limit(limits),
        CallError::Link(e) => {
            return Stop::Incompatible(format!(
                "the component does not fit this host's contract (falcon:plugin@0.1.0): {e:#}"
            ));
        }
        CallError::Trap(e) => e,
    };
    // The full error carries a wasm backtrace of every frame: useful with
    // -v, noise for an operator (deep recursion makes it thousands of lines).
    tracing::debug!("plugin trap: {err:#}");
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Stop::PluginFailed(format!(
            "it exited with status {} instead of returning a report",
            exit.0
        ));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return time_limit(limits),
        Some(Trap::OutOfFuel) => {
            return Stop::Limit(format!(
                "the plugin ran out of fuel after {} units (--fuel)",
                limits.fuel.unwrap_or(0)
            ));
        }
        Some(Trap::StackOverflow) => {
            return Stop::Limit("the plugin overflowed its stack (recursion too deep)".into());
        }
        // Rust and C keep locals on a "shadow stack" in linear memory; running
        // off its end is an out-of-bounds access, not a host stack overflow.
        Some(Trap::MemoryOutOfBounds) if !memory => {
            return Stop::Crashed(
                "out-of-bounds memory access; the plugin likely overflowed its stack (recursion \
                 too deep) or has a memory bug"
                    .into(),
            );
        }
        _ => {}
    }
    if memory {
        return Stop::Limit(format!(
            "the plugin exceeded the memory limit of {} (--max-memory)",
            show_size(limits.max_memory)
        ));
    }
    if output {
        return Stop::Limit(format!(
            "the plugin exceeded the output limit of {} (--max-output)",
            show_size(limits.max_output)
        ));
    }
    Stop::Crashed(trap_summary(&err))
}

/// The error without its backtrace: the trap's own words, and for a
/// non-trap error its message chain.
fn trap_summary(err: &wasmtime::Error) -> String {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    let text = format!("{err:#}");
    let cut: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with(char::is_numeric))
        .take(6)
        .collect();
    cut.join(" ")
        .replace("error while executing at wasm backtrace:", "")
        .trim()
        .to_owned()
}

fn time_limit(limits: &Limits) -> Stop {
    Stop::Limit(format!(
        "the plugin exceeded the time limit of {} (--timeout)",
        show_duration(limits.timeout)
    ))
}

/// Advances the engine's epoch every tick until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}
