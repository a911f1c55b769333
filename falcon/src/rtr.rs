//! Real Time Response: sessions and commands on one host
//! (scopes `real-time-response:read`, `real-time-response:write` and
//! `real-time-response-admin:write` by command tier), and the admin's
//! cloud scripts and put-files (`real-time-response-admin:write`).
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
//!
//! // An admin script, run by name with `runscript -CloudFile="collect.ps1"`.
//! use falcon::rtr::{FileKind, FileQuery, NewCloudFile};
//! rtr.create_file(&NewCloudFile::new(FileKind::Script, "collect.ps1", "collects logs", "Get-Date"))
//!     .await?;
//! let ids = rtr.file_ids(&FileQuery::all(FileKind::Script)).await?;
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::model::{boolean, decode_error, id_strings, int, present, strings, text, time};
use crate::paging::{Batch, BatchSpec, IdsIn, OffsetPaging, collect_offset_paged, lookup_ids};

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

/// `POST /real-time-response/combined/batch-init-session/v1`
/// (BatchInitSessions).
pub const BATCH_INIT: Endpoint = Endpoint::write(
    Method::Post,
    "/real-time-response/combined/batch-init-session/v1",
    SCOPE_READ,
);

/// `GET /real-time-response/queries/scripts/v1` (RTR_ListScripts).
pub const QUERY_SCRIPTS: Endpoint = Endpoint::read(
    Method::Get,
    "/real-time-response/queries/scripts/v1",
    SCOPE_ADMIN,
);
/// `GET /real-time-response/entities/scripts/v1` (RTR_GetScripts).
pub const GET_SCRIPTS: Endpoint = Endpoint::read(
    Method::Get,
    "/real-time-response/entities/scripts/v1",
    SCOPE_ADMIN,
);
/// `POST /real-time-response/entities/scripts/v1` (RTR_CreateScripts).
pub const CREATE_SCRIPT: Endpoint = Endpoint::write(
    Method::Post,
    "/real-time-response/entities/scripts/v1",
    SCOPE_ADMIN,
);
/// `DELETE /real-time-response/entities/scripts/v1` (RTR_DeleteScripts).
/// Retried like a read (deleting twice deletes once).
pub const DELETE_SCRIPT: Endpoint = Endpoint::idempotent_write(
    Method::Delete,
    "/real-time-response/entities/scripts/v1",
    SCOPE_ADMIN,
);
/// `GET /real-time-response/queries/put-files/v1` (RTR_ListPut_Files).
pub const QUERY_PUT_FILES: Endpoint = Endpoint::read(
    Method::Get,
    "/real-time-response/queries/put-files/v1",
    SCOPE_ADMIN,
);
/// `GET /real-time-response/entities/put-files/v1` (RTR_GetPut_Files).
pub const GET_PUT_FILES: Endpoint = Endpoint::read(
    Method::Get,
    "/real-time-response/entities/put-files/v1",
    SCOPE_ADMIN,
);
/// `POST /real-time-response/entities/put-files/v1` (RTR_CreatePut_Files).
pub const CREATE_PUT_FILE: Endpoint = Endpoint::write(
    Method::Post,
    "/real-time-response/entities/put-files/v1",
    SCOPE_ADMIN,
);
/// `DELETE /real-time-response/entities/put-files/v1` (RTR_DeletePut_Files).
/// Retried like a read (deleting twice deletes once).
pub const DELETE_PUT_FILE: Endpoint = Endpoint::idempotent_write(
    Method::Delete,
    "/real-time-response/entities/put-files/v1",
    SCOPE_ADMIN,
);

/// Page size of script and put-file queries.
pub const FILE_PAGE_LIMIT: u32 = 100;
/// Script or put-file ids per details request.
pub const FILE_GET_IDS: usize = 100;

/// Most hosts in one batch session.
pub const MAX_BATCH_HOSTS: usize = 10_000;

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

    /// The endpoint that runs a command of this tier on a batch.
    pub fn batch_endpoint(self) -> Endpoint {
        match self {
            Self::ReadOnly => Endpoint::write(
                Method::Post,
                "/real-time-response/combined/batch-command/v1",
                SCOPE_READ,
            ),
            Self::ActiveResponder => Endpoint::write(
                Method::Post,
                "/real-time-response/combined/batch-active-responder-command/v1",
                SCOPE_WRITE,
            ),
            Self::Admin => Endpoint::write(
                Method::Post,
                "/real-time-response/combined/batch-admin-command/v1",
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

/// A batch session to start on many hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSessionRequest {
    /// The hosts' agent ids (at most 10,000).
    pub host_ids: Vec<String>,
    /// Queue commands for offline hosts instead of leaving them out.
    pub queue_offline: bool,
}

impl BatchSessionRequest {
    /// A batch session on `host_ids`.
    pub fn new<S: Into<String>>(host_ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            host_ids: host_ids.into_iter().map(Into::into).collect(),
            queue_offline: false,
        }
    }

    /// Queues commands for offline hosts.
    #[must_use]
    pub fn queue_offline(mut self) -> Self {
        self.queue_offline = true;
        self
    }
}

/// The result for one host of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostResult {
    /// The host's agent id.
    pub device_id: String,
    /// The host's session, when one was started.
    pub session_id: Option<String>,
    /// Whether the host finished (session started, command done).
    pub complete: bool,
    /// Whether it was queued for an offline host.
    pub offline_queued: bool,
    /// Standard output of a command.
    pub stdout: String,
    /// Standard error of a command.
    pub stderr: String,
    /// The host's error (e.g. code 40407, sensor offline), if any.
    pub error: Option<crate::IdError>,
}

impl HostResult {
    fn from_json(device_id: &str, raw: &Value) -> Self {
        let error = raw
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .map(|e| crate::IdError {
                id: device_id.to_owned(),
                code: int(e, "code"),
                message: text(e, "message"),
            });
        Self {
            device_id: device_id.to_owned(),
            session_id: present(raw, "session_id"),
            complete: boolean(raw, "complete").unwrap_or(false),
            offline_queued: boolean(raw, "offline_queued").unwrap_or(false),
            stdout: text(raw, "stdout"),
            stderr: text(raw, "stderr"),
            error,
        }
    }

    fn missing(device_id: &str) -> Self {
        Self {
            device_id: device_id.to_owned(),
            session_id: None,
            complete: false,
            offline_queued: false,
            stdout: String::new(),
            stderr: String::new(),
            error: Some(crate::IdError {
                id: device_id.to_owned(),
                code: None,
                message: "not reported by falcon".to_owned(),
            }),
        }
    }
}

/// A started batch session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSession {
    /// The batch id, for batch commands; empty when no host joined.
    pub batch_id: String,
    /// One result per host, in the order asked.
    pub hosts: Vec<HostResult>,
}

/// A command to run on every host of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchCommand {
    /// The tier (and so endpoint and scope).
    pub tier: Tier,
    /// The batch.
    pub batch_id: String,
    /// The whole command line.
    pub command_string: String,
    /// Only these hosts of the batch (all when empty).
    pub optional_hosts: Vec<String>,
    /// How long Falcon waits for each host's output (1 s to 10 min; Falcon's
    /// default is 30 s).
    pub timeout: Option<Duration>,
}

impl BatchCommand {
    /// `command_string` on every host of `batch_id` at `tier`.
    pub fn new(tier: Tier, batch_id: impl Into<String>, command_string: impl Into<String>) -> Self {
        Self {
            tier,
            batch_id: batch_id.into(),
            command_string: command_string.into(),
            optional_hosts: Vec::new(),
            timeout: None,
        }
    }

    /// Sets how long Falcon waits for each host's output.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Which admin cloud files: custom scripts (`runscript -CloudFile=`) or
/// put-files (`put`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// Custom scripts.
    Script,
    /// Put-files.
    PutFile,
}

impl FileKind {
    /// The endpoint listing this kind's ids.
    pub fn query_endpoint(self) -> Endpoint {
        match self {
            Self::Script => QUERY_SCRIPTS,
            Self::PutFile => QUERY_PUT_FILES,
        }
    }

    /// The endpoint returning this kind's files by id.
    pub fn get_endpoint(self) -> Endpoint {
        match self {
            Self::Script => GET_SCRIPTS,
            Self::PutFile => GET_PUT_FILES,
        }
    }

    /// The endpoint uploading a file of this kind.
    pub fn create_endpoint(self) -> Endpoint {
        match self {
            Self::Script => CREATE_SCRIPT,
            Self::PutFile => CREATE_PUT_FILE,
        }
    }

    /// The endpoint deleting a file of this kind.
    pub fn delete_endpoint(self) -> Endpoint {
        match self {
            Self::Script => DELETE_SCRIPT,
            Self::PutFile => DELETE_PUT_FILE,
        }
    }
}

/// Which scripts or put-files to list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileQuery {
    /// Scripts or put-files.
    pub kind: FileKind,
    /// An FQL filter; `None` lists every file of the kind.
    pub filter: Option<String>,
    /// A sort such as `created_timestamp.desc`.
    pub sort: Option<String>,
}

impl FileQuery {
    /// Every file of `kind`.
    pub fn all(kind: FileKind) -> Self {
        Self {
            kind,
            filter: None,
            sort: None,
        }
    }

    /// The files of `kind` matching an FQL filter.
    pub fn filtered(kind: FileKind, filter: impl Into<String>) -> Self {
        Self {
            kind,
            filter: Some(filter.into()),
            sort: None,
        }
    }
}

/// An admin cloud script or put-file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CloudFile {
    /// The id.
    pub id: String,
    /// The name (what `runscript -CloudFile=` and `put` take).
    pub name: String,
    /// The description.
    pub description: String,
    /// `script` or `binary`.
    pub file_type: String,
    /// `private`, `group`, `public`.
    pub permission_type: String,
    /// Platforms it is for.
    pub platform: Vec<String>,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: Option<i64>,
    /// A script's text (put-files do not return their content).
    pub content: Option<String>,
    /// When it was uploaded.
    pub created_timestamp: Option<jiff::Timestamp>,
    /// When it last changed.
    pub modified_timestamp: Option<jiff::Timestamp>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl CloudFile {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id")
            .ok_or_else(|| decode_error(&GET_SCRIPTS, "a cloud file has no `id`"))?;
        Ok(Self {
            id,
            name: text(&raw, "name"),
            description: text(&raw, "description"),
            file_type: text(&raw, "file_type"),
            permission_type: text(&raw, "permission_type"),
            platform: strings(&raw, "platform"),
            sha256: text(&raw, "sha256"),
            size: int(&raw, "size"),
            content: raw
                .get("content")
                .and_then(Value::as_str)
                .map(str::to_owned),
            created_timestamp: time(&raw, "created_timestamp"),
            modified_timestamp: time(&raw, "modified_timestamp"),
            raw,
        })
    }
}

/// A script or put-file to upload. The content is sent as a text field of a
/// `multipart/form-data` body, the form Falcon takes for uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCloudFile {
    /// Script or put-file.
    pub kind: FileKind,
    /// The name, unique per kind.
    pub name: String,
    /// The description (Falcon requires one).
    pub description: String,
    /// The content.
    pub content: String,
    /// `private` (Falcon's default), `group` or `public`.
    pub permission_type: Option<String>,
    /// `windows`, `mac` or `linux` (Falcon's default is `windows`).
    pub platform: Option<String>,
    /// A comment for the audit log.
    pub comment: Option<String>,
}

impl NewCloudFile {
    /// A file of `kind` named `name` with `description` and `content`.
    pub fn new(
        kind: FileKind,
        name: impl Into<String>,
        description: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            description: description.into(),
            content: content.into(),
            permission_type: None,
            platform: None,
            comment: None,
        }
    }

    /// Sets who may use the file (`private`, `group`, `public`).
    #[must_use]
    pub fn permission_type(mut self, permission_type: impl Into<String>) -> Self {
        self.permission_type = Some(permission_type.into());
        self
    }

    /// Sets the platform (`windows`, `mac`, `linux`).
    #[must_use]
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// Sets the audit-log comment.
    #[must_use]
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// Per-host results of a batch call, in `order`; hosts not reported get an
/// error. Results come keyed by agent id under `resources` or
/// `combined.resources`.
fn host_results(envelope: &crate::Envelope, order: &[String]) -> Vec<HostResult> {
    let map = envelope
        .resources
        .as_object()
        .or_else(|| {
            envelope
                .extra
                .get("combined")
                .and_then(|c| c.get("resources"))
                .and_then(Value::as_object)
        })
        .cloned()
        .unwrap_or_default();
    order
        .iter()
        .map(|aid| match map.get(aid) {
            Some(raw) => HostResult::from_json(aid, raw),
            None => HostResult::missing(aid),
        })
        .collect()
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

    /// Starts sessions on many hosts at once. Hosts that cannot join (offline,
    /// unknown) come back with an error; when none joins, `batch_id` is
    /// empty. Never replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for no host, an empty id or more than 10,000
    /// hosts; [`Error::Forbidden`] without `real-time-response:read`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn batch_init(&self, request: &BatchSessionRequest) -> Result<BatchSession> {
        let hosts = crate::paging::unique_ids(&request.host_ids, "host id")?;
        if hosts.is_empty() || hosts.len() > MAX_BATCH_HOSTS {
            return Err(Error::InvalidInput(format!(
                "a batch session takes 1 to {MAX_BATCH_HOSTS} hosts, not {}",
                hosts.len()
            )));
        }
        let body = json!({ "host_ids": hosts, "queue_offline": request.queue_offline });
        let response = self
            .client
            .execute(ApiRequest::new(BATCH_INIT).json(body).allow_partial())
            .await?;
        let batch_id = response
            .envelope
            .extra
            .get("batch_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(BatchSession {
            batch_id,
            hosts: host_results(&response.envelope, &hosts),
        })
    }

    /// Runs a command on every host of a batch (or the optional subset);
    /// one result per host of `hosts`, in that order. Never replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty batch id or command;
    /// [`Error::Api`] (400) for a command the tier does not allow;
    /// [`Error::Forbidden`] without the tier's scope;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn batch_run(
        &self,
        command: &BatchCommand,
        hosts: &[String],
    ) -> Result<Vec<HostResult>> {
        let base = Command::new(command.tier, "", command.command_string.clone()).base_command();
        if base.is_empty() || command.batch_id.trim().is_empty() {
            return Err(Error::InvalidInput(
                "batch command needs a batch id and a command".into(),
            ));
        }
        let endpoint = command.tier.batch_endpoint();
        let body = json!({
            "base_command": base,
            "command_string": command.command_string,
            "batch_id": command.batch_id,
            "optional_hosts": command.optional_hosts,
        });
        let mut request = ApiRequest::new(endpoint).json(body).allow_partial();
        if let Some(timeout) = command.timeout {
            request = request.query("timeout", timeout.as_secs().clamp(1, 600).to_string());
        }
        let response = self.client.execute(request).await?;
        Ok(host_results(&response.envelope, hosts))
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

    /// The ids of every script or put-file matching `query`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `real-time-response-admin:write`; any
    /// error of [`Client::execute`].
    pub async fn file_ids(&self, query: &FileQuery) -> Result<Vec<String>> {
        let endpoint = query.kind.query_endpoint();
        let request = ApiRequest::new(endpoint)
            .filter_and_sort(query.filter.as_deref(), query.sort.as_deref());
        let values = collect_offset_paged(
            self.client,
            request,
            OffsetPaging {
                limit: FILE_PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        id_strings(&endpoint, values)
    }

    /// Scripts or put-files by id, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `real-time-response-admin:write`; [`Error::Decode`] for a
    /// file without `id`; any error of [`Client::execute`].
    pub async fn files<S: AsRef<str>>(
        &self,
        kind: FileKind,
        ids: &[S],
    ) -> Result<Batch<CloudFile>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(kind.get_endpoint()),
            ids,
            "rtr file id",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: FILE_GET_IDS,
                id_key: "id",
            },
            CloudFile::from_json,
        )
        .await
    }

    /// Uploads a script or put-file. Falcon does not return the new id:
    /// find it with [`Rtr::file_ids`] (filter on `name`). Not replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty name, description or content;
    /// [`Error::Api`] (409) when a file of that name exists;
    /// [`Error::Forbidden`] without `real-time-response-admin:write`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn create_file(&self, file: &NewCloudFile) -> Result<()> {
        let name = file.name.trim();
        if name.is_empty() || file.description.trim().is_empty() || file.content.is_empty() {
            return Err(Error::InvalidInput(
                "an rtr file needs a name, a description and content".into(),
            ));
        }
        let mut form = vec![
            ("name", name.to_owned()),
            ("description", file.description.clone()),
            ("content", file.content.clone()),
        ];
        for (key, value) in [
            ("permission_type", &file.permission_type),
            ("platform", &file.platform),
            ("comments_for_audit_log", &file.comment),
        ] {
            if let Some(value) = value {
                form.push((key, value.clone()));
            }
        }
        let endpoint = file.kind.create_endpoint();
        self.client
            .execute(ApiRequest::new(endpoint).form(form))
            .await?
            .error_for_errors(&endpoint)?;
        Ok(())
    }

    /// Deletes one script or put-file; idempotent, so retried after 429,
    /// 5xx and transport errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Api`] (404) for an
    /// unknown id (also when a retry follows a delete that arrived);
    /// [`Error::Forbidden`] without `real-time-response-admin:write`; any
    /// error of [`Client::execute`].
    pub async fn delete_file(&self, kind: FileKind, id: &str) -> Result<()> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::InvalidInput("rtr file id is empty".into()));
        }
        let endpoint = kind.delete_endpoint();
        self.client
            .execute(ApiRequest::new(endpoint).query("ids", id))
            .await?
            .error_for_errors(&endpoint)?;
        Ok(())
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
