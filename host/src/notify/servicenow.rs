//! ServiceNow: incidents created with the Table API,
//! `POST /api/now/table/incident`, authenticated with HTTP basic auth of an
//! integration user.
//!
//! ServiceNow computes an incident's priority from its impact and urgency
//! (1 high, 2 medium, 3 low); the contract's priority maps to both. It has
//! no labels: they are appended to the description. Like Jira it has no
//! idempotency key, so a request that may have reached it is not repeated.

use serde_json::json;

use super::delivery::TicketApi;
use super::{PluginError, Rendered, invalid, json_body, one_line, quote};
use crate::bindings::falcon::plugin::notify::{Priority, Ticket};

/// ServiceNow's default length of `short_description`.
const MAX_SUMMARY: usize = 160;

/// Impact and urgency for a priority.
fn impact_urgency(priority: Priority) -> (&'static str, &'static str) {
    match priority {
        Priority::Highest => ("1", "1"),
        Priority::High => ("1", "2"),
        Priority::Medium => ("2", "2"),
        Priority::Low => ("2", "3"),
        Priority::Lowest => ("3", "3"),
    }
}

pub(super) fn render(ticket: &Ticket) -> Result<Rendered, PluginError> {
    one_line("summary", &ticket.summary, MAX_SUMMARY)?;
    if ticket.labels.iter().any(|l| l.contains(['\n', '\r'])) {
        return Err(invalid("a label must be one line".into()));
    }
    let mut description = ticket.description.trim_end().to_owned();
    if !ticket.labels.is_empty() {
        description.push_str(&format!("\n\nLabels: {}", ticket.labels.join(", ")));
    }
    let (impact, urgency) = impact_urgency(ticket.priority);
    let body = json!({
        "short_description": ticket.summary,
        "description": description,
        "impact": impact,
        "urgency": urgency,
    });
    let summary = format!(
        "ServiceNow incident {} (impact {impact}, urgency {urgency})",
        quote(&ticket.summary, 80)
    );
    Ok(json_body(&body, summary))
}

/// ServiceNow's incident table API on `instance`, as `username`.
pub(super) fn api<'a>(
    instance: &reqwest::Url,
    username: &'a str,
    password: &'a str,
) -> TicketApi<'a> {
    let mut url = instance.clone();
    url.set_path("/api/now/table/incident");
    TicketApi {
        url,
        user: username,
        secret: password,
        record: "ServiceNow",
        within: "/result",
        key: "number",
        id: "sys_id",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn priority_sets_impact_and_urgency_and_labels_join_the_description() {
        let ticket = Ticket {
            summary: "Contained web-01".into(),
            description: "web-01 was contained.\n".into(),
            description_adf: None,
            priority: Priority::High,
            labels: vec!["falcon".into(), "containment".into()],
        };
        let rendered = render(&ticket).unwrap();
        let super::super::Body::Json(bytes) = &rendered.body else {
            panic!("a JSON body")
        };
        let body: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(body["short_description"], "Contained web-01");
        assert_eq!(
            body["description"],
            "web-01 was contained.\n\nLabels: falcon, containment"
        );
        assert_eq!(
            (&body["impact"], &body["urgency"]),
            (&json!("1"), &json!("2"))
        );
        assert!(rendered.summary.contains("impact 1, urgency 2"));
    }
}
