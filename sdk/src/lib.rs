//! Write CrowdStrike Falcon automation plugins for the `host` runtime.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2`. It never
//! holds Falcon credentials: every API call goes through the host, which
//! checks that the operator granted the call's scope, pages and batches,
//! respects the tenant's rate limit and retries. This crate gives a plugin:
//!
//! - the bindings of the `falcon:plugin` contract ([`users`], [`hosts`],
//!   [`host_groups`], [`alerts`], [`incidents`], [`iocs`], [`policies`],
//!   [`sensors`], [`rtr`], [`api`],
//!   [`runtime`]);
//! - [`manifest!`], which records the plugin's name, version, description and
//!   requested scopes in the component, where the host reads them without
//!   running any plugin code;
//! - [`Input`], typed access to the operator's JSON input;
//! - [`fql`] helpers for structured filters and [`report`] builders;
//! - [`format`](mod@format): Slack blocks, Markdown to Jira ADF, plain text and HTML
//!   email, for the notifications a plugin sends through [`notify`];
//! - with the `testing` feature, off `wasm32`: `testing`, a harness that runs
//!   the plugin in the real host against the emulator from `cargo test`.
//!
//! # A whole plugin
//!
//! ```ignore
//! use falcon_sdk::{Input, Plugin, users, Filter};
//!
//! falcon_sdk::manifest! {
//!     name: "count-users",
//!     version: "0.1.0",
//!     description: "Counts Falcon console users",
//!     scopes: ["users:read"],
//! }
//!
//! struct CountUsers;
//!
//! impl Plugin for CountUsers {
//!     fn run(input: Input) -> Result<String, String> {
//!         let ids = users::list_users(&Filter::All).map_err(|e| e.message())?;
//!         Ok(format!("{} users\n", ids.len()))
//!     }
//! }
//!
//! falcon_sdk::export_plugin!(CountUsers);
//! ```
#![warn(missing_docs)]

pub mod format;
pub mod fql;
pub mod input;
pub mod lookup;
pub mod report;
pub mod stream;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

pub use input::{Input, InputError};

/// The generated bindings of the `falcon:plugin@0.1.0` world.
///
/// Most plugins use the re-exports at the crate root instead.
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "falcon_sdk::bindings",
        generate_all,
    });
}

/// Alerts: list, read and update them (`detections:read`, `detections:write`).
pub use bindings::falcon::plugin::alerts;
pub use bindings::falcon::plugin::api;
/// Host groups: read, create, change, delete them and their members
/// (`host-groups:read`, `host-groups:write`).
pub use bindings::falcon::plugin::host_groups;
pub use bindings::falcon::plugin::hosts;
/// Incidents (legacy API): list, read and update them (`incidents:read`,
/// `incidents:write`).
pub use bindings::falcon::plugin::incidents;
/// Custom IOCs: read, create, change and delete them (`custom-ioc:read`,
/// `custom-ioc:write`); blocking ones need the operator's approval.
pub use bindings::falcon::plugin::iocs;
pub use bindings::falcon::plugin::notify;
/// Prevention, response and sensor update policies: read, create, change,
/// delete, enable, order them and their host groups (the kind's
/// `*-policies:read` or `:write`); changes need the operator's approval.
pub use bindings::falcon::plugin::policies;
/// Real Time Response: run a command or a saved script on hosts with a
/// result per host, at the read-only, active or admin level
/// (`real-time-response:*`, `real-time-response-admin:*`).
pub use bindings::falcon::plugin::rtr;
pub use bindings::falcon::plugin::runtime;
/// Sensor update builds, sensor installers and the CCID
/// (`sensor-update-policies:read`, `sensor-versions:read`).
pub use bindings::falcon::plugin::sensors;
pub use bindings::falcon::plugin::types::{
    Comparison, Condition, DeliveryFailure, Denial, Error, Filter, UpstreamError,
};
pub use bindings::falcon::plugin::users;

/// What a plugin implements: one run with the operator's input.
///
/// Return the report text on success, or a message for the operator on
/// failure; the host prints either and sets its exit code.
pub trait Plugin {
    /// Run once with the operator's input.
    ///
    /// # Errors
    ///
    /// A message for the operator; the host exits with the plugin-failed code.
    fn run(input: Input) -> Result<String, String>;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::Guest;

    /// Adapts a [`crate::Plugin`] to the generated `Guest` trait.
    #[derive(Debug)]
    pub struct Adapter<P>(core::marker::PhantomData<P>);

    impl<P: crate::Plugin> Guest for Adapter<P> {
        fn run(input: String) -> Result<String, String> {
            let input = crate::Input::parse(&input).map_err(|e| e.to_string())?;
            P::run(input)
        }
    }

    /// Copies a string into a fixed-size array at compile time, so that the
    /// manifest can live in a `static` placed in a custom section.
    pub const fn to_array<const N: usize>(s: &str) -> [u8; N] {
        let bytes = s.as_bytes();
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

/// Exports a type implementing [`Plugin`] as the component's entry point.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __FalconPluginAdapter = $crate::__private::Adapter<$plugin>;
        $crate::bindings::__export_plugin_world!(__FalconPluginAdapter);
    };
}

/// Records the plugin's manifest in the component.
///
/// The manifest is a custom section named `falcon-plugin-manifest`. The host
/// reads it before it grants anything or runs any code: it shows the
/// requested scopes to the operator and refuses to start the plugin when one
/// is not granted. Request only the scopes the plugin uses; the host reports
/// unused grants after each run.
///
/// The section holds UTF-8 lines of `key: value`: `manifest-version`, `name`,
/// `version`, `description`, then one `scope` line per requested scope.
/// Values cannot contain line breaks.
///
/// ```ignore
/// falcon_sdk::manifest! {
///     name: "access-audit",
///     version: env!("CARGO_PKG_VERSION"),
///     description: "Audits Falcon console users",
///     scopes: ["users:read", "roles:read"],
/// }
/// ```
#[macro_export]
macro_rules! manifest {
    (
        name: $name:expr,
        version: $version:expr,
        description: $description:expr,
        scopes: [$($scope:expr),* $(,)?] $(,)?
    ) => {
        const __FALCON_PLUGIN_MANIFEST_TEXT: &str = concat!(
            "manifest-version: 1\n",
            "name: ", $name, "\n",
            "version: ", $version, "\n",
            "description: ", $description, "\n",
            $("scope: ", $scope, "\n",)*
        );

        #[unsafe(link_section = "falcon-plugin-manifest")]
        #[used]
        static __FALCON_PLUGIN_MANIFEST: [u8; __FALCON_PLUGIN_MANIFEST_TEXT.len()] =
            $crate::__private::to_array(__FALCON_PLUGIN_MANIFEST_TEXT);
    };
}

impl Error {
    /// A message for the operator. (The generated `Display` prints the
    /// `Debug` form; this one reads as a sentence.)
    pub fn message(&self) -> String {
        let mut out = String::new();
        let _ = self.write_message(&mut out);
        out
    }

    fn write_message(&self, f: &mut String) -> core::fmt::Result {
        use core::fmt::Write as _;
        match self {
            Error::NotGranted(d) => write!(
                f,
                "`{}` needs scope `{}`, which the operator did not grant ({})",
                d.operation, d.scope, d.remedy
            ),
            Error::MissingApiScope(s) => {
                write!(f, "the Falcon API client lacks the scope `{s}`")
            }
            Error::NotFound(ids) => write!(f, "not found: {}", ids.join(", ")),
            Error::RateLimited(ms) => write!(f, "rate limited; retry after {ms} ms"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Upstream(u) => {
                write!(f, "Falcon API error {}: {}", u.status, u.message)?;
                if let Some(t) = &u.trace_id {
                    write!(f, " (trace id {t})")?;
                }
                Ok(())
            }
            Error::BudgetExhausted(m) => write!(f, "budget exhausted: {m}"),
            Error::DryRun(m) => write!(f, "dry run: {m}"),
            Error::NotApproved(m) => write!(f, "not approved: {m}"),
            Error::DeliveryFailed(d) => {
                write!(f, "notification to `{}` failed", d.destination)?;
                if let Some(status) = d.status {
                    write!(f, " with status {status}")?;
                }
                write!(f, " after {} attempt(s): {}", d.attempts, d.message)
            }
        }
    }
}

/// Logs a line at `info` level through the host.
pub fn log_info(message: &str) {
    runtime::log(runtime::Level::Info, message);
}

/// Logs a line at `warn` level through the host.
pub fn log_warn(message: &str) {
    runtime::log(runtime::Level::Warn, message);
}

/// Marks the run as failed without giving up its report: the host prints
/// the report `run` returns, then `reason`, and exits 1. For workflows whose
/// report matters most when some of their actions failed.
///
/// ```no_run
/// let refused = 2;
/// if refused > 0 {
///     falcon_sdk::report_failure(&format!("{refused} containment(s) were refused"));
/// }
/// ```
pub fn report_failure(reason: &str) {
    runtime::report_failure(reason);
}
