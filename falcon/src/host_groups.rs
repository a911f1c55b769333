//! Host groups: listing, details, creation, changes, deletion and membership
//! (scopes `host-group:read` / `host-group:write`, console "Host groups:
//! Read/Write").
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::host_groups::{GroupType, HostGroupQuery, NewHostGroup};
//!
//! let group = client
//!     .host_groups()
//!     .create(&NewHostGroup::new("quarantine", GroupType::Static))
//!     .await?;
//! client.host_groups().add_hosts(&group.id, &["0123456789abcdef0123456789abcdef"]).await?;
//! let groups = client.host_groups().list(&HostGroupQuery::all()).await?;
//! println!("{} groups", groups.len());
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::fql::Fql;
use crate::model::{decode_error, id_strings, present, text, time};
use crate::paging::{
    Batch, BatchSpec, IdsIn, OffsetPaging, collect_offset_paged, lookup_ids, unique_ids,
};

/// Scope of the read calls.
pub const SCOPE_READ: &str = "host-group:read";
/// Scope of the write calls.
pub const SCOPE_WRITE: &str = "host-group:write";

/// `GET /devices/queries/host-groups/v1` (queryHostGroups).
pub const QUERY_GROUPS: Endpoint =
    Endpoint::read(Method::Get, "/devices/queries/host-groups/v1", SCOPE_READ);
/// `GET /devices/combined/host-groups/v1` (queryCombinedHostGroups).
pub const COMBINED_GROUPS: Endpoint =
    Endpoint::read(Method::Get, "/devices/combined/host-groups/v1", SCOPE_READ);
/// `GET /devices/entities/host-groups/v1` (getHostGroups).
pub const GET_GROUPS: Endpoint =
    Endpoint::read(Method::Get, "/devices/entities/host-groups/v1", SCOPE_READ);
/// `POST /devices/entities/host-groups/v1` (createHostGroups).
pub const CREATE_GROUPS: Endpoint = Endpoint::write(
    Method::Post,
    "/devices/entities/host-groups/v1",
    SCOPE_WRITE,
);
/// `PATCH /devices/entities/host-groups/v1` (updateHostGroups).
/// Retried like a read (setting the same values twice sets them once).
pub const UPDATE_GROUPS: Endpoint = Endpoint::idempotent_write(
    Method::Patch,
    "/devices/entities/host-groups/v1",
    SCOPE_WRITE,
);
/// `DELETE /devices/entities/host-groups/v1` (deleteHostGroups).
/// Retried like a read (deleting twice deletes once).
pub const DELETE_GROUPS: Endpoint = Endpoint::idempotent_write(
    Method::Delete,
    "/devices/entities/host-groups/v1",
    SCOPE_WRITE,
);
/// `GET /devices/queries/host-group-members/v1` (queryGroupMembers).
pub const QUERY_MEMBERS: Endpoint = Endpoint::read(
    Method::Get,
    "/devices/queries/host-group-members/v1",
    SCOPE_READ,
);
/// `POST /devices/entities/host-group-actions/v1` (performGroupAction).
pub const GROUP_ACTIONS: Endpoint = Endpoint::write(
    Method::Post,
    "/devices/entities/host-group-actions/v1",
    SCOPE_WRITE,
);

/// Page size of the group queries (the API maximum).
pub const PAGE_LIMIT: u32 = 5000;
/// Group ids per details request (sent in the query string).
pub const GET_IDS: usize = 500;
/// Hosts per membership change.
pub const MEMBER_IDS: usize = 500;

/// Which host groups (or members) to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostGroupQuery {
    /// An FQL filter; `None` lists everything.
    pub filter: Option<String>,
    /// A sort such as `name.asc`.
    pub sort: Option<String>,
}

impl HostGroupQuery {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// What matches an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            sort: None,
        }
    }

    fn apply(&self, request: ApiRequest) -> ApiRequest {
        request.filter_and_sort(self.filter.as_deref(), self.sort.as_deref())
    }
}

/// How a group gets its members.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupType {
    /// Hosts added by hostname.
    Static,
    /// Hosts matching an assignment rule.
    Dynamic,
    /// Hosts added by agent id.
    StaticById,
    /// A value this client does not know, as sent.
    Other(String),
}

impl GroupType {
    /// The `group_type` on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Static => "static",
            Self::Dynamic => "dynamic",
            Self::StaticById => "staticByID",
            Self::Other(s) => s,
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "static" => Self::Static,
            "dynamic" => Self::Dynamic,
            "staticByID" => Self::StaticById,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A host group.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HostGroup {
    /// The group id (32 hex digits).
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// How members are chosen.
    pub group_type: GroupType,
    /// The FQL rule of a dynamic group.
    pub assignment_rule: Option<String>,
    /// When the group was created.
    pub created_timestamp: Option<jiff::Timestamp>,
    /// When the group last changed.
    pub modified_timestamp: Option<jiff::Timestamp>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl HostGroup {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id")
            .ok_or_else(|| decode_error(&GET_GROUPS, "a host group has no `id`"))?;
        Ok(Self {
            id,
            name: text(&raw, "name"),
            description: text(&raw, "description"),
            group_type: GroupType::parse(&text(&raw, "group_type")),
            assignment_rule: present(&raw, "assignment_rule"),
            created_timestamp: time(&raw, "created_timestamp"),
            modified_timestamp: time(&raw, "modified_timestamp"),
            raw,
        })
    }
}

/// A group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewHostGroup {
    /// The name.
    pub name: String,
    /// How members are chosen.
    pub group_type: GroupType,
    /// The description.
    pub description: Option<String>,
    /// The FQL rule (dynamic groups only).
    pub assignment_rule: Option<String>,
}

impl NewHostGroup {
    /// A group named `name` of `group_type`.
    pub fn new(name: impl Into<String>, group_type: GroupType) -> Self {
        Self {
            name: name.into(),
            group_type,
            description: None,
            assignment_rule: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the assignment rule of a dynamic group.
    #[must_use]
    pub fn assignment_rule(mut self, rule: impl Into<String>) -> Self {
        self.assignment_rule = Some(rule.into());
        self
    }
}

/// A change to one group; fields left `None` are not changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostGroupUpdate {
    /// The group id.
    pub id: String,
    /// The new name.
    pub name: Option<String>,
    /// The new description.
    pub description: Option<String>,
    /// The new FQL rule (dynamic groups only).
    pub assignment_rule: Option<String>,
}

impl HostGroupUpdate {
    /// A change to group `id` (nothing changed yet).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            description: None,
            assignment_rule: None,
        }
    }

    /// Sets the new name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the new description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the new assignment rule of a dynamic group.
    #[must_use]
    pub fn assignment_rule(mut self, rule: impl Into<String>) -> Self {
        self.assignment_rule = Some(rule.into());
        self
    }
}

/// Host-group calls; get one with [`Client::host_groups`].
#[derive(Debug, Clone, Copy)]
pub struct HostGroups<'a> {
    client: &'a Client,
}

impl Client {
    /// Host-group calls.
    pub fn host_groups(&self) -> HostGroups<'_> {
        HostGroups { client: self }
    }
}

impl HostGroups<'_> {
    /// The ids of every group matching `query`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `host-group:read`; any error of
    /// [`Client::execute`].
    pub async fn query_ids(&self, query: &HostGroupQuery) -> Result<Vec<String>> {
        let values = collect_offset_paged(
            self.client,
            query.apply(ApiRequest::new(QUERY_GROUPS)),
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        id_strings(&QUERY_GROUPS, values)
    }

    /// Every group matching `query`, with details (combined endpoint).
    ///
    /// # Errors
    ///
    /// As [`HostGroups::query_ids`]; [`Error::Decode`] for a group without
    /// `id`.
    pub async fn list(&self, query: &HostGroupQuery) -> Result<Vec<HostGroup>> {
        let values = collect_offset_paged(
            self.client,
            query.apply(ApiRequest::new(COMBINED_GROUPS)),
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        values.into_iter().map(HostGroup::from_json).collect()
    }

    /// Groups by id, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `host-group:read`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<HostGroup>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(GET_GROUPS),
            ids,
            "host group id",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: GET_IDS,
                id_key: "id",
            },
            HostGroup::from_json,
        )
        .await
    }

    /// Creates a group (HTTP 201). Not replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty name or a rule on a non-dynamic
    /// group; [`Error::Forbidden`] without `host-group:write`;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn create(&self, group: &NewHostGroup) -> Result<HostGroup> {
        if group.name.trim().is_empty() {
            return Err(Error::InvalidInput("host group name is empty".into()));
        }
        if group.assignment_rule.is_some() && group.group_type != GroupType::Dynamic {
            return Err(Error::InvalidInput(
                "only dynamic host groups take an assignment rule".into(),
            ));
        }
        let mut resource = json!({ "name": group.name, "group_type": group.group_type.as_str() });
        if let Some(d) = &group.description {
            resource["description"] = json!(d);
        }
        if let Some(r) = &group.assignment_rule {
            resource["assignment_rule"] = json!(r);
        }
        let response = self
            .client
            .execute(ApiRequest::new(CREATE_GROUPS).json(json!({ "resources": [resource] })))
            .await?
            .error_for_errors(&CREATE_GROUPS)?;
        let created = response
            .envelope
            .resource_list()
            .into_iter()
            .next()
            .ok_or_else(|| decode_error(&CREATE_GROUPS, "the created group was not returned"))?;
        HostGroup::from_json(created)
    }

    /// Changes a group's name, description or assignment rule; returns the
    /// group as changed. Retried like a read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or name, or a change that
    /// changes nothing; [`Error::Api`] (404) for an unknown group;
    /// [`Error::Forbidden`] without `host-group:write`; any error of
    /// [`Client::execute`].
    pub async fn update(&self, update: &HostGroupUpdate) -> Result<HostGroup> {
        let id = non_empty(&update.id)?;
        let mut resource = json!({ "id": id });
        for (key, value) in [
            ("name", &update.name),
            ("description", &update.description),
            ("assignment_rule", &update.assignment_rule),
        ] {
            if let Some(value) = value {
                resource[key] = json!(value);
            }
        }
        if update.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::InvalidInput("host group name is empty".into()));
        }
        if resource.as_object().is_some_and(|r| r.len() == 1) {
            return Err(Error::InvalidInput(format!(
                "the change to host group {id} changes nothing"
            )));
        }
        let response = self
            .client
            .execute(ApiRequest::new(UPDATE_GROUPS).json(json!({ "resources": [resource] })))
            .await?
            .error_for_errors(&UPDATE_GROUPS)?;
        let changed = response
            .envelope
            .resource_list()
            .into_iter()
            .next()
            .ok_or_else(|| decode_error(&UPDATE_GROUPS, "the changed group was not returned"))?;
        HostGroup::from_json(changed)
    }

    /// Deletes groups by id; idempotent, so retried after 429, 5xx and
    /// transport errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `host-group:write`; any error of [`Client::execute`].
    pub async fn delete<S: AsRef<str>>(&self, ids: &[S]) -> Result<()> {
        let ids = unique_ids(ids, "host group id")?;
        for part in ids.chunks(GET_IDS) {
            let mut request = ApiRequest::new(DELETE_GROUPS);
            for id in part {
                request = request.query("ids", id.clone());
            }
            self.client
                .execute(request)
                .await?
                .error_for_errors(&DELETE_GROUPS)?;
        }
        Ok(())
    }

    /// The agent ids of the members of group `group_id`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `host-group:read`; any error of [`Client::execute`].
    pub async fn member_ids(&self, group_id: &str, query: &HostGroupQuery) -> Result<Vec<String>> {
        let group_id = non_empty(group_id)?;
        let values = collect_offset_paged(
            self.client,
            query.apply(ApiRequest::new(QUERY_MEMBERS).query("id", group_id)),
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        id_strings(&QUERY_MEMBERS, values)
    }

    /// Adds hosts (by agent id) to a group, 500 per request.
    ///
    /// # Errors
    ///
    /// As [`HostGroups::remove_hosts`].
    pub async fn add_hosts<S: AsRef<str>>(&self, group_id: &str, aids: &[S]) -> Result<()> {
        self.membership(group_id, aids, "add-hosts").await
    }

    /// Removes hosts (by agent id) from a group, 500 per request.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `host-group:write`; [`Error::WriteUncertain`]; any error of
    /// [`Client::execute`].
    pub async fn remove_hosts<S: AsRef<str>>(&self, group_id: &str, aids: &[S]) -> Result<()> {
        self.membership(group_id, aids, "remove-hosts").await
    }

    async fn membership<S: AsRef<str>>(
        &self,
        group_id: &str,
        aids: &[S],
        action: &str,
    ) -> Result<()> {
        let group_id = non_empty(group_id)?;
        let aids = unique_ids(aids, "host id")?;
        for part in aids.chunks(MEMBER_IDS) {
            let filter = Fql::new().any_of("device_id", part.iter()).build()?;
            let body = json!({
                "ids": [group_id],
                "action_parameters": [{ "name": "filter", "value": filter }],
            });
            self.client
                .execute(
                    ApiRequest::new(GROUP_ACTIONS)
                        .query("action_name", action)
                        .json(body),
                )
                .await?
                .error_for_errors(&GROUP_ACTIONS)?;
        }
        Ok(())
    }
}

fn non_empty(id: &str) -> Result<&str> {
    let id = id.trim();
    if id.is_empty() {
        Err(Error::InvalidInput("host group id is empty".into()))
    } else {
        Ok(id)
    }
}
