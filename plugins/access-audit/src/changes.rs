//! Role changes since the last audit: the current users compared with a
//! previous JSON report, which the operator passes as the input field
//! `previous` (`--set-file previous=last.json`). The plugin reads no file
//! itself; it sees only what the operator hands it.

use std::collections::{BTreeMap, BTreeSet};

use falcon_sdk::Input;
use serde::{Deserialize, Serialize};

use crate::AuditedUser;

/// What a previous report must hold: its time and each user's roles. Other
/// fields are ignored, so reports of older versions still compare.
#[derive(Debug, Deserialize)]
struct PreviousReport {
    as_of: String,
    users: Vec<PreviousUser>,
}

#[derive(Debug, Clone, Deserialize)]
struct PreviousUser {
    uuid: String,
    uid: String,
    #[serde(default)]
    name: String,
    roles: Vec<PreviousRole>,
}

#[derive(Debug, Clone, Deserialize)]
struct PreviousRole {
    id: String,
}

/// The previous report, reduced to what the comparison needs.
#[derive(Debug, Clone)]
pub(crate) struct Previous {
    as_of: String,
    users: BTreeMap<String, PreviousUser>,
}

const HOW: &str = "pass the JSON report of an earlier run (saved from `--set format=json`), \
                   for example `--set-file previous=last-audit.json`";

impl Previous {
    /// Reads the `previous` input field, the report itself or its text;
    /// `None` when absent.
    pub(crate) fn from_input(input: &Input) -> Result<Option<Self>, String> {
        let value = match input.json_document("previous") {
            Ok(Some(value)) => value,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("{e}; {HOW}")),
        };
        let report = PreviousReport::deserialize(&value).map_err(|e| {
            format!("input field `previous` is not an access-audit JSON report ({e}); {HOW}")
        })?;
        Ok(Some(Self {
            as_of: report.as_of,
            users: report
                .users
                .into_iter()
                .map(|u| (u.uuid.clone(), u))
                .collect(),
        }))
    }
}

/// A user whose roles differ from the previous report.
#[derive(Debug, Serialize)]
pub(crate) struct RoleChange {
    pub(crate) uuid: String,
    pub(crate) uid: String,
    pub(crate) name: String,
    /// Role ids held now but not then.
    pub(crate) added: Vec<String>,
    /// Role ids held then but not now.
    pub(crate) removed: Vec<String>,
}

/// An account in the previous report that no longer exists.
#[derive(Debug, Serialize)]
pub(crate) struct RemovedAccount {
    pub(crate) uuid: String,
    pub(crate) uid: String,
    pub(crate) name: String,
    /// The role ids it held then.
    pub(crate) roles: Vec<String>,
}

/// Everything that changed since the previous report.
#[derive(Debug, Serialize)]
pub(crate) struct Changes {
    /// The previous report's `as_of`.
    pub(crate) since: String,
    /// UUIDs of accounts that are new since then.
    pub(crate) new_accounts: Vec<String>,
    pub(crate) removed_accounts: Vec<RemovedAccount>,
    pub(crate) role_changes: Vec<RoleChange>,
}

impl Changes {
    /// Compares the audited users (sorted as the report lists them) with
    /// the previous report.
    pub(crate) fn between(mut previous: Previous, users: &[AuditedUser]) -> Self {
        let mut new_accounts = Vec::new();
        let mut role_changes = Vec::new();
        for user in users {
            let Some(then) = previous.users.remove(&user.uuid) else {
                new_accounts.push(user.uuid.clone());
                continue;
            };
            let now: BTreeSet<&str> = user.roles.iter().map(|r| r.id.as_str()).collect();
            let then: BTreeSet<&str> = then.roles.iter().map(|r| r.id.as_str()).collect();
            let added: Vec<String> = now.difference(&then).map(|r| (*r).to_owned()).collect();
            let removed: Vec<String> = then.difference(&now).map(|r| (*r).to_owned()).collect();
            if !added.is_empty() || !removed.is_empty() {
                role_changes.push(RoleChange {
                    uuid: user.uuid.clone(),
                    uid: user.uid.clone(),
                    name: user.name.clone(),
                    added,
                    removed,
                });
            }
        }
        // What is left was in the previous report only.
        let mut removed_accounts: Vec<RemovedAccount> = previous
            .users
            .into_values()
            .map(|u| {
                let roles: BTreeSet<String> = u.roles.into_iter().map(|r| r.id).collect();
                RemovedAccount {
                    uuid: u.uuid,
                    uid: u.uid,
                    name: u.name,
                    roles: roles.into_iter().collect(),
                }
            })
            .collect();
        removed_accounts.sort_by_key(|a| (a.uid.to_lowercase(), a.uuid.clone()));
        Self {
            since: previous.as_of,
            new_accounts,
            removed_accounts,
            role_changes,
        }
    }
}
