//! The sort expressions of list and query calls.

use crate::bindings::PluginError;

/// The longest sort expression the host passes on.
const MAX_SORT_BYTES: usize = 128;

/// Checks a sort such as `created_timestamp|desc` or `name.asc`: a field
/// name (letters, digits, `_`, `.`), then optionally `|asc` or `|desc`. The
/// value travels as one query value or JSON string and cannot change the
/// URL either way; checking it here gives the plugin a clear error instead
/// of Falcon's bare 400. A blank sort means Falcon's default order.
pub(super) fn check_sort(sort: Option<String>) -> Result<Option<String>, PluginError> {
    let Some(sort) = sort.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        let shown: String = sort.chars().take(40).collect();
        PluginError::InvalidInput(format!(
            "sort `{}` {why}; a sort is a field name, optionally followed by `|asc` or `|desc` \
             (or `.asc`, `.desc`)",
            shown.escape_default()
        ))
    };
    if sort.len() > MAX_SORT_BYTES {
        return Err(invalid(&format!("is longer than {MAX_SORT_BYTES} bytes")));
    }
    let (field, direction) = match sort.split_once('|') {
        Some((field, direction)) => (field, Some(direction)),
        None => (sort.as_str(), None),
    };
    let field_ok = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !field_ok {
        return Err(invalid("has a character a field name cannot hold"));
    }
    if direction.is_some_and(|d| d != "asc" && d != "desc") {
        return Err(invalid("has a direction other than `asc` or `desc`"));
    }
    Ok(Some(sort))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_are_a_field_and_a_direction() {
        for good in [
            "created_timestamp|desc",
            "name.asc",
            "start",
            " severity|asc ",
        ] {
            assert!(check_sort(Some(good.into())).unwrap().is_some(), "{good}");
        }
        assert_eq!(check_sort(Some("  ".into())).unwrap(), None);
        assert_eq!(check_sort(None).unwrap(), None);
        for bad in [
            "name|sideways",
            "name'+status:'new",
            "a|asc|desc",
            "|asc",
            "name&limit=1",
        ] {
            let err = check_sort(Some(bad.into())).unwrap_err();
            let teaches = |m: &str| m.contains("a sort is a field name");
            assert!(
                matches!(&err, PluginError::InvalidInput(m) if teaches(m)),
                "{bad}: {err:?}"
            );
        }
        assert!(check_sort(Some("x".repeat(200))).is_err());
    }
}
