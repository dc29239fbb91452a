//! A citizen presses Cancel while the payment screen still asks for the card, but the terminal
//! had already read it: it refuses the abort and approves. The citizen said no, so nothing may
//! be charged: the reservation is released at the terminal, nothing is saved, booked or sent to
//! central, the screen says the payment was cancelled, and the "you were not charged" slip
//! prints. The same run then pays normally, to show the terminal and journal are in order.

use std::time::Duration;

use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::{Script, VirtualZvtTerminal};
use balcao_kiosk::store::PaymentState;
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually, loopback_central, test_settings};
use balcao_ui::view::{PaymentCancel, PaymentPrompt, Problem, Screen};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_after_the_citizen_cancelled_is_released_and_the_not_charged_slip_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    // The card is read as it is asked for, and the terminal works on for a while in silence.
    terminal.control().set_pace(Duration::from_millis(1500));
    terminal.control().script(Script::CardReadUnannounced);
    let data = dir.path().join("kiosk");
    let driver = ZvtTerminal::new(ZvtConfig::new(terminal.address()));
    let kiosk = TestKiosk::start_with_terminal(test_settings(&data), &data, Some(enrolled_client(&central)), Some(Box::new(driver))).await;

    citizen::confirm_criminal_record(&kiosk, "CHAN TAI MAN").await;
    let asking = kiosk
        .view
        .wait_for("the terminal to ask for the card", WAIT, |v| {
            v.screen == Screen::Payment && v.payment.prompt == PaymentPrompt::PresentCard
        })
        .await;
    assert_eq!(asking.payment.cancel, PaymentCancel::Offered);
    citizen::cancel_payment(&kiosk);
    kiosk.view.wait_for("the cancel to be under way", WAIT, |v| v.payment.cancel == PaymentCancel::Requested).await;

    let end = kiosk.view.wait_for("the end of the payment", WAIT, |v| v.screen == Screen::Error).await;
    assert_eq!(end.error.problem, Problem::PaymentCancelled, "told they were not charged");
    assert!(terminal.control().received().contains(&0x06B0), "the abort reached the terminal");
    assert!(terminal.control().received().contains(&0x0625), "the approval was reversed");
    assert!(terminal.control().open_reservations().is_empty(), "nothing left reserved");
    assert!(terminal.control().booked().is_empty(), "nothing booked");
    eventually("the not-charged slip", WAIT, || {
        kiosk.simulators.receipt_printer.printed().iter().any(|r| r.flowing_text().contains("You cancelled the payment"))
    })
    .await;
    let printed = kiosk.simulators.receipt_printer.printed();
    assert!(!printed.iter().any(|r| r.flowing_text().contains("Fee paid")), "no receipt says paid: {printed:?}");
    {
        let store = kiosk.store();
        assert!(store.unfinished_payments().expect("journal").is_empty());
        let journal = store.all_payments().expect("journal");
        assert_eq!(journal.iter().map(|p| p.state).collect::<Vec<_>>(), [PaymentState::Reversed]);
    }
    assert_eq!(central.central.store().count_applications().expect("central"), 0, "nothing reached central");

    // The next citizen pays as usual.
    citizen::finish(&kiosk);
    let done = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(done.screen, Screen::Done, "{:?}", done.error);
    eventually("the fee booked", WAIT, || terminal.control().booked().len() == 1).await;
    eventually("the second application at central", WAIT, || central.central.store().count_applications().unwrap_or(0) == 1).await;
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
