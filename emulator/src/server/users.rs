//! User management (`/user-management/...`): users, roles and role grants.
//!
//! Filter and sort fields are the ones Falcon's API documents per endpoint; others
//! are rejected with 400, as the real service does, so clients find out here rather
//! than in production. Where Falcon's exact message is unknown, messages follow the
//! go-openapi validator its services use.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::{ApiError, Ctx, Failure, Paging, Payload};
use super::params::{Params, dedup, ids_body, json_body};
use super::{Shared, scoped};
use crate::fql::{Filter, Sort};
use crate::tenant::{Role, RoleGrant, Tenant, User};

const SERVICE: &str = "cs.flightcontrolapi";
const READ: &str = "usermgmt:read";
const WRITE: &str = "usermgmt:write";
/// Ids per entity request (API text of retrieveUsersGETV1 and entitiesRolesGETV2).
const MAX_IDS: usize = 5000;
const MAX_LIMIT: i64 = 500;

const USER_FILTER_FIELDS: &[&str] = &[
    "assigned_cids",
    "cid",
    "direct_assigned_cids",
    "factors",
    "first_name",
    "has_temporary_roles",
    "last_name",
    "name",
    "status",
    "temporarily_assigned_cids",
    "uid",
    "uuid",
];
const USER_SORT_FIELDS: &[&str] = &[
    "cid_name",
    "created_at",
    "first_name",
    "has_temporary_roles",
    "last_login_at",
    "last_name",
    "name",
    "status",
    "temporarily_assigned_cids",
    "uid",
];
const GRANT_FILTER_FIELDS: &[&str] = &["expires_at", "role_id", "role_name"];
const GRANT_SORT_FIELDS: &[&str] = &["cid", "expires_at", "role_name", "type", "user_uuid"];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/user-management/queries/users/v1",
            scoped(READ, get(query_users)),
        )
        .route(
            "/user-management/entities/users/GET/v1",
            scoped(READ, post(get_users)),
        )
        .route(
            "/user-management/entities/users/v1",
            scoped(
                WRITE,
                post(create_user).patch(update_user).delete(delete_user),
            ),
        )
        .route(
            "/user-management/queries/roles/v1",
            scoped(READ, get(query_roles)),
        )
        .route(
            "/user-management/entities/roles/v1",
            scoped(READ, get(get_roles)),
        )
        .route(
            "/user-management/entities/roles/GET/v2",
            scoped(READ, post(post_get_roles)),
        )
        .route(
            "/user-management/combined/user-roles/v2",
            scoped(READ, get(user_roles)),
        )
        .route(
            "/user-management/entities/user-role-actions/v1",
            scoped(WRITE, post(user_role_action)),
        )
}

type Outcome = Result<Response, Failure>;

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

// ---- handlers -----------------------------------------------------------------------

/// `GET /user-management/queries/users/v1` (queryUserV1).
async fn query_users(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    finish(&ctx, users_page(&shared, &ctx, &params))
}

/// `POST /user-management/entities/users/GET/v1` (retrieveUsersGETV1).
async fn get_users(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    body: Body,
) -> Response {
    let outcome = match ids_body(body, MAX_IDS).await {
        Ok(ids) => Ok(users_by_id(&shared, &ctx, dedup(ids))),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

/// `POST /user-management/entities/users/v1` (createUserV1).
async fn create_user(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let params = Params::parse(query.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => create(&shared, &ctx, &params, &json),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

/// `PATCH /user-management/entities/users/v1` (updateUserV1).
async fn update_user(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let params = Params::parse(query.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => update(&shared, &ctx, &params, &json),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

/// `DELETE /user-management/entities/users/v1` (deleteUserV1).
async fn delete_user(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    finish(&ctx, delete(&shared, &ctx, &params))
}

/// `GET /user-management/queries/roles/v1` (queriesRolesV1).
async fn query_roles(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    finish(&ctx, role_ids(&shared, &ctx, &params))
}

/// `GET /user-management/entities/roles/v1?ids=..` (entitiesRolesV1).
async fn get_roles(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let outcome = check_cid(&shared, &params).and_then(|()| {
        let ids = params.all("ids");
        if ids.is_empty() {
            return Err(Failure::bad_request("ids in query is required"));
        }
        Ok(roles_by_id(&shared, &ctx, dedup(ids)))
    });
    finish(&ctx, outcome)
}

/// `POST /user-management/entities/roles/GET/v2` (entitiesRolesGETV2).
async fn post_get_roles(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    body: Body,
) -> Response {
    let outcome = match ids_body(body, MAX_IDS).await {
        Ok(ids) => Ok(roles_by_id(&shared, &ctx, dedup(ids))),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

/// `GET /user-management/combined/user-roles/v2` (CombinedUserRolesV2).
async fn user_roles(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    finish(&ctx, grants_page(&shared, &ctx, &params))
}

/// `POST /user-management/entities/user-role-actions/v1` (userRolesActionV1).
async fn user_role_action(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    body: Body,
) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => role_action(&shared, &ctx, &json),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

// ---- reads --------------------------------------------------------------------------

fn users_page(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let page = Page::from_params(params)?;
    let filter = filter_param(params, USER_FILTER_FIELDS)?;
    let sort = sort_param(params, "uid|asc", USER_SORT_FIELDS)?;

    // Paging walks one selection: filtering and sorting 100,000 users for
    // each page of 500 would cost seconds a page.
    let key = format!(
        "users?filter={}&sort={}",
        params.get("filter").unwrap_or_default(),
        params.get("sort").unwrap_or_default()
    );
    let ids = shared.selection(key, |state| {
        let temporary = users_with_temporary_roles(&state.tenant);
        let docs = state.tenant.users.iter().map(|user| {
            let doc = user_doc(shared.cid(), user, temporary.contains(user.uuid.as_str()));
            (doc, Value::String(user.uuid.clone()))
        });
        select(docs, filter.as_ref(), &sort)
    });
    Ok(ctx.respond(StatusCode::OK, SERVICE, page.payload(&ids)))
}

fn users_by_id(shared: &Shared, ctx: &Ctx, ids: Vec<String>) -> Response {
    let state = shared.read();
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        match state.user(id) {
            Some(user) => found.push(user_view(shared.cid(), user)),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "user not found",
                id,
            )),
        }
    }
    entities(ctx, found, errors)
}

/// Role ids: all of the CID's roles, or those a user holds when `user_uuid` is given
/// (an unknown user holds none).
fn role_ids(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    check_cid(shared, params)?;
    let action = params.get("action").unwrap_or("grant");
    if !matches!(action, "grant" | "revoke") {
        return Err(Failure::bad_request("action must be one of: grant, revoke"));
    }
    let state = shared.read();
    let ids: Vec<Value> = match params.get("user_uuid") {
        None => state
            .tenant
            .roles
            .iter()
            .map(|r| Value::String(r.id.clone()))
            .collect(),
        Some(uuid) => state
            .grants_of(uuid)
            .map(|g| Value::String(g.role_id.clone()))
            .collect(),
    };
    Ok(ctx.respond(
        StatusCode::OK,
        SERVICE,
        Payload::resources(Value::Array(ids)),
    ))
}

fn roles_by_id(shared: &Shared, ctx: &Ctx, ids: Vec<String>) -> Response {
    let state = shared.read();
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        match state.tenant.role(id) {
            Some(role) => found.push(role_view(shared.cid(), role)),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "role not found",
                id,
            )),
        }
    }
    entities(ctx, found, errors)
}

fn grants_page(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let uuid = params.required("user_uuid")?;
    check_cid(shared, params)?;
    let direct_only = params.bool("direct_only", false)?;
    let page = Page::from_params(params)?;
    let filter = filter_param(params, GRANT_FILTER_FIELDS)?;
    let sort = sort_param(params, "role_name|asc", GRANT_SORT_FIELDS)?;

    let state = shared.read();
    let tenant = &state.tenant;
    let grants = state
        .grants_of(uuid)
        .filter(|g| !direct_only || g.grant_type == "direct")
        .map(|g| (grant_doc(tenant, g), grant_view(tenant, g)));
    let views = select(grants, filter.as_ref(), &sort);
    Ok(ctx.respond(StatusCode::OK, SERVICE, page.payload(&views)))
}

/// Found entities in request order plus a 404 per unknown id; HTTP 404 only when
/// ids were asked for and none was found.
fn entities(ctx: &Ctx, found: Vec<Value>, errors: Vec<ApiError>) -> Response {
    let status = if found.is_empty() && !errors.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let payload = Payload {
        resources: Some(Value::Array(found)),
        errors,
        ..Payload::default()
    };
    ctx.respond(status, SERVICE, payload)
}

// ---- writes -------------------------------------------------------------------------

fn create(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let validate_only = params.bool("validate_only", false)?;
    let uid =
        text(body, &["uid"]).ok_or_else(|| Failure::bad_request("uid in body is required"))?;
    if !looks_like_email(uid) {
        return Err(Failure::bad_request("uid must be an email address"));
    }
    if let Some(cid) = text(body, &["cid"]) {
        check_cid_value(shared, cid)?;
    }
    // The deprecated /users endpoint took camelCase names; accept both spellings.
    let first_name = text(body, &["first_name", "firstName"])
        .unwrap_or_default()
        .to_owned();
    let last_name = text(body, &["last_name", "lastName"])
        .unwrap_or_default()
        .to_owned();

    let mut state = shared.write();
    if state
        .tenant
        .users
        .iter()
        .any(|u| u.uid.eq_ignore_ascii_case(uid))
    {
        let message = format!("user with uid {uid} already exists");
        return Err(Failure::new(StatusCode::CONFLICT, message));
    }
    if validate_only {
        return Ok(ctx.respond(StatusCode::OK, SERVICE, Payload::resources(json!([]))));
    }
    let user = User {
        uuid: state.fresh_uuid(),
        uid: uid.to_owned(),
        first_name,
        last_name,
        status: "active".to_owned(),
        created_at: Timestamp::now(),
        last_login_at: None,
    };
    let view = user_view(shared.cid(), &user);
    state.add_user(user);
    Ok(ctx.respond(
        StatusCode::CREATED,
        SERVICE,
        Payload::resources(json!([view])),
    ))
}

fn update(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let uuid = params.required("user_uuid")?;
    let first = text(body, &["first_name", "firstName"]);
    let last = text(body, &["last_name", "lastName"]);
    let (Some(first), Some(last)) = (first, last) else {
        return Err(Failure::bad_request(
            "first_name and last_name are both required",
        ));
    };
    let mut state = shared.write();
    let user = state.user_mut(uuid).ok_or_else(user_not_found)?;
    user.first_name = first.to_owned();
    user.last_name = last.to_owned();
    let view = user_view(shared.cid(), user);
    Ok(ctx.respond(StatusCode::OK, SERVICE, Payload::resources(json!([view]))))
}

fn delete(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let uuid = params.required("user_uuid")?;
    if !shared.write().remove_user(uuid) {
        return Err(user_not_found());
    }
    let payload = Payload {
        resources_affected: Some(1),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, SERVICE, payload))
}

fn role_action(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let action = RoleAction::from_body(body)?;
    check_cid_value(shared, &action.cid)?;

    let mut state = shared.write();
    if state.user(&action.uuid).is_none() {
        return Err(user_not_found());
    }
    if let Some(unknown) = action
        .role_ids
        .iter()
        .find(|id| state.tenant.role(id).is_none())
    {
        return Err(Failure::bad_request(format!("invalid role id: {unknown}")));
    }
    let affected = match action.grant {
        true => grant(&mut state.tenant, &action),
        false => revoke(&mut state.tenant, &action),
    };
    if affected > 0 {
        state.reindex_grants();
    }
    let payload = Payload {
        resources: Some(json!([])),
        resources_affected: Some(affected),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, SERVICE, payload))
}

/// A validated userRolesActionV1 body.
struct RoleAction {
    uuid: String,
    cid: String,
    grant: bool,
    role_ids: Vec<String>,
    expires_at: Option<Timestamp>,
}

impl RoleAction {
    fn from_body(body: &Value) -> Result<Self, Failure> {
        let required = |name: &str| {
            text(body, &[name])
                .map(str::to_owned)
                .ok_or_else(|| Failure::bad_request(format!("{name} in body is required")))
        };
        let (uuid, cid, action) = (required("uuid")?, required("cid")?, required("action")?);
        let grant = match action.as_str() {
            "grant" => true,
            "revoke" => false,
            _ => return Err(Failure::bad_request("action must be one of: grant, revoke")),
        };
        let role_ids: Vec<String> = body["role_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if role_ids.is_empty() {
            return Err(Failure::bad_request("role_ids in body is required"));
        }
        let expires_at = expiry(body)?;
        Ok(Self {
            uuid,
            cid,
            grant,
            role_ids,
            expires_at,
        })
    }
}

fn expiry(body: &Value) -> Result<Option<Timestamp>, Failure> {
    let Some(raw) = text(body, &["expires_at"]) else {
        return Ok(None);
    };
    let at: Timestamp = raw
        .parse()
        .map_err(|_| Failure::bad_request("expires_at must be an RFC 3339 timestamp"))?;
    if at <= Timestamp::now() {
        return Err(Failure::bad_request("expires_at must be in the future"));
    }
    Ok(Some(at))
}

/// Adds missing grants and updates the expiry of held ones; returns how many changed.
fn grant(tenant: &mut Tenant, action: &RoleAction) -> usize {
    let mut changed = 0;
    for role_id in &action.role_ids {
        let held = tenant
            .grants
            .iter_mut()
            .find(|g| g.user_uuid == action.uuid && &g.role_id == role_id);
        match held {
            Some(g) if g.expires_at == action.expires_at => {}
            Some(g) => {
                g.expires_at = action.expires_at;
                changed += 1;
            }
            None => {
                tenant.grants.push(RoleGrant {
                    user_uuid: action.uuid.clone(),
                    role_id: role_id.clone(),
                    grant_type: "direct".to_owned(),
                    expires_at: action.expires_at,
                });
                changed += 1;
            }
        }
    }
    changed
}

fn revoke(tenant: &mut Tenant, action: &RoleAction) -> usize {
    let before = tenant.grants.len();
    tenant
        .grants
        .retain(|g| !(g.user_uuid == action.uuid && action.role_ids.contains(&g.role_id)));
    before - tenant.grants.len()
}

// ---- shared pieces ------------------------------------------------------------------

/// Offset paging with Falcon's 1–500 limit.
struct Page {
    offset: usize,
    limit: usize,
}

impl Page {
    fn from_params(params: &Params) -> Result<Self, Failure> {
        let offset = params.int("offset", 0, 0, i64::from(u32::MAX))?;
        let limit = params.int("limit", 100, 1, MAX_LIMIT)?;
        // Both are range-checked above, so they fit in usize.
        Ok(Self {
            offset: offset as usize,
            limit: limit as usize,
        })
    }

    fn payload(&self, items: &[Value]) -> Payload {
        let total = items.len();
        let page: Vec<Value> = items
            .iter()
            .skip(self.offset)
            .take(self.limit)
            .cloned()
            .collect();
        let pagination = Paging {
            offset: self.offset,
            limit: self.limit,
            total,
        };
        Payload {
            resources: Some(Value::Array(page)),
            pagination: Some(pagination),
            ..Payload::default()
        }
    }
}

fn filter_param(params: &Params, allowed: &[&str]) -> Result<Option<Filter>, Failure> {
    let Some(src) = params.get("filter") else {
        return Ok(None);
    };
    let filter =
        Filter::parse(src).map_err(|e| Failure::bad_request(format!("invalid filter: {e}")))?;
    if let Some(field) = filter.fields().into_iter().find(|f| !allowed.contains(f)) {
        let supported = allowed.join(", ");
        return Err(Failure::bad_request(format!(
            "invalid filter field: {field}; supported fields: {supported}"
        )));
    }
    Ok(Some(filter))
}

fn sort_param(params: &Params, default: &str, allowed: &[&str]) -> Result<Sort, Failure> {
    let src = params.get("sort").unwrap_or(default);
    let sort = Sort::parse(src).map_err(|e| Failure::bad_request(format!("invalid sort: {e}")))?;
    if !allowed.contains(&sort.field()) {
        let supported = allowed.join(", ");
        return Err(Failure::bad_request(format!(
            "invalid sort field: {}; supported fields: {supported}",
            sort.field()
        )));
    }
    Ok(sort)
}

/// Keeps the items whose document matches, ordered by the sort (stable, so ties keep
/// the tenant's order).
fn select<T>(
    items: impl Iterator<Item = (Value, T)>,
    filter: Option<&Filter>,
    sort: &Sort,
) -> Vec<T> {
    let now = Timestamp::now();
    let mut kept: Vec<(Value, T)> = items
        .filter(|(doc, _)| filter.is_none_or(|f| f.matches(doc, now)))
        .collect();
    kept.sort_by(|a, b| sort.compare(&a.0, &b.0));
    kept.into_iter().map(|(_, item)| item).collect()
}

fn check_cid(shared: &Shared, params: &Params) -> Result<(), Failure> {
    params
        .get("cid")
        .map_or(Ok(()), |cid| check_cid_value(shared, cid))
}

/// Only the tenant's own CID is reachable; child CIDs of an MSSP are not emulated.
fn check_cid_value(shared: &Shared, cid: &str) -> Result<(), Failure> {
    let bare = cid
        .split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if bare == shared.cid() {
        return Ok(());
    }
    Err(Failure::new(
        StatusCode::FORBIDDEN,
        format!("access denied for cid {cid}"),
    ))
}

fn user_not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "user not found")
}

/// The first of `names` that is a non-empty string in `body`.
fn text<'a>(body: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| body.get(name)?.as_str().filter(|s| !s.trim().is_empty()))
}

fn looks_like_email(uid: &str) -> bool {
    let Some((local, domain)) = uid.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !uid.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

fn users_with_temporary_roles(tenant: &Tenant) -> HashSet<&str> {
    tenant
        .grants
        .iter()
        .filter(|g| g.expires_at.is_some())
        .map(|g| g.user_uuid.as_str())
        .collect()
}

fn stamp(at: Timestamp) -> Value {
    Value::String(at.to_string())
}

/// A user as the entity endpoint returns it (`domain.User`). `last_login_at` is left
/// out for users who never logged in rather than sent as a zero date.
fn user_view(cid: &str, user: &User) -> Value {
    let mut view = json!({
        "uuid": user.uuid,
        "cid": cid,
        "uid": user.uid,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "status": user.status,
        "created_at": stamp(user.created_at),
    });
    if let Some(at) = user.last_login_at {
        view["last_login_at"] = stamp(at);
    }
    view
}

/// What user filters and sorts see: the entity plus the derived fields the query
/// endpoint documents.
fn user_doc(cid: &str, user: &User, temporary: bool) -> Value {
    let mut doc = user_view(cid, user);
    let cids = json!([cid]);
    doc["name"] = json!(format!("{} {}", user.first_name, user.last_name));
    doc["factors"] = json!([]);
    doc["assigned_cids"] = cids.clone();
    doc["direct_assigned_cids"] = cids.clone();
    doc["temporarily_assigned_cids"] = if temporary { cids } else { json!([]) };
    doc["has_temporary_roles"] = json!(temporary);
    doc
}

fn role_view(cid: &str, role: &Role) -> Value {
    json!({
        "id": role.id,
        "display_name": role.display_name,
        "description": role.description,
        "is_global": role.is_global,
        "cid": cid,
        "type": role.role_type,
    })
}

fn grant_view(tenant: &Tenant, grant: &RoleGrant) -> Value {
    let role_name = tenant
        .role(&grant.role_id)
        .map_or(grant.role_id.as_str(), |r| &r.display_name);
    let mut view = json!({
        "uuid": grant.user_uuid,
        "cid": tenant.cid,
        "role_id": grant.role_id,
        "role_name": role_name,
        "grant_type": grant.grant_type,
    });
    if let Some(at) = grant.expires_at {
        view["expires_at"] = stamp(at);
    }
    view
}

/// A grant for filters and sorts: the view plus the sort enum's names for the
/// grant type and the user.
fn grant_doc(tenant: &Tenant, grant: &RoleGrant) -> Value {
    let mut doc = grant_view(tenant, grant);
    doc["type"] = json!(grant.grant_type);
    doc["user_uuid"] = json!(grant.user_uuid);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert!(looks_like_email("sean.obrien@example.com"));
        assert!(looks_like_email("o'brien@example.com"));
        for bad in [
            "",
            "x",
            "@example.com",
            "a@b",
            "a@.com",
            "a@b.",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn page_slices_and_counts() {
        let page = Page {
            offset: 2,
            limit: 2,
        };
        let payload = page.payload(&(0..5).map(|i| json!(i)).collect::<Vec<_>>());
        assert_eq!(payload.resources, Some(json!([2, 3])));
        assert_eq!(payload.pagination.map(|p| p.total), Some(5));
        let past_end = Page {
            offset: 9,
            limit: 2,
        }
        .payload(&[json!(1)]);
        assert_eq!(past_end.resources, Some(json!([])));
    }

    #[test]
    fn select_filters_then_sorts_stably() {
        let items = [("b", 1), ("a", 2), ("b", 3)]
            .map(|(name, n)| (json!({"name": name, "n": n}), n))
            .into_iter();
        let filter = Filter::parse("n:<3,name:'b'").expect("valid filter");
        let sort = Sort::parse("name|asc").expect("valid sort");
        assert_eq!(select(items, Some(&filter), &sort), [2, 1, 3]);
    }

    #[test]
    fn user_docs_carry_derived_fields() {
        let user = User {
            uuid: "u".into(),
            uid: "a@b.c".into(),
            first_name: "Zoë".into(),
            last_name: "O'Brien".into(),
            status: "active".into(),
            created_at: Timestamp::UNIX_EPOCH,
            last_login_at: None,
        };
        let doc = user_doc("cid", &user, true);
        assert_eq!(doc["name"], "Zoë O'Brien");
        assert_eq!(doc["temporarily_assigned_cids"], json!(["cid"]));
        assert!(doc.get("last_login_at").is_none());
        let filter = Filter::parse("name:~'zoë o\\'b'+has_temporary_roles:true").expect("valid");
        assert!(filter.matches(&doc, Timestamp::now()));
    }
}
