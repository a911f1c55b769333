//! Rate limits, 429 cooldowns and call timeouts against the real emulator.
//!
//! The pacing tests use the emulator's own rate-limit pool and the timeout
//! test its latency switch. The `429` tests put a small fault layer in front
//! of the emulator's router, because the emulator has no switch for a
//! chosen `X-Ratelimit-Retryafter` (in the past, missing, unreadable, far
//! ahead); every other request in those tests is served by the emulator.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use falcon::users::{self, UserQuery};
use falcon::{ApiRequest, Client, Cloud, Credentials, Error, RateLimiter, RetryPolicy};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
const ROLES_PATH: &str = "/user-management/queries/roles/v1";

fn emulator(api: &ApiClient, config: EmulatorConfig) -> Emulator {
    let spec = TenantSpec {
        users: 8,
        ..TenantSpec::demo()
    };
    let emu = Emulator::new(Tenant::generate(&spec), config);
    emu.add_client(api.clone());
    emu
}

fn credentials(api: &ApiClient) -> Credentials {
    Credentials::new(api.client_id.clone(), api.client_secret.clone())
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_rate_limit_retries: 3,
        max_transient_retries: 2,
        max_retry_after: Duration::from_secs(5),
        backoff_base: Duration::from_millis(40),
        backoff_max: Duration::from_millis(200),
    }
}

/// One canned answer (or delay) for the next request to `path`.
#[derive(Debug, Clone)]
struct Fault {
    path: &'static str,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Fault {
    fn rate_limited(path: &'static str, retry_after: Option<String>) -> Self {
        let mut headers = vec![
            ("x-ratelimit-limit", "6000".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
        ];
        if let Some(at) = retry_after {
            headers.push(("x-ratelimit-retryafter", at));
        }
        Self {
            path,
            status: 429,
            headers,
            body: r#"{"meta":{"powered_by":"crowdstrike-api-gateway"},"errors":[{"code":429,"message":"API rate limit exceeded."}]}"#.into(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Faults {
    plan: Arc<Mutex<VecDeque<Fault>>>,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Faults {
    fn push(&self, fault: Fault) {
        self.plan.lock().unwrap().push_back(fault);
    }

    fn arrivals(&self, path: &str) -> Vec<Instant> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, t)| *t)
            .collect()
    }
}

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
                faults
                    .seen
                    .lock()
                    .unwrap()
                    .push((path.clone(), Instant::now()));
                match fault {
                    Some(f) => {
                        let status = axum::http::StatusCode::from_u16(f.status).unwrap();
                        let mut response = (
                            status,
                            [
                                ("content-type", "application/json".to_owned()),
                                ("x-cs-traceid", "fault-trace".to_owned()),
                            ],
                            f.body,
                        )
                            .into_response();
                        for (k, v) in f.headers {
                            response
                                .headers_mut()
                                .insert(k, axum::http::HeaderValue::from_str(&v).unwrap());
                        }
                        response
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

fn epoch_seconds_from_now(offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (now + offset).to_string()
}

// ---- proactive pacing --------------------------------------------------------------------

/// Sends `n` reads one after the other; the first error ends the run.
async fn drain(client: &Client, n: usize) -> Result<(), Error> {
    for _ in 0..n {
        client.execute(ApiRequest::new(users::QUERY_ROLES)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_below_the_reserve_keeps_the_pool_from_running_dry() -> TestResult {
    // A pool of 1200 refilling at 20 a second; 1225 reads need more than the
    // pool holds. Without retries, any 429 would surface as an error.
    let api = ApiClient::read_only();
    let config = EmulatorConfig {
        rate_limit_per_minute: 1200,
        ..EmulatorConfig::default()
    };

    let unpaced = emulator(&api, config.clone()).serve(LOOPBACK).await?;
    let client = Client::builder(unpaced.base_url().parse()?, credentials(&api))
        .retry_policy(RetryPolicy::none())
        .rate_limiter(RateLimiter::new().reserve(0.0))
        .build()?;
    let err = drain(&client, 1400).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");

    let paced = emulator(&api, config).serve(LOOPBACK).await?;
    let limiter = RateLimiter::new().reserve(0.02);
    let client = Client::builder(paced.base_url().parse()?, credentials(&api))
        .retry_policy(RetryPolicy::none())
        .rate_limiter(limiter.clone())
        .build()?;
    let start = Instant::now();
    drain(&client, 1225).await?;
    let stats = limiter.stats();
    assert!(stats.paced > 0, "{stats:?}");
    assert_eq!(stats.cooled_down, 0);
    assert_eq!(client.rate_limit().limit, Some(1200));
    assert!(client.rate_limit().remaining.is_some_and(|r| r > 0));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    Ok(())
}

// ---- 429 with retry-after in the future, in the past, missing ----------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_the_future_holds_every_client_of_the_tenant() -> TestResult {
    let api = ApiClient::read_only();
    let faults = Faults::default();
    let base = serve_with_faults(emulator(&api, EmulatorConfig::default()), faults.clone()).await;
    let cloud: Cloud = base.parse()?;
    // Two plugins' clients of one tenant share one limiter.
    let limiter = RateLimiter::new();
    let a = Client::builder(cloud.clone(), credentials(&api))
        .retry_policy(fast_retries())
        .rate_limiter(limiter.clone())
        .build()?;
    let b = Client::builder(cloud, credentials(&api))
        .retry_policy(fast_retries())
        .rate_limiter(limiter.clone())
        .build()?;
    assert!(a.rate_limiter().same_as(b.rate_limiter()));
    a.authenticate().await?;
    b.authenticate().await?;

    // Retry at the start of the second after next: 1 to 2 s from now.
    faults.push(Fault::rate_limited(
        ROLES_PATH,
        Some(epoch_seconds_from_now(2)),
    ));
    let start = Instant::now();
    let first = a.execute(ApiRequest::new(users::QUERY_ROLES));
    let second = async {
        // Leaves after the 429 arrived: must wait out the shared cooldown.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let sent = Instant::now();
        b.execute(ApiRequest::new(users::QUERY_USERS)).await?;
        Ok::<_, Error>(sent)
    };
    let (first, sent) = tokio::join!(first, second);
    assert_eq!(first?.status, 200);
    let sent = sent?;
    let arrivals = faults.arrivals(ROLES_PATH);
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    let user_arrival = faults.arrivals("/user-management/queries/users/v1")[0];
    assert!(
        user_arrival >= sent + Duration::from_millis(600),
        "the other client did not wait for the cooldown"
    );
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(limiter.stats().cooled_down, 2);
    Ok(())
}

#[tokio::test]
async fn a_429_in_the_past_or_without_retry_after_backs_off_briefly() -> TestResult {
    let api = ApiClient::read_only();
    let faults = Faults::default();
    let base = serve_with_faults(emulator(&api, EmulatorConfig::default()), faults.clone()).await;
    let client = Client::builder(base.parse()?, credentials(&api))
        .retry_policy(fast_retries())
        .build()?;
    client.authenticate().await?;

    for retry_after in [Some(epoch_seconds_from_now(-30)), None, Some("soon".into())] {
        faults.push(Fault::rate_limited(ROLES_PATH, retry_after.clone()));
        let start = Instant::now();
        let roles = client.users().list_roles().await?;
        assert!(!roles.is_empty());
        // One backoff step (40 to 80 ms at attempt 0), never a long wait.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(20) && elapsed < Duration::from_secs(1),
            "{retry_after:?}: {elapsed:?}"
        );
    }
    assert_eq!(faults.arrivals(ROLES_PATH).len(), 6);

    // Without retries the error reports the wait it computed.
    let strict = Client::builder(base.parse()?, credentials(&api))
        .retry_policy(RetryPolicy::none())
        .build()?;
    faults.push(Fault::rate_limited(
        ROLES_PATH,
        Some(epoch_seconds_from_now(3)),
    ));
    match strict.users().list_roles().await {
        Err(Error::RateLimited {
            retry_after: Some(wait),
            trace_id,
            ..
        }) => {
            assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(3));
            assert_eq!(trace_id.as_deref(), Some("fault-trace"));
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_retry_after_far_ahead_is_clamped() -> TestResult {
    let api = ApiClient::read_only();
    let faults = Faults::default();
    let base = serve_with_faults(emulator(&api, EmulatorConfig::default()), faults.clone()).await;
    let policy = RetryPolicy {
        max_retry_after: Duration::from_millis(300),
        ..fast_retries()
    };
    let client = Client::builder(base.parse()?, credentials(&api))
        .retry_policy(policy)
        .build()?;
    client.authenticate().await?;
    faults.push(Fault::rate_limited(
        ROLES_PATH,
        Some(epoch_seconds_from_now(3600)),
    ));
    let start = Instant::now();
    client.users().list_roles().await?;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    Ok(())
}

// ---- whole-call timeout --------------------------------------------------------------------

#[tokio::test]
async fn the_call_timeout_bounds_reads_and_marks_writes_uncertain() -> TestResult {
    let api = ApiClient::full_access();
    let running = emulator(&api, EmulatorConfig::default())
        .serve(LOOPBACK)
        .await?;
    let client = Client::builder(running.base_url().parse()?, credentials(&api))
        .call_timeout(Duration::from_millis(300))
        .build()?;
    client.authenticate().await?;
    let users_before = running.tenant().users.len();

    // The emulator's latency switch: answers leave a second late.
    let mut faults = running.faults();
    faults.latency = Duration::from_secs(1);
    running.set_faults(faults.clone());
    let start = Instant::now();
    let err = client.users().list_roles().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(900));
    assert!(!err.write_may_have_applied());

    let create = falcon::Endpoint::write(
        falcon::Method::Post,
        "/user-management/entities/users/v1",
        "usermgmt:write",
    );
    let body =
        json!({"uid": "slow.person@example.com", "first_name": "Slow", "last_name": "Person"});
    let err = client
        .execute(ApiRequest::new(create).json(body))
        .await
        .unwrap_err();
    assert!(err.write_may_have_applied(), "{err:?}");
    // And indeed it was applied: the answer, not the write, was late.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(running.tenant().users.len(), users_before + 1);

    // Calls that finish in time are unaffected.
    faults.latency = Duration::ZERO;
    running.set_faults(faults);
    assert!(
        !client
            .users()
            .query_ids(&UserQuery::all())
            .await?
            .is_empty()
    );
    Ok(())
}
