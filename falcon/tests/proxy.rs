//! Proxies from the environment. Environment variables are process-wide, so
//! the client runs in a child copy of this test binary started with
//! `HTTP_PROXY` set; the parent serves the emulator as the proxy (on
//! loopback) and checks that requests arrived in proxy form.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::Next;
use falcon::users::UserQuery;
use falcon::{Client, Credentials, Error};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
/// Where the child's client is pointed: nothing listens there, so a call
/// only succeeds through the proxy.
const UNREACHABLE: &str = "http://127.0.0.1:9";

#[tokio::test]
async fn http_proxy_from_the_environment_is_used() -> Result<(), Box<dyn std::error::Error>> {
    let api = ApiClient::read_only();
    let spec = TenantSpec {
        users: 5,
        ..TenantSpec::demo()
    };
    let emu = Emulator::new(Tenant::generate(&spec), EmulatorConfig::default());
    emu.add_client(api.clone());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = emu.router().layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(request.uri().to_string());
                next.run(request).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(LOOPBACK).await?;
    let proxy = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let exe = std::env::current_exe()?;
    let child = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "child_calls_through_the_proxy",
            "--ignored",
            "--nocapture",
        ])
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("FALCON_PROXY_TEST_ID", &api.client_id)
        .env("FALCON_PROXY_TEST_SECRET", &api.client_secret)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|uri| uri.starts_with("http://127.0.0.1:9/oauth2/token")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|uri| uri.starts_with("http://127.0.0.1:9/user-management/")),
        "{seen:?}"
    );
    Ok(())
}

/// Runs only as the child of the test above (it needs its environment).
#[tokio::test]
#[ignore = "run by http_proxy_from_the_environment_is_used"]
async fn child_calls_through_the_proxy() {
    let (Ok(id), Ok(secret)) = (
        std::env::var("FALCON_PROXY_TEST_ID"),
        std::env::var("FALCON_PROXY_TEST_SECRET"),
    ) else {
        return;
    };
    let credentials = Credentials::new(id, secret);
    let proxied = Client::builder(UNREACHABLE.parse().unwrap(), credentials.clone())
        .build()
        .unwrap();
    let ids = proxied.users().query_ids(&UserQuery::all()).await.unwrap();
    assert_eq!(ids.len(), 5);

    // `no_proxy()` ignores the environment: straight to the dead address.
    let direct = Client::builder(UNREACHABLE.parse().unwrap(), credentials)
        .retry_policy(falcon::RetryPolicy::none())
        .no_proxy()
        .build()
        .unwrap();
    // (It shares the proxied client's token: same cloud and credentials.)
    let err = direct
        .users()
        .query_ids(&UserQuery::all())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}
