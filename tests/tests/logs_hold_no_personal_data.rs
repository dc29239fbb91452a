//! Whatever the log level, nothing the citizen typed reaches the logs: the kiosk's and
//! central's own code at `trace`, every library at `debug`, through a whole journey, a lost
//! answer and its repeat, and three applicants identified (the app's code, the chip with typed
//! details, the chip with the details an OCR reader read from the document).

use std::time::Duration;

use balcao_central::store::Citizen;
use balcao_central::{Central, CentralOptions, LoopbackCentral};
use balcao_tests::faults::{self, Fault, FaultPlan};
use balcao_tests::logs::CapturedLogs;
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_logs_nothing_the_citizen_entered() {
    let logs = CapturedLogs::install();

    let dir = tempfile::tempdir().expect("tempdir");
    let plan = FaultPlan::new(Fault::LoseResponseAfterCommit, 1);
    let central = Central::open(&CentralOptions::new(dir.path().join("central.db"))).expect("central");
    let router = central.router().layer(axum::middleware::from_fn_with_state(plan, faults::inject));
    let central = LoopbackCentral::start_with_router(central, router).await.expect("central");
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;
    citizen::apply_for_criminal_record(&kiosk, "XAVIER QUEIROZ").await;
    citizen::finish(&kiosk);
    // Two applicants identified: by the government app's code, and by their card's chip.
    eventually("the issuer keys on the kiosk", Duration::from_secs(20), || {
        kiosk.store().reference_data("identity-issuers").expect("read").is_some()
    })
    .await;
    let holder = Citizen {
        sub: "citizen-0042".into(),
        name: "CHAN TAI MAN".into(),
        document_number: "12345678".into(),
        birth_date: "1985-03-14".into(),
    };
    let code =
        central.central.store().sign_in_code(&holder, "GSC-01", jiff::Timestamp::now(), jiff::SignedDuration::from_mins(2)).expect("code");
    assert_eq!(citizen::apply_identified_by_app(&kiosk, &code).await.screen, balcao_ui::view::Screen::Done);
    citizen::finish(&kiosk);
    assert_eq!(citizen::apply_identified_by_chip(&kiosk).await.screen, balcao_ui::view::Screen::Done);
    citizen::finish(&kiosk);
    assert_eq!(citizen::apply_identified_by_ocr(&kiosk).await.screen, balcao_ui::view::Screen::Done);
    eventually("delivery", Duration::from_secs(20), || kiosk.store().outbox_counts().expect("counts").pending == 0).await;
    kiosk.stop().await;
    central.stop().await.expect("stop");

    let text = String::from_utf8_lossy(&logs.bytes()).to_string();
    assert!(text.lines().any(|l| l.contains("delivered to central") && l.contains("kind=application")), "the logs were captured:\n{text}");
    // The code's payload (the claims, base64url) and the chip's MRZ dates and number.
    let payload = code.split('.').nth(1).expect("payload").to_string();
    for secret in [
        "XAVIER",
        "QUEIROZ",
        "1234567",
        "1985-03-14",
        "14031985",
        "14/03/1985",
        "employment",
        "CHAN",
        "TAI MAN",
        "850314",
        "310630",
        "30062031",
        &payload[..24],
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} reached the logs:\n{}",
            text.lines().filter(|l| l.contains(secret)).collect::<Vec<_>>().join("\n")
        );
    }
}
