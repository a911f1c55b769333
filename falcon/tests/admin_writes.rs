//! Policy creation, changes, deletion and precedence, host-group and IOC
//! changes, and RTR admin scripts and put-files against the real emulator.

use std::net::SocketAddr;

use falcon::fql::Fql;
use falcon::host_groups::{GroupType, HostGroupUpdate, NewHostGroup};
use falcon::iocs::{IocChange, IocQuery, IocUpdate, NewIoc};
use falcon::policies::{
    NewPolicy, PolicyAction, PolicyActionRequest, PolicyKind, PolicyPrecedence, PolicyQuery,
    PolicyUpdate,
};
use falcon::rtr::{Command, FileKind, FileQuery, NewCloudFile, SessionRequest, Tier};
use falcon::{Client, Cloud, Credentials, Error};
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

async fn serve(tenant: Tenant, api: &ApiClient) -> RunningEmulator {
    let emu = Emulator::new(tenant, EmulatorConfig::default());
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

#[tokio::test]
async fn policies_of_each_kind_are_created_changed_ordered_and_deleted() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(Tenant::generate(&TenantSpec::demo()), &api).await;
    let client = client_for(&running, &api);
    for kind in [
        PolicyKind::Prevention,
        PolicyKind::Response,
        PolicyKind::SensorUpdate,
    ] {
        let policies = client.policies(kind);
        let created = policies
            .create(&NewPolicy::new("falcon-test", "Windows").description("made by a test"))
            .await?;
        assert_eq!(created.name, "falcon-test", "{kind:?}");
        assert_eq!(created.platform_name, "Windows");
        assert_eq!(created.description, "made by a test");
        assert!(!created.enabled);
        // The same name on the same platform is refused (409), not hidden.
        let err = policies
            .create(&NewPolicy::new("falcon-test", "Windows"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(409), "{kind:?}: {err:?}");
        assert!(matches!(
            policies.create(&NewPolicy::new(" ", "Windows")).await,
            Err(Error::InvalidInput(_))
        ));

        let changed = policies
            .update(&PolicyUpdate::new(&created.id).name("falcon-test-renamed"))
            .await?;
        assert_eq!(changed.id, created.id);
        assert_eq!(changed.name, "falcon-test-renamed", "{kind:?}");
        assert_eq!(changed.description, "made by a test");
        let fetched = policies.get(std::slice::from_ref(&created.id)).await?;
        assert_eq!(fetched.found[0].name, "falcon-test-renamed");
        assert!(matches!(
            policies.update(&PolicyUpdate::new(&created.id)).await,
            Err(Error::InvalidInput(_))
        ));
        let err = policies
            .update(&PolicyUpdate::new("0".repeat(32)).description("x"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404), "{kind:?}: {err:?}");

        // Precedence: every custom Windows policy, the new one first.
        let second = policies
            .create(&NewPolicy::new("falcon-test-2", "Windows"))
            .await?;
        let filter = Fql::new().eq("platform_name", "Windows").build()?;
        let windows = policies
            .list(&PolicyQuery::filtered(filter.clone()))
            .await?;
        let mut order: Vec<String> = vec![created.id.clone()];
        order.extend(
            windows
                .iter()
                .filter(|p| p.name != "platform_default" && p.id != created.id)
                .map(|p| p.id.clone()),
        );
        policies
            .set_precedence(&PolicyPrecedence::new("Windows", order.clone()))
            .await?;
        let after = policies.get(std::slice::from_ref(&created.id)).await?;
        assert_eq!(after.found[0].raw["precedence"], 1, "{kind:?}");
        assert!(order.len() >= 2 && order.contains(&second.id));
        // An incomplete list is refused.
        let err = policies
            .set_precedence(&PolicyPrecedence::new("Windows", &order[..order.len() - 1]))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{kind:?}: {err:?}");
        policies.delete(std::slice::from_ref(&second.id)).await?;
        assert!(matches!(
            policies
                .set_precedence(&PolicyPrecedence::new(
                    "Windows",
                    [created.id.clone(), created.id.clone()]
                ))
                .await,
            Err(Error::InvalidInput(_))
        ));

        // Delete: an enabled policy and the platform default are refused per
        // id; the disabled custom policy goes.
        let default = windows
            .iter()
            .find(|p| p.name == "platform_default")
            .expect("a windows platform default");
        policies
            .act(&PolicyActionRequest::new(
                PolicyAction::Enable,
                [created.id.clone()],
            ))
            .await?;
        let refused = policies
            .delete(&[created.id.clone(), default.id.clone()])
            .await?;
        assert!(refused.affected.is_empty(), "{kind:?}: {refused:?}");
        assert_eq!(refused.errors.len(), 2, "{kind:?}: {refused:?}");
        policies
            .act(&PolicyActionRequest::new(
                PolicyAction::Disable,
                [created.id.clone()],
            ))
            .await?;
        let outcome = policies
            .delete(&[created.id.clone(), default.id.clone()])
            .await?;
        assert_eq!(
            outcome.affected,
            std::slice::from_ref(&created.id),
            "{kind:?}"
        );
        assert_eq!(outcome.errors.len(), 1);
        assert_eq!(outcome.errors[0].id, default.id);
        let gone = policies.get(std::slice::from_ref(&created.id)).await?;
        assert_eq!(gone.missing, std::slice::from_ref(&created.id), "{kind:?}");
    }
    Ok(())
}

#[tokio::test]
async fn policy_writes_need_the_write_scope() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(Tenant::generate(&TenantSpec::demo()), &api).await;
    let client = client_for(&running, &api);
    let err = client
        .policies(PolicyKind::SensorUpdate)
        .create(&NewPolicy::new("nope", "Linux"))
        .await
        .unwrap_err();
    match err {
        Error::Forbidden { api_scope, .. } => {
            assert_eq!(api_scope, "sensor-update-policies:write");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn host_groups_are_changed() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(Tenant::generate(&TenantSpec::demo()), &api).await;
    let client = client_for(&running, &api);
    let groups = client.host_groups();
    let group = groups
        .create(
            &NewHostGroup::new("falcon-dyn", GroupType::Dynamic)
                .assignment_rule("platform_name:'Windows'"),
        )
        .await?;
    let changed = groups
        .update(
            &HostGroupUpdate::new(&group.id)
                .name("falcon-dyn-2")
                .description("renamed by a test")
                .assignment_rule("platform_name:'Linux'"),
        )
        .await?;
    assert_eq!(changed.id, group.id);
    assert_eq!(changed.name, "falcon-dyn-2");
    assert_eq!(changed.description, "renamed by a test");
    assert_eq!(
        changed.assignment_rule.as_deref(),
        Some("platform_name:'Linux'")
    );
    let fetched = groups.get(std::slice::from_ref(&group.id)).await?;
    assert_eq!(fetched.found[0].name, "falcon-dyn-2");
    assert!(matches!(
        groups.update(&HostGroupUpdate::new(&group.id)).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        groups.update(&HostGroupUpdate::new(" ").name("x")).await,
        Err(Error::InvalidInput(_))
    ));
    let err = groups
        .update(&HostGroupUpdate::new("0".repeat(32)).name("x"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
    groups.delete(std::slice::from_ref(&group.id)).await?;
    Ok(())
}

#[tokio::test]
async fn iocs_are_changed_and_unknown_ids_reported() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(Tenant::generate(&TenantSpec::demo()), &api).await;
    let client = client_for(&running, &api);
    let created = client
        .iocs()
        .create(&[NewIoc::new("domain", "changed.example.test")
            .action("detect")
            .severity("low")
            .globally()])
        .await?;
    let id = created[0].id.clone();
    let unknown = "f".repeat(64);
    let batch = client
        .iocs()
        .update(
            &IocUpdate::new([
                IocChange::new(&id)
                    .action("prevent")
                    .severity("high")
                    .description("escalated")
                    .tags(["case-7"]),
                IocChange::new(&unknown).severity("low"),
            ])
            .comment("escalated by a test"),
        )
        .await?;
    assert_eq!(batch.found.len(), 1);
    let ioc = &batch.found[0];
    assert_eq!(ioc.id, id);
    assert_eq!(ioc.action, "prevent");
    assert_eq!(ioc.severity.as_deref(), Some("high"));
    assert_eq!(ioc.description, "escalated");
    assert_eq!(ioc.tags, ["case-7"]);
    assert_eq!(batch.missing, std::slice::from_ref(&unknown));
    assert_eq!(batch.errors.len(), 1);
    assert_eq!(batch.errors[0].id, unknown);
    let filter = Fql::new().eq("value", "changed.example.test").build()?;
    let listed = client.iocs().list(&IocQuery::filtered(filter)).await?;
    assert_eq!(listed[0].action, "prevent");

    // Only unknown ids: still a result, every id reported.
    let none = client
        .iocs()
        .update(&IocUpdate::new([IocChange::new(&unknown).action("detect")]))
        .await?;
    assert!(none.found.is_empty());
    assert_eq!(none.missing, std::slice::from_ref(&unknown));
    // An invalid value fails the call.
    let err = client
        .iocs()
        .update(&IocUpdate::new([IocChange::new(&id).action("explode")]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    assert!(matches!(
        client
            .iocs()
            .update(&IocUpdate::new([IocChange::new(&id), IocChange::new(&id)]))
            .await,
        Err(Error::InvalidInput(_))
    ));
    client.iocs().delete(&[id]).await?;
    Ok(())
}

#[tokio::test]
async fn rtr_scripts_and_put_files_are_uploaded_listed_run_and_deleted() -> TestResult {
    let api = ApiClient::full_access();
    let mut tenant = Tenant::generate(&TenantSpec::demo());
    tenant.hosts[0].online_state = "online".into();
    let host = tenant.hosts[0].device_id.clone();
    let running = serve(tenant, &api).await;
    let client = client_for(&running, &api);
    let rtr = client.rtr();

    for kind in [FileKind::Script, FileKind::PutFile] {
        assert!(rtr.file_ids(&FileQuery::all(kind)).await?.is_empty());
        // Characters that need form encoding survive the trip.
        let content = "Write-Host 'a+b & c=d' 100%\r\n# done";
        rtr.create_file(
            &NewCloudFile::new(kind, "collect.ps1", "collects things", content)
                .permission_type("group")
                .comment("uploaded by a test"),
        )
        .await?;
        let err = rtr
            .create_file(&NewCloudFile::new(kind, "collect.ps1", "again", "x"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(409), "{kind:?}: {err:?}");
        assert!(matches!(
            rtr.create_file(&NewCloudFile::new(kind, "empty.ps1", "d", ""))
                .await,
            Err(Error::InvalidInput(_))
        ));

        let ids = rtr.file_ids(&FileQuery::all(kind)).await?;
        assert_eq!(ids.len(), 1, "{kind:?}");
        let unknown = "0".repeat(65);
        let batch = rtr.files(kind, &[ids[0].clone(), unknown.clone()]).await?;
        assert_eq!(batch.found.len(), 1);
        assert_eq!(batch.missing, [unknown]);
        let file = &batch.found[0];
        assert_eq!(file.name, "collect.ps1");
        assert_eq!(file.description, "collects things");
        assert_eq!(file.permission_type, "group");
        assert_eq!(file.size, Some(content.len() as i64));
        match kind {
            FileKind::Script => {
                assert_eq!(file.file_type, "script");
                assert_eq!(file.content.as_deref(), Some(content));
            }
            _ => {
                assert_eq!(file.file_type, "binary");
                assert!(file.content.is_none());
            }
        }

        if kind == FileKind::Script {
            // The uploaded script runs by name.
            let session = rtr.init_session(&SessionRequest::new(&host)).await?;
            let output = rtr
                .run_and_wait(
                    &Command::new(
                        Tier::ActiveResponder,
                        &session.session_id,
                        "runscript -CloudFile=\"collect.ps1\"",
                    ),
                    std::time::Duration::from_secs(5),
                )
                .await?;
            assert!(output.stdout.contains("collect.ps1"), "{output:?}");
            rtr.close_session(&session.session_id).await?;
        }

        rtr.delete_file(kind, &ids[0]).await?;
        assert!(rtr.file_ids(&FileQuery::all(kind)).await?.is_empty());
        let err = rtr.delete_file(kind, &ids[0]).await.unwrap_err();
        assert_eq!(err.status(), Some(404), "{kind:?}: {err:?}");
        assert!(matches!(
            rtr.delete_file(kind, " ").await,
            Err(Error::InvalidInput(_))
        ));
    }

    // Scripts and put-files need the admin scope.
    let reader = ApiClient::with_scopes(&["real-time-response:read", "real-time-response:write"]);
    running.add_client(reader.clone());
    let limited = client_for(&running, &reader);
    let err = limited
        .rtr()
        .file_ids(&FileQuery::all(FileKind::Script))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Forbidden { api_scope, .. } if api_scope == "real-time-response-admin:write"),
        "{err:?}"
    );
    Ok(())
}
