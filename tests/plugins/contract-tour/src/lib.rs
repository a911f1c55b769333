//! A test plugin that tours the alerts, incidents, iocs and host-groups
//! interfaces: the input's `mode` (`alerts.list`, `iocs.create`, ...) names
//! one function, the other input fields are its arguments, and the report
//! is the function's result as JSON (`{"ok": ...}` or `{"error": ...}`).
//! `steps`, a list of such objects, runs several calls in one run.
//!
//! Filters: `filter` is raw FQL; `where` is an object of `field: value` (or
//! a list of values) turned into a structured filter; neither means all.

use falcon_sdk::{Comparison, Condition, Error, Filter, Input, Plugin};
use falcon_sdk::{alerts, host_groups, incidents, iocs};
use serde_json::{Map, Value, json};

falcon_sdk::manifest! {
    name: "contract-tour",
    version: "0.1.0",
    description: "Calls the alerts, incidents, iocs and host-groups functions named by its input",
    scopes: [
        "detections:read", "detections:write", "incidents:read", "incidents:write",
        "custom-ioc:read", "custom-ioc:write", "host-groups:read", "host-groups:write",
    ],
}

struct ContractTour;

impl Plugin for ContractTour {
    fn run(input: Input) -> Result<String, String> {
        let whole: Map<String, Value> = input
            .keys()
            .filter_map(|k| input.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
        let report = match whole.get("steps") {
            Some(Value::Array(steps)) => Value::Array(
                steps
                    .iter()
                    .map(|step| match step {
                        Value::Object(args) => step_result(&Args(args)),
                        _ => Err("each step is an object".to_owned()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => step_result(&Args(&whole))?,
        };
        Ok(report.to_string())
    }
}

falcon_sdk::export_plugin!(ContractTour);

/// One call's arguments.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn str(&self, key: &str) -> Option<String> {
        self.0.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn required(&self, key: &str) -> Result<String, String> {
        self.str(key)
            .ok_or_else(|| format!("input field `{key}` is required"))
    }

    fn strings(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        }
    }

    fn opt_strings(&self, key: &str) -> Option<Vec<String>> {
        self.0.get(key).map(|_| self.strings(key))
    }

    fn filter(&self) -> Filter {
        if let Some(fql) = self.str("filter") {
            return Filter::Fql(fql);
        }
        match self.0.get("where") {
            Some(Value::Object(fields)) => Filter::AllOf(
                fields
                    .iter()
                    .map(|(field, value)| Condition {
                        field: field.clone(),
                        op: Comparison::Equals,
                        values: match value {
                            Value::Array(v) => v
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect(),
                            Value::String(s) => vec![s.clone()],
                            other => vec![other.to_string()],
                        },
                    })
                    .collect(),
            ),
            _ => Filter::All,
        }
    }
}

fn step_result(args: &Args<'_>) -> Result<Value, String> {
    let mode = args.required("mode")?;
    let (area, function) = mode
        .split_once('.')
        .ok_or_else(|| format!("mode `{mode}` is not `area.function`"))?;
    match area {
        "alerts" => alert_call(function, args),
        "incidents" => incident_call(function, args),
        "iocs" => ioc_call(function, args),
        "host-groups" => group_call(function, args),
        _ => Err(format!("unknown area `{area}`")),
    }
}

/// The JSON report of one call.
fn outcome<T>(result: Result<T, Error>, show: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(value) => json!({ "ok": show(value) }),
        Err(e) => json!({
            "error": {
                "kind": kind(&e),
                "message": e.message(),
                "debug": format!("{e:?}"),
            }
        }),
    }
}

/// The error's variant, `NotGranted` for example, from its `Debug` form, so
/// that variants added to the contract later still show.
fn kind(e: &Error) -> String {
    let debug = format!("{e:?}");
    let head = debug.split(['(', ' ', '{']).next().unwrap_or_default();
    head.rsplit("::").next().unwrap_or_default().to_owned()
}

fn unknown(area: &str, function: &str) -> Result<Value, String> {
    Err(format!("unknown function `{area}.{function}`"))
}

// ---- alerts -------------------------------------------------------------------------

fn alert_call(function: &str, args: &Args<'_>) -> Result<Value, String> {
    let sort = args.str("sort");
    Ok(match function {
        "list" => outcome(
            alerts::list_alerts(&args.filter(), sort.as_deref()),
            |ids| json!(ids),
        ),
        "get" => outcome(alerts::get_alerts(&args.strings("ids")), alert_list),
        "query" => outcome(
            alerts::query_alerts(&args.filter(), sort.as_deref()),
            alert_list,
        ),
        "update" => {
            let status = match args.str("status").as_deref() {
                None => None,
                Some("new") => Some(alerts::AlertStatus::New),
                Some("in-progress") => Some(alerts::AlertStatus::InProgress),
                Some("reopened") => Some(alerts::AlertStatus::Reopened),
                Some("closed") => Some(alerts::AlertStatus::Closed),
                Some(other) => return Err(format!("unknown alert status `{other}`")),
            };
            let assign = args.str("assign").map(|a| match a.as_str() {
                "nobody" => alerts::Assignee::Nobody,
                _ => alerts::Assignee::User(a),
            });
            let update = alerts::AlertUpdate {
                status,
                assign,
                add_tags: args.strings("add_tags"),
                remove_tags: args.strings("remove_tags"),
                comment: args.str("comment"),
            };
            outcome(alerts::update_alerts(&args.strings("ids"), &update), |r| {
                json!({
                    "updated": r.updated,
                    "refused": refusals(r.refused.iter().map(|x| (&x.id, &x.message))),
                })
            })
        }
        _ => return unknown("alerts", function),
    })
}

fn alert_list(found: Vec<alerts::Alert>) -> Value {
    found
        .into_iter()
        .map(|a| {
            json!({
                "composite_id": a.composite_id,
                "id": a.id,
                "agent_id": a.agent_id,
                "status": a.status,
                "severity": a.severity,
                "severity_name": a.severity_name,
                "name": a.name,
                "display_name": a.display_name,
                "description": a.description,
                "product": a.product,
                "tactic": a.tactic,
                "technique": a.technique,
                "tags": a.tags,
                "assigned_to_uuid": a.assigned_to_uuid,
                "assigned_to_name": a.assigned_to_name,
                "created_timestamp": a.created_timestamp,
                "updated_timestamp": a.updated_timestamp,
                "raw": raw(&a.raw_json),
            })
        })
        .collect()
}

fn refusals<'a>(each: impl Iterator<Item = (&'a String, &'a String)>) -> Value {
    each.map(|(id, message)| json!({ "id": id, "message": message }))
        .collect()
}

fn raw(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

// ---- incidents ----------------------------------------------------------------------

fn incident_status(name: &str) -> Result<incidents::IncidentStatus, String> {
    Ok(match name {
        "new" => incidents::IncidentStatus::New,
        "reopened" => incidents::IncidentStatus::Reopened,
        "in-progress" => incidents::IncidentStatus::InProgress,
        "closed" => incidents::IncidentStatus::Closed,
        other => return Err(format!("unknown incident status `{other}`")),
    })
}

fn status_name(status: incidents::IncidentStatus) -> &'static str {
    match status {
        incidents::IncidentStatus::New => "new",
        incidents::IncidentStatus::Reopened => "reopened",
        incidents::IncidentStatus::InProgress => "in-progress",
        incidents::IncidentStatus::Closed => "closed",
    }
}

fn incident_call(function: &str, args: &Args<'_>) -> Result<Value, String> {
    let sort = args.str("sort");
    Ok(match function {
        "list" => outcome(
            incidents::list_incidents(&args.filter(), sort.as_deref()),
            |ids| json!(ids),
        ),
        "get" => outcome(
            incidents::get_incidents(&args.strings("ids")),
            incident_list,
        ),
        "query" => outcome(
            incidents::query_incidents(&args.filter(), sort.as_deref()),
            incident_list,
        ),
        "update" => {
            let status = args
                .str("status")
                .map(|s| incident_status(&s))
                .transpose()?;
            let assign = args.str("assign").map(|a| match a.as_str() {
                "nobody" => incidents::Assignee::Nobody,
                _ => incidents::Assignee::User(a),
            });
            let update = incidents::IncidentUpdate {
                status,
                assign,
                add_tags: args.strings("add_tags"),
                remove_tags: args.strings("remove_tags"),
                comment: args.str("comment"),
            };
            outcome(
                incidents::update_incidents(&args.strings("ids"), &update),
                |r| {
                    json!({
                        "updated": r.updated,
                        "refused": refusals(r.refused.iter().map(|x| (&x.id, &x.message))),
                    })
                },
            )
        }
        _ => return unknown("incidents", function),
    })
}

fn incident_list(found: Vec<incidents::Incident>) -> Value {
    found
        .into_iter()
        .map(|i| {
            json!({
                "incident_id": i.incident_id,
                "host_ids": i.host_ids,
                "state": i.state,
                "status": i.status.map(status_name),
                "fine_score": i.fine_score,
                "name": i.name,
                "description": i.description,
                "tags": i.tags,
                "assigned_to": i.assigned_to,
                "start": i.start,
                "end": i.end,
                "raw": raw(&i.raw_json),
            })
        })
        .collect()
}

// ---- iocs ---------------------------------------------------------------------------

fn ioc_action(name: &str) -> Result<iocs::IocAction, String> {
    Ok(match name {
        "no_action" => iocs::IocAction::NoAction,
        "allow" => iocs::IocAction::Allow,
        "detect" => iocs::IocAction::Detect,
        "prevent" => iocs::IocAction::Prevent,
        "prevent_no_ui" => iocs::IocAction::PreventNoUi,
        other => return Err(format!("unknown ioc action `{other}`")),
    })
}

fn ioc_severity(name: &str) -> Result<iocs::IocSeverity, String> {
    Ok(match name {
        "informational" => iocs::IocSeverity::Informational,
        "low" => iocs::IocSeverity::Low,
        "medium" => iocs::IocSeverity::Medium,
        "high" => iocs::IocSeverity::High,
        "critical" => iocs::IocSeverity::Critical,
        other => return Err(format!("unknown ioc severity `{other}`")),
    })
}

fn ioc_platforms(names: &[String]) -> Result<Vec<iocs::IocPlatform>, String> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "windows" => Ok(iocs::IocPlatform::Windows),
            "mac" => Ok(iocs::IocPlatform::Mac),
            "linux" => Ok(iocs::IocPlatform::Linux),
            other => Err(format!("unknown platform `{other}`")),
        })
        .collect()
}

fn ioc_type(name: &str) -> Result<iocs::IocType, String> {
    Ok(match name {
        "sha256" => iocs::IocType::Sha256,
        "md5" => iocs::IocType::Md5,
        "domain" => iocs::IocType::Domain,
        "ipv4" => iocs::IocType::Ipv4,
        "ipv6" => iocs::IocType::Ipv6,
        other => return Err(format!("unknown ioc type `{other}`")),
    })
}

/// `host_groups` given: those groups; `every_host: true`: every host.
fn applies_to(args: &Args<'_>) -> Option<iocs::AppliesTo> {
    if let Some(groups) = args.opt_strings("host_groups") {
        return Some(iocs::AppliesTo::HostGroups(groups));
    }
    args.0
        .get("every_host")
        .and_then(Value::as_bool)
        .filter(|every| *every)
        .map(|_| iocs::AppliesTo::EveryHost)
}

fn ioc_call(function: &str, args: &Args<'_>) -> Result<Value, String> {
    let sort = args.str("sort");
    Ok(match function {
        "list" => outcome(iocs::list_iocs(&args.filter(), sort.as_deref()), |ids| {
            json!(ids)
        }),
        "get" => outcome(iocs::get_iocs(&args.strings("ids")), ioc_list),
        "query" => outcome(iocs::query_iocs(&args.filter(), sort.as_deref()), ioc_list),
        "create" => {
            let ioc_type = ioc_type(&args.required("type")?)?;
            let action = ioc_action(&args.required("action")?)?;
            let severity = args.str("severity").map(|s| ioc_severity(&s)).transpose()?;
            let platforms = ioc_platforms(&args.strings("platforms"))?;
            let applies = applies_to(args).unwrap_or(iocs::AppliesTo::EveryHost);
            let new: Vec<iocs::NewIoc> = args
                .strings("values")
                .into_iter()
                .map(|value| iocs::NewIoc {
                    ioc_type,
                    value,
                    action,
                    severity,
                    description: args.str("description"),
                    platforms: platforms.clone(),
                    tags: args.strings("tags"),
                    applies_to: applies.clone(),
                })
                .collect();
            outcome(iocs::create_iocs(&new), ioc_list)
        }
        "update" => {
            let action = args.str("action").map(|a| ioc_action(&a)).transpose()?;
            let severity = args.str("severity").map(|s| ioc_severity(&s)).transpose()?;
            let platforms = args
                .opt_strings("platforms")
                .map(|p| ioc_platforms(&p))
                .transpose()?;
            let changes: Vec<iocs::IocChange> = args
                .strings("ids")
                .into_iter()
                .map(|id| iocs::IocChange {
                    id,
                    action,
                    severity,
                    description: args.str("description"),
                    platforms: platforms.clone(),
                    tags: args.opt_strings("tags"),
                    applies_to: applies_to(args),
                })
                .collect();
            outcome(
                iocs::update_iocs(&changes, args.str("comment").as_deref()),
                |r| {
                    json!({
                        "updated": ioc_list(r.updated),
                        "refused": refusals(r.refused.iter().map(|x| (&x.id, &x.message))),
                    })
                },
            )
        }
        "delete" => outcome(iocs::delete_iocs(&args.strings("ids")), |()| Value::Null),
        _ => return unknown("iocs", function),
    })
}

fn ioc_list(found: Vec<iocs::Ioc>) -> Value {
    found
        .into_iter()
        .map(|i| {
            json!({
                "id": i.id,
                "type": i.ioc_type,
                "value": i.value,
                "action": i.action,
                "severity": i.severity,
                "description": i.description,
                "platforms": i.platforms,
                "tags": i.tags,
                "applied_globally": i.applied_globally,
                "host_groups": i.host_groups,
                "expiration": i.expiration,
                "created_on": i.created_on,
                "modified_on": i.modified_on,
                "raw": raw(&i.raw_json),
            })
        })
        .collect()
}

// ---- host groups --------------------------------------------------------------------

fn group_call(function: &str, args: &Args<'_>) -> Result<Value, String> {
    let sort = args.str("sort");
    Ok(match function {
        "list" => outcome(
            host_groups::list_host_groups(&args.filter(), sort.as_deref()),
            |ids| json!(ids),
        ),
        "get" => outcome(
            host_groups::get_host_groups(&args.strings("ids")),
            group_list,
        ),
        "query" => outcome(
            host_groups::query_host_groups(&args.filter(), sort.as_deref()),
            group_list,
        ),
        "create" => {
            let group_type = match args.str("group_type").as_deref().unwrap_or("static") {
                "static" => host_groups::GroupType::StaticByName,
                "dynamic" => host_groups::GroupType::Dynamic,
                "staticByID" => host_groups::GroupType::StaticById,
                other => return Err(format!("unknown group type `{other}`")),
            };
            let group = host_groups::NewHostGroup {
                name: args.required("name")?,
                group_type,
                description: args.str("description"),
                assignment_rule: args.str("assignment_rule"),
            };
            outcome(host_groups::create_host_group(&group), |g| {
                group_list(vec![g])
            })
        }
        "update" => {
            let change = host_groups::HostGroupChange {
                id: args.required("id")?,
                name: args.str("name"),
                description: args.str("description"),
                assignment_rule: args.str("assignment_rule"),
            };
            outcome(host_groups::update_host_group(&change), |g| {
                group_list(vec![g])
            })
        }
        "delete" => outcome(
            host_groups::delete_host_groups(&args.strings("ids")),
            |()| Value::Null,
        ),
        "add-hosts" => outcome(
            host_groups::add_hosts(&args.required("id")?, &args.strings("hosts")),
            |()| Value::Null,
        ),
        "remove-hosts" => outcome(
            host_groups::remove_hosts(&args.required("id")?, &args.strings("hosts")),
            |()| Value::Null,
        ),
        "list-members" => outcome(
            host_groups::list_members(&args.required("id")?, &args.filter()),
            |ids| json!(ids),
        ),
        _ => return unknown("host-groups", function),
    })
}

fn group_list(found: Vec<host_groups::HostGroup>) -> Value {
    found
        .into_iter()
        .map(|g| {
            json!({
                "id": g.id,
                "name": g.name,
                "description": g.description,
                "group_type": g.group_type,
                "assignment_rule": g.assignment_rule,
                "created_timestamp": g.created_timestamp,
                "modified_timestamp": g.modified_timestamp,
                "raw": raw(&g.raw_json),
            })
        })
        .collect()
}
