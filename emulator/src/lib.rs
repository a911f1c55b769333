//! A local emulator of the CrowdStrike Falcon REST API.
#![warn(missing_docs)]

pub mod fql;
mod rng;
pub mod server;
pub mod tenant;

pub use server::{ApiClient, Emulator, EmulatorConfig, RunningEmulator};
pub use tenant::{Role, RoleGrant, Tenant, TenantSpec, User};
