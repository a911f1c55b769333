//! Notification destinations as the operator writes them in the config file,
//! and the checks they pass before any secret is read.
//!
//! ```toml
//! [notify.slack-secops]
//! kind = "slack"
//! url_env = "SLACK_SECOPS_WEBHOOK"     # the webhook URL is itself a secret
//!
//! [notify.soar]
//! kind = "webhook"
//! url = "https://soar.example.com/hooks/falcon"
//! secret_file = "/etc/falcon-host/soar.key"   # HMAC-SHA256 signing secret
//!
//! [notify.jira-sec]
//! kind = "jira"
//! url = "https://example.atlassian.net"
//! email = "falcon-bot@example.com"
//! token_env = "JIRA_API_TOKEN"
//! project = "SEC"
//! issue_type = "Task"                  # the default
//! set_priority = false                 # when priority is not on the create screen
//!
//! [notify.snow]
//! kind = "servicenow"
//! url = "https://example.service-now.com"
//! username = "falcon.integration"
//! password_file = "/etc/falcon-host/snow.pass"
//!
//! [notify.mail-soc]
//! kind = "email"
//! server = "smtp.example.com"
//! port = 587                           # the default for STARTTLS
//! username = "falcon@example.com"
//! password_env = "SMTP_PASSWORD"
//! from = "Falcon host <falcon@example.com>"
//! to = ["soc@example.com", "oncall@example.com"]
//! ```
//!
//! Every destination also takes `max_per_minute` (default 30), `timeout`
//! (of one attempt, default `10s`) and `max_attempts` (default 4).
//!
//! A secret is named, never written here: `<secret>_env` names an environment
//! variable, `<secret>_file` a file readable by its owner alone. Nothing
//! takes a secret on the command line.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The kinds of destination, as `kind = "..."` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A Slack incoming webhook.
    Slack,
    /// Any HTTPS endpoint taking JSON, signed with HMAC-SHA256.
    Webhook,
    /// Jira Cloud: issues created with the REST API v3.
    Jira,
    /// ServiceNow: incidents created with the Table API.
    Servicenow,
    /// Email over SMTP.
    Email,
}

impl Kind {
    /// The name in the config file, the audit log and messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Webhook => "webhook",
            Self::Jira => "jira",
            Self::Servicenow => "servicenow",
            Self::Email => "email",
        }
    }
}

/// How an email destination protects the connection, `tls = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TlsMode {
    /// `tls = "starttls"` (the default): plain connection upgraded with
    /// STARTTLS, which the server must offer; the session never continues in
    /// plain text.
    #[default]
    Starttls,
    /// `tls = "implicit"`: TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// `tls = "none"`: plain text, allowed only to a loopback server (a local
    /// relay) and never with a password.
    None,
}

/// One `[notify.NAME]` table. Which keys apply depends on `kind`; a key that
/// does not apply is refused, like an unknown one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DestinationConfig {
    /// `kind = "slack" | "webhook" | "jira" | "servicenow" | "email"`.
    pub(crate) kind: Option<Kind>,
    /// `url = "https://..."`: the endpoint (webhook) or site (jira,
    /// servicenow), when it is not a secret.
    pub(crate) url: Option<String>,
    /// `url_env = "VAR"`: the URL is in this environment variable.
    pub(crate) url_env: Option<String>,
    /// `url_file = "PATH"`: the URL is in this file.
    pub(crate) url_file: Option<PathBuf>,
    /// `secret_env = "VAR"`: the webhook's signing secret.
    pub(crate) secret_env: Option<String>,
    /// `secret_file = "PATH"`: the webhook's signing secret.
    pub(crate) secret_file: Option<PathBuf>,
    /// `email = "bot@example.com"`: the Jira account the token belongs to.
    pub(crate) email: Option<String>,
    /// `token_env = "VAR"`: the Jira API token.
    pub(crate) token_env: Option<String>,
    /// `token_file = "PATH"`: the Jira API token.
    pub(crate) token_file: Option<PathBuf>,
    /// `project = "SEC"`: the Jira project key tickets go to.
    pub(crate) project: Option<String>,
    /// `issue_type = "Task"`: the Jira issue type of new tickets.
    pub(crate) issue_type: Option<String>,
    /// `set_priority = false`: leave Jira's priority to the project's
    /// default; Jira refuses a ticket that sets a field missing from the
    /// project's create screen.
    pub(crate) set_priority: Option<bool>,
    /// `server = "smtp.example.com"`: the SMTP server.
    pub(crate) server: Option<String>,
    /// `port = 587`: the SMTP port (587 for STARTTLS, 465 implicit, 25 none).
    pub(crate) port: Option<u16>,
    /// `tls = "starttls" | "implicit" | "none"`.
    pub(crate) tls: Option<TlsMode>,
    /// `ca_file = "PATH"`: PEM certificates to trust for this server instead
    /// of the system's (a private CA).
    pub(crate) ca_file: Option<PathBuf>,
    /// `username = "..."`: the SMTP or ServiceNow login.
    pub(crate) username: Option<String>,
    /// `password_env = "VAR"`: the SMTP or ServiceNow password.
    pub(crate) password_env: Option<String>,
    /// `password_file = "PATH"`: the SMTP or ServiceNow password.
    pub(crate) password_file: Option<PathBuf>,
    /// `from = "Name <addr@example.com>"`: the sender.
    pub(crate) from: Option<String>,
    /// `to = ["addr@example.com"]`: every recipient a plugin may write to.
    #[serde(default)]
    pub(crate) to: Vec<String>,
    /// `max_per_minute = 30`: sends per minute, per run.
    pub(crate) max_per_minute: Option<u32>,
    /// `timeout = "10s"`: the time one attempt may take.
    pub(crate) timeout: Option<String>,
    /// `max_attempts = 4`: attempts of one send, the first included.
    pub(crate) max_attempts: Option<u32>,
}

/// Where a secret comes from; the value is read only when a run that is
/// granted the destination starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment ({var})"),
            Self::File(path) => write!(f, "file ({})", path.display()),
        }
    }
}

impl SecretSource {
    /// Reads the secret, trimming a final line break.
    ///
    /// # Errors
    ///
    /// The variable is unset or empty, the file cannot be read, or others
    /// can read the file. Messages name the source, never the value.
    pub(crate) fn read(&self, what: &str, destination: &str) -> Result<falcon::Secret, String> {
        let value = match self {
            Self::Env(var) => std::env::var(var).map_err(|_| {
                format!(
                    "the {what} of notification destination `{destination}` is read from \
                     the environment variable {var}, which is not set; export it before the run"
                )
            })?,
            Self::File(path) => {
                refuse_if_shared(path)?;
                std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "failed to read the {what} of notification destination `{destination}` \
                         from `{}`: {e}",
                        path.display()
                    )
                })?
            }
        };
        let value = value.trim_end_matches(['\r', '\n']).to_owned();
        if value.trim().is_empty() {
            return Err(format!(
                "the {what} of notification destination `{destination}` is empty in {self}"
            ));
        }
        Ok(falcon::Secret::new(value))
    }
}

/// Settings every destination has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery {
    pub(crate) max_per_minute: u32,
    pub(crate) timeout: Duration,
    pub(crate) max_attempts: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            max_per_minute: 30,
            timeout: Duration::from_secs(10),
            max_attempts: 4,
        }
    }
}

/// A destination that passed the checks: still without its secrets.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) config: DestinationConfig,
    pub(crate) delivery: Delivery,
}

impl Checked {
    /// The URL's source: inline, or a secret.
    pub(crate) fn url_source(&self) -> Option<Result<String, SecretSource>> {
        let c = &self.config;
        c.url
            .clone()
            .map(Ok)
            .or_else(|| secret(&c.url_env, &c.url_file).map(Err))
    }

    pub(crate) fn signing_secret(&self) -> Option<SecretSource> {
        secret(&self.config.secret_env, &self.config.secret_file)
    }

    pub(crate) fn token(&self) -> Option<SecretSource> {
        secret(&self.config.token_env, &self.config.token_file)
    }

    pub(crate) fn password(&self) -> Option<SecretSource> {
        secret(&self.config.password_env, &self.config.password_file)
    }

    /// One line for `host config show`: the kind and where each secret comes
    /// from, never a value.
    pub(crate) fn describe(&self) -> String {
        let mut parts = vec![self.kind.name().to_owned()];
        match self.url_source() {
            Some(Ok(_)) if matches!(self.kind, Kind::Jira | Kind::Servicenow) => {
                parts.push("site in the file".into());
            }
            Some(Ok(_)) => parts.push("url in the file".into()),
            Some(Err(source)) => parts.push(format!("url from {source}")),
            None => {}
        }
        let secrets = [
            ("signing secret", self.signing_secret()),
            ("token", self.token()),
            ("password", self.password()),
        ];
        for (what, source) in secrets {
            if let Some(source) = source {
                parts.push(format!("{what} from {source}"));
            }
        }
        if let Some(server) = &self.config.server {
            parts.push(format!(
                "server {server}:{}",
                self.config.port.unwrap_or(default_port(self.tls()))
            ));
        }
        parts.join(", ")
    }

    pub(crate) fn tls(&self) -> TlsMode {
        self.config.tls.unwrap_or_default()
    }
}

/// The port an SMTP server listens on for each TLS mode.
pub(crate) fn default_port(tls: TlsMode) -> u16 {
    match tls {
        TlsMode::Starttls => 587,
        TlsMode::Implicit => 465,
        TlsMode::None => 25,
    }
}

fn secret(env: &Option<String>, file: &Option<PathBuf>) -> Option<SecretSource> {
    env.clone()
        .map(SecretSource::Env)
        .or_else(|| file.clone().map(SecretSource::File))
}

/// Checks one `[notify.NAME]` table: the name, the kind, the keys that apply
/// to it and the ones it needs.
///
/// # Errors
///
/// What is wrong, naming the table and the key, and what to write instead.
pub(crate) fn check(name: &str, config: &DestinationConfig) -> Result<Checked, String> {
    let at = format!("[notify.{name}]");
    crate::scopes::check_destination_name(name).map_err(|e| format!("{at}: {e}"))?;
    let Some(kind) = config.kind else {
        return Err(format!(
            "{at} needs `kind = \"slack\"`, \"webhook\", \"jira\", \"servicenow\" or \"email\""
        ));
    };
    let c = config;
    let set: [(&str, bool); 24] = [
        ("url", c.url.is_some()),
        ("url_env", c.url_env.is_some()),
        ("url_file", c.url_file.is_some()),
        ("secret_env", c.secret_env.is_some()),
        ("secret_file", c.secret_file.is_some()),
        ("email", c.email.is_some()),
        ("token_env", c.token_env.is_some()),
        ("token_file", c.token_file.is_some()),
        ("project", c.project.is_some()),
        ("issue_type", c.issue_type.is_some()),
        ("set_priority", c.set_priority.is_some()),
        ("server", c.server.is_some()),
        ("port", c.port.is_some()),
        ("tls", c.tls.is_some()),
        ("ca_file", c.ca_file.is_some()),
        ("username", c.username.is_some()),
        ("password_env", c.password_env.is_some()),
        ("password_file", c.password_file.is_some()),
        ("from", c.from.is_some()),
        ("to", !c.to.is_empty()),
        ("max_per_minute", c.max_per_minute.is_some()),
        ("timeout", c.timeout.is_some()),
        ("max_attempts", c.max_attempts.is_some()),
        ("kind", true),
    ];
    let common = ["kind", "max_per_minute", "timeout", "max_attempts"];
    let specific: &[&str] = match kind {
        // A Slack webhook URL is a bearer credential: it is never inline.
        Kind::Slack => &["url_env", "url_file"],
        Kind::Webhook => &["url", "url_env", "url_file", "secret_env", "secret_file"],
        Kind::Jira => &[
            "url",
            "url_env",
            "url_file",
            "email",
            "token_env",
            "token_file",
            "project",
            "issue_type",
            "set_priority",
        ],
        Kind::Servicenow => &[
            "url",
            "url_env",
            "url_file",
            "username",
            "password_env",
            "password_file",
        ],
        Kind::Email => &[
            "server",
            "port",
            "tls",
            "ca_file",
            "username",
            "password_env",
            "password_file",
            "from",
            "to",
        ],
    };
    for (key, present) in set {
        if present && !common.contains(&key) && !specific.contains(&key) {
            let hint = if kind == Kind::Slack && key == "url" {
                "; a Slack webhook URL is a secret: put it in an environment variable \
                 (`url_env`) or a file (`url_file`)"
            } else {
                ""
            };
            return Err(format!(
                "{at}: `{key}` is not a setting of {} {} destination{hint}; it takes {}",
                if kind == Kind::Email { "an" } else { "a" },
                kind.name(),
                specific.join(", ")
            ));
        }
    }
    one_of(
        &at,
        &[
            ("url", c.url.is_some()),
            ("url_env", c.url_env.is_some()),
            ("url_file", c.url_file.is_some()),
        ],
    )
    .or_else(|e| if kind == Kind::Email { Ok(()) } else { Err(e) })?;
    match kind {
        Kind::Slack => {}
        Kind::Webhook => {
            let pairs = [
                ("secret_env", c.secret_env.is_some()),
                ("secret_file", c.secret_file.is_some()),
            ];
            one_of(&at, &pairs).map_err(|e| format!("{e} (the HMAC-SHA256 signing secret)"))?;
        }
        Kind::Jira => {
            require(
                &at,
                "email",
                &c.email,
                "the Atlassian account of the API token",
            )?;
            require(
                &at,
                "project",
                &c.project,
                "the project key, for example \"SEC\"",
            )?;
            let pairs = [
                ("token_env", c.token_env.is_some()),
                ("token_file", c.token_file.is_some()),
            ];
            one_of(&at, &pairs).map_err(|e| format!("{e} (the Jira API token)"))?;
        }
        Kind::Servicenow => {
            require(&at, "username", &c.username, "the integration user's login")?;
            let pairs = [
                ("password_env", c.password_env.is_some()),
                ("password_file", c.password_file.is_some()),
            ];
            one_of(&at, &pairs).map_err(|e| format!("{e} (the integration user's password)"))?;
        }
        Kind::Email => check_email(&at, c)?,
    }
    if let Some(url) = &c.url {
        check_url(url).map_err(|e| format!("{at}: `url` {e}"))?;
    }
    let defaults = Delivery::default();
    let delivery = Delivery {
        max_per_minute: match c.max_per_minute {
            Some(0) => return Err(format!("{at}: `max_per_minute` must be at least 1")),
            Some(n) => n,
            None => defaults.max_per_minute,
        },
        timeout: match &c.timeout {
            Some(t) => {
                crate::units::parse_duration(t).map_err(|e| format!("{at}: `timeout`: {e}"))?
            }
            None => defaults.timeout,
        },
        max_attempts: match c.max_attempts {
            Some(n @ 1..=10) => n,
            Some(_) => return Err(format!("{at}: `max_attempts` must be 1 to 10")),
            None => defaults.max_attempts,
        },
    };
    Ok(Checked {
        name: name.to_owned(),
        kind,
        config: config.clone(),
        delivery,
    })
}

fn check_email(at: &str, c: &DestinationConfig) -> Result<(), String> {
    let Some(server) = &c.server else {
        return Err(format!("{at} needs `server = \"smtp.example.com\"`"));
    };
    require(
        at,
        "from",
        &c.from,
        "the sender, for example \"Falcon <falcon@example.com>\"",
    )?;
    if c.to.is_empty() {
        return Err(format!(
            "{at} needs `to = [\"soc@example.com\"]`: the recipients plugins may write to"
        ));
    }
    for address in c.to.iter().chain(c.from.as_ref()) {
        address
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("{at}: `{address}` is not an email address: {e}"))?;
    }
    let password = c.password_env.is_some() || c.password_file.is_some();
    if c.password_env.is_some() && c.password_file.is_some() {
        return Err(format!(
            "{at}: give one of `password_env` and `password_file`"
        ));
    }
    if password != c.username.is_some() {
        return Err(format!(
            "{at}: `username` and a password (`password_env` or `password_file`) go together"
        ));
    }
    if c.tls == Some(TlsMode::None) {
        if !is_loopback(server) {
            return Err(format!(
                "{at}: `tls = \"none\"` is allowed only for a server on this machine \
                 (127.0.0.1, ::1 or localhost); `{server}` must offer STARTTLS"
            ));
        }
        if password {
            return Err(format!(
                "{at}: a password is never sent in plain text; remove `tls = \"none\"` or the \
                 password"
            ));
        }
    }
    Ok(())
}

fn require(at: &str, key: &str, value: &Option<String>, what: &str) -> Result<(), String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(format!("{at} needs `{key}`: {what}")),
    }
}

fn one_of(at: &str, keys: &[(&str, bool)]) -> Result<(), String> {
    let names: Vec<String> = keys.iter().map(|(k, _)| format!("`{k}`")).collect();
    match keys.iter().filter(|(_, set)| *set).count() {
        1 => Ok(()),
        0 => Err(format!("{at} needs one of {}", names.join(", "))),
        _ => Err(format!("{at}: give only one of {}", names.join(", "))),
    }
}

/// Whether `host` (a name or an address) is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks an endpoint URL: `https`, or `http` to this machine only.
///
/// # Errors
///
/// What is wrong with it. The message never repeats the URL, which may hold
/// a token.
pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(
                "uses http to another machine; notifications leave only over https \
                 (http is allowed to 127.0.0.1, ::1 and localhost)"
                    .to_owned(),
            );
        }
        other => return Err(format!("has the scheme `{other}`; use https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("holds a user name or password; use the destination's secret settings".into());
    }
    Ok(parsed)
}

/// A file holding a secret must be readable by its owner alone.
fn refuse_if_shared(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("failed to read `{}`: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the secret file `{}` can be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DestinationConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn each_kind_needs_its_settings_and_refuses_the_others() {
        let slack = parse("kind = \"slack\"\nurl_env = \"HOOK\"");
        assert_eq!(check("slack-secops", &slack).unwrap().kind, Kind::Slack);

        let inline = parse("kind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/x\"");
        let err = check("s", &inline).unwrap_err();
        assert!(err.contains("a Slack webhook URL is a secret"), "{err}");
        assert!(!err.contains("hooks.slack.com"), "{err}");

        let unsigned = parse("kind = \"webhook\"\nurl = \"https://example.com/h\"");
        let err = check("w", &unsigned).unwrap_err();
        assert!(err.contains("signing secret"), "{err}");

        let jira = parse("kind = \"jira\"\nurl = \"https://x.atlassian.net\"\ntoken_env = \"T\"");
        assert!(check("j", &jira).unwrap_err().contains("needs `email`"));

        let stray = parse("kind = \"jira\"\nserver = \"smtp.example.com\"");
        let err = check("j", &stray).unwrap_err();
        assert!(
            err.contains("`server` is not a setting of a jira destination"),
            "{err}"
        );

        let snow = parse(
            "kind = \"servicenow\"\nurl = \"https://x.service-now.com\"\npassword_env = \"P\"",
        );
        assert!(check("s", &snow).unwrap_err().contains("needs `username`"));

        let err = check("Bad Name", &slack).unwrap_err();
        assert!(err.contains("[notify.Bad Name]"), "{err}");
    }

    #[test]
    fn email_never_sends_a_password_in_plain_text_or_plain_text_off_this_machine() {
        let base = "kind = \"email\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\n";
        let remote = parse(&format!(
            "{base}server = \"smtp.example.com\"\ntls = \"none\""
        ));
        assert!(
            check("m", &remote)
                .unwrap_err()
                .contains("only for a server on this machine")
        );
        let local = parse(&format!(
            "{base}server = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_env = \"P\""
        ));
        assert!(
            check("m", &local)
                .unwrap_err()
                .contains("never sent in plain text")
        );
        let relay = parse(&format!("{base}server = \"localhost\"\ntls = \"none\""));
        assert_eq!(check("m", &relay).unwrap().tls(), TlsMode::None);
        let bad_to = "kind = \"email\"\nfrom = \"a@example.com\"\nserver = \"s\"\nto = [\"nope\"]";
        let err = check("m", &parse(bad_to)).unwrap_err();
        assert!(err.contains("`nope` is not an email address"), "{err}");
    }

    #[test]
    fn urls_are_https_or_loopback_and_errors_never_repeat_them() {
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://[::1]:8080/hook").is_ok());
        let err = check_url("http://example.com/hook/s3cr3t").unwrap_err();
        assert!(
            err.contains("only over https") && !err.contains("s3cr3t"),
            "{err}"
        );
        let err = check_url("https://user:s3cr3t@example.com/").unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(check_url("ftp://example.com").is_err());
    }

    #[test]
    fn delivery_settings_have_defaults_and_bounds() {
        let c = parse("kind = \"slack\"\nurl_env = \"H\"\ntimeout = \"2s\"\nmax_per_minute = 5");
        let checked = check("s", &c).unwrap();
        assert_eq!(checked.delivery.timeout, Duration::from_secs(2));
        assert_eq!(checked.delivery.max_per_minute, 5);
        assert_eq!(checked.delivery.max_attempts, 4);
        let zero = parse("kind = \"slack\"\nurl_env = \"H\"\nmax_per_minute = 0");
        assert!(check("s", &zero).is_err());
    }
}
