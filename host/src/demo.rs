//! `--demo`: the built-in demo tenant, served by the emulator on loopback in
//! this process.

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};

/// A running demo tenant and credentials for a full-access API client.
pub(crate) struct Demo {
    pub(crate) emulator: RunningEmulator,
    pub(crate) credentials: falcon::Credentials,
    pub(crate) users: usize,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("base_url", &self.emulator.base_url())
            .finish()
    }
}

/// Generates the demo tenant and serves it on `127.0.0.1` with a fresh
/// API client whose secret exists only in this process.
pub(crate) async fn start() -> std::io::Result<Demo> {
    let tenant = Tenant::generate(&TenantSpec::demo());
    let users = tenant.users.len();
    let client = ApiClient::full_access();
    let credentials =
        falcon::Credentials::new(client.client_id.clone(), client.client_secret.clone());
    let emulator = Emulator::new(tenant, EmulatorConfig::default());
    emulator.add_client(client);
    let emulator = emulator
        .serve(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    Ok(Demo {
        emulator,
        credentials,
        users,
    })
}
