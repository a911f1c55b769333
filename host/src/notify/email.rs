//! Email over SMTP: STARTTLS by default (the server must offer it; the
//! session never goes on in plain text), implicit TLS, or plain text to a
//! relay on this machine when the operator says so. The password is sent
//! only inside TLS.
//!
//! Recipients are the operator's: a plugin picks among the addresses of the
//! destination's `to`, and cannot add one.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use super::config::{Checked, TlsMode, default_port};
use super::delivery::{self, Policy, Redactor, Undelivered};
use super::{Body, Delivered, PluginError, Rendered, invalid, one_line, quote};
use crate::bindings::falcon::plugin::notify::Email;

/// RFC 5322's limit on a line, which a subject must fit in.
const MAX_SUBJECT: usize = 900;

pub(super) fn render(
    email: &Email,
    checked: &Checked,
    plugin: &str,
) -> Result<Rendered, PluginError> {
    one_line("subject", &email.subject, MAX_SUBJECT)?;
    let allowed: Vec<Mailbox> = checked
        .config
        .to
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let recipients: Vec<Mailbox> = if email.to.is_empty() {
        allowed.clone()
    } else {
        let mut chosen = Vec::new();
        for wanted in &email.to {
            let found = allowed
                .iter()
                .find(|m| m.email.to_string().eq_ignore_ascii_case(wanted.trim()));
            match found {
                Some(mailbox) => chosen.push(mailbox.clone()),
                None => {
                    let list: Vec<String> = allowed.iter().map(|m| m.email.to_string()).collect();
                    return Err(invalid(format!(
                        "{} is not a recipient of destination `{}`; it may write to {}",
                        quote(wanted, 80),
                        checked.name,
                        list.join(", ")
                    )));
                }
            }
        }
        chosen
    };
    let from: Mailbox = checked
        .config
        .from
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| invalid(format!("the destination's `from` is not an address: {e}")))?;
    // One id for every attempt: a mail that arrives twice is one message.
    let id = format!("<{}@falcon-plugin-host>", delivery::idempotency_key());
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(email.subject.as_str())
        .message_id(Some(id))
        .user_agent(format!("falcon-plugin-host (plugin {plugin})"));
    for mailbox in &recipients {
        builder = builder.to(mailbox.clone());
    }
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone()),
    };
    let message = built.map_err(|e| invalid(format!("the email cannot be built: {e}")))?;
    let bytes = message.formatted().len();
    let to: Vec<String> = recipients.iter().map(|m| m.email.to_string()).collect();
    let summary = format!(
        "email {} to {}{}",
        quote(&email.subject, 80),
        to.join(", "),
        if email.html.is_some() {
            " (plain text and HTML)"
        } else {
            " (plain text)"
        }
    );
    Ok(Rendered {
        summary,
        bytes,
        body: Body::Mail(Box::new(message)),
    })
}

/// The server and how to reach it.
pub(super) struct Target<'a> {
    pub(super) checked: &'a Checked,
    pub(super) password: Option<&'a falcon::Secret>,
    pub(super) ca_pem: Option<&'a [u8]>,
}

fn transport(
    target: &Target<'_>,
    timeout: std::time::Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let config = &target.checked.config;
    let server = config.server.clone().unwrap_or_default();
    let mode = target.checked.tls();
    let server_name = server
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let parameters = || -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(server_name.clone());
        if let Some(pem) = target.ca_pem {
            // A private CA replaces the system's roots for this server.
            let certificate = Certificate::from_pem(pem)
                .map_err(|e| format!("`ca_file` holds no usable certificate: {e}"))?;
            builder = builder
                .certificate_store(CertificateStore::None)
                .add_root_certificate(certificate);
        }
        builder
            .build_rustls()
            .map_err(|e| format!("failed to set up TLS: {e}"))
    };
    let tls = match mode {
        TlsMode::Starttls => Tls::Required(parameters()?),
        TlsMode::Implicit => Tls::Wrapper(parameters()?),
        TlsMode::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
        .port(config.port.unwrap_or(default_port(mode)))
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&config.username, target.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

pub(super) async fn deliver(
    target: &Target<'_>,
    message: &lettre::Message,
    policy: &Policy,
    redactor: &Redactor,
) -> Result<Delivered, Undelivered> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = policy
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        let timeout = policy.delivery.timeout.min(remaining);
        let fail = |status, message: String| Undelivered {
            attempts: attempt,
            status,
            message: redactor.clean(&message),
            retry_after: None,
        };
        if timeout.is_zero() {
            return Err(fail(
                None,
                "the call's time ran out before the mail was sent".into(),
            ));
        }
        let transport = transport(target, timeout).map_err(|e| fail(None, e))?;
        let error = match transport.send(message.clone()).await {
            Ok(response) => {
                return Ok(Delivered {
                    attempts: attempt,
                    status: Some(u16::from(response.code())),
                    ticket: None,
                });
            }
            Err(e) => e,
        };
        let status = error.status().map(u16::from);
        // A 4xx reply or a dropped connection may pass; a 5xx reply, a TLS
        // failure (no STARTTLS, an untrusted certificate) or a refused login
        // will not.
        let retryable = error.is_transient()
            || !(error.is_permanent()
                || error.is_tls()
                || error.is_client()
                || error.is_response());
        let what = if error.is_tls() {
            format!(
                "the TLS handshake with the mail server failed (is STARTTLS offered, and its \
                 certificate trusted? `ca_file` names a private CA): {}",
                crate::chain(&error)
            )
        } else {
            format!(
                "the mail server refused or failed: {}",
                crate::chain(&error)
            )
        };
        if !retryable || attempt >= policy.delivery.max_attempts {
            return Err(fail(status, what));
        }
        let wait = delivery::backoff(attempt);
        if std::time::Instant::now() + wait >= policy.deadline {
            return Err(fail(status, what));
        }
        tracing::debug!(attempt, ?status, "retrying an email");
        tokio::time::sleep(wait).await;
    }
}
