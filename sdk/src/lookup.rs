//! Finding a person's or a device's hosts the way operators name them:
//! a mail address or login, a host name or an agent id.
//!
//! ```ignore
//! use falcon_sdk::lookup;
//!
//! // `ana.lopez@example.com` finds hosts whose sensor reports `ana.lopez`
//! // or the whole address as their last user.
//! let hers = lookup::hosts_last_used_by("ana.lopez@example.com")?;
//! let laptop = lookup::hosts_named("WKS-WIN-00042")?;
//! let servers: Vec<_> = hers
//!     .iter()
//!     .filter(|d| lookup::product_type(d) != "Workstation")
//!     .collect();
//! # Ok::<(), falcon_sdk::Error>(())
//! ```

use crate::hosts::{self, Device};
use crate::{Error, fql};

/// The names a sensor may report for a user: the login (the part of a mail
/// address before `@`) first, then what was given.
///
/// ```
/// use falcon_sdk::lookup::login_names;
///
/// assert_eq!(login_names("ana.lopez@example.com"), ["ana.lopez", "ana.lopez@example.com"]);
/// assert_eq!(login_names("ana"), ["ana"]);
/// ```
pub fn login_names(user: &str) -> Vec<String> {
    let mut names = vec![user.to_owned()];
    if let Some((login, _)) = user.split_once('@')
        && !login.is_empty()
    {
        names.insert(0, login.to_owned());
    }
    names
}

/// Whether `text` is an agent id (32 hex digits) rather than a host name.
///
/// ```
/// use falcon_sdk::lookup::is_agent_id;
///
/// assert!(is_agent_id("3E2ED41E0182631F40C9D9D0B8121D9F"));
/// assert!(!is_agent_id("WKS-WIN-00042"));
/// ```
pub fn is_agent_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The hosts a device name stands for: the host with that agent id, or the
/// hosts with that exact host name; none when there is no such host.
///
/// ```ignore
/// let hosts = falcon_sdk::lookup::hosts_named("WKS-WIN-00042")?;
/// # Ok::<(), falcon_sdk::Error>(())
/// ```
///
/// # Errors
///
/// The errors of `hosts.get-hosts` and `hosts.query-hosts` (`not-granted`
/// without `hosts:read`); an unknown agent id is no error.
pub fn hosts_named(device: &str) -> Result<Vec<Device>, Error> {
    let device = device.trim();
    if is_agent_id(device) {
        return match hosts::get_hosts(&[device.to_ascii_lowercase()]) {
            Err(Error::NotFound(_)) => Ok(Vec::new()),
            other => other,
        };
    }
    hosts::query_hosts(&fql::all_of([fql::eq("hostname", device)]))
}

/// The hosts whose last logged-in user is `user`, under any of its
/// [`login_names`].
///
/// ```ignore
/// let hosts = falcon_sdk::lookup::hosts_last_used_by("ana.lopez@example.com")?;
/// # Ok::<(), falcon_sdk::Error>(())
/// ```
///
/// # Errors
///
/// The errors of `hosts.query-hosts` (`not-granted` without `hosts:read`).
pub fn hosts_last_used_by(user: &str) -> Result<Vec<Device>, Error> {
    let names = login_names(user);
    hosts::query_hosts(&fql::all_of([fql::any_of(
        "last_login_user",
        names.iter().map(String::as_str),
    )]))
}

/// Falcon's `product_type_desc` of a host (`Workstation`, `Server`,
/// `Domain Controller`), read from its full record; empty when absent.
///
/// ```ignore
/// let servers = falcon_sdk::lookup::hosts_named("SRV-WIN-00003")?
///     .into_iter()
///     .filter(|d| falcon_sdk::lookup::product_type(d) == "Server");
/// # Ok::<(), falcon_sdk::Error>(())
/// ```
pub fn product_type(device: &Device) -> String {
    serde_json::from_str::<serde_json::Value>(&device.raw_json)
        .ok()
        .and_then(|v| v["product_type_desc"].as_str().map(str::to_owned))
        .unwrap_or_default()
}
