//! A kiosk whose database fails its check at start-up refuses service and tells central, so
//! the fleet's monitoring sees it before a citizen does.

use std::time::Duration;

use balcao_backend_client::api::{KioskEventKind, Severity};
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually, kiosk_store, loopback_central, test_settings};
use balcao_ui::view::{OutOfService, Screen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_fails_its_check_refuses_service_and_raises_an_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let kiosk_dir = dir.path().join("kiosk");
    let mut store = kiosk_store(&kiosk_dir);
    store.save_application(&citizen::paid_criminal_record_application("K01")).expect("saved");
    drop(store);
    // The key file is replaced by another one (a restore from the wrong backup, say).
    let settings = test_settings(&kiosk_dir);
    std::fs::remove_file(&settings.data_key).expect("remove key");
    balcao_kiosk::store::crypto::DataKey::create(&settings.data_key).expect("another key");

    let kiosk = TestKiosk::start_with(settings, &kiosk_dir, Some(enrolled_client(&central))).await;
    let view = kiosk.view.wait_for("out of service", Duration::from_secs(10), |v| v.screen == Screen::OutOfService).await;
    assert_eq!(view.out_of_service, OutOfService::StorageFault);
    eventually("the alert at central", Duration::from_secs(20), || {
        central.central.store().recent_events(10).expect("events").iter().any(|e| {
            e.kind == KioskEventKind::StorageIntegrityFailed
                && e.severity == Severity::Critical
                && e.kiosk_id == "K01"
                && e.detail.contains("does not belong to this database")
        })
    })
    .await;
    assert_eq!(central.central.store().count_applications().expect("count"), 0, "nothing is sent from a store that failed its check");
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
