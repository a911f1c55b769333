//! The plugin's input: `--input`, `--input-file`, `--set` and `--set-file`,
//! merged into one JSON object.

use std::path::Path;

use serde_json::{Map, Value};

/// The largest file `--set-file` reads: input is held in memory by both the
/// host and the plugin.
const MAX_SET_FILE: u64 = 16 * 1024 * 1024;

/// Builds the input object, or says which flag is wrong and how.
pub(crate) fn build(
    input: Option<&str>,
    input_file: Option<&Path>,
    sets: &[String],
    set_files: &[String],
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
    // A plugin cannot read the operator's files; this hands it one file's
    // text, for example a previous report to compare with.
    for set in set_files {
        let (key, path) = set.split_once('=').ok_or_else(|| {
            format!(
                "--set-file `{set}` has no `=`; write it as KEY=PATH, \
                 for example previous=last-audit.json"
            )
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--set-file `{set}` has an empty key"));
        }
        let text = read_set_file(Path::new(path))?;
        object.insert(key.to_owned(), Value::String(text));
    }
    Ok(Value::Object(object).to_string())
}

fn read_set_file(path: &Path) -> Result<String, String> {
    let fail =
        |e: &dyn std::fmt::Display| format!("--set-file: failed to read `{}`: {e}", path.display());
    let size = std::fs::metadata(path).map_err(|e| fail(&e))?.len();
    if size > MAX_SET_FILE {
        return Err(format!(
            "--set-file: `{}` is {size} bytes, over the limit of {MAX_SET_FILE}; \
             pass a smaller file",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|_| fail(&"the file is not UTF-8 text"))
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
        let text = build(
            Some(r#"{"inactive_days":90,"format":"json"}"#),
            None,
            &sets,
            &[],
        )
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["inactive_days"], 30);
        assert_eq!(value["format"], "json");
        assert_eq!(value["name"], "O'Brien");
    }

    #[test]
    fn bad_input_names_the_flag() {
        assert!(
            build(Some("[1]"), None, &[], &[])
                .unwrap_err()
                .starts_with("--input must be")
        );
        assert!(
            build(Some("{"), None, &[], &[])
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            build(None, None, &["x".into()], &[])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        let missing = build(None, Some(Path::new("/nonexistent/in.json")), &[], &[]).unwrap_err();
        assert!(
            missing.contains("failed to read the input file"),
            "{missing}"
        );
    }

    #[test]
    fn set_file_passes_a_files_text_as_a_string() {
        let dir = std::env::temp_dir().join(format!("host-set-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("last.json");
        std::fs::write(&path, "{\"users\": []}\n").unwrap();
        let set = format!("previous={}", path.display());
        let text = build(None, None, &["format=json".into()], &[set]).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["previous"], "{\"users\": []}\n");
        assert_eq!(value["format"], "json");

        let missing = build(None, None, &[], &["previous=/nonexistent/x".into()]).unwrap_err();
        assert!(
            missing.starts_with("--set-file: failed to read `/nonexistent/x`"),
            "{missing}"
        );
        let no_eq = build(None, None, &[], &["previous".into()]).unwrap_err();
        assert!(no_eq.contains("KEY=PATH"), "{no_eq}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let binary = build(None, None, &[], &[format!("x={}", path.display())]).unwrap_err();
        assert!(binary.contains("not UTF-8"), "{binary}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
