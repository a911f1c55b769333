//! `host grant`, `host revoke` and `host grants`: edit and show the grants
//! file.

use std::collections::BTreeSet;
use std::path::Path;

use crate::grants::{GrantsFile, short};
use crate::manifest::PluginFile;
use crate::run::load_grants;
use crate::scopes::Scope;
use crate::{Exit, Failure};

fn file_or_fail(flag: Option<&Path>) -> Result<GrantsFile, Failure> {
    load_grants(flag)?.ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            "no grants file: pass --grants PATH (HOME is not set)",
        )
    })
}

/// Grants the plugin its requested scopes, or the named subset of them.
/// Falcon scopes and notification destinations are chosen apart: naming
/// only destinations keeps every requested Falcon scope, and the
/// destinations of `notify:*` are granted only by name.
pub(crate) fn grant(plugin: &Path, only: &[String], flag: Option<&Path>) -> Result<Exit, Failure> {
    let PluginFile {
        manifest, digest, ..
    } = PluginFile::read(plugin)?;

    let mut named = BTreeSet::new();
    for name in only
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
    {
        let scope = Scope::parse_grant(name).map_err(|e| Failure::new(Exit::Usage, e))?;
        if !manifest.scopes.iter().any(|r| r.covers(scope)) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "plugin `{}` does not request `{scope}`; a grant it cannot use is not written",
                    manifest.name
                ),
            ));
        }
        named.insert(scope);
    }
    let is_notify = |s: &Scope| s.destination().is_some();
    let pick = |notify: bool| -> BTreeSet<Scope> {
        let chosen: BTreeSet<Scope> = named
            .iter()
            .copied()
            .filter(|s| is_notify(s) == notify)
            .collect();
        if chosen.is_empty() {
            manifest
                .scopes
                .iter()
                .copied()
                .filter(|s| is_notify(s) == notify && !s.is_any_destination())
                .collect()
        } else {
            chosen
        }
    };
    let scopes: BTreeSet<Scope> = pick(false).into_iter().chain(pick(true)).collect();

    let mut file = file_or_fail(flag)?;
    let diff = file.set(&manifest, &digest, &scopes);
    print!("{}", diff.render(&manifest.name, &digest));
    if diff.is_empty() {
        say!(
            "the grants file `{}` already says this; nothing written",
            file.path.display()
        );
        return Ok(Exit::Ok);
    }
    file.save().map_err(|e| Failure::new(Exit::Usage, e))?;
    say!("written to `{}`", file.path.display());
    if !scopes.iter().any(is_notify) && manifest.scopes.iter().any(|s| s.is_any_destination()) {
        say!(
            "note: `{}` sends notifications to the destinations you grant by name: \
             host grant {} --scope notify:NAME (repeat for each)",
            manifest.name,
            plugin.display(),
        );
    }
    Ok(Exit::Ok)
}

/// Removes a plugin's grant.
pub(crate) fn revoke(name: &str, flag: Option<&Path>) -> Result<Exit, Failure> {
    let mut file = file_or_fail(flag)?;
    let Some(old) = file.plugins.remove(name) else {
        let known: Vec<&str> = file.plugins.keys().map(String::as_str).collect();
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "the grants file `{}` has no grant for `{name}`; it has: {}",
                file.path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    file.save().map_err(|e| Failure::new(Exit::Usage, e))?;
    say!("{name} (sha256 {}):", short(&old.sha256));
    for scope in &old.scopes {
        say!("  - {scope}");
    }
    for approval in &old.approve {
        say!("  - approval of {approval}");
    }
    for limit in old.limits.describe() {
        say!("  - limit {limit}");
    }
    say!("written to `{}`", file.path.display());
    Ok(Exit::Ok)
}

/// Lists the grants.
pub(crate) fn list(flag: Option<&Path>, as_json: bool) -> Result<Exit, Failure> {
    let file = file_or_fail(flag)?;
    if as_json {
        let plugins: serde_json::Map<String, serde_json::Value> = file
            .plugins
            .iter()
            .map(|(name, grant)| {
                let value = serde_json::json!({
                    "sha256": grant.sha256,
                    "scopes": grant.scopes,
                    "approve": grant.approve,
                    "limits": grant.limits,
                });
                (name.clone(), value)
            })
            .collect();
        let out =
            serde_json::json!({ "file": file.path.display().to_string(), "plugins": plugins });
        say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(Exit::Ok);
    }
    if file.plugins.is_empty() {
        if file.path.exists() {
            say!("no grants in `{}`", file.path.display());
        } else {
            // A mistyped path must not pass for an empty file.
            say!(
                "no grants: `{}` does not exist (`host grant` creates it)",
                file.path.display()
            );
        }
        return Ok(Exit::Ok);
    }
    say!("{:<24} {:<14} scopes", "plugin", "sha256");
    for (name, grant) in &file.plugins {
        say!(
            "{name:<24} {:<14} {}",
            short(&grant.sha256),
            grant.scopes.join(", ")
        );
        // Standing approvals and limits change what a run may do: shown, not
        // only kept in the file.
        if !grant.approve.is_empty() {
            say!("{:<39} approves: {}", "", grant.approve.join(", "));
        }
        if !grant.limits.is_empty() {
            say!("{:<39} limits: {}", "", grant.limits.describe().join(", "));
        }
    }
    Ok(Exit::Ok)
}
