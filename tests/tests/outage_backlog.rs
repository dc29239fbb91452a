//! A fleet queues applications through a central outage; when central returns, the backlog
//! drains with jittered retries — spread out, not a stampede — and every application arrives
//! once. Central's `503` + `Retry-After` is honoured.
//!
//! Time is compressed about a hundredfold: retries start under 200 ms and are capped at 3 s
//! (the defaults are 1 s and 300 s), and the outage lasts 6 s.

use std::collections::BTreeMap;
use std::time::Duration;

use balcao_kiosk::runtime::outbox::RetryPolicy;
use balcao_tests::proxy::{Exchange, FaultProxy, Outcome, Plan};
use balcao_tests::{TestKiosk, citizen, client, eventually, loopback_central, test_settings};

const KIOSKS: usize = 8;
const EACH: usize = 3;

/// Queues `n` applications in the store at `dir`, as citizens would have while offline.
fn queue_applications(dir: &std::path::Path, kiosk_id: &str, n: usize) -> Vec<String> {
    let mut store = balcao_tests::kiosk_store(dir);
    store.save_catalog(None, &balcao_central::seed::catalog()).expect("catalog");
    (0..n)
        .map(|_| store.save_application(&citizen::paid_criminal_record_application(kiosk_id)).expect("saved").application_id.to_string())
        .collect()
}

/// The writes a kiosk queued (not its heartbeats, which are not queued and not repeated).
fn posts(timeline: &[Exchange]) -> impl Iterator<Item = &Exchange> {
    timeline.iter().filter(|e| e.method == "POST" && e.path != "/v1/heartbeats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_the_backlog_drains_with_jitter_not_a_stampede() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    proxy.set(Plan::LOSE_EVERY_REQUEST);

    let mut kiosks = Vec::new();
    for k in 0..KIOSKS {
        let kiosk_dir = dir.path().join(format!("kiosk-{k}"));
        let kiosk_id = format!("K{k:02}");
        queue_applications(&kiosk_dir, &kiosk_id, EACH);
        let mut settings = test_settings(&kiosk_dir);
        let identity = central.kiosk_identity(&kiosk_id, "GSC-01").expect("identity");
        settings.kiosk_id = kiosk_id;
        settings.retry = RetryPolicy { first: Duration::from_millis(200), max: Duration::from_secs(3) };
        kiosks.push(TestKiosk::start_with(settings, &kiosk_dir, Some(client(&proxy.url, &proxy.ca_pem, &identity))).await);
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let healed = proxy.now();
    proxy.set(Plan::HEALTHY);
    eventually("every application at central", Duration::from_secs(30), || {
        central.central.store().count_applications().expect("count") == (KIOSKS * EACH) as u64
    })
    .await;
    // A kiosk's outbox empties once it has central's answer, which the proxy recorded before
    // passing it on: only then does the timeline hold every exchange.
    for kiosk in &kiosks {
        eventually("the kiosk's outbox to empty", Duration::from_secs(10), || kiosk.store().outbox_counts().expect("counts").pending == 0)
            .await;
    }
    let timeline = proxy.timeline();

    // During the outage, after the first second (the fleet booted together in this test),
    // attempts are spread: no 20 ms window holds more than half the fleet. (Full jitter makes
    // the attempts a Poisson-like stream of about one per 100 ms here; a fleet retrying on a
    // fixed schedule would put all eight in one window.)
    let outage: Vec<Duration> = posts(&timeline).filter(|e| e.at > Duration::from_secs(1) && e.at < healed).map(|e| e.at).collect();
    assert!(outage.len() >= KIOSKS * 2, "the kiosks kept trying during the outage: {} attempts", outage.len());
    let peak = outage.iter().map(|start| outage.iter().filter(|t| **t >= *start && **t < *start + Duration::from_millis(20)).count()).max();
    let mut sorted = outage.clone();
    sorted.sort();
    eprintln!("{:?}", sorted.iter().map(|d| d.as_millis()).collect::<Vec<_>>());
    assert!(peak.unwrap_or(0) <= KIOSKS / 2, "{peak:?} attempts in one 20 ms window: a stampede");

    // After the outage, each kiosk comes back at its own moment, within the retry cap.
    let mut first_after: BTreeMap<String, Duration> = BTreeMap::new();
    for exchange in posts(&timeline).filter(|e| e.at >= healed) {
        let kiosk = exchange.kiosk.clone().expect("every kiosk has its certificate");
        first_after.entry(kiosk).or_insert(exchange.at - healed);
    }
    assert_eq!(first_after.len(), KIOSKS);
    let (earliest, latest) = (first_after.values().min().copied(), first_after.values().max().copied());
    let spread = latest.zip(earliest).map(|(l, e)| l - e).unwrap_or_default();
    assert!(spread >= Duration::from_millis(300), "the fleet came back all at once: {first_after:?}");
    assert!(latest <= Some(Duration::from_millis(3500)), "a kiosk waited past the retry cap: {first_after:?}");

    // Exactly once: every kiosk saw its writes delivered, and central holds each once.
    let stored = central.central.store().recent_applications(u32::MAX).expect("list");
    let distinct: std::collections::BTreeSet<_> = stored.iter().map(|a| a.reference.clone()).collect();
    assert_eq!((stored.len(), distinct.len()), (KIOSKS * EACH, KIOSKS * EACH));
    for kiosk in kiosks {
        kiosk.stop().await;
    }
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_holds_the_kiosk_back_that_long() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    proxy.set(Plan { fail_with: Some((503, Some(2))), ..Plan::HEALTHY });
    let kiosk_dir = dir.path().join("kiosk");
    let key = queue_applications(&kiosk_dir, "K01", 1).remove(0);
    let kiosk =
        TestKiosk::start(&kiosk_dir, Some(client(&proxy.url, &proxy.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"))))
            .await;

    eventually("a throttled attempt", Duration::from_secs(10), || posts(&proxy.timeline()).count() == 1).await;
    proxy.set(Plan::HEALTHY);
    eventually("the kiosk to record the delivery", Duration::from_secs(10), || {
        kiosk.store().outbox_report().expect("report").first().is_some_and(|e| (e.state.as_str(), e.attempts) == ("delivered", 1))
    })
    .await;
    let attempts: Vec<Exchange> = posts(&proxy.timeline()).cloned().collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts.iter().all(|e| e.idempotency_key.as_deref() == Some(key.as_str())));
    assert_eq!(attempts[0].outcome, Outcome::Injected { status: 503 });
    let waited = attempts[1].at - attempts[0].at;
    assert!(waited >= Duration::from_millis(1950), "retried after {waited:?}, central asked for 2 s");
    assert_eq!(central.central.store().count_applications().expect("count"), 1);
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
