//! `host check`: the integration guide's health check, with a diagnosis.
//!
//! Four steps, as the guide lists them: test the connection, list hosts,
//! list detections (alerts), list users. Each failure is named with the
//! guide's cause and what to do about it.

use serde_json::json;

use crate::cli::CheckArgs;
use crate::{Exit, Failure};

/// One step of the health check.
#[derive(Debug)]
struct Step {
    name: &'static str,
    /// What the step needs on the API client, as the console names it.
    needs: &'static str,
    outcome: Result<String, Diagnosis>,
}

/// A failed step: what went wrong and what to do.
#[derive(Debug)]
struct Diagnosis {
    cause: String,
    remedy: String,
}

/// The guide's cause for a client error, with what to do; `None` when the
/// error is not one of them.
pub(crate) fn diagnose(err: &falcon::Error) -> Option<&'static str> {
    use falcon::{AuthFailure, Error as E};
    Some(match err {
        E::Auth {
            kind: AuthFailure::BadCredentials,
            ..
        } => {
            "authentication failed: the client id or secret is wrong, or the API client was \
             disabled or deleted; check FALCON_CLIENT_ID and FALCON_CLIENT_SECRET, and the client \
             under Support and resources > API clients and keys"
        }
        E::Auth {
            kind: AuthFailure::Rejected,
            ..
        } => {
            "the token request was rejected: credentials of a government cloud must name it; set \
             FALCON_CLOUD=us-gov-1 or us-gov-2 (they are never discovered automatically)"
        }
        E::Auth { .. } => "the token endpoint answered without a usable token: check FALCON_CLOUD",
        E::Forbidden { .. } => {
            "the API client lacks this scope, or this machine's IP address is not on the client's \
             allow-list; add the scope in the Falcon console (it applies to new tokens: wait a \
             few minutes)"
        }
        E::RateLimited { .. } => {
            "rate limited: the tenant's budget is shared by every integration; wait and retry, \
             poll less often, or ask CrowdStrike for a higher limit"
        }
        E::Transport { .. } => {
            "the API cannot be reached: check FALCON_CLOUD (the console URL tells the cloud), \
             the network and any proxy"
        }
        E::Api { status: 308, .. } => {
            "wrong cloud: these credentials belong to another cloud, and the API redirected the \
             call there; set FALCON_CLOUD to the cloud named in the address above"
        }
        E::Unauthorized { .. } => {
            "the API rejected a fresh token: the API client may have just been changed; wait a \
             few minutes and retry"
        }
        _ => return None,
    })
}

fn failed(err: &falcon::Error) -> Diagnosis {
    Diagnosis {
        cause: crate::chain(err),
        remedy: diagnose(err).unwrap_or("see the error above").to_owned(),
    }
}

/// Runs the checks and prints a table (or JSON); exit 0 when all pass.
pub(crate) async fn check(args: CheckArgs, quiet: bool) -> Result<Exit, Failure> {
    let (client, demo) = crate::tenant::client(args.demo, args.cloud.as_deref(), quiet).await?;
    let configured = client.cloud();
    let mut steps = Vec::new();

    let connected = client.authenticate().await;
    let connection = match &connected {
        Ok(()) => {
            let now = client.cloud();
            Ok(if now == configured {
                format!("token issued by {}", now.base_url())
            } else {
                format!(
                    "token issued; the credentials belong to {now}, not {configured}: the host \
                     switched automatically; set FALCON_CLOUD={now} to skip the detour"
                )
            })
        }
        Err(e) => Err(failed(e)),
    };
    steps.push(Step {
        name: "test connection",
        needs: "the API reachable, valid credentials",
        outcome: connection,
    });

    if connected.is_ok() {
        let lists = [
            (
                "list hosts",
                "Hosts: Read",
                falcon::hosts::QUERY_DEVICES,
                "hosts",
            ),
            (
                "list detections",
                "Alerts: Read",
                falcon::alerts::QUERY_ALERTS,
                "alerts",
            ),
            (
                "list users",
                "User management: Read",
                falcon::users::QUERY_USERS,
                "users",
            ),
        ];
        for (name, needs, endpoint, noun) in lists {
            let request = falcon::ApiRequest::new(endpoint).query("limit", "1");
            let outcome = match client.execute(request).await {
                Ok(response) => {
                    let total = response.envelope.meta.pagination.and_then(|p| p.total);
                    Ok(total.map_or_else(|| format!("{noun} listed"), |t| format!("{t} {noun}")))
                }
                Err(e) => Err(failed(&e)),
            };
            steps.push(Step {
                name,
                needs,
                outcome,
            });
        }
        if let Err(e) = client.revoke().await {
            tracing::warn!("failed to revoke the check's token: {e}");
        }
    }
    if let Some(demo) = demo {
        demo.emulator.shutdown().await;
    }

    let passed = steps.iter().all(|s| s.outcome.is_ok());
    if args.json {
        let rows: Vec<_> = steps
            .iter()
            .map(|s| match &s.outcome {
                Ok(detail) => {
                    json!({"check": s.name, "needs": s.needs, "ok": true, "detail": detail})
                }
                Err(d) => json!({"check": s.name, "needs": s.needs, "ok": false,
                                 "cause": d.cause, "remedy": d.remedy}),
            })
            .collect();
        let out = json!({ "cloud": client.cloud().to_string(), "ok": passed, "checks": rows });
        say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        say!("Falcon health check against {}", client.cloud().base_url());
        for step in &steps {
            match &step.outcome {
                Ok(detail) => say!("  ok      {:<16} {detail}", step.name),
                Err(d) => {
                    say!("  FAILED  {:<16} needs {}", step.name, step.needs);
                    say!("          {}", d.cause);
                    say!("          what to do: {}", d.remedy);
                }
            }
        }
        if connected.is_err() {
            say!("  skipped the listing checks: they need a connection");
        }
    }
    Ok(if passed { Exit::Ok } else { Exit::Falcon })
}
