//! The kiosk keeps its catalog current cheaply: an unchanged catalog costs a 304 of under
//! 1 KB; a change at central reaches the kiosk on its next poll and is cached for offline use.

use std::time::Duration;

use balcao_tests::proxy::{FaultProxy, Outcome};
use balcao_tests::{TestKiosk, client, eventually, loopback_central, test_settings};

fn catalog_answers(proxy: &FaultProxy) -> Vec<(Duration, Outcome)> {
    proxy.timeline().into_iter().filter(|e| e.path == "/v1/catalog").map(|e| (e.at, e.outcome)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_catalog_is_a_small_304_and_a_change_arrives_on_the_next_poll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    let mut settings = test_settings(dir.path());
    settings.catalog_poll = Duration::from_millis(300);
    let kiosk = TestKiosk::start_with(
        settings,
        dir.path(),
        Some(client(&proxy.url, &proxy.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"))),
    )
    .await;

    eventually("two unchanged polls", Duration::from_secs(10), || {
        catalog_answers(&proxy).iter().filter(|(_, o)| matches!(o, Outcome::Answered { status: 304, .. })).count() >= 2
    })
    .await;
    let answers = catalog_answers(&proxy);
    assert!(matches!(answers[0].1, Outcome::Answered { status: 200, .. }), "the first poll fetches the catalog: {answers:?}");
    for (_, outcome) in &answers[1..] {
        match outcome {
            Outcome::Answered { status: 304, wire_bytes } => assert!(*wire_bytes < 1024, "a 304 of {wire_bytes} bytes"),
            other => panic!("an unchanged catalog was answered with {other:?}"),
        }
    }

    let mut catalog = balcao_central::seed::catalog();
    catalog.version = "2026-11-22.2".into();
    catalog.services.retain(|s| s.id != "tax-clearance-certificate");
    let changed_at = proxy.now();
    central.central.replace_catalog(catalog).expect("publish");
    eventually("the kiosk to cache the new catalog", Duration::from_secs(10), || {
        kiosk.store().cached_catalog().expect("cache").is_some_and(|(_, c)| c.version == "2026-11-22.2")
    })
    .await;
    let after: Vec<Outcome> = catalog_answers(&proxy).into_iter().filter(|(at, _)| *at > changed_at).map(|(_, o)| o).collect();
    assert!(matches!(after.first(), Some(Outcome::Answered { status: 200, .. })), "the next poll brings the change: {after:?}");
    let (_, cached) = kiosk.store().cached_catalog().expect("cache").expect("cached");
    assert!(cached.service("tax-clearance-certificate").is_none());
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
