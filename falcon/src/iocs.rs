//! Custom IOCs (IOC Management): search, details, creation, changes and
//! deletion
//! (scopes `ioc:read` / `ioc:write`, console "IOC Manager APIs:
//! Read/Write").
//!
//! Searches page with `after` tokens, which have no 10,000 window.
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::fql::Fql;
//! use falcon::iocs::{IocQuery, NewIoc};
//!
//! let filter = Fql::new().eq("type", "domain").build()?;
//! let iocs = client.iocs().list(&IocQuery::filtered(filter)).await?;
//! println!("{} domain iocs", iocs.len());
//! let created = client
//!     .iocs()
//!     .create(&[NewIoc::new("domain", "bad.example").action("prevent").globally()])
//!     .await?;
//! println!("created {}", created[0].id);
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::model::{boolean, decode_error, id_strings, present, strings, text, time};
use crate::paging::{Batch, BatchSpec, CursorField, IdsIn, collect_cursor, lookup_ids, unique_ids};

/// Scope of the read calls.
pub const SCOPE_READ: &str = "ioc:read";
/// Scope of the write calls.
pub const SCOPE_WRITE: &str = "ioc:write";

/// `GET /iocs/queries/indicators/v1` (indicator_search_v1): ids, `after`
/// paging.
pub const SEARCH: Endpoint = Endpoint::read(Method::Get, "/iocs/queries/indicators/v1", SCOPE_READ);
/// `GET /iocs/combined/indicator/v1` (indicator_combined_v1): full
/// indicators, `after` paging.
pub const COMBINED: Endpoint =
    Endpoint::read(Method::Get, "/iocs/combined/indicator/v1", SCOPE_READ);
/// `GET /iocs/entities/indicators/v1` (indicator_get_v1).
pub const GET: Endpoint = Endpoint::read(Method::Get, "/iocs/entities/indicators/v1", SCOPE_READ);
/// `POST /iocs/entities/indicators/v1` (indicator_create_v1).
pub const CREATE: Endpoint =
    Endpoint::write(Method::Post, "/iocs/entities/indicators/v1", SCOPE_WRITE);
/// `PATCH /iocs/entities/indicators/v1` (indicator_update_v1).
pub const UPDATE: Endpoint =
    Endpoint::write(Method::Patch, "/iocs/entities/indicators/v1", SCOPE_WRITE);
/// `DELETE /iocs/entities/indicators/v1` (indicator_delete_v1).
/// Retried like a read (deleting twice deletes once).
pub const DELETE: Endpoint =
    Endpoint::idempotent_write(Method::Delete, "/iocs/entities/indicators/v1", SCOPE_WRITE);

/// Page size of searches.
pub const PAGE_LIMIT: u32 = 2000;
/// Most ids per details request (the query string also bounds it).
pub const GET_IDS: usize = 2000;
/// Most indicators per create request.
pub const CREATE_LIMIT: usize = 2000;

/// Which indicators to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IocQuery {
    /// An FQL filter; `None` lists every indicator.
    pub filter: Option<String>,
    /// A sort such as `modified_on.desc`; `after` tokens are bound to it.
    pub sort: Option<String>,
    /// Stop after this many indicators.
    pub max_results: Option<u64>,
}

impl IocQuery {
    /// Every indicator.
    pub fn all() -> Self {
        Self::default()
    }

    /// The indicators matching an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            ..Self::default()
        }
    }

    fn request(&self, endpoint: Endpoint, after: Option<&str>) -> ApiRequest {
        ApiRequest::new(endpoint)
            .filter_and_sort(self.filter.as_deref(), self.sort.as_deref())
            .query("limit", PAGE_LIMIT.to_string())
            .query_opt("after", after)
    }
}

/// A custom indicator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Ioc {
    /// The id (64 hex digits).
    pub id: String,
    /// `sha256`, `md5`, `domain`, `ipv4`, `ipv6`.
    pub ioc_type: String,
    /// The value.
    pub value: String,
    /// `no_action`, `allow`, `detect`, `prevent`, `prevent_no_ui`.
    pub action: String,
    /// `informational` to `critical`.
    pub severity: Option<String>,
    /// Description.
    pub description: String,
    /// Platforms it applies to.
    pub platforms: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether it applies to every host.
    pub applied_globally: bool,
    /// Host groups it applies to.
    pub host_groups: Vec<String>,
    /// When it expires.
    pub expiration: Option<jiff::Timestamp>,
    /// When it was created.
    pub created_on: Option<jiff::Timestamp>,
    /// When it last changed.
    pub modified_on: Option<jiff::Timestamp>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl Ioc {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id").ok_or_else(|| decode_error(&GET, "an ioc has no `id`"))?;
        Ok(Self {
            id,
            ioc_type: text(&raw, "type"),
            value: text(&raw, "value"),
            action: text(&raw, "action"),
            severity: present(&raw, "severity"),
            description: text(&raw, "description"),
            platforms: strings(&raw, "platforms"),
            tags: strings(&raw, "tags"),
            applied_globally: boolean(&raw, "applied_globally").unwrap_or(false),
            host_groups: strings(&raw, "host_groups"),
            expiration: time(&raw, "expiration"),
            created_on: time(&raw, "created_on"),
            modified_on: time(&raw, "modified_on"),
            raw,
        })
    }
}

/// An indicator to create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewIoc {
    /// `sha256`, `md5`, `domain`, `ipv4`, `ipv6`.
    pub ioc_type: String,
    /// The value.
    pub value: String,
    /// The action (Falcon's default is `detect`).
    pub action: Option<String>,
    /// The severity.
    pub severity: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Platforms (`windows`, `mac`, `linux`).
    pub platforms: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Apply to every host.
    pub applied_globally: bool,
    /// Or only to these host groups.
    pub host_groups: Vec<String>,
}

impl NewIoc {
    /// An indicator of `ioc_type` with `value`.
    pub fn new(ioc_type: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            ioc_type: ioc_type.into(),
            value: value.into(),
            action: None,
            severity: None,
            description: None,
            platforms: Vec::new(),
            tags: Vec::new(),
            applied_globally: false,
            host_groups: Vec::new(),
        }
    }

    /// Sets the action.
    #[must_use]
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: impl Into<String>) -> Self {
        self.severity = Some(severity.into());
        self
    }

    /// Applies the indicator to every host.
    #[must_use]
    pub fn globally(mut self) -> Self {
        self.applied_globally = true;
        self
    }

    /// Applies the indicator to a host group.
    #[must_use]
    pub fn host_group(mut self, id: impl Into<String>) -> Self {
        self.host_groups.push(id.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "type": self.ioc_type,
            "value": self.value,
            "platforms": self.platforms,
            "tags": self.tags,
            "applied_globally": self.applied_globally,
            "host_groups": self.host_groups,
        });
        for (key, value) in [
            ("action", &self.action),
            ("severity", &self.severity),
            ("description", &self.description),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        v
    }
}

/// A change to one indicator; fields left `None` are not changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IocChange {
    /// The indicator id.
    pub id: String,
    /// The new action.
    pub action: Option<String>,
    /// The new severity.
    pub severity: Option<String>,
    /// The new description.
    pub description: Option<String>,
    /// The new platforms (replacing the old).
    pub platforms: Option<Vec<String>>,
    /// The new tags (replacing the old).
    pub tags: Option<Vec<String>>,
    /// Whether it applies to every host.
    pub applied_globally: Option<bool>,
    /// The new host groups (replacing the old).
    pub host_groups: Option<Vec<String>>,
}

impl IocChange {
    /// A change to indicator `id` (nothing changed yet).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the action.
    #[must_use]
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: impl Into<String>) -> Self {
        self.severity = Some(severity.into());
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Replaces the tags.
    #[must_use]
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the platforms.
    #[must_use]
    pub fn platforms<S: Into<String>>(mut self, platforms: impl IntoIterator<Item = S>) -> Self {
        self.platforms = Some(platforms.into_iter().map(Into::into).collect());
        self
    }

    /// Applies the indicator to every host.
    #[must_use]
    pub fn globally(mut self) -> Self {
        self.applied_globally = Some(true);
        self
    }

    /// Applies the indicator only to these host groups.
    #[must_use]
    pub fn host_groups<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.applied_globally = Some(false);
        self.host_groups = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "id": self.id.trim() });
        for (key, value) in [
            ("action", &self.action),
            ("severity", &self.severity),
            ("description", &self.description),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        for (key, value) in [
            ("platforms", &self.platforms),
            ("tags", &self.tags),
            ("host_groups", &self.host_groups),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        if let Some(global) = self.applied_globally {
            v["applied_globally"] = json!(global);
        }
        v
    }
}

/// Changes to indicators, with an optional audit comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IocUpdate {
    /// The audit-log comment.
    pub comment: Option<String>,
    /// The changes, one per indicator (at most 2000).
    pub indicators: Vec<IocChange>,
}

impl IocUpdate {
    /// The changes `indicators`.
    pub fn new(indicators: impl IntoIterator<Item = IocChange>) -> Self {
        Self {
            comment: None,
            indicators: indicators.into_iter().collect(),
        }
    }

    /// Sets the audit-log comment.
    #[must_use]
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// IOC calls; get one with [`Client::iocs`].
#[derive(Debug, Clone, Copy)]
pub struct Iocs<'a> {
    client: &'a Client,
}

impl Client {
    /// Custom IOC calls.
    pub fn iocs(&self) -> Iocs<'_> {
        Iocs { client: self }
    }
}

impl Iocs<'_> {
    /// The ids of every indicator matching `query` (`after` paging).
    ///
    /// # Errors
    ///
    /// [`Error::CursorExpired`] when an `after` token expires;
    /// [`Error::Inconsistent`] when the count differs from the total;
    /// [`Error::Forbidden`] without `ioc:read`; any error of
    /// [`Client::execute`].
    pub async fn query_ids(&self, query: &IocQuery) -> Result<Vec<String>> {
        let values = collect_cursor(
            self.client,
            |after| query.request(SEARCH, after),
            CursorField::After,
            query.max_results,
        )
        .await?;
        id_strings(&SEARCH, values)
    }

    /// Every indicator matching `query`, with details (`after` paging).
    ///
    /// # Errors
    ///
    /// As [`Iocs::query_ids`]; [`Error::Decode`] for an indicator without
    /// `id`.
    pub async fn list(&self, query: &IocQuery) -> Result<Vec<Ioc>> {
        let values = collect_cursor(
            self.client,
            |after| query.request(COMBINED, after),
            CursorField::After,
            query.max_results,
        )
        .await?;
        values.into_iter().map(Ioc::from_json).collect()
    }

    /// Indicators by id, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `ioc:read`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<Ioc>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(GET),
            ids,
            "ioc id",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: GET_IDS,
                id_key: "id",
            },
            Ioc::from_json,
        )
        .await
    }

    /// Creates indicators, 2000 per request. Not replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for more than 2000 indicators or one without
    /// type or value; [`Error::Api`] (409) for a duplicate;
    /// [`Error::Forbidden`] without `ioc:write`; [`Error::WriteUncertain`];
    /// any error of [`Client::execute`].
    pub async fn create(&self, iocs: &[NewIoc]) -> Result<Vec<Ioc>> {
        if iocs.len() > CREATE_LIMIT {
            return Err(Error::InvalidInput(format!(
                "at most {CREATE_LIMIT} iocs per create call; split the list so that a failure does not leave an unknown part created"
            )));
        }
        if iocs
            .iter()
            .any(|i| i.ioc_type.trim().is_empty() || i.value.trim().is_empty())
        {
            return Err(Error::InvalidInput("an ioc has no type or value".into()));
        }
        if iocs.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "indicators": iocs.iter().map(NewIoc::to_json).collect::<Vec<_>>() });
        let response = self
            .client
            .execute(ApiRequest::new(CREATE).json(body))
            .await?
            .error_for_errors(&CREATE)?;
        response
            .envelope
            .resource_list()
            .into_iter()
            .map(Ioc::from_json)
            .collect()
    }

    /// Changes indicators in one request. The changed indicators come back
    /// in [`Batch::found`] (in the order given); ids Falcon does not know or
    /// refuses come back in [`Batch::missing`] and [`Batch::errors`]. Not
    /// replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for more than 2000 changes, an empty or
    /// repeated id; [`Error::Api`] (400) for an invalid value (an unknown
    /// action or severity) or an error not tied to an id;
    /// [`Error::Forbidden`] without `ioc:write`; [`Error::WriteUncertain`];
    /// any error of [`Client::execute`].
    pub async fn update(&self, update: &IocUpdate) -> Result<Batch<Ioc>> {
        if update.indicators.len() > CREATE_LIMIT {
            return Err(Error::InvalidInput(format!(
                "at most {CREATE_LIMIT} ioc changes per update call"
            )));
        }
        let asked: Vec<&str> = update.indicators.iter().map(|c| c.id.as_str()).collect();
        let ids = unique_ids(&asked, "ioc id")?;
        if ids.len() != asked.len() {
            return Err(Error::InvalidInput(
                "an ioc update changes each indicator once".into(),
            ));
        }
        if ids.is_empty() {
            return Ok(Batch::default());
        }
        let mut body = json!({
            "indicators": update.indicators.iter().map(IocChange::to_json).collect::<Vec<_>>(),
        });
        if let Some(comment) = &update.comment {
            body["comment"] = json!(comment);
        }
        let response = self
            .client
            .execute(ApiRequest::new(UPDATE).json(body).allow_partial())
            .await?;
        let mut changed = std::collections::HashMap::new();
        for raw in response.envelope.resource_list() {
            let ioc = Ioc::from_json(raw)?;
            changed.insert(ioc.id.clone(), ioc);
        }
        let mut refused = std::collections::HashMap::new();
        for error in &response.envelope.errors {
            match &error.id {
                Some(id) => {
                    refused.entry(id.clone()).or_insert_with(|| crate::IdError {
                        id: id.clone(),
                        code: error.code,
                        message: error.message.clone(),
                    });
                }
                None if changed.is_empty() => {
                    return Err(Error::Api {
                        endpoint: UPDATE.to_string(),
                        status: response.status,
                        code: error.code,
                        message: error.message.clone(),
                        trace_id: response.trace_id.clone(),
                        body: None,
                    });
                }
                None => {
                    tracing::warn!(endpoint = %UPDATE, code = error.code, message = %error.message, "falcon write reported an error not tied to an id");
                }
            }
        }
        let mut batch = Batch::default();
        for id in ids {
            if let Some(error) = refused.remove(&id) {
                batch.errors.push(error);
            }
            match changed.remove(&id) {
                Some(ioc) => batch.found.push(ioc),
                None => batch.missing.push(id),
            }
        }
        Ok(batch)
    }

    /// Deletes indicators by id; idempotent, so retried after 429, 5xx and
    /// transport errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `ioc:write`; any error of [`Client::execute`].
    pub async fn delete<S: AsRef<str>>(&self, ids: &[S]) -> Result<()> {
        let ids = unique_ids(ids, "ioc id")?;
        for part in crate::paging::chunk_ids(&ids, 500, crate::paging::MAX_QUERY_ID_BYTES, 5) {
            let mut request = ApiRequest::new(DELETE);
            for id in part {
                request = request.query("ids", id.clone());
            }
            self.client
                .execute(request)
                .await?
                .error_for_errors(&DELETE)?;
        }
        Ok(())
    }
}
