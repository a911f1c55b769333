//! API clients, OAuth2 tokens, and the `/oauth2/token` and `/oauth2/revoke` endpoints.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Shared;
use super::envelope::{CSAM, Ctx, Payload};
use super::params::{Params, read_body};
use crate::rng;

/// The scope areas of Falcon API clients (falcon-api.md §5.12). Each has a `:read`
/// and a `:write` scope, e.g. `usermgmt:read`.
pub const SCOPE_AREAS: &[&str] = &[
    "alerts",
    "detects",
    "devices",
    "host-group",
    "incidents",
    "ioc",
    "iocs",
    "prevention-policies",
    "real-time-response",
    "real-time-response-admin",
    "response-policies",
    "sensor-installers",
    "sensor-update-policies",
    "streaming",
    "usermgmt",
];

/// Every scope string of [`SCOPE_AREAS`], for routes that build their scope from
/// an area name.
pub(crate) const SCOPE_STRINGS: &[&str] = &[
    "alerts:read",
    "alerts:write",
    "detects:read",
    "detects:write",
    "devices:read",
    "devices:write",
    "host-group:read",
    "host-group:write",
    "incidents:read",
    "incidents:write",
    "ioc:read",
    "ioc:write",
    "iocs:read",
    "iocs:write",
    "prevention-policies:read",
    "prevention-policies:write",
    "real-time-response:read",
    "real-time-response:write",
    "real-time-response-admin:read",
    "real-time-response-admin:write",
    "response-policies:read",
    "response-policies:write",
    "sensor-installers:read",
    "sensor-installers:write",
    "sensor-update-policies:read",
    "sensor-update-policies:write",
    "streaming:read",
    "streaming:write",
    "usermgmt:read",
    "usermgmt:write",
];

const AUTH_FAILED: &str = "Failed to issue access token - Client authentication failed (e.g., \
    unknown client, no client authentication included, or unsupported authentication method)";

/// An API client (client id and secret) registered in the emulated tenant.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// The client id: 32 lowercase hex digits.
    pub client_id: String,
    /// The client secret: 40 letters and digits.
    pub client_secret: String,
    /// Internal scope strings such as `usermgmt:read`; tokens carry the scopes the
    /// client had when they were issued.
    pub scopes: BTreeSet<String>,
    /// A disabled client can get no token, and its existing tokens stop working.
    pub enabled: bool,
    /// The cloud this client really belongs to, when it is not the emulator's
    /// (`None`). Its token response then names that cloud in `X-Cs-Region`,
    /// and its API calls are redirected there with 308, as Falcon does for
    /// credentials sent to the wrong cloud. The redirect points at a
    /// `.invalid` host, which never resolves: a client that follows
    /// redirects must not leave this machine.
    pub home_region: Option<String>,
}

impl ApiClient {
    /// A client with every read and write scope of [`SCOPE_AREAS`].
    pub fn full_access() -> Self {
        let scopes: Vec<String> = SCOPE_AREAS
            .iter()
            .flat_map(|area| [format!("{area}:read"), format!("{area}:write")])
            .collect();
        Self::with_owned_scopes(scopes)
    }

    /// A client with every `:read` scope of [`SCOPE_AREAS`].
    pub fn read_only() -> Self {
        Self::with_owned_scopes(
            SCOPE_AREAS
                .iter()
                .map(|area| format!("{area}:read"))
                .collect(),
        )
    }

    /// A client with exactly these scopes.
    pub fn with_scopes(scopes: &[&str]) -> Self {
        Self::with_owned_scopes(scopes.iter().map(|s| (*s).to_owned()).collect())
    }

    fn with_owned_scopes(scopes: Vec<String>) -> Self {
        Self {
            client_id: rng::unseeded().hex(32),
            client_secret: random_secret(),
            scopes: scopes.into_iter().collect(),
            enabled: true,
            home_region: None,
        }
    }
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("enabled", &self.enabled)
            .field("home_region", &self.home_region)
            .finish()
    }
}

fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rng::unseeded();
    (0..40)
        .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]))
        .collect()
}

/// Who made a request with a valid bearer token.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) scopes: Arc<BTreeSet<String>>,
    /// The CID the token is for: 0 for the parent, else a child (`member_cid`).
    pub(crate) tenant: usize,
    /// The client's own cloud, when it is not this one.
    pub(crate) home_region: Option<String>,
}

struct Token {
    client_id: String,
    scopes: Arc<BTreeSet<String>>,
    tenant: usize,
    expires: Instant,
}

/// Issued tokens, keyed by the token string.
#[derive(Default)]
pub(crate) struct Tokens {
    live: HashMap<String, Token>,
}

impl fmt::Debug for Tokens {
    // The keys are bearer tokens; show only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("live", &self.live.len())
            .finish()
    }
}

impl Tokens {
    fn issue(&mut self, client: &ApiClient, tenant: usize, lifetime: Duration) -> String {
        let now = Instant::now();
        self.live.retain(|_, token| token.expires > now);
        let mut rng = rng::unseeded();
        let token = format!("{}{}", rng.hex(32), rng::unseeded().hex(32));
        let scopes = Arc::new(client.scopes.clone());
        let expires = now + lifetime;
        self.live.insert(
            token.clone(),
            Token {
                client_id: client.client_id.clone(),
                scopes,
                tenant,
                expires,
            },
        );
        token
    }

    fn revoke(&mut self, token: &str, client_id: &str) {
        if self
            .live
            .get(token)
            .is_some_and(|t| t.client_id == client_id)
        {
            self.live.remove(token);
        }
    }

    /// The caller behind a token, if it is live and its client still enabled.
    fn resolve(&self, token: &str, clients: &HashMap<String, ApiClient>) -> Option<Caller> {
        let live = self
            .live
            .get(token)
            .filter(|t| t.expires > Instant::now())?;
        let client = clients.get(&live.client_id).filter(|c| c.enabled)?;
        Some(Caller {
            scopes: Arc::clone(&live.scopes),
            tenant: live.tenant,
            home_region: client.home_region.clone(),
        })
    }
}

impl Shared {
    /// The caller of a request, from its `Authorization: Bearer` header.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Option<Caller> {
        let token = credentials(headers, "bearer")?;
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .resolve(&token, &clients)
    }

    /// The registered, enabled client with these credentials.
    fn client(&self, id: &str, secret: &str) -> Option<ApiClient> {
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        clients
            .get(id)
            .filter(|c| c.enabled && c.client_secret == secret)
            .cloned()
    }

    /// The tenant a token request is for: the parent without `member_cid`, else the
    /// child with that CID.
    fn member_tenant(&self, member_cid: Option<&str>) -> Option<usize> {
        let Some(member) = member_cid else {
            return Some(0);
        };
        // Installers show the CID with a checksum suffix ("-1A"); APIs want it bare.
        let bare = member
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.cids.iter().position(|cid| *cid == bare)
    }
}

/// The credentials of an `Authorization: <scheme> <credentials>` header; the scheme
/// is matched case-insensitively (falconpy sends `basic`).
fn credentials(headers: &HeaderMap, scheme: &str) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim().to_owned())
}

/// `POST /oauth2/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    body: Body,
) -> Response {
    let form = match read_body(body).await {
        Ok(bytes) => Params::parse(Some(&String::from_utf8_lossy(&bytes))),
        Err(failure) => return failure.render(&ctx, CSAM),
    };
    let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) else {
        return ctx.fail(
            StatusCode::BAD_REQUEST,
            CSAM,
            "client_id and client_secret are required",
        );
    };
    let client = shared.client(id, secret);
    let tenant = shared.member_tenant(form.get("member_cid"));
    let (Some(client), Some(tenant)) = (client, tenant) else {
        return ctx.fail(StatusCode::FORBIDDEN, CSAM, AUTH_FAILED);
    };

    let lifetime = shared.config().token_lifetime;
    let token = shared
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .issue(&client, tenant, lifetime);
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    // The token service answers for every cloud and names the one the
    // credentials belong to; that is how clients autodiscover.
    if let Some(home) = client.home_region.as_deref()
        && let Ok(value) = axum::http::HeaderValue::from_str(home)
    {
        response.headers_mut().insert("x-cs-region", value);
    }
    response
}

/// `POST /oauth2/revoke`: HTTP Basic client credentials, form field `token`.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(client) = basic_client(&shared, &headers) else {
        let message = AUTH_FAILED.replace("issue", "revoke");
        return ctx.fail(StatusCode::FORBIDDEN, CSAM, &message);
    };
    let form = match read_body(body).await {
        Ok(bytes) => Params::parse(Some(&String::from_utf8_lossy(&bytes))),
        Err(failure) => return failure.render(&ctx, CSAM),
    };
    let Some(token) = form.get("token") else {
        return ctx.fail(StatusCode::BAD_REQUEST, CSAM, "token is required");
    };
    // Like RFC 7009: another client's or an unknown token is not an error.
    shared
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .revoke(token, &client.client_id);
    ctx.respond(StatusCode::OK, CSAM, Payload::default())
}

fn basic_client(shared: &Shared, headers: &HeaderMap) -> Option<ApiClient> {
    let encoded = credentials(headers, "basic")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    shared.client(id, secret)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let client = ApiClient::full_access();
        let shown = format!("{client:?}");
        assert!(!shown.contains(&client.client_secret));
        assert!(shown.contains(&client.client_id) && shown.contains("<redacted>"));
    }

    #[test]
    fn generated_credentials_have_falcon_shapes() {
        let client = ApiClient::read_only();
        assert_eq!(client.client_id.len(), 32);
        assert!(client.client_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(client.client_secret.len(), 40);
        assert!(
            client
                .client_secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(client.client_id, ApiClient::read_only().client_id);
    }

    #[test]
    fn scope_sets() {
        let full = ApiClient::full_access();
        assert_eq!(full.scopes.len(), SCOPE_AREAS.len() * 2);
        assert!(full.scopes.contains("usermgmt:write"));
        let read = ApiClient::read_only();
        assert!(read.scopes.iter().all(|s| s.ends_with(":read")));
        assert!(read.scopes.contains("devices:read"));
        let custom = ApiClient::with_scopes(&["usermgmt:read"]);
        assert_eq!(
            custom.scopes.into_iter().collect::<Vec<_>>(),
            ["usermgmt:read"]
        );
    }

    #[test]
    fn authorization_scheme_is_case_insensitive() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("BEARER abc"),
        );
        assert_eq!(credentials(&headers, "bearer").as_deref(), Some("abc"));
        assert_eq!(credentials(&headers, "basic"), None);
    }

    #[test]
    fn tokens_expire_and_revoke() {
        let client = ApiClient::read_only();
        let clients = HashMap::from([(client.client_id.clone(), client.clone())]);
        let mut tokens = Tokens::default();
        let short = tokens.issue(&client, 0, Duration::ZERO);
        let long = tokens.issue(&client, 0, Duration::from_secs(60));
        assert!(tokens.resolve(&short, &clients).is_none());
        assert!(tokens.resolve(&long, &clients).is_some());
        tokens.revoke(&long, "someone-else");
        assert!(tokens.resolve(&long, &clients).is_some());
        tokens.revoke(&long, &client.client_id);
        assert!(tokens.resolve(&long, &clients).is_none());
        assert!(!format!("{tokens:?}").contains(&short));
    }
}
