//! The report's Markdown, CSV and HTML forms (JSON is the [`Audit`]
//! serialised as is).

use std::collections::BTreeMap;

use falcon_sdk::report::Table;
use falcon_sdk::report::html::{BarChart, Document};

use crate::changes::Changes;
use crate::{Audit, AuditedUser};

const USER_COLUMNS: [&str; 5] = ["User", "Name", "Last login", "Days since", "Roles"];

impl Audit {
    /// One line under the title: when, how many, which settings; role ids
    /// in backticks for Markdown.
    fn overview(&self, markdown: bool) -> String {
        let quote = |r: &String| {
            if markdown {
                format!("`{r}`")
            } else {
                r.clone()
            }
        };
        let mut text = format!(
            "As of {} · {} users · {} roles · inactive after {} days without a login · \
             administrator roles: {}",
            self.as_of,
            self.user_count,
            self.role_count,
            self.inactive_days,
            self.admin_roles
                .iter()
                .map(quote)
                .collect::<Vec<_>>()
                .join(", "),
        );
        if let Some(changes) = &self.changes {
            text.push_str(&format!(" · compared with the audit of {}", changes.since));
        }
        text
    }

    fn summary_table(&self) -> Table {
        let mut summary = Table::new(["Finding", "Users", "Recommendation"]);
        for kind in self.kinds() {
            summary.row([
                kind.title.to_string(),
                self.counts[kind.key].to_string(),
                kind.advice.to_string(),
            ]);
        }
        summary
    }

    /// A table of the users holding each finding, in report order.
    fn finding_tables(&self) -> Vec<(&'static str, &'static str, Table)> {
        let by_uuid: BTreeMap<&str, &AuditedUser> =
            self.users.iter().map(|u| (u.uuid.as_str(), u)).collect();
        self.kinds()
            .into_iter()
            .map(|kind| {
                let mut table = Table::new(USER_COLUMNS);
                for uuid in &self.findings[kind.key] {
                    table.row(user_cells(by_uuid[uuid.as_str()]));
                }
                (kind.title, kind.advice, table)
            })
            .collect()
    }

    fn users_table(&self) -> Table {
        let mut table = Table::new(USER_COLUMNS);
        for user in &self.users {
            table.row(user_cells(user));
        }
        table
    }

    pub(crate) fn markdown(&self) -> String {
        let mut out = String::from("# Falcon access audit\n\n");
        out.push_str(&self.overview(true));
        out.push_str("\n\n## Summary\n\n");
        out.push_str(&self.summary_table().render());

        if let Some(changes) = &self.changes {
            let (role_changes, removed) = change_tables(changes);
            out.push_str(&format!(
                "\n## Changes since {} ({} role changes, {} new, {} removed accounts)\n\n",
                changes.since,
                role_changes.len(),
                changes.new_accounts.len(),
                removed.len()
            ));
            if role_changes.is_empty() && removed.is_empty() && changes.new_accounts.is_empty() {
                out.push_str("None.\n");
            }
            if !role_changes.is_empty() {
                out.push_str(&role_changes.render());
            }
            if !removed.is_empty() {
                out.push_str("\nRemoved accounts:\n\n");
                out.push_str(&removed.render());
            }
        }

        for (title, advice, table) in self.finding_tables() {
            out.push_str(&format!("\n## {title} ({})\n\n", table.len()));
            if table.is_empty() {
                out.push_str("None.\n");
            } else {
                out.push_str(&format!("{advice}\n\n"));
                out.push_str(&table.render());
            }
        }

        out.push_str(&format!("\n## All users ({})\n\n", self.users.len()));
        out.push_str(&self.users_table().render());
        out
    }

    /// One line per user, for a spreadsheet: role ids and finding keys
    /// separated by `;`, and the recommendations of the user's findings.
    pub(crate) fn csv(&self) -> String {
        let mut table = Table::new([
            "uuid",
            "uid",
            "name",
            "status",
            "last_login_at",
            "days_since_login",
            "roles",
            "findings",
            "recommendations",
        ]);
        for user in &self.users {
            let advice: Vec<&str> = user
                .findings
                .iter()
                .map(|f| self.recommendations[f])
                .collect();
            table.row([
                user.uuid.clone(),
                user.uid.clone(),
                user.name.clone(),
                user.status.clone().unwrap_or_default(),
                user.last_login_at.clone().unwrap_or_default(),
                user.days_since_login
                    .map_or_else(String::new, |d| d.to_string()),
                user.roles
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                user.findings.join(";"),
                advice.join(" "),
            ]);
        }
        table.render_csv()
    }

    /// A page with a chart of the findings and a table per section.
    pub(crate) fn html(&self) -> String {
        let mut page = Document::new("Falcon access audit");
        page.paragraph(&self.overview(false));

        let mut chart = BarChart::new("Users per finding");
        for kind in self.kinds() {
            chart.bar(kind.title, self.counts[kind.key] as f64);
        }
        page.heading(2, "Summary")
            .chart(&chart)
            .table(&self.summary_table());

        if let Some(changes) = &self.changes {
            let (role_changes, removed) = change_tables(changes);
            page.heading(2, &format!("Changes since {}", changes.since));
            page.heading(3, &format!("Role changes ({})", role_changes.len()));
            if role_changes.is_empty() {
                page.paragraph("None.");
            } else {
                page.table(&role_changes);
            }
            page.heading(3, &format!("Removed accounts ({})", removed.len()));
            if removed.is_empty() {
                page.paragraph("None.");
            } else {
                page.table(&removed);
            }
        }

        for (title, advice, table) in self.finding_tables() {
            page.heading(2, &format!("{title} ({})", table.len()));
            if table.is_empty() {
                page.paragraph("None.");
            } else {
                page.paragraph(advice).table(&table);
            }
        }
        page.heading(2, &format!("All users ({})", self.users.len()))
            .table(&self.users_table());
        page.render()
    }
}

/// The role changes and the removed accounts as tables.
fn change_tables(changes: &Changes) -> (Table, Table) {
    let mut role_changes = Table::new(["User", "Name", "Roles added", "Roles removed"]);
    for change in &changes.role_changes {
        role_changes.row([
            change.uid.clone(),
            change.name.clone(),
            or_none(&change.added),
            or_none(&change.removed),
        ]);
    }
    let mut removed = Table::new(["User", "Name", "Roles held"]);
    for account in &changes.removed_accounts {
        removed.row([
            account.uid.clone(),
            account.name.clone(),
            or_none(&account.roles),
        ]);
    }
    (role_changes, removed)
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn user_cells(user: &AuditedUser) -> [String; 5] {
    let roles = if user.roles.is_empty() {
        "(none)".to_owned()
    } else {
        user.roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    [
        user.uid.clone(),
        user.name.clone(),
        user.last_login_at.clone().unwrap_or_else(|| "never".into()),
        user.days_since_login
            .map_or_else(|| "-".into(), |d| d.to_string()),
        roles,
    ]
}
