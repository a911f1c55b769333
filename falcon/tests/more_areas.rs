//! IOCs, incidents, policies, sensor builds/installers and RTR against the
//! real emulator.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use falcon::fql::Fql;
use falcon::incidents::{IncidentAction, IncidentQuery};
use falcon::iocs::{IocQuery, NewIoc};
use falcon::policies::{PolicyAction, PolicyActionRequest, PolicyKind, PolicyQuery};
use falcon::rtr::{BatchCommand, BatchSessionRequest, Command, SessionRequest, Tier};
use falcon::sensors::InstallerQuery;
use falcon::{Client, Cloud, Credentials, Error};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

async fn serve(spec: &TenantSpec, config: EmulatorConfig, api: &ApiClient) -> RunningEmulator {
    let emu = Emulator::new(Tenant::generate(spec), config);
    emu.add_client(api.clone());
    emu.serve(LOOPBACK).await.expect("emulator binds loopback")
}

fn client_for(running: &RunningEmulator, api: &ApiClient) -> Client {
    let cloud: Cloud = running.base_url().parse().expect("emulator url parses");
    assert!(
        matches!(cloud, Cloud::Custom(_)),
        "tests only talk to loopback"
    );
    Client::builder(
        cloud,
        Credentials::new(api.client_id.clone(), api.client_secret.clone()),
    )
    .build()
    .expect("client builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iocs_page_with_after_and_expired_after_is_an_error() -> TestResult {
    let api = ApiClient::full_access();
    let spec = TenantSpec {
        iocs: 4_500,
        ..TenantSpec::demo()
    };
    let running = serve(&spec, EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();

    let ids = client.iocs().query_ids(&IocQuery::all()).await?;
    assert_eq!(ids.len(), tenant.iocs.len());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let listed = client.iocs().list(&IocQuery::all()).await?;
    assert_eq!(listed.len(), tenant.iocs.len());

    let batch = client.iocs().get(&[ids[7].clone(), "f".repeat(64)]).await?;
    assert_eq!(batch.found.len(), 1);
    assert_eq!(batch.errors.len(), 1);

    let created = client
        .iocs()
        .create(&[NewIoc::new("domain", "bad.example.test")
            .action("prevent")
            .severity("high")
            .globally()])
        .await?;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].value, "bad.example.test");
    let filter = Fql::new().eq("value", "bad.example.test").build()?;
    assert_eq!(
        client.iocs().list(&IocQuery::filtered(filter)).await?.len(),
        1
    );
    // A duplicate is refused (409), not replayed or hidden.
    let err = client
        .iocs()
        .create(&[NewIoc::new("domain", "bad.example.test").globally()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err:?}");
    client.iocs().delete(&[created[0].id.clone()]).await?;

    running.set_cursor_lifetime(Duration::from_millis(1));
    let err = client.iocs().query_ids(&IocQuery::all()).await.unwrap_err();
    assert!(
        matches!(err, Error::CursorExpired { received: 2000, .. }),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn incidents_are_listed_fetched_and_updated() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(&TenantSpec::demo(), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    let ids = client.incidents().query_ids(&IncidentQuery::all()).await?;
    assert_eq!(ids.len(), tenant.incidents.len());
    let mut asked = ids.clone();
    asked.push("inc:nope:nope".to_owned());
    let batch = client.incidents().get(&asked).await?;
    assert_eq!(batch.found.len(), ids.len());
    assert_eq!(batch.missing, ["inc:nope:nope"]);
    let outcome = client
        .incidents()
        .act(
            &IncidentAction::new([ids[0].clone(), "inc:nope:nope".to_owned()])
                .status(30)
                .tag("triaged"),
        )
        .await?;
    assert_eq!(outcome.affected, [ids[0].clone()]);
    assert_eq!(outcome.errors.len(), 1);
    let after = client.incidents().get(&ids[..1]).await?;
    assert_eq!(after.found[0].status, Some(30));
    assert!(after.found[0].tags.iter().any(|t| t == "triaged"));
    Ok(())
}

#[tokio::test]
async fn policies_of_each_kind_builds_and_installers() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(&TenantSpec::demo(), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    for kind in [
        PolicyKind::Prevention,
        PolicyKind::Response,
        PolicyKind::SensorUpdate,
    ] {
        let policies = client.policies(kind);
        let ids = policies.query_ids(&PolicyQuery::all()).await?;
        let listed = policies.list(&PolicyQuery::all()).await?;
        assert_eq!(ids.len(), listed.len(), "{kind:?}");
        assert!(!ids.is_empty(), "{kind:?}");
        let batch = policies.get(&ids).await?;
        assert_eq!(batch.found.len(), ids.len());
        let target = &listed[0];
        let changed = policies
            .act(&PolicyActionRequest::new(
                if target.enabled {
                    PolicyAction::Disable
                } else {
                    PolicyAction::Enable
                },
                [target.id.clone()],
            ))
            .await?;
        assert_eq!(changed[0].enabled, !target.enabled, "{kind:?}");
        let group = &tenant.host_groups[0].id;
        let changed = policies
            .act(
                &PolicyActionRequest::new(PolicyAction::AddHostGroup, [target.id.clone()])
                    .group(group),
            )
            .await?;
        assert!(
            changed[0].group_ids.contains(group),
            "{kind:?}: {:?}",
            changed[0].group_ids
        );
        policies.member_ids(&target.id).await?;
        assert!(matches!(
            policies
                .act(&PolicyActionRequest::new(
                    PolicyAction::AddHostGroup,
                    [target.id.clone()]
                ))
                .await,
            Err(Error::InvalidInput(_))
        ));
    }
    let builds = client.sensors().builds(Some("windows")).await?;
    assert!(!builds.is_empty());
    assert!(builds.iter().all(|b| b.platform.starts_with("windows")));
    let installers = client.sensors().installers(&InstallerQuery::all()).await?;
    assert_eq!(installers.len(), tenant.installers.len());
    let got = client
        .sensors()
        .get(&[installers[0].sha256.clone()])
        .await?;
    assert_eq!(got.found.len(), 1);
    // A binary download: the body comes back as bytes, not as an envelope.
    let bytes = client.sensors().download(&installers[0].sha256).await?;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&installers[0].sha256), "{text}");
    let missing = client
        .sensors()
        .download(&"0".repeat(64))
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404), "{missing}");
    let ccid = client.sensors().ccid().await?;
    assert!(ccid.to_lowercase().starts_with(&tenant.cid), "{ccid}");
    Ok(())
}

#[tokio::test]
async fn rtr_session_runs_a_command_and_offline_hosts_are_refused() -> TestResult {
    let api = ApiClient::full_access();
    let mut tenant = Tenant::generate(&TenantSpec::demo());
    tenant.hosts[0].online_state = "online".into();
    tenant.hosts[1].online_state = "offline".into();
    let emu = Emulator::new(
        tenant.clone(),
        EmulatorConfig {
            rtr_command_delay: Duration::from_millis(300),
            ..EmulatorConfig::default()
        },
    );
    emu.add_client(api.clone());
    let running = emu.serve(LOOPBACK).await?;
    let client = client_for(&running, &api);
    let rtr = client.rtr();

    let session = rtr
        .init_session(&SessionRequest::new(tenant.hosts[0].device_id.clone()))
        .await?;
    assert!(!session.offline_queued);
    let output = rtr
        .run_and_wait(
            &Command::new(Tier::ReadOnly, &session.session_id, "ps"),
            Duration::from_secs(3),
        )
        .await?;
    assert!(output.complete);
    assert!(!output.stdout.is_empty());
    // A tier that does not allow the command: refused, not escalated.
    let err = rtr
        .run(&Command::new(
            Tier::ReadOnly,
            &session.session_id,
            "rm /tmp/x",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    rtr.close_session(&session.session_id).await?;

    let err = rtr
        .init_session(&SessionRequest::new(tenant.hosts[1].device_id.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Api {
                code: Some(40407),
                ..
            }
        ),
        "{err:?}"
    );
    let queued = rtr
        .init_session(&SessionRequest::new(tenant.hosts[1].device_id.clone()).queue_offline())
        .await?;
    assert!(queued.offline_queued);

    // A batch: per-host results in the order asked, offline hosts refused.
    let hosts = vec![
        tenant.hosts[1].device_id.clone(),
        tenant.hosts[0].device_id.clone(),
    ];
    let batch = rtr
        .batch_init(&BatchSessionRequest::new(hosts.clone()))
        .await?;
    assert!(!batch.batch_id.is_empty());
    assert_eq!(batch.hosts[0].device_id, hosts[0]);
    assert!(batch.hosts[0].session_id.is_none());
    assert!(batch.hosts[0].error.is_some());
    assert!(batch.hosts[1].session_id.is_some());
    let results = rtr
        .batch_run(
            &BatchCommand::new(Tier::ReadOnly, &batch.batch_id, "ps"),
            &hosts,
        )
        .await?;
    assert_eq!(results.len(), 2);
    assert!(
        results[1].complete && !results[1].stdout.is_empty(),
        "{results:?}"
    );
    assert!(!results[0].complete && results[0].error.is_some());

    // No host can join: a 404 with per-host errors, still a result.
    let only_offline = vec![tenant.hosts[1].device_id.clone()];
    let none = rtr
        .batch_init(&BatchSessionRequest::new(only_offline))
        .await?;
    assert!(none.batch_id.is_empty());
    assert!(
        none.hosts[0]
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("offline"))
    );
    Ok(())
}
