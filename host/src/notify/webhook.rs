//! A generic JSON webhook, signed so that the receiver can tell the host's
//! requests from anyone else's.
//!
//! Every request carries:
//! - `X-Falcon-Timestamp`: the Unix time of the attempt, in seconds;
//! - `X-Falcon-Signature: sha256=<hex>`: HMAC-SHA256 with the destination's
//!   secret over `<timestamp>.<body>`. The receiver recomputes it and refuses
//!   a timestamp more than five minutes away from its clock, so a captured
//!   request cannot be replayed later;
//! - `Idempotency-Key`: the same on every attempt of one send, so that a
//!   receiver that saw an attempt can ignore its retries.
//!
//! The body is `{"type": "message", "destination", "plugin", "title", "text",
//! "severity", "blocks"}` (`blocks` is the plugin's JSON array, or null).

use hmac::{Hmac, Mac as _};
use serde_json::json;
use sha2::Sha256;

use super::delivery::{self, Policy, Redactor, Undelivered};
use super::slack::{plugin_blocks, severity_name};
use super::{Delivered, PluginError, Rendered, json_body, one_line, quote};
use crate::bindings::falcon::plugin::notify::Message;

/// The header with the signature.
pub(crate) const SIGNATURE_HEADER: &str = "X-Falcon-Signature";
/// The header with the signed timestamp.
pub(crate) const TIMESTAMP_HEADER: &str = "X-Falcon-Timestamp";

pub(super) fn render(
    message: &Message,
    destination: &str,
    plugin: &str,
) -> Result<Rendered, PluginError> {
    one_line("title", &message.title, 1000)?;
    let blocks = match &message.blocks {
        Some(text) => Some(plugin_blocks(text)?),
        None => None,
    };
    let body = json!({
        "type": "message",
        "destination": destination,
        "plugin": plugin,
        "title": message.title,
        "text": message.text,
        "severity": severity_name(message.severity),
        "blocks": blocks,
    });
    let summary = format!(
        "webhook message {} (severity {})",
        quote(&message.title, 80),
        severity_name(message.severity)
    );
    Ok(json_body(&body, summary))
}

/// Where and how to send.
pub(super) struct Target<'a> {
    pub(super) url: &'a reqwest::Url,
    pub(super) secret: &'a str,
    pub(super) plugin: &'a str,
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `<timestamp>.<body>`).
pub(crate) fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

pub(super) async fn deliver(
    target: &Target<'_>,
    body: &[u8],
    http: &reqwest::Client,
    policy: &Policy,
    redactor: &Redactor,
) -> Result<Delivered, Undelivered> {
    let key = delivery::idempotency_key();
    let sent = delivery::post(policy, redactor, || {
        // Signed anew for each attempt: a retry carries a fresh timestamp
        // inside the receiver's window, and the same key.
        let timestamp = jiff::Timestamp::now().as_second();
        http.post(target.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &key)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(target.secret, timestamp, body))
            .header("X-Falcon-Plugin", target.plugin)
            .body(body.to_vec())
    })
    .await?;
    Ok(Delivered {
        attempts: sent.attempts,
        status: sent.status,
        ticket: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        // Computed independently: Python's `hmac.new(b"Jefe",
        // b"0.what do ya want for nothing?", hashlib.sha256).hexdigest()`.
        assert_eq!(
            sig,
            "sha256=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
        assert_ne!(signature("Jefe", 1, b"x"), signature("Jefe", 2, b"x"));
    }
}
