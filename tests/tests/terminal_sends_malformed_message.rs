//! A payment terminal sends, among a payment's receipt lines, a text block whose length runs
//! past its end (`06 D3 02 06 82`: five bytes that panic the `zvt` crate's parser). The kiosk
//! reads the terminal's messages itself: the payment goes through, its receipt prints, and the
//! next citizen pays on the same terminal.

use std::time::Duration;

use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::{Script, VirtualZvtTerminal};
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually, loopback_central, test_settings};
use balcao_ui::view::Screen;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_receipt_message_costs_nothing_and_the_next_payment_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    terminal.control().script(Script::MalformedReceipt);
    let data = dir.path().join("kiosk");
    let driver = ZvtTerminal::new(ZvtConfig::new(terminal.address()));
    let kiosk = TestKiosk::start_with_terminal(test_settings(&data), &data, Some(enrolled_client(&central)), Some(Box::new(driver))).await;

    for citizen_no in 1..=2 {
        let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
        assert_eq!(end.screen, Screen::Done, "citizen {citizen_no}: {:?}", end.error);
        citizen::finish(&kiosk);
    }
    eventually("both fees booked", Duration::from_secs(20), || terminal.control().booked().len() == 2).await;
    assert!(terminal.control().open_reservations().is_empty());
    let printed = kiosk.simulators.receipt_printer.printed();
    assert_eq!(
        printed.iter().filter(|r| r.flowing_text().contains("PRE-AUTHORISATION")).count(),
        2,
        "both receipts carry the terminal's lines"
    );
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
