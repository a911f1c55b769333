//! The client: configuration, shared state and the one request path every
//! API call goes through.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION};
use serde_json::Value;

use crate::cloud::Cloud;
use crate::endpoint::{Endpoint, Method};
use crate::envelope::{ApiResponse, Envelope, RateLimitStatus, excerpt};
use crate::error::{BodyExcerpt, Error, Result};
use crate::ratelimit::RateLimiter;
use crate::registry::{SharedState, shared_for};
use crate::retry::RetryPolicy;
use crate::secret::Credentials;

/// The user agent sent on every request.
pub const USER_AGENT: &str = concat!("falcon-plugin-host/", env!("CARGO_PKG_VERSION"));

/// A Falcon API client. Cheap to clone: clones share the token, the rate-limit
/// state and the connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// Shared state of a [`Client`].
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) credentials: Credentials,
    pub(crate) autodiscover: bool,
    pub(crate) retry: RetryPolicy,
    /// The token (and, unless one was given, the rate limiter) shared by
    /// every client of the same cloud, client id and member CID.
    pub(crate) shared: Arc<SharedState>,
    /// Pacing and the shared 429 cooldown.
    pub(crate) limiter: RateLimiter,
    /// Upper bound of one whole call, retries and waits included.
    call_timeout: Option<Duration>,
    pub(crate) stats: Counters,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) token_requests: AtomicU64,
    api_requests: AtomicU64,
    retries: AtomicU64,
}

/// Counts of what a client (and its clones) sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests sent to `POST /oauth2/token`.
    pub token_requests: u64,
    /// API requests sent (every attempt counts).
    pub api_requests: u64,
    /// API attempts that were retries (after 401, 429, 5xx or a transport
    /// error).
    pub retries: u64,
}

/// Configures and builds a [`Client`]; see [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    cloud: Cloud,
    credentials: Credentials,
    user_agent: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
    autodiscover: bool,
    limiter: Option<RateLimiter>,
    call_timeout: Option<Duration>,
    proxy: ProxyMode,
}

/// Where a [`Client`] sends its traffic.
#[derive(Debug, Clone, Default)]
enum ProxyMode {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (any case).
    #[default]
    Environment,
    /// Straight to the cloud, ignoring the environment.
    Direct,
}

impl ClientBuilder {
    /// Paces this client with `limiter`. By default every client built for
    /// the same cloud, client id and member CID in this process shares one
    /// limiter (and one token); give clients of one tenant that use
    /// different API clients the same [`RateLimiter`] so that they pace
    /// together and honour one 429 cooldown.
    #[must_use]
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Upper bound of one whole call to [`Client::execute`], including token
    /// refreshes, retries, backoff and rate-limit waits (default: none; each
    /// attempt is still bounded by the request timeout). A call that runs
    /// out of time ends in [`Error::Timeout`].
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Ignores `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` and
    /// connects directly (by default they are honoured, in either case).
    #[must_use]
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyMode::Direct;
        self
    }

    /// Replaces the user agent (default `falcon-plugin-host/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Timeout for establishing a connection (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Timeout for one whole request, connect to last body byte (default 60 s).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The retry policy for reads and token requests.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Whether to switch commercial clouds when the token response's
    /// `X-Cs-Region` names another one (default on; never applies to gov
    /// clouds or custom URLs).
    #[must_use]
    pub fn autodiscover(mut self, enabled: bool) -> Self {
        self.autodiscover = enabled;
        self
    }

    /// Builds the client. No request is sent until the first call (or
    /// [`Client::authenticate`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the client id or secret is empty;
    /// [`Error::Setup`] when the HTTP client cannot be created.
    pub fn build(self) -> Result<Client> {
        if self.credentials.client_id.trim().is_empty() {
            return Err(Error::InvalidInput(
                "credentials have an empty `client_id`".into(),
            ));
        }
        if self.credentials.client_secret.is_empty() {
            return Err(Error::InvalidInput(
                "credentials have an empty `client_secret`".into(),
            ));
        }
        let mut http = reqwest::Client::builder();
        if matches!(self.proxy, ProxyMode::Direct) {
            http = http.no_proxy();
        }
        let http = http
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            // Cross-cloud 308s are reported, not followed: a redirect must
            // never carry credentials to a host the operator did not name.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Setup)?;
        let shared = shared_for(&self.cloud, &self.credentials);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                credentials: self.credentials,
                autodiscover: self.autodiscover,
                retry: self.retry,
                limiter: self.limiter.unwrap_or_else(|| shared.limiter.clone()),
                shared,
                call_timeout: self.call_timeout,
                stats: Counters::default(),
            }),
        })
    }
}

/// One API call for [`Client::execute`]: endpoint, query pairs and an
/// optional JSON or form body.
#[derive(Clone)]
pub struct ApiRequest {
    /// The operation.
    pub endpoint: Endpoint,
    /// Query pairs, sent URL-encoded; a key may repeat (`ids=a&ids=b`).
    pub query: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// A `multipart/form-data` body of text fields (RTR script and put-file
    /// uploads, which Falcon takes only as multipart), if any; sent instead
    /// of `body` when both are set.
    pub form: Option<Vec<(String, String)>>,
    /// Whether a 404 answer is returned as a response (batch lookups where
    /// every id was unknown) instead of an error.
    pub not_found_is_partial: bool,
    /// Whether a 4xx answer (other than 401, 403, 413 and 429) whose body is
    /// an envelope with resources or per-id errors is returned as a response
    /// (partial success of a batch call) instead of an error.
    pub accept_partial: bool,
    /// Whether a 2xx body is a binary download, returned as is in
    /// [`ApiResponse::bytes`] instead of being decoded as an envelope.
    pub binary: bool,
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body may hold a password (user creation): never print it.
        f.debug_struct("ApiRequest")
            .field("endpoint", &self.endpoint.to_string())
            .field("query", &self.query)
            .field("has_body", &self.body.is_some())
            .field("has_form", &self.form.is_some())
            .field("not_found_is_partial", &self.not_found_is_partial)
            .field("accept_partial", &self.accept_partial)
            .field("binary", &self.binary)
            .finish()
    }
}

impl ApiRequest {
    /// A call of `endpoint` without query or body.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            query: Vec::new(),
            body: None,
            form: None,
            not_found_is_partial: false,
            accept_partial: false,
            binary: false,
        }
    }

    /// Adds one query pair. Values such as FQL filters are sent as one
    /// encoded value, never spliced into the path.
    #[must_use]
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds one query pair when `value` is `Some`.
    #[must_use]
    pub fn query_opt(self, key: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Sets the JSON body.
    #[must_use]
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds the `filter` and `sort` query parameters, each only when given
    /// and not blank: the shape of every query endpoint.
    #[must_use]
    pub fn filter_and_sort(self, filter: Option<&str>, sort: Option<&str>) -> Self {
        self.query_opt("filter", filter.filter(|f| !f.trim().is_empty()))
            .query_opt("sort", sort.filter(|s| !s.trim().is_empty()))
    }

    /// Sets a `multipart/form-data` body of text fields `pairs`, sent in
    /// place of any JSON body.
    #[must_use]
    pub fn form<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.form = Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Returns a 404 answer as a response rather than an error.
    #[must_use]
    pub fn allow_not_found(mut self) -> Self {
        self.not_found_is_partial = true;
        self
    }

    /// Expects a binary body (an installer, an extracted file): a 2xx
    /// answer is returned in [`ApiResponse::bytes`], not decoded. Error
    /// answers are decoded as usual.
    #[must_use]
    pub fn binary(mut self) -> Self {
        self.binary = true;
        self
    }

    /// Returns partial successes as responses: any 404, and other 4xx
    /// answers (except 401, 403, 413, 429) that carry resources or per-id
    /// errors. For batch calls that report per-id results.
    #[must_use]
    pub fn allow_partial(mut self) -> Self {
        self.not_found_is_partial = true;
        self.accept_partial = true;
        self
    }
}

impl Client {
    /// Starts configuring a client for `cloud` with `credentials`.
    pub fn builder(cloud: Cloud, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            cloud,
            credentials,
            user_agent: USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            autodiscover: true,
            limiter: None,
            call_timeout: None,
            proxy: ProxyMode::Environment,
        }
    }

    /// The cloud requests go to now (after any autodiscovery).
    pub fn cloud(&self) -> Cloud {
        self.inner
            .shared
            .cloud
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The rate-limit headers of the latest response.
    pub fn rate_limit(&self) -> RateLimitStatus {
        self.inner.limiter.status()
    }

    /// The rate limiter this client paces by (shared with its clones and
    /// with any client built with the same limiter).
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// Counts of what this client and its clones sent so far.
    pub fn stats(&self) -> ClientStats {
        let s = &self.inner.stats;
        ClientStats {
            token_requests: s.token_requests.load(Ordering::Relaxed),
            api_requests: s.api_requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
        }
    }

    /// Fetches a token now (or confirms the cached one), to check the
    /// credentials before the first call.
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] when the token endpoint refuses the credentials;
    /// [`Error::RateLimited`], [`Error::Api`] or [`Error::Transport`] when it
    /// cannot be reached or keeps failing.
    pub async fn authenticate(&self) -> Result<()> {
        self.inner.bearer().await.map(|_| ())
    }

    /// Revokes the cached token (`POST /oauth2/revoke`); the next call fetches
    /// a new one. Does nothing when no token is cached.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when Falcon refuses the revocation, [`Error::Transport`]
    /// when it cannot be reached; the token stays cached in both cases.
    pub async fn revoke(&self) -> Result<()> {
        self.inner.revoke().await
    }

    /// Sends one API call and returns the decoded envelope. Every typed call
    /// in this crate goes through here.
    ///
    /// Adds the bearer token (refreshing it when due), waits out a shared
    /// 429 cooldown, and retries as [`RetryPolicy`] allows: reads after 429,
    /// 5xx and transport errors; any call once after a 401 with a fresh
    /// token. Writes are never replayed once they may have arrived.
    ///
    /// A 2xx answer is returned even when its envelope lists errors (partial
    /// success); see [`ApiResponse::first_error`].
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (a read that exceeded
    /// [`ClientBuilder::call_timeout`]; a write that did is
    /// [`Error::WriteUncertain`]), [`Error::Auth`] (token refused),
    /// [`Error::Unauthorized`] (401 after the retry), [`Error::Forbidden`] (403), [`Error::RateLimited`],
    /// [`Error::Api`] (other statuses), [`Error::WriteUncertain`] (a write
    /// that may have been applied), [`Error::Transport`], [`Error::Decode`],
    /// [`Error::InvalidInput`] (body not serialisable).
    pub async fn execute(&self, request: ApiRequest) -> Result<ApiResponse> {
        use tracing::Instrument;
        let endpoint = request.endpoint;
        // The span names the call and its scope; never the query values
        // (filters may hold personal data) nor any credential.
        let span = tracing::debug_span!(
            "falcon_call",
            method = endpoint.method.as_str(),
            path = endpoint.path,
            scope = endpoint.scope,
        );
        let call = self.inner.execute(request).instrument(span);
        match self.inner.call_timeout {
            None => call.await,
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) if endpoint.is_read() => Err(Error::Timeout {
                    endpoint: endpoint.to_string(),
                    after: limit,
                }),
                Err(_) => Err(Error::WriteUncertain {
                    endpoint: endpoint.to_string(),
                    status: None,
                    reason: format!("the call did not finish within {} ms", limit.as_millis()),
                    trace_id: None,
                }),
            },
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let has_token = self
            .inner
            .shared
            .token
            .try_lock()
            .map(|s| s.has_token())
            .ok();
        f.debug_struct("Client")
            .field("cloud", &self.cloud())
            .field("client_id", &self.inner.credentials.client_id)
            .field("member_cid", &self.inner.credentials.member_cid)
            .field("has_token", &has_token)
            .finish_non_exhaustive()
    }
}

impl ApiResponse {
    /// The first entry of the envelope's `errors`, if any.
    pub fn first_error(&self) -> Option<&crate::envelope::ErrorItem> {
        self.envelope.errors.first()
    }

    /// Turns a response whose envelope lists errors into [`Error::Api`]
    /// (for calls where any error means failure).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] naming `endpoint`, with the first error's code and
    /// message.
    pub fn error_for_errors(self, endpoint: &Endpoint) -> Result<Self> {
        match self.envelope.errors.first() {
            None => Ok(self),
            Some(first) => Err(Error::Api {
                endpoint: endpoint.to_string(),
                status: self.status,
                code: first.code,
                message: first.message.clone(),
                trace_id: self.trace_id.clone(),
                body: None,
            }),
        }
    }
}

/// What a failed attempt leads to.
enum Next {
    Retry,
    Fail(Error),
}

impl Inner {
    pub(crate) fn base_url(&self) -> String {
        self.shared
            .cloud
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .base_url()
            .to_owned()
    }

    pub(crate) fn record_rate_limit(&self, headers: &HeaderMap) {
        self.limiter.record(self.rate_limit_of(headers));
    }

    /// Records a 429 and starts (or extends) the shared cooldown: until the
    /// `X-Ratelimit-Retryafter` time when it lies ahead, else (the header
    /// missing, unreadable or in the past) for one backoff step. Returns the
    /// wait.
    pub(crate) fn note_rate_limited(&self, headers: &HeaderMap, attempt: u32) -> Duration {
        let header = header_str(headers, "x-ratelimit-retryafter");
        let from_header = self
            .retry
            .retry_after_wait(header.as_deref(), SystemTime::now())
            .filter(|w| !w.is_zero());
        let wait = from_header.unwrap_or_else(|| self.retry.backoff(attempt));
        self.limiter.cool_down(wait);
        wait
    }

    async fn execute(&self, request: ApiRequest) -> Result<ApiResponse> {
        let endpoint = request.endpoint;
        let name = endpoint.to_string();
        let body = match &request.body {
            Some(value) => Some(serde_json::to_vec(value).map_err(|e| {
                Error::InvalidInput(format!("`{name}` body is not serialisable: {e}"))
            })?),
            None => None,
        };
        let mut rate_retries = 0u32;
        let mut transient_retries = 0u32;
        let mut refreshed = false;
        let (mut token, mut generation) = self.bearer().await?;
        loop {
            self.limiter.acquire().await;
            let url = format!("{}{}", self.base_url(), endpoint.path);
            let mut builder = self
                .http
                .request(endpoint.method.to_reqwest(), url)
                .bearer_auth(token.expose())
                .header(
                    ACCEPT,
                    if request.binary {
                        "application/octet-stream, application/json"
                    } else {
                        "application/json"
                    },
                );
            if !request.query.is_empty() {
                builder = builder.query(&request.query);
            }
            match (&request.form, &body) {
                (Some(pairs), _) => {
                    // Built anew for each attempt: a multipart form is
                    // consumed by sending it.
                    let form = pairs
                        .iter()
                        .fold(reqwest::multipart::Form::new(), |form, (k, v)| {
                            form.text(k.clone(), v.clone())
                        });
                    builder = builder.multipart(form);
                }
                (None, Some(bytes)) => {
                    builder = builder
                        .header(CONTENT_TYPE, "application/json")
                        .body(bytes.clone())
                }
                // Some Falcon endpoints reject body-less POSTs without a
                // content type (gofalcon works around the same).
                (None, None)
                    if matches!(endpoint.method, Method::Post | Method::Put | Method::Patch) =>
                {
                    builder = builder.header(CONTENT_TYPE, "application/json");
                }
                (None, None) => {}
            }
            self.stats.api_requests.fetch_add(1, Ordering::Relaxed);
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    self.record_rate_limit(&headers);
                    match response.bytes().await {
                        Ok(bytes) => Ok((status, headers, bytes)),
                        Err(e) => Err((Some(status), e)),
                    }
                }
                Err(e) => Err((None, e)),
            };
            let (status, headers, bytes) = match outcome {
                Ok(parts) => parts,
                Err((status, source)) => {
                    match self
                        .transport_failure(&endpoint, &name, status, source, &mut transient_retries)
                        .await
                    {
                        Next::Retry => {
                            self.stats.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Next::Fail(err) => return Err(err),
                    }
                }
            };
            let trace_id = header_str(&headers, "x-cs-traceid");
            tracing::debug!(endpoint = %name, status, trace_id = trace_id.as_deref(), "falcon api response");
            let next = match status {
                200..=299 if request.binary => {
                    return Ok(ApiResponse {
                        status,
                        trace_id,
                        rate_limit: self.rate_limit_of(&headers),
                        envelope: Envelope::default(),
                        bytes: Some(bytes.to_vec()),
                    });
                }
                200..=299 => {
                    return decode_success(
                        &name,
                        status,
                        trace_id,
                        &headers,
                        &bytes,
                        self.rate_limit_of(&headers),
                    );
                }
                404 if request.not_found_is_partial => {
                    return decode_success(
                        &name,
                        status,
                        trace_id,
                        &headers,
                        &bytes,
                        self.rate_limit_of(&headers),
                    );
                }
                400 | 402 | 404..=412 | 414..=428 | 430..=499
                    if request.accept_partial && is_partial_body(&bytes) =>
                {
                    return decode_success(
                        &name,
                        status,
                        trace_id,
                        &headers,
                        &bytes,
                        self.rate_limit_of(&headers),
                    );
                }
                401 if !refreshed => {
                    refreshed = true;
                    tracing::info!(endpoint = %name, trace_id = trace_id.as_deref(), "falcon api answered 401; refreshing the token and retrying once");
                    (token, generation) = self.bearer_after_401(generation).await?;
                    Next::Retry
                }
                401 => Next::Fail(Error::Unauthorized {
                    endpoint: name.clone(),
                    trace_id,
                }),
                403 => Next::Fail(forbidden_or_api(&endpoint, &name, &headers, &bytes)),
                429 => {
                    let wait = self.note_rate_limited(&headers, rate_retries);
                    if endpoint.is_retryable() && rate_retries < self.retry.max_rate_limit_retries {
                        rate_retries += 1;
                        tracing::warn!(endpoint = %name, attempt = rate_retries, wait_ms = wait.as_millis() as u64, "falcon api rate limited; retrying after the shared cooldown");
                        Next::Retry
                    } else {
                        Next::Fail(Error::RateLimited {
                            endpoint: name.clone(),
                            retry_after: Some(wait),
                            trace_id,
                        })
                    }
                }
                500..=599 if endpoint.is_retryable() => {
                    if transient_retries < self.retry.max_transient_retries {
                        let wait = self.retry.backoff(transient_retries);
                        transient_retries += 1;
                        tracing::warn!(endpoint = %name, status, trace_id = trace_id.as_deref(), wait_ms = wait.as_millis() as u64, "falcon api server error; retrying");
                        tokio::time::sleep(wait).await;
                        Next::Retry
                    } else {
                        Next::Fail(api_error(&name, status, &headers, &bytes))
                    }
                }
                500..=599 => {
                    let detail = api_error(&name, status, &headers, &bytes);
                    Next::Fail(Error::WriteUncertain {
                        endpoint: name.clone(),
                        status: Some(status),
                        reason: format!(
                            "server answered HTTP {status} ({})",
                            error_message(&detail)
                        ),
                        trace_id,
                    })
                }
                _ => Next::Fail(api_error(&name, status, &headers, &bytes)),
            };
            match next {
                Next::Retry => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                }
                Next::Fail(err) => return Err(err),
            }
        }
    }

    /// Handles an attempt that failed below HTTP (or while reading the body).
    async fn transport_failure(
        &self,
        endpoint: &Endpoint,
        name: &str,
        status: Option<u16>,
        source: reqwest::Error,
        transient_retries: &mut u32,
    ) -> Next {
        let source = source.without_url();
        // A failed connect means nothing was sent: safe to retry even writes.
        let not_sent = status.is_none() && source.is_connect();
        if !(endpoint.is_retryable() || not_sent) {
            return Next::Fail(Error::WriteUncertain {
                endpoint: name.to_owned(),
                status,
                reason: format!("the request was sent but the answer was lost: {source}"),
                trace_id: None,
            });
        }
        if *transient_retries < self.retry.max_transient_retries {
            let wait = self.retry.backoff(*transient_retries);
            *transient_retries += 1;
            tracing::warn!(endpoint = %name, error = %source, wait_ms = wait.as_millis() as u64, "falcon api request failed; retrying");
            tokio::time::sleep(wait).await;
            return Next::Retry;
        }
        Next::Fail(Error::Transport {
            endpoint: name.to_owned(),
            source,
        })
    }

    fn rate_limit_of(&self, headers: &HeaderMap) -> RateLimitStatus {
        RateLimitStatus {
            limit: header_str(headers, "x-ratelimit-limit").and_then(|v| v.parse().ok()),
            remaining: header_str(headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        }
    }
}

fn decode_success(
    name: &str,
    status: u16,
    trace_id: Option<String>,
    headers: &HeaderMap,
    bytes: &[u8],
    rate_limit: RateLimitStatus,
) -> Result<ApiResponse> {
    let envelope = Envelope::from_slice(bytes).map_err(|reason| Error::Decode {
        endpoint: name.to_owned(),
        status,
        reason: format!(
            "{reason} (content type {}, body starts {:?})",
            header_str(headers, CONTENT_TYPE.as_str()).unwrap_or_else(|| "none".into()),
            excerpt(bytes)
        ),
        trace_id: trace_id.clone(),
    })?;
    let trace_id = trace_id.or_else(|| envelope.meta.trace_id.clone());
    Ok(ApiResponse {
        status,
        trace_id,
        rate_limit,
        envelope,
        bytes: None,
    })
}

/// Whether a 4xx body is an envelope that reports per-id results.
fn is_partial_body(bytes: &[u8]) -> bool {
    Envelope::from_slice(bytes).is_ok_and(|e| {
        !e.resources.is_null() && e.resources != Value::Array(Vec::new())
            || e.errors.iter().any(|err| err.id.is_some())
    })
}

/// A 403 that looks like the gateway's scope refusal becomes
/// [`Error::Forbidden`]; a service-specific 403 message stays [`Error::Api`].
fn forbidden_or_api(endpoint: &Endpoint, name: &str, headers: &HeaderMap, bytes: &[u8]) -> Error {
    let envelope = Envelope::from_slice(bytes).ok();
    let message = envelope
        .as_ref()
        .and_then(|e| e.errors.first())
        .map(|e| e.message.to_ascii_lowercase());
    let gateway = match &message {
        None => true,
        Some(m) => {
            m.is_empty() || m.contains("access denied") || m.contains("authorization failed")
        }
    };
    if !gateway {
        return api_error(name, 403, headers, bytes);
    }
    let trace_id =
        header_str(headers, "x-cs-traceid").or_else(|| envelope.and_then(|e| e.meta.trace_id));
    Error::Forbidden {
        endpoint: name.to_owned(),
        api_scope: endpoint.scope.to_owned(),
        trace_id,
    }
}

/// Builds [`Error::Api`] from a failed response, JSON or not.
pub(crate) fn api_error(name: &str, status: u16, headers: &HeaderMap, bytes: &[u8]) -> Error {
    let content_type = header_str(headers, CONTENT_TYPE.as_str());
    let header_trace = header_str(headers, "x-cs-traceid");
    let location = header_str(headers, LOCATION.as_str());
    let empty = bytes.iter().all(u8::is_ascii_whitespace);
    let (code, mut message, trace_id, body_excerpt) = match Envelope::from_slice(bytes) {
        Ok(_) if empty => (
            None,
            "empty response body".to_owned(),
            header_trace,
            Some(String::new()),
        ),
        Ok(envelope) => {
            let first = envelope.errors.first();
            let message = first
                .map(|e| e.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no error message in the response".to_owned());
            let trace = header_trace.or(envelope.meta.trace_id.clone());
            (first.and_then(|e| e.code), message, trace, None)
        }
        Err(_) => {
            let text = excerpt(bytes);
            (
                None,
                "response body is not a Falcon JSON envelope".to_owned(),
                header_trace,
                Some(text),
            )
        }
    };
    if (300..400).contains(&status)
        && let Some(location) = location
    {
        message = format!("{message}; redirected to `{location}` (set the cloud to that region)");
    }
    Error::Api {
        endpoint: name.to_owned(),
        status,
        code,
        message,
        trace_id,
        body: body_excerpt.map(|excerpt| {
            Box::new(BodyExcerpt {
                content_type,
                excerpt,
            })
        }),
    }
}

fn error_message(err: &Error) -> String {
    match err {
        Error::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A header as a string, when present and printable.
pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn non_json_error_keeps_status_trace_type_and_excerpt() {
        let body = format!("<html>{}</html>", "x".repeat(2000));
        let h = headers(&[("x-cs-traceid", "trace-9"), ("content-type", "text/html")]);
        let err = api_error("GET /devices/queries/devices/v1", 502, &h, body.as_bytes());
        let Error::Api {
            status,
            trace_id,
            body,
            code,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        let body = body.as_ref().unwrap();
        assert_eq!(*status, 502);
        assert_eq!(trace_id.as_deref(), Some("trace-9"));
        assert_eq!(body.content_type.as_deref(), Some("text/html"));
        assert!(body.excerpt.len() <= 512);
        assert!(body.excerpt.starts_with("<html>"));
        assert_eq!(*code, None);
        let h = headers(&[("x-cs-traceid", "trace-e"), ("content-type", "text/plain")]);
        let empty = api_error("GET /x", 500, &h, b"");
        let Error::Api {
            status: 500,
            trace_id,
            body: Some(body),
            message,
            ..
        } = &empty
        else {
            panic!("{empty:?}")
        };
        assert_eq!(trace_id.as_deref(), Some("trace-e"));
        assert_eq!(body.content_type.as_deref(), Some("text/plain"));
        assert_eq!(message, "empty response body");
    }

    #[test]
    fn forbidden_is_only_the_gateway_refusal() {
        let ep = Endpoint::read(
            Method::Get,
            "/user-management/queries/users/v1",
            "usermgmt:read",
        );
        let body =
            include_bytes!("../tests/fixtures/error-403-access-denied-authorization-failed.json");
        let err = forbidden_or_api(&ep, &ep.to_string(), &HeaderMap::new(), body);
        match err {
            Error::Forbidden {
                api_scope,
                trace_id,
                ..
            } => {
                assert_eq!(api_scope, "usermgmt:read");
                assert_eq!(
                    trace_id.as_deref(),
                    Some("01fcdbc6-6319-42e4-8ab1-b3edca76aa2c")
                );
            }
            other => panic!("{other:?}"),
        }
        let other =
            br#"{"errors":[{"code":403,"message":"cannot delete the last administrator"}]}"#;
        assert!(matches!(
            forbidden_or_api(&ep, "x", &HeaderMap::new(), other),
            Error::Api { status: 403, .. }
        ));
    }

    #[test]
    fn request_debug_hides_the_body() {
        let ep = Endpoint::write(
            Method::Post,
            "/user-management/entities/users/v1",
            "usermgmt:write",
        );
        let req = ApiRequest::new(ep).json(serde_json::json!({"password": "p4ssw0rd"}));
        let text = format!("{req:?}");
        assert!(!text.contains("p4ssw0rd"), "{text}");
        let req = ApiRequest::new(ep).form([("content", "secret-script-body")]);
        let text = format!("{req:?}");
        assert!(!text.contains("secret-script-body"), "{text}");
        assert!(text.contains("has_form: true"), "{text}");
    }

    #[test]
    fn builder_rejects_empty_credentials_and_debug_is_redacted() {
        let creds = Credentials::new("", "s");
        assert!(matches!(
            Client::builder(Cloud::Us1, creds).build(),
            Err(Error::InvalidInput(_))
        ));
        let creds = Credentials::new("id", "top-secret-value");
        let client = Client::builder(Cloud::Custom("http://127.0.0.1:9".into()), creds.clone())
            .build()
            .unwrap();
        let text = format!("{client:?} {:?}", Client::builder(Cloud::Us1, creds));
        assert!(!text.contains("top-secret-value"), "{text}");
        assert!(text.contains("127.0.0.1:9"), "{text}");
    }
}
