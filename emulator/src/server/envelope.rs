//! Falcon's response envelope: `meta`, `resources`, `errors`.

use std::time::Instant;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use crate::rng;

/// `powered_by` of errors the API gateway generates itself (401, 403, 404, 429).
pub(crate) const GATEWAY: &str = "crowdstrike-api-gateway";
/// `powered_by` of the token service.
pub(crate) const CSAM: &str = "csam";

/// Per-request context the gateway middleware creates: the trace id every response
/// carries and the caller, when the request had a valid bearer token.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) trace_id: String,
    started: Instant,
    pub(crate) caller: Option<Caller>,
}

/// One `errors[]` entry.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ApiError {
    code: u16,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code: status.as_u16(),
            message: message.into(),
            id: None,
        }
    }

    /// An error with a Falcon-specific code that is not an HTTP status, such as RTR's
    /// 40407 for an offline sensor.
    pub(crate) fn with_code(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            id: None,
        }
    }

    /// A per-id error in a batch answer.
    pub(crate) fn for_id(status: StatusCode, message: impl Into<String>, id: &str) -> Self {
        Self {
            id: Some(id.to_owned()),
            ..Self::new(status, message)
        }
    }
}

/// Offset-style `meta.pagination`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Paging {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    pub(crate) total: usize,
}

/// What goes into an envelope besides `meta`'s fixed fields.
#[derive(Debug, Default)]
pub(crate) struct Payload {
    pub(crate) resources: Option<Value>,
    pub(crate) errors: Vec<ApiError>,
    pub(crate) pagination: Option<Paging>,
    /// Pagination objects of other styles (scroll, next and `after` tokens).
    pub(crate) pagination_raw: Option<Value>,
    pub(crate) resources_affected: Option<usize>,
}

impl Payload {
    pub(crate) fn resources(resources: Value) -> Self {
        Self {
            resources: Some(resources),
            ..Self::default()
        }
    }

    pub(crate) fn error(error: ApiError) -> Self {
        Self {
            errors: vec![error],
            ..Self::default()
        }
    }
}

// Field order follows the captured responses (query_time, pagination, powered_by,
// trace_id), which helps when diffing ours against theirs by eye.
#[derive(Serialize)]
struct Meta<'a> {
    query_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Value>,
    powered_by: &'a str,
    trace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    writes: Option<Writes>,
}

#[derive(Serialize)]
struct Writes {
    resources_affected: usize,
}

// `errors` is left out when empty and `resources` when absent, as in the captured
// success bodies (no `errors`) and gateway errors (no `resources`); the services in
// [`EMPTY_ERRORS`] send `errors: []` instead, as their captures do.
#[derive(Serialize)]
struct Envelope<'a> {
    meta: Meta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ApiError>>,
}

/// Services whose captured success bodies carry an empty `errors` list.
const EMPTY_ERRORS: &[&str] = &["device-api", "cs.agentonline", "empower-api"];

impl Ctx {
    pub(crate) fn new(caller: Option<Caller>) -> Self {
        Self {
            trace_id: rng::unseeded().uuid_v4(),
            started: Instant::now(),
            caller,
        }
    }

    /// Seconds since the request arrived, for `meta.query_time`.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// A complete envelope response.
    pub(crate) fn respond(&self, status: StatusCode, service: &str, body: Payload) -> Response {
        let envelope = Envelope {
            meta: Meta {
                query_time: self.started.elapsed().as_secs_f64(),
                pagination: body
                    .pagination_raw
                    .or_else(|| body.pagination.and_then(|p| serde_json::to_value(p).ok())),
                powered_by: service,
                trace_id: &self.trace_id,
                writes: body.resources_affected.map(|n| Writes {
                    resources_affected: n,
                }),
            },
            resources: body.resources,
            errors: if body.errors.is_empty() && !EMPTY_ERRORS.contains(&service) {
                None
            } else {
                Some(body.errors)
            },
        };
        (status, Json(envelope)).into_response()
    }

    /// A page with a pagination object of its own style.
    pub(crate) fn respond_with_pagination(
        &self,
        status: StatusCode,
        service: &str,
        resources: Value,
        pagination: Value,
    ) -> Response {
        let payload = Payload {
            resources: Some(resources),
            pagination_raw: Some(pagination),
            ..Payload::default()
        };
        self.respond(status, service, payload)
    }

    /// An error envelope with a single error whose code is the HTTP status.
    pub(crate) fn fail(&self, status: StatusCode, service: &str, message: &str) -> Response {
        self.respond(
            status,
            service,
            Payload::error(ApiError::new(status, message)),
        )
    }

    /// The gateway's 401 for a missing, malformed, expired or revoked token.
    pub(crate) fn invalid_token(&self) -> Response {
        self.fail(
            StatusCode::UNAUTHORIZED,
            GATEWAY,
            "access denied, invalid bearer token",
        )
    }

    /// The gateway's 403 for a token that lacks the endpoint's scope.
    pub(crate) fn forbidden(&self) -> Response {
        self.fail(
            StatusCode::FORBIDDEN,
            GATEWAY,
            "access denied, authorization failed",
        )
    }
}

/// A failure a handler returns early with: rendered as a one-error envelope.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn render(&self, ctx: &Ctx, service: &str) -> Response {
        ctx.fail(self.status, service, &self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn json_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json body")
    }

    #[tokio::test]
    async fn success_has_no_errors_key() {
        let ctx = Ctx::new(None);
        let body = Payload::resources(serde_json::json!(["a"]));
        let value = json_of(ctx.respond(StatusCode::OK, "svc", body)).await;
        assert!(value.get("errors").is_none());
        assert_eq!(value["resources"], serde_json::json!(["a"]));
        assert!(value["meta"]["query_time"].is_f64());
        assert_eq!(value["meta"]["trace_id"].as_str().map(str::len), Some(36));
    }

    #[tokio::test]
    async fn errors_have_no_resources_key() {
        let value = json_of(Ctx::new(None).invalid_token()).await;
        assert!(value.get("resources").is_none());
        assert_eq!(value["errors"][0]["code"], 401);
        assert_eq!(value["meta"]["powered_by"], GATEWAY);
    }
}
