//! The in-process parts of the benchmarks. `bench/run` drives them, together
//! with whole-process runs of `host`, `wasmtime` and FalconPy scripts, and
//! writes `docs/BENCHMARKS.md`. Each subcommand prints one JSON object on
//! stdout; nothing here binds anything but `127.0.0.1`.
//!
//! - `serve`: the emulator on a tenant of a chosen size, with a latency and a
//!   rate limit, counting the requests it answers by status
//!   (`GET /_bench/stats`).
//! - `instantiate`: store creation plus instantiation of a plugin, with and
//!   without wasmtime's pooling allocator, on an engine configured as the
//!   host's sandbox.
//! - `concurrency`: many runs of a plugin at once on one engine, with the
//!   time and memory each took.

mod sandbox;
mod serve;
mod stats;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The in-process benchmarks of `bench/run`.
#[derive(Debug, Parser)]
#[command(name = "falcon-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the emulator on 127.0.0.1 until killed; prints its URL and
    /// client first.
    Serve(serve::ServeArgs),
    /// Times instantiation, on-demand and pooled.
    Instantiate {
        /// The plugin component (`.wasm`).
        component: PathBuf,
        /// Instantiations per allocator.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
    /// Runs a plugin many times at once in this process.
    Concurrency {
        /// The plugin component (`.wasm`).
        component: PathBuf,
        /// How many runs at once.
        #[arg(long, default_value_t = 100)]
        runs: usize,
        /// The input of every run (JSON).
        #[arg(long, default_value = "{}")]
        input: String,
        /// Use the pooling allocator.
        #[arg(long)]
        pooling: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let result = match Cli::parse().command {
        Command::Serve(args) => return serve::serve(args).await,
        Command::Instantiate {
            component,
            iterations,
        } => sandbox::instantiate(&component, iterations).await?,
        Command::Concurrency {
            component,
            runs,
            input,
            pooling,
        } => sandbox::concurrency(&component, runs, &input, pooling).await?,
    };
    println!("{result}");
    Ok(())
}
