//! OAuth2 client-credentials tokens: fetch, cache, refresh before expiry
//! under single-flight, forced refresh after a 401, revoke.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, HeaderMap};
use serde_json::Value;

use crate::client::{Inner, header_str};
use crate::envelope::{Envelope, excerpt, int_value};
use crate::error::{AuthFailure, Error, Result};
use crate::secret::Secret;

const TOKEN_PATH: &str = "/oauth2/token";
const REVOKE_PATH: &str = "/oauth2/revoke";
const TOKEN_ENDPOINT: &str = "POST /oauth2/token";
const REVOKE_ENDPOINT: &str = "POST /oauth2/revoke";

/// Lifetime assumed when the token response has no usable `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(1799);
/// Refresh this long before expiry, unless the lifetime is short.
const RENEW_WINDOW: Duration = Duration::from_secs(120);

/// The cached token. Only this module reads `value`.
pub(crate) struct Token {
    pub(crate) value: Secret,
    /// Bumped on every new token, so a caller that saw a 401 with token `n`
    /// can tell whether someone already replaced it.
    pub(crate) generation: u64,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The token cache; guarded by a tokio mutex held across the fetch, so only
/// one refresh is ever in flight and concurrent callers share its result.
#[derive(Default)]
pub(crate) struct TokenSlot {
    current: Option<Token>,
    generation: u64,
}

impl TokenSlot {
    pub(crate) fn has_token(&self) -> bool {
        self.current.is_some()
    }
}

/// How long before expiry a token with `lifetime` is refreshed: 120 s, or a
/// quarter of the lifetime when that is shorter.
pub(crate) fn renew_margin(lifetime: Duration) -> Duration {
    RENEW_WINDOW.min(lifetime / 4)
}

impl Inner {
    /// A valid bearer token and its generation: the cached one while it is
    /// fresh, else a new one (single-flight).
    pub(crate) async fn bearer(&self) -> Result<(Secret, u64)> {
        let mut slot = self.shared.token.lock().await;
        let now = Instant::now();
        if let Some(token) = &slot.current
            && now < token.refresh_at
        {
            return Ok((token.value.clone(), token.generation));
        }
        match self.fetch_into(&mut slot).await {
            Ok(pair) => Ok(pair),
            Err(err) => {
                // A transient failure while the old token still has life
                // left: keep using it rather than failing the call.
                if let Some(token) = &slot.current
                    && now < token.expires_at
                    && !matches!(err, Error::Auth { .. })
                {
                    tracing::warn!(error = %err, "falcon token refresh failed; using the current token until it expires");
                    return Ok((token.value.clone(), token.generation));
                }
                Err(err)
            }
        }
    }

    /// A token newer than generation `stale`: after a 401 with `stale`, fetch
    /// a new one unless a concurrent caller already did.
    pub(crate) async fn bearer_after_401(&self, stale: u64) -> Result<(Secret, u64)> {
        let mut slot = self.shared.token.lock().await;
        if let Some(token) = &slot.current
            && token.generation != stale
            && Instant::now() < token.refresh_at
        {
            return Ok((token.value.clone(), token.generation));
        }
        slot.current = None;
        self.fetch_into(&mut slot).await
    }

    async fn fetch_into(&self, slot: &mut TokenSlot) -> Result<(Secret, u64)> {
        let (value, lifetime, issued) = self.request_token().await?;
        slot.generation += 1;
        let generation = slot.generation;
        slot.current = Some(Token {
            value: value.clone(),
            generation,
            refresh_at: issued + lifetime.saturating_sub(renew_margin(lifetime)),
            expires_at: issued + lifetime,
        });
        tracing::debug!(
            lifetime_s = lifetime.as_secs_f64(),
            generation,
            "falcon token issued"
        );
        Ok((value, generation))
    }

    /// `POST /oauth2/token` with retries for 429, 5xx and transport errors.
    async fn request_token(&self) -> Result<(Secret, Duration, Instant)> {
        let creds = &self.credentials;
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
        ];
        if let Some(member) = &creds.member_cid {
            form.push(("member_cid", member.as_str()));
        }
        let mut rate_retries = 0;
        let mut transient_retries = 0;
        loop {
            let issued = Instant::now();
            let url = format!("{}{TOKEN_PATH}", self.base_url());
            self.stats
                .token_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sent = self
                .http
                .post(url)
                .header(ACCEPT, "application/json")
                .form(&form)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(source) => {
                    if transient_retries < self.retry.max_transient_retries {
                        let wait = self.retry.backoff(transient_retries);
                        transient_retries += 1;
                        tracing::warn!(endpoint = TOKEN_ENDPOINT, error = %source, wait_ms = wait.as_millis() as u64, "falcon token request failed; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(Error::Transport {
                        endpoint: TOKEN_ENDPOINT.into(),
                        source: source.without_url(),
                    });
                }
            };
            let status = response.status().as_u16();
            // Token responses report the per-address pool, not the tenant's:
            // they are not recorded in `Client::rate_limit`.
            let headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(b) => b,
                Err(source) => {
                    return Err(Error::Transport {
                        endpoint: TOKEN_ENDPOINT.into(),
                        source: source.without_url(),
                    });
                }
            };
            let trace_id = header_str(&headers, "x-cs-traceid");
            match status {
                201 => {
                    let token = parse_token(&body, status, trace_id)?;
                    if let Some(region) = header_str(&headers, "x-cs-region") {
                        self.autodiscover(&region)?;
                    }
                    return Ok((token.0, token.1, issued));
                }
                401 | 403 => {
                    return Err(auth_error(
                        AuthFailure::BadCredentials,
                        status,
                        &headers,
                        &body,
                    ));
                }
                429 => {
                    // The token endpoint has its own per-address pool: wait
                    // here without holding up API calls that have a token.
                    let header = header_str(&headers, "x-ratelimit-retryafter");
                    let wait = self
                        .retry
                        .retry_after_wait(header.as_deref(), std::time::SystemTime::now());
                    if rate_retries < self.retry.max_rate_limit_retries {
                        let pause = wait.unwrap_or_else(|| self.retry.backoff(rate_retries));
                        rate_retries += 1;
                        tracing::warn!(
                            endpoint = TOKEN_ENDPOINT,
                            wait_ms = pause.as_millis() as u64,
                            "falcon token request rate limited; retrying"
                        );
                        tokio::time::sleep(
                            pause + crate::retry::jitter(Duration::from_millis(100)),
                        )
                        .await;
                        continue;
                    }
                    return Err(Error::RateLimited {
                        endpoint: TOKEN_ENDPOINT.into(),
                        retry_after: wait,
                        trace_id,
                    });
                }
                500..=599 if transient_retries < self.retry.max_transient_retries => {
                    let wait = self.retry.backoff(transient_retries);
                    transient_retries += 1;
                    tracing::warn!(
                        endpoint = TOKEN_ENDPOINT,
                        status,
                        trace_id = trace_id.as_deref(),
                        wait_ms = wait.as_millis() as u64,
                        "falcon token endpoint failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                400 => return Err(auth_error(AuthFailure::Rejected, status, &headers, &body)),
                _ => {
                    return Err(auth_error(
                        AuthFailure::InvalidResponse,
                        status,
                        &headers,
                        &body,
                    ));
                }
            }
        }
    }

    fn autodiscover(&self, region: &str) -> Result<()> {
        if !self.autodiscover {
            return Ok(());
        }
        // Shared by every client of these credentials: they use one token,
        // so they must talk to the cloud it was issued for.
        let mut cloud = self
            .shared
            .cloud
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(err) = cloud.gov_region_error(region) {
            tracing::error!(configured = %cloud, region, "falcon token response names a government cloud; not autodiscovered");
            return Err(err);
        }
        if let Some(found) = cloud.autodiscovered(region) {
            tracing::info!(
                configured = %cloud,
                discovered = %found,
                base_url = found.base_url(),
                "falcon credentials belong to another cloud; switching base url"
            );
            *cloud = found;
        } else if cloud.name().is_some_and(|n| n != region) && !cloud.is_gov() {
            tracing::debug!(configured = %cloud, region, "falcon token region not used for autodiscovery");
        }
        Ok(())
    }

    /// Revokes the cached token (`POST /oauth2/revoke`, HTTP Basic auth with
    /// the client credentials). No-op without a cached token.
    pub(crate) async fn revoke(&self) -> Result<()> {
        let mut slot = self.shared.token.lock().await;
        let Some(token) = slot.current.take() else {
            return Ok(());
        };
        let url = format!("{}{REVOKE_PATH}", self.base_url());
        let form = [
            ("token", token.value.expose()),
            ("client_id", self.credentials.client_id.as_str()),
        ];
        let sent = self
            .http
            .post(url)
            .basic_auth(
                &self.credentials.client_id,
                Some(self.credentials.client_secret.expose()),
            )
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(source) => {
                slot.current = Some(token);
                return Err(Error::Transport {
                    endpoint: REVOKE_ENDPOINT.into(),
                    source: source.without_url(),
                });
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            tracing::debug!("falcon token revoked");
            return Ok(());
        }
        slot.current = Some(token);
        Err(crate::client::api_error(
            REVOKE_ENDPOINT,
            status,
            &headers,
            &body,
        ))
    }
}

fn parse_token(body: &[u8], status: u16, trace_id: Option<String>) -> Result<(Secret, Duration)> {
    let invalid = |message: &str| Error::Auth {
        kind: AuthFailure::InvalidResponse,
        status,
        message: message.to_owned(),
        trace_id: trace_id.clone(),
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|_| invalid("token response is not JSON"))?;
    let access = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("token response has no `access_token`"))?;
    let lifetime = value
        .get("expires_in")
        .and_then(int_value)
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_LIFETIME, Duration::from_secs);
    Ok((Secret::new(access), lifetime))
}

fn auth_error(kind: AuthFailure, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let envelope = Envelope::from_slice(body).ok();
    let message = envelope
        .as_ref()
        .and_then(|e| e.errors.first())
        .map(|e| e.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let text = excerpt(body);
            if text.trim().is_empty() {
                "empty response body".to_owned()
            } else {
                text
            }
        });
    let trace_id =
        header_str(headers, "x-cs-traceid").or_else(|| envelope.and_then(|e| e.meta.trace_id));
    Error::Auth {
        kind,
        status,
        message,
        trace_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_margin_rules() {
        assert_eq!(
            renew_margin(Duration::from_secs(1799)),
            Duration::from_secs(120)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(480)),
            Duration::from_secs(120)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(300)),
            Duration::from_secs(75)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(renew_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn token_body_parsing() {
        let (t, life) = parse_token(
            br#"{"access_token":"abc","expires_in":"30","token_type":"bearer"}"#,
            201,
            None,
        )
        .unwrap();
        assert_eq!((t.expose(), life), ("abc", Duration::from_secs(30)));
        let (_, life) = parse_token(br#"{"access_token":"abc"}"#, 201, None).unwrap();
        assert_eq!(life, DEFAULT_LIFETIME);
        let err = parse_token(br#"{"access_token":""}"#, 201, None).unwrap_err();
        assert!(matches!(
            err,
            Error::Auth {
                kind: AuthFailure::InvalidResponse,
                ..
            }
        ));
        assert!(parse_token(b"<html>", 201, None).is_err());
    }
}
