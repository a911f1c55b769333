//! Jira Cloud: tickets created with `POST /rest/api/3/issue`, authenticated
//! with HTTP basic auth of the account's email and an API token, the
//! description in Atlassian Document Format (ADF).
//!
//! Jira has no idempotency key, so a request that may have reached it is not
//! repeated: a second attempt could open a second ticket.

use serde_json::{Value, json};

use super::config::Checked;
use super::delivery::TicketApi;
use super::{PluginError, Rendered, invalid, json_body, one_line, quote};
use crate::bindings::falcon::plugin::notify::{Priority, Ticket};

/// Jira's limit on a summary.
const MAX_SUMMARY: usize = 255;

fn priority_name(priority: Priority) -> &'static str {
    match priority {
        Priority::Lowest => "Lowest",
        Priority::Low => "Low",
        Priority::Medium => "Medium",
        Priority::High => "High",
        Priority::Highest => "Highest",
    }
}

/// Plain text as ADF: a paragraph per block of lines, lines kept apart by
/// hard breaks.
pub(super) fn plain_to_adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.lines().enumerate() {
                if i > 0 {
                    content.push(json!({ "type": "hardBreak" }));
                }
                if !line.is_empty() {
                    content.push(json!({ "type": "text", "text": line }));
                }
            }
            json!({ "type": "paragraph", "content": content })
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

/// Checks a plugin's ADF document: Jira refuses anything else with a 400
/// that names no field.
fn plugin_adf(text: &str) -> Result<Value, PluginError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("`description-adf` is not JSON: {e}")))?;
    let is_doc = doc.get("type") == Some(&json!("doc"))
        && doc.get("version") == Some(&json!(1))
        && doc.get("content").is_some_and(Value::is_array);
    if !is_doc {
        return Err(invalid(
            "`description-adf` must be an ADF document: {\"type\":\"doc\",\"version\":1,\
             \"content\":[...]}"
                .into(),
        ));
    }
    Ok(doc)
}

pub(super) fn render(ticket: &Ticket, checked: &Checked) -> Result<Rendered, PluginError> {
    one_line("summary", &ticket.summary, MAX_SUMMARY)?;
    for label in &ticket.labels {
        if label.is_empty() || label.chars().any(char::is_whitespace) || label.len() > 255 {
            return Err(invalid(format!(
                "the label {} is empty, too long or holds a space; Jira labels are one word",
                quote(label, 40)
            )));
        }
    }
    let description = match &ticket.description_adf {
        Some(adf) => plugin_adf(adf)?,
        None => plain_to_adf(&ticket.description),
    };
    let project = checked.config.project.as_deref().unwrap_or_default();
    let issue_type = checked.config.issue_type.as_deref().unwrap_or("Task");
    let mut fields = json!({
        "project": { "key": project },
        "issuetype": { "name": issue_type },
        "summary": ticket.summary,
        "description": description,
        "labels": ticket.labels,
    });
    let set_priority = checked.config.set_priority != Some(false);
    if set_priority {
        fields["priority"] = json!({ "name": priority_name(ticket.priority) });
    }
    let body = json!({ "fields": fields });
    let summary = format!(
        "Jira {issue_type} in {project}: {} (priority {}{})",
        quote(&ticket.summary, 80),
        if set_priority {
            priority_name(ticket.priority)
        } else {
            "left to the project"
        },
        if ticket.labels.is_empty() {
            String::new()
        } else {
            format!(", labels {}", ticket.labels.join(", "))
        }
    );
    Ok(json_body(&body, summary))
}

/// Jira's create-issue API on `site`, as `email` with its API token.
pub(super) fn api<'a>(site: &reqwest::Url, email: &'a str, token: &'a str) -> TicketApi<'a> {
    let mut url = site.clone();
    url.set_path("/rest/api/3/issue");
    TicketApi {
        url,
        user: email,
        secret: token,
        record: "Jira",
        within: "",
        key: "key",
        id: "id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_becomes_paragraphs_with_hard_breaks() {
        let adf = plain_to_adf("first line\nsecond\n\n\nnext paragraph\n");
        assert_eq!(adf["type"], "doc");
        assert_eq!(adf["content"].as_array().unwrap().len(), 2);
        assert_eq!(adf["content"][0]["content"][1]["type"], "hardBreak");
        assert_eq!(adf["content"][0]["content"][2]["text"], "second");
        assert_eq!(adf["content"][1]["content"][0]["text"], "next paragraph");
    }

    fn body_for(settings: &str) -> (Value, String) {
        let text = format!(
            "kind = \"jira\"\nurl = \"https://x.atlassian.net\"\nemail = \"bot@example.com\"\n\
             token_env = \"T\"\nproject = \"SEC\"\n{settings}"
        );
        let checked = super::super::config::check("jira", &toml::from_str(&text).unwrap()).unwrap();
        let ticket = Ticket {
            summary: "Sensor missing on web-01".into(),
            description: "Install the sensor.".into(),
            description_adf: None,
            priority: Priority::High,
            labels: vec!["falcon".into()],
        };
        let rendered = render(&ticket, &checked).unwrap();
        let super::super::Body::Json(bytes) = &rendered.body else {
            panic!("a JSON body")
        };
        (serde_json::from_slice(bytes).unwrap(), rendered.summary)
    }

    #[test]
    fn priority_is_set_unless_the_destination_leaves_it_to_the_project() {
        let (body, summary) = body_for("");
        assert_eq!(body["fields"]["priority"]["name"], "High");
        assert_eq!(body["fields"]["project"]["key"], "SEC");
        assert_eq!(body["fields"]["issuetype"]["name"], "Task");
        assert!(summary.contains("priority High"), "{summary}");

        let (body, summary) = body_for("set_priority = false\nissue_type = \"Bug\"");
        assert!(body["fields"].get("priority").is_none(), "{body}");
        assert_eq!(body["fields"]["issuetype"]["name"], "Bug");
        assert!(
            summary.contains("priority left to the project"),
            "{summary}"
        );
    }

    #[test]
    fn plugin_adf_must_be_a_document() {
        assert!(plugin_adf(r#"{"type":"doc","version":1,"content":[]}"#).is_ok());
        assert!(plugin_adf(r#"{"type":"paragraph"}"#).is_err());
        assert!(plugin_adf("nope").is_err());
    }
}
