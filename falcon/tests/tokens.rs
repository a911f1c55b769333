//! Token lifetimes and the member CID across refreshes, watched by a
//! recording layer in front of the real emulator router (it only observes:
//! every request is answered by the emulator).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use falcon::hosts::HostQuery;
use falcon::{Client, Credentials};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// (path, status, token request body) of every request.
type Log = Arc<Mutex<Vec<(String, u16, String)>>>;

async fn serve_recorded(emu: Emulator, log: Log) -> String {
    let app = emu.router().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let log = log.clone();
            async move {
                let path = request.uri().path().to_owned();
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let text = if path == "/oauth2/token" {
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    String::new()
                };
                let request = Request::from_parts(parts, axum::body::Body::from(bytes));
                let response = next.run(request).await;
                log.lock()
                    .unwrap()
                    .push((path, response.status().as_u16(), text));
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(LOOPBACK).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_across_three_token_lifetimes_keeps_its_member_cid_and_sees_no_401() -> TestResult {
    let api = ApiClient::read_only();
    let spec = TenantSpec {
        users: 8,
        hosts: 40,
        ..TenantSpec::demo()
    };
    let tenant = Tenant::generate(&spec);
    let cid = tenant.cid.clone();
    let emu = Emulator::new(
        tenant,
        EmulatorConfig {
            token_lifetime: Duration::from_secs(1),
            ..EmulatorConfig::default()
        },
    );
    emu.add_client(api.clone());
    let log: Log = Arc::default();
    let base = serve_recorded(emu, log.clone()).await;
    let credentials = Credentials::new(api.client_id.clone(), api.client_secret.clone())
        .with_member_cid(cid.clone());
    let client = Client::builder(base.parse()?, credentials).build()?;

    // One job, two concurrent workers, for a little over three lifetimes.
    let start = Instant::now();
    let worker = |client: Client| async move {
        let mut calls = 0;
        while start.elapsed() < Duration::from_millis(3300) {
            client.hosts().query_ids(&HostQuery::all()).await?;
            calls += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok::<_, falcon::Error>(calls)
    };
    let (a, b) = tokio::join!(worker(client.clone()), worker(client.clone()));
    assert!(a? > 10 && b? > 10);

    let log = log.lock().unwrap().clone();
    let tokens: Vec<&(String, u16, String)> = log
        .iter()
        .filter(|(p, _, _)| p == "/oauth2/token")
        .collect();
    assert!(tokens.len() >= 4, "{} token requests", tokens.len());
    assert_eq!(tokens.len() as u64, client.stats().token_requests);
    for (_, status, body) in &tokens {
        assert_eq!(*status, 201);
        assert!(body.contains(&format!("member_cid={cid}")), "{body}");
    }
    let unauthorized = log.iter().filter(|(_, s, _)| *s == 401).count();
    assert_eq!(unauthorized, 0, "a token was used past its lifetime");
    Ok(())
}
