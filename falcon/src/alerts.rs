//! Alerts: queries, `after`-paged combined listing, details and updates
//! (scopes `alerts:read` / `alerts:write`, console "Alerts: Read/Write").
//!
//! Alerts are addressed by their composite id. The offset query stops at
//! 10,000 results ([`Error::WindowExceeded`]); [`Alerts::combined`] pages
//! with `after` tokens and has no window.
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::alerts::{AlertQuery, AlertUpdate};
//! use falcon::fql::Fql;
//!
//! let filter = Fql::new().eq("status", "new").ge("severity", 70).build()?;
//! let alerts = client.alerts().combined(&AlertQuery::filtered(filter)).await?;
//! let ids: Vec<String> = alerts.iter().map(|a| a.composite_id.clone()).collect();
//! let update = AlertUpdate::new(ids).status("in_progress").comment("triaged by plugin");
//! client.alerts().update(&update).await?;
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::hosts::{WriteOutcome, merge_write};
use crate::model::{boolean, decode_error, id_strings, int, present, strings, text, time};
use crate::paging::{
    Batch, BatchSpec, CursorField, IdsIn, MAX_BODY_ID_BYTES, OffsetPaging, chunk_ids,
    collect_cursor, collect_offset_paged, lookup_ids, unique_ids,
};

/// Scope of the read calls.
pub const SCOPE_READ: &str = "alerts:read";
/// Scope of updates.
pub const SCOPE_WRITE: &str = "alerts:write";

/// `GET /alerts/queries/alerts/v2` (GetQueriesAlertsV2): composite ids,
/// offset paging, at most 10,000 results.
pub const QUERY_ALERTS: Endpoint =
    Endpoint::read(Method::Get, "/alerts/queries/alerts/v2", SCOPE_READ);
/// `POST /alerts/combined/alerts/v1` (PostCombinedAlertsV1): full alerts,
/// `after` paging. A read, though sent as `POST`.
pub const COMBINED_ALERTS: Endpoint =
    Endpoint::read(Method::Post, "/alerts/combined/alerts/v1", SCOPE_READ);
/// `POST /alerts/entities/alerts/v2` (PostEntitiesAlertsV2): alerts by
/// composite id, up to 1000. A read, though sent as `POST`.
pub const GET_ALERTS: Endpoint =
    Endpoint::read(Method::Post, "/alerts/entities/alerts/v2", SCOPE_READ);
/// `PATCH /alerts/entities/alerts/v3` (PatchEntitiesAlertsV3).
pub const UPDATE_ALERTS: Endpoint =
    Endpoint::write(Method::Patch, "/alerts/entities/alerts/v3", SCOPE_WRITE);

/// The offset query's result window.
pub const OFFSET_WINDOW: u64 = 10_000;
/// Page size of the offset query.
pub const QUERY_LIMIT: u32 = 1000;
/// Page size of the combined listing (the API maximum).
pub const COMBINED_LIMIT: u32 = 1000;
/// Composite ids per details or update request (more → HTTP 413).
pub const IDS_PER_REQUEST: usize = 1000;

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertQuery {
    /// An FQL filter; `None` lists every alert.
    pub filter: Option<String>,
    /// A sort such as `created_timestamp|desc`. `after` tokens are bound to
    /// the sort; sort on immutable fields for stable listings.
    pub sort: Option<String>,
    /// Free-text search (`q`, offset query only).
    pub text: Option<String>,
    /// Stop after this many alerts.
    pub max_results: Option<u64>,
}

impl AlertQuery {
    /// Every alert.
    pub fn all() -> Self {
        Self::default()
    }

    /// The alerts matching an FQL filter.
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

    /// Stops after `max` alerts.
    #[must_use]
    pub fn max_results(mut self, max: u64) -> Self {
        self.max_results = Some(max);
        self
    }

    fn filter(&self) -> Option<&str> {
        self.filter.as_deref().filter(|f| !f.trim().is_empty())
    }

    fn sort_value(&self) -> Option<&str> {
        self.sort.as_deref().filter(|s| !s.trim().is_empty())
    }
}

/// An alert.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alert {
    /// The composite id every call takes.
    pub composite_id: String,
    /// The alert id within its product.
    pub id: Option<String>,
    /// The agent id of the host, when the alert is about one.
    pub agent_id: Option<String>,
    /// `new`, `in_progress`, `closed`, `reopened` (other values as sent).
    pub status: String,
    /// Severity 1–100.
    pub severity: Option<i64>,
    /// `Informational`, `Low`, `Medium`, `High`, `Critical`.
    pub severity_name: Option<String>,
    /// The alert's name.
    pub name: Option<String>,
    /// The display name.
    pub display_name: Option<String>,
    /// What was detected.
    pub description: Option<String>,
    /// The product (`epp`, `idp`, `xdr`, …).
    pub product: Option<String>,
    /// MITRE tactic.
    pub tactic: Option<String>,
    /// MITRE technique.
    pub technique: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether the alert shows in the console.
    pub show_in_ui: Option<bool>,
    /// UUID of the assigned user.
    pub assigned_to_uuid: Option<String>,
    /// Name of the assigned user.
    pub assigned_to_name: Option<String>,
    /// When the alert was created.
    pub created_timestamp: Option<jiff::Timestamp>,
    /// When the alert last changed.
    pub updated_timestamp: Option<jiff::Timestamp>,
    /// The whole object as the API returned it (product-specific fields
    /// included).
    pub raw: Value,
}

impl Alert {
    fn from_json(raw: Value) -> Result<Self> {
        let composite_id = present(&raw, "composite_id")
            .ok_or_else(|| decode_error(&GET_ALERTS, "an alert has no `composite_id`"))?;
        Ok(Self {
            composite_id,
            id: present(&raw, "id"),
            agent_id: present(&raw, "agent_id"),
            status: text(&raw, "status"),
            severity: int(&raw, "severity"),
            severity_name: present(&raw, "severity_name"),
            name: present(&raw, "name"),
            display_name: present(&raw, "display_name"),
            description: present(&raw, "description"),
            product: present(&raw, "product"),
            tactic: present(&raw, "tactic"),
            technique: present(&raw, "technique"),
            tags: strings(&raw, "tags"),
            show_in_ui: boolean(&raw, "show_in_ui"),
            assigned_to_uuid: present(&raw, "assigned_to_uuid"),
            assigned_to_name: present(&raw, "assigned_to_name"),
            created_timestamp: time(&raw, "created_timestamp"),
            updated_timestamp: time(&raw, "updated_timestamp"),
            raw,
        })
    }
}

/// Changes to a set of alerts (PatchEntitiesAlertsV3 action parameters).
/// Falcon applies tag removals before additions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertUpdate {
    /// The composite ids.
    pub composite_ids: Vec<String>,
    /// The action parameters, as `(name, value)` pairs.
    pub actions: Vec<(String, String)>,
}

impl AlertUpdate {
    /// An update of `composite_ids` with no change yet.
    pub fn new<S: Into<String>>(composite_ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            composite_ids: composite_ids.into_iter().map(Into::into).collect(),
            actions: Vec::new(),
        }
    }

    /// Adds a raw action parameter (`update_status`, `assign_to_uuid`, …).
    #[must_use]
    pub fn action(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.actions.push((name.into(), value.into()));
        self
    }

    /// Sets the status (`new`, `in_progress`, `reopened`, `closed`).
    #[must_use]
    pub fn status(self, status: impl Into<String>) -> Self {
        self.action("update_status", status)
    }

    /// Assigns to a user by UUID.
    #[must_use]
    pub fn assign_to_uuid(self, uuid: impl Into<String>) -> Self {
        self.action("assign_to_uuid", uuid)
    }

    /// Removes the assignment.
    #[must_use]
    pub fn unassign(self) -> Self {
        self.action("unassign", "")
    }

    /// Adds a tag.
    #[must_use]
    pub fn add_tag(self, tag: impl Into<String>) -> Self {
        self.action("add_tag", tag)
    }

    /// Removes a tag.
    #[must_use]
    pub fn remove_tag(self, tag: impl Into<String>) -> Self {
        self.action("remove_tag", tag)
    }

    /// Appends a comment.
    #[must_use]
    pub fn comment(self, comment: impl Into<String>) -> Self {
        self.action("append_comment", comment)
    }
}

/// Alert calls; get one with [`Client::alerts`].
#[derive(Debug, Clone, Copy)]
pub struct Alerts<'a> {
    client: &'a Client,
}

impl Client {
    /// Alert calls (query, combined listing, details, updates).
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts { client: self }
    }
}

impl Alerts<'_> {
    /// The composite ids of every alert matching `query`, through the
    /// offset query.
    ///
    /// # Errors
    ///
    /// [`Error::WindowExceeded`] when more than 10,000 alerts match (use
    /// [`Alerts::combined`]); [`Error::Forbidden`] without `alerts:read`;
    /// any error of [`Client::execute`].
    pub async fn query_ids(&self, query: &AlertQuery) -> Result<Vec<String>> {
        let base = ApiRequest::new(QUERY_ALERTS)
            .query_opt("filter", query.filter())
            .query_opt("sort", query.sort_value())
            .query_opt("q", query.text.as_deref().filter(|q| !q.trim().is_empty()));
        let values = collect_offset_paged(
            self.client,
            base,
            OffsetPaging {
                limit: QUERY_LIMIT,
                window: Some(OFFSET_WINDOW),
                max: query.max_results,
            },
        )
        .await?;
        id_strings(&QUERY_ALERTS, values)
    }

    /// Every alert matching `query`, with details, paging with `after`
    /// tokens (no window), 1000 per page.
    ///
    /// # Errors
    ///
    /// [`Error::CursorExpired`] when an `after` token expires mid-listing;
    /// [`Error::Inconsistent`] when the count differs from the reported
    /// total; [`Error::Forbidden`] without `alerts:read`; [`Error::Decode`]
    /// for an alert without `composite_id`; any error of
    /// [`Client::execute`].
    pub async fn combined(&self, query: &AlertQuery) -> Result<Vec<Alert>> {
        let make = |after: Option<&str>| {
            let mut body = json!({ "limit": COMBINED_LIMIT });
            if let Some(filter) = query.filter() {
                body["filter"] = json!(filter);
            }
            if let Some(sort) = query.sort_value() {
                body["sort"] = json!(sort);
            }
            if let Some(after) = after {
                body["after"] = json!(after);
            }
            ApiRequest::new(COMBINED_ALERTS).json(body)
        };
        let values =
            collect_cursor(self.client, make, CursorField::After, query.max_results).await?;
        values.into_iter().map(Alert::from_json).collect()
    }

    /// Alerts by composite id, in the order given (duplicates removed), 1000
    /// ids per request and within the request size limit (composite ids
    /// can be long). Unknown ids come back in [`Batch::missing`] and, when
    /// Falcon names them, [`Batch::errors`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `alerts:read`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, composite_ids: &[S]) -> Result<Batch<Alert>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(GET_ALERTS),
            composite_ids,
            "alert composite id",
            BatchSpec {
                ids_in: IdsIn::Body("composite_ids"),
                max_ids: IDS_PER_REQUEST,
                id_key: "composite_id",
            },
            Alert::from_json,
        )
        .await
    }

    /// Applies `update` to its alerts, 1000 per request. Never replayed: a
    /// batch whose outcome is unknown ends the call with
    /// [`Error::WriteUncertain`] (earlier batches were applied).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or an update without
    /// actions; [`Error::Forbidden`] without `alerts:write`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn update(&self, update: &AlertUpdate) -> Result<WriteOutcome> {
        let ids = unique_ids(&update.composite_ids, "alert composite id")?;
        if update.actions.is_empty() {
            return Err(Error::InvalidInput("alert update has no action".into()));
        }
        let params: Vec<Value> = update
            .actions
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        let mut outcome = WriteOutcome::default();
        for part in chunk_ids(&ids, IDS_PER_REQUEST, MAX_BODY_ID_BYTES, 3) {
            let body = json!({ "composite_ids": part, "action_parameters": params });
            let response = self
                .client
                .execute(ApiRequest::new(UPDATE_ALERTS).json(body).allow_partial())
                .await?;
            let reported = !response.envelope.resource_list().is_empty();
            let before = outcome.affected.len();
            merge_write(&UPDATE_ALERTS, part, response, &mut outcome)?;
            // PATCH v3 may answer with no resources: every id not refused
            // was applied.
            if !reported && outcome.affected.len() == before {
                let refused: std::collections::HashSet<&str> =
                    outcome.errors.iter().map(|e| e.id.as_str()).collect();
                outcome.affected.extend(
                    part.iter()
                        .filter(|id| !refused.contains(id.as_str()))
                        .cloned(),
                );
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_decodes_and_update_builds() {
        let alert = Alert::from_json(json!({"composite_id": "c:ind:a:1", "severity": "70",
            "tags": null, "created_timestamp": "2024-01-01T00:00:00.1Z", "status": "weird"}))
        .unwrap();
        assert_eq!(alert.severity, Some(70));
        assert!(alert.tags.is_empty());
        assert_eq!(alert.status, "weird");
        assert!(alert.created_timestamp.is_some());
        let update = AlertUpdate::new(["a"]).status("closed").add_tag("x");
        assert_eq!(
            update.actions,
            [
                ("update_status".to_owned(), "closed".to_owned()),
                ("add_tag".to_owned(), "x".to_owned())
            ]
        );
    }
}
