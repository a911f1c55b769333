//! The Falcon response envelope (`meta`, `resources`, `errors`), decoded
//! leniently: `null`, `[]` and missing lists are all empty, error codes may be
//! numbers or strings, and unknown fields are kept in `raw`.

use serde_json::Value;

/// Maximum number of bytes of a non-JSON body kept in errors.
pub const EXCERPT_LIMIT: usize = 512;

/// A decoded response envelope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// The `meta` object.
    pub meta: Meta,
    /// The `resources` value as sent: `Null` when missing or `null`, else a
    /// list or an object (RTR batch results are keyed by host id).
    pub resources: Value,
    /// The `errors` list; empty when `null`, `[]` or missing.
    pub errors: Vec<ErrorItem>,
    /// Any other top-level fields (RTR's `batch_id` and `combined`), as an
    /// object; `Null` when there are none.
    pub extra: Value,
}

impl Envelope {
    /// Decodes an envelope from a JSON body. An empty body decodes to an empty
    /// envelope.
    ///
    /// # Errors
    ///
    /// Returns a description when the body is not JSON or not a JSON object.
    pub fn from_slice(body: &[u8]) -> Result<Self, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        Self::from_value(value)
    }

    /// Decodes an envelope from a parsed JSON value.
    ///
    /// # Errors
    ///
    /// Returns a description when the value is not a JSON object.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(mut map) = value else {
            return Err("body is not a JSON object".to_owned());
        };
        let meta = map.remove("meta").map(Meta::from_value).unwrap_or_default();
        let resources = map.remove("resources").unwrap_or(Value::Null);
        let errors = match map.remove("errors") {
            Some(Value::Array(items)) => items.into_iter().map(ErrorItem::from_value).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![ErrorItem::from_value(other)],
        };
        let extra = if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        };
        Ok(Self {
            meta,
            resources,
            errors,
            extra,
        })
    }

    /// `resources` as a list: empty for `null`, the items of a list, or the
    /// single object otherwise.
    pub fn resource_list(&self) -> Vec<Value> {
        match &self.resources {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        }
    }

    /// `resources` as a list of strings (id query endpoints); non-string
    /// items are skipped.
    pub fn resource_strings(&self) -> Vec<String> {
        match &self.resources {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// The envelope's `meta` object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// `meta.query_time` in seconds.
    pub query_time: Option<f64>,
    /// `meta.powered_by`, the service that answered.
    pub powered_by: Option<String>,
    /// `meta.trace_id`.
    pub trace_id: Option<String>,
    /// `meta.pagination`, on query and combined endpoints.
    pub pagination: Option<Pagination>,
    /// `meta.writes.resources_affected`, on some write endpoints.
    pub resources_affected: Option<u64>,
    /// The whole `meta` object.
    pub raw: Value,
}

impl Meta {
    fn from_value(raw: Value) -> Self {
        Self {
            query_time: raw.get("query_time").and_then(Value::as_f64),
            powered_by: str_field(&raw, "powered_by"),
            trace_id: str_field(&raw, "trace_id"),
            pagination: raw
                .get("pagination")
                .filter(|p| p.is_object())
                .map(|p| Pagination::from_value(p.clone())),
            resources_affected: raw
                .get("writes")
                .and_then(|w| w.get("resources_affected"))
                .and_then(int_value)
                .and_then(|n| u64::try_from(n).ok()),
            raw,
        }
    }
}

/// The `meta.pagination` object in any of its three styles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pagination {
    /// Numeric `offset` (offset paging).
    pub offset: Option<u64>,
    /// String `offset` (device scroll and combined-devices tokens).
    pub offset_token: Option<String>,
    /// `limit`.
    pub limit: Option<u64>,
    /// `total`.
    pub total: Option<u64>,
    /// `after` token (alerts combined, IOCs).
    pub after: Option<String>,
    /// `next` token (combined devices v2).
    pub next: Option<String>,
    /// `expires_at` of a scroll token.
    pub expires_at: Option<i64>,
    /// The whole `pagination` object.
    pub raw: Value,
}

impl Pagination {
    fn from_value(raw: Value) -> Self {
        let (offset, offset_token) = match raw.get("offset") {
            Some(Value::String(s)) => (None, Some(s.clone())),
            Some(v) => (int_value(v).and_then(|n| u64::try_from(n).ok()), None),
            None => (None, None),
        };
        let unsigned = |key: &str| {
            raw.get(key)
                .and_then(int_value)
                .and_then(|n| u64::try_from(n).ok())
        };
        Self {
            offset,
            offset_token,
            limit: unsigned("limit"),
            total: unsigned("total"),
            after: str_field(&raw, "after").filter(|s| !s.is_empty()),
            next: str_field(&raw, "next").filter(|s| !s.is_empty()),
            expires_at: raw.get("expires_at").and_then(int_value),
            raw,
        }
    }
}

/// One entry of the envelope's `errors` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorItem {
    /// `code`, whether sent as a number or a numeric string.
    pub code: Option<i64>,
    /// `message`.
    pub message: String,
    /// `id`: on batch endpoints, the id the error is about.
    pub id: Option<String>,
    /// The whole error object.
    pub raw: Value,
}

impl ErrorItem {
    fn from_value(raw: Value) -> Self {
        if let Value::String(message) = &raw {
            return Self {
                code: None,
                message: message.clone(),
                id: None,
                raw,
            };
        }
        Self {
            code: raw.get("code").and_then(int_value),
            message: str_field(&raw, "message").unwrap_or_default(),
            id: raw.get("id").and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            raw,
        }
    }
}

/// The rate-limit headers of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// `X-Ratelimit-Limit`: requests per minute for the tenant's pool.
    pub limit: Option<u64>,
    /// `X-Ratelimit-Remaining`: requests left in the pool.
    pub remaining: Option<u64>,
}

/// A successful (or accepted partial) API response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// `X-Cs-Traceid`, or `meta.trace_id` when the header is missing.
    pub trace_id: Option<String>,
    /// The rate-limit headers.
    pub rate_limit: RateLimitStatus,
    /// The decoded envelope (empty for a binary download).
    pub envelope: Envelope,
    /// The raw body of a binary download ([`crate::ApiRequest::binary`]);
    /// `None` otherwise.
    pub bytes: Option<Vec<u8>>,
}

/// Builds an excerpt of at most [`EXCERPT_LIMIT`] bytes, cut at a UTF-8
/// character boundary; invalid UTF-8 is replaced.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= EXCERPT_LIMIT {
        return text.into_owned();
    }
    let mut end = EXCERPT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// An integer from a JSON number or a numeric string.
pub(crate) fn int_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copies of `shared/falcon-fixtures`, kept with the crate.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("fixture `{path}` unreadable: {e}"))
    }

    #[test]
    fn decodes_user_query_fixture() {
        let body = fixture("user-management-queries-users-v1.json");
        let env = Envelope::from_slice(&body).unwrap();
        let p = env.meta.pagination.clone().unwrap();
        assert_eq!((p.offset, p.limit, p.total), (Some(0), Some(100), Some(5)));
        assert_eq!(env.resource_strings().len(), 5);
        assert!(env.errors.is_empty());
        assert_eq!(env.meta.powered_by.as_deref(), Some("cs.flightcontrolapi"));
    }

    #[test]
    fn decodes_user_entities_and_error_fixtures() {
        let body = fixture("user-management-entities-users-get-v1.json");
        let env = Envelope::from_slice(&body).unwrap();
        assert_eq!(env.resource_list().len(), 5);
        assert_eq!(env.resource_list()[0]["uid"], "user.one@example.com");

        let env = Envelope::from_slice(&fixture(
            "error-403-access-denied-authorization-failed.json",
        ))
        .unwrap();
        assert_eq!(env.errors[0].code, Some(403));
        assert_eq!(env.errors[0].message, "access denied, authorization failed");
        assert_eq!(env.resources, Value::Null);

        let env = Envelope::from_slice(&fixture("error-401-invalid-bearer-token.json")).unwrap();
        assert_eq!(env.errors[0].code, Some(401));
        assert_eq!(
            env.meta.trace_id.as_deref(),
            Some("6b25ea5a-8389-4cdc-a20a-b2cb55b649d0")
        );
    }

    #[test]
    fn tolerates_null_missing_and_odd_shapes() {
        let env = Envelope::from_slice(br#"{"meta":{},"resources":null,"errors":null}"#).unwrap();
        assert!(env.resource_list().is_empty() && env.errors.is_empty());
        let env = Envelope::from_slice(br#"{"resources":{"a":1},"errors":[]}"#).unwrap();
        assert_eq!(env.resource_list().len(), 1);
        let env = Envelope::from_slice(
            br#"{"errors":[{"code":"404","message":"nope","id":"x"},{"code":40407}]}"#,
        )
        .unwrap();
        assert_eq!(env.errors[0].code, Some(404));
        assert_eq!(env.errors[0].id.as_deref(), Some("x"));
        assert_eq!(env.errors[1].code, Some(40407));
        assert_eq!(env.errors[1].message, "");
        let env = Envelope::from_slice(b"").unwrap();
        assert_eq!(env, Envelope::default());
        let env = Envelope::from_slice(
            br#"{"batch_id":"b-1","combined":{"resources":{"aid":{"complete":true}}},"errors":[]}"#,
        )
        .unwrap();
        assert_eq!(env.extra["batch_id"], "b-1");
        assert_eq!(env.extra["combined"]["resources"]["aid"]["complete"], true);
        assert_eq!(env.resources, Value::Null);
        let env = Envelope::from_slice(
            br#"{"meta":{"pagination":{"offset":"tok","total":0,"limit":"10"}}}"#,
        )
        .unwrap();
        let p = env.meta.pagination.unwrap();
        assert_eq!(p.offset_token.as_deref(), Some("tok"));
        assert_eq!(p.limit, Some(10));
        assert!(Envelope::from_slice(b"<html>bad gateway</html>").is_err());
        assert!(Envelope::from_slice(b"[1,2]").is_err());
    }

    #[test]
    fn excerpt_is_bounded_and_utf8_safe() {
        let body = "é".repeat(600); // 1200 bytes, 2 bytes per char
        let e = excerpt(body.as_bytes());
        assert!(e.len() <= EXCERPT_LIMIT);
        assert_eq!(e.len(), 512);
        let body = format!("a{}", "é".repeat(600));
        let e = excerpt(body.as_bytes());
        assert_eq!(e.len(), 511);
        assert_eq!(excerpt(b"short"), "short");
    }
}
