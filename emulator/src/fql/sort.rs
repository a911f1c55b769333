//! Sort expressions: `field.asc`, `field.desc`, `field|asc`, `field|desc`, `field`.

use std::cmp::Ordering;

use serde_json::Value;

use super::FqlError;
use super::eval::{leaves, parse_time};

/// Which way a [`Sort`] orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A parsed sort expression over one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort {
    field: String,
    direction: Direction,
}

impl Sort {
    /// Parses `field.asc`, `field.desc`, `field|asc`, `field|desc` or a bare `field`
    /// (ascending). Direction words are case-insensitive.
    ///
    /// # Errors
    ///
    /// Returns [`FqlError`] for an empty expression, an unknown direction or a field
    /// name that is not a dotted identifier.
    pub fn parse(src: &str) -> Result<Self, FqlError> {
        let src = src.trim();
        let (field, direction) = match src.split_once('|') {
            Some((field, word)) => (field, direction(word, field.chars().count() + 1)?),
            None => split_dotted(src),
        };
        check_field(field)?;
        Ok(Self {
            field: field.to_owned(),
            direction,
        })
    }

    /// A sort on `field` in `direction`.
    pub fn new(field: impl Into<String>, direction: Direction) -> Self {
        Self {
            field: field.into(),
            direction,
        }
    }

    /// The field sorted on.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Orders two JSON objects by the field: numbers numerically, timestamps
    /// chronologically, text case-insensitively. Objects without the field (or with
    /// `null`) come last in both directions.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let first = |doc| leaves(doc, &self.field).into_iter().find(|v| !v.is_null());
        match (first(a), first(b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let order = compare_values(x, y);
                if self.direction == Direction::Desc {
                    order.reverse()
                } else {
                    order
                }
            }
        }
    }
}

fn direction(word: &str, position: usize) -> Result<Direction, FqlError> {
    match word.to_ascii_lowercase().as_str() {
        "asc" => Ok(Direction::Asc),
        "desc" => Ok(Direction::Desc),
        _ => Err(FqlError::new(
            position,
            format!("invalid sort direction `{word}`"),
        )),
    }
}

/// Splits a trailing `.asc` / `.desc`; anything else is a field sorted ascending.
fn split_dotted(src: &str) -> (&str, Direction) {
    if let Some((field, word)) = src.rsplit_once('.')
        && let Ok(direction) = direction(word, 0)
    {
        return (field, direction);
    }
    (src, Direction::Asc)
}

fn check_field(field: &str) -> Result<(), FqlError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    if let Some(at) = field.chars().position(|c| !valid_char(c)) {
        return Err(FqlError::new(at, format!("invalid sort field `{field}`")));
    }
    if field.split('.').any(str::is_empty) {
        return Err(FqlError::new(0, format!("invalid sort field `{field}`")));
    }
    Ok(())
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Value::String(x), Value::String(y)) => compare_strings(x, y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn compare_strings(a: &str, b: &str) -> Ordering {
    if let (Some(x), Some(y)) = (parse_time(a), parse_time(b)) {
        return x.cmp(&y);
    }
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| a.cmp(b))
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_both_syntaxes() {
        let cases = [
            ("last_name.asc", "last_name", Direction::Asc),
            ("last_name.desc", "last_name", Direction::Desc),
            ("last_name|asc", "last_name", Direction::Asc),
            ("last_name|DESC", "last_name", Direction::Desc),
            ("last_name", "last_name", Direction::Asc),
            ("device.hostname.desc", "device.hostname", Direction::Desc),
            ("device.hostname", "device.hostname", Direction::Asc),
            ("device.hostname|desc", "device.hostname", Direction::Desc),
        ];
        for (src, field, dir) in cases {
            let sort = Sort::parse(src).expect(src);
            assert_eq!((sort.field(), sort.direction()), (field, dir), "{src}");
        }
    }

    #[test]
    fn rejects_malformed_sorts() {
        for src in ["", "|asc", "name|up", "name asc", "a..b", "na'me"] {
            assert!(Sort::parse(src).is_err(), "{src:?} accepted");
        }
    }

    #[test]
    fn orders_by_type() {
        let docs = [
            json!({"n": 10, "t": "2024-01-02T00:00:00Z", "s": "b"}),
            json!({"n": 9, "t": "2024-01-01T23:59:59.999Z", "s": "B"}),
            json!({"n": 100, "t": "2024-01-03T00:00:00.5Z", "s": "Ångström"}),
            json!({"s": "a"}),
        ];
        let order = |src: &str| {
            let sort = Sort::parse(src).expect(src);
            let mut idx: Vec<usize> = (0..docs.len()).collect();
            idx.sort_by(|a, b| sort.compare(&docs[*a], &docs[*b]));
            idx
        };
        assert_eq!(order("n.asc"), [1, 0, 2, 3]);
        assert_eq!(order("n.desc"), [2, 0, 1, 3]);
        assert_eq!(order("t|asc"), [1, 0, 2, 3]);
        assert_eq!(order("s|asc"), [3, 1, 0, 2]);
    }
}
