//! Custom IOCs (`/iocs/...`, IOC Management): search with offset or `after`,
//! combined, entities, create, update, delete.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::envelope::{ApiError, Ctx, Failure, Payload};
use super::params::{Params, json_body};
use super::query::{
    Cursor, OFFSET_WINDOW, Outcome, entities, filter_of, query_ids, select, sort_of, stamp,
    strings, text,
};
use super::state::TenantState;
use super::{Shared, scoped};
use crate::tenant::Ioc;

const SERVICE: &str = "ioc-manager";
const READ: &str = "ioc:read";
const WRITE: &str = "ioc:write";
const MAX_IDS: usize = 2000;
const FIELDS: &[&str] = &[
    "id",
    "type",
    "value",
    "action",
    "severity",
    "severity_number",
    "description",
    "source",
    "platforms",
    "tags",
    "applied_globally",
    "host_groups",
    "expiration",
    "expired",
    "created_by",
    "created_on",
    "modified_by",
    "modified_on",
    "deleted",
];
const TYPES: &[&str] = &["sha256", "md5", "domain", "ipv4", "ipv6"];
const ACTIONS: &[&str] = &["no_action", "allow", "detect", "prevent", "prevent_no_ui"];
const SEVERITIES: &[&str] = &["informational", "low", "medium", "high", "critical"];
/// The values of `/iocs/queries/platforms/v1`.
const PLATFORMS: &[&str] = &["windows", "mac", "linux", "ios", "android"];

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/iocs/queries/indicators/v1", scoped(READ, get(search)))
        .route("/iocs/combined/indicator/v1", scoped(READ, get(combined)))
        .route(
            "/iocs/entities/indicators/v1",
            scoped(READ, get(by_ids)).merge(scoped(
                WRITE,
                axum::routing::post(create).patch(update).delete(remove),
            )),
        )
}

fn finish(ctx: &Ctx, outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|failure| failure.render(ctx, SERVICE))
}

async fn search(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(&ctx, page(&s, &ctx, &Params::parse(q.0.as_deref()), false))
}

async fn combined(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(&ctx, page(&s, &ctx, &Params::parse(q.0.as_deref()), true))
}

async fn by_ids(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    let params = Params::parse(q.0.as_deref());
    let outcome = query_ids(&params, MAX_IDS).map(|ids| {
        let state = s.read();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for id in &ids {
            match state.iocs.get(id) {
                Some(i) => out.push(ioc_view(&state.tenant.iocs[i])),
                None => errors.push(ApiError::for_id(
                    StatusCode::NOT_FOUND,
                    "indicator not found",
                    id,
                )),
            }
        }
        entities(&ctx, SERVICE, out, errors)
    });
    finish(&ctx, outcome)
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

async fn remove(s: State<Arc<Shared>>, ctx: Extension<Ctx>, q: RawQuery) -> Response {
    finish(&ctx, delete(&s, &ctx, &Params::parse(q.0.as_deref())))
}

/// Offset paging inside the 10,000 window, or `after` paging beyond it.
fn page(shared: &Shared, ctx: &Ctx, params: &Params, full: bool) -> Outcome {
    let limit = params.int("limit", 100, 1, 2000)? as usize;
    let binding = format!(
        "{}|{}",
        params.get("filter").unwrap_or(""),
        params.get("sort").unwrap_or("")
    );
    let (offset, start) = match params.get("after") {
        Some(token) => (
            0,
            Cursor::open(token, &binding)
                .map_err(|e| e.failure("after"))?
                .position,
        ),
        None => {
            let offset = params.int("offset", 0, 0, i64::from(u32::MAX))? as usize;
            if offset + limit > OFFSET_WINDOW {
                return Err(Failure::bad_request(format!(
                    "offset {offset} and limit {limit} are invalid; offset + limit must be less \
                     than or equal to {OFFSET_WINDOW}; use 'after' to page further"
                )));
            }
            (offset, offset)
        }
    };
    let filter = filter_of(params.get("filter"), FIELDS)?;
    let sort = sort_of(params.get("sort"), FIELDS)?;
    let state = shared.read();
    let all = &state.tenant.iocs;
    let hits = select(all, |_| true, ioc_view, filter.as_ref(), sort.as_ref());
    let items: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| {
            if full {
                ioc_view(&all[*i])
            } else {
                json!(all[*i].id)
            }
        })
        .collect();
    let end = start + items.len();
    let after = if end < hits.len() {
        Cursor::new(end, &binding, shared.cursor_lifetime()).token()
    } else {
        String::new()
    };
    let pagination = json!({"offset": offset, "limit": limit, "total": hits.len(), "after": after});
    Ok(ctx.respond_with_pagination(StatusCode::OK, SERVICE, Value::Array(items), pagination))
}

fn one_of<'a>(
    item: &'a Value,
    name: &str,
    allowed: &[&str],
    default: Option<&'a str>,
) -> Result<&'a str, Failure> {
    let value = text(item, &[name])
        .or(default)
        .ok_or_else(|| Failure::bad_request(format!("{name} is required")))?;
    if !allowed.contains(&value) {
        return Err(Failure::bad_request(format!("invalid {name}: {value}")));
    }
    Ok(value)
}

fn insert(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let items = body
        .get("indicators")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty());
    let items = items.ok_or_else(|| Failure::bad_request("indicators in body is required"))?;
    if items.len() > MAX_IDS {
        return Err(Failure::bad_request(format!(
            "at most {MAX_IDS} indicators per request"
        )));
    }
    let mut state = shared.write();
    let mut created = Vec::new();
    for item in items {
        let ioc_type = one_of(item, "type", TYPES, None)?;
        let value =
            text(item, &["value"]).ok_or_else(|| Failure::bad_request("value is required"))?;
        if state
            .tenant
            .iocs
            .iter()
            .any(|i| i.ioc_type == ioc_type && i.value.eq_ignore_ascii_case(value))
        {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                format!("duplicate type: '{ioc_type}' and value: '{value}' combination"),
            ));
        }
        let (applied_globally, host_groups) = scope(&state, item, None)?;
        let platforms = platforms(item)?.unwrap_or_default();
        let now = Timestamp::now();
        let ioc = Ioc {
            id: state.fresh_hex(64),
            ioc_type: ioc_type.to_owned(),
            value: value.to_owned(),
            action: one_of(item, "action", ACTIONS, Some("detect"))?.to_owned(),
            severity: one_of(item, "severity", SEVERITIES, Some("medium"))?.to_owned(),
            description: text(item, &["description"]).unwrap_or_default().to_owned(),
            source: text(item, &["source"]).unwrap_or_default().to_owned(),
            platforms,
            tags: strings(item, "tags"),
            applied_globally,
            host_groups,
            expiration: text(item, &["expiration"]).and_then(|e| e.parse().ok()),
            created_by: "api-client".to_owned(),
            created_on: now,
            modified_by: "api-client".to_owned(),
            modified_on: now,
        };
        created.push(ioc_view(&ioc));
        state.tenant.iocs.push(ioc);
    }
    state.reindex_all();
    Ok(ctx.respond(
        StatusCode::CREATED,
        SERVICE,
        Payload::resources(Value::Array(created)),
    ))
}

/// The host scoping an indicator ends up with: `(applied_globally,
/// host_groups)`, from `item` over the indicator's `current` scoping (none
/// when creating). Falcon keeps the two exclusive: an indicator applies to
/// every host with no host groups, or to at least one host group. Setting
/// `applied_globally: true` drops the groups; naming groups on a global
/// indicator needs `applied_globally: false` with them. Groups must exist.
fn scope(
    state: &TenantState,
    item: &Value,
    current: Option<(bool, &[String])>,
) -> Result<(bool, Vec<String>), Failure> {
    let global = match item.get("applied_globally") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "applied_globally must be true or false, not {other}"
            )));
        }
    };
    let asked = match item.get("host_groups") {
        None | Some(Value::Null) => None,
        Some(Value::Array(_)) => Some(unique(strings(item, "host_groups"))),
        Some(_) => {
            return Err(Failure::bad_request(
                "host_groups must be a list of host group ids",
            ));
        }
    };
    if global == Some(true) && asked.as_ref().is_some_and(|g| !g.is_empty()) {
        return Err(Failure::bad_request(
            "host_groups cannot be set when applied_globally is true; send \
             applied_globally false to scope the indicator to host groups",
        ));
    }
    let (was_global, had) = current.unwrap_or((false, &[]));
    let now_global = global.unwrap_or(was_global);
    let groups = match asked {
        Some(groups) => groups,
        None if now_global => Vec::new(),
        None => had.to_vec(),
    };
    if now_global && !groups.is_empty() {
        return Err(Failure::bad_request(
            "the indicator applies to every host; send applied_globally false together \
             with host_groups to scope it to host groups",
        ));
    }
    if !now_global && groups.is_empty() {
        return Err(Failure::bad_request(if current.is_some() {
            "host_groups is required when applied_globally is false"
        } else {
            "applied_globally or host_groups is required"
        }));
    }
    if let Some(unknown) = groups.iter().find(|g| !state.groups.contains(g)) {
        return Err(Failure::bad_request(format!(
            "invalid host group id: {unknown}"
        )));
    }
    Ok((now_global, groups))
}

/// `items` without repeats, in first-seen order.
fn unique(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The `platforms` of `item` (validated), if given.
fn platforms(item: &Value) -> Result<Option<Vec<String>>, Failure> {
    match item.get("platforms") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(_)) => {
            let names = unique(strings(item, "platforms"));
            if let Some(bad) = names.iter().find(|p| !PLATFORMS.contains(&p.as_str())) {
                return Err(Failure::bad_request(format!(
                    "invalid platform: {bad} (one of {})",
                    PLATFORMS.join(", ")
                )));
            }
            Ok(Some(names))
        }
        Some(_) => Err(Failure::bad_request("platforms must be a list")),
    }
}

/// The changes of one update item, checked before anything is applied.
struct Change {
    index: usize,
    action: Option<String>,
    severity: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    platforms: Option<Vec<String>>,
    scope: (bool, Vec<String>),
}

/// Updates indicators. Every item is validated first and an invalid value
/// rejects the whole request (Falcon answers 400 for the request, not per
/// item), so nothing is half-applied; unknown ids are reported per id.
fn change(shared: &Shared, ctx: &Ctx, body: &Value) -> Outcome {
    let items = body
        .get("indicators")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.len() > MAX_IDS {
        return Err(Failure::bad_request(format!(
            "at most {MAX_IDS} indicators per request"
        )));
    }
    let mut state = shared.write();
    let (mut changes, mut errors) = (Vec::new(), Vec::new());
    for item in &items {
        let id = text(item, &["id"]).unwrap_or_default();
        let Some(index) = state.iocs.get(id) else {
            errors.push(ApiError::for_id(
                StatusCode::NOT_FOUND,
                "indicator not found",
                id,
            ));
            continue;
        };
        let ioc = &state.tenant.iocs[index];
        let given = |name: &str| item.get(name).is_some_and(|v| !v.is_null());
        let checked = (|| {
            Ok::<_, Failure>(Change {
                index,
                action: given("action")
                    .then(|| one_of(item, "action", ACTIONS, None).map(str::to_owned))
                    .transpose()?,
                severity: given("severity")
                    .then(|| one_of(item, "severity", SEVERITIES, None).map(str::to_owned))
                    .transpose()?,
                description: item
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                tags: given("tags").then(|| strings(item, "tags")),
                platforms: platforms(item)?,
                scope: scope(
                    &state,
                    item,
                    Some((ioc.applied_globally, ioc.host_groups.as_slice())),
                )?,
            })
        })();
        changes.push(
            checked
                .map_err(|f| Failure::new(f.status, format!("indicator {id}: {}", f.message)))?,
        );
    }
    let now = Timestamp::now();
    let mut changed = Vec::new();
    for c in changes {
        let ioc = &mut state.tenant.iocs[c.index];
        if let Some(action) = c.action {
            ioc.action = action;
        }
        if let Some(severity) = c.severity {
            ioc.severity = severity;
        }
        if let Some(description) = c.description {
            ioc.description = description;
        }
        if let Some(tags) = c.tags {
            ioc.tags = tags;
        }
        if let Some(platforms) = c.platforms {
            ioc.platforms = platforms;
        }
        (ioc.applied_globally, ioc.host_groups) = c.scope;
        ioc.modified_by = "api-client".to_owned();
        ioc.modified_on = now;
        changed.push(ioc_view(ioc));
    }
    let status = if changed.is_empty() && !errors.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let payload = Payload {
        resources: Some(Value::Array(changed)),
        errors,
        ..Payload::default()
    };
    Ok(ctx.respond(status, SERVICE, payload))
}

/// Deletes by `ids` or by `filter`; the filter wins when both are given.
fn delete(shared: &Shared, ctx: &Ctx, params: &Params) -> Outcome {
    let filter = filter_of(params.get("filter"), FIELDS)?;
    let ids = params.all("ids");
    if filter.is_none() && ids.is_empty() {
        return Err(Failure::bad_request("ids or filter is required"));
    }
    let mut state = shared.write();
    let now = Timestamp::now();
    let doomed: Vec<String> = match &filter {
        Some(f) => state
            .tenant
            .iocs
            .iter()
            .filter(|i| f.matches(&ioc_view(i), now))
            .map(|i| i.id.clone())
            .collect(),
        None => ids
            .iter()
            .filter(|id| state.iocs.contains(id))
            .cloned()
            .collect(),
    };
    let errors: Vec<ApiError> = if filter.is_some() {
        Vec::new()
    } else {
        ids.iter()
            .filter(|id| !doomed.contains(id))
            .map(|id| ApiError::for_id(StatusCode::NOT_FOUND, "indicator not found", id))
            .collect()
    };
    state.tenant.iocs.retain(|i| !doomed.contains(&i.id));
    state.reindex_all();
    let payload = Payload {
        resources: Some(json!(doomed)),
        errors,
        resources_affected: Some(doomed.len()),
        ..Payload::default()
    };
    Ok(ctx.respond(StatusCode::OK, SERVICE, payload))
}

fn severity_number(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(0) * 20 + 10
}

/// An IOC as the API serves it (`api.IndicatorV1`).
fn ioc_view(i: &Ioc) -> Value {
    let expired = i.expiration.is_some_and(|e| e <= Timestamp::now());
    json!({
        "id": i.id,
        "type": i.ioc_type,
        "value": i.value,
        "action": i.action,
        "mobile_action": "no_action",
        "severity": i.severity,
        "severity_number": severity_number(&i.severity),
        "description": i.description,
        "source": i.source,
        "platforms": i.platforms,
        "tags": i.tags,
        "host_groups": i.host_groups,
        "applied_globally": i.applied_globally,
        "expiration": i.expiration.map(stamp),
        "expired": expired,
        "deleted": false,
        "from_parent": false,
        "metadata": {"filename": ""},
        "created_by": i.created_by,
        "created_on": stamp(i.created_on),
        "modified_by": i.modified_by,
        "modified_on": stamp(i.modified_on),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_rise_with_severity() {
        let numbers: Vec<usize> = SEVERITIES.iter().map(|s| severity_number(s)).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn enumerations_are_validated() {
        let item = json!({"type": "url", "action": "detect"});
        assert!(one_of(&item, "type", TYPES, None).is_err());
        assert_eq!(one_of(&item, "action", ACTIONS, None).ok(), Some("detect"));
        assert_eq!(
            one_of(&item, "severity", SEVERITIES, Some("low")).ok(),
            Some("low")
        );
    }
}
