//! The receipt that comes out of the (simulated) printer after a real journey: its picture is
//! saved, its QR code leads to the application's status, its barcode reads as the application
//! number, and it says what was paid.

use balcao_tests::{TestKiosk, citizen, codes_read_by_zbar, decode_qr, enrolled_client, loopback_central};
use balcao_ui::view::Screen;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_receipt_carries_the_number_the_fee_and_a_status_qr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;
    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done);
    let reference = end.done.reference;

    let printed = kiosk.simulators.receipt_printer.printed();
    assert_eq!(printed.len(), 1);
    let receipt = &printed[0];
    assert!(!receipt.incomplete);
    for expected in [
        "Application receipt",
        &format!("Application number {reference}"),
        "Fee paid MOP 30.00",
        "Card VISA **** 4242",
        "Certificate of Criminal Record",
    ] {
        assert!(receipt.flowing_text().contains(expected), "missing {expected:?} in\n{}", receipt.text);
    }
    assert!(!receipt.text.contains("CHAN TAI MAN"), "no personal data on the receipt");
    let png = receipt.png.as_ref().expect("the printout is saved");
    assert_eq!(decode_qr(png), [format!("https://status.example/{reference}")]);
    // The number as a barcode too, for the counter's hand scanner.
    assert_eq!(codes_read_by_zbar(png), [format!("CODE-128:{reference}"), format!("QR-Code:https://status.example/{reference}")]);

    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("receipt-en.png");
    std::fs::copy(png, &keep).expect("keep a copy to look at");
    eprintln!("receipt saved as {}", keep.display());
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

/// The paper runs out while the receipt prints, after the card was authorised: the
/// application is already saved (and on its way to central), so the fee is captured — the
/// service was delivered — and the screen gives the citizen the number the receipt would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_running_out_after_payment_keeps_the_application_and_charges_it_once() {
    use balcao_kiosk::store::PaymentState;
    use balcao_ui::view::Problem;

    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;
    kiosk.simulators.receipt_printer.set_paper_left_mm(Some(15));
    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Error);
    assert_eq!(end.error.problem, Problem::ReceiptNotPrinted);
    let reference = end.error.reference.clone();
    assert!(reference.starts_with("K01-"), "the number is on the screen: {reference:?}");
    // And its status page, as the QR code the receipt would have carried.
    assert_eq!(end.error.status_link, format!("https://status.example/{reference}"));
    assert!(kiosk.simulators.receipt_printer.printed().iter().all(|r| r.incomplete), "the receipt was cut short");

    let captured = kiosk.simulators.payment_terminal.captured();
    assert_eq!(captured.len(), 1, "charged once");
    assert!(kiosk.simulators.payment_terminal.open_reservations().is_empty());
    let payments = kiosk.store().all_payments().expect("journal");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].state, PaymentState::Captured);
    let application = payments[0].application_id.expect("captured against the application");
    balcao_tests::eventually("the application at central", std::time::Duration::from_secs(20), || {
        central.central.store().recent_applications(10).expect("list").iter().any(|a| a.reference == reference)
    })
    .await;
    assert!(kiosk.store().application_state(application).expect("read").is_some());
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
