//! Host groups (`/devices/.../host-groups`, `host-group-members`,
//! `host-group-actions`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::hosts::{FIELDS as HOST_FIELDS, device_view, host_doc, wanted_fields};
use super::params::{Params, json_body};
use super::query::{
    Outcome, Window, action_parameters, entities, filter_of, paged, query_ids, select, sort_of,
    stamp, text,
};
use super::{Shared, scoped};
use crate::fql::Filter;
use crate::tenant::HostGroup;

const SERVICE: &str = "device-api";
const READ: &str = "host-group:read";
const WRITE: &str = "host-group:write";
const MAX_IDS: usize = 500;
const FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "group_type",
    "assignment_rule",
    "created_by",
    "created_timestamp",
    "modified_by",
    "modified_timestamp",
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/devices/queries/host-groups/v1", scoped(READ, get(query)))
        .route(
            "/devices/combined/host-groups/v1",
            scoped(READ, get(combined)),
        )
        .route(
            "/devices/entities/host-groups/v1",
            scoped(READ, get(by_ids))
                .merge(scoped(WRITE, post(create).patch(update).delete(delete))),
        )
        .route(
            "/devices/queries/host-group-members/v1",
            scoped(READ, get(member_ids)),
        )
        .route(
            "/devices/combined/host-group-members/v1",
            scoped(READ, get(members)),
        )
        .route(
            "/devices/entities/host-group-actions/v1",
            scoped(WRITE, post(action)),
        )
}

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

async fn query(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(&ctx, list(&s, &ctx, &Params::parse(q.0.as_deref()), false))
}

async fn combined(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(&ctx, list(&s, &ctx, &Params::parse(q.0.as_deref()), true))
}

async fn by_ids(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(
        &ctx,
        query_ids(&params, MAX_IDS).map(|ids| found(&s, &ctx, &ids)),
    )
}

async fn create(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => insert(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, outcome)
}

async fn update(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => change(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, outcome)
}

async fn delete(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(
        &ctx,
        query_ids(&params, MAX_IDS).map(|ids| remove(&s, &ctx, &ids)),
    )
}

async fn member_ids(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(
        &ctx,
        member_page(&s, &ctx, &Params::parse(q.0.as_deref()), false),
    )
}

async fn members(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(
        &ctx,
        member_page(&s, &ctx, &Params::parse(q.0.as_deref()), true),
    )
}

async fn action(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery, body: Body) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => membership(&s, &ctx, &params, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, outcome)
}

// ---- reads --------------------------------------------------------------------------

fn list(shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let window = Window::from_params(params, 100, 5000, false)?;
    let filter = filter_of(params.get("filter"), FIELDS)?;
    let sort = sort_of(params.get("sort"), FIELDS)?;
    let state = shared.read();
    let groups = &state.tenant.host_groups;
    let hits = select(groups, |_| true, group_view, filter.as_ref(), sort.as_ref());
    let items: Vec<Value> = hits
        .iter()
        .map(|i| {
            if full {
                group_view(&groups[*i])
            } else {
                json!(groups[*i].id)
            }
        })
        .collect();
    Ok(ctx.respond(StatusCode::OK, SERVICE, paged(window, &items)))
}

fn found(shared: &Shared, ctx: &Ctx, ids: &[String]) -> Response {
    let state = shared.read();
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        match state.groups.get(id) {
            Some(i) => out.push(group_view(&state.tenant.host_groups[i])),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "host group not found",
                id,
            )),
        }
    }
    entities(ctx, SERVICE, out, errors)
}

/// Members of a group: hosts listing it, plus for dynamic groups hosts its rule matches.
fn member_page(shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let window = Window::from_params(params, 100, 5000, false)?;
    let filter = filter_of(params.get("filter"), HOST_FIELDS)?;
    let sort = sort_of(params.get("sort"), HOST_FIELDS)?;
    let state = shared.read();
    let t = &state.tenant;
    let group_id = params.get("id");
    if let Some(id) = group_id.filter(|id| !state.groups.contains(id)) {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("host group {id} not found"),
        ));
    }
    let wanted = wanted_fields(filter.as_ref(), sort.as_ref());
    let doc = |h: &crate::tenant::Host| host_doc(t, shared.cid(), h, &wanted);
    let member = |h: &crate::tenant::Host| group_id.is_none_or(|g| h.groups.iter().any(|x| x == g));
    let hits = select(&t.hosts, member, doc, filter.as_ref(), sort.as_ref());
    let items: Vec<Value> = hits
        .iter()
        .map(|i| {
            if full {
                device_view(t, shared.cid(), &t.hosts[*i])
            } else {
                json!(t.hosts[*i].device_id)
            }
        })
        .collect();
    Ok(ctx.respond(StatusCode::OK, SERVICE, paged(window, &items)))
}

// ---- writes -------------------------------------------------------------------------

fn resources(body: &Value) -> Result<&Vec<Value>, Failure> {
    body.get("resources")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Failure::bad_request("resources in body is required"))
}

fn insert(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let mut state = shared.write();
    let mut created = Vec::new();
    for item in resources(body)? {
        let name = text(item, &["name"]).ok_or_else(|| Failure::bad_request("name is required"))?;
        let group_type = text(item, &["group_type"]).unwrap_or("static");
        if !matches!(group_type, "static" | "dynamic" | "staticByID") {
            return Err(Failure::bad_request(format!(
                "invalid group_type: {group_type}"
            )));
        }
        let rule = text(item, &["assignment_rule"]).unwrap_or_default();
        if !rule.is_empty() && group_type != "dynamic" {
            let message =
                format!("May not specify 'assignment_rule' if 'group_type' is '{group_type}'");
            return Err(Failure::bad_request(message));
        }
        if !rule.is_empty() {
            Filter::parse(rule)
                .map_err(|e| Failure::bad_request(format!("invalid assignment_rule: {e}")))?;
        }
        if state.tenant.host_groups.iter().any(|g| g.name == name) {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                format!("host group {name} already exists"),
            ));
        }
        let now = Timestamp::now();
        let group = HostGroup {
            id: state.fresh_hex(32),
            name: name.to_owned(),
            description: text(item, &["description"]).unwrap_or_default().to_owned(),
            group_type: group_type.to_owned(),
            assignment_rule: rule.to_owned(),
            created_by: "api-client".to_owned(),
            created_timestamp: now,
            modified_by: "api-client".to_owned(),
            modified_timestamp: now,
        };
        created.push(group_view(&group));
        state.tenant.host_groups.push(group);
    }
    state.reindex_all();
    Ok(ctx.respond(
        StatusCode::CREATED,
        SERVICE,
        Payload::resources(Value::Array(created)),
    ))
}

fn change(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let mut state = shared.write();
    let mut changed = Vec::new();
    for item in resources(body)? {
        let id = text(item, &["id"]).ok_or_else(|| Failure::bad_request("id is required"))?;
        let i = state
            .groups
            .get(id)
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "host group not found"))?;
        let group = &mut state.tenant.host_groups[i];
        for (field, slot) in [
            ("name", &mut group.name),
            ("description", &mut group.description),
            ("assignment_rule", &mut group.assignment_rule),
        ] {
            if let Some(v) = item.get(field).and_then(Value::as_str) {
                *slot = v.to_owned();
            }
        }
        group.modified_timestamp = Timestamp::now();
        changed.push(group_view(group));
    }
    Ok(ctx.respond(
        StatusCode::OK,
        SERVICE,
        Payload::resources(Value::Array(changed)),
    ))
}

fn remove(shared: &Shared, ctx: &Ctx, ids: &[String]) -> Response {
    let mut state = shared.write();
    let (mut gone, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        if state.groups.contains(id) {
            gone.push(json!(id));
        } else {
            errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "host group not found",
                id,
            ));
        }
    }
    let t = &mut state.tenant;
    t.host_groups.retain(|g| !ids.contains(&g.id));
    for host in &mut t.hosts {
        host.groups.retain(|g| !ids.contains(g));
    }
    for policy in &mut t.policies {
        policy.groups.retain(|g| !ids.contains(g));
    }
    state.reindex_all();
    let affected = gone.len();
    let payload = Payload {
        resources: Some(Value::Array(gone)),
        errors,
        resources_affected: Some(affected),
        ..Payload::default()
    };
    ctx.respond(StatusCode::OK, SERVICE, payload)
}

/// `add-hosts` / `remove-hosts` with a `filter` parameter naming the hosts.
fn membership(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let add = match params.required("action_name")? {
        "add-hosts" => true,
        "remove-hosts" => false,
        other => {
            return Err(Failure::bad_request(format!(
                "invalid action_name: {other}"
            )));
        }
    };
    let group_ids = super::query::strings(body, "ids");
    let filter_src = action_parameters(body)
        .into_iter()
        .find(|(name, _)| name == "filter")
        .map(|(_, v)| v)
        .ok_or_else(|| Failure::bad_request("action_parameters filter is required"))?;
    let filter = filter_of(Some(&filter_src), HOST_FIELDS)?
        .ok_or_else(|| Failure::bad_request("action_parameters filter is required"))?;
    let mut state = shared.write();
    let Some(group_id) = group_ids
        .first()
        .filter(|id| state.groups.contains(id))
        .cloned()
    else {
        return Err(Failure::new(StatusCode::NOT_FOUND, "host group not found"));
    };
    let now = Timestamp::now();
    let t = &state.tenant;
    let wanted = wanted_fields(Some(&filter), None);
    let hits: Vec<usize> = (0..t.hosts.len())
        .filter(|i| filter.matches(&host_doc(t, shared.cid(), &t.hosts[*i], &wanted), now))
        .collect();
    for i in hits {
        let groups = &mut state.tenant.hosts[i].groups;
        groups.retain(|g| *g != group_id);
        if add {
            groups.push(group_id.clone());
        }
    }
    let view = state
        .groups
        .get(&group_id)
        .map(|i| group_view(&state.tenant.host_groups[i]));
    Ok(ctx.respond(StatusCode::OK, SERVICE, Payload::resources(json!([view]))))
}

/// A host group as the API serves it.
pub(super) fn group_view(g: &HostGroup) -> Value {
    json!({
        "id": g.id,
        "group_type": g.group_type,
        "name": g.name,
        "description": g.description,
        "assignment_rule": g.assignment_rule,
        "created_by": g.created_by,
        "created_timestamp": stamp(g.created_timestamp),
        "modified_by": g.modified_by,
        "modified_timestamp": stamp(g.modified_timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::{Tenant, TenantSpec};

    #[test]
    fn group_views_carry_the_model_fields() {
        let tenant = Tenant::generate(&TenantSpec::demo());
        let view = group_view(&tenant.host_groups[0]);
        for key in [
            "id",
            "name",
            "description",
            "group_type",
            "created_by",
            "modified_timestamp",
        ] {
            assert!(view.get(key).is_some(), "{key}");
        }
        assert!(tenant.host_groups.iter().any(|g| g.name.contains('\'')));
    }

    #[test]
    fn resources_must_be_a_non_empty_list() {
        assert!(resources(&json!({"resources": []})).is_err());
        assert!(resources(&json!({})).is_err());
        assert_eq!(
            resources(&json!({"resources": [{}]})).map(Vec::len).ok(),
            Some(1)
        );
    }
}
