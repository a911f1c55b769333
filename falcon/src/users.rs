//! User management: console users, roles and role grants
//! (scope `usermgmt:read`, console "User management: Read").
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::fql::Fql;
//! use falcon::users::UserQuery;
//!
//! let users = client.users();
//! let filter = Fql::new().eq("status", "active").build()?;
//! let ids = users.query_ids(&UserQuery::filtered(filter)).await?;
//! let batch = users.get(&ids).await?;
//! for user in &batch.found {
//!     let grants = users.roles_of_user(&user.uuid).await?;
//!     println!("{} has {} roles", user.uid, grants.len());
//! }
//! # Ok(()) }
//! ```

use serde_json::Value;

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::paging::{Batch, collect_offset, lookup_by_ids, unique_ids};

/// The scope every call of this module needs.
pub const SCOPE_READ: &str = "usermgmt:read";

/// `GET /user-management/queries/users/v1` (queryUserV1): user UUIDs.
pub const QUERY_USERS: Endpoint =
    Endpoint::read(Method::Get, "/user-management/queries/users/v1", SCOPE_READ);
/// `POST /user-management/entities/users/GET/v1` (retrieveUsersGETV1): users
/// by UUID. A read, though sent as `POST`.
pub const GET_USERS: Endpoint = Endpoint::read(
    Method::Post,
    "/user-management/entities/users/GET/v1",
    SCOPE_READ,
);
/// `GET /user-management/queries/roles/v1` (queriesRolesV1): role ids.
pub const QUERY_ROLES: Endpoint =
    Endpoint::read(Method::Get, "/user-management/queries/roles/v1", SCOPE_READ);
/// `POST /user-management/entities/roles/GET/v2` (entitiesRolesGETV2): roles
/// by id. A read, though sent as `POST`.
pub const GET_ROLES: Endpoint = Endpoint::read(
    Method::Post,
    "/user-management/entities/roles/GET/v2",
    SCOPE_READ,
);
/// `GET /user-management/combined/user-roles/v2` (CombinedUserRolesV2): the
/// role grants of one user.
pub const USER_ROLES: Endpoint = Endpoint::read(
    Method::Get,
    "/user-management/combined/user-roles/v2",
    SCOPE_READ,
);

/// Page size of the user and user-role queries (the API maximum).
pub const PAGE_LIMIT: u32 = 500;
/// Ids per entity request (the API maximum for users and roles).
pub const IDS_PER_REQUEST: usize = 5000;

/// A Falcon console user.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct User {
    /// The user's UUID, the id every other call takes.
    pub uuid: String,
    /// The login name, usually an email address.
    pub uid: String,
    /// First name (empty when not reported).
    pub first_name: String,
    /// Last name (empty when not reported).
    pub last_name: String,
    /// Account status (`active`, `inactive`), when reported.
    pub status: Option<String>,
    /// RFC 3339 creation time, when reported.
    pub created_at: Option<String>,
    /// RFC 3339 time of the last login; `None` if never or not reported.
    pub last_login_at: Option<String>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

/// A role that can be granted to users.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Role {
    /// The role id, for example `falcon_administrator`.
    pub id: String,
    /// The name shown in the console.
    pub display_name: String,
    /// What the role allows.
    pub description: String,
    /// Whether the role applies across CIDs (Flight Control).
    pub is_global: bool,
    /// The whole object as the API returned it.
    pub raw: Value,
}

/// One role granted to one user.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoleGrant {
    /// The role id.
    pub role_id: String,
    /// The role's name.
    pub role_name: String,
    /// How the role was granted (`direct`, or through a user group), when
    /// reported.
    pub grant_type: Option<String>,
    /// RFC 3339 expiry of a temporary grant; `None` when permanent.
    pub expires_at: Option<String>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

/// Which users [`Users::query_ids`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// An FQL filter (see [`crate::fql`]); `None` for every user.
    pub filter: Option<String>,
    /// A sort such as `uid|asc`; `None` for the API's default order.
    pub sort: Option<String>,
}

impl UserQuery {
    /// Every user.
    pub fn all() -> Self {
        Self::default()
    }

    /// The users matching an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            sort: None,
        }
    }
}

/// User-management calls; get one with [`Client::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a Client,
}

impl Client {
    /// User-management calls (users, roles, role grants).
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }
}

impl Users<'_> {
    /// The UUIDs of every user matching `query`, paging 500 at a time until
    /// the reported total.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `usermgmt:read`; [`Error::Inconsistent`]
    /// when the pages do not add up to the reported total; any error of
    /// [`Client::execute`].
    pub async fn query_ids(&self, query: &UserQuery) -> Result<Vec<String>> {
        let base = ApiRequest::new(QUERY_USERS)
            .filter_and_sort(query.filter.as_deref(), query.sort.as_deref());
        let values = collect_offset(self.client, base, PAGE_LIMIT).await?;
        values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(decode_error(
                    &QUERY_USERS,
                    format!("expected a user uuid string, got {other}"),
                )),
            })
            .collect()
    }

    /// The users with these UUIDs, in the order given (duplicates removed);
    /// unknown UUIDs are returned in [`Batch::missing`]. Sends at most 5000
    /// UUIDs per request.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty UUID; [`Error::Forbidden`]
    /// without `usermgmt:read`; [`Error::Decode`] when a user has no `uuid`;
    /// any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, uuids: &[S]) -> Result<Batch<User>> {
        let ids = unique_ids(uuids, "user uuid")?;
        if ids.is_empty() {
            return Ok(Batch::default());
        }
        let raw = lookup_by_ids(
            self.client,
            &ApiRequest::new(GET_USERS),
            &ids,
            IDS_PER_REQUEST,
            "uuid",
        )
        .await?;
        raw.try_map(User::from_json)
    }

    /// Every user matching `query`, with details ([`Users::query_ids`] then
    /// [`Users::get`]). Users deleted between the two calls are left out.
    ///
    /// # Errors
    ///
    /// As [`Users::query_ids`] and [`Users::get`].
    pub async fn query(&self, query: &UserQuery) -> Result<Vec<User>> {
        let ids = self.query_ids(query).await?;
        Ok(self.get(&ids).await?.found)
    }

    /// Every role defined in the tenant, in the order the API lists their
    /// ids.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `usermgmt:read`; [`Error::Decode`] when a
    /// role has no `id`; any error of [`Client::execute`].
    pub async fn list_roles(&self) -> Result<Vec<Role>> {
        let response = self
            .client
            .execute(ApiRequest::new(QUERY_ROLES))
            .await?
            .error_for_errors(&QUERY_ROLES)?;
        let ids = unique_ids(&response.envelope.resource_strings(), "role id")?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw = lookup_by_ids(
            self.client,
            &ApiRequest::new(GET_ROLES),
            &ids,
            IDS_PER_REQUEST,
            "id",
        )
        .await?;
        if !raw.missing.is_empty() {
            tracing::warn!(endpoint = %GET_ROLES, missing = ?raw.missing, "falcon listed role ids it could not return");
        }
        raw.found.into_iter().map(Role::from_json).collect()
    }

    /// The roles granted to the user `uuid` (direct and through groups),
    /// paging 500 at a time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty UUID; [`Error::NotFound`] when
    /// Falcon does not know the user (HTTP 404); [`Error::Forbidden`] without
    /// `usermgmt:read`; any error of [`Client::execute`].
    pub async fn roles_of_user(&self, uuid: &str) -> Result<Vec<RoleGrant>> {
        let uuid = uuid.trim();
        if uuid.is_empty() {
            return Err(Error::InvalidInput("user uuid is empty".into()));
        }
        let base = ApiRequest::new(USER_ROLES).query("user_uuid", uuid);
        let values = match collect_offset(self.client, base, PAGE_LIMIT).await {
            Err(Error::Api {
                status: 404,
                endpoint,
                ..
            }) => {
                return Err(Error::NotFound {
                    endpoint,
                    ids: vec![uuid.to_owned()],
                });
            }
            other => other?,
        };
        values.into_iter().map(RoleGrant::from_json).collect()
    }
}

fn decode_error(endpoint: &Endpoint, reason: String) -> Error {
    Error::Decode {
        endpoint: endpoint.to_string(),
        status: 200,
        reason,
        trace_id: None,
    }
}

fn string(raw: &Value, key: &str) -> Option<String> {
    raw.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A non-empty string field.
fn present(raw: &Value, key: &str) -> Option<String> {
    string(raw, key).filter(|s| !s.is_empty())
}

impl User {
    fn from_json(raw: Value) -> Result<Self> {
        let uuid = present(&raw, "uuid")
            .ok_or_else(|| decode_error(&GET_USERS, "a user has no `uuid`".into()))?;
        Ok(Self {
            uuid,
            uid: string(&raw, "uid").unwrap_or_default(),
            first_name: string(&raw, "first_name").unwrap_or_default(),
            last_name: string(&raw, "last_name").unwrap_or_default(),
            status: present(&raw, "status"),
            created_at: present(&raw, "created_at"),
            last_login_at: present(&raw, "last_login_at"),
            raw,
        })
    }
}

impl Role {
    fn from_json(raw: Value) -> Result<Self> {
        let id = present(&raw, "id")
            .ok_or_else(|| decode_error(&GET_ROLES, "a role has no `id`".into()))?;
        Ok(Self {
            id,
            display_name: string(&raw, "display_name").unwrap_or_default(),
            description: string(&raw, "description").unwrap_or_default(),
            is_global: raw
                .get("is_global")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            raw,
        })
    }
}

impl RoleGrant {
    fn from_json(raw: Value) -> Result<Self> {
        let role_id = present(&raw, "role_id")
            .ok_or_else(|| decode_error(&USER_ROLES, "a role grant has no `role_id`".into()))?;
        Ok(Self {
            role_id,
            role_name: string(&raw, "role_name").unwrap_or_default(),
            grant_type: present(&raw, "grant_type"),
            expires_at: present(&raw, "expires_at"),
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    #[test]
    fn users_from_fixture_keep_raw_json() {
        let body = include_bytes!("../tests/fixtures/user-management-entities-users-get-v1.json");
        let env = Envelope::from_slice(body).unwrap();
        let users: Vec<User> = env
            .resource_list()
            .into_iter()
            .map(User::from_json)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(users.len(), 5);
        assert_eq!(users[0].uid, "user.one@example.com");
        assert_eq!(users[0].first_name, "Alex");
        assert_eq!(users[0].status, None);
        assert_eq!(
            users[0].last_login_at.as_deref(),
            Some("2023-12-25T14:57:52.218939Z")
        );
        assert_eq!(users[0].raw["cid"], "20879a8064904ecfbb62c118a6a19411");
    }

    #[test]
    fn models_require_their_id() {
        assert!(User::from_json(serde_json::json!({"uid": "x"})).is_err());
        assert!(Role::from_json(serde_json::json!({"display_name": "x"})).is_err());
        let g = RoleGrant::from_json(
            serde_json::json!({"role_id": "r", "role_name": "R", "expires_at": null}),
        )
        .unwrap();
        assert_eq!((g.role_id.as_str(), g.expires_at), ("r", None));
        let r = Role::from_json(serde_json::json!({"id": "r", "is_global": true})).unwrap();
        assert!(r.is_global);
    }

    #[test]
    fn endpoints_are_reads_with_the_usermgmt_scope() {
        for ep in [QUERY_USERS, GET_USERS, QUERY_ROLES, GET_ROLES, USER_ROLES] {
            assert!(ep.is_read(), "{ep}");
            assert_eq!(ep.scope, "usermgmt:read");
        }
        assert_eq!(
            GET_USERS.to_string(),
            "POST /user-management/entities/users/GET/v1"
        );
    }
}
