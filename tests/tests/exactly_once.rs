//! Each application reaches central exactly once, even when central's answer is lost after it
//! committed and the kiosk repeats the request; a different body under the same key is refused
//! and kept aside, never dropped.

use std::time::Duration;

use balcao_backend_client::ClientError;
use balcao_backend_client::api::{Answer, ApplicationSubmission, KioskEventKind};
use balcao_central::{Central, CentralOptions, LoopbackCentral};
use balcao_tests::faults::{self, Fault, FaultPlan};
use balcao_tests::{TestKiosk, citizen, client, enrolled_client, eventually, loopback_central};
use balcao_ui::view::Screen;

async fn central_with_faults(dir: &std::path::Path, plan: std::sync::Arc<FaultPlan>) -> LoopbackCentral {
    let central = Central::open(&CentralOptions::new(dir.join("central.db"))).expect("central");
    let router = central.router().layer(axum::middleware::from_fn_with_state(plan, faults::inject));
    LoopbackCentral::start_with_router(central, router).await.expect("central starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_whose_first_answer_is_lost_arrives_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = FaultPlan::new(Fault::LoseResponseAfterCommit, 2);
    let central = central_with_faults(dir.path(), plan.clone()).await;
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;

    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done, "the citizen is served at once, whatever the network does");
    eventually("the kiosk to see its application delivered", Duration::from_secs(20), || {
        kiosk.store().outbox_counts().expect("counts").pending == 0
    })
    .await;

    let keys = plan.keys_seen();
    assert_eq!(keys.len(), 3, "two lost answers, then the one that arrived: {keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]), "every repeat carries the same key: {keys:?}");
    assert_eq!(central.central.store().count_applications().expect("count"), 1, "stored once");
    let report = kiosk.store().outbox_report().expect("report");
    assert_eq!((report[0].state.as_str(), report[0].attempts, report[0].id.to_string()), ("delivered", 2, keys[0].clone()));
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_body_under_the_same_key_is_refused_and_kept_as_a_dead_letter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let client = client(&central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));

    // A kiosk saved an application while offline...
    let mut store = balcao_tests::kiosk_store(dir.path());
    store.save_catalog(None, &balcao_central::seed::catalog()).expect("catalog");
    let saved = store.save_application(&citizen::paid_criminal_record_application("K01")).expect("saved");
    let queued: ApplicationSubmission =
        serde_json::from_str(&store.due_outbox(jiff::Timestamp::now(), 1).expect("due")[0].body).expect("body");
    drop(store);

    // ...and something else already used its id with another body.
    let mut other = queued.clone();
    other.answers.insert("purpose".into(), Answer::Text("visa".into()));
    client.submit_application(&other).await.expect("the first body is accepted");
    match client.submit_application(&queued).await {
        Err(ClientError::Refused { status: 422, problem }) => assert_eq!(problem.short_kind(), "idempotency-key-reused"),
        other => panic!("expected 422 idempotency-key-reused, got {other:?}"),
    }

    // The kiosk's outbox meets the same refusal: it keeps the entry aside, visible, and goes on.
    let kiosk = TestKiosk::start(dir.path(), Some(client.clone())).await;
    eventually("the refusal to be recorded", Duration::from_secs(20), || {
        kiosk.store().outbox_report().expect("report").first().is_some_and(|e| e.state == "dead")
    })
    .await;
    let report = kiosk.store().outbox_report().expect("report");
    assert_eq!(report[0].id, saved.application_id);
    assert!(report[0].last_error.as_deref().is_some_and(|e| e.contains("idempotency-key-reused")), "{report:?}");
    assert_eq!(central.central.store().count_applications().expect("count"), 1);
    // The fleet's monitoring hears of it.
    eventually("central to hear of the dead letter", Duration::from_secs(20), || {
        central
            .central
            .store()
            .recent_events(10)
            .expect("events")
            .iter()
            .any(|e| e.kind == KioskEventKind::DeadLetter && e.kiosk_id == "K01" && e.detail.contains(&saved.application_id.to_string()))
    })
    .await;
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_goes_in_one_batch_and_a_refused_application_in_it_is_kept_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = balcao_tests::proxy::FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    // Queued while offline: the second one's fee no longer matches the catalog.
    let queued: Vec<_> = {
        let mut store = balcao_tests::kiosk_store(dir.path());
        (0..5)
            .map(|i| {
                let mut application = citizen::paid_criminal_record_application("K01");
                if i == 1 {
                    application.fee_avos = 1;
                }
                store.save_application(&application).expect("saved").application_id
            })
            .collect()
    };
    let kiosk =
        TestKiosk::start(dir.path(), Some(client(&proxy.url, &proxy.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"))))
            .await;
    eventually("the backlog to be settled", Duration::from_secs(20), || kiosk.store().outbox_counts().expect("counts").pending == 0).await;

    let writes: Vec<String> =
        proxy.timeline().into_iter().filter(|e| e.method == "POST" && e.path != "/v1/heartbeats").map(|e| e.path).collect();
    assert_eq!(writes.first().map(String::as_str), Some("/v1/applications/batch"), "one batch for the backlog: {writes:?}");
    assert_eq!(writes.iter().filter(|p| p.as_str() == "/v1/applications/batch").count(), 1, "{writes:?}");
    let report = kiosk.store().outbox_report().expect("report");
    let states: Vec<(uuid::Uuid, &str)> = report.iter().filter(|e| e.kind == "application").map(|e| (e.id, e.state.as_str())).collect();
    let expected: Vec<(uuid::Uuid, &str)> =
        queued.iter().enumerate().map(|(i, id)| (*id, if i == 1 { "dead" } else { "delivered" })).collect();
    assert_eq!(states, expected);
    assert!(report[1].last_error.as_deref().is_some_and(|e| e.contains("fee-mismatch")), "{:?}", report[1].last_error);
    assert_eq!(central.central.store().count_applications().expect("count"), 4);
    eventually("the dead letter to be reported to central", Duration::from_secs(10), || {
        central.central.store().recent_events(10).expect("events").iter().any(|e| e.kind == KioskEventKind::DeadLetter)
    })
    .await;
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
