//! Prevention, response (RTR) and sensor-update policies: listing, details,
//! members, actions, creation, changes, deletion and precedence. Each kind has its own scopes
//! (`prevention-policies:*`, `response-policies:*`,
//! `sensor-update-policies:*`); [`PolicyKind`] picks the endpoints.
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::policies::{PolicyAction, PolicyActionRequest, PolicyKind, PolicyQuery};
//!
//! let policies = client.policies(PolicyKind::Prevention);
//! for policy in policies.list(&PolicyQuery::all()).await? {
//!     println!("{} {} enabled={}", policy.platform_name, policy.name, policy.enabled);
//! }
//! policies
//!     .act(&PolicyActionRequest::new(PolicyAction::AddHostGroup, ["<policy id>"]).group("<group id>"))
//!     .await?;
//!
//! use falcon::policies::{NewPolicy, PolicyUpdate};
//! let created = policies.create(&NewPolicy::new("servers", "Windows")).await?;
//! policies.update(&PolicyUpdate::new(&created.id).description("tier-1 servers")).await?;
//! # Ok(()) }
//! ```

use serde_json::{Value, json};

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::hosts::{WriteOutcome, merge_write};
use crate::model::{boolean, decode_error, id_strings, present, text, time};
use crate::paging::{
    Batch, BatchSpec, IdsIn, OffsetPaging, collect_offset_paged, lookup_ids, unique_ids,
};

/// A policy kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// Prevention policies.
    Prevention,
    /// Real-time response policies.
    Response,
    /// Sensor update policies.
    SensorUpdate,
}

macro_rules! kind_endpoint {
    ($kind:expr, $method:ident, $access:ident, $prev:literal, $resp:literal, $sens:literal) => {
        match $kind {
            PolicyKind::Prevention => Endpoint::$access(Method::$method, $prev, ""),
            PolicyKind::Response => Endpoint::$access(Method::$method, $resp, ""),
            PolicyKind::SensorUpdate => Endpoint::$access(Method::$method, $sens, ""),
        }
    };
}

impl PolicyKind {
    /// The read scope of this kind.
    pub fn read_scope(self) -> &'static str {
        match self {
            Self::Prevention => "prevention-policies:read",
            Self::Response => "response-policies:read",
            Self::SensorUpdate => "sensor-update-policies:read",
        }
    }

    /// The write scope of this kind.
    pub fn write_scope(self) -> &'static str {
        match self {
            Self::Prevention => "prevention-policies:write",
            Self::Response => "response-policies:write",
            Self::SensorUpdate => "sensor-update-policies:write",
        }
    }

    fn scoped(self, endpoint: Endpoint) -> Endpoint {
        Endpoint {
            scope: if endpoint.is_read() {
                self.read_scope()
            } else {
                self.write_scope()
            },
            ..endpoint
        }
    }

    /// `GET /policy/queries/<kind>/v1`: policy ids.
    pub fn query_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Get,
            read,
            "/policy/queries/prevention/v1",
            "/policy/queries/response/v1",
            "/policy/queries/sensor-update/v1"
        ))
    }

    /// `GET /policy/combined/<kind>/v1` (`v2` for sensor update): policies.
    pub fn combined_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Get,
            read,
            "/policy/combined/prevention/v1",
            "/policy/combined/response/v1",
            "/policy/combined/sensor-update/v2"
        ))
    }

    /// `GET /policy/entities/<kind>/v1` (`v2` for sensor update): policies
    /// by id.
    pub fn get_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Get,
            read,
            "/policy/entities/prevention/v1",
            "/policy/entities/response/v1",
            "/policy/entities/sensor-update/v2"
        ))
    }

    /// `GET /policy/queries/<kind>-members/v1`: agent ids of members.
    pub fn members_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Get,
            read,
            "/policy/queries/prevention-members/v1",
            "/policy/queries/response-members/v1",
            "/policy/queries/sensor-update-members/v1"
        ))
    }

    /// `POST /policy/entities/<kind>-actions/v1`: enable, disable, host
    /// groups.
    pub fn action_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Post,
            write,
            "/policy/entities/prevention-actions/v1",
            "/policy/entities/response-actions/v1",
            "/policy/entities/sensor-update-actions/v1"
        ))
    }

    /// `POST /policy/entities/<kind>/v1` (`v2` for sensor update): creates
    /// policies.
    pub fn create_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Post,
            write,
            "/policy/entities/prevention/v1",
            "/policy/entities/response/v1",
            "/policy/entities/sensor-update/v2"
        ))
    }

    /// `PATCH /policy/entities/<kind>/v1` (`v2` for sensor update): changes
    /// policies. Retried like a read (setting the same values twice sets
    /// them once).
    pub fn update_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Patch,
            idempotent_write,
            "/policy/entities/prevention/v1",
            "/policy/entities/response/v1",
            "/policy/entities/sensor-update/v2"
        ))
    }

    /// `DELETE /policy/entities/<kind>/v1`: deletes policies. Retried like
    /// a read (deleting twice deletes once).
    pub fn delete_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Delete,
            idempotent_write,
            "/policy/entities/prevention/v1",
            "/policy/entities/response/v1",
            "/policy/entities/sensor-update/v1"
        ))
    }

    /// `POST /policy/entities/<kind>-precedence/v1`: orders a platform's
    /// policies. Retried like a read (the same order twice is one order).
    pub fn precedence_endpoint(self) -> Endpoint {
        self.scoped(kind_endpoint!(
            self,
            Post,
            idempotent_write,
            "/policy/entities/prevention-precedence/v1",
            "/policy/entities/response-precedence/v1",
            "/policy/entities/sensor-update-precedence/v1"
        ))
    }
}

/// Page size of policy queries.
pub const PAGE_LIMIT: u32 = 5000;
/// Policy ids per details request.
pub const GET_IDS: usize = 500;

/// Which policies (or members) to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyQuery {
    /// An FQL filter; `None` lists everything.
    pub filter: Option<String>,
    /// A sort such as `precedence.asc`.
    pub sort: Option<String>,
}

impl PolicyQuery {
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

/// A policy of any kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// The id (32 hex digits).
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// `Windows`, `Mac`, `Linux`, …
    pub platform_name: String,
    /// Whether the policy is enabled.
    pub enabled: bool,
    /// Ids of the host groups it applies to.
    pub group_ids: Vec<String>,
    /// When it last changed.
    pub modified_timestamp: Option<jiff::Timestamp>,
    /// The whole object (settings included) as the API returned it.
    pub raw: Value,
}

impl Policy {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id").ok_or_else(|| {
            decode_error(
                &PolicyKind::Prevention.get_endpoint(),
                "a policy has no `id`",
            )
        })?;
        let group_ids = match raw.get("groups") {
            Some(Value::Array(groups)) => groups
                .iter()
                .filter_map(|g| match g {
                    Value::String(s) => Some(s.clone()),
                    other => present(other, "id"),
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            id,
            name: text(&raw, "name"),
            description: text(&raw, "description"),
            platform_name: text(&raw, "platform_name"),
            enabled: boolean(&raw, "enabled").unwrap_or(false),
            group_ids,
            modified_timestamp: time(&raw, "modified_timestamp"),
            raw,
        })
    }
}

/// A policy action (`action_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyAction {
    /// Enable the policies.
    Enable,
    /// Disable the policies.
    Disable,
    /// Apply the policies to a host group.
    AddHostGroup,
    /// Stop applying the policies to a host group.
    RemoveHostGroup,
}

impl PolicyAction {
    /// The `action_name` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::AddHostGroup => "add-host-group",
            Self::RemoveHostGroup => "remove-host-group",
        }
    }
}

/// An action on policies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyActionRequest {
    /// What to do.
    pub action: PolicyAction,
    /// The policy ids.
    pub ids: Vec<String>,
    /// The host group, for the group actions.
    pub group_id: Option<String>,
}

impl PolicyActionRequest {
    /// `action` on policies `ids`.
    pub fn new<S: Into<String>>(action: PolicyAction, ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            action,
            ids: ids.into_iter().map(Into::into).collect(),
            group_id: None,
        }
    }

    /// Sets the host group of a group action.
    #[must_use]
    pub fn group(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }
}

/// A policy to create (disabled, last in its platform's precedence).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPolicy {
    /// The name, unique per kind and platform.
    pub name: String,
    /// `Windows`, `Mac` or `Linux`.
    pub platform_name: String,
    /// The description.
    pub description: Option<String>,
    /// Settings in the kind's shape: a list of `{"id", "value"}` for
    /// prevention and response policies, an object (`build`,
    /// `uninstall_protection`, ...) for sensor update policies.
    pub settings: Option<Value>,
}

impl NewPolicy {
    /// A policy named `name` for `platform_name` (`Windows`, `Mac`,
    /// `Linux`).
    pub fn new(name: impl Into<String>, platform_name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            platform_name: platform_name.into(),
            description: None,
            settings: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the settings, in the kind's shape (see [`NewPolicy::settings`]).
    #[must_use]
    pub fn settings(mut self, settings: Value) -> Self {
        self.settings = Some(settings);
        self
    }
}

/// A change to one policy; fields left `None` are not changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyUpdate {
    /// The policy id.
    pub id: String,
    /// The new name.
    pub name: Option<String>,
    /// The new description.
    pub description: Option<String>,
    /// The new settings, in the kind's shape (see [`NewPolicy::settings`]).
    pub settings: Option<Value>,
}

impl PolicyUpdate {
    /// A change to policy `id` (nothing changed yet).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            description: None,
            settings: None,
        }
    }

    /// Sets the new settings, in the kind's shape (see
    /// [`NewPolicy::settings`]).
    #[must_use]
    pub fn settings(mut self, settings: Value) -> Self {
        self.settings = Some(settings);
        self
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
}

/// The order of a platform's policies, first (highest precedence) first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyPrecedence {
    /// `Windows`, `Mac` or `Linux`.
    pub platform_name: String,
    /// Every policy of the platform except the platform default, in order.
    pub ids: Vec<String>,
}

impl PolicyPrecedence {
    /// Orders `platform_name`'s policies as `ids`.
    pub fn new<S: Into<String>>(
        platform_name: impl Into<String>,
        ids: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            platform_name: platform_name.into(),
            ids: ids.into_iter().map(Into::into).collect(),
        }
    }
}

/// Policy calls of one kind; get one with [`Client::policies`].
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    client: &'a Client,
    kind: PolicyKind,
}

impl Client {
    /// Policy calls for `kind`.
    pub fn policies(&self, kind: PolicyKind) -> Policies<'_> {
        Policies { client: self, kind }
    }
}

impl Policies<'_> {
    fn collect(&self, request: ApiRequest) -> impl Future<Output = Result<Vec<Value>>> + '_ {
        collect_offset_paged(
            self.client,
            request,
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
    }

    /// The ids of every policy matching `query`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without the kind's read scope; any error of
    /// [`Client::execute`].
    pub async fn query_ids(&self, query: &PolicyQuery) -> Result<Vec<String>> {
        let endpoint = self.kind.query_endpoint();
        let values = self.collect(query.apply(ApiRequest::new(endpoint))).await?;
        id_strings(&endpoint, values)
    }

    /// Every policy matching `query`, with details.
    ///
    /// # Errors
    ///
    /// As [`Policies::query_ids`]; [`Error::Decode`] for a policy without
    /// `id`.
    pub async fn list(&self, query: &PolicyQuery) -> Result<Vec<Policy>> {
        let values = self
            .collect(query.apply(ApiRequest::new(self.kind.combined_endpoint())))
            .await?;
        values.into_iter().map(Policy::from_json).collect()
    }

    /// Policies by id, in the order given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without the kind's read scope; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, ids: &[S]) -> Result<Batch<Policy>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(self.kind.get_endpoint()),
            ids,
            "policy id",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: GET_IDS,
                id_key: "id",
            },
            Policy::from_json,
        )
        .await
    }

    /// The agent ids of the hosts a policy applies to.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without the kind's read scope; any error of [`Client::execute`].
    pub async fn member_ids(&self, policy_id: &str) -> Result<Vec<String>> {
        let policy_id = policy_id.trim();
        if policy_id.is_empty() {
            return Err(Error::InvalidInput("policy id is empty".into()));
        }
        let endpoint = self.kind.members_endpoint();
        let values = self
            .collect(ApiRequest::new(endpoint).query("id", policy_id))
            .await?;
        id_strings(&endpoint, values)
    }

    /// Performs an action on policies; returns the policies as changed.
    /// Not replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or a group action without a
    /// group; [`Error::Forbidden`] without the kind's write scope;
    /// [`Error::WriteUncertain`]; any error of [`Client::execute`].
    pub async fn act(&self, request: &PolicyActionRequest) -> Result<Vec<Policy>> {
        let ids = unique_ids(&request.ids, "policy id")?;
        let needs_group = matches!(
            request.action,
            PolicyAction::AddHostGroup | PolicyAction::RemoveHostGroup
        );
        let mut body = json!({ "ids": ids });
        match (&request.group_id, needs_group) {
            (Some(group), true) => {
                body["action_parameters"] = json!([{ "name": "group_id", "value": group }]);
            }
            (None, true) => {
                return Err(Error::InvalidInput(format!(
                    "policy action `{}` needs a host group id",
                    request.action.as_str()
                )));
            }
            _ => {}
        }
        let endpoint = self.kind.action_endpoint();
        let response = self
            .client
            .execute(
                ApiRequest::new(endpoint)
                    .query("action_name", request.action.as_str())
                    .json(body),
            )
            .await?
            .error_for_errors(&endpoint)?;
        response
            .envelope
            .resource_list()
            .into_iter()
            .map(Policy::from_json)
            .collect()
    }
    /// Creates a policy (HTTP 201), disabled and without host groups. Not
    /// replayed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty name or platform; [`Error::Api`]
    /// (409) when the kind already has a policy of that name on the
    /// platform, (400) for an unknown platform; [`Error::Forbidden`]
    /// without the kind's write scope; [`Error::WriteUncertain`]; any error
    /// of [`Client::execute`].
    pub async fn create(&self, policy: &NewPolicy) -> Result<Policy> {
        let name = policy.name.trim();
        let platform = policy.platform_name.trim();
        if name.is_empty() || platform.is_empty() {
            return Err(Error::InvalidInput(
                "a new policy needs a name and a platform".into(),
            ));
        }
        let mut resource = json!({ "name": name, "platform_name": platform });
        if let Some(d) = &policy.description {
            resource["description"] = json!(d);
        }
        if let Some(settings) = &policy.settings {
            resource["settings"] = settings.clone();
        }
        let endpoint = self.kind.create_endpoint();
        let response = self
            .client
            .execute(ApiRequest::new(endpoint).json(json!({ "resources": [resource] })))
            .await?
            .error_for_errors(&endpoint)?;
        let created = response
            .envelope
            .resource_list()
            .into_iter()
            .next()
            .ok_or_else(|| decode_error(&endpoint, "the created policy was not returned"))?;
        Policy::from_json(created)
    }

    /// Changes a policy's name, description or settings; returns the
    /// policy as changed. Retried like a read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id or name, or a change that
    /// changes nothing; [`Error::Api`] (404) for an unknown policy;
    /// [`Error::Forbidden`] without the kind's write scope; any error of
    /// [`Client::execute`].
    pub async fn update(&self, update: &PolicyUpdate) -> Result<Policy> {
        let id = update.id.trim();
        if id.is_empty() {
            return Err(Error::InvalidInput("policy id is empty".into()));
        }
        if update.name.is_none() && update.description.is_none() && update.settings.is_none() {
            return Err(Error::InvalidInput(format!(
                "the change to policy {id} changes nothing"
            )));
        }
        let mut resource = json!({ "id": id });
        if let Some(name) = &update.name {
            if name.trim().is_empty() {
                return Err(Error::InvalidInput("policy name is empty".into()));
            }
            resource["name"] = json!(name);
        }
        if let Some(d) = &update.description {
            resource["description"] = json!(d);
        }
        if let Some(settings) = &update.settings {
            resource["settings"] = settings.clone();
        }
        let endpoint = self.kind.update_endpoint();
        let response = self
            .client
            .execute(ApiRequest::new(endpoint).json(json!({ "resources": [resource] })))
            .await?
            .error_for_errors(&endpoint)?;
        let changed = response
            .envelope
            .resource_list()
            .into_iter()
            .next()
            .ok_or_else(|| decode_error(&endpoint, "the changed policy was not returned"))?;
        Policy::from_json(changed)
    }

    /// Deletes policies by id, 500 per request; ids Falcon refuses (a
    /// platform default, a policy still enabled, an unknown id) come back in
    /// [`WriteOutcome::errors`]. Idempotent, so retried after 429, 5xx and
    /// transport errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without the kind's write scope; [`Error::Api`] for an error not tied
    /// to an id; any error of [`Client::execute`].
    pub async fn delete<S: AsRef<str>>(&self, ids: &[S]) -> Result<WriteOutcome> {
        let ids = unique_ids(ids, "policy id")?;
        let endpoint = self.kind.delete_endpoint();
        let mut outcome = WriteOutcome::default();
        for part in ids.chunks(GET_IDS) {
            let mut request = ApiRequest::new(endpoint).allow_partial();
            for id in part {
                request = request.query("ids", id.clone());
            }
            let response = self.client.execute(request).await?;
            merge_write(&endpoint, part, response, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Sets the precedence of a platform's policies. Falcon wants every
    /// policy of the platform except the platform default, once each.
    /// Retried like a read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty platform, no id or an empty or
    /// repeated id; [`Error::Api`] (400) when the list is not the
    /// platform's full set of policies; [`Error::Forbidden`] without the
    /// kind's write scope; any error of [`Client::execute`].
    pub async fn set_precedence(&self, precedence: &PolicyPrecedence) -> Result<()> {
        let platform = precedence.platform_name.trim();
        let ids = unique_ids(&precedence.ids, "policy id")?;
        if platform.is_empty() || ids.is_empty() {
            return Err(Error::InvalidInput(
                "a precedence needs a platform and its policy ids".into(),
            ));
        }
        if ids.len() != precedence.ids.len() {
            return Err(Error::InvalidInput(
                "a precedence lists each policy once".into(),
            ));
        }
        let endpoint = self.kind.precedence_endpoint();
        self.client
            .execute(
                ApiRequest::new(endpoint).json(json!({ "ids": ids, "platform_name": platform })),
            )
            .await?
            .error_for_errors(&endpoint)?;
        Ok(())
    }
}
