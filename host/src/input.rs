//! The plugin's input: `--input`, `--input-file` and `--set`, merged into one
//! JSON object.

use std::path::Path;

use serde_json::{Map, Value};

/// Builds the input object, or says which flag is wrong and how.
pub(crate) fn build(
    input: Option<&str>,
    input_file: Option<&Path>,
    sets: &[String],
) -> Result<String, String> {
    let base = match (input, input_file) {
        (Some(text), _) => parse_object(text, "--input")?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read the input file `{}`: {e}", path.display()))?;
            parse_object(&text, &format!("--input-file `{}`", path.display()))?
        }
        (None, None) => Map::new(),
    };
    let mut object = base;
    for set in sets {
        let (key, value) = set.split_once('=').ok_or_else(|| {
            format!("--set `{set}` has no `=`; write it as KEY=VALUE, for example format=json")
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set `{set}` has an empty key"));
        }
        // `--set days=30` should give the number 30, `--set name=O'Brien` the
        // string; only values that are JSON scalars or lists become JSON.
        let value = match serde_json::from_str::<Value>(value) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Null)) => v,
            _ => Value::String(value.to_owned()),
        };
        object.insert(key.to_owned(), value);
    }
    Ok(Value::Object(object).to_string())
}

fn parse_object(text: &str, source: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!(
            "{source} must be a JSON object, like {{\"format\":\"json\"}}"
        )),
        Err(e) => Err(format!("{source} is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_override_the_input_and_keep_types() {
        let sets = ["inactive_days=30".to_owned(), "name=O'Brien".to_owned()];
        let text = build(Some(r#"{"inactive_days":90,"format":"json"}"#), None, &sets).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["inactive_days"], 30);
        assert_eq!(value["format"], "json");
        assert_eq!(value["name"], "O'Brien");
    }

    #[test]
    fn bad_input_names_the_flag() {
        assert!(
            build(Some("[1]"), None, &[])
                .unwrap_err()
                .starts_with("--input must be")
        );
        assert!(
            build(Some("{"), None, &[])
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            build(None, None, &["x".into()])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        let missing = build(None, Some(Path::new("/nonexistent/in.json")), &[]).unwrap_err();
        assert!(
            missing.contains("failed to read the input file"),
            "{missing}"
        );
    }
}
