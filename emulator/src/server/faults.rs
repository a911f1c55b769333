//! Fault switches: the ways a real Falcon API misbehaves, on demand, so clients can
//! be tested against them.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::rng;

/// What error responses (status 400 and above) carry as their body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorBody {
    /// Falcon's JSON envelope (the normal case).
    #[default]
    Json,
    /// An HTML page, as load balancers and some regions send (`text/html`).
    Html,
    /// A plain-text line (`text/plain`).
    Text,
    /// No body at all.
    Empty,
}

/// Fault switches, all off by default. Set them in [`super::EmulatorConfig::faults`]
/// or flip them at runtime with [`super::RunningEmulator::set_faults`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added to every response before it is sent.
    pub latency: Duration,
    /// Percentage (0–100) of authenticated API requests answered with a 500, 502 or
    /// 503 instead of reaching the endpoint.
    pub server_error_percent: u8,
    /// Every request is refused with the gateway's 429, as during a rate-limit storm
    /// caused by other integrations sharing the CID's budget.
    pub rate_limit_storm: bool,
    /// The body of error responses.
    pub error_body: ErrorBody,
    /// Empty `resources` and `errors` lists are sent as `null`, which Falcon does on
    /// some endpoints.
    pub null_lists: bool,
}

impl Faults {
    /// Whether this request should fail with a server error.
    pub(crate) fn roll_server_error(&self) -> Option<StatusCode> {
        if self.server_error_percent == 0 {
            return None;
        }
        let mut rng = rng::unseeded();
        if rng.below(100) >= u64::from(self.server_error_percent) {
            return None;
        }
        let statuses = [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ];
        Some(*rng.pick(&statuses))
    }
}

/// The body a server error gets in Falcon's envelope style.
pub(crate) fn server_error_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_GATEWAY => "Bad Gateway",
        StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Replaces the JSON body of an error response with the configured kind.
pub(crate) fn rewrite_error(response: Response, kind: ErrorBody) -> Response {
    let status = response.status();
    if kind == ErrorBody::Json || status.as_u16() < 400 {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let reason = status.canonical_reason().unwrap_or("Error");
    let (content_type, body) = match kind {
        ErrorBody::Html => (
            "text/html",
            format!(
                "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} \
                 {reason}</h1></center><hr><center>nginx</center></body></html>\n",
                code = status.as_u16()
            ),
        ),
        ErrorBody::Text => ("text/plain", format!("{} {reason}\n", status.as_u16())),
        ErrorBody::Empty | ErrorBody::Json => ("text/plain", String::new()),
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Turns empty `resources` and `errors` lists of a JSON envelope into `null`.
pub(crate) async fn null_lists(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for key in ["resources", "errors"] {
        if let Some(slot) = value.get_mut(key)
            && slot.as_array().is_some_and(Vec::is_empty)
        {
            *slot = Value::Null;
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_share_is_respected() {
        let never = Faults::default();
        assert!((0..200).all(|_| never.roll_server_error().is_none()));
        let always = Faults {
            server_error_percent: 100,
            ..Faults::default()
        };
        assert!((0..200).all(|_| always.roll_server_error().is_some()));
    }

    #[tokio::test]
    async fn html_bodies_replace_json_errors_only() {
        let error = Response::builder()
            .status(404)
            .body(Body::from("{}"))
            .expect("response");
        let html = rewrite_error(error, ErrorBody::Html);
        assert_eq!(html.headers()[header::CONTENT_TYPE], "text/html");
        let ok = Response::builder()
            .status(200)
            .body(Body::from("{}"))
            .expect("response");
        assert!(
            rewrite_error(ok, ErrorBody::Html)
                .headers()
                .get(header::CONTENT_TYPE)
                .is_none()
        );
    }
}
