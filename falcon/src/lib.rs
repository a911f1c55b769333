//! A client for the CrowdStrike Falcon REST API, as the plugin host uses it.
//!
//! # Overview
//!
//! - [`Cloud`] names the Falcon cloud (`us-1`, `us-2`, `eu-1`, `us-gov-1`,
//!   `us-gov-2`) or any base URL (a proxy, the local emulator). Commercial
//!   clouds are autodiscovered from the token response's `X-Cs-Region`.
//! - [`Credentials`] hold the API client id and its [`Secret`], which never
//!   appears in `Debug`, `Display`, errors or logs.
//! - [`Client`] owns the OAuth2 token (fetched from `POST /oauth2/token`,
//!   cached, refreshed before expiry with one refresh shared by concurrent
//!   callers, refreshed once more after a 401), honours rate limits (waits
//!   out `X-Ratelimit-Retryafter` with a cooldown shared by all callers) and
//!   retries reads after 429, 5xx and transport errors with capped,
//!   jittered backoff. Writes are never replayed once they may have arrived:
//!   [`Error::WriteUncertain`] says so.
//! - Every call goes through [`Client::execute`], which takes an
//!   [`ApiRequest`] for an [`Endpoint`] (method, path, required scope, read or
//!   write) and returns the leniently decoded [`Envelope`].
//! - Per-area modules add typed calls: [`users`] (users, roles, role grants).
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
mod model;
mod paging;
mod ratelimit;
mod retry;
pub mod scope;
mod secret;
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
