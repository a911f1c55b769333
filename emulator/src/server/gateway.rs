//! What Falcon's API gateway does before and after every endpoint: trace ids,
//! authentication, rate limits, scope checks, common headers, unknown routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::envelope::{Ctx, GATEWAY};
use super::ratelimit::Decision;
use super::{Shared, faults};

/// Runs around every request, matched or not.
pub(crate) async fn gateway(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let ctx = Ctx::new(shared.authenticate(request.headers()));
    let (faults, region, budget) = {
        let config = shared.config();
        (
            config.faults.clone(),
            config.region.clone(),
            config.rate_limit_per_minute,
        )
    };
    let decision = if faults.rate_limit_storm {
        storm(budget)
    } else {
        take_budget(&shared, &ctx, &request)
    };
    tracing::trace!(
        method = %request.method(),
        path = request.uri().path(),
        trace_id = ctx.trace_id,
        authenticated = ctx.caller.is_some(),
        allowed = decision.allowed,
        "emulated request"
    );

    let uri_length = request.uri().to_string().len();
    let server_error = ctx.caller.as_ref().and_then(|_| faults.roll_server_error());
    let mut response = if uri_length > MAX_URI {
        ctx.fail(StatusCode::URI_TOO_LONG, GATEWAY, "Request-URI Too Long")
    } else if !decision.allowed {
        ctx.fail(
            StatusCode::TOO_MANY_REQUESTS,
            GATEWAY,
            "API rate limit exceeded.",
        )
    } else if let Some(status) = server_error {
        ctx.fail(status, GATEWAY, faults::server_error_message(status))
    } else if let Some(home) = foreign_region(&ctx, &region) {
        redirect_to_region(&ctx, &home, request.uri())
    } else {
        request.extensions_mut().insert(ctx.clone());
        let tenant = ctx.caller.as_ref().map_or(0, |c| c.tenant);
        super::TENANT.scope(tenant, next.run(request)).await
    };
    decorate(&mut response, &region, &ctx, decision);
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.null_lists {
        response = faults::null_lists(response).await;
    }
    faults::rewrite_error(response, faults.error_body)
}

/// The caller's own cloud, when its credentials belong to another one.
fn foreign_region(ctx: &Ctx, region: &str) -> Option<String> {
    let home = ctx.caller.as_ref()?.home_region.clone()?;
    (home != region).then_some(home)
}

/// Falcon's answer to a call sent to the wrong cloud: 308 to the right one.
/// The host is under `.invalid` (RFC 6761), so following it goes nowhere.
fn redirect_to_region(ctx: &Ctx, home: &str, uri: &axum::http::Uri) -> Response {
    let location = format!("https://api.{home}.crowdstrike.invalid{uri}");
    let mut response = ctx.fail(
        StatusCode::PERMANENT_REDIRECT,
        GATEWAY,
        "Permanent Redirect",
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The longest request line accepted; Falcon's gateways refuse long `ids=` lists
/// with 414 (PSFalcon sizes GET batches to stay under about 18,500 characters).
const MAX_URI: usize = 18_500;

/// A refusal for every request while the 429-storm switch is on.
fn storm(limit: u32) -> Decision {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Decision {
        allowed: false,
        limit,
        remaining: 0,
        retry_after: Some(now + 1),
    }
}

/// Valid tokens draw from their CID's pool; everything else (token requests, bad
/// tokens) from the pool of the source address, as Falcon documents.
fn take_budget(shared: &Shared, ctx: &Ctx, request: &Request) -> Decision {
    if ctx.caller.is_some() {
        let tenant = ctx.caller.as_ref().map_or(0, |c| c.tenant);
        return shared.cid_pool.take(&shared.cids[tenant]);
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
    let key = peer.map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
    shared.ip_pool.take(&key)
}

fn decorate(response: &mut Response, region: &str, ctx: &Ctx, decision: Decision) {
    let headers = response.headers_mut();
    // The token endpoint may already have named the client's own cloud.
    let named = headers.contains_key("x-cs-region");
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-cs-traceid", ctx.trace_id.clone());
    if !named {
        set("x-cs-region", region.to_owned());
    }
    set("x-ratelimit-limit", decision.limit.to_string());
    set("x-ratelimit-remaining", decision.remaining.to_string());
    if let Some(at) = decision.retry_after {
        set("x-ratelimit-retryafter", at.to_string());
    }
    // Installer downloads are binary; everything else is JSON.
    headers
        .entry(header::CONTENT_TYPE)
        .or_insert(HeaderValue::from_static("application/json"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Route guard: a live token with `scope`, else the gateway's 401 or 403.
pub(crate) async fn require(scope: &'static str, request: Request, next: Next) -> Response {
    let ctx = request
        .extensions()
        .get::<Ctx>()
        .cloned()
        .unwrap_or_else(|| Ctx::new(None));
    match &ctx.caller {
        None => ctx.invalid_token(),
        Some(caller) if !caller.scopes.contains(scope) => ctx.forbidden(),
        Some(_) => next.run(request).await,
    }
}

/// Unknown paths.
pub(crate) async fn not_found(request: Request) -> Response {
    ctx_of(&request).fail(StatusCode::NOT_FOUND, GATEWAY, "Not Found")
}

/// Known paths with an unsupported method.
pub(crate) async fn method_not_allowed(request: Request) -> Response {
    ctx_of(&request).fail(
        StatusCode::METHOD_NOT_ALLOWED,
        GATEWAY,
        "Method Not Allowed",
    )
}

fn ctx_of(request: &Request) -> Ctx {
    request
        .extensions()
        .get::<Ctx>()
        .cloned()
        .unwrap_or_else(|| Ctx::new(None))
}
