//! Approving a destructive write at a terminal prompt.
//!
//! Only when both stdin and stderr are terminals: a run from cron or CI
//! never waits for an answer, it is refused with the flag that approves.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::gate::Operation;

/// Whether a person is at the terminal to answer a prompt.
pub(crate) fn terminal_present() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The targets of `op` as an operator reviews them: a host as its id and
/// name (one read with the host's own credentials; a client that cannot
/// read hosts still gets the ids), anything else as given.
pub(crate) async fn labels(falcon: &falcon::Client, op: Operation, ids: &[String]) -> Vec<String> {
    let names = if op.noun() == "host" {
        falcon.hosts().get(ids).await.ok()
    } else {
        None
    };
    ids.iter()
        .map(|id| {
            let name = names
                .as_ref()
                .and_then(|b| b.found.iter().find(|h| &h.device_id == id))
                .and_then(|h| h.hostname.as_deref());
            match name {
                Some(name) => format!("{id} {name}"),
                None => id.clone(),
            }
        })
        .collect()
}

/// Asks the operator to approve `op` on `targets` (as [`labels`] shows
/// them); anything but `y` or `yes` is a refusal.
pub(crate) fn ask(plugin: &str, op: Operation, targets: &[String]) -> bool {
    let mut stderr = std::io::stderr().lock();
    let shown: Vec<&str> = targets.iter().take(10).map(String::as_str).collect();
    let more = targets.len().saturating_sub(shown.len());
    let _ = write!(
        stderr,
        "plugin `{plugin}` wants to {} {}: {}{}\napprove `{}` for this call? [y/N] ",
        op.verb(),
        crate::gate::count(targets.len(), op.noun()),
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        op.name()
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
