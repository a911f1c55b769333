//! Hosts, host groups and alerts against the real emulator, with its fault
//! switches (cursor lifetimes, null lists, HTML/text/empty error bodies,
//! server errors).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use falcon::alerts::{AlertQuery, AlertUpdate};
use falcon::fql::Fql;
use falcon::host_groups::{GroupType, HostGroupQuery, NewHostGroup};
use falcon::hosts::{HostAction, HostActionRequest, HostQuery, TagAction, TagUpdate};
use falcon::{Client, Cloud, Credentials, Error, RetryPolicy};
use falcon_emulator::server::ErrorBody;
use falcon_emulator::{ApiClient, Emulator, EmulatorConfig, RunningEmulator, Tenant, TenantSpec};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn spec(hosts: usize, alerts: usize) -> TenantSpec {
    TenantSpec {
        users: 8,
        hosts,
        alerts,
        ..TenantSpec::demo()
    }
}

/// Generates a tenant whose hosts are all visible (hidden hosts are left out
/// of host queries, as in Falcon).
fn visible(spec: &TenantSpec) -> Tenant {
    let mut tenant = Tenant::generate(spec);
    for host in &mut tenant.hosts {
        host.hidden = false;
    }
    tenant
}

async fn serve(tenant: Tenant, config: EmulatorConfig, api: &ApiClient) -> RunningEmulator {
    let emu = Emulator::new(tenant, config);
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

// ---- paging: scroll, offset window, cursor expiry ---------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scroll_lists_12345_hosts_exactly_while_offset_reports_the_window() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(12_345, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();

    let ids = client.hosts().query_ids(&HostQuery::all()).await?;
    assert_eq!(ids.len(), 12_345);
    let want: HashSet<&str> = tenant.hosts.iter().map(|h| h.device_id.as_str()).collect();
    let got: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    let after_scroll = running.request_count();

    let err = client
        .hosts()
        .query_ids_offset(&HostQuery::all())
        .await
        .unwrap_err();
    match &err {
        Error::WindowExceeded { total, window, .. } => {
            assert_eq!((*total, *window), (12_345, 10_000));
        }
        other => panic!("expected the window error, got {other:?}"),
    }
    // Detected on the first page, before crossing the window.
    assert_eq!(running.request_count() - after_scroll, 1);

    // Inside the window the offset path lists exactly.
    let first = client
        .hosts()
        .query_ids_offset(&HostQuery::all().max_results(7_000))
        .await?;
    assert_eq!(first.len(), 7_000);
    assert_eq!(first.iter().collect::<HashSet<_>>().len(), 7_000);

    // 6,001 ids: two POST calls, found in the order asked.
    let wanted: Vec<String> = ids.iter().rev().take(6_001).cloned().collect();
    let before = running.request_count();
    let batch = client.hosts().get(&wanted).await?;
    assert_eq!(running.request_count() - before, 2);
    assert!(batch.missing.is_empty() && batch.errors.is_empty());
    let order: Vec<&str> = batch.found.iter().map(|h| h.device_id.as_str()).collect();
    assert_eq!(order, wanted.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_pages_hand_out_12345_full_records_from_two_requests() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(12_345, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    client
        .hosts()
        .get(&[tenant.hosts[0].device_id.as_str()])
        .await?; // the token
    let before = running.request_count();

    let mut pages = client.hosts().pages(HostQuery::all());
    assert_eq!(pages.total(), None, "nothing fetched before the first page");
    let mut sizes = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let page = pages.next_hosts(4_000).await?;
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        for host in page {
            let expected = tenant
                .hosts
                .iter()
                .find(|h| h.device_id == host.device_id)
                .expect("a host of the tenant");
            assert_eq!(host.hostname.as_deref(), Some(expected.hostname.as_str()));
            assert!(seen.insert(host.device_id), "no host twice");
        }
    }
    // 10,000 records a request; the plugin-sized pages are cut from them.
    assert_eq!(sizes, [4_000, 4_000, 4_000, 345]);
    assert_eq!(seen.len(), 12_345);
    assert_eq!(pages.total(), Some(12_345));
    assert_eq!(running.request_count() - before, 2);

    // An expired page token is an error, never a short listing.
    running.set_cursor_lifetime(Duration::from_millis(1));
    let mut pages = client.hosts().pages(HostQuery::all());
    assert_eq!(pages.next_hosts(10_000).await?.len(), 10_000);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = pages.next_hosts(10_000).await.unwrap_err();
    assert!(matches!(err, Error::CursorExpired { .. }), "{err:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_scroll_cursor_is_an_error_never_a_short_list() -> TestResult {
    let api = ApiClient::read_only();
    let config = EmulatorConfig {
        cursor_lifetime: Duration::from_millis(1),
        ..EmulatorConfig::default()
    };
    let running = serve(visible(&spec(5_200, 10)), config, &api).await;
    let client = client_for(&running, &api);
    let err = client
        .hosts()
        .query_ids(&HostQuery::all())
        .await
        .unwrap_err();
    match &err {
        Error::CursorExpired {
            received, message, ..
        } => {
            assert_eq!(*received, 5_000);
            assert!(message.contains("expired"), "{message}");
        }
        other => panic!("expected an expired cursor, got {other:?}"),
    }
    running.set_cursor_lifetime(Duration::from_secs(120));
    assert_eq!(
        client.hosts().query_ids(&HostQuery::all()).await?.len(),
        5_200
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_scroll_hands_out_pages_that_add_up_to_the_listing() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(1_203, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let whole = client.hosts().query_ids(&HostQuery::all()).await?;
    let mut scroll = client.hosts().scroll(HostQuery::all());
    assert_eq!(
        scroll.total(),
        None,
        "nothing fetched before the first page"
    );
    let mut streamed = Vec::new();
    let mut pages = Vec::new();
    while let Some(page) = scroll.next_ids(500).await? {
        pages.push(page.len());
        streamed.extend(page);
    }
    assert_eq!(pages, [500, 500, 203]);
    assert_eq!(scroll.total(), Some(1_203));
    assert_eq!(streamed, whole);
    assert_eq!(
        scroll.next_ids(500).await?,
        None,
        "a finished scroll stays finished"
    );

    // `max_results` stops the scroll mid-page.
    let mut capped = client.hosts().scroll(HostQuery::all().max_results(650));
    let mut sizes = Vec::new();
    while let Some(page) = capped.next_ids(400).await? {
        sizes.push(page.len());
    }
    assert_eq!(sizes, [400, 250]);
    Ok(())
}

// ---- lookups: partial success, FQL escaping ----------------------------------------------

#[tokio::test]
async fn unknown_host_ids_come_back_as_missing_with_per_id_errors() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(50, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    let (a, b) = (
        tenant.hosts[4].device_id.clone(),
        tenant.hosts[9].device_id.clone(),
    );
    let unknown = "0".repeat(32);
    for ids in [
        vec![b.clone(), unknown.clone(), a.clone()],
        // Over 100 ids: the POST variant.
        std::iter::once(b.clone())
            .chain((0..150).map(|i| format!("{i:032x}")))
            .chain([a.clone()])
            .collect(),
    ] {
        let batch = client.hosts().get(&ids).await?;
        let found: Vec<&str> = batch.found.iter().map(|h| h.device_id.as_str()).collect();
        assert_eq!(found, [b.as_str(), a.as_str()]);
        assert_eq!(batch.missing.len(), ids.len() - 2);
        assert_eq!(batch.errors.len(), ids.len() - 2);
        assert_eq!(batch.errors[0].code, Some(404));
        assert_eq!(batch.errors[0].id, batch.missing[0]);
    }
    // Every id unknown: HTTP 404, still a batch.
    let batch = client.hosts().get(std::slice::from_ref(&unknown)).await?;
    assert!(batch.found.is_empty());
    assert_eq!(batch.missing, std::slice::from_ref(&unknown));

    let states = client
        .hosts()
        .online_state(&[a.clone(), unknown.clone()])
        .await?;
    assert_eq!(states.found.len(), 1);
    assert_eq!(states.found[0].id, a);
    assert_eq!(states.missing, [unknown]);
    Ok(())
}

#[tokio::test]
async fn hostnames_with_a_quote_or_non_ascii_letters_are_found_exactly() -> TestResult {
    let api = ApiClient::read_only();
    let mut tenant = visible(&spec(40, 10));
    let names = [
        "O'Brien-PC",
        r"back\slash",
        "Bücherei-Rechner",
        "東京-ラップトップ",
    ];
    for (host, name) in tenant.hosts.iter_mut().zip(names) {
        host.hostname = name.to_owned();
    }
    // Decoys that a broken escape or a prefix match would also hit.
    tenant.hosts[10].hostname = "O".to_owned();
    tenant.hosts[11].hostname = "Bucherei-Rechner".to_owned();
    let running = serve(tenant.clone(), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    for (i, name) in names.iter().enumerate() {
        let filter = Fql::new().eq("hostname", *name).build()?;
        let hosts = client.hosts().query(&HostQuery::filtered(filter)).await?;
        assert_eq!(hosts.len(), 1, "{name}");
        assert_eq!(hosts[0].hostname.as_deref(), Some(*name));
        assert_eq!(hosts[0].device_id, tenant.hosts[i].device_id);
    }
    Ok(())
}

// ---- writes -------------------------------------------------------------------------------

#[tokio::test]
async fn host_actions_and_tags_report_per_id_results() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(visible(&spec(30, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    let a = tenant.hosts[1].device_id.clone();
    let unknown = "f".repeat(32);

    let outcome = client
        .hosts()
        .act(
            &HostActionRequest::new(HostAction::Contain, [a.clone(), unknown.clone()])
                .note("ir-42"),
        )
        .await?;
    assert_eq!(outcome.affected, std::slice::from_ref(&a));
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].id, unknown);

    let results = client
        .hosts()
        .update_tags(&TagUpdate::new(TagAction::Add, [a.clone()], ["quarantine"]))
        .await?;
    assert_eq!(results.len(), 1);
    assert!(results[0].updated, "{results:?}");
    let host = &client.hosts().get(std::slice::from_ref(&a)).await?.found[0];
    assert!(
        host.tags
            .iter()
            .any(|t| t == "FalconGroupingTags/quarantine"),
        "{:?}",
        host.tags
    );
    Ok(())
}

#[tokio::test]
async fn host_groups_are_created_listed_filled_and_deleted() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(visible(&spec(30, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();
    let groups = client.host_groups();
    let before = groups.list(&HostGroupQuery::all()).await?.len();
    let group = groups
        .create(&NewHostGroup::new("plugin quarantine", GroupType::Static).description("test"))
        .await?;
    assert_eq!(group.name, "plugin quarantine");
    assert_eq!(group.group_type, GroupType::Static);
    assert_eq!(groups.list(&HostGroupQuery::all()).await?.len(), before + 1);
    let got = groups.get(&[group.id.clone(), "0".repeat(32)]).await?;
    assert_eq!(got.found.len(), 1);
    assert_eq!(got.missing.len(), 1);

    let aids: Vec<String> = tenant.hosts[..3]
        .iter()
        .map(|h| h.device_id.clone())
        .collect();
    groups.add_hosts(&group.id, &aids).await?;
    let members: HashSet<String> = groups
        .member_ids(&group.id, &HostGroupQuery::all())
        .await?
        .into_iter()
        .collect();
    assert_eq!(members, aids.iter().cloned().collect());
    groups.remove_hosts(&group.id, &aids[..1]).await?;
    assert_eq!(
        groups
            .member_ids(&group.id, &HostGroupQuery::all())
            .await?
            .len(),
        2
    );
    groups.delete(std::slice::from_ref(&group.id)).await?;
    assert_eq!(groups.list(&HostGroupQuery::all()).await?.len(), before);
    assert!(matches!(
        groups
            .create(&NewHostGroup::new("x", GroupType::Static).assignment_rule("hostname:'a'"))
            .await,
        Err(Error::InvalidInput(_))
    ));
    Ok(())
}

// ---- alerts -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_page_with_after_tokens_and_update_in_batches() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(visible(&spec(50, 2_345)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    let tenant = running.tenant();

    let alerts = client.alerts().combined(&AlertQuery::all()).await?;
    assert_eq!(alerts.len(), tenant.alerts.len());
    let want: HashSet<&str> = tenant
        .alerts
        .iter()
        .map(|a| a.composite_id.as_str())
        .collect();
    let got: HashSet<&str> = alerts.iter().map(|a| a.composite_id.as_str()).collect();
    assert_eq!(got, want);

    let ids = client.alerts().query_ids(&AlertQuery::all()).await?;
    assert_eq!(ids.len(), tenant.alerts.len());

    let mut asked: Vec<String> = ids.iter().take(1_500).cloned().collect();
    asked.insert(3, "cid:ind:nope:1".to_owned());
    let batch = client.alerts().get(&asked).await?;
    assert_eq!(batch.found.len(), 1_500);
    assert_eq!(batch.missing, ["cid:ind:nope:1"]);
    let order: Vec<&str> = batch
        .found
        .iter()
        .map(|a| a.composite_id.as_str())
        .collect();
    let expected: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|id| *id != "cid:ind:nope:1")
        .collect();
    assert_eq!(order, expected);

    let update = AlertUpdate::new(asked.iter().skip(1).take(1_200).cloned())
        .status("in_progress")
        .add_tag("triaged");
    let outcome = client.alerts().update(&update).await?;
    assert!(
        outcome.affected.len() >= 1_199,
        "{}",
        outcome.affected.len()
    );
    let after = client.alerts().get(&asked[1..2]).await?;
    assert_eq!(after.found[0].status, "in_progress");
    assert!(after.found[0].tags.iter().any(|t| t == "triaged"));
    Ok(())
}

// ---- the emulator's fault switches ---------------------------------------------------------

#[tokio::test]
async fn html_text_and_empty_error_bodies_keep_status_and_trace_id() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(20, 10)), EmulatorConfig::default(), &api).await;
    let client = client_for(&running, &api);
    for kind in [ErrorBody::Html, ErrorBody::Text, ErrorBody::Empty] {
        let mut faults = running.faults();
        faults.error_body = kind;
        running.set_faults(faults);
        // An invalid filter is a 400 from the emulator.
        let err = client
            .hosts()
            .query_ids_offset(&HostQuery::filtered("no_such_field:'x'"))
            .await
            .unwrap_err();
        match &err {
            Error::Api {
                status,
                trace_id,
                body: Some(body),
                ..
            } => {
                assert_eq!(*status, 400, "{kind:?}");
                assert!(
                    trace_id.as_deref().is_some_and(|t| !t.is_empty()),
                    "{kind:?}"
                );
                match kind {
                    ErrorBody::Html => {
                        assert_eq!(body.content_type.as_deref(), Some("text/html"));
                        assert!(body.excerpt.contains("<html>"));
                    }
                    ErrorBody::Text => {
                        assert_eq!(body.content_type.as_deref(), Some("text/plain"));
                        assert!(body.excerpt.starts_with("400"));
                    }
                    _ => assert_eq!(body.excerpt, ""),
                }
            }
            other => panic!("{kind:?}: expected an api error, got {other:?}"),
        }
        assert_eq!(err.status(), Some(400));
        assert!(err.trace_id().is_some());
    }
    Ok(())
}

#[tokio::test]
async fn null_lists_and_server_errors_on_reads_are_absorbed() -> TestResult {
    let api = ApiClient::read_only();
    let running = serve(visible(&spec(300, 10)), EmulatorConfig::default(), &api).await;
    let tenant = running.tenant();
    let cloud: Cloud = running.base_url().parse()?;
    let client = Client::builder(
        cloud,
        Credentials::new(api.client_id.clone(), api.client_secret.clone()),
    )
    .retry_policy(RetryPolicy {
        max_transient_retries: 8,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..RetryPolicy::default()
    })
    .build()?;
    let mut faults = running.faults();
    faults.null_lists = true;
    faults.server_error_percent = 30;
    running.set_faults(faults);

    let none = client
        .hosts()
        .query_ids(&HostQuery::filtered(
            Fql::new().eq("hostname", "no-such-host").build()?,
        ))
        .await?;
    assert!(none.is_empty());
    // Enough requests that some surely meet a 5xx (0.7^30 is negligible);
    // each read is retried up to 8 times.
    for _ in 0..10 {
        let ids = client.hosts().query_ids(&HostQuery::all()).await?;
        assert_eq!(ids.len(), tenant.hosts.len());
        let batch = client.hosts().get(&ids).await?;
        assert_eq!(batch.found.len(), tenant.hosts.len());
        let states = client.hosts().online_state(&ids[..50]).await?;
        assert_eq!(states.found.len(), 50);
    }
    assert!(client.stats().retries > 0, "{:?}", client.stats());
    Ok(())
}

#[tokio::test]
async fn a_write_met_by_a_5xx_or_a_429_storm_is_not_replayed() -> TestResult {
    let api = ApiClient::full_access();
    let running = serve(visible(&spec(20, 10)), EmulatorConfig::default(), &api).await;
    let client = Client::builder(
        running.base_url().parse()?,
        Credentials::new(api.client_id.clone(), api.client_secret.clone()),
    )
    .retry_policy(RetryPolicy {
        max_rate_limit_retries: 2,
        max_transient_retries: 2,
        max_retry_after: Duration::from_millis(200),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
    })
    .build()?;
    client.authenticate().await?;
    let tenant = running.tenant();
    let aid = tenant.hosts[0].device_id.clone();
    let contain = HostActionRequest::new(HostAction::Contain, [aid.clone()]);

    let mut faults = running.faults();
    faults.server_error_percent = 100;
    running.set_faults(faults.clone());
    let before = running.request_count();
    let err = client.hosts().act(&contain).await.unwrap_err();
    assert!(err.write_may_have_applied(), "{err:?}");
    assert!(
        matches!(
            err,
            Error::WriteUncertain {
                status: Some(500..=599),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        running.request_count() - before,
        1,
        "the write was replayed"
    );
    // An idempotent write (setting tags) is retried like a read.
    let before = running.request_count();
    let err = client
        .hosts()
        .update_tags(&TagUpdate::new(TagAction::Add, [aid.clone()], ["x"]))
        .await
        .unwrap_err();
    assert!(!err.write_may_have_applied(), "{err:?}");
    assert!(matches!(err.status(), Some(500..=599)), "{err:?}");
    assert_eq!(running.request_count() - before, 3);
    // Reads are retried, then fail with the status.
    let before = running.request_count();
    let err = client
        .hosts()
        .get(std::slice::from_ref(&aid))
        .await
        .unwrap_err();
    assert!(matches!(err.status(), Some(500..=599)), "{err:?}");
    assert_eq!(running.request_count() - before, 3);

    faults.server_error_percent = 0;
    faults.rate_limit_storm = true;
    running.set_faults(faults.clone());
    let before = running.request_count();
    let err = client.hosts().act(&contain).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(!err.write_may_have_applied());
    assert_eq!(running.request_count() - before, 1);
    let err = client
        .hosts()
        .get(std::slice::from_ref(&aid))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");

    faults.rate_limit_storm = false;
    running.set_faults(faults);
    assert_eq!(
        client
            .hosts()
            .get(std::slice::from_ref(&aid))
            .await?
            .found
            .len(),
        1
    );
    Ok(())
}
