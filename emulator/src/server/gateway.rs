//! What Falcon's API gateway does before and after every endpoint: trace ids,
//! authentication, rate limits, scope checks, common headers, unknown routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Shared;
use super::envelope::{Ctx, GATEWAY};
use super::ratelimit::Decision;

/// Runs around every request, matched or not.
pub(crate) async fn gateway(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let ctx = Ctx::new(shared.authenticate(request.headers()));
    let decision = take_budget(&shared, &ctx, &request);
    tracing::trace!(
        method = %request.method(),
        path = request.uri().path(),
        trace_id = ctx.trace_id,
        authenticated = ctx.caller.is_some(),
        allowed = decision.allowed,
        "emulated request"
    );

    let mut response = if decision.allowed {
        request.extensions_mut().insert(ctx.clone());
        next.run(request).await
    } else {
        ctx.fail(
            StatusCode::TOO_MANY_REQUESTS,
            GATEWAY,
            "API rate limit exceeded.",
        )
    };
    decorate(&mut response, &shared, &ctx, decision);
    response
}

/// Valid tokens draw from their CID's pool; everything else (token requests, bad
/// tokens) from the pool of the source address, as Falcon documents.
fn take_budget(shared: &Shared, ctx: &Ctx, request: &Request) -> Decision {
    if ctx.caller.is_some() {
        return shared.cid_pool.take(&shared.cid);
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
    let key = peer.map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
    shared.ip_pool.take(&key)
}

fn decorate(response: &mut Response, shared: &Shared, ctx: &Ctx, decision: Decision) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-cs-traceid", ctx.trace_id.clone());
    set("x-cs-region", shared.config.region.clone());
    set("x-ratelimit-limit", decision.limit.to_string());
    set("x-ratelimit-remaining", decision.remaining.to_string());
    if let Some(at) = decision.retry_after {
        set("x-ratelimit-retryafter", at.to_string());
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
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
