//! `host emulator`: serves a generated Falcon tenant on loopback for plugin
//! authors and for trying the host without a real tenant.

use std::net::{Ipv4Addr, SocketAddr};

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};

use crate::cli::EmulatorArgs;
use crate::{Exit, Failure};

/// Generates the tenant, serves it on `127.0.0.1`, prints the address and a
/// full-access and a read-only client, and runs until Ctrl-C.
pub(crate) async fn serve(args: EmulatorArgs) -> Result<Exit, Failure> {
    let demo = TenantSpec::demo();
    let spec = TenantSpec {
        seed: args.seed,
        users: args.users,
        hosts: args.hosts,
        alerts: args.alerts,
        incidents: args.incidents,
        iocs: args.iocs,
        ..demo
    };
    let generating = std::time::Instant::now();
    let tenant = Tenant::generate(&spec);
    let generated = generating.elapsed();
    if args.generate_only {
        say!(
            "generated seed {}: {} users, {} hosts, {} alerts, {} incidents, {} IOCs in {:.3}s",
            spec.seed,
            tenant.users.len(),
            tenant.hosts.len(),
            tenant.alerts.len(),
            tenant.incidents.len(),
            tenant.iocs.len(),
            generated.as_secs_f64()
        );
        return Ok(Exit::Ok);
    }

    let mut config = EmulatorConfig {
        region: args.region.clone(),
        token_lifetime: args.token_lifetime,
        rate_limit_per_minute: args.rate_limit,
        cursor_lifetime: args.cursor_lifetime,
        ..EmulatorConfig::default()
    };
    config.faults.latency = args.latency.unwrap_or_default();
    config.faults.server_error_percent = args.server_errors;
    config.faults.rate_limit_storm = args.rate_limit_storm;
    config.faults.error_body = args.error_body.into();
    config.faults.null_lists = args.null_lists;

    let full = ApiClient::full_access();
    let read_only = ApiClient::read_only();
    let emulator = Emulator::new(tenant, config);
    emulator.add_client(full.clone());
    emulator.add_client(read_only.clone());
    // Loopback only: the emulator's clients and secrets are for this machine.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let running = emulator.serve(addr).await.map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!("failed to listen on {addr}: {e}; choose another --port"),
        )
    })?;
    let url = running.base_url();

    say!(
        "Falcon emulator: seed {}, {} users, {} hosts, {} alerts (generated in {:.2}s), at {url}",
        spec.seed,
        spec.users,
        spec.hosts,
        spec.alerts,
        generated.as_secs_f64()
    );
    say!();
    say!("full-access API client:");
    say!("  export FALCON_CLOUD={url}");
    say!("  export FALCON_CLIENT_ID={}", full.client_id);
    say!("  export FALCON_CLIENT_SECRET={}", full.client_secret);
    say!("read-only API client:");
    say!("  FALCON_CLIENT_ID={}", read_only.client_id);
    say!("  FALCON_CLIENT_SECRET={}", read_only.client_secret);
    say!();
    let exe =
        std::env::current_exe().map_or_else(|_| "host".to_owned(), |p| p.display().to_string());
    say!("then: {exe} run plugins/access-audit.wasm --grant users:read,roles:read");
    say!("Ctrl-C stops the emulator.");

    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::new(Exit::Host, format!("failed to wait for Ctrl-C: {e}")))?;
    running.shutdown().await;
    Ok(Exit::Ok)
}
