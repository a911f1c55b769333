//! Real Time Response: sessions and commands on one host
//! (scopes `real-time-response:read`, `real-time-response:write` and
//! `real-time-response-admin:write` by command tier).
//!
//! Starting a session and running a command change state: they are never
//! replayed, and an unknown outcome is [`Error::WriteUncertain`]. A host
//! that is offline answers with code 40407 ([`Error::Api`]) unless the
//! session is queued.
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use std::time::Duration;
//! use falcon::rtr::{Command, SessionRequest, Tier};
//!
//! let rtr = client.rtr();
//! let session = rtr.init_session(&SessionRequest::new("<aid>")).await?;
//! let output = rtr
//!     .run_and_wait(&Command::new(Tier::ReadOnly, &session.session_id, "ls C:\\"), Duration::from_secs(60))
//!     .await?;
//! println!("{}", output.stdout);
//! rtr.close_session(&session.session_id).await?;
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::model::{boolean, decode_error, int, present, text};

/// Scope of sessions and read-only commands.
pub const SCOPE_READ: &str = "real-time-response:read";
/// Scope of active-responder commands.
pub const SCOPE_WRITE: &str = "real-time-response:write";
/// Scope of admin commands.
pub const SCOPE_ADMIN: &str = "real-time-response-admin:write";

/// `POST /real-time-response/entities/sessions/v1` (RTR_InitSession).
pub const INIT_SESSION: Endpoint = Endpoint::write(
    Method::Post,
    "/real-time-response/entities/sessions/v1",
    SCOPE_READ,
);
/// `DELETE /real-time-response/entities/sessions/v1` (RTR_DeleteSession).
/// Retried like a read (closing twice closes once).
pub const DELETE_SESSION: Endpoint = Endpoint::idempotent_write(
    Method::Delete,
    "/real-time-response/entities/sessions/v1",
    SCOPE_READ,
);
/// `POST /real-time-response/entities/refresh-session/v1` (RTR_PulseSession).
/// Retried like a read (a keep-alive).
pub const REFRESH_SESSION: Endpoint = Endpoint::idempotent_write(
    Method::Post,
    "/real-time-response/entities/refresh-session/v1",
    SCOPE_READ,
);

/// The command tier: which endpoint (and scope) runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// Read-only commands (`ls`, `ps`, `cat`, …): `real-time-response:read`.
    ReadOnly,
    /// Active responder (`get`, `kill`, `rm`, …): `real-time-response:write`.
    ActiveResponder,
    /// Admin (`put`, `run`, `runscript` with custom scripts, …):
    /// `real-time-response-admin:write`.
    Admin,
}

impl Tier {
    /// The endpoint that starts a command of this tier.
    pub fn execute_endpoint(self) -> Endpoint {
        match self {
            Self::ReadOnly => Endpoint::write(
                Method::Post,
                "/real-time-response/entities/command/v1",
                SCOPE_READ,
            ),
            Self::ActiveResponder => Endpoint::write(
                Method::Post,
                "/real-time-response/entities/active-responder-command/v1",
                SCOPE_WRITE,
            ),
            Self::Admin => Endpoint::write(
                Method::Post,
                "/real-time-response/entities/admin-command/v1",
                SCOPE_ADMIN,
            ),
        }
    }

    /// The endpoint that reports a command of this tier.
    pub fn status_endpoint(self) -> Endpoint {
        let run = self.execute_endpoint();
        Endpoint::read(Method::Get, run.path, run.scope)
    }
}

/// A session to start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRequest {
    /// The host's agent id.
    pub device_id: String,
    /// Queue commands for an offline host instead of failing.
    pub queue_offline: bool,
}

impl SessionRequest {
    /// A session on `device_id`.
    pub fn new(device_id: impl Into<String>) -> Self {
        Self {
            device_id: device_id.into(),
            queue_offline: false,
        }
    }

    /// Queues commands when the host is offline.
    #[must_use]
    pub fn queue_offline(mut self) -> Self {
        self.queue_offline = true;
        self
    }
}

/// A started session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Session {
    /// The session id, for commands.
    pub session_id: String,
    /// The host.
    pub device_id: String,
    /// Whether commands are queued for an offline host.
    pub offline_queued: bool,
    /// The working directory.
    pub pwd: String,
    /// The whole object as the API returned it.
    pub raw: Value,
}

/// A command to run in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// The tier (and so endpoint and scope).
    pub tier: Tier,
    /// The session.
    pub session_id: String,
    /// The whole command line; the verb (`base_command`) is its first word,
    /// or its first two for `reg query` style commands.
    pub command_string: String,
}

impl Command {
    /// `command_string` in `session_id` at `tier`.
    pub fn new(
        tier: Tier,
        session_id: impl Into<String>,
        command_string: impl Into<String>,
    ) -> Self {
        Self {
            tier,
            session_id: session_id.into(),
            command_string: command_string.into(),
        }
    }

    /// The `base_command`: the first word, or the first two for the
    /// two-word verbs (`reg query`, `eventlog view`, `update list`, …).
    pub fn base_command(&self) -> String {
        let mut words = self.command_string.split_whitespace();
        let first = words.next().unwrap_or_default();
        match (first, words.next()) {
            ("reg" | "eventlog" | "update", Some(second)) => format!("{first} {second}"),
            _ => first.to_owned(),
        }
    }
}

/// A started command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandHandle {
    /// The tier it runs at.
    pub tier: Tier,
    /// The id to poll with.
    pub cloud_request_id: String,
    /// The session.
    pub session_id: String,
    /// Whether it was queued for an offline host.
    pub queued_offline: bool,
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandOutput {
    /// Whether the command finished.
    pub complete: bool,
    /// Standard output (all sequences, concatenated).
    pub stdout: String,
    /// Standard error (all sequences, concatenated).
    pub stderr: String,
}

/// RTR calls; get one with [`Client::rtr`].
#[derive(Debug, Clone, Copy)]
pub struct Rtr<'a> {
    client: &'a Client,
}

impl Client {
    /// Real Time Response calls.
    pub fn rtr(&self) -> Rtr<'_> {
        Rtr { client: self }
    }
}

impl Rtr<'_> {
    /// Starts a session on a host (HTTP 201).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Api`] with code
    /// 40407 when the host is offline (and not queued) or 404 when unknown;
    /// [`Error::Forbidden`] without `real-time-response:read`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn init_session(&self, request: &SessionRequest) -> Result<Session> {
        let device_id = request.device_id.trim();
        if device_id.is_empty() {
            return Err(Error::InvalidInput("rtr device id is empty".into()));
        }
        let body = json!({ "device_id": device_id, "queue_offline": request.queue_offline, "origin": "falcon-plugin-host" });
        let response = self
            .client
            .execute(ApiRequest::new(INIT_SESSION).json(body))
            .await?
            .error_for_errors(&INIT_SESSION)?;
        let raw = first(&INIT_SESSION, response.envelope.resource_list())?;
        let session_id = present(&raw, "session_id")
            .ok_or_else(|| decode_error(&INIT_SESSION, "a session has no `session_id`"))?;
        Ok(Session {
            session_id,
            device_id: text(&raw, "device_id"),
            offline_queued: boolean(&raw, "offline_queued").unwrap_or(false),
            pwd: text(&raw, "pwd"),
            raw,
        })
    }

    /// Keeps a session alive (sessions expire after 10 idle minutes).
    ///
    /// # Errors
    ///
    /// As [`Rtr::init_session`].
    pub async fn refresh_session(&self, device_id: &str) -> Result<()> {
        self.client
            .execute(ApiRequest::new(REFRESH_SESSION).json(json!({ "device_id": device_id })))
            .await?
            .error_for_errors(&REFRESH_SESSION)?;
        Ok(())
    }

    /// Closes a session (HTTP 204).
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `real-time-response:read`; any error of
    /// [`Client::execute`].
    pub async fn close_session(&self, session_id: &str) -> Result<()> {
        self.client
            .execute(ApiRequest::new(DELETE_SESSION).query("session_id", session_id))
            .await?
            .error_for_errors(&DELETE_SESSION)?;
        Ok(())
    }

    /// Starts a command. Never replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty command; [`Error::Api`] (400)
    /// for a command the tier does not allow; [`Error::Forbidden`] without
    /// the tier's scope; [`Error::WriteUncertain`]; any error of
    /// [`Client::execute`].
    pub async fn run(&self, command: &Command) -> Result<CommandHandle> {
        let base = command.base_command();
        if base.is_empty() || command.session_id.trim().is_empty() {
            return Err(Error::InvalidInput(
                "rtr command needs a session and a command".into(),
            ));
        }
        let endpoint = command.tier.execute_endpoint();
        let body = json!({
            "base_command": base,
            "command_string": command.command_string,
            "session_id": command.session_id,
        });
        let response = self
            .client
            .execute(ApiRequest::new(endpoint).json(body))
            .await?
            .error_for_errors(&endpoint)?;
        let raw = first(&endpoint, response.envelope.resource_list())?;
        Ok(CommandHandle {
            tier: command.tier,
            cloud_request_id: present(&raw, "cloud_request_id")
                .ok_or_else(|| decode_error(&endpoint, "a command has no `cloud_request_id`"))?,
            session_id: text(&raw, "session_id"),
            queued_offline: boolean(&raw, "queued_command_offline").unwrap_or(false),
        })
    }

    /// The output of a command so far: reads sequence after sequence and
    /// concatenates them until one is incomplete or the last is reached.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without the tier's scope; any error of
    /// [`Client::execute`].
    pub async fn output(&self, handle: &CommandHandle) -> Result<CommandOutput> {
        let endpoint = handle.tier.status_endpoint();
        let mut output = CommandOutput::default();
        let mut sequence = 0i64;
        loop {
            let response = self
                .client
                .execute(
                    ApiRequest::new(endpoint)
                        .query("cloud_request_id", handle.cloud_request_id.clone())
                        .query("sequence_id", sequence.to_string()),
                )
                .await?
                .error_for_errors(&endpoint)?;
            let raw = first(&endpoint, response.envelope.resource_list())?;
            output.complete = boolean(&raw, "complete").unwrap_or(false);
            output.stdout.push_str(&text(&raw, "stdout"));
            output.stderr.push_str(&text(&raw, "stderr"));
            let reported = int(&raw, "sequence_id").unwrap_or(sequence);
            // More sequences only follow a complete chunk that says so.
            if !output.complete || !boolean(&raw, "has_more").unwrap_or(false) {
                return Ok(output);
            }
            sequence = reported + 1;
        }
    }

    /// Runs a command and polls (every 250 ms) until it completes or
    /// `timeout` passes.
    ///
    /// # Errors
    ///
    /// As [`Rtr::run`] and [`Rtr::output`]; [`Error::Timeout`] when the
    /// command does not complete in time (it may still run on the host).
    pub async fn run_and_wait(
        &self,
        command: &Command,
        timeout: Duration,
    ) -> Result<CommandOutput> {
        let handle = self.run(command).await?;
        let start = Instant::now();
        loop {
            let output = self.output(&handle).await?;
            if output.complete {
                return Ok(output);
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    endpoint: handle.tier.status_endpoint().to_string(),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(250).min(timeout)).await;
        }
    }
}

fn first(endpoint: &Endpoint, list: Vec<Value>) -> Result<Value> {
    list.into_iter()
        .next()
        .ok_or_else(|| decode_error(endpoint, "the response has no resource"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_commands() {
        let c = |s: &str| Command::new(Tier::ReadOnly, "s", s).base_command();
        assert_eq!(c("ls C:\\"), "ls");
        assert_eq!(c("reg query HKLM\\Software"), "reg query");
        assert_eq!(c("  ps "), "ps");
        assert_eq!(c(""), "");
        assert_eq!(
            Tier::Admin.status_endpoint().scope,
            "real-time-response-admin:write"
        );
        assert!(Tier::Admin.status_endpoint().is_read());
    }
}
