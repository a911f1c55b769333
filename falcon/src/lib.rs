//! A client for the CrowdStrike Falcon REST API, as the plugin host uses it.
//!
//! # Overview
//!
//! - [`Cloud`] names the Falcon cloud (`us-1`, `us-2`, `eu-1`, `us-gov-1`,
//!   `us-gov-2`) or any base URL (a proxy, the local emulator). Commercial
//!   clouds are autodiscovered from the token response's `X-Cs-Region`.
//! - [`Credentials`] hold the API client id and its [`Secret`], which never
//!   appears in `Debug`, `Display`, errors or logs.
//! - [`Client`] holds the OAuth2 token (one per cloud, client id and member
//!   CID, shared by every client built for them in the process; fetched from `POST /oauth2/token`,
//!   cached, refreshed before expiry with one refresh shared by concurrent
//!   callers, refreshed once more after a 401; `member_cid` kept on every
//!   refresh) and retries reads after 429, 5xx and transport errors with
//!   capped, jittered backoff. Writes are never replayed once they may have
//!   arrived: [`Error::WriteUncertain`] says so.
//! - [`RateLimiter`] follows the tenant's pool from `X-Ratelimit-Limit` and
//!   `X-Ratelimit-Remaining`, paces requests before it runs dry, and holds
//!   every caller during a 429 cooldown (until `X-Ratelimit-Retryafter`,
//!   clamped; one backoff step when that is missing or past). Share one
//!   limiter between all clients of a tenant with
//!   [`ClientBuilder::rate_limiter`].
//! - Listing calls page for you: offset paging stops with
//!   [`Error::WindowExceeded`] (and the total) before crossing a 10,000
//!   window, scroll and `after` cursors are preferred where they exist, an
//!   expired cursor is [`Error::CursorExpired`], and the count received is
//!   checked against the reported total ([`Error::Inconsistent`]).
//! - Lookups by id are chunked by each endpoint's cap and by request size,
//!   use `POST` variants for large sets, and return a [`Batch`]: the found
//!   records in input order, the missing ids and per-id errors
//!   ([`IdError`]), also when Falcon answers 404 or a 4xx with resources.
//! - Transport: rustls, connect / request / whole-call
//!   ([`ClientBuilder::call_timeout`]) timeouts, proxies from
//!   `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, the user agent
//!   [`USER_AGENT`], a `falcon_call` tracing span per call (method, path,
//!   scope; never a secret or token).
//! - Every call goes through [`Client::execute`], which takes an
//!   [`ApiRequest`] for an [`Endpoint`] (method, path, required scope, read or
//!   write) and returns the leniently decoded [`Envelope`].
//! - Per-area modules add typed calls, each endpoint a constant that knows
//!   its scope: [`hosts`] (scroll and offset queries, details, online state,
//!   actions, tags), [`host_groups`], [`alerts`] (offset query, `after`-paged
//!   combined listing, details, v3 updates), [`incidents`], [`policies`]
//!   (prevention, response, sensor update; creation, changes, deletion,
//!   precedence), [`sensors`] (builds, installers, binary download, CCID),
//!   [`rtr`] (sessions, commands by tier, admin scripts and put-files),
//!   [`iocs`] (custom IOCs, `after` paging, changes) and [`users`] (users,
//!   roles, role grants). Query and change requests are structs, not long lists of
//!   optional arguments.
//! - [`fql`] builds filters with escaped values.
//! - [`Error`] tells apart refused credentials ([`Error::Auth`]), a missing
//!   API scope ([`Error::Forbidden`], with the console's name for it), rate
//!   limits, unknown ids and API failures (endpoint, status, code, trace id).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use falcon::fql::Fql;
//! use falcon::users::UserQuery;
//! use falcon::{Client, Cloud, Credentials, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! let cloud: Cloud = "us-2".parse()?;
//! let credentials = Credentials::new("client-id", std::env::var("FALCON_SECRET").unwrap_or_default());
//! let client = Client::builder(cloud, credentials)
//!     .request_timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! // Every active user, with details; unknown ids come back in `missing`.
//! let filter = Fql::new().eq("status", "active").build()?;
//! let ids = client.users().query_ids(&UserQuery::filtered(filter)).await?;
//! let batch = client.users().get(&ids).await?;
//! for user in &batch.found {
//!     println!("{} {}", user.uuid, user.uid);
//! }
//!
//! // Every Windows host (scroll paging, no 10,000 window), then contain the
//! // ones with a given name; ids Falcon refuses come back per id.
//! use falcon::hosts::{HostAction, HostActionRequest, HostQuery};
//! let windows = Fql::new().eq("platform_name", "Windows").build()?;
//! let hosts = client.hosts().query(&HostQuery::filtered(windows)).await?;
//! let targets: Vec<String> = hosts
//!     .iter()
//!     .filter(|h| h.hostname.as_deref() == Some("O'Brien-PC"))
//!     .map(|h| h.device_id.clone())
//!     .collect();
//! let request = HostActionRequest::new(HostAction::Contain, targets).note("incident 42");
//! match client.hosts().act(&request).await {
//!     Ok(outcome) => println!("{} contained, {} refused", outcome.affected.len(), outcome.errors.len()),
//!     Err(e) if e.write_may_have_applied() => eprintln!("check the console before retrying: {e}"),
//!     Err(e) => return Err(e),
//! }
//!
//! match client.users().list_roles().await {
//!     Ok(roles) => println!("{} roles", roles.len()),
//!     Err(Error::Forbidden { api_scope, .. }) => {
//!         eprintln!("add `{}` to the API client", falcon::scope::console_name(&api_scope));
//!     }
//!     Err(other) => return Err(other),
//! }
//! client.revoke().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod alerts;
mod auth;
mod client;
mod cloud;
mod endpoint;
mod envelope;
mod error;
pub mod fql;
pub mod host_groups;
pub mod hosts;
pub mod incidents;
pub mod iocs;
mod model;
mod paging;
pub mod policies;
mod ratelimit;
mod registry;
mod retry;
pub mod rtr;
pub mod scope;
mod secret;
pub mod sensors;
pub mod users;

pub use client::{ApiRequest, Client, ClientBuilder, ClientStats, USER_AGENT};
pub use cloud::Cloud;
pub use endpoint::{Access, Endpoint, Method};
pub use envelope::{
    ApiResponse, EXCERPT_LIMIT, Envelope, ErrorItem, Meta, Pagination, RateLimitStatus,
};
pub use error::{AuthFailure, BodyExcerpt, Error, Result};
pub use paging::{Batch, IdError};
pub use ratelimit::{DEFAULT_RESERVE, LimiterStats, RateLimiter};
pub use retry::RetryPolicy;
pub use secret::{Credentials, Secret};
