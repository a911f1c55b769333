//! Access audit: every Falcon console user with their roles, and the
//! findings an access review starts from, each with a recommendation.
//!
//! Findings:
//! - **inactive**: logged in before, but not for `inactive_days` days (default 90);
//! - **never logged in**: no console login at all;
//! - **administrators**: holders of a role in `admin_roles`;
//! - **without roles**: no role granted;
//! - with a `previous` report: **roles changed** and **new accounts** since
//!   then, and the accounts removed since then.
//!
//! Input (all optional): `inactive_days`, `format` (`markdown`, `json`,
//! `csv` or `html`), `admin_roles` (role ids), `as_of` (RFC 3339; defaults to
//! the host's clock), `previous` (an earlier JSON report, or its text).

mod changes;
mod render;

use std::collections::BTreeMap;

use falcon_sdk::users::{self, Role, User, UserRoles};
use falcon_sdk::{Filter, Input, Plugin};
use jiff::Timestamp;
use serde::Serialize;

falcon_sdk::manifest! {
    name: "access-audit",
    version: env!("CARGO_PKG_VERSION"),
    description: "Audits Falcon console users: inactive accounts, never logged in, administrators, users without roles",
    scopes: ["users:read", "roles:read"],
}

/// Role ids treated as administrative unless the input names others.
pub const DEFAULT_ADMIN_ROLES: &[&str] = &["falcon_administrator", "remote_responder_three"];

const SECONDS_PER_DAY: i64 = 86_400;

struct AccessAudit;

impl Plugin for AccessAudit {
    fn run(input: Input) -> Result<String, String> {
        let options = Options::from_input(&input)?;
        let users = users::query_users(&Filter::All).map_err(|e| e.message())?;
        let roles = users::list_roles().map_err(|e| e.message())?;
        let uuids: Vec<String> = users.iter().map(|u| u.uuid.clone()).collect();
        let grants = users::roles_of_users(&uuids).map_err(|e| e.message())?;
        falcon_sdk::log_info(&format!(
            "audited {} users and {} roles",
            users.len(),
            roles.len()
        ));

        let audit = Audit::build(&options, users, &roles, grants)?;
        Ok(match options.format {
            Format::Markdown => audit.markdown(),
            Format::Json => falcon_sdk::report::json(&audit),
            Format::Csv => audit.csv(),
            Format::Html => audit.html(),
        })
    }
}

falcon_sdk::export_plugin!(AccessAudit);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Json,
    Csv,
    Html,
}

/// The run's settings, read from the operator's input.
#[derive(Debug, Clone)]
pub struct Options {
    /// Days without a login after which a user counts as inactive.
    pub inactive_days: u64,
    format: Format,
    /// Role ids that make their holder an administrator.
    pub admin_roles: Vec<String>,
    /// The time the audit is computed at.
    pub as_of: Timestamp,
    previous: Option<changes::Previous>,
}

impl Options {
    /// Reads the options, rejecting unknown fields and wrong types.
    ///
    /// # Errors
    ///
    /// A message naming the bad field.
    pub fn from_input(input: &Input) -> Result<Self, String> {
        input
            .reject_unknown(&[
                "inactive_days",
                "format",
                "admin_roles",
                "as_of",
                "previous",
            ])
            .map_err(|e| e.to_string())?;
        let inactive_days = input
            .u64_or("inactive_days", 90)
            .map_err(|e| e.to_string())?;
        if inactive_days == 0 || inactive_days > 36_500 {
            return Err(format!(
                "input field `inactive_days` must be between 1 and 36500, got {inactive_days}"
            ));
        }
        let format = match input
            .choice_or("format", &["markdown", "json", "csv", "html"], "markdown")
            .map_err(|e| e.to_string())?
        {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "html" => Format::Html,
            _ => Format::Markdown,
        };
        let admin_roles = input
            .strings_or("admin_roles", DEFAULT_ADMIN_ROLES)
            .map_err(|e| e.to_string())?;
        let as_of = match input.opt_str("as_of").map_err(|e| e.to_string())? {
            Some(text) => parse_time(text)
                .map_err(|e| format!("input field `as_of` must be an RFC 3339 time: {e}"))?,
            // Whole seconds: the report reads better and nothing here needs more.
            None => parse_time(&falcon_sdk::runtime::now())
                .and_then(|now| Timestamp::from_second(now.as_second()))
                .map_err(|e| format!("the host's clock gave an unreadable time: {e}"))?,
        };
        let previous = changes::Previous::from_input(input)?;
        Ok(Self {
            inactive_days,
            format,
            admin_roles,
            as_of,
            previous,
        })
    }
}

fn parse_time(text: &str) -> Result<Timestamp, jiff::Error> {
    text.parse()
}

/// One audited user.
#[derive(Debug, Serialize)]
pub(crate) struct AuditedUser {
    pub(crate) uuid: String,
    pub(crate) uid: String,
    pub(crate) name: String,
    status: Option<String>,
    last_login_at: Option<String>,
    days_since_login: Option<i64>,
    pub(crate) roles: Vec<RoleRef>,
    findings: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RoleRef {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// A kind of finding: its JSON key, title and the recommendation an access
/// reviewer acts on.
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) key: &'static str,
    pub(crate) title: &'static str,
    pub(crate) advice: &'static str,
}

/// The findings of every audit, in report order.
const FINDINGS: [Finding; 4] = [
    Finding {
        key: "inactive",
        title: "Inactive accounts",
        advice: "Confirm with each user's manager; disable or delete accounts no longer needed.",
    },
    Finding {
        key: "never_logged_in",
        title: "Never logged in",
        advice: "Check whether the account was ever needed; remove accounts created in error.",
    },
    Finding {
        key: "administrators",
        title: "Holders of administrator roles",
        advice: "Keep administrators to a small named group; review each grant and prefer \
                 narrower roles.",
    },
    Finding {
        key: "without_roles",
        title: "Users without any role",
        advice: "Users without roles cannot do anything in the console; delete them or grant \
                 the role they need.",
    },
];

/// The findings of an audit given a previous report, after [`FINDINGS`].
const CHANGE_FINDINGS: [Finding; 2] = [
    Finding {
        key: "roles_changed",
        title: "Role changes since the last audit",
        advice: "Match each added role to an approved access request and revert the ones \
                 nobody can account for; confirm removals were intended.",
    },
    Finding {
        key: "new_accounts",
        title: "Accounts created since the last audit",
        advice: "Confirm each new account belongs to a current employee or contractor with an \
                 approved request.",
    },
];

#[derive(Debug, Serialize)]
struct Audit {
    as_of: String,
    inactive_days: u64,
    admin_roles: Vec<String>,
    user_count: usize,
    role_count: usize,
    counts: BTreeMap<&'static str, usize>,
    findings: BTreeMap<&'static str, Vec<String>>,
    recommendations: BTreeMap<&'static str, &'static str>,
    /// Present when the input held a previous report.
    changes: Option<changes::Changes>,
    users: Vec<AuditedUser>,
}

impl Audit {
    fn build(
        options: &Options,
        mut users: Vec<User>,
        roles: &[Role],
        grants: Vec<UserRoles>,
    ) -> Result<Self, String> {
        let role_names: BTreeMap<&str, &str> = roles
            .iter()
            .map(|r| (r.id.as_str(), r.display_name.as_str()))
            .collect();
        let mut grants_by_user: BTreeMap<String, Vec<RoleRef>> = BTreeMap::new();
        for entry in grants {
            let refs = entry
                .grants
                .into_iter()
                .map(|g| {
                    let name = role_names
                        .get(g.role_id.as_str())
                        .map_or(g.role_name, |n| (*n).into());
                    RoleRef {
                        id: g.role_id,
                        name,
                    }
                })
                .collect();
            grants_by_user.insert(entry.user_uuid, refs);
        }

        users.sort_by_key(|u| (u.uid.to_lowercase(), u.uuid.clone()));
        let mut audited = Vec::with_capacity(users.len());
        for user in users {
            let mut roles = grants_by_user.remove(&user.uuid).unwrap_or_default();
            roles.sort_by(|a, b| a.id.cmp(&b.id));
            roles.dedup_by(|a, b| a.id == b.id);
            audited.push(audit_user(options, user, roles)?);
        }

        // Changes mark their users too, so every format lists them per user.
        let changes = options
            .previous
            .clone()
            .map(|previous| changes::Changes::between(previous, &audited));
        if let Some(changes) = &changes {
            for user in &mut audited {
                if changes.role_changes.iter().any(|c| c.uuid == user.uuid) {
                    user.findings.push("roles_changed");
                }
                if changes.new_accounts.contains(&user.uuid) {
                    user.findings.push("new_accounts");
                }
            }
        }

        let kinds = finding_kinds(changes.is_some());
        let mut findings: BTreeMap<&'static str, Vec<String>> =
            kinds.iter().map(|f| (f.key, Vec::new())).collect();
        for user in &audited {
            for finding in &user.findings {
                findings.entry(finding).or_default().push(user.uuid.clone());
            }
        }
        let counts = findings.iter().map(|(k, v)| (*k, v.len())).collect();
        let recommendations = kinds.iter().map(|f| (f.key, f.advice)).collect();
        Ok(Self {
            as_of: options.as_of.to_string(),
            inactive_days: options.inactive_days,
            admin_roles: options.admin_roles.clone(),
            user_count: audited.len(),
            role_count: roles.len(),
            counts,
            findings,
            recommendations,
            changes,
            users: audited,
        })
    }

    /// The finding kinds this audit reports, in order.
    fn kinds(&self) -> Vec<&'static Finding> {
        finding_kinds(self.changes.is_some())
    }
}

fn finding_kinds(with_changes: bool) -> Vec<&'static Finding> {
    let changes: &'static [Finding] = if with_changes { &CHANGE_FINDINGS } else { &[] };
    FINDINGS.iter().chain(changes).collect()
}

fn audit_user(options: &Options, user: User, roles: Vec<RoleRef>) -> Result<AuditedUser, String> {
    let days_since_login = match &user.last_login_at {
        None => None,
        Some(text) => {
            let at = parse_time(text).map_err(|e| {
                format!(
                    "user `{}` has an unreadable last login time `{text}`: {e}",
                    user.uid
                )
            })?;
            // A login after `as_of` (an audit of a past date) counts as
            // "today", not as a negative age.
            Some(
                (options.as_of.as_second() - at.as_second())
                    .max(0)
                    .div_euclid(SECONDS_PER_DAY),
            )
        }
    };

    let mut findings = Vec::new();
    match days_since_login {
        None => findings.push("never_logged_in"),
        Some(days) if days >= options.inactive_days as i64 => findings.push("inactive"),
        Some(_) => {}
    }
    if roles.iter().any(|r| options.admin_roles.contains(&r.id)) {
        findings.push("administrators");
    }
    if roles.is_empty() {
        findings.push("without_roles");
    }
    findings.sort_by_key(|f| FINDINGS.iter().position(|k| k.key == *f));

    let name = format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_owned();
    Ok(AuditedUser {
        uuid: user.uuid,
        uid: user.uid,
        name,
        status: user.status,
        last_login_at: user.last_login_at,
        days_since_login,
        roles,
        findings,
    })
}
