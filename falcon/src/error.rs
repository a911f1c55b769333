//! The error type of every fallible call in this crate.

use std::time::Duration;

use crate::scope;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the token endpoint (`POST /oauth2/token`) refused to issue a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The client id or secret is wrong, or the API client is disabled or
    /// deleted (HTTP 401/403 from the token endpoint).
    BadCredentials,
    /// The token endpoint rejected the request for another reason, for
    /// example gov-cloud credentials sent to a commercial cloud (HTTP 400).
    Rejected,
    /// The token endpoint answered, but not with a usable token (wrong
    /// status or a body without `access_token`).
    InvalidResponse,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BadCredentials => "refused the client credentials",
            Self::Rejected => "rejected the token request",
            Self::InvalidResponse => "returned no usable token",
        })
    }
}

/// What is kept of an error response body that was not a JSON envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyExcerpt {
    /// The response's `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// At most 512 bytes of the body, cut at a UTF-8 character boundary.
    pub excerpt: String,
}

/// Everything that can go wrong talking to the Falcon API.
///
/// Errors that come from the API name the endpoint (`METHOD /path`) and keep
/// the HTTP status and the `X-Cs-Traceid` that CrowdStrike support asks for.
/// No variant ever holds the client secret or a bearer token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint refused to issue a token.
    #[error("`POST /oauth2/token` {kind} (HTTP {status}): {message}")]
    Auth {
        /// Which kind of refusal this is.
        kind: AuthFailure,
        /// HTTP status of the token response.
        status: u16,
        /// The first error message of the response, or an excerpt of it.
        message: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// An API call was answered 401 even after a fresh token was fetched.
    #[error(
        "`{endpoint}` rejected a freshly issued bearer token (HTTP 401, trace id {})",
        opt(trace_id)
    )]
    Unauthorized {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The API client lacks the scope the endpoint needs (HTTP 403). The same
    /// status is used when the caller's IP address is not allow-listed.
    #[error(
        "`{endpoint}` denied access (HTTP 403): the API client lacks scope `{api_scope}` ({}) or the source IP is not allow-listed (trace id {})",
        scope::console_name(api_scope),
        opt(trace_id)
    )]
    Forbidden {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The internal API scope the endpoint needs, for example
        /// `usermgmt:read`; see [`Error::console_scope`].
        api_scope: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The tenant's rate limit is exhausted and retries (if any) did not help.
    #[error(
        "`{endpoint}` is rate limited (HTTP 429); retry after {}",
        retry_text(retry_after)
    )]
    RateLimited {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// How long to wait from now, computed from `X-Ratelimit-Retryafter`
        /// when the response carried it.
        retry_after: Option<Duration>,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The API answered with an error status (or an error envelope) not
    /// covered by a more specific variant.
    #[error(
        "`{endpoint}` failed (HTTP {status}{}): {message} (trace id {})",
        code_text(code),
        opt(trace_id)
    )]
    Api {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The first error code of the envelope, when there was one.
        code: Option<i64>,
        /// The first error message of the envelope, or a description of a
        /// body that was not a Falcon envelope.
        message: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
        /// For a body that was not a JSON envelope (HTML from a proxy, an
        /// empty body): its content type and an excerpt.
        body: Option<Box<BodyExcerpt>>,
    },

    /// The ids do not exist.
    #[error("`{endpoint}` found no object with id {}", ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The ids that were not found.
        ids: Vec<String>,
    },

    /// The caller passed something this client or the API cannot accept.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A write was sent but its outcome is unknown (a 5xx answer, a timeout
    /// or a dropped connection after the request left). It was not retried;
    /// check the tenant before repeating it.
    #[error(
        "`{endpoint}` write may have been applied: {reason} (trace id {}); not retried",
        opt(trace_id)
    )]
    WriteUncertain {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// HTTP status, if a response arrived.
        status: Option<u16>,
        /// What happened.
        reason: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The request could not be completed at the HTTP level (connect failure,
    /// timeout, TLS) after the retries allowed for it.
    #[error("`{endpoint}` request failed: {source}")]
    Transport {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// A success response could not be decoded.
    #[error(
        "`{endpoint}` response could not be decoded (HTTP {status}, trace id {}): {reason}",
        opt(trace_id)
    )]
    Decode {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// What was wrong.
        reason: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The API's answers contradict each other, for example pages that do
    /// not add up to the reported total.
    #[error("`{endpoint}` returned inconsistent results: {detail}")]
    Inconsistent {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// What did not add up.
        detail: String,
    },

    /// A whole call (retries and waits included) did not finish within the
    /// client's call timeout.
    #[error("`{endpoint}` did not finish within {} ms", after.as_millis())]
    Timeout {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The call timeout that ran out.
        after: Duration,
    },

    /// Offset paging cannot reach every result: the query matches more
    /// items than the endpoint's offset window serves. Narrow the filter or
    /// use the scroll or `after` variant of the call.
    #[error(
        "`{endpoint}` matches {total} items but offset paging stops at {window}; narrow the filter or use the scroll/after variant"
    )]
    WindowExceeded {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// The total the API reported.
        total: u64,
        /// The most items offset paging can return.
        window: u64,
    },

    /// A paging cursor (scroll token or `after` token) expired or was
    /// refused before the listing finished; no partial result is returned.
    #[error("`{endpoint}` paging cursor expired after {received} items: {message}")]
    CursorExpired {
        /// The endpoint, as `METHOD /path`.
        endpoint: String,
        /// Items received before the cursor expired.
        received: u64,
        /// What the API said.
        message: String,
        /// The response's trace id, when sent.
        trace_id: Option<String>,
    },

    /// The cloud cannot be autodiscovered: US government clouds must be
    /// named, since gov credentials are never redirected.
    #[error("{0}")]
    Cloud(String),

    /// The HTTP client could not be built (for example the TLS backend
    /// failed to initialise).
    #[error("http client could not be built: {0}")]
    Setup(#[source] reqwest::Error),
}

impl Error {
    /// For [`Error::Forbidden`], the scope as the Falcon console names it,
    /// for example `User management: Read`; `None` for other variants.
    pub fn console_scope(&self) -> Option<String> {
        match self {
            Self::Forbidden { api_scope, .. } => Some(scope::console_name(api_scope)),
            _ => None,
        }
    }

    /// The HTTP status of the response behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Auth { status, .. } | Self::Api { status, .. } | Self::Decode { status, .. } => {
                Some(*status)
            }
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::RateLimited { .. } => Some(429),
            Self::WriteUncertain { status, .. } => *status,
            _ => None,
        }
    }

    /// The trace id of the response behind this error, when there was one.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Auth { trace_id, .. }
            | Self::Unauthorized { trace_id, .. }
            | Self::Forbidden { trace_id, .. }
            | Self::RateLimited { trace_id, .. }
            | Self::Api { trace_id, .. }
            | Self::WriteUncertain { trace_id, .. }
            | Self::Decode { trace_id, .. }
            | Self::CursorExpired { trace_id, .. } => trace_id.as_deref(),
            _ => None,
        }
    }

    /// Whether a write behind this error may have been applied by Falcon.
    /// Only [`Error::WriteUncertain`] says so; every other error means the
    /// request was refused or never arrived.
    pub fn write_may_have_applied(&self) -> bool {
        matches!(self, Self::WriteUncertain { .. })
    }
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("none")
}

fn code_text(code: &Option<i64>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

fn retry_text(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("{} ms", d.as_millis()),
        None => "an unknown time".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_endpoint_and_both_scope_spellings() {
        let err = Error::Forbidden {
            endpoint: "GET /user-management/queries/users/v1".into(),
            api_scope: "usermgmt:read".into(),
            trace_id: Some("t-1".into()),
        };
        let text = err.to_string();
        assert!(
            text.starts_with("`GET /user-management/queries/users/v1`"),
            "{text}"
        );
        assert!(text.contains("`usermgmt:read`"), "{text}");
        assert!(text.contains("User management: Read"), "{text}");
        assert!(text.contains("t-1"), "{text}");
        assert_eq!(
            err.console_scope().as_deref(),
            Some("User management: Read")
        );
        assert_eq!(err.status(), Some(403));
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            Error::InvalidInput("x".into()),
            Error::NotFound {
                endpoint: "GET /a".into(),
                ids: vec!["1".into()],
            },
            Error::RateLimited {
                endpoint: "GET /a".into(),
                retry_after: None,
                trace_id: None,
            },
            Error::Auth {
                kind: AuthFailure::BadCredentials,
                status: 403,
                message: "m".into(),
                trace_id: None,
            },
        ];
        for e in errors {
            let t = e.to_string();
            assert!(!t.ends_with('.'), "{t}");
            let first = t.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{t}");
        }
    }
}
