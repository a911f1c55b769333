//! A local emulator of the CrowdStrike Falcon REST API, served over real HTTP, with
//! a deterministic generated demo tenant.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // The same seed gives the same tenant all day (see `TenantSpec::demo`).
//! let tenant = Tenant::generate(&TenantSpec::demo());
//! assert_eq!(tenant.users.len(), 64);
//!
//! let emulator = Emulator::new(tenant, EmulatorConfig::default());
//! let client = ApiClient::with_scopes(&["usermgmt:read"]);
//! emulator.add_client(client.clone());
//!
//! let running = emulator.serve(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
//! // Point any Falcon client at `running.base_url()` with `client`'s credentials:
//! // POST /oauth2/token, then GET /user-management/queries/users/v1 and so on.
//! assert!(running.base_url().starts_with("http://127.0.0.1:"));
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! - [`tenant`]: the data model and its seeded generator: users, roles, hosts, host
//!   groups, alerts, incidents, policies, sensor builds and installers, IOCs and child
//!   CIDs.
//! - [`fql`]: the Falcon Query Language filters and sorts the endpoints accept.
//! - [`server`]: the endpoints, OAuth2, scopes, rate limits, envelopes and fault
//!   switches, following `falcon-api.md` and the captured responses in
//!   `tests/fixtures/` (every one of which a test in `tests/api.rs` compares with).
#![warn(missing_docs)]
// The alert and device views are single `json!` literals of 60+ keys, past the default.
#![recursion_limit = "256"]

pub mod fql;
mod rng;
pub mod server;
pub mod tenant;

pub use server::{ApiClient, Emulator, EmulatorConfig, ErrorBody, Faults, RunningEmulator};
pub use tenant::{
    Alert, Host, HostGroup, Incident, Installer, Ioc, Policy, Role, RoleGrant, SensorBuild, Tenant,
    TenantSpec, User,
};
