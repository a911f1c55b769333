//! Prevention, response and sensor-update policies (`/policy/...`), sensor-update
//! builds and sensor installers (`/sensors/...`).
//!
//! The three policy kinds share their shape, so one set of handlers serves them,
//! told apart by the [`Kind`] the route was built with.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Extension, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::groups::group_view;
use super::hosts::{FIELDS as HOST_FIELDS, device_view, host_doc, wanted_fields};
use super::params::{Params, json_body};
use super::query::{
    Outcome, Window, action_parameters, entities, filter_of, paged, query_ids, select, sort_of,
    stamp, strings, text,
};
use super::state::TenantState;
use super::{Shared, scoped};
use crate::tenant::{Host, Installer, Policy};

const SERVICE: &str = "device-api";
const MAX_IDS: usize = 500;
const FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "platform_name",
    "enabled",
    "created_by",
    "created_timestamp",
    "modified_by",
    "modified_timestamp",
    "precedence",
    "groups",
];
const INSTALLER_FIELDS: &[&str] = &[
    "sha256",
    "name",
    "description",
    "platform",
    "os",
    "os_version",
    "version",
    "file_size",
    "file_type",
    "release_date",
];

/// One policy kind: its name in paths and tenant data, and its scope area.
#[derive(Clone, Copy, Debug)]
struct Kind {
    kind: &'static str,
    area: &'static str,
}

const KINDS: [Kind; 3] = [
    Kind {
        kind: "prevention",
        area: "prevention-policies",
    },
    Kind {
        kind: "response",
        area: "response-policies",
    },
    Kind {
        kind: "sensor-update",
        area: "sensor-update-policies",
    },
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for k in KINDS {
        router = kind_routes(router, k);
    }
    let installers = "sensor-installers:read";
    for v in ["v1", "v2", "v3"] {
        router = router
            .route(
                &format!("/sensors/queries/installers/{v}"),
                scoped(installers, get(installer_ids)),
            )
            .route(
                &format!("/sensors/combined/installers/{v}"),
                scoped(installers, get(installers_combined)),
            )
            .route(
                &format!("/sensors/entities/download-installer/{v}"),
                scoped(installers, get(download)),
            )
            .route(
                &format!("/sensors/entities/installers/{v}"),
                scoped(installers, get(installers_by_id)),
            );
    }
    router
        .route(
            "/sensors/queries/installers/ccid/v1",
            scoped(installers, get(ccid)),
        )
        .route(
            "/policy/combined/sensor-update-builds/v1",
            scoped("sensor-update-policies:read", get(builds)),
        )
}

fn kind_routes(router: Router<Arc<Shared>>, k: Kind) -> Router<Arc<Shared>> {
    let (read, write) = (scope(k.area, "read"), scope(k.area, "write"));
    let base = k.kind;
    let entity_versions: &[&str] = if base == "sensor-update" {
        &["v1", "v2"]
    } else {
        &["v1"]
    };
    let mut router = router
        .route(
            &format!("/policy/queries/{base}/v1"),
            scoped(read, get(move |s, c, q| ids(k, s, c, q))),
        )
        .route(
            &format!("/policy/queries/{base}-members/v1"),
            scoped(read, get(move |s, c, q| members(k, s, c, q, false))),
        )
        .route(
            &format!("/policy/combined/{base}-members/v1"),
            scoped(read, get(move |s, c, q| members(k, s, c, q, true))),
        )
        .route(
            &format!("/policy/entities/{base}-actions/v1"),
            scoped(write, post(move |s, c, q, b| action(k, s, c, q, b))),
        )
        .route(
            &format!("/policy/entities/{base}-precedence/v1"),
            scoped(write, post(move |s, c, b| precedence(k, s, c, b))),
        );
    for v in entity_versions {
        router = router
            .route(
                &format!("/policy/combined/{base}/{v}"),
                scoped(read, get(move |s, c, q| combined(k, s, c, q))),
            )
            .route(
                &format!("/policy/entities/{base}/{v}"),
                entity_routes(k, read, write),
            );
    }
    router
}

fn entity_routes(k: Kind, read: &'static str, write: &'static str) -> MethodRouter<Arc<Shared>> {
    scoped(read, get(move |s, c, q| by_ids(k, s, c, q))).merge(scoped(
        write,
        post(move |s, c, b| create(k, s, c, b))
            .patch(move |s, c, b| update(k, s, c, b))
            .merge(delete(move |s, c, q| remove(k, s, c, q))),
    ))
}

/// `<area>:<access>` with a static lifetime: the scope strings are a fixed set.
fn scope(area: &'static str, access: &str) -> &'static str {
    super::auth::SCOPE_STRINGS
        .iter()
        .find(|s| s.strip_prefix(area).and_then(|r| r.strip_prefix(':')) == Some(access))
        .copied()
        .unwrap_or("unknown:scope")
}

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

type S = State<Arc<Shared>>;
type C = Extension<Ctx>;
type Q = RawQuery;

async fn ids(k: Kind, s: S, c: C, q: Q) -> Response {
    finish(&c, list(k, &s, &c, &Params::parse(q.0.as_deref()), false))
}

async fn combined(k: Kind, s: S, c: C, q: Q) -> Response {
    finish(&c, list(k, &s, &c, &Params::parse(q.0.as_deref()), true))
}

async fn by_ids(k: Kind, s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(
        &c,
        query_ids(&params, MAX_IDS).map(|ids| found(k, &s, &c, &ids)),
    )
}

async fn create(k: Kind, s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => insert(k, &s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

async fn update(k: Kind, s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => change(k, &s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

async fn remove(k: Kind, s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(
        &c,
        query_ids(&params, MAX_IDS).and_then(|ids| drop_policies(k, &s, &c, &ids)),
    )
}

async fn members(k: Kind, s: S, c: C, q: Q, full: bool) -> Response {
    finish(
        &c,
        member_page(k, &s, &c, &Params::parse(q.0.as_deref()), full),
    )
}

async fn action(k: Kind, s: S, c: C, q: Q, body: Body) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => perform(k, &s, &c, &params, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

async fn precedence(k: Kind, s: S, c: C, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => reorder(k, &s, &c, &json),
        Err(f) => Err(f),
    };
    finish(&c, outcome)
}

// ---- policies -----------------------------------------------------------------------

fn list(k: Kind, shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let window = Window::from_params(params, 100, 5000, false)?;
    let filter = filter_of(params.get("filter"), FIELDS)?;
    let sort = sort_of(params.get("sort"), FIELDS)?;
    let state = shared.read();
    let all = &state.tenant.policies;
    let doc = |p: &Policy| policy_view(&state, shared.cid(), p);
    let mut hits = select(
        all,
        |p| p.kind == k.kind,
        doc,
        filter.as_ref(),
        sort.as_ref(),
    );
    if sort.is_none() {
        hits.sort_by_key(|i| (all[*i].platform_name.clone(), all[*i].precedence));
    }
    let items: Vec<Value> = hits
        .iter()
        .map(|i| {
            if full {
                policy_view(&state, shared.cid(), &all[*i])
            } else {
                json!(all[*i].id)
            }
        })
        .collect();
    Ok(ctx.respond(StatusCode::OK, SERVICE, paged(window, &items)))
}

fn lookup(k: Kind, state: &TenantState, id: &str) -> Option<usize> {
    state
        .policies
        .get(id)
        .filter(|i| state.tenant.policies[*i].kind == k.kind)
}

fn found(k: Kind, shared: &Shared, ctx: &Ctx, ids: &[String]) -> Response {
    let state = shared.read();
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        match lookup(k, &state, id) {
            Some(i) => out.push(policy_view(&state, shared.cid(), &state.tenant.policies[i])),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "policy not found",
                id,
            )),
        }
    }
    entities(ctx, SERVICE, out, errors)
}

fn resources(body: &Value) -> Result<&Vec<Value>, Failure> {
    body.get("resources")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Failure::bad_request("resources in body is required"))
}

fn insert(k: Kind, shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let mut state = shared.write();
    let mut created = Vec::new();
    for item in resources(body)? {
        let name = text(item, &["name"]).ok_or_else(|| Failure::bad_request("name is required"))?;
        let platform = text(item, &["platform_name"]).unwrap_or_default();
        if !matches!(platform, "Windows" | "Mac" | "Linux") {
            return Err(Failure::bad_request(format!(
                "invalid platform_name: {platform}"
            )));
        }
        let t = &state.tenant;
        if t.policies
            .iter()
            .any(|p| p.kind == k.kind && p.platform_name == platform && p.name == name)
        {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                format!("policy {name} already exists"),
            ));
        }
        let next = t
            .policies
            .iter()
            .filter(|p| p.kind == k.kind && p.platform_name == platform && p.precedence != u32::MAX)
            .count();
        let now = Timestamp::now();
        let policy = Policy {
            kind: k.kind.to_owned(),
            id: state.fresh_hex(32),
            name: name.to_owned(),
            description: text(item, &["description"]).unwrap_or_default().to_owned(),
            platform_name: platform.to_owned(),
            enabled: false,
            groups: Vec::new(),
            precedence: next as u32 + 1,
            build: item
                .pointer("/settings/build")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            created_by: "api-client".to_owned(),
            created_timestamp: now,
            modified_by: "api-client".to_owned(),
            modified_timestamp: now,
        };
        created.push(policy_view(&state, shared.cid(), &policy));
        state.tenant.policies.push(policy);
        state.reindex_all();
    }
    Ok(ctx.respond(
        StatusCode::CREATED,
        SERVICE,
        Payload::resources(Value::Array(created)),
    ))
}

fn change(k: Kind, shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let mut state = shared.write();
    let mut changed = Vec::new();
    for item in resources(body)? {
        let id = text(item, &["id"]).ok_or_else(|| Failure::bad_request("id is required"))?;
        let i = lookup(k, &state, id)
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "policy not found"))?;
        let policy = &mut state.tenant.policies[i];
        if let Some(name) = text(item, &["name"]) {
            policy.name = name.to_owned();
        }
        if let Some(description) = item.get("description").and_then(Value::as_str) {
            policy.description = description.to_owned();
        }
        if let Some(build) = item.pointer("/settings/build").and_then(Value::as_str) {
            policy.build = build.to_owned();
        }
        policy.modified_timestamp = Timestamp::now();
        let policy = policy.clone();
        changed.push(policy_view(&state, shared.cid(), &policy));
    }
    Ok(ctx.respond(
        StatusCode::OK,
        SERVICE,
        Payload::resources(Value::Array(changed)),
    ))
}

/// Deletes custom policies; platform defaults cannot be deleted.
fn drop_policies(k: Kind, shared: &Shared, ctx: &Ctx, ids: &[String]) -> Outcome {
    let mut state = shared.write();
    let mut errors = Vec::new();
    let mut gone = Vec::new();
    for id in ids {
        match lookup(k, &state, id).map(|i| &state.tenant.policies[i]) {
            Some(p) if p.name == "platform_default" => {
                errors.push(ApiError::for_id(
                    StatusCode::BAD_REQUEST,
                    "cannot delete the platform default policy",
                    id,
                ));
            }
            Some(p) if p.enabled => {
                errors.push(ApiError::for_id(
                    StatusCode::BAD_REQUEST,
                    "policy must be disabled before it is deleted",
                    id,
                ));
            }
            Some(_) => gone.push(id.clone()),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "policy not found",
                id,
            )),
        }
    }
    state.tenant.policies.retain(|p| !gone.contains(&p.id));
    state.reindex_all();
    let status = if gone.is_empty() && !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let payload = Payload {
        resources: Some(json!(gone)),
        errors,
        resources_affected: Some(gone.len()),
        ..Payload::default()
    };
    Ok(ctx.respond(status, SERVICE, payload))
}

/// Hosts a policy applies to: members of its groups (every host of the platform for
/// the default policy).
fn member_page(k: Kind, shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let window = Window::from_params(params, 100, 5000, false)?;
    let filter = filter_of(params.get("filter"), HOST_FIELDS)?;
    let sort = sort_of(params.get("sort"), HOST_FIELDS)?;
    let state = shared.read();
    let t = &state.tenant;
    let policy = match params.get("id") {
        Some(id) => Some(
            lookup(k, &state, id)
                .map(|i| &t.policies[i])
                .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "policy not found"))?,
        ),
        None => None,
    };
    let member = |h: &Host| {
        policy.is_none_or(|p| {
            h.platform_name == p.platform_name
                && (p.name == "platform_default" || p.groups.iter().any(|g| h.groups.contains(g)))
        })
    };
    let wanted = wanted_fields(filter.as_ref(), sort.as_ref());
    let doc = |h: &Host| host_doc(t, shared.cid(), h, &wanted);
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

fn perform(k: Kind, shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let name = params.required("action_name")?;
    let ids = strings(body, "ids");
    let group = action_parameters(body)
        .into_iter()
        .find(|(n, _)| n == "group_id")
        .map(|(_, v)| v);
    let mut state = shared.write();
    if let Some(g) = group.as_deref().filter(|g| !state.groups.contains(g)) {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            format!("host group {g} not found"),
        ));
    }
    let mut out = Vec::new();
    for id in &ids {
        let i = lookup(k, &state, id)
            .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "policy not found"))?;
        let policy = &mut state.tenant.policies[i];
        match (name, group.as_deref()) {
            ("enable", _) => policy.enabled = true,
            ("disable", _) => policy.enabled = false,
            ("add-host-group", Some(g)) if !policy.groups.iter().any(|x| x == g) => {
                policy.groups.push(g.to_owned())
            }
            ("add-host-group", Some(_)) => {}
            ("remove-host-group", Some(g)) => policy.groups.retain(|x| x != g),
            ("add-host-group" | "remove-host-group", None) => {
                return Err(Failure::bad_request(
                    "action_parameters group_id is required",
                ));
            }
            _ => return Err(Failure::bad_request(format!("invalid action_name: {name}"))),
        }
        policy.modified_timestamp = Timestamp::now();
        let policy = policy.clone();
        out.push(policy_view(&state, shared.cid(), &policy));
    }
    Ok(ctx.respond(
        StatusCode::OK,
        SERVICE,
        Payload::resources(Value::Array(out)),
    ))
}

/// Precedence takes the full ordered list of the platform's custom policies.
fn reorder(k: Kind, shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let platform = text(body, &["platform_name"])
        .ok_or_else(|| Failure::bad_request("platform_name is required"))?;
    let ids = strings(body, "ids");
    let mut state = shared.write();
    let mut customs: Vec<String> = state
        .tenant
        .policies
        .iter()
        .filter(|p| p.kind == k.kind && p.platform_name == platform && p.name != "platform_default")
        .map(|p| p.id.clone())
        .collect();
    let mut given = ids.clone();
    customs.sort();
    given.sort();
    if customs != given {
        return Err(Failure::bad_request(format!(
            "precedence must list every non-default {platform} policy exactly once"
        )));
    }
    for (rank, id) in ids.iter().enumerate() {
        if let Some(i) = state.policies.get(id) {
            state.tenant.policies[i].precedence = rank as u32 + 1;
        }
    }
    Ok(ctx.respond(StatusCode::OK, SERVICE, Payload::resources(json!([]))))
}

/// A policy as the API serves it; `settings` differ per kind.
fn policy_view(state: &TenantState, cid: &str, p: &Policy) -> Value {
    let groups: Vec<Value> = p
        .groups
        .iter()
        .filter_map(|g| state.groups.get(g))
        .map(|i| group_view(&state.tenant.host_groups[i]))
        .collect();
    let mut view = json!({
        "id": p.id,
        "cid": cid,
        "name": p.name,
        "description": p.description,
        "platform_name": p.platform_name,
        "enabled": p.enabled,
        "groups": groups,
        "precedence": if p.precedence == u32::MAX { 0 } else { p.precedence },
        "created_by": p.created_by,
        "created_timestamp": stamp(p.created_timestamp),
        "modified_by": p.modified_by,
        "modified_timestamp": stamp(p.modified_timestamp),
    });
    match p.kind.as_str() {
        "prevention" => {
            view["ioa_rule_groups"] = json!([]);
            let slider = json!({"detection": "MODERATE", "prevention": "CAUTIOUS"});
            let settings = [
                setting(
                    "CloudAntiMalware",
                    "Cloud Machine Learning",
                    "mlslider",
                    slider,
                ),
                setting(
                    "ScriptBasedExecutionMonitoring",
                    "Script-Based Execution Monitoring",
                    "toggle",
                    json!({"enabled": p.enabled}),
                ),
            ];
            view["prevention_settings"] =
                json!([{"name": "Machine Learning", "settings": settings}]);
        }
        "response" => {
            let custom = json!({"enabled": p.name != "platform_default"});
            let settings = [
                setting(
                    "RealTimeFunctionality",
                    "Real Time Functionality",
                    "toggle",
                    json!({"enabled": true}),
                ),
                setting("CustomScripts", "Custom Scripts", "toggle", custom),
            ];
            view["settings"] = json!([{"name": "Real Time Response", "settings": settings}]);
        }
        _ => {
            let version = state
                .tenant
                .builds
                .iter()
                .find(|b| b.build == p.build)
                .map(|b| b.sensor_version.clone())
                .unwrap_or_default();
            view["settings"] = json!({
                "build": p.build,
                "sensor_version": version,
                "stage": "prod",
                "is_lts_build": false,
                "uninstall_protection": "ENABLED",
                "show_early_adopter_builds": false,
                "scheduler": {"enabled": false, "timezone": "Etc/UTC", "schedules": []},
                "variants": [],
            });
        }
    }
    view
}

/// One entry of a policy's settings list.
fn setting(id: &str, name: &str, kind: &str, value: Value) -> Value {
    json!({"id": id, "name": name, "type": kind, "value": value, "description": name})
}

// ---- builds and installers ----------------------------------------------------------

async fn builds(s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    let platform = params.get("platform");
    let stages = params.all("stage");
    let state = s.read();
    let out: Vec<Value> = state
        .tenant
        .builds
        .iter()
        .filter(|b| platform.is_none_or(|p| p == b.platform))
        .filter(|b| stages.is_empty() || stages.contains(&b.stage))
        .map(|b| json!(b))
        .collect();
    c.respond(
        StatusCode::OK,
        SERVICE,
        Payload::resources(Value::Array(out)),
    )
}

fn installer_view(i: &Installer) -> Value {
    json!({
        "name": i.name,
        "description": i.description,
        "platform": i.platform,
        "os": i.os,
        "os_version": i.os_version,
        "version": i.version,
        "file_size": i.file_size,
        "file_type": i.file_type,
        "sha256": i.sha256,
        "release_date": stamp(i.release_date),
        "architectures": ["x86_64"],
    })
}

fn installer_list(shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let window = Window::from_params(params, 100, 500, false)?;
    let filter = filter_of(params.get("filter"), INSTALLER_FIELDS)?;
    let sort = sort_of(params.get("sort"), INSTALLER_FIELDS)?;
    let state = shared.read();
    let all = &state.tenant.installers;
    let hits = select(
        all,
        |_| true,
        installer_view,
        filter.as_ref(),
        sort.as_ref(),
    );
    let items: Vec<Value> = hits
        .iter()
        .map(|i| {
            if full {
                installer_view(&all[*i])
            } else {
                json!(all[*i].sha256)
            }
        })
        .collect();
    Ok(ctx.respond(StatusCode::OK, "sensor-download", paged(window, &items)))
}

async fn installer_ids(s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    installer_list(&s, &c, &params, false).unwrap_or_else(|f| f.render(&c, "sensor-download"))
}

async fn installers_combined(s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    installer_list(&s, &c, &params, true).unwrap_or_else(|f| f.render(&c, "sensor-download"))
}

async fn installers_by_id(s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = query_ids(&params, MAX_IDS).map(|ids| {
        let state = s.read();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for id in &ids {
            match state.tenant.installers.iter().find(|i| &i.sha256 == id) {
                Some(i) => out.push(installer_view(i)),
                None => errors.push(ApiError::for_id(
                    StatusCode::NOT_FOUND,
                    "installer not found",
                    id,
                )),
            }
        }
        entities(&c, "sensor-download", out, errors)
    });
    outcome.unwrap_or_else(|f| f.render(&c, "sensor-download"))
}

/// An installer's bytes. The emulator has no sensor to hand out: it sends a small
/// placeholder whose first line names the installer, so downloads can be checked
/// without moving the real package size over loopback.
async fn download(s: S, c: C, q: Q) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = params.required("id").and_then(|id| {
        let state = s.read();
        let installer = state.tenant.installers.iter().find(|i| i.sha256 == id);
        let installer =
            installer.ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "installer not found"))?;
        let body = format!("emulated {} ({})\n", installer.name, installer.sha256);
        let headers = [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", installer.name),
            ),
        ];
        Ok((StatusCode::OK, headers, body).into_response())
    });
    outcome.unwrap_or_else(|f| f.render(&c, "sensor-download"))
}

/// The CCID: the CID with its two-character checksum suffix.
async fn ccid(s: S, c: C) -> Response {
    let checksum = s.cid().bytes().fold(0u8, |acc, b| acc.wrapping_add(b));
    let ccid = format!("{}-{checksum:02X}", s.cid().to_uppercase());
    c.respond(
        StatusCode::OK,
        "sensor-download",
        Payload::resources(json!([ccid])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_resolve_to_static_strings() {
        assert_eq!(
            scope("prevention-policies", "write"),
            "prevention-policies:write"
        );
        assert_eq!(
            scope("sensor-update-policies", "read"),
            "sensor-update-policies:read"
        );
        assert_eq!(scope("nothing", "read"), "unknown:scope");
    }

    #[test]
    fn settings_entries_have_the_model_fields() {
        let entry = setting("a", "A", "toggle", json!({"enabled": true}));
        for key in ["id", "name", "type", "value", "description"] {
            assert!(entry.get(key).is_some(), "{key}");
        }
    }
}
