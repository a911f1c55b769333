//! Alerts (`/alerts/...`), incidents (`/incidents/...`) and the decommissioned
//! detects API, which answers 405.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get, patch, post};
use axum::{Extension, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::GATEWAY;
use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::params::{Params, dedup, ids_body, json_body};
use super::query::{
    Cursor, Outcome, Window, action_parameters, entities, filter_of, paged, select, sort_of, stamp,
    strings, text,
};
use super::state::TenantState;
use super::{Shared, scoped};
use crate::fql::{Direction, Sort};
use crate::tenant::{Alert, Host, Incident};

const ALERTS: &str = "detectsapi";
const INCIDENTS: &str = "incident-api";
/// Composite ids per entity request; more is a 413 (falcon-api.md §5.3).
const MAX_ALERT_IDS: usize = 1000;
const MAX_INCIDENT_IDS: usize = 500;
const ALERT_FIELDS: &[&str] = &[
    "composite_id",
    "id",
    "agent_id",
    "aggregate_id",
    "cid",
    "severity",
    "severity_name",
    "confidence",
    "name",
    "display_name",
    "tactic",
    "tactic_id",
    "technique",
    "technique_id",
    "pattern_id",
    "status",
    "tags",
    "user_name",
    "assigned_to_uuid",
    "assigned_to_name",
    "filename",
    "cmdline",
    "sha256",
    "timestamp",
    "created_timestamp",
    "updated_timestamp",
    "product",
    "platform",
    "type",
    "show_in_ui",
    "device",
];
const INCIDENT_FIELDS: &[&str] = &[
    "incident_id",
    "host_ids",
    "name",
    "description",
    "state",
    "status",
    "fine_score",
    "assigned_to",
    "assigned_to_name",
    "tags",
    "start",
    "end",
    "created",
    "modified_timestamp",
    "sort_score",
];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/alerts/queries/alerts/v2",
            scoped("alerts:read", get(query_alerts)),
        )
        .route(
            "/alerts/entities/alerts/v2",
            scoped("alerts:read", post(get_alerts)),
        )
        .route(
            "/alerts/combined/alerts/v1",
            scoped("alerts:read", post(combined_alerts)),
        )
        .route(
            "/alerts/entities/alerts/v3",
            scoped("alerts:write", patch(update_alerts)),
        )
        .route(
            "/incidents/queries/incidents/v1",
            scoped("incidents:read", get(query_incidents)),
        )
        .route(
            "/incidents/entities/incidents/GET/v1",
            scoped("incidents:read", post(get_incidents)),
        )
        .route(
            "/incidents/entities/incident-actions/v1",
            scoped("incidents:write", post(incident_action)),
        )
        .route("/detects/queries/detects/v1", any(decommissioned))
        .route("/detects/entities/summaries/GET/v1", any(decommissioned))
        .route("/detects/entities/detects/v2", any(decommissioned))
        .route("/detects/aggregates/detects/GET/v1", any(decommissioned))
}

fn finish(ctx: &Ctx, service: &str, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, service))
}

/// The detects API was switched off on 2025-09-30; its paths now answer 405.
async fn decommissioned(ctx: Extension<Ctx>) -> Response {
    ctx.fail(
        StatusCode::METHOD_NOT_ALLOWED,
        GATEWAY,
        "Method Not Allowed",
    )
}

async fn query_alerts(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(
        &ctx,
        ALERTS,
        alert_ids(&s, &ctx, &Params::parse(q.0.as_deref())),
    )
}

async fn get_alerts(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => alerts_by_id(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, ALERTS, outcome)
}

async fn combined_alerts(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => alerts_after(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, ALERTS, outcome)
}

async fn update_alerts(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => patch_alerts(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, ALERTS, outcome)
}

async fn query_incidents(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(
        &ctx,
        INCIDENTS,
        incident_ids(&s, &ctx, &Params::parse(q.0.as_deref())),
    )
}

async fn get_incidents(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = ids_body(body, MAX_INCIDENT_IDS)
        .await
        .map(|ids| incidents_by_id(&s, &ctx, &dedup(ids)));
    finish(&ctx, INCIDENTS, outcome)
}

async fn incident_action(s: State<Arc<Shared>>, ctx: Extension<Ctx>, body: Body) -> Response {
    let outcome = match json_body(body).await {
        Ok(json) => act_on_incidents(&s, &ctx, &json),
        Err(f) => Err(f),
    };
    finish(&ctx, INCIDENTS, outcome)
}

// ---- alerts -------------------------------------------------------------------------

/// Alert positions for a filter and sort (default newest first).
fn matching_alerts(
    shared: &Shared,
    state: &TenantState,
    filter: Option<&str>,
    sort: Option<&str>,
    hidden: bool,
) -> Result<Vec<usize>, Failure> {
    let filter = filter_of(filter, ALERT_FIELDS)?;
    let sort = sort_of(sort, ALERT_FIELDS)?;
    let alerts = &state.tenant.alerts;
    let keep = |a: &Alert| hidden || a.show_in_ui;
    if filter.is_none() && sort.is_none() {
        // Falcon's default order, newest first, without building a document per alert:
        // the common unfiltered page stays cheap on tenants with 50,000 alerts.
        let mut hits = select(alerts, keep, |_| Value::Null, None, None);
        hits.sort_by(|x, y| {
            alerts[*y]
                .created_timestamp
                .cmp(&alerts[*x].created_timestamp)
        });
        return Ok(hits);
    }
    let sort = sort.unwrap_or_else(|| Sort::new("created_timestamp", Direction::Desc));
    let doc = |a: &Alert| alert_view(state, shared.cid(), a);
    Ok(select(alerts, keep, doc, filter.as_ref(), Some(&sort)))
}

fn alert_ids(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let offset = params.int("offset", 0, 0, i64::from(u32::MAX))? as usize;
    let limit = params.int("limit", 100, 0, 10_000)? as usize;
    if offset + limit > super::query::OFFSET_WINDOW {
        return Err(Failure::bad_request(format!(
            "offset {offset} and limit {limit} are invalid; offset + limit must be less than or \
             equal to 10000"
        )));
    }
    let hidden = params.bool("include_hidden", true)?;
    let state = shared.read();
    let t = &state.tenant;
    let mut hits = matching_alerts(
        shared,
        &state,
        params.get("filter"),
        params.get("sort"),
        hidden,
    )?;
    if let Some(q) = params.get("q").map(str::to_lowercase) {
        hits.retain(|i| free_text(&t.alerts[*i]).contains(&q));
    }
    let ids: Vec<Value> = hits
        .iter()
        .map(|i| json!(t.alerts[*i].composite_id))
        .collect();
    let mut payload = paged(Window { offset, limit }, &ids);
    payload.resources_affected = Some(0);
    Ok(ctx.respond(StatusCode::OK, ALERTS, payload))
}

fn free_text(a: &Alert) -> String {
    format!(
        "{} {} {} {} {}",
        a.name, a.description, a.filename, a.cmdline, a.user_name
    )
    .to_lowercase()
}

fn alerts_by_id(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let ids = dedup(strings(body, "composite_ids"));
    if ids.len() > MAX_ALERT_IDS {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request too large",
        ));
    }
    let state = shared.read();
    let t = &state.tenant;
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in &ids {
        match state.alerts.get(id) {
            Some(i) => found.push(alert_view(&state, shared.cid(), &t.alerts[i])),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "alert not found",
                id,
            )),
        }
    }
    Ok(entities(ctx, ALERTS, found, errors))
}

/// `combined/alerts`: full alerts paged with `after` tokens bound to filter and sort.
fn alerts_after(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Failure::bad_request("limit must be between 1 and 1000"));
    }
    let (filter, sort) = (text(body, &["filter"]), text(body, &["sort"]));
    let binding = format!("{}|{}", filter.unwrap_or(""), sort.unwrap_or(""));
    let start = match text(body, &["after"]) {
        Some(token) => {
            Cursor::open(token, &binding)
                .map_err(|e| e.failure("after"))?
                .position
        }
        None => 0,
    };
    let state = shared.read();
    let t = &state.tenant;
    let hits = matching_alerts(shared, &state, filter, sort, true)?;
    let page: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit as usize)
        .map(|i| alert_view(&state, shared.cid(), &t.alerts[*i]))
        .collect();
    let end = start + page.len();
    let after = if end < hits.len() {
        Cursor::new(end, &binding, shared.cursor_lifetime()).token()
    } else {
        String::new()
    };
    let pagination = json!({"total": hits.len(), "limit": limit, "after": after});
    Ok(ctx.respond_with_pagination(StatusCode::OK, ALERTS, Value::Array(page), pagination))
}

fn patch_alerts(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let ids = dedup(strings(body, "composite_ids"));
    if ids.is_empty() || ids.len() > MAX_ALERT_IDS {
        return Err(Failure::bad_request(
            "composite_ids must contain between 1 and 1000 ids",
        ));
    }
    let mut actions = action_parameters(body);
    if actions.is_empty() {
        return Err(Failure::bad_request(
            "action_parameters in body is required",
        ));
    }
    // Falcon applies tag removal before tag addition.
    actions.sort_by_key(|(name, _)| !name.starts_with("remove_tag"));
    let mut state = shared.write();
    let mut errors = Vec::new();
    let mut affected = 0;
    for id in &ids {
        let Some(i) = state.alerts.get(id) else {
            errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "alert not found",
                id,
            ));
            continue;
        };
        let alert = &mut state.tenant.alerts[i];
        for (name, value) in &actions {
            apply_alert_action(alert, name, value)?;
        }
        alert.updated_timestamp = Timestamp::now();
        affected += 1;
    }
    let payload = Payload {
        resources: Some(json!([])),
        errors,
        resources_affected: Some(affected),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, ALERTS, payload))
}

fn apply_alert_action(alert: &mut Alert, name: &str, value: &str) -> Result<(), Failure> {
    match name {
        "update_status" if matches!(value, "new" | "in_progress" | "closed" | "reopened") => {
            alert.status = value.to_owned();
        }
        "update_status" => return Err(Failure::bad_request(format!("invalid status: {value}"))),
        "assign_to_uuid" => alert.assigned_to_uuid = value.to_owned(),
        "unassign" => alert.assigned_to_uuid.clear(),
        "add_tag" if !alert.tags.iter().any(|t| t == value) => alert.tags.push(value.to_owned()),
        "add_tag" => {}
        "remove_tag" => alert.tags.retain(|t| t != value),
        "remove_tags_by_prefix" => alert.tags.retain(|t| !t.starts_with(value)),
        "append_comment" => alert.comments.push(value.to_owned()),
        "show_in_ui" => alert.show_in_ui = value == "true",
        "assign_to_user_id" | "assign_to_name" | "new_behavior_processed" => {}
        other => {
            return Err(Failure::bad_request(format!(
                "invalid action parameter: {other}"
            )));
        }
    }
    Ok(())
}

/// The console alert links point at.
const CONSOLE: &str = "https://falcon.crowdstrike.com";
/// The Windows SID generated alerts name as the acting user.
const USER_SID: &str = "S-1-5-21-1000000000-2000000000-3000000000-1001";

fn full_name(user: &crate::tenant::User) -> String {
    format!("{} {}", user.first_name, user.last_name)
}

fn severity_name(severity: u32) -> &'static str {
    match severity {
        0..=19 => "Informational",
        20..=39 => "Low",
        40..=59 => "Medium",
        60..=79 => "High",
        _ => "Critical",
    }
}

/// An alert as `PostEntitiesAlertsV2` returns it: the captured shape, with the
/// embedded device subset.
pub(super) fn alert_view(state: &TenantState, cid: &str, a: &Alert) -> Value {
    let host = state.hosts.get(&a.agent_id).map(|i| &state.tenant.hosts[i]);
    let process = a.id.rsplit(':').next().unwrap_or_default();
    let pid = process.split('-').next().unwrap_or_default();
    let graph = |kind: &str, id: &str| format!("{kind}:{}:{id}", a.agent_id);
    let assignee = state.user(&a.assigned_to_uuid);
    json!({
        "agent_id": a.agent_id,
        "aggregate_id": graph("aggind", pid),
        "alleged_filetype": a.filename.rsplit('.').next().unwrap_or("exe"),
        "assigned_to_name": assignee.map(full_name).unwrap_or_default(),
        "assigned_to_uid": assignee.map(|u| u.uid.clone()).unwrap_or_default(),
        "assigned_to_uuid": a.assigned_to_uuid,
        "cid": cid,
        "cloud_indicator": "false",
        "cmdline": a.cmdline,
        "comments": a.comments,
        "composite_id": a.composite_id,
        "confidence": 10 + a.severity / 2,
        "context_timestamp": stamp(a.timestamp),
        "control_graph_id": graph("ctg", pid),
        "crawl_edge_ids": {"Sensor": [a.sha256[..24].to_owned()]},
        "crawl_vertex_ids": {"Sensor": [graph("aggind", pid), a.id.clone()]},
        "crawled_timestamp": stamp(a.updated_timestamp),
        "created_timestamp": stamp(a.created_timestamp),
        "data_domains": ["Endpoint"],
        "description": a.description,
        "device": host.map_or(Value::Null, |h| embedded_device(cid, h)),
        "display_name": a.name,
        "falcon_host_link": format!("{CONSOLE}/activity-v2/detections/{}", a.composite_id),
        "filename": a.filename,
        "filepath": format!("\\Device\\HarddiskVolume3\\Temp\\{}", a.filename),
        "grandparent_details": process_details(a, "userinit.exe", pid),
        "has_script_or_module_ioc": "false",
        "id": a.id,
        "indicator_id": a.id,
        "ioc_context": [{
            "ioc_description": format!("\\Device\\HarddiskVolume3\\Temp\\{}", a.filename),
            "ioc_source": "library_load",
            "ioc_type": "hash_sha256",
            "ioc_value": a.sha256,
            "md5": a.sha256[..32].to_owned(),
            "sha256": a.sha256,
            "type": "module",
        }],
        "ioc_values": [],
        "is_synthetic_quarantine_disposition": false,
        "local_process_id": "4328",
        "logon_domain": host.map(|h| h.machine_domain.clone()).unwrap_or_default(),
        "md5": a.sha256[..32].to_owned(),
        "name": a.name,
        "objective": "Falcon Detection Method",
        "parent_details": process_details(a, "explorer.exe", pid),
        "parent_process_id": pid,
        "pattern_disposition": 2048,
        "pattern_disposition_description": "Detection, standard detection.",
        "pattern_disposition_details": disposition_flags(),
        "pattern_id": a.pattern_id,
        "platform": host.map(|h| h.platform_name.clone()).unwrap_or_default(),
        "poly_id": format!("AAC{}", &a.sha256[..40]),
        "process_end_time": (a.timestamp.as_second() + 8).to_string(),
        "process_id": pid,
        "process_start_time": a.timestamp.as_second().to_string(),
        "product": "epp",
        "quarantined_files": [{
            "filename": format!("\\Device\\HarddiskVolume3\\Temp\\{}", a.filename),
            "id": format!("{}_{}", a.agent_id, a.sha256),
            "sha256": a.sha256,
            "state": if a.severity >= 60 { "quarantined" } else { "released" },
        }],
        "scenario": "suspicious_activity",
        "severity": a.severity,
        "severity_name": severity_name(a.severity),
        "sha1": "0000000000000000000000000000000000000000",
        "sha256": a.sha256,
        "show_in_ui": a.show_in_ui,
        "source_products": ["Falcon Insight"],
        "source_vendors": ["CrowdStrike"],
        "status": a.status,
        "tactic": a.tactic,
        "tactic_id": a.tactic_id,
        "tags": a.tags,
        "technique": a.technique,
        "technique_id": a.technique_id,
        "timestamp": stamp(a.timestamp),
        "tree_id": &pid[..7.min(pid.len())],
        "tree_root": &pid[pid.len().saturating_sub(8)..],
        "triggering_process_graph_id": graph("pid", pid),
        "type": "ldt",
        "updated_timestamp": stamp(a.updated_timestamp),
        "user_id": USER_SID,
        "user_name": a.user_name,
    })
}

fn process_details(a: &Alert, file: &str, pid: &str) -> Value {
    json!({
        "cmdline": format!("C:\\Windows\\{file}"),
        "filename": file,
        "filepath": format!("\\Device\\HarddiskVolume3\\Windows\\{file}"),
        "local_process_id": "1040",
        "md5": a.sha256[32..].to_owned(),
        "process_graph_id": format!("pid:{}:{pid}", a.agent_id),
        "process_id": pid,
        "sha256": a.sha256,
        "timestamp": stamp(a.timestamp),
        "user_graph_id": format!("uid:{}:{USER_SID}", a.agent_id),
        "user_id": USER_SID,
        "user_name": a.user_name,
    })
}

fn disposition_flags() -> Value {
    let names = [
        "blocking_unsupported_or_disabled",
        "bootup_safeguard_enabled",
        "critical_process_disabled",
        "detect",
        "fs_operation_blocked",
        "handle_operation_downgraded",
        "inddet_mask",
        "indicator",
        "kill_action_failed",
        "kill_parent",
        "kill_process",
        "kill_subprocess",
        "operation_blocked",
        "policy_disabled",
        "process_blocked",
        "quarantine_file",
        "quarantine_machine",
        "registry_operation_blocked",
        "rooting",
        "sensor_only",
        "suspend_parent",
        "suspend_process",
    ];
    Value::Object(
        names
            .iter()
            .map(|n| ((*n).to_owned(), json!(*n == "detect")))
            .collect(),
    )
}

/// The host's Active Directory OUs; hosts outside a domain sit in `Workgroup`.
fn organisational_units(h: &Host) -> Vec<String> {
    match h.machine_domain.split('.').next() {
        Some(domain) if !domain.is_empty() => vec![domain.to_owned(), "Computers".to_owned()],
        _ => vec!["Workgroup".to_owned()],
    }
}

fn embedded_device(cid: &str, h: &Host) -> Value {
    json!({
        "agent_load_flags": "0",
        "agent_local_time": stamp(h.last_seen),
        "agent_version": h.agent_version,
        "bios_manufacturer": h.system_manufacturer,
        "bios_version": "1.0",
        "cid": cid,
        "config_id_base": "65994763",
        "config_id_build": h.agent_version.split('.').nth(2).unwrap_or("0"),
        "config_id_platform": "3",
        "device_id": h.device_id,
        "external_ip": h.external_ip,
        "first_seen": stamp(h.first_seen),
        "groups": h.groups,
        "hostinfo": {
            "active_directory_dn_display": organisational_units(h),
            "domain": h.machine_domain,
        },
        "hostname": h.hostname,
        "last_seen": stamp(h.last_seen),
        "local_ip": h.local_ip,
        "mac_address": h.mac_address,
        "machine_domain": h.machine_domain,
        "major_version": "10",
        "minor_version": "0",
        "modified_timestamp": stamp(h.last_seen),
        "os_version": h.os_version,
        "ou": organisational_units(h),
        "platform_id": "0",
        "platform_name": h.platform_name,
        "pod_labels": null,
        "product_type": "1",
        "product_type_desc": h.product_type_desc,
        "site_name": "Default-First-Site-Name",
        "status": h.status,
        "system_manufacturer": h.system_manufacturer,
        "system_product_name": h.system_product_name,
    })
}

// ---- incidents ----------------------------------------------------------------------

fn incident_ids(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let window = Window::from_params(params, 100, 500, false)?;
    let filter = filter_of(params.get("filter"), INCIDENT_FIELDS)?;
    let sort = sort_of(params.get("sort"), INCIDENT_FIELDS)?;
    let state = shared.read();
    let t = &state.tenant;
    let doc = |i: &Incident| incident_view(&state, shared.cid(), i);
    let hits = select(&t.incidents, |_| true, doc, filter.as_ref(), sort.as_ref());
    let ids: Vec<Value> = hits
        .iter()
        .map(|i| json!(t.incidents[*i].incident_id))
        .collect();
    Ok(ctx.respond(StatusCode::OK, INCIDENTS, paged(window, &ids)))
}

fn incidents_by_id(shared: &Shared, ctx: &Ctx, ids: &[String]) -> Response {
    let state = shared.read();
    let t = &state.tenant;
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for id in ids {
        match state.incidents.get(id) {
            Some(i) => found.push(incident_view(&state, shared.cid(), &t.incidents[i])),
            None => errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "incident not found",
                id,
            )),
        }
    }
    entities(ctx, INCIDENTS, found, errors)
}

fn act_on_incidents(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let ids = dedup(strings(body, "ids"));
    if ids.is_empty() || ids.len() > 5000 {
        return Err(Failure::bad_request(
            "ids must contain between 1 and 5000 ids",
        ));
    }
    let actions = action_parameters(body);
    if actions.is_empty() {
        return Err(Failure::bad_request(
            "action_parameters in body is required",
        ));
    }
    let mut state = shared.write();
    let mut errors = Vec::new();
    for id in &ids {
        let Some(i) = state.incidents.get(id) else {
            errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "incident not found",
                id,
            ));
            continue;
        };
        let incident = &mut state.tenant.incidents[i];
        for (name, value) in &actions {
            apply_incident_action(incident, name, value)?;
        }
        incident.modified_timestamp = Timestamp::now();
    }
    let updated = json!([{"detections_updated": [], "detections_unchanged": []}]);
    let payload = Payload {
        resources: Some(updated),
        errors,
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, INCIDENTS, payload))
}

fn apply_incident_action(incident: &mut Incident, name: &str, value: &str) -> Result<(), Failure> {
    match name {
        "update_status" => {
            let status: u32 = match value {
                "20" | "25" | "30" | "40" => value.parse().unwrap_or(20),
                _ => return Err(Failure::bad_request(format!("invalid status: {value}"))),
            };
            incident.status = status;
            incident.state = if status == 40 { "closed" } else { "open" }.to_owned();
        }
        "add_tag" if !incident.tags.iter().any(|t| t == value) => {
            incident.tags.push(value.to_owned())
        }
        "add_tag" => {}
        // Falcon accepts comments but the incidents API never shows them:
        // `domain.Incident` has no comments field (they live in the console's
        // activity log), so the only visible effect is `modified_timestamp`.
        "add_comment" => {}
        "delete_tag" => incident.tags.retain(|t| t != value),
        "update_name" => incident.name = value.to_owned(),
        "update_description" => incident.description = value.to_owned(),
        "update_assigned_to_v2" => incident.assigned_to = value.to_owned(),
        "unassign" => incident.assigned_to.clear(),
        other => {
            return Err(Failure::bad_request(format!(
                "invalid action parameter: {other}"
            )));
        }
    }
    Ok(())
}

fn incident_view(state: &TenantState, cid: &str, i: &Incident) -> Value {
    let t = &state.tenant;
    let alerts: Vec<&Alert> = i
        .alert_ids
        .iter()
        .filter_map(|id| state.alerts.get(id).map(|n| &t.alerts[n]))
        .collect();
    let unique = |f: &dyn Fn(&Alert) -> String| {
        let mut out: Vec<String> = alerts.iter().map(|a| f(a)).collect();
        out.sort();
        out.dedup();
        out
    };
    let assignee = state.user(&i.assigned_to);
    let hosts: Vec<Value> = i
        .host_ids
        .iter()
        .filter_map(|id| state.hosts.get(id))
        .map(|n| embedded_device(cid, &t.hosts[n]))
        .collect();
    json!({
        "incident_id": i.incident_id,
        "incident_type": 1,
        "cid": cid,
        "host_ids": i.host_ids,
        "hosts": hosts,
        "created": stamp(i.created),
        "start": stamp(i.start),
        "end": stamp(i.end),
        "state": i.state,
        "status": i.status,
        "fine_score": i.fine_score,
        "sort_score": i.fine_score,
        "name": i.name,
        "description": i.description,
        "assigned_to": i.assigned_to,
        "assigned_to_name": assignee.map(full_name).unwrap_or_default(),
        "tags": i.tags,
        "tactics": unique(&|a| a.tactic.clone()),
        "techniques": unique(&|a| a.technique.clone()),
        "objectives": ["Falcon Detection Method"],
        "users": unique(&|a| a.user_name.clone()),
        "modified_timestamp": stamp(i.modified_timestamp),
        "email_state": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::{Tenant, TenantSpec};

    #[test]
    fn severity_buckets_follow_falcon() {
        let names: Vec<&str> = [10, 20, 45, 79, 80].map(severity_name).to_vec();
        assert_eq!(
            names,
            ["Informational", "Low", "Medium", "High", "Critical"]
        );
    }

    #[test]
    fn alert_actions_change_status_and_tags() {
        let mut alert = Tenant::generate(&TenantSpec::demo()).alerts[0].clone();
        apply_alert_action(&mut alert, "update_status", "closed").expect("valid status");
        apply_alert_action(&mut alert, "add_tag", "t").expect("tag");
        apply_alert_action(&mut alert, "add_tag", "t").expect("tag again");
        assert_eq!((alert.status.as_str(), alert.tags.len()), ("closed", 1));
        assert!(apply_alert_action(&mut alert, "update_status", "done").is_err());
        assert!(apply_alert_action(&mut alert, "explode", "").is_err());
    }

    #[test]
    fn incident_status_sets_state() {
        let mut incident = Tenant::generate(&TenantSpec::demo()).incidents[0].clone();
        apply_incident_action(&mut incident, "update_status", "40").expect("closed");
        assert_eq!((incident.status, incident.state.as_str()), (40, "closed"));
        assert!(apply_incident_action(&mut incident, "update_status", "closed").is_err());
    }
}
