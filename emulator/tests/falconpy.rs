//! The emulator driven by CrowdStrike's official Python SDK, FalconPy, unchanged: the
//! suite in `tests/falconpy/` runs under the repository's `.venv` against an
//! emulator started here on 127.0.0.1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, Tenant, TenantSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falconpy_suite_passes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the emulator crate sits in the workspace")
        .to_path_buf();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `./dev setup` to create .venv",
        python.display()
    );

    let config = EmulatorConfig {
        // FalconPy moves to the cloud named in `X-Cs-Region` when it differs from the
        // base URL's; a region name it does not know keeps it on the emulator.
        region: "emulator".to_owned(),
        containment_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    };
    let tenant = Tenant::generate(&TenantSpec::demo());
    let child_cid = tenant.children[0].cid.clone();
    let emulator = Emulator::new(tenant, config);
    let (full, read_only) = (ApiClient::full_access(), ApiClient::read_only());
    emulator.add_client(full.clone());
    emulator.add_client(read_only.clone());
    let running = emulator
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind 127.0.0.1");

    let output = tokio::process::Command::new(&python)
        .args([
            "-m",
            "pytest",
            "emulator/tests/falconpy",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(&root)
        .env("FALCON_BASE_URL", running.base_url())
        .env("FALCON_CLIENT_ID", &full.client_id)
        .env("FALCON_CLIENT_SECRET", &full.client_secret)
        .env("FALCON_READONLY_CLIENT_ID", &read_only.client_id)
        .env("FALCON_READONLY_CLIENT_SECRET", &read_only.client_secret)
        .env("FALCON_CHILD_CID", &child_cid)
        .env("NO_PROXY", "127.0.0.1")
        // No `__pycache__` in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .output()
        .await
        .expect("run pytest");
    running.shutdown().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "falconpy suite failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    println!("{stdout}");
}
