//! `host inspect PLUGIN.wasm`: what a plugin is and what it asks for, read
//! from the component without compiling or running it.

use std::path::Path;

use serde_json::json;

use crate::gate::{Operation, Tier};
use crate::grants::{FileGrant, short};
use crate::manifest::{Manifest, PluginFile};
use crate::run::load_grants;
use crate::{Exit, Failure};

/// Prints the plugin's identity, requested scopes with their tiers, the
/// contract it was built against, and whether the grants file covers it.
pub(crate) fn inspect(
    plugin: &Path,
    grants_flag: Option<&Path>,
    as_json: bool,
) -> Result<Exit, Failure> {
    let path = plugin.display().to_string();
    let PluginFile {
        bytes,
        digest,
        manifest,
    } = PluginFile::read(plugin)?;
    let imports = Manifest::contract_imports(&bytes);
    let grants = load_grants(grants_flag)?;
    let found = grants
        .as_ref()
        .map_or(FileGrant::None, |f| f.lookup(&manifest.name, &digest));
    let (granted, approved) = match &found {
        FileGrant::Pinned {
            scopes, approve, ..
        } => (scopes.clone(), approve.clone()),
        _ => Default::default(),
    };
    // Destructive operations the plugin could reach with its requested scopes.
    let reachable: Vec<Operation> = Operation::ALL
        .iter()
        .copied()
        .filter(|op| op.tier() == Tier::Destructive && manifest.scopes.contains(&op.scope()))
        .collect();
    let destructive: Vec<String> = reachable.iter().map(|op| op.name().into_owned()).collect();
    let standing: Vec<String> = reachable
        .iter()
        .filter(|op| approved.contains(op))
        .map(|op| op.name().into_owned())
        .collect();
    let grant_state = match &found {
        FileGrant::None => "not in the grants file".to_owned(),
        FileGrant::Pinned { .. }
            if manifest
                .scopes
                .iter()
                .all(|s| s.is_any_destination() || granted.contains(s)) =>
        {
            "granted".to_owned()
        }
        FileGrant::Pinned { .. } => "partly granted".to_owned(),
        FileGrant::Stale { granted_sha256, .. } => {
            format!(
                "granted for other bytes (sha256 {}): the plugin changed",
                short(granted_sha256)
            )
        }
    };

    if as_json {
        let scopes: Vec<_> = manifest
            .scopes
            .iter()
            .map(|s| {
                let mut scope = json!({
                    "scope": s.name(),
                    "tier": if s.writes() { "write" } else { "read" },
                    "api_scope": s.info().api_scope,
                    "console_scope": s.info().console_name,
                    "granted": granted.contains(s),
                });
                // `notify:*` is granted destination by destination.
                if s.is_any_destination() {
                    let named: Vec<&str> = granted
                        .iter()
                        .filter(|g| s.covers(**g))
                        .map(|g| g.name())
                        .collect();
                    scope["destinations"] = json!(named);
                }
                scope
            })
            .collect();
        let out = json!({
            "name": manifest.name,
            "version": manifest.version,
            "description": manifest.description,
            "file": path,
            "size": bytes.len(),
            "sha256": digest,
            "contract": imports,
            "scopes": scopes,
            "destructive_operations": destructive,
            "approved_in_grants_file": standing,
            "grant": grant_state,
        });
        say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(Exit::Ok);
    }

    say!("plugin       {} {}", manifest.name, manifest.version);
    say!("description  {}", manifest.description);
    say!("file         {path} ({} bytes)", bytes.len());
    say!("sha256       {digest}");
    say!(
        "contract     {}",
        if imports.is_empty() {
            "none (imports nothing of falcon:plugin)".to_owned()
        } else {
            imports.join(", ")
        }
    );
    say!("grant        {grant_state}");
    if manifest.scopes.is_empty() {
        say!("scopes       none");
    }
    for (i, scope) in manifest.scopes.iter().enumerate() {
        let label = if i == 0 { "scopes" } else { "" };
        let state = if scope.is_any_destination() {
            // Granted destination by destination.
            let named: Vec<&str> = granted
                .iter()
                .filter(|g| scope.covers(**g))
                .map(|g| g.name())
                .collect();
            if named.is_empty() {
                "no destination granted (grant each: `host grant PLUGIN --scope notify:NAME`, or `host run --grant notify:NAME`)".to_owned()
            } else {
                format!("granted: {}", named.join(", "))
            }
        } else if granted.contains(scope) {
            "granted".to_owned()
        } else {
            "missing".to_owned()
        };
        say!(
            "{label:<12} {:<30} {:<6} {:<36} {state}",
            scope.name(),
            if scope.writes() { "write" } else { "read" },
            scope.info().console_name,
        );
    }
    if !destructive.is_empty() {
        let shown: Vec<String> = destructive
            .iter()
            .map(|op| {
                if standing.contains(op) {
                    format!("{op} (approved in the grants file)")
                } else {
                    op.clone()
                }
            })
            .collect();
        say!(
            "destructive  {}{}",
            shown.join(", "),
            if standing.len() < destructive.len() {
                " (each needs --approve or an `approve` entry)"
            } else {
                ""
            }
        );
    }
    Ok(Exit::Ok)
}
