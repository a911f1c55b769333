//! Evaluates parsed filters against JSON objects.

use std::cmp::Ordering;

use jiff::Timestamp;
use serde_json::Value;

use super::{Expr, Literal, Op, Operand, Test, Text};

pub(super) fn matches(expr: &Expr, doc: &Value, now: Timestamp) -> bool {
    match expr {
        Expr::All => true,
        Expr::And(parts) => parts.iter().all(|p| matches(p, doc, now)),
        Expr::Or(parts) => parts.iter().any(|p| matches(p, doc, now)),
        Expr::Test(test) => test_matches(test, doc, now),
    }
}

fn test_matches(test: &Test, doc: &Value, now: Timestamp) -> bool {
    let leaves = leaves(doc, &test.field);
    let (literals, exact) = match &test.operand {
        Operand::One(lit) => (std::slice::from_ref(lit), false),
        Operand::List(items) => (items.as_slice(), true),
    };
    let any = |hit: &dyn Fn(&Literal) -> bool| literals.iter().any(hit);
    match test.op {
        Op::Eq => any(&|lit| equals(&leaves, lit, exact, now)),
        Op::Ne => !any(&|lit| equals(&leaves, lit, exact, now)),
        Op::Contains => any(&|lit| contains(&leaves, lit)),
        Op::NotContains => !any(&|lit| contains(&leaves, lit)),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => any(&|lit| {
            leaves
                .iter()
                .any(|leaf| compare(leaf, lit, now).is_some_and(|o| accepts(test.op, o)))
        }),
    }
}

fn accepts(op: Op, order: Ordering) -> bool {
    match op {
        Op::Gt => order.is_gt(),
        Op::Ge => order.is_ge(),
        Op::Lt => order.is_lt(),
        Op::Le => order.is_le(),
        _ => false,
    }
}

/// The scalar values at a dotted path. The full name is tried as a key first (some
/// Falcon fields contain dots); arrays anywhere along the path are flattened, so a
/// missing field and an empty array both give no values.
pub(super) fn leaves<'v>(doc: &'v Value, field: &str) -> Vec<&'v Value> {
    let mut out = Vec::new();
    if let Some(value) = doc.get(field) {
        flatten(value, &mut out);
        return out;
    }
    let mut current = vec![doc];
    for segment in field.split('.') {
        let mut next = Vec::new();
        for value in current {
            if let Some(child) = value.get(segment) {
                flatten(child, &mut next);
            }
        }
        current = next;
    }
    current
}

fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        _ => out.push(value),
    }
}

fn equals(leaves: &[&Value], lit: &Literal, exact: bool, now: Timestamp) -> bool {
    let absent = leaves.is_empty() || leaves.iter().any(|l| l.is_null());
    match lit {
        Literal::Null => absent,
        Literal::Text(text) if text.value.is_empty() && text.segments.is_none() => {
            absent || leaves.iter().any(|l| l.as_str() == Some(""))
        }
        _ => leaves.iter().any(|leaf| leaf_equals(leaf, lit, exact, now)),
    }
}

fn leaf_equals(leaf: &Value, lit: &Literal, exact: bool, now: Timestamp) -> bool {
    match (leaf, lit) {
        (Value::String(s), Literal::Text(text)) => text_equals(s, text, exact),
        (Value::Number(n), Literal::Text(text)) => number_equals(n.as_f64(), &text.value),
        (Value::Bool(b), Literal::Text(text)) => text.value.eq_ignore_ascii_case(bool_str(*b)),
        (Value::Number(n), Literal::Number(x)) => n.as_f64() == Some(*x),
        (Value::String(s), Literal::Number(x)) => s.trim().parse::<f64>().ok() == Some(*x),
        (Value::Bool(b), Literal::Bool(x)) => b == x,
        (Value::String(s), Literal::Bool(x)) => s.eq_ignore_ascii_case(bool_str(*x)),
        (_, Literal::Relative(offset)) => {
            compare(leaf, &Literal::Relative(*offset), now) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

fn text_equals(s: &str, text: &Text, exact: bool) -> bool {
    if exact {
        return s == text.value;
    }
    if let Some(segments) = &text.segments {
        return glob(&s.to_lowercase(), &lowercase_all(segments));
    }
    if s.to_lowercase() == text.value.to_lowercase() {
        return true;
    }
    // The same instant written with another precision or offset is still equal.
    matches!((parse_time(s), parse_time(&text.value)), (Some(a), Some(b)) if a == b)
}

fn number_equals(n: Option<f64>, text: &str) -> bool {
    n.is_some() && text.trim().parse::<f64>().ok() == n
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Case-insensitive substring test; stars in the needle still match any run.
fn contains(leaves: &[&Value], lit: &Literal) -> bool {
    let Literal::Text(text) = lit else {
        return false;
    };
    let segments = match &text.segments {
        Some(segments) => lowercase_all(segments),
        None => vec![text.value.to_lowercase()],
    };
    // Surrounding stars turn "contains" into a whole-string wildcard match.
    let mut padded = vec![String::new()];
    padded.extend(segments);
    padded.push(String::new());
    leaves
        .iter()
        .filter_map(|leaf| scalar_text(leaf))
        .any(|s| glob(&s.to_lowercase(), &padded))
}

fn scalar_text(leaf: &Value) -> Option<String> {
    match leaf {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(bool_str(*b).to_owned()),
        _ => None,
    }
}

fn lowercase_all(segments: &[String]) -> Vec<String> {
    segments.iter().map(|s| s.to_lowercase()).collect()
}

/// Whether `s` is the segments joined by arbitrary runs; needs two or more segments.
fn glob(s: &str, segments: &[String]) -> bool {
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return false;
    };
    let Some(mut rest) = s.strip_prefix(first.as_str()) else {
        return false;
    };
    for middle in &segments[1..segments.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last.as_str())
}

/// How `leaf` orders against `lit`: as instants when both are times, as numbers when
/// both are numeric, otherwise as case-folded text. `None` when they do not compare.
fn compare(leaf: &Value, lit: &Literal, now: Timestamp) -> Option<Ordering> {
    match lit {
        Literal::Relative(offset) => {
            let at = now
                .checked_add(jiff::SignedDuration::from_secs(*offset))
                .ok()?;
            Some(parse_time(leaf.as_str()?)?.cmp(&at))
        }
        Literal::Number(x) => leaf_number(leaf)?.partial_cmp(x),
        Literal::Text(text) => compare_text(leaf, &text.value),
        Literal::Bool(_) | Literal::Null => None,
    }
}

fn compare_text(leaf: &Value, text: &str) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (leaf.as_str().and_then(parse_time), parse_time(text)) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Ok(b)) = (leaf_number(leaf), text.trim().parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    Some(leaf.as_str()?.to_lowercase().cmp(&text.to_lowercase()))
}

fn leaf_number(leaf: &Value) -> Option<f64> {
    match leaf {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 timestamp with offset, or a bare `YYYY-MM-DD` date read as midnight UTC.
pub(super) fn parse_time(s: &str) -> Option<Timestamp> {
    if let Ok(at) = s.parse::<Timestamp>() {
        return Some(at);
    }
    if s.len() != 10 {
        return None;
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::fql::Filter;

    use super::*;

    fn now() -> Timestamp {
        "2026-01-31T12:00:00Z".parse().expect("valid timestamp")
    }

    fn user() -> Value {
        json!({
            "uuid": "516de4b4-fbd9-44bf-927a-da026dbb61b9",
            "first_name": "Zoë",
            "last_name": "O'Brien",
            "uid": "zoe.obrien@example.com",
            "status": "active",
            "severity": 70,
            "platform_id": "0",
            "show_in_ui": true,
            "created_at": "2025-12-30T09:15:00.25Z",
            "last_login_at": "2026-01-28T08:00:00.123456Z",
            "deleted_at": null,
            "instance_id": "",
            "tags": ["FalconGroupingTags/Servers", "FalconGroupingTags/EU"],
            "factors": [],
            "device": {"hostname": "PC-LON-01", "policies": [{"id": "p1"}, {"id": "p2"}]},
            "local_ip.raw": "10.1.2.3",
            "path": "C:\\Windows\\System32",
            "note": "said \"hi\""
        })
    }

    fn check(src: &str) -> bool {
        Filter::parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .matches(&user(), now())
    }

    #[test]
    fn equality_is_case_insensitive_including_non_ascii() {
        assert!(check("status:'active'"));
        assert!(check("status:'ACTIVE'"));
        assert!(check("first_name:'Zoë'"));
        assert!(check("first_name:'ZOË'"));
        assert!(!check("first_name:'Zoe'"));
        assert!(check("status:!'inactive'"));
        assert!(!check("status:!'active'"));
    }

    #[test]
    fn tricky_quoting() {
        assert!(check(r"last_name:'O\'Brien'"));
        assert!(check(r#"last_name:"O'Brien""#));
        assert!(check(r"path:'C:\\Windows\\System32'"));
        assert!(check(r#"note:'said "hi"'"#));
        assert!(check(r#"note:"said \"hi\"""#));
        assert!(check(r"last_name:~'\'bri'"));
    }

    #[test]
    fn wildcards() {
        assert!(check("device.hostname:'pc-*'"));
        assert!(check("device.hostname:'*-01'"));
        assert!(check("device.hostname:'PC*LON*01'"));
        assert!(check("local_ip.raw:*'10.*'"));
        assert!(!check("device.hostname:'*-02'"));
        assert!(!check(r"device.hostname:'PC\*'"));
        assert!(check("uid:'*@example.com'"));
    }

    #[test]
    fn contains_operator() {
        assert!(check("uid:~'OBRIEN'"));
        assert!(check("last_name:~'bri'"));
        assert!(!check("last_name:~'xyz'"));
        assert!(check("last_name:!~'xyz'"));
        assert!(check("tags:~'servers'"));
        assert!(check("uid:~'zoe*example'"));
    }

    #[test]
    fn numbers_and_booleans() {
        assert!(check("severity:70"));
        assert!(check("severity:>=70+severity:<80"));
        assert!(!check("severity:>70"));
        assert!(check("severity:'70'"));
        assert!(check("platform_id:0"));
        assert!(check("platform_id:<1"));
        assert!(check("show_in_ui:true"));
        assert!(!check("show_in_ui:false"));
        assert!(check("show_in_ui:'TRUE'"));
    }

    #[test]
    fn timestamps_and_relative_times() {
        assert!(check("last_login_at:>'2026-01-01T00:00:00Z'"));
        assert!(check("last_login_at:>'2026-01-28T08:00:00.1Z'"));
        assert!(check("last_login_at:<='2026-01-28T08:00:00.123456Z'"));
        assert!(check("last_login_at:'2026-01-28T09:00:00.123456+01:00'"));
        assert!(check("last_login_at:>'now-7d'"));
        assert!(check("last_login_at:>now-7d"));
        assert!(!check("last_login_at:<now-7d"));
        assert!(check("last_login_at:<'now-24h'"));
        assert!(check("created_at:<now-30d"));
        assert!(check("last_login_at:>=now-4d+last_login_at:<now-3d"));
        assert!(check("created_at:>'2025-12-30'"));
        assert!(!check("last_login_at:>now-30m"));
    }

    #[test]
    fn text_ordering_falls_back_to_case_folded_comparison() {
        assert!(check("last_name:>'n'"));
        assert!(check("last_name:<'P'"));
    }

    #[test]
    fn null_and_empty() {
        assert!(check("deleted_at:null"));
        assert!(check("missing_field:NULL"));
        assert!(!check("status:null"));
        assert!(check("status:!null"));
        assert!(check("instance_id:''"));
        assert!(check("missing_field:''"));
        assert!(check("factors:''"));
        assert!(check("status:!''"));
        assert!(!check("instance_id:!''"));
    }

    #[test]
    fn arrays_match_any_element() {
        assert!(check("tags:'FalconGroupingTags/EU'"));
        assert!(check("device.policies.id:'p2'"));
        assert!(!check("tags:!'FalconGroupingTags/EU'"));
        assert!(check("tags:!'FalconGroupingTags/US'"));
    }

    #[test]
    fn lists_match_exactly() {
        assert!(check("status:['inactive','active']"));
        assert!(!check("status:['ACTIVE']"));
        assert!(!check("device.hostname:['PC-*']"));
        assert!(check("status:!['inactive']"));
        assert!(!check("status:!['inactive','active']"));
        assert!(check("severity:[60,70]"));
    }

    #[test]
    fn boolean_structure() {
        assert!(check("status:'inactive',first_name:'Zoë'"));
        assert!(!check("status:'inactive'+first_name:'Zoë'"));
        assert!(check("status:'inactive',first_name:'Zoë'+severity:70"));
        assert!(!check("(status:'inactive',first_name:'Zoë')+severity:71"));
        assert!(check("*"));
    }

    #[test]
    fn type_mismatches_do_not_match() {
        assert!(!check("device:'x'"));
        assert!(!check("severity:>'now-1d'"));
        assert!(!check("show_in_ui:>1"));
    }

    #[test]
    fn glob_edges() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(glob("abc", &s(&["a", "c"])));
        assert!(glob("ac", &s(&["a", "c"])));
        assert!(!glob("ab", &s(&["ab", "b"])));
        assert!(glob("anything", &s(&["", ""])));
        assert!(glob("a-b-c", &s(&["a", "b", "c"])));
        assert!(!glob("a-c-b", &s(&["a", "b", "c"])));
    }
}
