//! `serve`: the emulator for the whole-process benchmarks, with request
//! counts the driver reads between runs.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};
use serde_json::{Value, json};

/// The tenant and the API's behaviour.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Console users in the tenant.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Hosts in the tenant.
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    /// Added to every response (the emulator's latency fault), in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The CID's requests per minute (a bucket of this size refilling over
    /// a minute).
    #[arg(long, default_value_t = 1_000_000_000)]
    rate_limit: u32,
}

/// What the emulator answered since it started.
#[derive(Debug, Default)]
struct Counts {
    requests: u64,
    /// Requests to `/oauth2/*` (token and revoke), which draw from the
    /// per-address budget rather than the CID's.
    oauth: u64,
    /// The other requests by the status of their answer.
    by_status: BTreeMap<u16, u64>,
    /// `X-Ratelimit-Remaining` of the last of them: what is left of the
    /// CID's budget.
    remaining: Option<u64>,
}

type Shared = Arc<Mutex<Counts>>;

/// Generates the tenant, prints `{url, client_id, client_secret, ...}` on
/// one line, and serves until the process is killed.
///
/// The region is one no SDK knows (`emulator`), so that FalconPy's region
/// autodiscovery stays on the emulator.
pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let spec = TenantSpec {
        users: args.users,
        hosts: args.hosts,
        alerts: 0,
        incidents: 0,
        iocs: 0,
        children: 0,
        ..TenantSpec::demo()
    };
    let generating = Instant::now();
    let tenant = Tenant::generate(&spec);
    let generated = generating.elapsed();
    let mut config = EmulatorConfig {
        region: "emulator".to_owned(),
        rate_limit_per_minute: args.rate_limit,
        ..EmulatorConfig::default()
    };
    config.faults.latency = Duration::from_millis(args.latency_ms);
    let emulator = Emulator::new(tenant, config);
    let client = ApiClient::full_access();
    emulator.add_client(client.clone());

    let counts: Shared = Arc::default();
    let api = emulator
        .router()
        .layer(middleware::from_fn_with_state(counts.clone(), count));
    let app = Router::new()
        .route("/_bench/stats", get(stats))
        .with_state(counts)
        .merge(api);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let ready = json!({
        "url": url,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "users": args.users,
        "hosts": args.hosts,
        "generate_s": generated.as_secs_f64(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// Counts every request the emulator answers: token and revoke apart, the
/// rest by status.
async fn count(State(counts): State<Shared>, request: Request, next: Next) -> Response {
    let oauth = request.uri().path().starts_with("/oauth2/");
    let response = next.run(request).await;
    let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
    counts.requests += 1;
    if oauth {
        counts.oauth += 1;
    } else {
        *counts
            .by_status
            .entry(response.status().as_u16())
            .or_default() += 1;
        let remaining = response.headers().get("x-ratelimit-remaining");
        if let Some(left) = remaining.and_then(|v| v.to_str().ok()?.parse().ok()) {
            counts.remaining = Some(left);
        }
    }
    response
}

async fn stats(State(counts): State<Shared>) -> Json<Value> {
    let counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
    let statuses: BTreeMap<String, u64> = counts
        .by_status
        .iter()
        .map(|(status, n)| (status.to_string(), *n))
        .collect();
    Json(json!({
        "requests": counts.requests,
        "oauth": counts.oauth,
        "statuses": statuses,
        "remaining": counts.remaining,
    }))
}
