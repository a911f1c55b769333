//! A test plugin that tours the `policies`, `sensors` and `rtr` interfaces:
//! the input's `mode` picks which functions it calls, and it prints every
//! answer (or error) as JSON so the end-to-end tests can compare it with the
//! emulator's data.
//!
//! It deliberately does not request `response-policies:write`, so that a
//! response-policy change shows the gate picking the scope of the kind.

use falcon_sdk::policies::{self, PolicyKind};
use falcon_sdk::rtr::{self, HostStatus, Level};
use falcon_sdk::{Error, Filter, Input, Plugin, fql, sensors};
use serde_json::{Value, json};

falcon_sdk::manifest! {
    name: "contract-tour-ops",
    version: "0.1.0",
    description: "Calls each function of the policies, sensors and rtr interfaces",
    scopes: [
        "hosts:read",
        "prevention-policies:read",
        "prevention-policies:write",
        "response-policies:read",
        "sensor-update-policies:read",
        "sensor-update-policies:write",
        "sensor-versions:read",
        "real-time-response:read",
        "real-time-response:write",
        "real-time-response-admin:read",
        "real-time-response-admin:write",
    ],
}

struct ContractTourOps;

impl Plugin for ContractTourOps {
    fn run(input: Input) -> Result<String, String> {
        let mode = input.str_or("mode", "").map_err(|e| e.to_string())?;
        let out = match mode {
            "policies" => policies_read(&input)?,
            "policy-write" => policy_write(&input)?,
            "sensors" => sensors_read(&input)?,
            "rtr" => rtr_command(&input)?,
            "rtr-script" => rtr_script(&input)?,
            "rtr-files" => json!({
                "scripts": answer(rtr::list_scripts(&Filter::All), |f| files(&f)),
                "put_files": answer(rtr::list_put_files(&Filter::All), |f| files(&f)),
            }),
            other => {
                return Err(format!(
                    "unknown mode `{other}`; modes: policies, policy-write, sensors, rtr, \
                     rtr-script, rtr-files"
                ));
            }
        };
        Ok(out.to_string())
    }
}

/// The value of a call as JSON, or its error as `{"error": {...}}`.
fn answer<T>(result: Result<T, Error>, show: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(value) => json!({ "ok": show(value) }),
        Err(e) => json!({ "error": error(&e) }),
    }
}

fn error(e: &Error) -> Value {
    let kind = match e {
        Error::NotGranted(_) => "not-granted",
        Error::MissingApiScope(_) => "missing-api-scope",
        Error::NotFound(_) => "not-found",
        Error::RateLimited(_) => "rate-limited",
        Error::InvalidInput(_) => "invalid-input",
        Error::Upstream(_) => "upstream",
        Error::BudgetExhausted(_) => "budget-exhausted",
        Error::DryRun(_) => "dry-run",
        Error::NotApproved(_) => "not-approved",
        // Errors of interfaces this plugin does not call.
        _ => "other",
    };
    let mut out = json!({ "kind": kind, "message": e.message() });
    if let Error::NotGranted(d) = e {
        out["scope"] = json!(d.scope);
        out["operation"] = json!(d.operation);
        out["remedy"] = json!(d.remedy);
    }
    out
}

fn kind_of(input: &Input) -> Result<PolicyKind, String> {
    let kind = input
        .choice_or(
            "kind",
            &["prevention", "response", "sensor-update"],
            "prevention",
        )
        .map_err(|e| e.to_string())?;
    Ok(match kind {
        "response" => PolicyKind::Response,
        "sensor-update" => PolicyKind::SensorUpdate,
        _ => PolicyKind::Prevention,
    })
}

fn kind_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Prevention => "prevention",
        PolicyKind::Response => "response",
        PolicyKind::SensorUpdate => "sensor-update",
    }
}

fn policy(p: &policies::Policy) -> Value {
    json!({
        "id": p.id,
        "kind": kind_name(p.kind),
        "name": p.name,
        "description": p.description,
        "platform": p.platform,
        "enabled": p.enabled,
        "host_groups": p.host_groups,
        "precedence": p.precedence,
        "modified_at": p.modified_at,
        "settings": serde_json::from_str::<Value>(&p.settings_json).unwrap_or(Value::Null),
        "raw_id": serde_json::from_str::<Value>(&p.raw_json).ok().map(|raw| raw["id"].clone()),
    })
}

fn policy_list(list: &[policies::Policy]) -> Value {
    Value::Array(list.iter().map(policy).collect())
}

fn policies_read(input: &Input) -> Result<Value, String> {
    let kind = kind_of(input)?;
    let platform = input.opt_str("platform").map_err(|e| e.to_string())?;
    let filter = match platform {
        Some(p) => fql::all_of([fql::eq("platform_name", p)]),
        None => Filter::All,
    };
    let ids = policies::list_policies(kind, &filter);
    let get = match &ids {
        Ok(ids) => answer(policies::get_policies(kind, ids), |l| policy_list(&l)),
        Err(e) => json!({ "error": error(e) }),
    };
    let member_of = match input.opt_str("policy").map_err(|e| e.to_string())? {
        Some(id) => id.to_owned(),
        None => ids
            .as_ref()
            .ok()
            .and_then(|ids| ids.first().cloned())
            .unwrap_or_default(),
    };
    let host = input.str_or("host", "").map_err(|e| e.to_string())?;
    Ok(json!({
        "list": answer(ids.clone(), |ids| json!(ids)),
        "query": answer(policies::query_policies(kind, &filter), |l| policy_list(&l)),
        "get": get,
        "members_of": member_of,
        "members": answer(policies::list_members(kind, &member_of), |ids| json!(ids)),
        "applied": answer(policies::policies_of_host(host), |list| {
            Value::Array(
                list.iter()
                    .map(|a| {
                        json!({
                            "policy_type": a.policy_type,
                            "kind": a.kind.map(kind_name),
                            "policy_id": a.policy_id,
                            "applied": a.applied,
                            "applied_at": a.applied_at,
                            "assigned_at": a.assigned_at,
                        })
                    })
                    .collect(),
            )
        }),
    }))
}

fn policy_write(input: &Input) -> Result<Value, String> {
    let kind = kind_of(input)?;
    let field = |name: &str| -> Result<Option<String>, String> {
        input
            .opt_str(name)
            .map(|v| v.map(str::to_owned))
            .map_err(|e| e.to_string())
    };
    let ids = input.strings_or("ids", &[]).map_err(|e| e.to_string())?;
    let group = field("group")?.unwrap_or_default();
    let action = input.str_or("action", "").map_err(|e| e.to_string())?;
    let one = |r: Result<policies::Policy, Error>| answer(r, |p| policy(&p));
    let many = |r: Result<Vec<policies::Policy>, Error>| answer(r, |l| policy_list(&l));
    Ok(match action {
        "create" => one(policies::create_policy(
            kind,
            &policies::NewPolicy {
                name: field("name")?.unwrap_or_default(),
                platform: field("platform")?.unwrap_or_default(),
                description: field("description")?,
                settings_json: field("settings")?,
            },
        )),
        "update" => one(policies::update_policy(
            kind,
            &field("id")?.unwrap_or_default(),
            &policies::PolicyChange {
                name: field("name")?,
                description: field("description")?,
                settings_json: field("settings")?,
            },
        )),
        "delete" => answer(policies::delete_policies(kind, &ids), |d| {
            json!({
                "deleted": d.deleted,
                "refused": d.refused.iter().map(|r| json!([r.id, r.message])).collect::<Vec<_>>(),
            })
        }),
        "enable" => many(policies::enable_policies(kind, &ids)),
        "disable" => many(policies::disable_policies(kind, &ids)),
        "add-group" => many(policies::add_host_group(kind, &ids, &group)),
        "remove-group" => many(policies::remove_host_group(kind, &ids, &group)),
        "precedence" => answer(
            policies::set_precedence(kind, &field("platform")?.unwrap_or_default(), &ids),
            |()| json!("set"),
        ),
        other => return Err(format!("unknown policy action `{other}`")),
    })
}

fn sensors_read(input: &Input) -> Result<Value, String> {
    let platform = input.opt_str("platform").map_err(|e| e.to_string())?;
    let filter = match input
        .opt_str("installer_platform")
        .map_err(|e| e.to_string())?
    {
        Some(p) => fql::all_of([fql::eq("platform", p)]),
        None => Filter::All,
    };
    let installer = |i: &sensors::Installer| {
        json!({
            "sha256": i.sha256,
            "name": i.name,
            "description": i.description,
            "platform": i.platform,
            "os": i.os,
            "os_version": i.os_version,
            "version": i.version,
            "file_size": i.file_size,
            "file_type": i.file_type,
            "release_date": i.release_date,
            "architectures": i.architectures,
        })
    };
    let ids = sensors::list_installers(&filter);
    let get = match &ids {
        Ok(ids) => answer(sensors::get_installers(ids), |l| {
            Value::Array(l.iter().map(installer).collect())
        }),
        Err(e) => json!({ "error": error(e) }),
    };
    Ok(json!({
        "builds": answer(sensors::list_builds(platform), |builds| {
            Value::Array(
                builds
                    .iter()
                    .map(|b| {
                        json!({
                            "build": b.build,
                            "platform": b.platform,
                            "sensor_version": b.sensor_version,
                            "stage": b.stage,
                            "is_lts": b.is_lts,
                        })
                    })
                    .collect(),
            )
        }),
        "installer_ids": answer(ids, |ids| json!(ids)),
        "installers": answer(sensors::query_installers(&filter), |l| {
            Value::Array(l.iter().map(installer).collect())
        }),
        "get": get,
        "ccid": answer(sensors::ccid(), |c| json!(c)),
    }))
}

fn options(input: &Input) -> Result<rtr::RunOptions, String> {
    let queue = matches!(input.get("queue"), Some(Value::Bool(true)));
    let timeout = match input.get("timeout") {
        None => None,
        Some(_) => Some(
            u32::try_from(input.u64_or("timeout", 30).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?,
        ),
    };
    Ok(rtr::RunOptions {
        queue_offline: queue,
        timeout_seconds: timeout,
    })
}

fn results(list: &[rtr::HostResult]) -> Value {
    Value::Array(
        list.iter()
            .map(|r| {
                json!({
                    "host": r.host_id,
                    "status": match r.status {
                        HostStatus::Done => "done",
                        HostStatus::Offline => "offline",
                        HostStatus::Queued => "queued",
                        HostStatus::TimedOut => "timed-out",
                        HostStatus::Failed => "failed",
                    },
                    "stdout": r.stdout,
                    "stderr": r.stderr,
                    "error": r.error,
                    "code": r.error_code,
                })
            })
            .collect(),
    )
}

fn rtr_command(input: &Input) -> Result<Value, String> {
    let level = match input
        .choice_or("level", &["read-only", "active", "admin"], "read-only")
        .map_err(|e| e.to_string())?
    {
        "active" => Level::Active,
        "admin" => Level::Admin,
        _ => Level::ReadOnly,
    };
    let hosts = input.strings_or("hosts", &[]).map_err(|e| e.to_string())?;
    let command = input.str_or("command", "").map_err(|e| e.to_string())?;
    Ok(answer(
        rtr::run_command(level, &hosts, command, options(input)?),
        |r| results(&r),
    ))
}

fn rtr_script(input: &Input) -> Result<Value, String> {
    let hosts = input.strings_or("hosts", &[]).map_err(|e| e.to_string())?;
    let name = input.str_or("name", "").map_err(|e| e.to_string())?;
    let args = input.opt_str("args").map_err(|e| e.to_string())?;
    Ok(answer(
        rtr::run_script(&hosts, name, args, options(input)?),
        |r| results(&r),
    ))
}

fn files(list: &[rtr::CloudFile]) -> Value {
    Value::Array(
        list.iter()
            .map(|f| {
                json!({
                    "id": f.id,
                    "name": f.name,
                    "description": f.description,
                    "platforms": f.platforms,
                    "permission_type": f.permission_type,
                    "sha256": f.sha256,
                    "size": f.size,
                    "created_at": f.created_at,
                    "content": f.content,
                })
            })
            .collect(),
    )
}

falcon_sdk::export_plugin!(ContractTourOps);
