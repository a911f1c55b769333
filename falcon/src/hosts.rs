//! Hosts (devices): queries, details, online state, actions and tags
//! (scopes `devices:read` / `devices:write`, console "Hosts: Read/Write").
//!
//! Listing prefers the scroll endpoint, which has no result window;
//! [`Hosts::query_ids_offset`] uses the offset endpoint and fails with
//! [`Error::WindowExceeded`] when the query matches more than 10,000 hosts.
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::fql::Fql;
//! use falcon::hosts::{HostAction, HostActionRequest, HostQuery};
//!
//! let filter = Fql::new().eq("hostname", "WS-0042").build()?;
//! let ids = client.hosts().query_ids(&HostQuery::filtered(filter)).await?;
//! let hosts = client.hosts().get(&ids).await?;
//! for host in &hosts.found {
//!     println!("{} {:?} {}", host.device_id, host.hostname, host.status);
//! }
//! let outcome = client
//!     .hosts()
//!     .act(&HostActionRequest::new(HostAction::Contain, ids))
//!     .await?;
//! println!("{} contained, {} refused", outcome.affected.len(), outcome.errors.len());
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::model::{boolean, decode_error, id_strings, int, present, string, strings, text, time};
use crate::paging::{
    Batch, BatchSpec, CursorField, CursorPager, IdError, IdsIn, OffsetPaging, chunk_ids,
    collect_cursor, collect_offset_paged, lookup_batch, lookup_ids, unique_ids,
};

/// Scope of the read calls.
pub const SCOPE_READ: &str = "devices:read";
/// Scope of actions and tag changes.
pub const SCOPE_WRITE: &str = "devices:write";

/// `GET /devices/queries/devices/v1` (QueryDevicesByFilter): offset paging,
/// at most 10,000 results.
pub const QUERY_DEVICES: Endpoint =
    Endpoint::read(Method::Get, "/devices/queries/devices/v1", SCOPE_READ);
/// `GET /devices/queries/devices-scroll/v1` (QueryDevicesByFilterScroll):
/// scroll tokens, no window.
pub const SCROLL_DEVICES: Endpoint = Endpoint::read(
    Method::Get,
    "/devices/queries/devices-scroll/v1",
    SCOPE_READ,
);
/// `GET /devices/combined/devices/v1` (CombinedDevicesByFilter): full
/// records, up to 10,000 a page, paged by the `next` token (sent back as
/// `offset`); no window.
pub const COMBINED_DEVICES: Endpoint =
    Endpoint::read(Method::Get, "/devices/combined/devices/v1", SCOPE_READ);
/// `GET /devices/entities/devices/v2` (GetDeviceDetailsV2): up to 100 ids.
pub const GET_DEVICES: Endpoint =
    Endpoint::read(Method::Get, "/devices/entities/devices/v2", SCOPE_READ);
/// `POST /devices/entities/devices/v2` (PostDeviceDetailsV2): up to 5000
/// ids. A read, though sent as `POST`.
pub const POST_DEVICES: Endpoint =
    Endpoint::read(Method::Post, "/devices/entities/devices/v2", SCOPE_READ);
/// `GET /devices/entities/online-state/v1` (GetOnlineState_V1).
pub const ONLINE_STATE: Endpoint =
    Endpoint::read(Method::Get, "/devices/entities/online-state/v1", SCOPE_READ);
/// `POST /devices/entities/devices-actions/v2` (PerformActionV2).
pub const DEVICE_ACTIONS: Endpoint = Endpoint::write(
    Method::Post,
    "/devices/entities/devices-actions/v2",
    SCOPE_WRITE,
);
/// `PATCH /devices/entities/devices/tags/v1` (UpdateDeviceTags).
/// Setting the same tags twice changes nothing: retried like a read.
pub const UPDATE_TAGS: Endpoint = Endpoint::idempotent_write(
    Method::Patch,
    "/devices/entities/devices/tags/v1",
    SCOPE_WRITE,
);

/// The offset endpoint's result window (`offset + limit <= 10000`).
pub const OFFSET_WINDOW: u64 = 10_000;
/// Page size of the offset query (the API maximum).
pub const QUERY_LIMIT: u32 = 5000;
/// Page size of the scroll query.
pub const SCROLL_LIMIT: u32 = 5000;

/// The largest page of `GET /devices/combined/devices/v1`.
pub const COMBINED_LIMIT: u32 = 10_000;
/// Ids per `GET` details request.
pub const GET_IDS: usize = 100;
/// Ids per `POST` details request.
pub const POST_IDS: usize = 5000;
/// Ids per online-state request.
pub const ONLINE_STATE_IDS: usize = 100;
/// Ids per tag update.
pub const TAG_IDS: usize = 5000;
/// The prefix every host tag carries.
pub const TAG_PREFIX: &str = "FalconGroupingTags/";

/// Which hosts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostQuery {
    /// An FQL filter (see [`crate::fql`]); `None` lists every host.
    pub filter: Option<String>,
    /// A sort such as `hostname.asc`.
    pub sort: Option<String>,
    /// Stop after this many hosts.
    pub max_results: Option<u64>,
}

impl HostQuery {
    /// Every host.
    pub fn all() -> Self {
        Self::default()
    }

    /// The hosts matching an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            ..Self::default()
        }
    }

    /// Sets the sort.
    #[must_use]
    pub fn sort(mut self, sort: impl Into<String>) -> Self {
        self.sort = Some(sort.into());
        self
    }

    /// Stops after `max` hosts.
    #[must_use]
    pub fn max_results(mut self, max: u64) -> Self {
        self.max_results = Some(max);
        self
    }

    fn apply(&self, request: ApiRequest) -> ApiRequest {
        request.filter_and_sort(self.filter.as_deref(), self.sort.as_deref())
    }
}

/// A host (device) record.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Host {
    /// The agent id (AID), 32 hex digits.
    pub device_id: String,
    /// The customer id the host belongs to.
    pub cid: String,
    /// The host name, when reported.
    pub hostname: Option<String>,
    /// Containment status: `normal`, `containment_pending`, `contained`,
    /// `lift_containment_pending` (other values are kept as sent).
    pub status: String,
    /// `Windows`, `Mac` or `Linux`, when reported.
    pub platform_name: Option<String>,
    /// OS version text.
    pub os_version: Option<String>,
    /// Sensor version, for example `7.05.17603.0`.
    pub agent_version: Option<String>,
    /// Local IP address.
    pub local_ip: Option<String>,
    /// External IP address.
    pub external_ip: Option<String>,
    /// MAC address.
    pub mac_address: Option<String>,
    /// AD domain.
    pub machine_domain: Option<String>,
    /// `Workstation`, `Server`, `Domain Controller`.
    pub product_type_desc: Option<String>,
    /// Reduced functionality mode: `yes`, `no` or empty.
    pub reduced_functionality_mode: Option<String>,
    /// First time the sensor reported.
    pub first_seen: Option<jiff::Timestamp>,
    /// Last time the sensor reported.
    pub last_seen: Option<jiff::Timestamp>,
    /// Host group ids.
    pub groups: Vec<String>,
    /// Sensor grouping tags (`FalconGroupingTags/...`).
    pub tags: Vec<String>,
    /// The whole object as the API returned it (unknown fields included).
    pub raw: Value,
}

impl Host {
    pub(crate) fn from_json(raw: Value) -> Result<Self> {
        let device_id = present(&raw, "device_id")
            .ok_or_else(|| decode_error(&POST_DEVICES, "a host has no `device_id`"))?;
        Ok(Self {
            device_id,
            cid: text(&raw, "cid"),
            hostname: present(&raw, "hostname"),
            status: text(&raw, "status"),
            platform_name: present(&raw, "platform_name"),
            os_version: present(&raw, "os_version"),
            agent_version: present(&raw, "agent_version"),
            local_ip: present(&raw, "local_ip"),
            external_ip: present(&raw, "external_ip"),
            mac_address: present(&raw, "mac_address"),
            machine_domain: present(&raw, "machine_domain"),
            product_type_desc: present(&raw, "product_type_desc"),
            reduced_functionality_mode: string(&raw, "reduced_functionality_mode"),
            first_seen: time(&raw, "first_seen"),
            last_seen: time(&raw, "last_seen"),
            groups: strings(&raw, "groups"),
            tags: strings(&raw, "tags"),
            raw,
        })
    }
}

/// Whether a host's sensor is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Online {
    /// Connected now.
    Online,
    /// Not connected.
    Offline,
    /// Falcon does not know.
    Unknown,
    /// A value this client does not know, as sent.
    Other(String),
}

/// The online state of one host.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OnlineState {
    /// The agent id.
    pub id: String,
    /// The state.
    pub state: Online,
    /// When the sensor was last seen, when reported.
    pub last_seen: Option<jiff::Timestamp>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl OnlineState {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id")
            .ok_or_else(|| decode_error(&ONLINE_STATE, "an online state has no `id`"))?;
        let state = match text(&raw, "state").to_ascii_lowercase().as_str() {
            "online" => Online::Online,
            "offline" => Online::Offline,
            "unknown" | "" => Online::Unknown,
            other => Online::Other(other.to_owned()),
        };
        Ok(Self {
            id,
            state,
            last_seen: time(&raw, "last_seen"),
            raw,
        })
    }
}

/// An action on hosts (`action_name` of PerformActionV2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostAction {
    /// Network-contain the hosts.
    Contain,
    /// Lift network containment.
    LiftContainment,
    /// Hide the hosts from the console.
    Hide,
    /// Unhide hidden hosts.
    Unhide,
    /// Suppress detections.
    SuppressDetections,
    /// Stop suppressing detections.
    UnsuppressDetections,
}

impl HostAction {
    /// The `action_name` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contain => "contain",
            Self::LiftContainment => "lift_containment",
            Self::Hide => "hide_host",
            Self::Unhide => "unhide_host",
            Self::SuppressDetections => "detection_suppress",
            Self::UnsuppressDetections => "detection_unsuppress",
        }
    }

    /// Most ids per request for this action (hide/unhide 100, others 500).
    pub fn max_ids(self) -> usize {
        match self {
            Self::Hide | Self::Unhide => 100,
            _ => 500,
        }
    }
}

/// An action on a set of hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostActionRequest {
    /// What to do.
    pub action: HostAction,
    /// The agent ids.
    pub ids: Vec<String>,
    /// A note for the audit trail (sent as the `note` action parameter).
    pub note: Option<String>,
}

impl HostActionRequest {
    /// `action` on `ids`.
    pub fn new<S: Into<String>>(action: HostAction, ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            action,
            ids: ids.into_iter().map(Into::into).collect(),
            note: None,
        }
    }

    /// Adds a note.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// What a write on a set of ids did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The ids Falcon accepted, in the order given.
    pub affected: Vec<String>,
    /// Per-id refusals, in the order given.
    pub errors: Vec<IdError>,
}

/// Add or remove tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagAction {
    /// Add the tags.
    Add,
    /// Remove the tags.
    Remove,
}

/// A tag change on a set of hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagUpdate {
    /// Add or remove.
    pub action: TagAction,
    /// The agent ids.
    pub device_ids: Vec<String>,
    /// The tags; [`TAG_PREFIX`] is added where missing.
    pub tags: Vec<String>,
}

impl TagUpdate {
    /// `action` of `tags` on `device_ids`.
    pub fn new<S: Into<String>, T: Into<String>>(
        action: TagAction,
        device_ids: impl IntoIterator<Item = S>,
        tags: impl IntoIterator<Item = T>,
    ) -> Self {
        Self {
            action,
            device_ids: device_ids.into_iter().map(Into::into).collect(),
            tags: tags.into_iter().map(Into::into).collect(),
        }
    }
}

/// The result of a tag change for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagResult {
    /// The agent id.
    pub device_id: String,
    /// Whether the tags changed.
    pub updated: bool,
    /// The per-host code, when reported.
    pub code: Option<i64>,
    /// The per-host error, when reported.
    pub error: Option<String>,
}

/// Host calls; get one with [`Client::hosts`].
#[derive(Debug, Clone, Copy)]
pub struct Hosts<'a> {
    client: &'a Client,
}

impl Client {
    /// Host calls (query, details, online state, actions, tags).
    pub fn hosts(&self) -> Hosts<'_> {
        Hosts { client: self }
    }
}

impl Hosts<'_> {
    /// The agent ids of every host matching `query`, through the scroll
    /// endpoint (no result window), 5000 per page.
    ///
    /// # Errors
    ///
    /// [`Error::CursorExpired`] when the scroll token expires mid-listing;
    /// [`Error::Inconsistent`] when the count differs from the reported
    /// total; [`Error::Forbidden`] without `devices:read`; any error of
    /// [`Client::execute`].
    pub async fn query_ids(&self, query: &HostQuery) -> Result<Vec<String>> {
        let make = |cursor: Option<&str>| {
            query
                .apply(ApiRequest::new(SCROLL_DEVICES))
                .query("limit", SCROLL_LIMIT.to_string())
                .query_opt("offset", cursor)
        };
        let values = collect_cursor(
            self.client,
            make,
            CursorField::OffsetToken,
            query.max_results,
        )
        .await?;
        id_strings(&SCROLL_DEVICES, values)
    }

    /// The hosts matching `query` with their details, a page at a time
    /// ([`HostPages::next_hosts`]), for callers that pass hosts on as they
    /// arrive instead of holding the fleet: one request per 10,000 hosts,
    /// the fewest the API allows.
    pub fn pages(&self, query: HostQuery) -> HostPages {
        HostPages {
            client: self.client.clone(),
            pager: CursorPager::new(CursorField::Next, query.max_results),
            query,
            buffer: std::collections::VecDeque::new(),
        }
    }

    /// A scroll over the hosts matching `query` that fetches one page per
    /// [`HostScroll::next_ids`] call, for callers that pass results on as
    /// they arrive instead of holding every id at once.
    pub fn scroll(&self, query: HostQuery) -> HostScroll {
        HostScroll {
            client: self.client.clone(),
            pager: CursorPager::new(CursorField::OffsetToken, query.max_results),
            query,
        }
    }

    /// The agent ids of every host matching `query`, through the offset
    /// endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::WindowExceeded`] (with the total) when more than 10,000
    /// hosts match and `max_results` does not keep the listing inside the
    /// window, before any page past the window is asked for;
    /// [`Error::Inconsistent`], [`Error::Forbidden`] and the errors of
    /// [`Client::execute`].
    pub async fn query_ids_offset(&self, query: &HostQuery) -> Result<Vec<String>> {
        let values = collect_offset_paged(
            self.client,
            query.apply(ApiRequest::new(QUERY_DEVICES)),
            OffsetPaging {
                limit: QUERY_LIMIT,
                window: Some(OFFSET_WINDOW),
                max: query.max_results,
            },
        )
        .await?;
        id_strings(&QUERY_DEVICES, values)
    }

    /// Host records by agent id, in the order given (duplicates removed).
    /// Up to 100 ids go in one `GET`; larger sets use the `POST` variant,
    /// 5000 ids per request. Unknown ids come back in [`Batch::missing`]
    /// and, when Falcon names them, [`Batch::errors`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `devices:read`; [`Error::Decode`] for a record without
    /// `device_id`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<Host>> {
        let ids = unique_ids(ids, "host id")?;
        if ids.is_empty() {
            return Ok(Batch::default());
        }
        let (endpoint, spec) = if ids.len() <= GET_IDS {
            (
                GET_DEVICES,
                BatchSpec {
                    ids_in: IdsIn::Query("ids"),
                    max_ids: GET_IDS,
                    id_key: "device_id",
                },
            )
        } else {
            (
                POST_DEVICES,
                BatchSpec {
                    ids_in: IdsIn::Body("ids"),
                    max_ids: POST_IDS,
                    id_key: "device_id",
                },
            )
        };
        lookup_batch(self.client, &ApiRequest::new(endpoint), &ids, spec)
            .await?
            .try_map(Host::from_json)
    }

    /// Every host matching `query`, with details ([`Hosts::query_ids`] then
    /// [`Hosts::get`]). Hosts removed between the two calls are left out.
    ///
    /// # Errors
    ///
    /// As [`Hosts::query_ids`] and [`Hosts::get`].
    pub async fn query(&self, query: &HostQuery) -> Result<Vec<Host>> {
        let ids = self.query_ids(query).await?;
        Ok(self.get(&ids).await?.found)
    }

    /// Whether these hosts are online, 100 ids per request, in the order
    /// given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `devices:read`; any error of [`Client::execute`].
    pub async fn online_state<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<OnlineState>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(ONLINE_STATE),
            ids,
            "host id",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: ONLINE_STATE_IDS,
                id_key: "id",
            },
            OnlineState::from_json,
        )
        .await
    }

    /// Performs an action on hosts, in batches of the action's cap. Ids
    /// Falcon refuses come back in [`WriteOutcome::errors`]. Never replayed:
    /// a batch whose outcome is unknown ends the call with
    /// [`Error::WriteUncertain`] (earlier batches were applied).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `devices:write`; [`Error::WriteUncertain`]; any error of
    /// [`Client::execute`].
    pub async fn act(&self, request: &HostActionRequest) -> Result<WriteOutcome> {
        let ids = unique_ids(&request.ids, "host id")?;
        let mut outcome = WriteOutcome::default();
        for part in chunk_ids(
            &ids,
            request.action.max_ids(),
            crate::paging::MAX_BODY_ID_BYTES,
            3,
        ) {
            let mut body = json!({ "ids": part });
            if let Some(note) = &request.note {
                body["action_parameters"] = json!([{ "name": "note", "value": note }]);
            }
            let response = self
                .client
                .execute(
                    ApiRequest::new(DEVICE_ACTIONS)
                        .query("action_name", request.action.as_str())
                        .json(body)
                        .allow_partial(),
                )
                .await?;
            merge_write(&DEVICE_ACTIONS, part, response, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Adds or removes sensor grouping tags, 5000 hosts per request; one
    /// result per host, in the order given. Idempotent, so retried after
    /// 429, 5xx and transport errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or tag; [`Error::Forbidden`]
    /// without `devices:write`; any error of [`Client::execute`].
    pub async fn update_tags(&self, update: &TagUpdate) -> Result<Vec<TagResult>> {
        let ids = unique_ids(&update.device_ids, "host id")?;
        let tags: Vec<String> = unique_ids(&update.tags, "tag")?
            .into_iter()
            .map(|t| {
                if t.starts_with(TAG_PREFIX) {
                    t
                } else {
                    format!("{TAG_PREFIX}{t}")
                }
            })
            .collect();
        if tags.is_empty() {
            return Err(Error::InvalidInput("tag update lists no tags".into()));
        }
        let action = match update.action {
            TagAction::Add => "add",
            TagAction::Remove => "remove",
        };
        let mut results = Vec::with_capacity(ids.len());
        for part in chunk_ids(&ids, TAG_IDS, crate::paging::MAX_BODY_ID_BYTES, 3) {
            let body = json!({ "action": action, "device_ids": part, "tags": tags });
            let response = self
                .client
                .execute(ApiRequest::new(UPDATE_TAGS).json(body).allow_partial())
                .await?;
            let mut by_id = std::collections::HashMap::new();
            for item in response.envelope.resource_list() {
                if let Some(id) = present(&item, "device_id") {
                    by_id.insert(id, item);
                }
            }
            for error in &response.envelope.errors {
                if let Some(id) = &error.id {
                    by_id.entry(id.clone()).or_insert_with(|| {
                        json!({"device_id": id, "updated": false, "code": error.code, "error": error.message})
                    });
                }
            }
            for id in part {
                let result = match by_id.remove(id) {
                    Some(item) => TagResult {
                        device_id: id.clone(),
                        updated: boolean(&item, "updated").unwrap_or(false),
                        code: int(&item, "code"),
                        error: present(&item, "error"),
                    },
                    None => TagResult {
                        device_id: id.clone(),
                        updated: false,
                        code: None,
                        error: Some("not reported by falcon".into()),
                    },
                };
                results.push(result);
            }
        }
        Ok(results)
    }
}

/// Merges one write batch's answer: ids in `resources` (objects with `id`,
/// or strings) are affected; per-id errors are refusals; anything else in
/// `errors` fails the call.
pub(crate) fn merge_write(
    endpoint: &Endpoint,
    part: &[String],
    response: crate::ApiResponse,
    outcome: &mut WriteOutcome,
) -> Result<()> {
    let mut affected = std::collections::HashSet::new();
    for item in response.envelope.resource_list() {
        match &item {
            Value::String(s) => {
                affected.insert(s.clone());
            }
            other => {
                if let Some(id) = present(other, "id").or_else(|| present(other, "device_id")) {
                    affected.insert(id);
                }
            }
        }
    }
    let mut errors = std::collections::HashMap::new();
    for error in &response.envelope.errors {
        match &error.id {
            Some(id) => {
                errors.entry(id.clone()).or_insert_with(|| IdError {
                    id: id.clone(),
                    code: error.code,
                    message: error.message.clone(),
                });
            }
            None if affected.is_empty() => {
                return Err(Error::Api {
                    endpoint: endpoint.to_string(),
                    status: response.status,
                    code: error.code,
                    message: error.message.clone(),
                    trace_id: response.trace_id.clone(),
                    body: None,
                });
            }
            None => {
                tracing::warn!(endpoint = %endpoint, code = error.code, message = %error.message, "falcon write reported an error not tied to an id")
            }
        }
    }
    for id in part {
        if affected.contains(id) {
            outcome.affected.push(id.clone());
        }
        if let Some(error) = errors.remove(id) {
            outcome.errors.push(error);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_decodes_leniently() {
        let raw = json!({"device_id": "abc", "cid": "c", "hostname": "O'Brien-PC",
            "status": "contained", "groups": null, "tags": ["FalconGroupingTags/x"],
            "last_seen": "2024-05-01T10:00:00.123456Z", "first_seen": "", "new_field": {"x": 1}});
        let host = Host::from_json(raw).unwrap();
        assert_eq!(host.hostname.as_deref(), Some("O'Brien-PC"));
        assert!(host.groups.is_empty());
        assert_eq!(host.tags, ["FalconGroupingTags/x"]);
        assert_eq!(host.last_seen.unwrap().subsec_microsecond(), 123_456);
        assert_eq!(host.first_seen, None);
        assert_eq!(host.raw["new_field"]["x"], 1);
        assert!(Host::from_json(json!({"hostname": "x"})).is_err());
        let state = OnlineState::from_json(json!({"id": "a", "state": "sleeping"})).unwrap();
        assert_eq!(state.state, Online::Other("sleeping".into()));
    }
}

/// Matching hosts with their details, a page at a time (see
/// [`Hosts::pages`]). Each request asks for 10,000 full records; the hosts
/// not yet handed out wait in a buffer of at most one page.
#[derive(Debug)]
pub struct HostPages {
    client: Client,
    query: HostQuery,
    pager: CursorPager,
    buffer: std::collections::VecDeque<Host>,
}

impl HostPages {
    /// The next at most `limit` hosts (at least one), or an empty list once
    /// every matching host was returned.
    ///
    /// # Errors
    ///
    /// [`Error::CursorExpired`] when the page token expired between pages,
    /// [`Error::Inconsistent`] when the count differs from the reported
    /// total at the end, [`Error::Decode`] for a record without
    /// `device_id`; any error of [`Client::execute`].
    pub async fn next_hosts(&mut self, limit: usize) -> Result<Vec<Host>> {
        let limit = limit.max(1);
        if self.buffer.len() < limit {
            let query = &self.query;
            let make = |cursor: Option<&str>| {
                query
                    .apply(ApiRequest::new(COMBINED_DEVICES))
                    .query("limit", COMBINED_LIMIT.to_string())
                    .query_opt("offset", cursor)
            };
            if let Some(values) = self.pager.next_page(&self.client, make).await? {
                for value in values {
                    self.buffer.push_back(Host::from_json(value)?);
                }
            }
        }
        let take = limit.min(self.buffer.len());
        Ok(self.buffer.drain(..take).collect())
    }

    /// How many hosts match, as the API reported it; `None` before the first
    /// page.
    pub fn total(&self) -> Option<u64> {
        self.pager.total()
    }
}

/// A scroll over matching hosts, one page at a time (see [`Hosts::scroll`]).
///
/// It owns a clone of the client, so it can outlive the borrow that made it.
#[derive(Debug)]
pub struct HostScroll {
    client: Client,
    query: HostQuery,
    pager: CursorPager,
}

impl HostScroll {
    /// The next page of at most `limit` agent ids (clamped to 1–5,000), or
    /// `None` once every matching host was returned.
    ///
    /// # Errors
    ///
    /// As [`Hosts::query_ids`]: [`Error::CursorExpired`] when the scroll
    /// token expired between pages, [`Error::Inconsistent`] when the count
    /// differs from the reported total at the end.
    pub async fn next_ids(&mut self, limit: u32) -> Result<Option<Vec<String>>> {
        let limit = limit.clamp(1, SCROLL_LIMIT);
        let query = &self.query;
        let make = |cursor: Option<&str>| {
            query
                .apply(ApiRequest::new(SCROLL_DEVICES))
                .query("limit", limit.to_string())
                .query_opt("offset", cursor)
        };
        match self.pager.next_page(&self.client, make).await? {
            Some(values) => id_strings(&SCROLL_DEVICES, values).map(Some),
            None => Ok(None),
        }
    }

    /// How many hosts match, as the API reported it; `None` before the first
    /// page.
    pub fn total(&self) -> Option<u64> {
        self.pager.total()
    }
}
