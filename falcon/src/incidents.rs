//! Incidents (legacy API, announced for removal; prefer [`crate::alerts`]):
//! query, details and actions (scopes `incidents:read` / `incidents:write`,
//! console "Incidents: Read/Write").
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::incidents::{IncidentAction, IncidentQuery};
//!
//! let ids = client.incidents().query_ids(&IncidentQuery::all()).await?;
//! let batch = client.incidents().get(&ids).await?;
//! let open: Vec<String> = batch
//!     .found
//!     .iter()
//!     .filter(|i| i.state == "open")
//!     .map(|i| i.incident_id.clone())
//!     .collect();
//! client
//!     .incidents()
//!     .act(&IncidentAction::new(open).status(30).tag("triaged"))
//!     .await?;
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::hosts::{WriteOutcome, merge_write};
use crate::model::{decode_error, id_strings, int, present, strings, text, time};
use crate::paging::{
    Batch, BatchSpec, IdsIn, MAX_BODY_ID_BYTES, OffsetPaging, chunk_ids, collect_offset_paged,
    lookup_ids, unique_ids,
};

/// Scope of the read calls.
pub const SCOPE_READ: &str = "incidents:read";
/// Scope of actions.
pub const SCOPE_WRITE: &str = "incidents:write";

/// `GET /incidents/queries/incidents/v1` (QueryIncidents).
pub const QUERY: Endpoint =
    Endpoint::read(Method::Get, "/incidents/queries/incidents/v1", SCOPE_READ);
/// `POST /incidents/entities/incidents/GET/v1` (GetIncidents). A read,
/// though sent as `POST`.
pub const GET: Endpoint = Endpoint::read(
    Method::Post,
    "/incidents/entities/incidents/GET/v1",
    SCOPE_READ,
);
/// `POST /incidents/entities/incident-actions/v1` (PerformIncidentAction).
pub const ACTIONS: Endpoint = Endpoint::write(
    Method::Post,
    "/incidents/entities/incident-actions/v1",
    SCOPE_WRITE,
);

/// Page size of the query (the API maximum).
pub const PAGE_LIMIT: u32 = 500;
/// Ids per details request.
pub const GET_IDS: usize = 500;
/// Ids per action request.
pub const ACTION_IDS: usize = 1000;

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncidentQuery {
    /// An FQL filter; `None` lists every incident.
    pub filter: Option<String>,
    /// A sort such as `start.desc`.
    pub sort: Option<String>,
}

impl IncidentQuery {
    /// Every incident.
    pub fn all() -> Self {
        Self::default()
    }

    /// The incidents matching an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            sort: None,
        }
    }
}

/// An incident.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Incident {
    /// The id, `inc:<aid>:<32 hex>`.
    pub incident_id: String,
    /// The agent ids involved.
    pub host_ids: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// 20 new, 25 reopened, 30 in progress, 40 closed.
    pub status: Option<i64>,
    /// The score (display score is a tenth of it).
    pub fine_score: Option<i64>,
    /// The name.
    pub name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// UUID of the assigned user.
    pub assigned_to: Option<String>,
    /// When it started.
    pub start: Option<jiff::Timestamp>,
    /// When it ended.
    pub end: Option<jiff::Timestamp>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl Incident {
    fn from_json(raw: Value) -> Result<Self> {
        let incident_id = present(&raw, "incident_id")
            .ok_or_else(|| decode_error(&GET, "an incident has no `incident_id`"))?;
        Ok(Self {
            incident_id,
            host_ids: strings(&raw, "host_ids"),
            state: text(&raw, "state"),
            status: int(&raw, "status"),
            fine_score: int(&raw, "fine_score"),
            name: present(&raw, "name"),
            description: present(&raw, "description"),
            tags: strings(&raw, "tags"),
            assigned_to: present(&raw, "assigned_to"),
            start: time(&raw, "start"),
            end: time(&raw, "end"),
            raw,
        })
    }
}

/// Changes to a set of incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncidentAction {
    /// The incident ids.
    pub ids: Vec<String>,
    /// Action parameters as `(name, value)` pairs.
    pub actions: Vec<(String, String)>,
    /// Also update the incident's detections (`update_detects`).
    pub update_detects: bool,
}

impl IncidentAction {
    /// An action on `ids` with no change yet.
    pub fn new<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            ids: ids.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds a raw action parameter.
    #[must_use]
    pub fn action(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.actions.push((name.into(), value.into()));
        self
    }

    /// Sets the status: 20 new, 25 reopened, 30 in progress, 40 closed.
    #[must_use]
    pub fn status(self, status: u16) -> Self {
        self.action("update_status", status.to_string())
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(self, tag: impl Into<String>) -> Self {
        self.action("add_tag", tag)
    }

    /// Assigns to a user by UUID.
    #[must_use]
    pub fn assign_to(self, uuid: impl Into<String>) -> Self {
        self.action("update_assigned_to_v2", uuid)
    }

    /// Adds a comment.
    #[must_use]
    pub fn comment(self, comment: impl Into<String>) -> Self {
        self.action("add_comment", comment)
    }
}

/// Incident calls; get one with [`Client::incidents`].
#[derive(Debug, Clone, Copy)]
pub struct Incidents<'a> {
    client: &'a Client,
}

impl Client {
    /// Incident calls (legacy API).
    pub fn incidents(&self) -> Incidents<'_> {
        Incidents { client: self }
    }
}

impl Incidents<'_> {
    /// The ids of every incident matching `query`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `incidents:read`;
    /// [`Error::Inconsistent`]; any error of [`Client::execute`].
    pub async fn query_ids(&self, query: &IncidentQuery) -> Result<Vec<String>> {
        let base =
            ApiRequest::new(QUERY).filter_and_sort(query.filter.as_deref(), query.sort.as_deref());
        let values = collect_offset_paged(
            self.client,
            base,
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        id_strings(&QUERY, values)
    }

    /// Incidents by id, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `incidents:read`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<Incident>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(GET),
            ids,
            "incident id",
            BatchSpec {
                ids_in: IdsIn::Body("ids"),
                max_ids: GET_IDS,
                id_key: "incident_id",
            },
            Incident::from_json,
        )
        .await
    }

    /// Applies `action` to its incidents, 1000 per request. Never replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or no action;
    /// [`Error::Forbidden`] without `incidents:write`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn act(&self, action: &IncidentAction) -> Result<WriteOutcome> {
        let ids = unique_ids(&action.ids, "incident id")?;
        if action.actions.is_empty() {
            return Err(Error::InvalidInput("incident action has no action".into()));
        }
        let params: Vec<Value> = action
            .actions
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        let mut outcome = WriteOutcome::default();
        for part in chunk_ids(&ids, ACTION_IDS, MAX_BODY_ID_BYTES, 3) {
            let body = json!({ "ids": part, "action_parameters": params });
            let response = self
                .client
                .execute(
                    ApiRequest::new(ACTIONS)
                        .query("update_detects", action.update_detects.to_string())
                        .json(body)
                        .allow_partial(),
                )
                .await?;
            let refused_before = outcome.errors.len();
            merge_write(&ACTIONS, part, response, &mut outcome)?;
            // The answer lists detections, not incidents: every id not
            // refused was changed.
            let refused: std::collections::HashSet<String> = outcome.errors[refused_before..]
                .iter()
                .map(|e| e.id.clone())
                .collect();
            for id in part {
                if !refused.contains(id) && !outcome.affected.contains(id) {
                    outcome.affected.push(id.clone());
                }
            }
        }
        Ok(outcome)
    }
}
