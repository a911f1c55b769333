//! A builder for FQL (Falcon Query Language) filters.
//!
//! Conditions are AND-joined with `+`; string values are single-quoted with
//! `\` and `'` escaped, so a value such as `O'Brien` cannot change the
//! filter's meaning. Several values for one field become a bracket list
//! (`field:['a','b']`, matching any of them). Raw FQL can be added as is.
//!
//! ```
//! use falcon::fql::Fql;
//!
//! let filter = Fql::new()
//!     .eq("status", "active")
//!     .any_of("last_name", ["O'Brien", "Chen"])
//!     .ge("created_at", "2024-01-01T00:00:00Z")
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     filter,
//!     r"status:'active'+last_name:['O\'Brien','Chen']+created_at:>='2024-01-01T00:00:00Z'"
//! );
//! ```
//!
//! A filter is always sent as one encoded query value (`filter=...`), never
//! spliced into a URL path.

use std::fmt;

use crate::error::{Error, Result};

/// How a field is compared with its value(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Equals (`field:'v'`; `*` in a string is a wildcard). With several
    /// values: equals any of them.
    Eq,
    /// Differs (`field:!'v'`). With several values: differs from all of them.
    Ne,
    /// Greater than (`field:>'v'`).
    Gt,
    /// Greater than or equal (`field:>='v'`).
    Ge,
    /// Less than (`field:<'v'`).
    Lt,
    /// Less than or equal (`field:<='v'`).
    Le,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "",
            Self::Ne => "!",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// One FQL value: strings are quoted and escaped, numbers and booleans are
/// written bare.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, written `'...'`.
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Str(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Str(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<jiff::Timestamp> for Value {
    /// A time, written as a quoted RFC 3339 UTC string (`'2024-01-01T00:00:00Z'`).
    fn from(v: jiff::Timestamp) -> Self {
        Self::Str(v.to_string())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "'{}'", escape(s)),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Escapes a string for use between single quotes: `\` → `\\`, `'` → `\'`.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One test of a field against one or more values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field name, possibly dotted (`device.hostname`).
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The values; several make a bracket list.
    pub values: Vec<Value>,
}

impl Condition {
    /// A condition comparing `field` with `values` by `op`.
    pub fn new(
        field: impl Into<String>,
        op: Op,
        values: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Self {
        Self {
            field: field.into(),
            op,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Writes the condition as FQL.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the field name is empty or holds other
    /// characters than letters, digits, `_`, `.` and `-`; when there is no
    /// value; or when a comparison other than `Eq`/`Ne` has several values.
    pub fn to_fql(&self) -> Result<String> {
        let field = &self.field;
        let valid = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err(Error::InvalidInput(format!(
                "fql field `{field}` is not a field name (letters, digits, `_`, `.`, `-`)"
            )));
        }
        let op = self.op.symbol();
        match self.values.as_slice() {
            [] => Err(Error::InvalidInput(format!(
                "fql condition on `{field}` has no value"
            ))),
            [one] => Ok(format!("{field}:{op}{one}")),
            many if matches!(self.op, Op::Eq | Op::Ne) => {
                let list: Vec<String> = many.iter().map(ToString::to_string).collect();
                Ok(format!("{field}:{op}[{}]", list.join(",")))
            }
            _ => Err(Error::InvalidInput(format!(
                "fql condition on `{field}` compares with several values; only `Eq` and `Ne` take a list"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Condition(Condition),
    Raw(String),
}

/// An FQL filter: conditions and raw FQL fragments, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fql {
    parts: Vec<Part>,
}

impl Fql {
    /// An empty filter (matches everything; [`Fql::build`] gives `""`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition.
    #[must_use]
    pub fn and(mut self, condition: Condition) -> Self {
        self.parts.push(Part::Condition(condition));
        self
    }

    /// Adds raw FQL, used verbatim (parenthesised when it holds an OR `,` and
    /// other parts exist). Empty strings are ignored.
    #[must_use]
    pub fn raw(mut self, fql: impl Into<String>) -> Self {
        let fql = fql.into();
        if !fql.trim().is_empty() {
            self.parts.push(Part::Raw(fql.trim().to_owned()));
        }
        self
    }

    /// Adds `field` equals `value`.
    #[must_use]
    pub fn eq(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Eq, [value]))
    }

    /// Adds `field` equals any of `values`.
    #[must_use]
    pub fn any_of(self, field: &str, values: impl IntoIterator<Item = impl Into<Value>>) -> Self {
        self.and(Condition::new(field, Op::Eq, values))
    }

    /// Adds `field` differs from `value`.
    #[must_use]
    pub fn ne(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Ne, [value]))
    }

    /// Adds `field` > `value`.
    #[must_use]
    pub fn gt(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Gt, [value]))
    }

    /// Adds `field` >= `value`.
    #[must_use]
    pub fn ge(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Ge, [value]))
    }

    /// Adds `field` < `value`.
    #[must_use]
    pub fn lt(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Lt, [value]))
    }

    /// Adds `field` <= `value`.
    #[must_use]
    pub fn le(self, field: &str, value: impl Into<Value>) -> Self {
        self.and(Condition::new(field, Op::Le, [value]))
    }

    /// `lo <= field <= hi` (two conditions), for numbers, strings and times.
    #[must_use]
    pub fn between(self, field: &str, lo: impl Into<Value>, hi: impl Into<Value>) -> Self {
        self.ge(field, lo).le(field, hi)
    }

    /// Whether the filter has no part.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The filter as an FQL string, parts joined with `+`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a condition is invalid (see
    /// [`Condition::to_fql`]).
    pub fn build(&self) -> Result<String> {
        let several = self.parts.len() > 1;
        let mut out = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            out.push(match part {
                Part::Condition(c) => c.to_fql()?,
                Part::Raw(raw) if several && raw.contains(',') => format!("({raw})"),
                Part::Raw(raw) => raw.clone(),
            });
        }
        Ok(out.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_times() {
        let from: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let to: jiff::Timestamp = "2024-01-02T00:00:00.5Z".parse().unwrap();
        let f = Fql::new()
            .between("last_seen", from, to)
            .between("severity", 40, 59)
            .build()
            .unwrap();
        assert_eq!(
            f,
            "last_seen:>='2024-01-01T00:00:00Z'+last_seen:<='2024-01-02T00:00:00.5Z'+severity:>=40+severity:<=59"
        );
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        assert_eq!(escape(r"O'Brien"), r"O\'Brien");
        assert_eq!(escape(r"a\b"), r"a\\b");
        assert_eq!(escape(r"\'"), r"\\\'");
        assert_eq!(escape("plain*"), "plain*");
        let f = Fql::new().eq("last_name", "x'+uid:'*").build().unwrap();
        assert_eq!(f, r"last_name:'x\'+uid:\'*'");
    }

    #[test]
    fn operators_lists_and_joins() {
        let f = Fql::new()
            .eq("status", "active")
            .ne("uid", "a@b")
            .gt("severity", 70)
            .ge("t", "2024-01-01T00:00:00Z")
            .lt("n", 1.5)
            .le("m", -2)
            .eq("show_in_ui", true)
            .build()
            .unwrap();
        assert_eq!(
            f,
            "status:'active'+uid:!'a@b'+severity:>70+t:>='2024-01-01T00:00:00Z'+n:<1.5+m:<=-2+show_in_ui:true"
        );
        assert_eq!(
            Fql::new().any_of("uid", ["a", "b"]).build().unwrap(),
            "uid:['a','b']"
        );
        assert_eq!(
            Fql::new()
                .and(Condition::new("uid", Op::Ne, ["a", "b"]))
                .build()
                .unwrap(),
            "uid:!['a','b']"
        );
        assert_eq!(
            Fql::new().any_of("uid", ["only"]).build().unwrap(),
            "uid:'only'"
        );
        assert_eq!(Fql::new().build().unwrap(), "");
        assert!(Fql::new().is_empty());
    }

    #[test]
    fn raw_passthrough() {
        assert_eq!(
            Fql::new().raw("a:'1',b:'2'").build().unwrap(),
            "a:'1',b:'2'"
        );
        assert_eq!(
            Fql::new().raw("a:'1',b:'2'").eq("c", "3").build().unwrap(),
            "(a:'1',b:'2')+c:'3'"
        );
        assert_eq!(Fql::new().raw("  ").eq("c", "3").build().unwrap(), "c:'3'");
    }

    #[test]
    fn invalid_conditions() {
        let empty: [&str; 0] = [];
        assert!(Fql::new().any_of("uid", empty).build().is_err());
        assert!(Fql::new().eq("", "x").build().is_err());
        assert!(Fql::new().eq("a:b", "x").build().is_err());
        assert!(Fql::new().eq("a b", "x").build().is_err());
        assert!(
            Fql::new()
                .and(Condition::new("n", Op::Gt, [1, 2]))
                .build()
                .is_err()
        );
        assert!(Fql::new().eq("device.hostname", "h").build().is_ok());
    }
}
