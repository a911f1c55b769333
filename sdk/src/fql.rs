//! Structured filters.
//!
//! Build a [`Filter`] from conditions; the host turns it into FQL and escapes
//! every value, so a name such as `O'Brien` cannot change the filter's
//! meaning.
//!
//! ```ignore
//! use falcon_sdk::fql;
//! let filter = fql::all_of([fql::eq("status", "active"), fql::eq("last_name", "O'Brien")]);
//! ```

use crate::{Comparison, Condition, Filter};

/// A condition: `field` equals `value` (`*` in the value is a wildcard).
pub fn eq(field: &str, value: &str) -> Condition {
    condition(field, Comparison::Equals, [value])
}

/// A condition: `field` differs from `value`.
pub fn not_eq(field: &str, value: &str) -> Condition {
    condition(field, Comparison::NotEquals, [value])
}

/// A condition: `field` equals any of `values`.
pub fn any_of<'a>(field: &str, values: impl IntoIterator<Item = &'a str>) -> Condition {
    condition(field, Comparison::Equals, values)
}

/// A condition comparing `field` with `value` by `op`.
pub fn condition<'a>(
    field: &str,
    op: Comparison,
    values: impl IntoIterator<Item = &'a str>,
) -> Condition {
    Condition {
        field: field.to_owned(),
        op,
        values: values.into_iter().map(str::to_owned).collect(),
    }
}

/// A filter that holds when every condition holds.
pub fn all_of(conditions: impl IntoIterator<Item = Condition>) -> Filter {
    Filter::AllOf(conditions.into_iter().collect())
}
