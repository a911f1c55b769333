//! Falcon Query Language: the filters and sort expressions Falcon clients send.
//!
//! [`Filter`] parses the subset of FQL that clients use and evaluates it against JSON
//! objects; [`Sort`] parses `field.asc` / `field|desc` and orders JSON objects.
//!
//! ```
//! use falcon_emulator::fql::Filter;
//! use jiff::Timestamp;
//! use serde_json::json;
//!
//! let filter = Filter::parse("last_name:'O\\'Brien'+status:'active'")?;
//! let user = json!({"last_name": "O'Brien", "status": "active"});
//! assert!(filter.matches(&user, Timestamp::now()));
//! # Ok::<(), falcon_emulator::fql::FqlError>(())
//! ```
//!
//! # Syntax
//!
//! | Form | Meaning |
//! | --- | --- |
//! | `field:'text'`, `field:"text"` | equal, case-insensitive; `*` inside is a wildcard |
//! | `field:5`, `field:true`, `field:null` | unquoted numbers, booleans and `null`/`NULL` |
//! | `field:''` | empty: an empty string, `null` or a missing field |
//! | `field:!'text'` | not equal |
//! | `field:>5`, `>=`, `<`, `<=` | numbers, RFC 3339 timestamps (or dates), else text |
//! | `field:~'text'`, `field:!~'text'` | contains / does not contain, case-insensitive |
//! | `field:*'10.*'` | explicit wildcard match (same as `:` with a `*` inside) |
//! | `field:['a','b']` | any of the listed values, matched exactly (case and `*` literal) |
//! | `'now-7d'`, `now-24h`, `now-30m` | relative to the evaluation time (units s m h d w) |
//! | `a+b`, `a,b`, `(a,b)+c` | AND, OR (AND binds tighter), grouping |
//! | `\'`, `\"`, `\\`, `\*` in quotes | a literal quote, backslash or star |
//! | `*` as the whole filter | everything |
//!
//! Field names are dotted paths (`device.hostname`). A field whose value is an array
//! matches when any element matches; the negated forms (`!`, `!~`) match when no
//! element matches. Anything outside this grammar is an error, never a guess.

mod eval;
mod parse;
mod sort;

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

pub use sort::{Direction, Sort};

/// A parsed FQL filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    expr: Expr,
}

/// Why a filter or sort expression was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FqlError {
    position: usize,
    message: String,
}

impl FqlError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }

    /// Where the problem is, in characters from the start of the expression.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Filter {
    /// Parses an FQL filter.
    ///
    /// # Errors
    ///
    /// Returns [`FqlError`] when `src` is empty or not valid FQL.
    pub fn parse(src: &str) -> Result<Self, FqlError> {
        parse::filter(src).map(|expr| Self { expr })
    }

    /// Whether `doc` (a JSON object) matches; relative times count back from `now`.
    pub fn matches(&self, doc: &Value, now: Timestamp) -> bool {
        eval::matches(&self.expr, doc, now)
    }

    /// The field names the filter tests, so a server can reject unsupported ones.
    pub fn fields(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.expr.collect_fields(&mut out);
        out
    }
}

/// A filter expression tree.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Test(Test),
}

impl Expr {
    fn collect_fields<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Expr::All => {}
            Expr::And(parts) | Expr::Or(parts) => {
                parts.iter().for_each(|p| p.collect_fields(out));
            }
            Expr::Test(test) => {
                out.insert(&test.field);
            }
        }
    }
}

/// One `field:<op><value>` comparison.
#[derive(Clone, Debug, PartialEq)]
struct Test {
    field: String,
    op: Op,
    operand: Operand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    NotContains,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    One(Literal),
    /// Bracket lists match exactly, per Falcon's docs.
    List(Vec<Literal>),
}

#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Text(Text),
    Number(f64),
    Bool(bool),
    Null,
    /// Seconds from the evaluation time; negative is the past.
    Relative(i64),
}

/// A quoted string. `segments` holds the pieces between unescaped `*`s when there
/// is at least one; `value` has every `*` as a plain character.
#[derive(Clone, Debug, PartialEq)]
struct Text {
    value: String,
    segments: Option<Vec<String>>,
}
