//! Which tenant a command talks to: the demo emulator, or a real one from
//! the environment. Shared by `host run` and `host check`.

use std::str::FromStr as _;

use crate::{Exit, Failure};

/// A Falcon client for the demo tenant (started here, on loopback) or for
/// the tenant named by the environment; not yet authenticated.
pub(crate) async fn client(
    demo: bool,
    cloud_flag: Option<&str>,
    quiet: bool,
) -> Result<(falcon::Client, Option<crate::demo::Demo>), Failure> {
    let (cloud, credentials, demo) = if demo {
        let demo = crate::demo::start().await.map_err(|e| {
            Failure::new(
                Exit::Host,
                format!("failed to start the demo tenant on 127.0.0.1: {e}"),
            )
        })?;
        if !quiet {
            eprintln!(
                "host: demo tenant with {} users served at {}",
                demo.users,
                demo.emulator.base_url()
            );
        }
        let cloud = falcon::Cloud::from_str(&demo.emulator.base_url())
            .map_err(|e| Failure::new(Exit::Host, format!("demo tenant address: {e}")))?;
        (cloud, demo.credentials.clone(), Some(demo))
    } else {
        let (cloud, credentials) = credentials_from_env(cloud_flag)?;
        (cloud, credentials, None)
    };
    // Every `host run` on one tenant draws from its one rate-limit pool: the
    // runs pace together through a shared state file. A demo tenant is this
    // process's own.
    let shared = demo
        .is_none()
        .then(|| limiter_file(&cloud, &credentials))
        .flatten();
    let mut builder = falcon::Client::builder(cloud, credentials);
    if let Some(path) = shared {
        builder = builder.rate_limiter(falcon::RateLimiter::new().shared_through(path));
    }
    let client = builder.build().map_err(|e| {
        Failure::new(
            Exit::Host,
            format!("failed to set up the Falcon client: {e}"),
        )
    })?;
    Ok((client, demo))
}

/// The rate-limit state file of one tenant's API client:
/// `$XDG_RUNTIME_DIR/falcon-plugin-host/`, else the cache directory, named
/// by a digest of the cloud, the client id and the member CID. None when
/// no such directory can be made (the run then paces on its own).
fn limiter_file(
    cloud: &falcon::Cloud,
    credentials: &falcon::Credentials,
) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| crate::config::user_dir("XDG_CACHE_HOME", &[".cache"]))?;
    let dir = base.join("falcon-plugin-host").join("ratelimit");
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(&dir).ok()?;
    let key = format!(
        "{}\n{}\n{}",
        cloud.base_url(),
        credentials.client_id,
        credentials.member_cid.as_deref().unwrap_or_default()
    );
    Some(dir.join(&crate::manifest::sha256_hex(key.as_bytes())[..16]))
}

/// Credentials and cloud from the environment or the config file (see
/// `config.rs` for the precedence).
pub(crate) fn credentials_from_env(
    cloud_flag: Option<&str>,
) -> Result<(falcon::Cloud, falcon::Credentials), Failure> {
    let config = crate::config::get();
    let missing = |name: &str| {
        Failure::new(
            Exit::Usage,
            format!(
                "{name} is not set; set FALCON_CLIENT_ID and FALCON_CLIENT_SECRET to an API \
                 client's credentials (and FALCON_CLOUD), put them in the config file (see \
                 `host config show`), or run with --demo"
            ),
        )
    };
    let client_id = config
        .client_id()
        .ok_or_else(|| missing("FALCON_CLIENT_ID"))?
        .value;
    let secret = config
        .client_secret()
        .ok_or_else(|| missing("FALCON_CLIENT_SECRET"))?
        .value;
    let cloud = config.cloud(cloud_flag);
    let cloud = falcon::Cloud::from_str(&cloud.value).map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!(
                "unknown cloud `{}` (from {}): {}",
                cloud.value,
                cloud.source,
                e.to_string().trim_start_matches("invalid input: ")
            ),
        )
    })?;
    let mut credentials = falcon::Credentials::new(client_id, secret);
    if let Some(member) = config.member_cid() {
        credentials = credentials.with_member_cid(member.value);
    }
    Ok((cloud, credentials))
}
