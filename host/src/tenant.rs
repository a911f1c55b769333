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
    let client = falcon::Client::builder(cloud, credentials)
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Host,
                format!("failed to set up the Falcon client: {e}"),
            )
        })?;
    Ok((client, demo))
}

/// The configured cloud: the flag, else `FALCON_CLOUD`, else US-1.
pub(crate) fn credentials_from_env(
    cloud_flag: Option<&str>,
) -> Result<(falcon::Cloud, falcon::Credentials), Failure> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let need = |name: &str| {
        var(name).ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                format!(
                    "{name} is not set; set FALCON_CLIENT_ID and FALCON_CLIENT_SECRET to an API \
                     client's credentials (and FALCON_CLOUD), or run with --demo"
                ),
            )
        })
    };
    let client_id = need("FALCON_CLIENT_ID")?;
    let secret = need("FALCON_CLIENT_SECRET")?;
    let cloud_text = cloud_flag
        .map(str::to_owned)
        .or_else(|| var("FALCON_CLOUD"));
    let cloud = match cloud_text {
        Some(text) => falcon::Cloud::from_str(&text).map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!(
                    "unknown cloud `{text}`: {e}; use us-1, us-2, eu-1, us-gov-1, us-gov-2 or a \
                     base URL"
                ),
            )
        })?,
        None => falcon::Cloud::Us1,
    };
    let mut credentials = falcon::Credentials::new(client_id, secret);
    if let Some(member) = var("FALCON_MEMBER_CID") {
        credentials = credentials.with_member_cid(member);
    }
    Ok((cloud, credentials))
}
