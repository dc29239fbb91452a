//! Certificates ready at a centre reach its kiosks by sync token; while central cannot be
//! reached, a kiosk still hands out the certificates it holds, and the pickups reach central
//! once the network is back. Two kiosks handing out the same certificate while both were
//! offline is detected by central and flagged, and neither pickup is lost.

use std::time::Duration;

use balcao_backend_client::api::ApplicationState;
use balcao_kiosk::session::Event;
use balcao_tests::proxy::{FaultProxy, Plan};
use balcao_tests::{TestKiosk, citizen, client, decode_qr, eventually, kiosk_store, loopback_central, test_settings};
use balcao_ui::view::{Language, PickupProblem, Screen, UserAction};

const WAIT: Duration = Duration::from_secs(20);

async fn collect(kiosk: &TestKiosk, reference: &str, document_number: &str) -> balcao_ui::view::View {
    let act = |action| kiosk.send(Event::Ui(action));
    if kiosk.view.current().screen != Screen::Pickup {
        act(UserAction::Start);
        act(UserAction::ChooseLanguage(Language::En));
        act(UserAction::Collect);
        kiosk.view.wait_for("the pickup screen", WAIT, |v| v.screen == Screen::Pickup).await;
    }
    for (field, text) in [(0, reference), (1, document_number)] {
        act(UserAction::Focus(Some(field)));
        for c in text.chars() {
            act(UserAction::Key(c.to_string()));
        }
    }
    submit(kiosk).await
}

/// Closes the keyboard, asks for the certificate and waits for the answer.
async fn submit(kiosk: &TestKiosk) -> balcao_ui::view::View {
    kiosk.send(Event::Ui(UserAction::Focus(None)));
    kiosk.send(Event::Ui(UserAction::PickupNext));
    kiosk
        .view
        .wait_for("the pickup's outcome", WAIT, |v| {
            matches!(v.screen, Screen::Collected | Screen::Error) || (v.screen == Screen::Pickup && v.pickup.problem.is_some())
        })
        .await
}

/// As `collect`, but the citizen holds the receipt's QR under the scanner from the home
/// screen, then types only the document number.
async fn collect_by_scanning(kiosk: &TestKiosk, qr: &str, document_number: &str) -> balcao_ui::view::View {
    let act = |action| kiosk.send(Event::Ui(action));
    act(UserAction::Start);
    act(UserAction::ChooseLanguage(Language::En));
    kiosk.view.wait_for("the home screen", WAIT, |v| v.screen == Screen::Home).await;
    kiosk.simulators.code_scanner.present(qr.as_bytes()).expect("the virtual scanner sends");
    let view = kiosk.view.wait_for("the pickup screen with the scanned number", WAIT, |v| v.screen == Screen::Pickup).await;
    assert_eq!(view.pickup.focused, Some(1), "the document number is next");
    for c in document_number.chars() {
        act(UserAction::Key(c.to_string()));
    }
    submit(kiosk).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kiosks_offline_hand_out_the_same_certificate_and_central_flags_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");

    // K02 once synced with a central database that is gone: its token is unknown here (410),
    // so it must start again from the full list.
    kiosk_store(&dir.path().join("k02")).apply_certificate_changes(false, &[], &[], "0123456789abcdef.7").expect("old token");

    let mut kiosks = Vec::new();
    for kiosk_id in ["K01", "K02"] {
        let data = dir.path().join(kiosk_id.to_lowercase());
        let mut settings = test_settings(&data);
        settings.kiosk_id = kiosk_id.into();
        settings.catalog_poll = Duration::from_millis(300);
        let identity = central.kiosk_identity(kiosk_id, "GSC-01").expect("identity");
        kiosks.push(TestKiosk::start_with(settings, &data, Some(client(&proxy.url, &proxy.ca_pem, &identity))).await);
    }
    let k01 = &kiosks[0];

    let done = citizen::apply_for_criminal_record(k01, "CHAN TAI MAN").await;
    assert_eq!(done.screen, Screen::Done);
    let reference = done.done.reference.clone();
    citizen::finish(k01);
    eventually("the application at central", WAIT, || central.central.store().count_applications().expect("count") == 1).await;
    let application = central.central.store().recent_applications(1).expect("rows")[0].id;

    // Not ready yet: the kiosk says so, and the attempt counts.
    let view = collect(k01, &reference, "1234567(8)").await;
    assert_eq!(view.pickup.problem, Some(PickupProblem::NotFound));
    k01.send(Event::Ui(UserAction::PickupBack));

    central.central.issue_certificate(application).expect("issued");
    for kiosk in &kiosks {
        eventually("the certificate cached at each kiosk", WAIT, || kiosk.store().ready_certificate_count().expect("count") == 1).await;
    }
    let k02_token = kiosks[1].store().certificate_sync_token().expect("token").expect("synced");
    assert!(!k02_token.starts_with("0123456789abcdef."), "K02 started again from the full list");

    // The network goes; both kiosks notice, and both still hand the certificate out.
    proxy.set(Plan::CUT);
    for kiosk in &kiosks {
        kiosk.view.wait_for("the kiosk to be offline", WAIT, |v| !v.online).await;
    }
    // At K01 the citizen types the number; at K02 they scan the QR printed on their receipt.
    let printed = k01.simulators.receipt_printer.printed();
    let qr = decode_qr(printed[0].png.as_deref().expect("the receipt's picture")).pop().expect("a QR on the receipt");
    assert!(qr.ends_with(&reference), "{qr}");
    for (i, kiosk) in kiosks.iter().enumerate() {
        let view = if i == 0 { collect(kiosk, &reference, "12345678").await } else { collect_by_scanning(kiosk, &qr, "12345678").await };
        assert_eq!(view.screen, Screen::Collected, "{:?}", view.error);
        assert_eq!(view.pickup.service_name, "Certificate of Criminal Record");
        assert_eq!(kiosk.simulators.document_printer.completed().len(), 1, "one certificate printed");
        assert_eq!(kiosk.store().ready_certificate_count().expect("count"), 0, "not handed out twice by the same kiosk");
        kiosk.send(Event::Ui(UserAction::Finish));
    }
    let printed = std::fs::read(&k01.simulators.document_printer.completed()[0]).expect("spooled certificate");
    assert!(printed.starts_with(b"%PDF-") && String::from_utf8_lossy(&printed).contains(&reference));
    assert!(central.central.store().recent_pickups(10, false).expect("pickups").is_empty());

    // Back online: both pickups arrive, the second is flagged, the application is collected.
    proxy.set(Plan::HEALTHY);
    eventually("both pickups at central", WAIT, || central.central.store().recent_pickups(10, false).expect("pickups").len() == 2).await;
    let flagged = central.central.store().recent_pickups(10, true).expect("pickups");
    assert_eq!(flagged.len(), 1, "exactly one pickup is the duplicate");
    assert!(flagged[0].offline && flagged[0].reference == reference);
    let status = central.central.store().application_status(application, None).expect("status").expect("found");
    assert_eq!(status.state, ApplicationState::Collected);
    for kiosk in &kiosks {
        eventually("the kiosk's outbox emptied", WAIT, || kiosk.store().outbox_counts().expect("counts").pending == 0).await;
        assert_eq!(kiosk.store().outbox_counts().expect("counts").dead, 0);
    }
    for kiosk in kiosks {
        kiosk.stop().await;
    }
}

/// A certificate staff mark ready between two polls of the list (an hour apart here) is
/// handed out at once: the kiosk that does not know the number asks central before saying
/// "not found".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_ready_since_the_last_poll_is_handed_out_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let data = dir.path().join("k01");
    let mut settings = test_settings(&data);
    settings.catalog_poll = Duration::from_secs(3600);
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let kiosk = TestKiosk::start_with(settings, &data, Some(client(&central.url, &central.ca_pem, &identity))).await;

    let done = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    let reference = done.done.reference.clone();
    citizen::finish(&kiosk);
    eventually("the application at central", WAIT, || central.central.store().count_applications().expect("count") == 1).await;
    let application = central.central.store().recent_applications(1).expect("rows")[0].id;
    central.central.issue_certificate(application).expect("issued");
    assert_eq!(kiosk.store().ready_certificate_count().expect("count"), 0, "the kiosk's list is from before");

    let view = collect(&kiosk, &reference, "12345678").await;
    assert_eq!(view.screen, Screen::Collected, "{:?} {:?}", view.pickup.problem, view.error);
    assert_eq!(kiosk.simulators.document_printer.completed().len(), 1, "the certificate printed");
    kiosk.stop().await;
}
