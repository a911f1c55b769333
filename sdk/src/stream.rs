//! Iterate over large result sets a page at a time.
//!
//! [`hosts_matching`] wraps the contract's `hosts.host-stream`: the host
//! fetches one page per step, so a plugin walking a fleet of 100,000 hosts
//! holds one page, never the whole fleet.
//!
//! ```ignore
//! use falcon_sdk::{fql, stream};
//!
//! let windows = fql::all_of([fql::eq("platform_name", "Windows")]);
//! let mut outdated = 0;
//! for device in stream::hosts_matching(&windows, 1_000)? {
//!     let device = device.map_err(|e| e.message())?;
//!     if device.agent_version.as_deref() < Some("7.10") {
//!         outdated += 1;
//!     }
//! }
//! # Ok::<(), String>(())
//! ```

use std::collections::VecDeque;

use crate::hosts::{self, Device, HostStream};
use crate::{Error, Filter};

/// The hosts matching a filter, one page of `page_size` (1 to 5,000) per
/// request to the host.
///
/// # Errors
///
/// The errors of `hosts.stream-hosts`: `not-granted` without `hosts:read`,
/// `invalid-input` for a bad filter or when the run already holds 4 open
/// streams.
pub fn hosts_matching(filter: &Filter, page_size: u32) -> Result<Hosts, Error> {
    Ok(Hosts {
        stream: hosts::stream_hosts(filter)?,
        page_size,
        page: VecDeque::new(),
        finished: false,
    })
}

/// An iterator over the hosts of a [`hosts_matching`] stream.
///
/// Yields `Err` once if a page fails (for example when the call budget runs
/// out or the scroll expired), then ends.
#[derive(Debug)]
pub struct Hosts {
    stream: HostStream,
    page_size: u32,
    page: VecDeque<Device>,
    finished: bool,
}

impl Hosts {
    /// How many hosts match, as the API reported it; `None` before the first
    /// page was fetched.
    pub fn total(&self) -> Option<u64> {
        self.stream.total()
    }
}

impl Iterator for Hosts {
    type Item = Result<Device, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(device) = self.page.pop_front() {
            return Some(Ok(device));
        }
        if self.finished {
            return None;
        }
        match self.stream.next(self.page_size) {
            Ok(page) if page.is_empty() => {
                self.finished = true;
                None
            }
            Ok(page) => {
                self.page = page.into();
                self.page.pop_front().map(Ok)
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}
