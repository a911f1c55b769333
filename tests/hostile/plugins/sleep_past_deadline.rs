//! Hostile: sleeps an hour through WASI's monotonic clock (a poll the epoch
//! deadline cannot interrupt, since the plugin is blocked in the host).

use falcon_sdk::{Input, Plugin};

falcon_sdk::manifest! {
    name: "sleep-past-deadline",
    version: "0.1.0",
    description: "Hostile: sleeps past the deadline",
    scopes: [],
}

struct SleepPastDeadline;

impl Plugin for SleepPastDeadline {
    fn run(_input: Input) -> Result<String, String> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok("woke up after an hour".into())
    }
}

falcon_sdk::export_plugin!(SleepPastDeadline);
