//! The operator's configuration file, and where each effective setting
//! comes from.
//!
//! ```toml
//! # ~/.config/falcon-plugin-host/config.toml
//! client_id = "0123456789abcdef0123456789abcdef"
//! client_secret = "..."          # only if the file is readable by you alone
//! cloud = "us-2"                 # us-1, us-2, eu-1, us-gov-1, us-gov-2 or a base URL
//! member_cid = "..."             # MSSP parents: the child tenant
//! grants = "/etc/falcon-host/grants.toml"
//! audit_log = "/var/log/falcon-host/audit.jsonl"
//! cache_dir = "/var/cache/falcon-host"
//!
//! [notify.slack-secops]            # a notification destination; see
//! kind = "slack"                   # crate::notify::config for every kind
//! url_env = "SLACK_SECOPS_WEBHOOK"
//! ```
//!
//! Precedence, highest first: a command-line flag, the environment
//! (`FALCON_CLIENT_ID`, `FALCON_CLIENT_SECRET`, `FALCON_CLOUD`,
//! `FALCON_MEMBER_CID`, `FALCON_HOST_GRANTS`, `FALCON_HOST_AUDIT_LOG`,
//! `FALCON_HOST_CACHE_DIR`), this file, the built-in default.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Exit, Failure};

/// The file, as written. Unknown keys are refused so a typo is not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// `client_id = "..."`: the API client's id.
    client_id: Option<String>,
    /// `client_secret = "..."`: the API client's secret.
    client_secret: Option<String>,
    /// `cloud = "us-2"`: the cloud's name or a base URL.
    cloud: Option<String>,
    /// `member_cid = "..."`: the child CID an MSSP parent works on.
    member_cid: Option<String>,
    /// `grants = "PATH"`: the grants file.
    grants: Option<PathBuf>,
    /// `audit_log = "PATH"`: the audit log.
    audit_log: Option<PathBuf>,
    /// `cache_dir = "PATH"`: the compile cache.
    cache_dir: Option<PathBuf>,
    /// `[notify.NAME]`: the notification destinations, by name.
    #[serde(default)]
    notify: std::collections::BTreeMap<String, crate::notify::config::DestinationConfig>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Flag,
    Env(&'static str),
    File(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("command line"),
            Self::Env(var) => write!(f, "environment ({var})"),
            Self::File(path) => write!(f, "config file ({})", path.display()),
            Self::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    pub(crate) source: Source,
}

/// The loaded configuration file, if any.
#[derive(Debug, Default)]
pub(crate) struct Config {
    path: Option<PathBuf>,
    file: ConfigFile,
    /// The `[notify.NAME]` tables, checked.
    notify: std::collections::BTreeMap<String, crate::notify::config::Checked>,
}

impl Config {
    /// `$XDG_CONFIG_HOME/falcon-plugin-host/config.toml`, else
    /// `~/.config/falcon-plugin-host/config.toml`.
    pub(crate) fn default_path() -> Option<PathBuf> {
        let base = crate::config::user_dir("XDG_CONFIG_HOME", &[".config"])?;
        Some(base.join("falcon-plugin-host").join("config.toml"))
    }

    /// Loads the file named by `--config` (which must exist), else the
    /// default one if it exists.
    ///
    /// # Errors
    ///
    /// The file cannot be read or parsed, or it holds a secret and others
    /// can read it.
    pub(crate) fn load(flag: Option<&Path>) -> Result<Self, Failure> {
        let (path, required) = match flag {
            Some(path) => (path.to_owned(), true),
            None => match Self::default_path() {
                Some(path) => (path, false),
                None => return Ok(Self::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(e) => {
                return Err(usage(format!(
                    "failed to read the config file `{}`: {e}",
                    path.display()
                )));
            }
        };
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            usage(format!(
                "the config file `{}` is not valid: {e}",
                path.display()
            ))
        })?;
        if file.client_secret.is_some() {
            refuse_if_shared(&path)?;
        }
        let notify = file
            .notify
            .iter()
            .map(|(name, destination)| {
                crate::notify::config::check(name, destination)
                    .map(|checked| (name.clone(), checked))
                    .map_err(|e| usage(format!("the config file `{}`: {e}", path.display())))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            path: Some(path),
            file,
            notify,
        })
    }

    fn in_file<T: Clone>(&self, value: &Option<T>) -> Option<Setting<T>> {
        let path = self.path.clone()?;
        value.clone().map(|value| Setting {
            value,
            source: Source::File(path),
        })
    }

    /// A string setting: flag, then environment, then file.
    fn string(
        &self,
        flag: Option<&str>,
        var: &'static str,
        file: &Option<String>,
    ) -> Option<Setting<String>> {
        if let Some(value) = flag {
            return Some(Setting {
                value: value.to_owned(),
                source: Source::Flag,
            });
        }
        if let Some(value) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return Some(Setting {
                value,
                source: Source::Env(var),
            });
        }
        self.in_file(file)
    }

    pub(crate) fn client_id(&self) -> Option<Setting<String>> {
        self.string(None, "FALCON_CLIENT_ID", &self.file.client_id)
    }

    pub(crate) fn client_secret(&self) -> Option<Setting<falcon::Secret>> {
        self.string(None, "FALCON_CLIENT_SECRET", &self.file.client_secret)
            .map(|s| Setting {
                value: falcon::Secret::new(s.value),
                source: s.source,
            })
    }

    pub(crate) fn cloud(&self, flag: Option<&str>) -> Setting<String> {
        self.string(flag, "FALCON_CLOUD", &self.file.cloud)
            .unwrap_or_else(|| Setting {
                value: "us-1".into(),
                source: Source::Default,
            })
    }

    pub(crate) fn member_cid(&self) -> Option<Setting<String>> {
        self.string(None, "FALCON_MEMBER_CID", &self.file.member_cid)
    }

    /// A path setting; clap already merged the flag with its environment
    /// variable, so `flag` covers both.
    fn path(
        &self,
        flag: Option<&Path>,
        var: &'static str,
        file: &Option<PathBuf>,
        default: Option<PathBuf>,
    ) -> Option<Setting<PathBuf>> {
        if let Some(path) = flag {
            let from_env = std::env::var_os(var).is_some_and(|v| Path::new(&v) == path);
            let source = if from_env {
                Source::Env(var)
            } else {
                Source::Flag
            };
            return Some(Setting {
                value: path.to_owned(),
                source,
            });
        }
        self.in_file(file).or_else(|| {
            default.map(|value| Setting {
                value,
                source: Source::Default,
            })
        })
    }

    pub(crate) fn grants(&self, flag: Option<&Path>) -> Option<Setting<PathBuf>> {
        let default = crate::grants::GrantsFile::default_path();
        self.path(flag, "FALCON_HOST_GRANTS", &self.file.grants, default)
    }

    pub(crate) fn audit_log(&self, flag: Option<&Path>) -> Option<Setting<PathBuf>> {
        let default = crate::audit::AuditLog::default_path();
        self.path(flag, "FALCON_HOST_AUDIT_LOG", &self.file.audit_log, default)
    }

    pub(crate) fn cache_dir(&self, flag: Option<&Path>) -> Option<Setting<PathBuf>> {
        let default = crate::cache::ComponentCache::default_dir();
        self.path(flag, "FALCON_HOST_CACHE_DIR", &self.file.cache_dir, default)
    }

    /// The notification destinations of the config file, checked, by name.
    pub(crate) fn notify(
        &self,
    ) -> &std::collections::BTreeMap<String, crate::notify::config::Checked> {
        &self.notify
    }

    /// `host config show`: every effective setting, secrets masked, with
    /// where it came from.
    pub(crate) fn show(&self, as_json: bool) -> Exit {
        let file = self.path.as_ref().map_or_else(
            || match Self::default_path() {
                Some(p) => format!("none ({} does not exist)", p.display()),
                None => "none".to_owned(),
            },
            |p| p.display().to_string(),
        );
        let text = |s: Option<Setting<String>>| s.map(|s| (s.value, s.source.to_string()));
        let path = |s: Option<Setting<PathBuf>>| {
            s.map(|s| (s.value.display().to_string(), s.source.to_string()))
        };
        let mut rows: Vec<(String, Option<(String, String)>)> = vec![
            ("client_id", text(self.client_id())),
            (
                "client_secret",
                self.client_secret()
                    .map(|s| ("***".to_owned(), s.source.to_string())),
            ),
            ("cloud", text(Some(self.cloud(None)))),
            ("member_cid", text(self.member_cid())),
            ("grants", path(self.grants(None))),
            ("audit_log", path(self.audit_log(None))),
            ("cache_dir", path(self.cache_dir(None))),
        ]
        .into_iter()
        .map(|(key, row)| (key.to_owned(), row))
        .collect();
        // Destinations show their kind and where each secret comes from,
        // never a URL, token or password.
        let file_source = Source::File(self.path.clone().unwrap_or_default()).to_string();
        for (name, checked) in &self.notify {
            rows.push((
                format!("notify.{name}"),
                Some((checked.describe(), file_source.clone())),
            ));
        }
        if as_json {
            let settings: serde_json::Map<String, serde_json::Value> = rows
                .iter()
                .map(|(key, row)| {
                    let value = match row {
                        Some((value, source)) => {
                            serde_json::json!({"value": value, "source": source})
                        }
                        None => serde_json::Value::Null,
                    };
                    (key.clone(), value)
                })
                .collect();
            let out = serde_json::json!({ "config_file": file, "settings": settings });
            say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        } else {
            say!("config file    {file}");
            for (key, row) in rows {
                match row {
                    Some((value, source)) => say!("{key:<14} {value:<40} {source}"),
                    None => say!("{key:<14} {:<40} not set", "-"),
                }
            }
        }
        Exit::Ok
    }
}

/// A per-user base directory: `$VAR` when set (the XDG convention), else
/// `$HOME` joined with `fallback`; none without either.
pub(crate) fn user_dir(var: &str, fallback: &[&str]) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    Some(fallback.iter().fold(home, |path, part| path.join(part)))
}

static LOADED: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// Loads the configuration once, at start-up (see [`Config::load`]).
///
/// # Errors
///
/// As [`Config::load`].
pub(crate) fn init(flag: Option<&Path>) -> Result<(), Failure> {
    let config = Config::load(flag)?;
    let _ = LOADED.set(config);
    Ok(())
}

/// The configuration loaded by [`init`] (empty before it).
pub(crate) fn get() -> &'static Config {
    LOADED.get_or_init(Config::default)
}

fn usage(message: String) -> Failure {
    Failure::new(Exit::Usage, message)
}

/// A file holding a secret must be readable by its owner alone, as ssh
/// insists for keys.
fn refuse_if_shared(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| usage(format!("failed to read `{}`: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(usage(format!(
                "the config file `{}` holds client_secret but others can read it (mode {:o}); \
                 run `chmod 600 {}` or move the secret to FALCON_CLIENT_SECRET",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    Ok(())
}
