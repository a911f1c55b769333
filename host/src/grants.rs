//! The grants file: which scopes the operator granted to which plugin,
//! pinned to the plugin's exact bytes.
//!
//! ```toml
//! [access-audit]
//! sha256 = "d002d3a2f0f6180dbe3f6c3df103c0729fc0c8de421245f55df69e5390ad542d"
//! scopes = ["roles:read", "users:read"]
//! ```
//!
//! A grant applies only to the component whose sha256 it names: a plugin
//! that changes, even by one byte, runs with nothing from the file until the
//! operator grants it again (`host grant`), and `host grant` shows only what
//! changed. `host grant` and `host revoke` rewrite the file in this format;
//! comments other than the header are not kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gate::Operation;
use crate::manifest::Manifest;
use crate::scopes::Scope;

const HEADER: &str = "\
# Grants of the Falcon plugin host: one table per plugin, pinned to the sha256 of
# the exact component that was reviewed. Edit with `host grant` and `host revoke`;
# keep this file in version control.
";

/// One plugin's grant, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginGrant {
    /// `sha256 = "<64 hex digits>"`: the component this grant is for.
    pub(crate) sha256: String,
    /// `scopes = ["users:read", ...]`: what it may use.
    pub(crate) scopes: Vec<String>,
    /// `approve = ["hosts.contain"]`: destructive operations approved for
    /// every run of this component, without a flag or prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) approve: Vec<String>,
    /// `[NAME.limits]`: this plugin's own limits, overriding the defaults
    /// (a flag on the command line overrides these).
    #[serde(default, skip_serializing_if = "LimitOverrides::is_empty")]
    pub(crate) limits: LimitOverrides,
}

/// Per-plugin limits in the grants file, written as on the command line:
///
/// ```toml
/// [access-audit.limits]
/// timeout = "20m"
/// max_memory = "1GiB"
/// max_calls = 50000
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) call_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_calls: Option<u64>,
}

impl LimitOverrides {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The overrides as the file writes them: `timeout = 20m`, ...
    pub(crate) fn describe(&self) -> Vec<String> {
        let max_calls = self.max_calls.map(|n| n.to_string());
        [
            ("timeout", self.timeout.as_ref()),
            ("call_timeout", self.call_timeout.as_ref()),
            ("max_memory", self.max_memory.as_ref()),
            ("max_output", self.max_output.as_ref()),
            ("max_calls", max_calls.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| format!("{key} = {v}")))
        .collect()
    }

    /// Applies these overrides to `limits`.
    ///
    /// # Errors
    ///
    /// A value does not parse; the message names it.
    pub(crate) fn apply(&self, limits: &mut crate::sandbox::Limits) -> Result<(), String> {
        use crate::units::{parse_duration, parse_size};
        let bad = |key: &str, e: String| format!("`limits.{key}` in the grants file: {e}");
        if let Some(v) = &self.timeout {
            limits.timeout = parse_duration(v).map_err(|e| bad("timeout", e))?;
        }
        if let Some(v) = &self.call_timeout {
            limits.call_timeout = parse_duration(v).map_err(|e| bad("call_timeout", e))?;
        }
        if let Some(v) = &self.max_memory {
            limits.max_memory = parse_size(v).map_err(|e| bad("max_memory", e))?;
        }
        if let Some(v) = &self.max_output {
            limits.max_output = parse_size(v).map_err(|e| bad("max_output", e))?;
        }
        if let Some(v) = self.max_calls {
            limits.max_calls = v;
        }
        Ok(())
    }
}

/// The whole file: plugin name → grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GrantsFile {
    pub(crate) path: PathBuf,
    pub(crate) plugins: BTreeMap<String, PluginGrant>,
}

/// What the file says about one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileGrant {
    /// The file has no entry for this plugin name.
    None,
    /// The entry matches this component's digest.
    Pinned {
        scopes: BTreeSet<Scope>,
        approve: BTreeSet<Operation>,
        limits: LimitOverrides,
    },
    /// The entry is for other bytes: the plugin changed since it was granted.
    Stale {
        granted_sha256: String,
        scopes: BTreeSet<Scope>,
    },
}

impl GrantsFile {
    /// `$XDG_CONFIG_HOME/falcon-plugin-host/grants.toml`, else
    /// `~/.config/falcon-plugin-host/grants.toml`.
    pub(crate) fn default_path() -> Option<PathBuf> {
        let base = crate::config::user_dir("XDG_CONFIG_HOME", &[".config"])?;
        Some(base.join("falcon-plugin-host").join("grants.toml"))
    }

    /// Reads the file; a missing file is an empty one.
    ///
    /// # Errors
    ///
    /// The file exists but cannot be read, is not valid TOML, or names an
    /// unknown scope or a malformed digest.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: path.to_owned(),
                    plugins: BTreeMap::new(),
                });
            }
            Err(e) => {
                return Err(format!(
                    "failed to read the grants file `{}`: {e}",
                    path.display()
                ));
            }
        };
        let plugins: BTreeMap<String, PluginGrant> = toml::from_str(&text)
            .map_err(|e| format!("the grants file `{}` is not valid: {e}", path.display()))?;
        for (name, grant) in &plugins {
            let bad_digest = grant.sha256.len() != 64
                || !grant
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if bad_digest {
                return Err(format!(
                    "the grants file `{}`: `[{name}]` has sha256 `{}`, which is not 64 lowercase \
                     hex digits",
                    path.display(),
                    grant.sha256
                ));
            }
            for scope in &grant.scopes {
                Scope::parse_grant(scope).map_err(|e| {
                    format!("the grants file `{}`: `[{name}]`: {e}", path.display())
                })?;
            }
            // A mistyped approval would silently approve nothing.
            for approval in &grant.approve {
                Operation::parse_approval(approval).map_err(|e| {
                    format!(
                        "the grants file `{}`: `[{name}]` approve: {e}",
                        path.display()
                    )
                })?;
            }
        }
        Ok(Self {
            path: path.to_owned(),
            plugins,
        })
    }

    /// What the file grants to the component `digest` of plugin `name`.
    pub(crate) fn lookup(&self, name: &str, digest: &str) -> FileGrant {
        let Some(grant) = self.plugins.get(name) else {
            return FileGrant::None;
        };
        // Scopes were validated on load.
        let scopes = grant.scopes.iter().filter_map(|s| Scope::find(s)).collect();
        if grant.sha256 == digest {
            let approve = grant
                .approve
                .iter()
                .filter_map(|o| Operation::parse_approval(o).ok())
                .collect();
            FileGrant::Pinned {
                scopes,
                approve,
                limits: grant.limits.clone(),
            }
        } else {
            FileGrant::Stale {
                granted_sha256: grant.sha256.clone(),
                scopes,
            }
        }
    }

    /// Sets the grant of `manifest`'s plugin to `scopes` for `digest`, and
    /// returns the difference from before, for the operator.
    pub(crate) fn set(
        &mut self,
        manifest: &Manifest,
        digest: &str,
        scopes: &BTreeSet<Scope>,
    ) -> Diff {
        let before = self.lookup(&manifest.name, digest);
        let names: Vec<String> = scopes.iter().map(|s| s.name().to_owned()).collect();
        // Approvals were given for reviewed bytes: they do not carry over to
        // a changed component. Limits size the plugin's work: they do.
        let old = self.plugins.get(&manifest.name);
        let approve = match (&before, old) {
            (FileGrant::Pinned { .. }, Some(old)) => old.approve.clone(),
            _ => Vec::new(),
        };
        let limits = old.map(|old| old.limits.clone()).unwrap_or_default();
        self.plugins.insert(
            manifest.name.clone(),
            PluginGrant {
                sha256: digest.to_owned(),
                scopes: names,
                approve,
                limits,
            },
        );
        Diff::between(&before, digest, scopes)
    }

    /// Writes the file (creating its directory), atomically.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub(crate) fn save(&self) -> Result<(), String> {
        let body = toml::to_string(&self.plugins)
            .map_err(|e| format!("failed to write the grants as TOML: {e}"))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("failed to create `{}`: {e}", dir.display()))?;
        }
        let tmp = self.path.with_extension("toml.tmp");
        std::fs::write(&tmp, format!("{HEADER}\n{body}"))
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| {
                format!(
                    "failed to write the grants file `{}`: {e}",
                    self.path.display()
                )
            })
    }
}

/// How a grant changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    /// The digest the old grant was pinned to, when it was another one.
    pub(crate) old_sha256: Option<String>,
    pub(crate) added: BTreeSet<Scope>,
    pub(crate) removed: BTreeSet<Scope>,
    pub(crate) kept: BTreeSet<Scope>,
}

impl Diff {
    fn between(before: &FileGrant, digest: &str, after: &BTreeSet<Scope>) -> Self {
        let (old_sha256, old) = match before {
            FileGrant::None => (None, BTreeSet::new()),
            FileGrant::Pinned { scopes, .. } => (None, scopes.clone()),
            FileGrant::Stale {
                granted_sha256,
                scopes,
            } => (
                Some(granted_sha256.clone()).filter(|d| d != digest),
                scopes.clone(),
            ),
        };
        Self {
            old_sha256,
            added: after.difference(&old).copied().collect(),
            removed: old.difference(after).copied().collect(),
            kept: old.intersection(after).copied().collect(),
        }
    }

    /// Whether nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        self.old_sha256.is_none() && self.added.is_empty() && self.removed.is_empty()
    }

    /// The difference only, one line per changed scope.
    pub(crate) fn render(&self, name: &str, digest: &str) -> String {
        let mut out = String::new();
        match &self.old_sha256 {
            Some(old) => out.push_str(&format!(
                "{name}: the component changed: sha256 {} -> {}\n",
                short(old),
                short(digest)
            )),
            None => out.push_str(&format!("{name} (sha256 {}):\n", short(digest))),
        }
        for scope in &self.added {
            out.push_str(&format!(
                "  + {:<30} {}\n",
                scope.name(),
                scope.info().allows
            ));
        }
        for scope in &self.removed {
            out.push_str(&format!("  - {}\n", scope.name()));
        }
        if self.added.is_empty() && self.removed.is_empty() {
            out.push_str("  no scope changed\n");
        }
        if !self.kept.is_empty() {
            out.push_str(&format!("  ({} unchanged)\n", self.kept.len()));
        }
        out
    }
}

/// The first 12 hex digits of a digest, as shown to operators.
pub(crate) fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(scopes: &[&str]) -> Manifest {
        Manifest {
            name: "access-audit".into(),
            version: "0.1.0".into(),
            description: String::new(),
            scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
        }
    }

    const D1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_grant_applies_only_to_its_digest() {
        let dir = std::env::temp_dir().join(format!("host-grants-{}", std::process::id()));
        let path = dir.join("grants.toml");
        let mut file = GrantsFile::load(&path).unwrap();
        let m = manifest(&["users:read", "roles:read"]);
        let diff = file.set(&m, D1, &m.scopes);
        assert_eq!(diff.added.len(), 2);
        file.save().unwrap();

        let file = GrantsFile::load(&path).unwrap();
        let pinned = FileGrant::Pinned {
            scopes: m.scopes.clone(),
            approve: BTreeSet::new(),
            limits: LimitOverrides::default(),
        };
        assert_eq!(file.lookup("access-audit", D1), pinned);
        assert!(matches!(
            file.lookup("access-audit", D2),
            FileGrant::Stale { .. }
        ));
        assert_eq!(file.lookup("other", D1), FileGrant::None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Grants of the Falcon plugin host"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_changed_plugin_shows_only_the_difference() {
        let mut file = GrantsFile::default();
        let old = manifest(&["users:read", "roles:read"]);
        file.set(&old, D1, &old.scopes);
        let new = manifest(&["users:read", "hosts:read"]);
        let diff = file.set(&new, D2, &new.scopes);
        let text = diff.render("access-audit", D2);
        assert!(text.contains("the component changed: sha256 111111111111 -> 222222222222"));
        assert!(text.contains("  + hosts:read"), "{text}");
        assert!(text.contains("  - roles:read"), "{text}");
        assert!(text.contains("(1 unchanged)"), "{text}");
        assert!(
            !text.contains("users:read"),
            "unchanged scopes are not listed: {text}"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("host-grants-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("grants.toml");
        let cases = [
            (
                "[a]\nsha256 = \"abc\"\nscopes = []\n",
                "not 64 lowercase hex digits",
            ),
            (
                &format!("[a]\nsha256 = \"{D1}\"\nscopes = [\"user:read\"]\n"),
                "unknown scope",
            ),
            (
                &format!("[a]\nsha256 = \"{D1}\"\nscopes = []\ncolour = 1\n"),
                "unknown field",
            ),
            ("[a\n", "is not valid"),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let err = GrantsFile::load(&path).unwrap_err();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
