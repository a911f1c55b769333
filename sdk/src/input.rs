//! Typed access to the operator's input.
//!
//! The operator passes a JSON object (`host run --input '{...}'`, or
//! `--set key=value` for single values). [`Input`] reads fields with a
//! default and a clear error when a value has the wrong type.

use serde_json::{Map, Value};

/// A field of the input has the wrong type or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The field, for example `inactive_days`.
    pub field: String,
    /// What was expected, for example `a whole number`.
    pub expected: String,
    /// What was found, as JSON.
    pub found: String,
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.field.is_empty() {
            write!(f, "input must be {}, got {}", self.expected, self.found)
        } else {
            write!(
                f,
                "input field `{}` must be {}, got {}",
                self.field, self.expected, self.found
            )
        }
    }
}

impl std::error::Error for InputError {}

/// The operator's input: a JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    fields: Map<String, Value>,
}

impl Input {
    /// Parses the input text the host passes; empty text is an empty object.
    ///
    /// # Errors
    ///
    /// The text is not a JSON object.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            Ok(other) => Err(InputError {
                field: String::new(),
                expected: "a JSON object".into(),
                found: excerpt(&other),
            }),
            Err(e) => Err(InputError {
                field: String::new(),
                expected: "a JSON object".into(),
                found: format!("text that is not JSON ({e})"),
            }),
        }
    }

    /// The raw value of a field, if present.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field).filter(|v| !v.is_null())
    }

    /// A whole number field, or `default` when absent. Numbers given as
    /// strings (`--set days=30`) are accepted.
    ///
    /// # Errors
    ///
    /// The field is present but not a non-negative whole number.
    pub fn u64_or(&self, field: &str, default: u64) -> Result<u64, InputError> {
        let Some(value) = self.get(field) else {
            return Ok(default);
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| wrong(field, "a non-negative whole number", value))
    }

    /// A string field, or `default` when absent.
    ///
    /// # Errors
    ///
    /// The field is present but not a string.
    pub fn str_or<'a>(&'a self, field: &str, default: &'a str) -> Result<&'a str, InputError> {
        match self.get(field) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(wrong(field, "a string", other)),
        }
    }

    /// An optional string field.
    ///
    /// # Errors
    ///
    /// The field is present but not a string.
    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, InputError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong(field, "a string", other)),
        }
    }

    /// A list of strings, or `default` when absent. A single string is split
    /// at commas (`--set roles=a,b`).
    ///
    /// # Errors
    ///
    /// The field is present but neither a list of strings nor a string.
    pub fn strings_or(&self, field: &str, default: &[&str]) -> Result<Vec<String>, InputError> {
        match self.get(field) {
            None => Ok(default.iter().map(|s| (*s).to_owned()).collect()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(field, "a list of strings", other)),
                })
                .collect(),
            Some(other) => Err(wrong(field, "a list of strings", other)),
        }
    }

    /// A field holding a JSON document, given either as JSON (`--input`) or
    /// as text that parses as JSON: the form `--set-file key=report.json`
    /// hands over a file's content. `None` when absent.
    ///
    /// ```
    /// use falcon_sdk::Input;
    ///
    /// let inline = Input::parse(r#"{"previous": {"users": []}}"#).unwrap();
    /// let from_file = Input::parse(r#"{"previous": "{\"users\": []}"}"#).unwrap();
    /// assert_eq!(inline.json_document("previous").unwrap(), from_file.json_document("previous").unwrap());
    /// assert_eq!(inline.json_document("other").unwrap(), None);
    /// ```
    ///
    /// # Errors
    ///
    /// The field is text that is not JSON.
    pub fn json_document(&self, field: &str) -> Result<Option<Value>, InputError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => {
                serde_json::from_str(text)
                    .map(Some)
                    .map_err(|e| InputError {
                        field: field.into(),
                        expected: "JSON (a document, or text holding one)".into(),
                        found: format!("text that is not JSON ({e})"),
                    })
            }
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// One of a fixed set of words, or `default` when absent.
    ///
    /// # Errors
    ///
    /// The field is present but not one of `choices`.
    pub fn choice_or<'a>(
        &'a self,
        field: &str,
        choices: &[&str],
        default: &'a str,
    ) -> Result<&'a str, InputError> {
        let value = self.str_or(field, default)?;
        if choices.contains(&value) {
            Ok(value)
        } else {
            Err(InputError {
                field: field.into(),
                expected: format!("one of {}", choices.join(", ")),
                found: format!("\"{value}\""),
            })
        }
    }

    /// Field names present in the input, for rejecting unknown ones.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// Fails when the input has a field not in `known`, naming it and the
    /// known ones: a typo in an option must not be silently ignored.
    ///
    /// # Errors
    ///
    /// An unknown field is present.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), InputError> {
        match self.keys().find(|k| !known.contains(k)) {
            None => Ok(()),
            Some(unknown) => Err(InputError {
                field: unknown.into(),
                expected: format!("one of the known fields ({})", known.join(", ")),
                found: "an unknown field".into(),
            }),
        }
    }
}

fn wrong(field: &str, expected: &str, found: &Value) -> InputError {
    InputError {
        field: field.into(),
        expected: expected.into(),
        found: excerpt(found),
    }
}

fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_an_empty_object() {
        let input = Input::parse("  ").unwrap();
        assert_eq!(input.u64_or("days", 90).unwrap(), 90);
    }

    #[test]
    fn numbers_may_arrive_as_strings() {
        let input = Input::parse(r#"{"days":"30","n":7}"#).unwrap();
        assert_eq!(input.u64_or("days", 90).unwrap(), 30);
        assert_eq!(input.u64_or("n", 0).unwrap(), 7);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let input = Input::parse(r#"{"days":"soon","format":3}"#).unwrap();
        let err = input.u64_or("days", 90).unwrap_err().to_string();
        assert_eq!(
            err,
            "input field `days` must be a non-negative whole number, got \"soon\""
        );
        let err = input.str_or("format", "markdown").unwrap_err().to_string();
        assert!(err.contains("`format` must be a string"), "{err}");
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(
            Input::parse("[1]")
                .unwrap_err()
                .to_string()
                .contains("a JSON object")
        );
        assert!(
            Input::parse("{")
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

    #[test]
    fn choices_and_lists() {
        let input = Input::parse(r#"{"format":"xml","roles":"a, b,,c"}"#).unwrap();
        let err = input
            .choice_or("format", &["markdown", "json"], "markdown")
            .unwrap_err();
        assert_eq!(err.expected, "one of markdown, json");
        assert_eq!(input.strings_or("roles", &[]).unwrap(), ["a", "b", "c"]);
        assert_eq!(input.strings_or("other", &["x"]).unwrap(), ["x"]);
    }

    #[test]
    fn json_documents_arrive_inline_or_as_text() {
        let input = Input::parse(r#"{"a": [1], "b": "[1]", "c": "nope", "d": "3"}"#).unwrap();
        assert_eq!(
            input.json_document("a").unwrap(),
            Some(serde_json::json!([1]))
        );
        assert_eq!(
            input.json_document("b").unwrap(),
            Some(serde_json::json!([1]))
        );
        assert_eq!(
            input.json_document("d").unwrap(),
            Some(serde_json::json!(3))
        );
        let err = input.json_document("c").unwrap_err().to_string();
        assert!(
            err.starts_with("input field `c` must be JSON (a document, or text holding one), got text that is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let input = Input::parse(r#"{"inactve_days":3}"#).unwrap();
        let err = input
            .reject_unknown(&["inactive_days"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`inactve_days`"), "{err}");
    }
}
