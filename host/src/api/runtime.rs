//! `runtime`: logging and the clock.

use std::sync::atomic::Ordering;

use crate::bindings::falcon::plugin::{runtime, types};
use crate::sandbox::RunState;

impl types::Host for RunState {}

impl runtime::Host for RunState {
    async fn log(&mut self, level: runtime::Level, message: String) -> wasmtime::Result<()> {
        self.charge_output(&message)?;
        if !self.quiet {
            let level = match level {
                runtime::Level::Trace => "trace",
                runtime::Level::Debug => "debug",
                runtime::Level::Info => "info",
                runtime::Level::Warn => "warn",
                runtime::Level::Error => "error",
            };
            // Plugin text goes to the terminal: strip control characters so
            // a plugin cannot move the cursor or forge host lines.
            let clean: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            eprintln!("[{}] {level}: {clean}", self.plugin_name);
        }
        Ok(())
    }

    async fn now(&mut self) -> wasmtime::Result<String> {
        Ok(jiff::Timestamp::now().to_string())
    }

    async fn report_failure(&mut self, reason: String) -> wasmtime::Result<()> {
        self.charge_output(&reason)?;
        self.reported_failure = Some(reason);
        Ok(())
    }
}

impl RunState {
    /// Charges plugin text that reaches the terminal to the output limit;
    /// past it, the plugin is stopped.
    fn charge_output(&mut self, text: &str) -> wasmtime::Result<()> {
        let cost = text.len() as u64 + 1;
        if cost > self.log_budget {
            self.output_exceeded.store(true, Ordering::Relaxed);
            wasmtime::bail!(
                "the plugin exceeded the output limit of {} bytes of log (--max-output)",
                self.log_limit
            );
        }
        self.log_budget -= cost;
        Ok(())
    }
}
