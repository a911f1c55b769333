//! Hostile: re-enters the host from inside a failure. The component model
//! gives a plugin no way to be called back while it calls the host, so the
//! closest thing is calling the host from a panic hook, mid-crash: an
//! ungranted call and a log line, then the abort.

use falcon_sdk::{Input, Plugin, users};

falcon_sdk::manifest! {
    name: "reentrant-panic-hook",
    version: "0.1.0",
    description: "Hostile: calls the host from its panic hook",
    scopes: [],
}

struct ReentrantPanicHook;

impl Plugin for ReentrantPanicHook {
    fn run(_input: Input) -> Result<String, String> {
        std::panic::set_hook(Box::new(|_| {
            let answer = users::list_roles();
            falcon_sdk::log_warn(&format!(
                "panic hook called the host: denied={}",
                answer.is_err()
            ));
        }));
        panic!("crash with a hook that calls the host")
    }
}

falcon_sdk::export_plugin!(ReentrantPanicHook);
