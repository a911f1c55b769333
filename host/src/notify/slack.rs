//! Slack incoming webhooks: `POST` of `{"text", "blocks"}` to the webhook URL,
//! which answers `200 ok`.
//!
//! Slack has no idempotency key, so a request that may have reached it is not
//! repeated (see [`super::delivery`]).

use serde_json::{Value, json};

use super::delivery::{self, Policy, Redactor, Undelivered};
use super::{Delivered, PluginError, Rendered, invalid, json_body, one_line, quote};
use crate::bindings::falcon::plugin::notify::{Message, Severity};

/// Slack's limits: blocks per message, characters of a header and of a
/// section's text.
const MAX_BLOCKS: usize = 50;
const MAX_HEADER: usize = 150;
const MAX_SECTION: usize = 3000;

/// The name a severity has in messages.
pub(super) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The plugin's blocks, checked, or a header, the text and a context line.
pub(super) fn render(message: &Message, plugin: &str) -> Result<Rendered, PluginError> {
    one_line("title", &message.title, MAX_HEADER)?;
    let blocks = match &message.blocks {
        Some(text) => plugin_blocks(text)?,
        None => {
            let mut blocks = vec![json!({
                "type": "header",
                "text": { "type": "plain_text", "text": message.title },
            })];
            // A section takes 3000 characters; longer text takes several.
            let chars: Vec<char> = message.text.chars().collect();
            for chunk in chars.chunks(MAX_SECTION).filter(|c| !c.is_empty()) {
                let text: String = chunk.iter().collect();
                if !text.trim().is_empty() {
                    blocks.push(json!({
                        "type": "section",
                        "text": { "type": "mrkdwn", "text": text },
                    }));
                }
            }
            blocks.push(json!({
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": format!(
                        "Severity: *{}* · sent by plugin `{plugin}`",
                        severity_name(message.severity)
                    ),
                }],
            }));
            if blocks.len() > MAX_BLOCKS {
                return Err(invalid(format!(
                    "the text needs {} blocks; Slack takes at most {MAX_BLOCKS}",
                    blocks.len()
                )));
            }
            blocks
        }
    };
    // `text` is what the notification itself shows.
    let fallback = if message.text.trim().is_empty() {
        message.title.clone()
    } else {
        format!("{}\n{}", message.title, message.text)
    };
    let body = json!({ "text": fallback, "blocks": blocks });
    let summary = format!(
        "Slack message {} (severity {}, {} blocks)",
        quote(&message.title, 80),
        severity_name(message.severity),
        blocks.len()
    );
    Ok(json_body(&body, summary))
}

/// Blocks from the plugin: a JSON array of objects with a `type`.
pub(super) fn plugin_blocks(text: &str) -> Result<Vec<Value>, PluginError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("`blocks` is not JSON: {e}")))?;
    let Value::Array(blocks) = value else {
        return Err(invalid(
            "`blocks` must be a JSON array of Block Kit blocks".into(),
        ));
    };
    if blocks.is_empty() || blocks.len() > MAX_BLOCKS {
        return Err(invalid(format!(
            "`blocks` has {} blocks; Slack takes 1 to {MAX_BLOCKS}",
            blocks.len()
        )));
    }
    for (i, block) in blocks.iter().enumerate() {
        if !block.get("type").is_some_and(Value::is_string) {
            return Err(invalid(format!("block {i} of `blocks` has no `type`")));
        }
    }
    Ok(blocks)
}

pub(super) async fn deliver(
    url: &reqwest::Url,
    body: &[u8],
    http: &reqwest::Client,
    policy: &Policy,
    redactor: &Redactor,
) -> Result<Delivered, Undelivered> {
    let sent = delivery::post(policy, redactor, || {
        http.post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
    })
    .await?;
    Ok(Delivered {
        attempts: sent.attempts,
        status: sent.status,
        ticket: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(blocks: Option<&str>) -> Message {
        Message {
            title: "2 hosts contained".into(),
            text: "*web-01* and *web-02*".into(),
            blocks: blocks.map(str::to_owned),
            severity: Severity::Critical,
        }
    }

    fn body(rendered: &Rendered) -> Value {
        match &rendered.body {
            super::super::Body::Json(bytes) => serde_json::from_slice(bytes).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_blocks_the_host_builds_header_text_and_severity() {
        let rendered = render(&message(None), "contain-hosts").unwrap();
        let body = body(&rendered);
        assert_eq!(body["text"], "2 hosts contained\n*web-01* and *web-02*");
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][0]["text"]["text"], "2 hosts contained");
        assert_eq!(body["blocks"][1]["text"]["text"], "*web-01* and *web-02*");
        let context = body["blocks"][2]["elements"][0]["text"].as_str().unwrap();
        assert!(context.contains("*critical*") && context.contains("`contain-hosts`"));
        assert!(rendered.summary.contains("severity critical, 3 blocks"));
        assert_eq!(rendered.bytes, serde_json::to_vec(&body).unwrap().len());
    }

    #[test]
    fn plugin_blocks_are_checked_and_passed_on() {
        let rendered = render(&message(Some(r#"[{"type":"divider"}]"#)), "p").unwrap();
        assert_eq!(body(&rendered)["blocks"], json!([{ "type": "divider" }]));
        for bad in ["{}", "[]", "[{}]", "not json"] {
            assert!(render(&message(Some(bad)), "p").is_err(), "{bad}");
        }
        let mut two_lines = message(None);
        two_lines.title = "a\nb".into();
        assert!(render(&two_lines, "p").is_err());
    }
}
