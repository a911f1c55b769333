//! Hosts (`/devices/...`): queries, scroll, details, online state, actions, tags.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::params::{Params, dedup, ids_body, json_body};
use super::query::{
    Cursor, Outcome, Window, entities, filter_of, query_ids, select, sort_of, stamp, strings,
};
use super::state::TenantState;
use super::{Shared, scoped};
use crate::fql::{Filter, Sort};
use crate::tenant::{Host, Policy, Tenant};

const SERVICE: &str = "device-api";
const READ: &str = "devices:read";
const WRITE: &str = "devices:write";
/// Ids per GET details request; the POST variant takes 5000 (falcon-api.md §5.1).
const MAX_GET_IDS: usize = 100;
const MAX_POST_IDS: usize = 5000;
/// hide_host and unhide_host take at most 100 ids; the other actions 5000.
const MAX_HIDE_IDS: usize = 100;
const MAX_ACTION_IDS: usize = 5000;

/// Fields host filters and sorts may name.
pub(super) const FIELDS: &[&str] = &[
    "device_id",
    "hostname",
    "platform_name",
    "platform_id",
    "os_version",
    "os_build",
    "kernel_version",
    "product_type_desc",
    "agent_version",
    "reduced_functionality_mode",
    "first_seen",
    "last_seen",
    "modified_timestamp",
    "local_ip",
    "local_ip.raw",
    "external_ip",
    "mac_address",
    "machine_domain",
    "serial_number",
    "system_manufacturer",
    "system_product_name",
    "groups",
    "tags",
    "status",
    "last_login_user",
    "cid",
    "device_policies",
    "config_id_build",
    "site_name",
    "ou",
    "provision_status",
    "major_version",
    "minor_version",
    "chassis_type_desc",
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/devices/queries/devices/v1",
            scoped(READ, get(query_visible)),
        )
        .route(
            "/devices/queries/devices-hidden/v1",
            scoped(READ, get(query_hidden)),
        )
        .route(
            "/devices/queries/devices-scroll/v1",
            scoped(READ, get(scroll)),
        )
        .route(
            "/devices/combined/devices/v1",
            scoped(READ, get(combined_visible)),
        )
        .route(
            "/devices/combined/devices-hidden/v1",
            scoped(READ, get(combined_hidden)),
        )
        .route(
            "/devices/entities/devices/v1",
            scoped(READ, get(details_get)),
        )
        .route(
            "/devices/entities/devices/v2",
            scoped(READ, get(details_get).post(details_post)),
        )
        .route(
            "/devices/entities/online-state/v1",
            scoped(READ, get(online_state)),
        )
        .route(
            "/devices/entities/devices-actions/v2",
            scoped(WRITE, post(action)),
        )
        .route(
            "/devices/entities/devices/tags/v1",
            scoped(WRITE, patch(tags)),
        )
}

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

async fn query_visible(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(&ctx, id_page(&s, &ctx, &params, false))
}

async fn query_hidden(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(&ctx, id_page(&s, &ctx, &params, true))
}

async fn scroll(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(&ctx, scroll_page(&s, &ctx, &params))
}

async fn combined_visible(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(&ctx, combined_page(&s, &ctx, &params, false))
}

async fn combined_hidden(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    finish(&ctx, combined_page(&s, &ctx, &params, true))
}

async fn details_get(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = query_ids(&params, MAX_GET_IDS).map(|ids| details(&s, &ctx, ids));
    finish(&ctx, outcome)
}

async fn details_post(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = ids_body(body, MAX_POST_IDS)
        .await
        .map(|ids| details(&s, &ctx, dedup(ids)));
    finish(&ctx, outcome)
}

async fn online_state(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = query_ids(&params, MAX_GET_IDS).map(|ids| states(&s, &ctx, ids));
    finish(&ctx, outcome)
}

async fn action(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery, body: Body) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = match json_body(body).await {
        Ok(json) => perform(&s, &ctx, &params, &json),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

async fn tags(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => update_tags(&s, &ctx, &json),
        Err(failure) => Err(failure),
    };
    finish(&ctx, outcome)
}

// ---- reads --------------------------------------------------------------------------

/// Host positions matching the request's filter and sort, hidden or visible ones.
fn matching(
    shared: &Shared,
    state: &TenantState,
    params: &Params,
    hidden: bool,
) -> Result<Vec<usize>, Failure> {
    let filter = filter_of(params.get("filter"), FIELDS)?;
    let sort = sort_of(params.get("sort"), FIELDS)?;
    let t = &state.tenant;
    let wanted = wanted_fields(filter.as_ref(), sort.as_ref());
    let doc = |h: &Host| host_doc(t, shared.cid(), h, &wanted);
    Ok(select(
        &t.hosts,
        |h| h.hidden == hidden,
        doc,
        filter.as_ref(),
        sort.as_ref(),
    ))
}

fn id_page(shared: &Shared, ctx: &Ctx, params: &Params, hidden: bool) -> Outcome {
    let window = Window::from_params(params, 100, 5000, true)?;
    settle(shared);
    let state = shared.read();
    let hits = matching(shared, &state, params, hidden)?;
    let (page, paging) = window.page(&hits);
    let ids: Vec<Value> = page
        .iter()
        .map(|i| json!(state.tenant.hosts[*i].device_id))
        .collect();
    let payload = Payload {
        resources: Some(Value::Array(ids)),
        pagination: Some(paging),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, SERVICE, payload))
}

/// The query a cursor is bound to: filter and sort as sent.
fn binding(params: &Params) -> String {
    format!(
        "{}|{}",
        params.get("filter").unwrap_or(""),
        params.get("sort").unwrap_or("")
    )
}

/// The start position named by the `offset` token, 0 without one.
fn start_of(params: &Params) -> Result<usize, Failure> {
    match params.get("offset") {
        None => Ok(0),
        Some(token) => Cursor::open(token, &binding(params))
            .map(|c| c.position)
            .map_err(|e| e.failure("offset")),
    }
}

/// `devices-scroll`: no 10,000 window; the string `offset` token carries the position.
fn scroll_page(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let limit = params.int("limit", 100, 1, 10_000)? as usize;
    let start = start_of(params)?;
    settle(shared);
    let state = shared.read();
    let hits = matching(shared, &state, params, false)?;
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| json!(state.tenant.hosts[*i].device_id))
        .collect();
    // Falcon ends a scroll with an empty page, `total: 0` and an empty offset.
    let (token, total, expires_at) = if page.is_empty() {
        (String::new(), 0, 0)
    } else {
        let cursor = Cursor::new(
            start + page.len(),
            &binding(params),
            shared.cursor_lifetime(),
        );
        (cursor.token(), hits.len(), cursor.expires_at())
    };
    let pagination =
        json!({"offset": token, "limit": limit, "total": total, "expires_at": expires_at});
    Ok(ctx.respond_with_pagination(StatusCode::OK, SERVICE, Value::Array(page), pagination))
}

/// `combined/devices`: full records; `offset` is the previous page's `next` token.
fn combined_page(shared: &Shared, ctx: &Ctx, params: &Params, hidden: bool) -> Outcome {
    let limit = params.int("limit", 100, 1, 10_000)? as usize;
    let start = start_of(params)?;
    settle(shared);
    let state = shared.read();
    let hits = matching(shared, &state, params, hidden)?;
    let t = &state.tenant;
    let fields = params.all("fields");
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| project(device_view(t, shared.cid(), &t.hosts[*i]), &fields))
        .collect();
    let end = start + page.len();
    let next = if end < hits.len() {
        Cursor::new(end, &binding(params), shared.cursor_lifetime()).token()
    } else {
        String::new()
    };
    let offset = params.get("offset").unwrap_or("");
    let pagination = json!({"total": hits.len(), "limit": limit, "offset": offset, "next": next});
    Ok(ctx.respond_with_pagination(StatusCode::OK, SERVICE, Value::Array(page), pagination))
}

/// Only the requested `fields`, when any are given.
fn project(view: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return view;
    }
    let Value::Object(all) = view else {
        return view;
    };
    let kept: Map<String, Value> = all
        .into_iter()
        .filter(|(k, _)| fields.contains(k))
        .collect();
    Value::Object(kept)
}

fn details(shared: &Shared, ctx: &Ctx, ids: Vec<String>) -> Response {
    settle(shared);
    let state = shared.read();
    let t = &state.tenant;
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        match state.hosts.get(id) {
            Some(i) => found.push(device_view(t, shared.cid(), &t.hosts[i])),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "device not found",
                id,
            )),
        }
    }
    entities(ctx, SERVICE, found, errors)
}

fn states(shared: &Shared, ctx: &Ctx, ids: Vec<String>) -> Response {
    let state = shared.read();
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        match state.hosts.get(id).map(|i| &state.tenant.hosts[i]) {
            Some(h) => found.push(json!({
                "id": h.device_id,
                "cid": shared.cid(),
                "last_seen": stamp(h.last_seen),
                "state": h.online_state,
            })),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "device not found",
                id,
            )),
        }
    }
    let payload = Payload {
        resources: Some(Value::Array(found)),
        errors,
        ..Payload::default()
    };
    ctx.respond(StatusCode::OK, "cs.agentonline", payload)
}

/// The top-level fields a filter and sort read.
pub(super) fn wanted_fields(filter: Option<&Filter>, sort: Option<&Sort>) -> Vec<String> {
    let fields = filter.map(Filter::fields).unwrap_or_default();
    let roots = fields.into_iter().chain(sort.map(Sort::field));
    roots
        .map(|f| f.split('.').next().unwrap_or(f).to_owned())
        .collect()
}

/// What host filters and sorts see. Building the full view costs most of a filtered
/// query on a large tenant, so when every field asked for is a plain host field only
/// those are put in the document.
pub(super) fn host_doc(t: &Tenant, cid: &str, h: &Host, wanted: &[String]) -> Value {
    let mut doc = Map::new();
    for field in wanted {
        let value = match field.as_str() {
            "device_id" => json!(h.device_id),
            "hostname" => json!(h.hostname),
            "platform_name" => json!(h.platform_name),
            "os_version" => json!(h.os_version),
            "agent_version" => json!(h.agent_version),
            "reduced_functionality_mode" => json!(h.reduced_functionality_mode),
            "product_type_desc" => json!(h.product_type_desc),
            "first_seen" => stamp(h.first_seen),
            "last_seen" => stamp(h.last_seen),
            "local_ip" => json!(h.local_ip),
            "external_ip" => json!(h.external_ip),
            "machine_domain" => json!(h.machine_domain),
            "groups" => json!(h.groups),
            "tags" => json!(h.tags),
            "status" => json!(h.status),
            "last_login_user" => json!(h.last_login_user),
            "cid" => json!(cid),
            _ => return device_view(t, cid, h),
        };
        doc.insert(field.clone(), value);
    }
    Value::Object(doc)
}

// ---- writes -------------------------------------------------------------------------

fn perform(shared: &Shared, ctx: &Ctx, params: &Params, body: &Value) -> Outcome {
    let name = params.required("action_name")?;
    let max = match name {
        "hide_host" | "unhide_host" => MAX_HIDE_IDS,
        "contain" | "lift_containment" | "detection_suppress" | "detection_unsuppress" => {
            MAX_ACTION_IDS
        }
        _ => return Err(Failure::bad_request(format!("invalid action_name: {name}"))),
    };
    let ids = dedup(strings(body, "ids"));
    if ids.is_empty() || ids.len() > max {
        return Err(Failure::bad_request(format!(
            "request must contain between 1 and {max} ids"
        )));
    }
    let mut state = shared.write();
    let (mut done, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        let Some(i) = state.hosts.get(id) else {
            errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "device not found",
                id,
            ));
            continue;
        };
        apply(&mut state, i, name);
        done.push(json!({"id": id, "path": ""}));
    }
    let status = if done.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::ACCEPTED
    };
    let payload = Payload {
        resources: Some(Value::Array(done)),
        errors,
        ..Payload::default()
    };
    Ok(ctx.respond(status, SERVICE, payload))
}

/// Containment goes through a pending state that [`settle`] completes.
fn apply(state: &mut TenantState, i: usize, action: &str) {
    let host = &mut state.tenant.hosts[i];
    match action {
        "contain" if host.status != "contained" => host.status = "containment_pending".into(),
        "lift_containment" if host.status != "normal" => {
            host.status = "lift_containment_pending".into()
        }
        "hide_host" => host.hidden = true,
        "unhide_host" => host.hidden = false,
        _ => return,
    }
    if host.status.ends_with("_pending") {
        let id = host.device_id.clone();
        state.pending.insert(id, Instant::now());
    }
}

/// Completes containment changes older than the configured delay. Called before
/// host reads, so a client polling the host sees `containment_pending` turn into
/// `contained` as it would on a real sensor.
pub(super) fn settle(shared: &Shared) {
    let delay = shared.containment_delay();
    if shared
        .read()
        .pending
        .values()
        .all(|at| at.elapsed() < delay)
    {
        return;
    }
    let mut state = shared.write();
    let due: Vec<String> = state
        .pending
        .iter()
        .filter(|(_, at)| at.elapsed() >= delay)
        .map(|(id, _)| id.clone())
        .collect();
    for id in due {
        state.pending.remove(&id);
        if let Some(i) = state.hosts.get(&id) {
            let host = &mut state.tenant.hosts[i];
            host.status = match host.status.as_str() {
                "containment_pending" => "contained",
                _ => "normal",
            }
            .into();
        }
    }
}

fn update_tags(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let action = body
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(action, "add" | "remove") {
        return Err(Failure::bad_request("action must be one of: add, remove"));
    }
    let tags = strings(body, "tags");
    if let Some(bad) = tags.iter().find(|t| !t.starts_with("FalconGroupingTags/")) {
        return Err(Failure::bad_request(format!(
            "tag {bad} must start with FalconGroupingTags/"
        )));
    }
    let ids = dedup(strings(body, "device_ids"));
    if ids.is_empty() || ids.len() > MAX_POST_IDS {
        return Err(Failure::bad_request(
            "request must contain between 1 and 5000 device_ids",
        ));
    }
    let mut state = shared.write();
    let results: Vec<Value> = ids
        .iter()
        .map(|id| match state.hosts.get(id) {
            Some(i) => {
                let host = &mut state.tenant.hosts[i];
                let updated = retag(&mut host.tags, &tags, action == "add");
                json!({"device_id": id, "updated": updated, "code": 200})
            }
            None => {
                json!({"device_id": id, "updated": false, "code": 404, "error": "device not found"})
            }
        })
        .collect();
    Ok(ctx.respond(
        StatusCode::ACCEPTED,
        SERVICE,
        Payload::resources(Value::Array(results)),
    ))
}

fn retag(held: &mut Vec<String>, tags: &[String], add: bool) -> bool {
    let before = held.clone();
    if add {
        for tag in tags {
            if !held.contains(tag) {
                held.push(tag.clone());
            }
        }
    } else {
        held.retain(|t| !tags.contains(t));
    }
    *held != before
}

// ---- views --------------------------------------------------------------------------

fn platform_id(platform: &str) -> &'static str {
    match platform {
        "Mac" => "1",
        "Linux" => "3",
        _ => "0",
    }
}

/// A host as Falcon serves it (`deviceapi.DeviceSwagger`): every scalar a string.
pub(super) fn device_view(t: &Tenant, cid: &str, h: &Host) -> Value {
    let build = h.agent_version.split('.').nth(2).unwrap_or("0");
    let applied = policies_of(t, h);
    let device_policies: Map<String, Value> = applied
        .iter()
        .map(|(key, p)| ((*key).to_owned(), policy_ref(p, h)))
        .chain(
            unmanaged_policies(cid, h)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    let prevention: Vec<Value> = applied
        .iter()
        .filter(|(k, _)| *k == "prevention")
        .map(|(_, p)| policy_ref(p, h))
        .collect();
    let chassis = match h.product_type_desc.as_str() {
        "Workstation" => ("9", "Laptop"),
        _ => ("23", "Rack Mount Chassis"),
    };
    // The major version is the number in the OS name: 11 for "Windows 11".
    let last_word = h.os_version.split(' ').next_back().unwrap_or_default();
    let major: String = last_word.chars().filter(char::is_ascii_digit).collect();
    json!({
        "device_id": h.device_id,
        "cid": cid,
        "agent_load_flags": "0",
        "agent_local_time": stamp(h.last_seen),
        "agent_version": h.agent_version,
        "bios_manufacturer": h.system_manufacturer,
        "bios_version": format!("{}.1.0", h.serial_number.len()),
        "chassis_type": chassis.0,
        "chassis_type_desc": chassis.1,
        "config_id_base": "65994763",
        "config_id_build": build,
        "config_id_platform": platform_id(&h.platform_name),
        "connection_ip": h.local_ip,
        "cpu_signature": "460517",
        "device_policies": device_policies,
        "external_ip": h.external_ip,
        "first_seen": stamp(h.first_seen),
        "group_hash": format!("{:064x}", h.groups.len()),
        "groups": h.groups,
        "hostname": h.hostname,
        "kernel_version": h.kernel_version,
        "last_login_user": h.last_login_user,
        "last_seen": stamp(h.last_seen),
        "local_ip": h.local_ip,
        "mac_address": h.mac_address,
        "machine_domain": h.machine_domain,
        "major_version": major,
        "meta": {"version": "6002", "version_string": "7:43570272778"},
        "minor_version": "0",
        "modified_timestamp": stamp(h.last_seen),
        "os_build": h.os_build,
        "os_version": h.os_version,
        "platform_id": platform_id(&h.platform_name),
        "platform_name": h.platform_name,
        "policies": prevention,
        "product_type_desc": h.product_type_desc,
        "provision_status": "Provisioned",
        "reduced_functionality_mode": h.reduced_functionality_mode,
        "serial_number": h.serial_number,
        "site_name": "Default-First-Site-Name",
        "status": h.status,
        "system_manufacturer": h.system_manufacturer,
        "system_product_name": h.system_product_name,
        "tags": h.tags,
        "host_hidden_status": if h.hidden { "hidden" } else { "visible" },
    })
}

/// The policy of each kind that applies to the host: the enabled custom policy with
/// the best precedence among the host's groups, else the platform default.
fn policies_of<'a>(t: &'a Tenant, h: &Host) -> Vec<(&'static str, &'a Policy)> {
    [
        ("prevention", "prevention"),
        ("remote_response", "response"),
        ("sensor_update", "sensor-update"),
    ]
    .into_iter()
    .filter_map(|(key, kind)| {
        t.policies
            .iter()
            .filter(|p| p.kind == kind && p.platform_name == h.platform_name && p.enabled)
            .filter(|p| {
                p.name == "platform_default" || p.groups.iter().any(|g| h.groups.contains(g))
            })
            .min_by_key(|p| p.precedence)
            .map(|p| (key, p))
    })
    .collect()
}

fn policy_ref(p: &Policy, h: &Host) -> Value {
    let policy_type = if p.kind == "response" {
        "remote-response"
    } else {
        p.kind.as_str()
    };
    let mut view = applied(&p.id, policy_type, h);
    view["settings_hash"] = json!(&p.id[..8]);
    match p.kind.as_str() {
        "prevention" => view["rule_groups"] = json!([]),
        "sensor-update" => view["uninstall_protection"] = json!("ENABLED"),
        _ => {}
    }
    view
}

/// The common part of a `device_policies` entry.
fn applied(policy_id: &str, policy_type: &str, h: &Host) -> Value {
    json!({
        "applied": true,
        "applied_date": stamp(h.first_seen),
        "assigned_date": stamp(h.first_seen),
        "policy_id": policy_id,
        "policy_type": policy_type,
    })
}

/// Policy kinds the emulator does not manage (device control, firewall, global
/// config) still appear on hosts; their ids derive from the tenant's CID.
fn unmanaged_policies(cid: &str, h: &Host) -> Vec<(&'static str, Value)> {
    let id = |salt: &str| format!("{salt}{}", &cid[salt.len()..]);
    let mut firewall = applied(&id("f1"), "firewall", h);
    firewall["rule_set_id"] = json!(id("f1"));
    let mut global = applied(&id("9c"), "globalconfig", h);
    global["settings_hash"] = json!(&cid[..8]);
    vec![
        ("device_control", applied(&id("dc"), "device-control", h)),
        ("firewall", firewall),
        ("global_config", global),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantSpec;

    #[test]
    fn every_host_has_a_policy_of_each_kind() {
        let t = Tenant::generate(&TenantSpec::demo());
        for h in &t.hosts {
            assert_eq!(policies_of(&t, h).len(), 3, "{}", h.hostname);
        }
    }

    #[test]
    fn slim_documents_agree_with_the_full_view() {
        let t = Tenant::generate(&TenantSpec::demo());
        let cheap = [
            "device_id",
            "hostname",
            "platform_name",
            "os_version",
            "agent_version",
            "reduced_functionality_mode",
            "product_type_desc",
            "first_seen",
            "last_seen",
            "local_ip",
            "external_ip",
            "machine_domain",
            "groups",
            "tags",
            "status",
            "last_login_user",
            "cid",
        ]
        .map(str::to_owned);
        for h in t.hosts.iter().take(20) {
            let full = device_view(&t, &t.cid, h);
            let slim = host_doc(&t, &t.cid, h, &cheap);
            for field in &cheap {
                assert_eq!(slim[field], full[field], "{field}");
            }
        }
        // Anything else falls back to the full view.
        let other = host_doc(&t, &t.cid, &t.hosts[0], &["device_policies".to_owned()]);
        assert!(other["device_policies"]["prevention"].is_object());
    }

    #[test]
    fn retag_reports_changes() {
        let mut held = vec!["FalconGroupingTags/a".to_owned()];
        assert!(!retag(
            &mut held,
            &["FalconGroupingTags/a".to_owned()],
            true
        ));
        assert!(retag(&mut held, &["FalconGroupingTags/b".to_owned()], true));
        assert!(retag(
            &mut held,
            &["FalconGroupingTags/a".to_owned()],
            false
        ));
        assert_eq!(held, ["FalconGroupingTags/b"]);
    }
}
