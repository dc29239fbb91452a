//! Central answers with something that is not the contract (a proxy's error page under a 201):
//! the kiosk records a clear reason, keeps the application, and repeats it with the same key
//! until a proper answer comes; central stores it once.

use std::time::Duration;

use balcao_central::{Central, CentralOptions, LoopbackCentral};
use balcao_tests::faults::{self, Fault, FaultPlan};
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually};
use balcao_ui::view::Screen;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbled_answer_is_retried_with_the_same_key_and_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = FaultPlan::new(Fault::GarbleResponse, 3);
    let central = Central::open(&CentralOptions::new(dir.path().join("central.db"))).expect("central");
    let router = central.router().layer(axum::middleware::from_fn_with_state(plan.clone(), faults::inject));
    let central = LoopbackCentral::start_with_router(central, router).await.expect("central");
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;

    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done);
    eventually("a clear reason to be recorded", Duration::from_secs(20), || {
        kiosk
            .store()
            .outbox_report()
            .expect("report")
            .first()
            .and_then(|e| e.last_error.clone())
            .is_some_and(|e| e.contains("does not follow the contract"))
    })
    .await;
    eventually("the application to be delivered", Duration::from_secs(20), || kiosk.store().outbox_counts().expect("counts").pending == 0)
        .await;
    let keys = plan.keys_seen();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]));
    assert_eq!(central.central.store().count_applications().expect("count"), 1);
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
