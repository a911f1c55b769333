//! The emulated Falcon API over HTTP, built on axum.
//!
//! ```no_run
//! use std::net::SocketAddr;
//!
//! use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};
//!
//! # async fn run() -> std::io::Result<()> {
//! let emulator = Emulator::new(Tenant::generate(&TenantSpec::demo()), EmulatorConfig::default());
//! let client = ApiClient::full_access();
//! emulator.add_client(client.clone());
//! let running = emulator.serve(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
//! println!("Falcon API at {} for client {}", running.base_url(), client.client_id);
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Areas served (paths and limits as in `falcon-api.md` §5): OAuth2; hosts (query,
//! scroll, hidden, combined, details GET/POST, online state, actions, tags); host
//! groups; alerts (the detects API answers 405); incidents; prevention, response and
//! sensor-update policies; sensor-update builds; sensor installers; Real Time Response
//! (sessions, batches, three command tiers, scripts, put-files); user management;
//! custom IOCs. Tokens obtained with `member_cid` reach the tenant's children.
//!
//! Limits: ids per request as documented per endpoint; offset + limit at most 10,000
//! on the query endpoints; scroll and `after` tokens that expire after
//! [`EmulatorConfig::cursor_lifetime`] and are bound to their filter and sort; bodies
//! over 1 MiB get 413, request lines over 18,500 characters 414. Misbehaviour on
//! demand comes from [`Faults`], changeable while serving with
//! [`RunningEmulator::set_faults`].
//!
//! FalconPy 1.6.6 moves to the real cloud of any region it knows in `X-Cs-Region`,
//! even `us-1` when its base URL is an emulator's (it compares `us1` with `US1`):
//! with the default region it would leave the emulator after the token call. Use a
//! region name FalconPy does not know (`tests/falconpy.rs` uses `emulator`) when
//! driving the emulator with it.
//!
//! Every response carries `X-Cs-Traceid`, `X-Cs-Region`, `X-Ratelimit-Limit` and
//! `X-Ratelimit-Remaining`. Requests with a valid token draw from the CID's budget of
//! [`EmulatorConfig::rate_limit_per_minute`]; token requests and requests without a
//! valid token draw from a per-address budget of 300 refilling at 5 per second.

mod alerts;
mod auth;
mod envelope;
mod faults;
mod gateway;
mod groups;
mod hosts;
mod iocs;
mod params;
mod policies;
mod query;
mod ratelimit;
mod rtr;
mod state;
mod users;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::routing::{MethodRouter, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::{ApiClient, SCOPE_AREAS};
pub use faults::{ErrorBody, Faults};

use crate::tenant::Tenant;
use auth::Tokens;
use ratelimit::Pool;
use state::TenantState;

/// Per-address budget for requests without a valid token (Falcon: 300, 5 per second).
const UNAUTHENTICATED_BURST: u32 = 300;
const UNAUTHENTICATED_PER_SECOND: f64 = 5.0;

/// Knobs of the emulated API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// The cloud reported in `X-Cs-Region`, e.g. `us-1`.
    pub region: String,
    /// How long access tokens live; `expires_in` reports it in whole seconds.
    /// Changeable at runtime with [`RunningEmulator::set_token_lifetime`].
    pub token_lifetime: Duration,
    /// The CID's request budget: a bucket of this size refilling over a minute.
    pub rate_limit_per_minute: u32,
    /// How long scroll and `after` tokens stay valid after the page that handed
    /// them out (Falcon: 2 minutes). Changeable with
    /// [`RunningEmulator::set_cursor_lifetime`].
    pub cursor_lifetime: Duration,
    /// How long `contain` and `lift_containment` stay pending before the host reports
    /// the new state.
    pub containment_delay: Duration,
    /// How long an RTR command runs before its status turns `complete`.
    pub rtr_command_delay: Duration,
    /// Fault switches, all off by default.
    pub faults: Faults,
}

impl Default for EmulatorConfig {
    /// US-1, Falcon's 1799-second tokens, 6000 requests per minute, 2-minute cursors,
    /// containment that completes after 2 seconds, instant RTR commands, no faults.
    fn default() -> Self {
        Self {
            region: "us-1".to_owned(),
            token_lifetime: Duration::from_secs(1799),
            rate_limit_per_minute: 6000,
            cursor_lifetime: Duration::from_secs(120),
            containment_delay: Duration::from_secs(2),
            rtr_command_delay: Duration::ZERO,
            faults: Faults::default(),
        }
    }
}

/// An emulated Falcon API for one tenant, not yet listening.
pub struct Emulator {
    shared: Arc<Shared>,
}

/// State shared by every request.
struct Shared {
    /// The configuration; the lock lets tests flip fault switches and lifetimes
    /// while the emulator serves.
    config: RwLock<EmulatorConfig>,
    /// The CIDs of the tenant (index 0) and its children, kept apart so hot paths
    /// need no lock.
    cids: Vec<String>,
    /// The live state of each CID, in the order of `cids`.
    states: Vec<RwLock<TenantState>>,
    clients: RwLock<HashMap<String, ApiClient>>,
    tokens: Mutex<Tokens>,
    cid_pool: Pool,
    ip_pool: Pool,
    requests: AtomicU64,
    /// Bumped for a CID each time its state is taken for writing; a cached
    /// selection made at another generation is stale.
    generations: Vec<AtomicU64>,
    /// The ordered results of recent queries, so that paging through a large
    /// tenant filters and sorts it once, not once per page.
    selections: Mutex<HashMap<(usize, String), Selection>>,
}

/// One query's ordered results, as of one generation of the tenant's state.
struct Selection {
    generation: u64,
    made: Instant,
    items: Arc<Vec<serde_json::Value>>,
}

/// How long a selection is reused while the state does not change: filters
/// relative to now (`last_login_time:<'now-90d'`) may lag by this much.
const SELECTION_LIFETIME: Duration = Duration::from_secs(10);

/// Selections kept at most; past this the cache starts over.
const MAX_SELECTIONS: usize = 64;

tokio::task_local! {
    /// The CID (index into `Shared::cids`) the current request's token is for; set by
    /// the gateway around every endpoint, so handlers reach the right tenant without
    /// passing it through every call.
    static TENANT: usize;
}

/// The tenant of the request being handled; the parent outside a request.
fn current_tenant() -> usize {
    TENANT.try_with(|t| *t).unwrap_or(0)
}

impl Shared {
    /// The state of the current request's CID.
    fn read(&self) -> RwLockReadGuard<'_, TenantState> {
        // A panic while holding the lock cannot leave the data half-written in a way
        // that matters to an emulator, so keep serving.
        self.state_of(current_tenant())
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, TenantState> {
        let tenant = current_tenant();
        let guard = self
            .state_of(tenant)
            .write()
            .unwrap_or_else(|p| p.into_inner());
        // Under the write lock, so no reader can pair the old generation
        // with the new state.
        self.generation_of(tenant).fetch_add(1, Ordering::Relaxed);
        guard
    }

    fn generation_of(&self, tenant: usize) -> &AtomicU64 {
        self.generations.get(tenant).unwrap_or(&self.generations[0])
    }

    /// The results of the query `key` on the current CID: `select` runs when
    /// the state changed since the last identical query, or that was long
    /// ago.
    fn selection(
        &self,
        key: String,
        select: impl FnOnce(&TenantState) -> Vec<serde_json::Value>,
    ) -> Arc<Vec<serde_json::Value>> {
        let tenant = current_tenant();
        let state = self.read();
        let generation = self.generation_of(tenant).load(Ordering::Relaxed);
        let key = (tenant, key);
        let cache = self.selections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = cache.get(&key)
            && kept.generation == generation
            && kept.made.elapsed() < SELECTION_LIFETIME
        {
            return Arc::clone(&kept.items);
        }
        // Computed without the cache's lock: other queries go on meanwhile.
        drop(cache);
        let items = Arc::new(select(&state));
        drop(state);
        let mut cache = self.selections.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_SELECTIONS {
            cache.clear();
        }
        cache.insert(
            key,
            Selection {
                generation,
                made: Instant::now(),
                items: Arc::clone(&items),
            },
        );
        items
    }

    fn state_of(&self, tenant: usize) -> &RwLock<TenantState> {
        self.states.get(tenant).unwrap_or(&self.states[0])
    }

    /// The current request's CID.
    fn cid(&self) -> &str {
        self.cids.get(current_tenant()).unwrap_or(&self.cids[0])
    }

    fn config(&self) -> RwLockReadGuard<'_, EmulatorConfig> {
        self.config.read().unwrap_or_else(|p| p.into_inner())
    }

    fn configure(&self, change: impl FnOnce(&mut EmulatorConfig)) {
        change(&mut self.config.write().unwrap_or_else(|p| p.into_inner()));
    }

    fn cursor_lifetime(&self) -> Duration {
        self.config().cursor_lifetime
    }

    fn containment_delay(&self) -> Duration {
        self.config().containment_delay
    }

    /// The parent tenant as it is now, with its children as they are now.
    fn tenant(&self) -> Tenant {
        let snapshot = |i: usize| {
            let state = self.states[i].read().unwrap_or_else(|p| p.into_inner());
            state.tenant.clone()
        };
        let mut parent = snapshot(0);
        parent.children = (1..self.states.len()).map(snapshot).collect();
        parent
    }

    fn add_client(&self, client: ApiClient) {
        let mut clients = self.clients.write().unwrap_or_else(|p| p.into_inner());
        clients.insert(client.client_id.clone(), client);
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("cids", &self.cids)
            .field("config", &*self.config())
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// An emulator serving `tenant` and its children (reached with `member_cid`), with
    /// no API clients yet.
    pub fn new(tenant: Tenant, config: EmulatorConfig) -> Self {
        let mut tenants = vec![tenant];
        let children = std::mem::take(&mut tenants[0].children);
        tenants.extend(children);
        let shared = Shared {
            cids: tenants.iter().map(|t| t.cid.clone()).collect(),
            generations: tenants.iter().map(|_| AtomicU64::new(0)).collect(),
            states: tenants
                .into_iter()
                .map(|t| RwLock::new(TenantState::new(t)))
                .collect(),
            clients: RwLock::new(HashMap::new()),
            tokens: Mutex::new(Tokens::default()),
            cid_pool: Pool::per_minute(config.rate_limit_per_minute),
            ip_pool: Pool::new(UNAUTHENTICATED_BURST, UNAUTHENTICATED_PER_SECOND),
            requests: AtomicU64::new(0),
            selections: Mutex::new(HashMap::new()),
            config: RwLock::new(config),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Registers an API client; a client with the same id is replaced, which is how
    /// to disable one or change its scopes (existing tokens keep their old scopes).
    pub fn add_client(&self, client: ApiClient) {
        self.shared.add_client(client);
    }

    /// A snapshot of the tenant as it is now.
    pub fn tenant(&self) -> Tenant {
        self.shared.tenant()
    }

    /// The API as an axum router, for embedding in another server. Requests reach it
    /// without a peer address unless served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, in which case
    /// unauthenticated requests share one rate-limit bucket.
    pub fn router(&self) -> Router {
        let shared = Arc::clone(&self.shared);
        Router::new()
            .route("/oauth2/token", post(auth::token))
            .route("/oauth2/revoke", post(auth::revoke))
            .merge(users::routes())
            .merge(hosts::routes())
            .merge(groups::routes())
            .merge(alerts::routes())
            .merge(policies::routes())
            .merge(iocs::routes())
            .merge(rtr::routes())
            .fallback(gateway::not_found)
            .method_not_allowed_fallback(gateway::method_not_allowed)
            .with_state(Arc::clone(&shared))
            .layer(middleware::from_fn_with_state(shared, gateway::gateway))
    }

    /// Listens on `addr` and serves on the current tokio runtime until
    /// [`RunningEmulator::shutdown`] is called or the handle is dropped.
    ///
    /// # Errors
    ///
    /// Returns the error of binding `addr`.
    pub async fn serve(self, addr: SocketAddr) -> io::Result<RunningEmulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async {
                // A dropped handle stops the server as well as an explicit shutdown.
                stopped.await.ok();
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
        });
        tracing::info!(%local_addr, cid = self.shared.cids[0], "falcon emulator listening");
        Ok(RunningEmulator {
            shared: self.shared,
            local_addr,
            stop,
            task,
        })
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("shared", &self.shared)
            .finish()
    }
}

/// A listening emulator. Dropping it stops the server.
pub struct RunningEmulator {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningEmulator {
    /// `http://<ip>:<port>`, the base URL to give a Falcon client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A snapshot of the tenant, including changes made through the API.
    pub fn tenant(&self) -> Tenant {
        self.shared.tenant()
    }

    /// Registers or replaces an API client, as [`Emulator::add_client`].
    pub fn add_client(&self, client: ApiClient) {
        self.shared.add_client(client);
    }

    /// How many HTTP requests the emulator has received, on every path including
    /// `/oauth2/token` and requests it refused.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Faults {
        self.shared.config().faults.clone()
    }

    /// Replaces the fault switches; takes effect with the next request.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.configure(|c| c.faults = faults);
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.configure(|c| c.token_lifetime = lifetime);
    }

    /// Changes the lifetime of scroll and `after` tokens handed out from now on.
    pub fn set_cursor_lifetime(&self, lifetime: Duration) {
        self.shared.configure(|c| c.cursor_lifetime = lifetime);
    }

    /// Changes how long RTR commands run before they report `complete`.
    pub fn set_rtr_command_delay(&self, delay: Duration) {
        self.shared.configure(|c| c.rtr_command_delay = delay);
    }

    /// Changes how long containment changes stay pending.
    pub fn set_containment_delay(&self, delay: Duration) {
        self.shared.configure(|c| c.containment_delay = delay);
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(self) {
        self.stop.send(()).ok();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "falcon emulator stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "falcon emulator task failed"),
        }
    }
}

impl fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("local_addr", &self.local_addr)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// `route` behind the gateway's token and scope check.
fn scoped<S>(scope: &'static str, route: MethodRouter<S>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route.route_layer(middleware::from_fn(move |request: Request, next: Next| {
        gateway::require(scope, request, next)
    }))
}
