//! What the query, combined and entity endpoints of every area share: filter and
//! sort parameters, offset windows, cursor tokens and per-id answers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::Value;

use super::envelope::{ApiError, Ctx, Failure, Paging, Payload};
use super::params::Params;
use crate::fql::{Filter, Sort};

/// The deepest offset query endpoints page to; beyond it clients must use scroll or
/// `after` tokens (falcon-api.md §7).
pub(crate) const OFFSET_WINDOW: usize = 10_000;

/// A handler's result: the response, or a failure rendered as an error envelope.
pub(crate) type Outcome = Result<Response, Failure>;

/// The `filter` parameter, parsed and checked against the fields the endpoint knows.
pub(crate) fn filter_of(src: Option<&str>, allowed: &[&str]) -> Result<Option<Filter>, Failure> {
    let Some(src) = src.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let filter =
        Filter::parse(src).map_err(|e| Failure::bad_request(format!("invalid filter: {e}")))?;
    let unknown = filter.fields().into_iter().find(|f| !known(allowed, f));
    if let Some(field) = unknown {
        return Err(Failure::bad_request(format!(
            "invalid filter field: {field}"
        )));
    }
    Ok(Some(filter))
}

/// Dotted sub-fields of an allowed object field (`device_policies.prevention.policy_id`)
/// are allowed too.
fn known(allowed: &[&str], field: &str) -> bool {
    allowed.iter().any(|a| {
        field == *a
            || field
                .strip_prefix(a)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The `sort` parameter, if any, on one of the allowed fields.
pub(crate) fn sort_of(src: Option<&str>, allowed: &[&str]) -> Result<Option<Sort>, Failure> {
    let Some(src) = src.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let sort = Sort::parse(src).map_err(|e| Failure::bad_request(format!("invalid sort: {e}")))?;
    if !known(allowed, sort.field()) {
        return Err(Failure::bad_request(format!(
            "invalid sort field: {}",
            sort.field()
        )));
    }
    Ok(Some(sort))
}

/// Indices of the items whose document matches, in sort order (stable, so ties keep
/// tenant order). Documents are only built when a filter or sort needs them, which
/// keeps unfiltered queries on large tenants cheap.
pub(crate) fn select<T>(
    items: &[T],
    keep: impl Fn(&T) -> bool,
    doc: impl Fn(&T) -> Value,
    filter: Option<&Filter>,
    sort: Option<&Sort>,
) -> Vec<usize> {
    let now = Timestamp::now();
    if filter.is_none() && sort.is_none() {
        return (0..items.len()).filter(|i| keep(&items[*i])).collect();
    }
    let mut kept: Vec<(Value, usize)> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| keep(item))
        .map(|(i, item)| (doc(item), i))
        .filter(|(d, _)| filter.is_none_or(|f| f.matches(d, now)))
        .collect();
    if let Some(sort) = sort {
        kept.sort_by(|a, b| sort.compare(&a.0, &b.0));
    }
    kept.into_iter().map(|(_, i)| i).collect()
}

/// `offset` and `limit` of an offset-paged query endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

impl Window {
    /// Validates `limit` in `1..=max_limit` (default `default`) and, when `capped`,
    /// Falcon's 10,000-result window.
    pub(crate) fn from_params(
        params: &Params,
        default: i64,
        max_limit: i64,
        capped: bool,
    ) -> Result<Self, Failure> {
        let offset = params.int("offset", 0, 0, i64::from(u32::MAX))? as usize;
        let limit = params.int("limit", default, 1, max_limit)? as usize;
        if capped && offset + limit > OFFSET_WINDOW {
            return Err(Failure::bad_request(format!(
                "offset {offset} and limit {limit} are invalid; offset + limit must be less \
                 than or equal to {OFFSET_WINDOW}"
            )));
        }
        Ok(Self { offset, limit })
    }

    /// The page of `items` and its offset pagination.
    pub(crate) fn page<T: Clone>(&self, items: &[T]) -> (Vec<T>, Paging) {
        let page = items
            .iter()
            .skip(self.offset)
            .take(self.limit)
            .cloned()
            .collect();
        let paging = Paging {
            offset: self.offset,
            limit: self.limit,
            total: items.len(),
        };
        (page, paging)
    }
}

/// An offset page of values as a payload.
pub(crate) fn paged(window: Window, items: &[Value]) -> Payload {
    let (page, paging) = window.page(items);
    Payload {
        resources: Some(Value::Array(page)),
        pagination: Some(paging),
        ..Payload::default()
    }
}

/// Found entities plus a 404 per unknown id; HTTP 404 only when ids were asked for
/// and none was found.
pub(crate) fn entities(
    ctx: &Ctx,
    service: &str,
    found: Vec<Value>,
    errors: Vec<ApiError>,
) -> Response {
    let status = if found.is_empty() && !errors.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let payload = Payload {
        resources: Some(Value::Array(found)),
        errors,
        ..Payload::default()
    };
    ctx.respond(status, service, payload)
}

/// The ids of a GET entity request, at most `max`.
pub(crate) fn query_ids(params: &Params, max: usize) -> Result<Vec<String>, Failure> {
    let ids = super::params::dedup(params.all("ids"));
    if ids.is_empty() {
        return Err(Failure::bad_request("ids in query is required"));
    }
    if ids.len() > max {
        return Err(Failure::bad_request(format!(
            "request must contain between 1 and {max} ids"
        )));
    }
    Ok(ids)
}

/// An RFC 3339 timestamp value.
pub(crate) fn stamp(at: Timestamp) -> Value {
    Value::String(at.to_string())
}

/// The first of `names` that is a non-empty string in `body`.
pub(crate) fn text<'a>(body: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| body.get(name)?.as_str().filter(|s| !s.trim().is_empty()))
}

/// The strings of an array field of `body`.
pub(crate) fn strings(body: &Value, name: &str) -> Vec<String> {
    body.get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `action_parameters` as (name, value) pairs.
pub(crate) fn action_parameters(body: &Value) -> Vec<(String, String)> {
    body.get("action_parameters")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| {
                    // `unassign` comes without a value.
                    let value = p.get("value").map(value_text).unwrap_or_default();
                    Some((p.get("name")?.as_str()?.to_owned(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---- cursors ------------------------------------------------------------------------

/// A position in a result list, handed out as an opaque token that is bound to the
/// filter and sort that produced it and expires.
///
/// Tokens are self-contained (position, binding hash, expiry) rather than kept in a
/// table, so an emulator serving many scrolls holds no state for them; every page
/// hands out a fresh token, which gives Falcon's "expires after last use" semantics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) position: usize,
    binding: u64,
    expires_ms: u128,
}

/// Why a cursor token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CursorError {
    Malformed,
    Expired,
    OtherQuery,
}

impl Cursor {
    /// A cursor at `position` for the query `binding` describes.
    pub(crate) fn new(position: usize, binding: &str, lifetime: Duration) -> Self {
        Self {
            position,
            binding: fnv(binding),
            expires_ms: now_ms() + lifetime.as_millis(),
        }
    }

    pub(crate) fn token(&self) -> String {
        let raw = format!("{}:{:x}:{}", self.position, self.binding, self.expires_ms);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The Unix second the cursor expires at.
    pub(crate) fn expires_at(&self) -> u64 {
        (self.expires_ms / 1000) as u64
    }

    /// Decodes `token` and checks it belongs to `binding` and is still live.
    pub(crate) fn open(token: &str, binding: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| CursorError::Malformed)?;
        let raw = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let mut parts = raw.split(':');
        let mut next = || parts.next().ok_or(CursorError::Malformed);
        let position = next()?.parse().map_err(|_| CursorError::Malformed)?;
        let hash = u64::from_str_radix(next()?, 16).map_err(|_| CursorError::Malformed)?;
        let expires_ms = next()?.parse().map_err(|_| CursorError::Malformed)?;
        if hash != fnv(binding) {
            return Err(CursorError::OtherQuery);
        }
        if expires_ms <= now_ms() {
            return Err(CursorError::Expired);
        }
        Ok(Self {
            position,
            binding: hash,
            expires_ms,
        })
    }
}

impl CursorError {
    /// The failure Falcon reports: an expired search context is a 404.
    pub(crate) fn failure(&self, name: &str) -> Failure {
        match self {
            CursorError::Expired => Failure::new(
                StatusCode::NOT_FOUND,
                format!("Search context expired, '{name}' key no longer valid"),
            ),
            CursorError::OtherQuery => Failure::bad_request(format!(
                "'{name}' token was issued for a different filter or sort"
            )),
            CursorError::Malformed => Failure::bad_request(format!("invalid '{name}' token")),
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bind_to_their_query() {
        let cursor = Cursor::new(42, "filter|sort", Duration::from_secs(60));
        let token = cursor.token();
        assert_eq!(Cursor::open(&token, "filter|sort"), Ok(cursor));
        assert_eq!(
            Cursor::open(&token, "other|sort"),
            Err(CursorError::OtherQuery)
        );
        assert_eq!(Cursor::open("!!", "x"), Err(CursorError::Malformed));
        let expired = Cursor::new(1, "q", Duration::ZERO).token();
        assert_eq!(Cursor::open(&expired, "q"), Err(CursorError::Expired));
    }

    #[test]
    fn window_enforces_the_ten_thousand_cap() {
        let params = Params::parse(Some("offset=9950&limit=100"));
        let failure = Window::from_params(&params, 100, 5000, true).expect_err("over the window");
        assert!(
            failure
                .message
                .contains("must be less than or equal to 10000")
        );
        assert!(Window::from_params(&params, 100, 5000, false).is_ok());
    }

    #[test]
    fn sub_fields_of_allowed_objects_are_known() {
        assert!(known(
            &["device_policies"],
            "device_policies.prevention.policy_id"
        ));
        assert!(!known(&["device"], "devices"));
    }
}
