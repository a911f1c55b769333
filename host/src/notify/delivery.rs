//! Getting one notification through: timeouts, retries with capped
//! exponential backoff and jitter, `Retry-After`, and the per-destination
//! rate limit.
//!
//! What is retried depends on whether the destination can recognise a
//! repeat. A webhook gets an `Idempotency-Key` that stays the same on every
//! attempt, so any 5xx, 429 or lost connection is retried. Slack and Jira
//! have no such key: a repeat of a request that reached them may post twice,
//! so only answers that say the request was not processed (429, 503) and
//! connections that never opened are retried.

use std::hash::BuildHasher as _;
use std::time::{Duration, Instant};

use super::config::Delivery;

/// The first backoff; each further attempt doubles it.
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// The longest backoff between two attempts (a `Retry-After` may ask longer).
const BACKOFF_CAP: Duration = Duration::from_secs(8);

/// The most of a destination's error answer kept for the plugin.
const EXCERPT: usize = 300;

/// The most of a destination's answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// How one send may be retried, and until when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) delivery: Delivery,
    /// Whether the destination recognises a repeat (an idempotency key).
    pub(crate) idempotent: bool,
    /// When the whole send, retries included, must be over.
    pub(crate) deadline: Instant,
}

/// A send that went through.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) attempts: u32,
    /// The HTTP status (or SMTP reply code) of the last answer.
    pub(crate) status: Option<u16>,
    /// The answer's body, bounded.
    pub(crate) body: Vec<u8>,
}

/// A send that did not go through.
#[derive(Debug)]
pub(crate) struct Undelivered {
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    /// What went wrong, with every secret of the destination replaced.
    pub(crate) message: String,
    /// The destination asked to wait this long, past the call's time.
    pub(crate) retry_after: Option<Duration>,
}

/// Replaces a destination's secrets (URL, token, password) in text that
/// came from a library or the destination itself.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactor {
    secrets: Vec<falcon::Secret>,
}

impl Redactor {
    /// Adds a secret; values too short to be told from ordinary text are
    /// not searched for (they are still never printed by the host).
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() >= 6 {
            self.secrets.push(falcon::Secret::new(secret));
        }
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_owned(), |text, secret| {
            text.replace(secret.expose(), "***")
        })
    }
}

/// Sends `request` (built anew for each attempt) until it succeeds, fails for
/// good, or the policy runs out of attempts or time.
///
/// # Errors
///
/// The last failure, cleaned of secrets by `redactor`.
pub(crate) async fn post(
    policy: &Policy,
    redactor: &Redactor,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
) -> Result<Sent, Undelivered> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = policy.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Undelivered {
                attempts: attempt - 1,
                status: None,
                message: "the call's time ran out before the destination answered".into(),
                retry_after: None,
            });
        }
        let timeout = policy.delivery.timeout.min(remaining);
        let outcome = request().timeout(timeout).send().await;
        let (status, retryable, wait, message) = match outcome {
            Ok(response) => {
                let status = response.status();
                let wait = retry_after(response.headers());
                let body = read_bounded(response).await;
                if status.is_success() {
                    return Ok(Sent {
                        attempts: attempt,
                        status: Some(status.as_u16()),
                        body,
                    });
                }
                let code = status.as_u16();
                let retryable =
                    code == 429 || code == 503 || (policy.idempotent && status.is_server_error());
                let excerpt = excerpt(&String::from_utf8_lossy(&body));
                let message = if excerpt.is_empty() {
                    format!("the destination answered HTTP {code}")
                } else {
                    format!("the destination answered HTTP {code}: {excerpt}")
                };
                (Some(code), retryable, wait, message)
            }
            Err(e) => {
                // A connection that never opened sent nothing; a timeout may
                // have delivered, so only an idempotent send repeats it.
                let retryable = e.is_connect() || (policy.idempotent && e.is_timeout());
                let what = if e.is_timeout() {
                    format!("no answer within {}", crate::units::show_duration(timeout))
                } else {
                    crate::chain(&e.without_url())
                };
                (
                    None,
                    retryable,
                    None,
                    format!("failed to reach the destination: {what}"),
                )
            }
        };
        let fail = |retry_after| Undelivered {
            attempts: attempt,
            status,
            message: redactor.clean(&message),
            retry_after,
        };
        if !retryable || attempt >= policy.delivery.max_attempts {
            return Err(fail(None));
        }
        let wait = wait.unwrap_or_else(|| backoff(attempt));
        if Instant::now() + wait >= policy.deadline {
            return Err(fail(Some(wait)));
        }
        tracing::debug!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            ?status,
            "retrying a notification"
        );
        tokio::time::sleep(wait).await;
    }
}

/// The wait before attempt `attempt + 1`: exponential from
/// [`BACKOFF_BASE`], capped at [`BACKOFF_CAP`], with jitter that keeps 50 to
/// 100 % of it so that many senders do not retry in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let fraction = 0.5 + (random_u64() % 1000) as f64 / 2000.0;
    full.mul_f64(fraction)
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = when.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// A random number for jitter and idempotency keys; not for cryptography.
pub(crate) fn random_u64() -> u64 {
    // Each `RandomState` is seeded from the process's random keys.
    std::collections::hash_map::RandomState::new().hash_one(Instant::now())
}

/// A fresh key that names one send across its attempts.
pub(crate) fn idempotency_key() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

async fn read_bounded(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - body.len())]);
        if body.len() >= MAX_ANSWER {
            break;
        }
    }
    body
}

/// The start of an answer, on one line, without control characters.
pub(crate) fn excerpt(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT)
        .collect();
    clean.trim().to_owned()
}

/// A token bucket: `per_minute` sends, refilled evenly over the minute.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_minute: u32,
    tokens: f64,
    updated: Instant,
}

impl RateLimit {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            tokens: f64::from(per_minute),
            updated: Instant::now(),
        }
    }

    /// Takes one send, or says how long until one is free.
    pub(crate) fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = f64::from(self.per_minute) / 60.0;
        let refill = now.duration_since(self.updated).as_secs_f64() * rate;
        self.tokens = (self.tokens + refill).min(f64::from(self.per_minute));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }

    pub(crate) fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

/// An ITSM API that creates a record from a JSON body: where, as whom
/// (HTTP basic auth), and where the new record's key and id are in the
/// answer.
pub(crate) struct TicketApi<'a> {
    pub(crate) url: reqwest::Url,
    pub(crate) user: &'a str,
    pub(crate) secret: &'a str,
    /// What the record is called in messages ("Jira issue").
    pub(crate) record: &'a str,
    /// The JSON pointer of the object holding the key and id (`""` for the
    /// top level).
    pub(crate) within: &'a str,
    /// The names of the key and id fields.
    pub(crate) key: &'a str,
    pub(crate) id: &'a str,
}

/// Creates a ticket through `api`: the credentials are redacted from every
/// message, and an answer without the new record's key and id is an error
/// that says the ticket may exist.
pub(crate) async fn create_ticket(
    api: &TicketApi<'_>,
    body: &[u8],
    http: &reqwest::Client,
    policy: &Policy,
    redactor: &Redactor,
) -> Result<super::Delivered, Undelivered> {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", api.user, api.secret));
    let mut redactor = redactor.clone();
    redactor.add(&credentials);
    let sent = post(policy, &redactor, || {
        http.post(api.url.clone())
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Basic {credentials}"),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_vec())
    })
    .await?;
    let created: serde_json::Value = serde_json::from_slice(&sent.body).unwrap_or_default();
    let field = |name: &str| {
        created
            .pointer(api.within)
            .and_then(|o| o.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    match (field(api.key), field(api.id)) {
        (Some(key), Some(id)) => Ok(super::Delivered {
            attempts: sent.attempts,
            status: sent.status,
            ticket: Some(crate::bindings::falcon::plugin::notify::CreatedTicket { key, id }),
        }),
        _ => Err(Undelivered {
            attempts: sent.attempts,
            status: sent.status,
            message: format!(
                "{} answered without the new record's {} and {}; the ticket may exist: {}",
                api.record,
                api.key,
                api.id,
                excerpt(&String::from_utf8_lossy(&sent.body))
            ),
            retry_after: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 1..40 {
            let full = BACKOFF_BASE
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(BACKOFF_CAP);
            let wait = backoff(attempt);
            assert!(wait <= full && wait >= full / 2, "{attempt}: {wait:?}");
        }
        assert!(backoff(30) <= BACKOFF_CAP);
        let waits: std::collections::BTreeSet<Duration> = (0..20).map(|_| backoff(3)).collect();
        assert!(waits.len() > 1, "jitter varies the wait");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        headers.insert("retry-after", date.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_names_the_wait() {
        let mut limit = RateLimit::new(2);
        assert!(limit.take().is_ok());
        assert!(limit.take().is_ok());
        let wait = limit.take().unwrap_err();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn the_redactor_replaces_every_secret() {
        let mut r = Redactor::default();
        r.add("https://hooks.example/T000/B000/abcdef");
        r.add("tok-123456");
        r.add("abc");
        let text = "error for https://hooks.example/T000/B000/abcdef with tok-123456 abc";
        assert_eq!(r.clean(text), "error for *** with *** abc");
        assert_ne!(idempotency_key(), idempotency_key());
        assert_eq!(idempotency_key().len(), 32);
    }
}
