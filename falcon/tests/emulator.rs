//! The Falcon client against the real Falcon emulator over loopback.
//!
//! Most tests run the emulator as it ships (`Emulator::serve`). A few put a
//! small fault-injection layer in front of the emulator's own router (a 401,
//! 5xx answers, a non-JSON body) to reach paths the emulator has no switch
//! for yet; everything else in those requests is served by the emulator.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use falcon::fql::Fql;
use falcon::users::{self, UserQuery};
use falcon::{
    ApiRequest, AuthFailure, Client, Cloud, Credentials, Endpoint, Error, Method, RateLimiter,
    RetryPolicy,
};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn spec(users: usize) -> TenantSpec {
    TenantSpec {
        users,
        ..TenantSpec::demo()
    }
}

async fn emulator(spec: &TenantSpec, config: EmulatorConfig, api: &ApiClient) -> RunningEmulator {
    let emu = Emulator::new(Tenant::generate(spec), config);
    emu.add_client(api.clone());
    emu.serve(LOOPBACK).await.expect("emulator binds loopback")
}

fn credentials(api: &ApiClient) -> Credentials {
    Credentials::new(api.client_id.clone(), api.client_secret.clone())
}

fn client_for(base_url: &str, api: &ApiClient) -> Client {
    let cloud: Cloud = base_url.parse().expect("emulator url parses");
    assert!(
        matches!(cloud, Cloud::Custom(_)),
        "tests only talk to loopback"
    );
    Client::builder(cloud, credentials(api))
        .build()
        .expect("client builds")
}

fn short_tokens(lifetime: Duration) -> EmulatorConfig {
    EmulatorConfig {
        token_lifetime: lifetime,
        ..EmulatorConfig::default()
    }
}

// ---- listing, lookups, roles -----------------------------------------------------------

#[tokio::test]
async fn lists_every_user_exactly_across_pages() -> TestResult {
    let api = ApiClient::full_access();
    let running = emulator(&spec(1234), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    let tenant = running.tenant();

    let ids = client.users().query_ids(&UserQuery::all()).await?;
    assert_eq!(ids.len(), tenant.users.len());
    let want: HashSet<&str> = tenant.users.iter().map(|u| u.uuid.as_str()).collect();
    let got: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    // 1234 users at 500 a page: 3 pages, and one token.
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(client.stats().api_requests, 3);

    let batch = client.users().get(&ids).await?;
    assert!(batch.missing.is_empty());
    let order: Vec<&str> = batch.found.iter().map(|u| u.uuid.as_str()).collect();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for user in &batch.found {
        let t = tenant.user(&user.uuid).expect("user exists");
        assert_eq!(user.uid, t.uid);
        assert_eq!(user.first_name, t.first_name);
        assert_eq!(user.last_name, t.last_name);
        assert_eq!(user.status.as_deref(), Some(t.status.as_str()));
        assert_eq!(user.last_login_at.is_some(), t.last_login_at.is_some());
        assert_eq!(user.raw["cid"], tenant.cid.as_str());
    }
    assert_eq!(
        running.request_count(),
        client.stats().token_requests + client.stats().api_requests
    );
    Ok(())
}

#[tokio::test]
async fn get_reports_unknown_ids_as_missing() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(64), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    let tenant = running.tenant();
    let (a, b) = (tenant.users[3].uuid.clone(), tenant.users[10].uuid.clone());
    let unknown = "00000000-0000-4000-8000-000000000000".to_owned();

    // Some found: HTTP 200 with per-id errors.
    let batch = client
        .users()
        .get(&[b.clone(), unknown.clone(), a.clone(), b.clone()])
        .await?;
    let found: Vec<&str> = batch.found.iter().map(|u| u.uuid.as_str()).collect();
    assert_eq!(found, [b.as_str(), a.as_str()]);
    assert_eq!(batch.missing, std::slice::from_ref(&unknown));

    // None found: the emulator answers HTTP 404; still a batch, not an error.
    let batch = client.users().get(std::slice::from_ref(&unknown)).await?;
    assert!(batch.found.is_empty());
    assert_eq!(batch.missing, std::slice::from_ref(&unknown));
    let err = batch
        .into_found("POST /user-management/entities/users/GET/v1")
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { ids, .. } if ids.as_slice() == std::slice::from_ref(&unknown)),
        "{err}"
    );

    // Nothing asked: nothing sent.
    let before = running.request_count();
    let empty: [&str; 0] = [];
    assert!(client.users().get(&empty).await?.found.is_empty());
    assert_eq!(running.request_count(), before);
    assert!(matches!(
        client.users().get(&[""]).await,
        Err(Error::InvalidInput(_))
    ));
    Ok(())
}

#[tokio::test]
async fn roles_and_grants_match_the_tenant() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(64), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    let tenant = running.tenant();

    let roles = client.users().list_roles().await?;
    assert_eq!(roles.len(), tenant.roles.len());
    for role in &roles {
        let t = tenant.role(&role.id).expect("role exists");
        assert_eq!(role.display_name, t.display_name);
        assert_eq!(role.description, t.description);
        assert_eq!(role.is_global, t.is_global);
    }

    let mut checked_temporary = false;
    for user in tenant.users.iter().take(20) {
        let grants = client.users().roles_of_user(&user.uuid).await?;
        let want: BTreeSet<&str> = tenant
            .grants_of(&user.uuid)
            .map(|g| g.role_id.as_str())
            .collect();
        let got: BTreeSet<&str> = grants.iter().map(|g| g.role_id.as_str()).collect();
        assert_eq!(got, want, "grants of {}", user.uuid);
        for grant in &grants {
            let t = tenant
                .grants_of(&user.uuid)
                .find(|g| g.role_id == grant.role_id)
                .expect("grant exists");
            assert_eq!(grant.grant_type.as_deref(), Some(t.grant_type.as_str()));
            assert_eq!(grant.expires_at.is_some(), t.expires_at.is_some());
            checked_temporary |= t.expires_at.is_some();
            let role = tenant.role(&grant.role_id).expect("role exists");
            assert_eq!(grant.role_name, role.display_name);
        }
    }
    let _ = checked_temporary; // depends on the generated tenant; not required
    Ok(())
}

#[tokio::test]
async fn fql_filters_escape_values_and_travel_as_one_query_value() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(64), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    let tenant = running.tenant();

    let active = Fql::new().eq("status", "active").build()?;
    let ids = client
        .users()
        .query_ids(&UserQuery::filtered(active))
        .await?;
    let want = tenant.users.iter().filter(|u| u.status == "active").count();
    assert_eq!(ids.len(), want);

    // The demo tenant always has an O'Brien: the quote is escaped, not a syntax error.
    let obrien = Fql::new().eq("last_name", "O'Brien").build()?;
    let ids: HashSet<String> = client
        .users()
        .query_ids(&UserQuery::filtered(obrien))
        .await?
        .into_iter()
        .collect();
    let want: HashSet<String> = tenant
        .users
        .iter()
        .filter(|u| u.last_name == "O'Brien")
        .map(|u| u.uuid.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(ids, want);

    // `&`, `=`, `+` and `#` in a value must not leak into the query string.
    let tricky = Fql::new().eq("uid", "x&limit=1+y#z").build()?;
    assert!(
        client
            .users()
            .query_ids(&UserQuery::filtered(tricky))
            .await?
            .is_empty()
    );

    // Raw FQL is passed through as given.
    let raw = UserQuery {
        filter: Some("status:'inactive'".into()),
        sort: Some("uid|desc".into()),
    };
    let ids = client.users().query_ids(&raw).await?;
    assert_eq!(
        ids.len(),
        tenant
            .users
            .iter()
            .filter(|u| u.status == "inactive")
            .count()
    );

    // A filter the API rejects names the endpoint and keeps status and trace id.
    let bad = UserQuery::filtered("no_such_field:'x'");
    match client.users().query_ids(&bad).await {
        Err(Error::Api {
            endpoint,
            status: 400,
            code,
            trace_id,
            ..
        }) => {
            assert_eq!(endpoint, "GET /user-management/queries/users/v1");
            assert_eq!(code, Some(400));
            assert!(trace_id.is_some());
        }
        other => panic!("expected a 400 api error, got {other:?}"),
    }
    Ok(())
}

// ---- tokens ----------------------------------------------------------------------------

/// Calls the API for `run` with short pauses; returns how many tokens were
/// fetched. Any error fails the test.
async fn keep_calling(lifetime: Duration, run: Duration) -> Result<u64, Error> {
    let api = ApiClient::read_only();
    let running = emulator(&spec(16), short_tokens(lifetime), &api).await;
    let client = client_for(&running.base_url(), &api);
    let start = Instant::now();
    let mut calls = 0;
    while start.elapsed() < run {
        let ids = client.users().query_ids(&UserQuery::all()).await?;
        assert_eq!(ids.len(), 16);
        calls += 1;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(calls > 10);
    Ok(client.stats().token_requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_across_short_lifetimes_without_errors() -> TestResult {
    let run = Duration::from_millis(3200);
    let (one, two) = tokio::join!(
        keep_calling(Duration::from_secs(1), run),
        keep_calling(Duration::from_secs(2), run)
    );
    // 1 s tokens refresh every 0.75 s, 2 s tokens every 1.5 s.
    let (one, two) = (one?, two?);
    assert!(one >= 3, "1 s tokens: {one} fetched");
    assert!(two >= 2, "2 s tokens: {two} fetched");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_token_request() -> TestResult {
    let api = ApiClient::read_only();
    // 2 s tokens are refreshed 1.5 s after they were issued.
    let running = emulator(&spec(16), short_tokens(Duration::from_secs(2)), &api).await;
    let client = client_for(&running.base_url(), &api);

    let burst = |client: Client| async move {
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move { c.users().query_ids(&UserQuery::all()).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task").expect("call").len(), 16);
        }
    };
    burst(client.clone()).await;
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(running.request_count(), 1 + 24);

    // Past the refresh point: again exactly one refresh for the whole burst.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    burst(client.clone()).await;
    assert_eq!(client.stats().token_requests, 2);
    assert_eq!(running.request_count(), 2 + 48);
    Ok(())
}

#[tokio::test]
async fn a_token_that_is_never_valid_ends_in_unauthorized_after_one_retry() -> TestResult {
    // Zero-lifetime tokens are dead on arrival: the client sees 401, refreshes
    // once, retries once, then gives up.
    let api = ApiClient::read_only();
    let running = emulator(&spec(8), short_tokens(Duration::ZERO), &api).await;
    let client = client_for(&running.base_url(), &api);
    match client.users().query_ids(&UserQuery::all()).await {
        Err(Error::Unauthorized { endpoint, trace_id }) => {
            assert_eq!(endpoint, "GET /user-management/queries/users/v1");
            assert!(trace_id.is_some());
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
    let stats = client.stats();
    assert_eq!((stats.token_requests, stats.api_requests), (2, 2));
    assert_eq!(running.request_count(), 4);
    Ok(())
}

#[tokio::test]
async fn bad_secret_is_an_auth_error_that_names_no_secret() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(8), EmulatorConfig::default(), &api).await;
    let wrong = "definitely-not-the-secret-0123456789abcd";
    let cloud: Cloud = running.base_url().parse()?;
    let client = Client::builder(cloud, Credentials::new(api.client_id.clone(), wrong)).build()?;
    let err = client
        .users()
        .query_ids(&UserQuery::all())
        .await
        .unwrap_err();
    match &err {
        Error::Auth {
            kind: AuthFailure::BadCredentials,
            status: 403,
            message,
            trace_id,
        } => {
            assert!(
                message.contains("Client authentication failed"),
                "{message}"
            );
            assert!(trace_id.is_some());
        }
        other => panic!("expected bad credentials, got {other:?}"),
    }
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(&api.client_secret), "{shown}");
    assert_eq!(
        client.stats().token_requests,
        1,
        "a refused secret is not retried"
    );

    // A disabled API client is refused the same way.
    let mut disabled = api.clone();
    disabled.enabled = false;
    running.add_client(disabled);
    let client = client_for(&running.base_url(), &api);
    assert!(matches!(
        client.authenticate().await,
        Err(Error::Auth {
            kind: AuthFailure::BadCredentials,
            ..
        })
    ));
    Ok(())
}

#[tokio::test]
async fn member_cid_is_sent_on_token_requests() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(8), EmulatorConfig::default(), &api).await;
    let cloud: Cloud = running.base_url().parse()?;
    let cid = running.tenant().cid;

    let right = Client::builder(
        cloud.clone(),
        credentials(&api).with_member_cid(format!("{}-1A", cid.to_uppercase())),
    )
    .build()?;
    assert_eq!(right.users().query_ids(&UserQuery::all()).await?.len(), 8);

    let wrong =
        Client::builder(cloud, credentials(&api).with_member_cid("0".repeat(32))).build()?;
    assert!(matches!(
        wrong.authenticate().await,
        Err(Error::Auth {
            kind: AuthFailure::BadCredentials,
            ..
        })
    ));
    Ok(())
}

#[tokio::test]
async fn missing_scope_is_forbidden_naming_the_scope() -> TestResult {
    let api = ApiClient::with_scopes(&["devices:read", "usermgmt:write"]);
    let running = emulator(&spec(8), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    let err = client
        .users()
        .query_ids(&UserQuery::all())
        .await
        .unwrap_err();
    match &err {
        Error::Forbidden {
            endpoint,
            api_scope,
            trace_id,
        } => {
            assert_eq!(endpoint, "GET /user-management/queries/users/v1");
            assert_eq!(api_scope, "usermgmt:read");
            assert!(trace_id.is_some());
        }
        other => panic!("expected forbidden, got {other:?}"),
    }
    assert_eq!(
        err.console_scope().as_deref(),
        Some("User management: Read")
    );
    assert!(err.to_string().contains("User management: Read"), "{err}");
    assert!(matches!(
        client.users().list_roles().await,
        Err(Error::Forbidden { .. })
    ));
    // A 403 is not retried and does not cost a token refresh.
    assert_eq!(client.stats().token_requests, 1);
    assert_eq!(client.stats().retries, 0);
    Ok(())
}

#[tokio::test]
async fn revoke_drops_the_token_and_the_next_call_gets_a_new_one() -> TestResult {
    let api = ApiClient::read_only();
    let running = emulator(&spec(8), EmulatorConfig::default(), &api).await;
    let client = client_for(&running.base_url(), &api);
    client.revoke().await?; // nothing cached: no request
    assert_eq!(running.request_count(), 0);
    client.authenticate().await?;
    client.revoke().await?;
    assert_eq!(running.request_count(), 2);
    assert_eq!(client.users().query_ids(&UserQuery::all()).await?.len(), 8);
    assert_eq!(client.stats().token_requests, 2);
    Ok(())
}

#[tokio::test]
async fn region_header_never_moves_a_custom_url() -> TestResult {
    let api = ApiClient::read_only();
    let config = EmulatorConfig {
        region: "us-2".into(),
        ..EmulatorConfig::default()
    };
    let running = emulator(&spec(8), config, &api).await;
    let client = client_for(&running.base_url(), &api);
    client.users().query_ids(&UserQuery::all()).await?;
    assert_eq!(client.cloud().base_url(), running.base_url());
    Ok(())
}

// ---- rate limits -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_out_429_and_succeed() -> TestResult {
    // 60 a minute: a burst of 60, then one more per second.
    let api = ApiClient::read_only();
    let config = EmulatorConfig {
        rate_limit_per_minute: 60,
        ..EmulatorConfig::default()
    };
    let running = emulator(&spec(8), config, &api).await;
    // Pacing off, so that the pool runs dry and the 429 path is taken.
    let client = Client::builder(running.base_url().parse()?, credentials(&api))
        .rate_limiter(RateLimiter::new().reserve(0.0))
        .build()?;
    let start = Instant::now();
    for _ in 0..63 {
        let response = client.execute(ApiRequest::new(users::QUERY_ROLES)).await?;
        assert_eq!(response.status, 200);
    }
    let stats = client.stats();
    assert!(stats.retries >= 1, "{stats:?}");
    assert_eq!(client.rate_limit().limit, Some(60));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn without_retries_429_is_rate_limited_and_writes_are_never_replayed() -> TestResult {
    let api = ApiClient::full_access();
    let config = EmulatorConfig {
        rate_limit_per_minute: 3,
        ..EmulatorConfig::default()
    };
    let running = emulator(&spec(8), config, &api).await;
    let cloud: Cloud = running.base_url().parse()?;
    let policy = RetryPolicy {
        max_rate_limit_retries: 0,
        ..RetryPolicy::default()
    };
    let client = Client::builder(cloud.clone(), credentials(&api))
        .retry_policy(policy)
        .build()?;
    for _ in 0..3 {
        client.execute(ApiRequest::new(users::QUERY_ROLES)).await?;
    }
    match client.execute(ApiRequest::new(users::QUERY_ROLES)).await {
        Err(Error::RateLimited {
            endpoint,
            retry_after: Some(wait),
            trace_id,
        }) => {
            assert_eq!(endpoint, "GET /user-management/queries/roles/v1");
            // One request refills every 20 s at 3 a minute.
            assert!(wait <= Duration::from_secs(21), "{wait:?}");
            assert!(trace_id.is_some());
        }
        other => panic!("expected rate limited, got {other:?}"),
    }

    // A write meeting a 429 with the default policy is not retried. The
    // writer shares the token of the reader (same credentials); its own
    // limiter lets it leave during the reader's cooldown and meet the 429.
    let writer = Client::builder(cloud, credentials(&api))
        .rate_limiter(RateLimiter::new().reserve(0.0))
        .build()?;
    let tenant = running.tenant();
    let create = Endpoint::write(
        Method::Post,
        "/user-management/entities/users/v1",
        "usermgmt:write",
    );
    let body = json!({"uid": "new.person@example.com", "first_name": "New", "last_name": "Person"});
    let before = running.request_count();
    let err = writer
        .execute(ApiRequest::new(create).json(body))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(!err.write_may_have_applied());
    // One refused write (the token is shared); nothing replayed, nothing created.
    assert_eq!(running.request_count() - before, 1);
    assert_eq!(writer.stats().token_requests, 0);
    assert_eq!(running.tenant().users.len(), tenant.users.len());
    Ok(())
}

// ---- faults in front of the emulator ---------------------------------------------------

/// One canned answer for the next request to `path`.
#[derive(Debug, Clone)]
struct Fault {
    path: &'static str,
    status: u16,
    content_type: &'static str,
    body: String,
}

/// What reached the fault layer.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    faulted: bool,
}

#[derive(Debug, Clone, Default)]
struct Faults {
    plan: Arc<Mutex<VecDeque<Fault>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Faults {
    fn push(&self, fault: Fault) {
        self.plan.lock().unwrap().push_back(fault);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

/// The emulator's router behind a layer that answers planned faults itself.
async fn serve_with_faults(emu: Emulator, faults: Faults) -> String {
    let layer_faults = faults.clone();
    let app = emu.router().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let faults = layer_faults.clone();
            async move {
                let path = request.uri().path().to_owned();
                let fault = {
                    let mut plan = faults.plan.lock().unwrap();
                    let position = plan.iter().position(|f| f.path == path);
                    position.and_then(|i| plan.remove(i))
                };
                faults.seen.lock().unwrap().push(Seen {
                    method: request.method().to_string(),
                    path: path.clone(),
                    content_type: request
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                    faulted: fault.is_some(),
                });
                match fault {
                    Some(f) => {
                        let status = axum::http::StatusCode::from_u16(f.status).unwrap();
                        (
                            status,
                            [
                                ("content-type", f.content_type),
                                ("x-cs-traceid", "fault-trace"),
                            ],
                            f.body,
                        )
                            .into_response()
                    }
                    None => next.run(request).await,
                }
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(LOOPBACK)
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    format!("http://{addr}")
}

fn faulty_emulator(api: &ApiClient) -> (Emulator, Tenant) {
    let tenant = Tenant::generate(&spec(8));
    let emu = Emulator::new(tenant.clone(), EmulatorConfig::default());
    emu.add_client(api.clone());
    (emu, tenant)
}

const QUERY_PATH: &str = "/user-management/queries/users/v1";
const GATEWAY_401: &str = r#"{"meta":{"query_time":1.27e-07,"powered_by":"crowdstrike-api-gateway","trace_id":"6b25ea5a-8389-4cdc-a20a-b2cb55b649d0"},"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}"#;

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_once() -> TestResult {
    let api = ApiClient::read_only();
    let (emu, tenant) = faulty_emulator(&api);
    let faults = Faults::default();
    let base = serve_with_faults(emu, faults.clone()).await;
    let client = client_for(&base, &api);
    client.authenticate().await?;
    faults.push(Fault {
        path: QUERY_PATH,
        status: 401,
        content_type: "application/json",
        body: GATEWAY_401.into(),
    });
    let ids = client.users().query_ids(&UserQuery::all()).await?;
    assert_eq!(ids.len(), tenant.users.len());
    assert_eq!(client.stats().token_requests, 2);
    assert_eq!(faults.count(QUERY_PATH), 2);
    assert_eq!(faults.count("/oauth2/token"), 2);
    Ok(())
}

#[tokio::test]
async fn reads_retry_5xx_and_keep_non_json_details() -> TestResult {
    let api = ApiClient::read_only();
    let (emu, tenant) = faulty_emulator(&api);
    let faults = Faults::default();
    let base = serve_with_faults(emu, faults.clone()).await;
    let cloud: Cloud = base.parse()?;
    let policy = RetryPolicy {
        max_transient_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    let client = Client::builder(cloud, credentials(&api))
        .retry_policy(policy)
        .build()?;
    let html = format!("<html><body>{}</body></html>", "bad gateway ".repeat(200));

    // Two failures, then the emulator answers.
    for status in [502, 503] {
        faults.push(Fault {
            path: QUERY_PATH,
            status,
            content_type: "text/html",
            body: html.clone(),
        });
    }
    assert_eq!(
        client.users().query_ids(&UserQuery::all()).await?.len(),
        tenant.users.len()
    );
    assert_eq!(faults.count(QUERY_PATH), 3);

    // Three failures exhaust two retries: the error keeps what there was.
    for _ in 0..3 {
        faults.push(Fault {
            path: QUERY_PATH,
            status: 502,
            content_type: "text/html",
            body: html.clone(),
        });
    }
    match client.users().query_ids(&UserQuery::all()).await {
        Err(Error::Api {
            endpoint,
            status: 502,
            trace_id,
            body: Some(body),
            ..
        }) => {
            assert_eq!(endpoint, "GET /user-management/queries/users/v1");
            assert_eq!(trace_id.as_deref(), Some("fault-trace"));
            assert_eq!(body.content_type.as_deref(), Some("text/html"));
            assert!(body.excerpt.starts_with("<html>") && body.excerpt.len() <= 512);
        }
        other => panic!("expected a 502 api error, got {other:?}"),
    }

    // An empty error body keeps the status too.
    faults.push(Fault {
        path: "/user-management/queries/roles/v1",
        status: 418,
        content_type: "text/plain",
        body: String::new(),
    });
    match client.users().list_roles().await {
        Err(Error::Api {
            status: 418,
            body: Some(body),
            ..
        }) => assert_eq!(body.excerpt, ""),
        other => panic!("expected a 418 api error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_write_answered_5xx_is_not_replayed_and_says_it_may_have_applied() -> TestResult {
    let api = ApiClient::full_access();
    let (emu, _) = faulty_emulator(&api);
    let faults = Faults::default();
    let base = serve_with_faults(emu, faults.clone()).await;
    let client = client_for(&base, &api);
    let path = "/user-management/entities/users/v1";
    let create = Endpoint::write(Method::Post, path, "usermgmt:write");
    faults.push(Fault {
        path,
        status: 500,
        content_type: "application/json",
        body: r#"{"errors":[{"code":500,"message":"internal error"}]}"#.into(),
    });
    let body = json!({"uid": "new.person@example.com", "first_name": "New", "last_name": "Person"});
    let err = client
        .execute(ApiRequest::new(create).json(body))
        .await
        .unwrap_err();
    assert!(err.write_may_have_applied(), "{err:?}");
    assert!(
        matches!(
            &err,
            Error::WriteUncertain {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("`POST /user-management/entities/users/v1` write may have been applied"),
        "{err}"
    );
    assert_eq!(faults.count(path), 1, "the write was sent exactly once");
    Ok(())
}

#[tokio::test]
async fn every_post_carries_a_content_type() -> TestResult {
    let api = ApiClient::read_only();
    let (emu, _) = faulty_emulator(&api);
    let faults = Faults::default();
    let base = serve_with_faults(emu, faults.clone()).await;
    let client = client_for(&base, &api);
    // No body at all: the emulator rejects it, but the header was there.
    let _ = client.execute(ApiRequest::new(users::GET_USERS)).await;
    client.users().list_roles().await?;
    let posts: Vec<Seen> = faults
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    assert!(posts.len() >= 3, "{posts:?}");
    for post in posts {
        assert!(post.content_type.is_some(), "{post:?}");
        assert!(!post.faulted);
    }
    Ok(())
}

// ---- secrets ---------------------------------------------------------------------------

/// A writer for the log capture.
#[derive(Debug, Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `text` holds a run of 64 hex digits (the emulator's token shape).
fn has_token_shape(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= 64 {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn secrets_never_appear_in_debug_errors_or_logs() -> TestResult {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = ApiClient::read_only();
    let running = emulator(&spec(8), short_tokens(Duration::from_secs(1)), &api).await;
    let client = client_for(&running.base_url(), &api);
    client.users().query_ids(&UserQuery::all()).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    client.users().list_roles().await?; // after a refresh
    let forbidden = {
        let scoped = ApiClient::with_scopes(&["devices:read"]);
        running.add_client(scoped.clone());
        client_for(&running.base_url(), &scoped)
            .users()
            .query_ids(&UserQuery::all())
            .await
            .unwrap_err()
    };
    client.revoke().await?;

    let creds = credentials(&api);
    let shown = format!(
        "{client:?} {client:#?} {creds:?} {creds:#?} {} {:?} {forbidden} {forbidden:?} {:?}",
        creds.client_secret,
        creds.client_secret,
        Client::builder(Cloud::Us1, creds.clone()),
    );
    let logged = String::from_utf8(logs.0.lock().unwrap().clone())?;
    assert!(
        logged.contains("falcon token issued"),
        "the capture works: {logged}"
    );
    // One span per call, naming the endpoint and its scope.
    assert!(
        logged.contains("falcon_call{method=\"GET\" path=\"/user-management/queries/users/v1\" scope=\"usermgmt:read\"}"),
        "no request span: {logged}"
    );
    for text in [&shown, &logged] {
        assert!(!text.contains(&api.client_secret), "secret leaked: {text}");
        assert!(!has_token_shape(text), "token-shaped value leaked: {text}");
    }
    assert!(shown.contains(&api.client_id));
    Ok(())
}
