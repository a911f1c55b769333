//! Hostile: busy-waits on the clocks for an hour, calling into WASI's
//! monotonic and wall clocks on every turn.

use std::time::{Duration, Instant, SystemTime};

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "clock-spin",
    version: "0.1.0",
    description: "Hostile: spins on the clock past the deadline",
    scopes: [],
}

struct ClockSpin;

impl Plugin for ClockSpin {
    fn run(_input: Input) -> Result<String, String> {
        let start = Instant::now();
        let mut turns = 0u64;
        while start.elapsed() < Duration::from_secs(3600) {
            let _ = std::hint::black_box(SystemTime::now());
            turns += 1;
        }
        Ok(format!("spun {turns} times"))
    }
}

falcon_sdk::export_plugin!(ClockSpin);
