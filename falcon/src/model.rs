//! Lenient field readers shared by the typed models: Falcon sends `null`
//! for missing lists, numbers as strings, and RFC 3339 times with 0 to 9
//! fraction digits.

use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::error::Error;

/// A string field (numbers are written out).
pub(crate) fn string(raw: &Value, key: &str) -> Option<String> {
    match raw.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-empty string field.
pub(crate) fn present(raw: &Value, key: &str) -> Option<String> {
    string(raw, key).filter(|s| !s.is_empty())
}

/// A string field, empty when missing.
pub(crate) fn text(raw: &Value, key: &str) -> String {
    string(raw, key).unwrap_or_default()
}

/// A list of strings: empty for `null`, missing or another shape.
pub(crate) fn strings(raw: &Value, key: &str) -> Vec<String> {
    match raw.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// An integer field, from a number or a numeric string.
pub(crate) fn int(raw: &Value, key: &str) -> Option<i64> {
    raw.get(key).and_then(crate::envelope::int_value)
}

/// A boolean field, from `true`/`false` or their strings.
pub(crate) fn boolean(raw: &Value, key: &str) -> Option<bool> {
    match raw.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An RFC 3339 time field (0 to 9 fraction digits, any offset); `None`
/// when missing, empty or unreadable (the raw JSON keeps the text).
pub(crate) fn time(raw: &Value, key: &str) -> Option<jiff::Timestamp> {
    parse_time(raw.get(key)?.as_str()?)
}

/// Parses an RFC 3339 time; `None` when it is not one.
pub(crate) fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    text.parse().ok()
}

/// An [`Error::Decode`] for an object the model cannot use.
pub(crate) fn decode_error(endpoint: &Endpoint, reason: impl Into<String>) -> Error {
    Error::Decode {
        endpoint: endpoint.to_string(),
        status: 200,
        reason: reason.into(),
        trace_id: None,
    }
}

/// Turns id query results into strings.
pub(crate) fn id_strings(endpoint: &Endpoint, values: Vec<Value>) -> crate::Result<Vec<String>> {
    values
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            other => Err(decode_error(
                endpoint,
                format!("expected an id string, got {other}"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_fields() {
        let v = json!({"a": null, "b": ["x", 1, null], "c": "7", "d": "true", "e": 3,
            "t0": "2023-06-09T10:00:19Z", "t9": "2023-11-03T18:01:23.995794943Z",
            "t3": "2023-11-03T18:01:23.995+02:00", "bad": "yesterday", "empty": ""});
        assert!(strings(&v, "a").is_empty());
        assert!(strings(&v, "missing").is_empty());
        assert_eq!(strings(&v, "b"), ["x", "1"]);
        assert_eq!(int(&v, "c"), Some(7));
        assert_eq!(boolean(&v, "d"), Some(true));
        assert_eq!(string(&v, "e").as_deref(), Some("3"));
        assert_eq!(present(&v, "empty"), None);
        let t9 = time(&v, "t9").unwrap();
        assert_eq!(t9.subsec_nanosecond(), 995_794_943);
        assert_eq!(time(&v, "t0").unwrap().as_second(), 1_686_304_819);
        assert_eq!(time(&v, "t3").unwrap().subsec_millisecond(), 995);
        assert_eq!(time(&v, "bad"), None);
        assert_eq!(time(&v, "empty"), None);
        assert_eq!(time(&v, "a"), None);
    }
}
