//! Query strings, form bodies and JSON bodies, decoded by hand.
//!
//! Falcon repeats list parameters (`?ids=a&ids=b`), which axum's `Query` cannot
//! collect, and every malformed input must become a Falcon error envelope rather
//! than axum's plain-text rejection.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::Value;

use super::envelope::Failure;

/// Request bodies above this are rejected with 413, as Falcon does at about 1 MiB.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// Decoded `application/x-www-form-urlencoded` pairs, in order.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        Self { pairs }
    }

    /// The first non-empty value of `name`; an empty value counts as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a repeated parameter. Comma-joined values are split too,
    /// since some clients send `ids=a,b` instead of repeating the key.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, Failure> {
        self.get(name)
            .ok_or_else(|| Failure::bad_request(format!("{name} in query is required")))
    }

    /// An integer in `min..=max`, or `default` when absent. Messages follow the
    /// go-openapi validator Falcon's services use.
    pub(crate) fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Failure> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let value: i64 = raw.trim().parse().map_err(|_| {
            Failure::bad_request(format!("{name} in query must be of type int64: \"{raw}\""))
        })?;
        if value < min {
            return Err(Failure::bad_request(format!(
                "{name} in query should be greater than or equal to {min}"
            )));
        }
        if value > max {
            return Err(Failure::bad_request(format!(
                "{name} in query should be less than or equal to {max}"
            )));
        }
        Ok(value)
    }

    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool, Failure> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(_) => Err(Failure::bad_request(format!(
                "{name} in query must be of type bool: \"{}\"",
                self.get(name).unwrap_or_default()
            ))),
        }
    }
}

/// Percent-decoding with `+` as space; malformed escapes are kept literally and
/// invalid UTF-8 is replaced, never rejected, as lenient servers do.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = if bytes[i] == b'%' {
            hex_at(bytes, i + 1)
        } else {
            None
        };
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte two hex digits at `at` encode.
fn hex_at(bytes: &[u8], at: usize) -> Option<u8> {
    let digit = |i: usize| bytes.get(i).and_then(|b| char::from(*b).to_digit(16));
    Some((digit(at)? * 16 + digit(at + 1)?) as u8)
}

/// The whole body, at most [`MAX_BODY`] bytes.
pub(crate) async fn read_body(body: Body) -> Result<Vec<u8>, Failure> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|_| Failure::new(StatusCode::PAYLOAD_TOO_LARGE, "request too large"))
}

/// A JSON object body.
pub(crate) async fn json_body(body: Body) -> Result<Value, Failure> {
    let bytes = read_body(body).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::bad_request(format!("invalid JSON in request body: {e}")))?;
    if !value.is_object() {
        return Err(Failure::bad_request("request body must be a JSON object"));
    }
    Ok(value)
}

/// The `ids` array of a `{"ids": [...]}` body, at most `max` of them.
pub(crate) async fn ids_body(body: Body, max: usize) -> Result<Vec<String>, Failure> {
    let value = json_body(body).await?;
    let ids = match value.get("ids") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Failure::bad_request("ids in body must be an array of strings"))?,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            return Err(Failure::bad_request(
                "ids in body must be an array of strings",
            ));
        }
    };
    if ids.len() > max {
        return Err(Failure::bad_request(format!(
            "request must contain between 0 and {max} ids"
        )));
    }
    Ok(ids)
}

/// `ids` without repeats, first occurrence kept.
pub(crate) fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_plus_and_utf8() {
        assert_eq!(decode("a%2Bb+c"), "a+b c");
        assert_eq!(decode("Nguy%E1%BB%85n"), "Nguyễn");
        assert_eq!(decode("O%27Brien"), "O'Brien");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn repeated_and_comma_joined_ids() {
        let params = Params::parse(Some("ids=a&ids=b%2Cc&ids=&other=x"));
        assert_eq!(params.all("ids"), ["a", "b", "c"]);
        assert_eq!(params.get("other"), Some("x"));
        assert_eq!(params.get("ids"), Some("a"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let params = Params::parse(Some("limit=&filter="));
        assert_eq!(params.get("filter"), None);
        assert!(matches!(params.int("limit", 100, 1, 500), Ok(100)));
    }

    #[test]
    fn int_validation_messages() {
        let params = Params::parse(Some("limit=501&offset=-1&x=abc"));
        let message = |r: Result<i64, Failure>| r.expect_err("invalid").message;
        assert_eq!(
            message(params.int("limit", 100, 1, 500)),
            "limit in query should be less than or equal to 500"
        );
        assert_eq!(
            message(params.int("offset", 0, 0, i64::MAX)),
            "offset in query should be greater than or equal to 0"
        );
        assert_eq!(
            message(params.int("x", 0, 0, 1)),
            "x in query must be of type int64: \"abc\""
        );
    }

    #[test]
    fn bools() {
        let params = Params::parse(Some("a=true&b=FALSE&c=maybe"));
        assert!(matches!(params.bool("a", false), Ok(true)));
        assert!(matches!(params.bool("b", true), Ok(false)));
        assert!(matches!(params.bool("missing", true), Ok(true)));
        assert!(params.bool("c", true).is_err());
    }

    #[test]
    fn dedup_keeps_first_occurrence_order() {
        let ids = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        assert_eq!(dedup(ids), ["b", "a", "c"]);
    }
}
