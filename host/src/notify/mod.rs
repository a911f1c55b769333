//! Notifications: chat messages, tickets and email that the host sends for a
//! plugin to destinations the operator configured (`[notify.NAME]` in the
//! config file, see [`config`]).
//!
//! A plugin names a destination and hands over content; the host renders it
//! for the destination's kind, and sends it with the destination's URL and
//! secrets, which never enter the plugin, a log line, the audit log or an
//! error message. Only the destinations granted to the plugin
//! (`notify:<name>`) have their secrets read, when the run starts.
//!
//! Rendering is separate from delivery so that a dry run can show exactly
//! what would be sent, and the audit log its size, without sending it.

pub(crate) mod config;
mod delivery;
mod email;
mod jira;
mod servicenow;
mod slack;
mod webhook;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bindings::PluginError;
use crate::bindings::falcon::plugin::notify::{CreatedTicket, Email, Message, Ticket};
use crate::bindings::falcon::plugin::types::DeliveryFailure;
use crate::scopes::Scope;
use config::{Checked, Kind};
use delivery::{Policy, RateLimit, Redactor, Undelivered};

/// The largest rendered notification (a request body or a whole mail).
const MAX_BYTES: usize = 256 * 1024;

/// What a plugin asks the host to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Action {
    /// `notify.send-message`.
    SendMessage,
    /// `notify.create-ticket`.
    CreateTicket,
    /// `notify.send-email`.
    SendEmail,
}

impl Action {
    /// The contract's name of the function.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SendMessage => "notify.send-message",
            Self::CreateTicket => "notify.create-ticket",
            Self::SendEmail => "notify.send-email",
        }
    }

    /// What it does, for plans.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::SendMessage => "post a message to",
            Self::CreateTicket => "open a ticket at",
            Self::SendEmail => "send an email through",
        }
    }

    /// The kinds of destination that take it.
    fn kinds(self) -> &'static [Kind] {
        match self {
            Self::SendMessage => &[Kind::Slack, Kind::Webhook],
            Self::CreateTicket => &[Kind::Jira, Kind::Servicenow],
            Self::SendEmail => &[Kind::Email],
        }
    }
}

/// The content of one send, as the plugin gave it.
#[derive(Debug)]
pub(crate) enum Payload {
    Message(Message),
    Ticket(Ticket),
    Email(Email),
}

impl Payload {
    fn action(&self) -> Action {
        match self {
            Self::Message(_) => Action::SendMessage,
            Self::Ticket(_) => Action::CreateTicket,
            Self::Email(_) => Action::SendEmail,
        }
    }
}

/// A notification rendered for its destination, not yet sent.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// One line saying what would be sent, for the dry-run plan.
    pub(crate) summary: String,
    /// The size of what is sent.
    pub(crate) bytes: usize,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// A JSON request body (Slack, webhook, Jira, ServiceNow).
    Json(Vec<u8>),
    /// A whole email.
    Mail(Box<lettre::Message>),
}

/// What a delivered notification returns, with what the audit log needs.
#[derive(Debug)]
pub(crate) struct Delivered {
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    pub(crate) ticket: Option<CreatedTicket>,
}

/// A granted destination, with its secrets.
pub(crate) struct Destination {
    checked: Checked,
    /// The endpoint (Slack, webhook) or site (Jira).
    url: Option<reqwest::Url>,
    /// The webhook's signing secret, Jira's token or the SMTP password.
    secret: Option<falcon::Secret>,
    /// PEM certificates an email destination trusts (`ca_file`).
    ca_pem: Option<Vec<u8>>,
    redactor: Redactor,
    limit: Mutex<RateLimit>,
    /// The run's HTTP client, shared by its destinations.
    http: reqwest::Client,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may be a bearer credential (a Slack webhook): never shown.
        f.debug_struct("Destination")
            .field("name", &self.checked.name)
            .field("kind", &self.checked.kind)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// Reads a destination's secrets.
    fn load(checked: &Checked, http: &reqwest::Client) -> Result<Self, String> {
        let name = &checked.name;
        let mut redactor = Redactor::default();
        let url = match checked.url_source() {
            None => None,
            Some(source) => {
                let text = match source {
                    Ok(inline) => inline,
                    Err(secret) => {
                        let value = secret.read("URL", name)?;
                        redactor.add(value.expose());
                        value.expose().to_owned()
                    }
                };
                let url = config::check_url(&text)
                    .map_err(|e| format!("the URL of notification destination `{name}` {e}"))?;
                // A webhook URL's path is often the whole credential.
                if url.path().len() > 1 {
                    redactor.add(url.path());
                }
                Some(url)
            }
        };
        let secret_source = match checked.kind {
            Kind::Slack => None,
            Kind::Webhook => checked.signing_secret().map(|s| (s, "signing secret")),
            Kind::Jira => checked.token().map(|s| (s, "API token")),
            Kind::Servicenow => checked.password().map(|s| (s, "password")),
            Kind::Email => checked.password().map(|s| (s, "password")),
        };
        let secret = match secret_source {
            Some((source, what)) => {
                let value = source.read(what, name)?;
                redactor.add(value.expose());
                Some(value)
            }
            None => None,
        };
        let ca_pem = match &checked.config.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                format!(
                    "failed to read `ca_file` `{}` of notification destination `{name}`: {e}",
                    path.display()
                )
            })?),
            None => None,
        };
        Ok(Self {
            checked: checked.clone(),
            url,
            secret,
            ca_pem,
            redactor,
            limit: Mutex::new(RateLimit::new(checked.delivery.max_per_minute)),
            http: http.clone(),
        })
    }

    /// Sends a rendered notification: the rate limit first, then the kind's
    /// delivery with retries until `deadline`.
    ///
    /// # Errors
    ///
    /// `rate-limited` when the destination's limit (or its own `Retry-After`)
    /// says wait; `delivery-failed` with the last status otherwise.
    pub(crate) async fn deliver(
        &self,
        rendered: Rendered,
        plugin: &str,
        deadline: Instant,
    ) -> Result<Delivered, PluginError> {
        let limited = self
            .limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Err(wait) = limited {
            let per_minute = self
                .limit
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .per_minute();
            tracing::warn!(
                destination = %self.checked.name,
                per_minute,
                "notification refused by the destination's rate limit"
            );
            return Err(PluginError::RateLimited(millis(wait)));
        }
        let http = &self.http;
        let policy = Policy {
            delivery: self.checked.delivery,
            idempotent: self.checked.kind == Kind::Webhook,
            deadline,
        };
        let result = match (&rendered.body, self.checked.kind) {
            (Body::Json(body), Kind::Slack) => {
                slack::deliver(self.url(), body, http, &policy, &self.redactor).await
            }
            (Body::Json(body), Kind::Webhook) => {
                let secret = self.secret.as_ref().map(falcon::Secret::expose);
                let target = webhook::Target {
                    url: self.url(),
                    secret: secret.unwrap_or_default(),
                    plugin,
                };
                webhook::deliver(&target, body, http, &policy, &self.redactor).await
            }
            (Body::Json(body), Kind::Jira | Kind::Servicenow) => {
                let user = match self.checked.kind {
                    Kind::Jira => self.checked.config.email.as_deref(),
                    _ => self.checked.config.username.as_deref(),
                }
                .unwrap_or_default();
                let secret = self.secret.as_ref().map_or("", falcon::Secret::expose);
                let api = if self.checked.kind == Kind::Jira {
                    jira::api(self.url(), user, secret)
                } else {
                    servicenow::api(self.url(), user, secret)
                };
                delivery::create_ticket(&api, body, http, &policy, &self.redactor).await
            }
            (Body::Mail(mail), Kind::Email) => {
                let target = email::Target {
                    checked: &self.checked,
                    password: self.secret.as_ref(),
                    ca_pem: self.ca_pem.as_deref(),
                };
                email::deliver(&target, mail, &policy, &self.redactor).await
            }
            (_, kind) => Err(Undelivered {
                attempts: 0,
                status: None,
                message: format!(
                    "the host rendered the wrong body for a {} destination",
                    kind.name()
                ),
                retry_after: None,
            }),
        };
        result.map_err(|failed| self.failure(failed))
    }

    fn url(&self) -> &reqwest::Url {
        // `check` requires a URL of every HTTP kind and `load` parsed it.
        self.url
            .as_ref()
            .expect("an HTTP destination has a URL once loaded")
    }

    fn failure(&self, failed: Undelivered) -> PluginError {
        if let Some(wait) = failed.retry_after {
            return PluginError::RateLimited(millis(wait));
        }
        PluginError::DeliveryFailed(DeliveryFailure {
            destination: self.checked.name.clone(),
            status: failed.status,
            attempts: failed.attempts,
            message: self.redactor.clean(&failed.message),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The destinations of one run: every configured name (to tell an unknown
/// destination from an ungranted one), and the granted ones with secrets.
pub(crate) struct Notifier {
    configured: BTreeMap<String, Checked>,
    granted: BTreeMap<String, Arc<Destination>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("configured", &self.configured.keys().collect::<Vec<_>>())
            .field("granted", &self.granted.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Notifier {
    /// The destinations of a run granted `granted`: secrets are read for the
    /// granted `notify:` scopes only.
    ///
    /// # Errors
    ///
    /// A granted destination is not configured, or its secret cannot be
    /// read; the message says what to add or export, never a value.
    pub(crate) fn for_run(
        configured: &BTreeMap<String, Checked>,
        granted: &BTreeSet<Scope>,
    ) -> Result<Self, String> {
        let mut loaded = BTreeMap::new();
        let names: Vec<&str> = granted.iter().filter_map(|s| s.destination()).collect();
        if names.is_empty() {
            // Most runs send nothing: no client, no TLS roots to load.
            return Ok(Self {
                configured: configured.clone(),
                granted: loaded,
            });
        }
        // Redirects are not followed: a 3xx could send the body, and for
        // Jira the credentials, somewhere the operator did not configure.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("falcon-plugin-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("failed to set up the notification client: {e}"))?;
        for name in names {
            let Some(checked) = configured.get(name) else {
                return Err(format!(
                    "the plugin is granted `notify:{name}`, but the config file has no \
                     `[notify.{name}]`; {}",
                    known(configured.keys())
                ));
            };
            loaded.insert(
                name.to_owned(),
                Arc::new(Destination::load(checked, &http)?),
            );
        }
        Ok(Self {
            configured: configured.clone(),
            granted: loaded,
        })
    }

    /// The scope of a configured destination.
    ///
    /// # Errors
    ///
    /// `invalid-input` for a destination the operator did not configure,
    /// naming the ones this plugin may use.
    pub(crate) fn scope_of(&self, name: &str) -> Result<Scope, PluginError> {
        if self.configured.contains_key(name)
            && let Ok(scope) = Scope::notify(name)
        {
            return Ok(scope);
        }
        let shown: String = name.chars().take(64).collect();
        let usable = if self.granted.is_empty() {
            "this plugin may use none (the operator configures a destination as \
             `[notify.<destination>]` in the config file, then grants it with \
             `--grant notify:<destination>`)"
                .to_owned()
        } else {
            let names: Vec<String> = self.granted.keys().map(|n| format!("`{n}`")).collect();
            format!("this plugin may use {}", names.join(", "))
        };
        Err(PluginError::InvalidInput(format!(
            "there is no notification destination `{}`; {usable}",
            shown.escape_debug()
        )))
    }

    /// A granted destination, with its secrets.
    pub(crate) fn granted(&self, name: &str) -> Option<Arc<Destination>> {
        self.granted.get(name).cloned()
    }

    /// The kind of a configured destination.
    pub(crate) fn kind(&self, name: &str) -> Option<Kind> {
        self.configured.get(name).map(|c| c.kind)
    }

    /// Renders `payload` for the destination `name`, without sending it.
    ///
    /// # Errors
    ///
    /// `invalid-input` when the destination does not take this kind of
    /// notification or the content is not acceptable.
    pub(crate) fn render(
        &self,
        name: &str,
        payload: Payload,
        plugin: &str,
    ) -> Result<Rendered, PluginError> {
        let Some(checked) = self.configured.get(name) else {
            return Err(self.scope_of(name).err().unwrap_or_else(|| {
                PluginError::InvalidInput(format!("no notification destination `{name}`"))
            }));
        };
        let action = payload.action();
        if !action.kinds().contains(&checked.kind) {
            let takes = match checked.kind {
                Kind::Slack | Kind::Webhook => "notify.send-message",
                Kind::Jira | Kind::Servicenow => "notify.create-ticket",
                Kind::Email => "notify.send-email",
            };
            return Err(invalid(format!(
                "`{name}` is a {} destination: it takes `{takes}`, not `{}`",
                checked.kind.name(),
                action.name()
            )));
        }
        let rendered = match payload {
            Payload::Message(m) if checked.kind == Kind::Slack => slack::render(&m, plugin)?,
            Payload::Message(m) => webhook::render(&m, name, plugin)?,
            Payload::Ticket(t) if checked.kind == Kind::Jira => jira::render(&t, checked)?,
            Payload::Ticket(t) => servicenow::render(&t)?,
            Payload::Email(e) => email::render(&e, checked, plugin)?,
        };
        if rendered.bytes > MAX_BYTES {
            return Err(invalid(format!(
                "the notification is {} rendered; a destination takes at most {}",
                crate::units::show_size(rendered.bytes as u64),
                crate::units::show_size(MAX_BYTES as u64)
            )));
        }
        Ok(rendered)
    }
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "no destination is configured (see \"Notifications\" in docs/OPERATOR.md)".to_owned()
    } else {
        format!("configured destinations: {}", names.join(", "))
    }
}

pub(crate) fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

/// Checks a one-line text field: not empty, no line break, bounded.
pub(crate) fn one_line(field: &str, value: &str, max: usize) -> Result<(), PluginError> {
    if value.trim().is_empty() {
        return Err(invalid(format!("`{field}` is empty")));
    }
    if value.contains(['\n', '\r']) {
        return Err(invalid(format!("`{field}` must be one line")));
    }
    if value.chars().count() > max {
        return Err(invalid(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(())
}

/// A short quote of plugin text for the plan: one line, bounded.
pub(crate) fn quote(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() > max {
        let cut: String = clean.chars().take(max).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{clean}\"")
    }
}

/// The body of a JSON request.
fn json_body(value: &serde_json::Value, summary: String) -> Rendered {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Rendered {
        summary,
        bytes: bytes.len(),
        body: Body::Json(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::falcon::plugin::notify::Severity;

    fn configured(text: &str) -> BTreeMap<String, Checked> {
        #[derive(serde::Deserialize)]
        struct File {
            notify: BTreeMap<String, config::DestinationConfig>,
        }
        let file: File = toml::from_str(text).unwrap();
        file.notify
            .iter()
            .map(|(name, c)| (name.clone(), config::check(name, c).unwrap()))
            .collect()
    }

    fn message() -> Message {
        Message {
            title: "Contained".into(),
            text: "host *a* was contained".into(),
            blocks: None,
            severity: Severity::High,
        }
    }

    #[test]
    fn unknown_destinations_name_the_usable_ones_and_wrong_kinds_are_refused() {
        let config = configured(
            "[notify.chat]\nkind = \"slack\"\nurl_env = \"NOTIFY_TEST_UNSET\"\n\
             [notify.mail]\nkind = \"email\"\nserver = \"localhost\"\ntls = \"none\"\n\
             from = \"a@example.com\"\nto = [\"b@example.com\"]\n",
        );
        let mail = Scope::notify("mail").unwrap();
        let notifier = Notifier::for_run(&config, &[mail].into()).unwrap();
        match notifier.scope_of("pager") {
            Err(PluginError::InvalidInput(m)) => {
                assert!(m.contains("no notification destination `pager`"), "{m}");
                assert!(m.contains("may use `mail`") && !m.contains("chat"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(notifier.scope_of("chat").unwrap().name(), "notify:chat");
        match notifier.render("mail", Payload::Message(message()), "p") {
            Err(PluginError::InvalidInput(m)) => {
                assert!(m.contains("it takes `notify.send-email`"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // The Slack destination is configured but not granted: its unset
        // variable is never read.
        assert!(notifier.granted("chat").is_none());
    }

    #[test]
    fn a_granted_destination_without_its_secret_stops_the_run_early() {
        let config =
            configured("[notify.chat]\nkind = \"slack\"\nurl_env = \"NOTIFY_TEST_UNSET\"\n");
        let chat = Scope::notify("chat").unwrap();
        let err = Notifier::for_run(&config, &[chat].into()).unwrap_err();
        assert!(err.contains("NOTIFY_TEST_UNSET, which is not set"), "{err}");
        let other = Scope::notify("pager").unwrap();
        let err = Notifier::for_run(&config, &[other].into()).unwrap_err();
        assert!(
            err.contains("no `[notify.pager]`; configured destinations: `chat`"),
            "{err}"
        );
    }

    #[test]
    fn plan_quotes_are_one_bounded_line() {
        assert_eq!(quote("a\nb", 10), "\"a b\"");
        assert_eq!(quote(&"x".repeat(20), 5), "\"xxxxx…\"");
        assert!(one_line("title", "a\nb", 10).is_err());
        assert!(one_line("title", " ", 10).is_err());
        assert!(one_line("title", "ok", 10).is_ok());
    }
}
