//! The kiosk's ZVT driver against the virtual terminal over loopback TCP: every command, every
//! failure script, and the terminal's bytes delivered whole, one byte per write, and with the
//! acknowledgement and the next message in one segment.

mod common;

use std::time::{Duration, Instant};

use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::{Delivery, Script, VirtualZvtTerminal};
use balcao_drivers::payment_terminal::{AuthorizationOutcome, DeclineReason, ErrorKind, PaymentTerminal, TerminalPrompt, TerminalStatus};
use common::zvt::{approved, pay, request};

const DELIVERIES: [Delivery; 3] = [Delivery::Whole, Delivery::BytePerWrite, Delivery::Coalesced];

fn driver(terminal: &VirtualZvtTerminal) -> ZvtTerminal {
    let mut config = ZvtConfig::new(terminal.address());
    config.ack_timeout = Duration::from_secs(2);
    config.transaction_timeout = Duration::from_secs(3);
    ZvtTerminal::new(config)
}

#[test]
fn approve_then_capture_and_approve_then_reverse_in_every_delivery() {
    for delivery in DELIVERIES {
        let terminal = VirtualZvtTerminal::listen().expect("terminal");
        terminal.control().set_delivery(delivery);
        let mut driver = driver(&terminal);
        assert_eq!(driver.status().expect("status"), TerminalStatus::Ready, "{delivery:?}");

        terminal.control().script(Script::ApproveWithPin);
        let (outcome, prompts) = pay(&mut driver, &request(3_000));
        assert_eq!(
            prompts,
            [TerminalPrompt::PresentCard, TerminalPrompt::EnterPin, TerminalPrompt::Processing, TerminalPrompt::RemoveCard],
            "{delivery:?}"
        );
        let first = approved(outcome);
        assert_eq!((first.amount, first.card_brand.as_deref()), (3_000, Some("VISA")));
        // Only the masked number is kept, and only its last four digits.
        assert_eq!(first.card.as_ref().map(|c| c.last4()), Some("4242"));
        // The terminal's receipt lines (06 D1 and 06 D3) come with the approval.
        assert!(first.receipt_lines.iter().any(|l| l == "PRE-AUTHORISATION"), "{:?}", first.receipt_lines);
        assert!(first.receipt_lines.iter().any(|l| l.starts_with("TERMINAL ")), "{:?}", first.receipt_lines);

        let second = approved(pay(&mut driver, &request(4_500)).0);
        assert_ne!(first.receipt_number, second.receipt_number);
        assert_eq!(terminal.control().open_reservations().len(), 2);

        assert_eq!(driver.open_reservation().expect("asked"), Some(first.receipt_number));
        assert_eq!(driver.capture(&first, 3_000).expect("captured").amount, 3_000);
        driver.reverse(&second).expect("reversed");
        assert!(terminal.control().open_reservations().is_empty(), "{delivery:?}");
        assert_eq!(terminal.control().booked(), [(first.receipt_number as usize, 3_000)]);
        assert_eq!(driver.open_reservation().expect("asked"), None);

        // Releasing again is refused as "no such reservation": money never moves twice.
        assert_eq!(driver.capture(&first, 3_000).expect_err("twice").kind(), ErrorKind::NoSuchReservation);
        assert_eq!(driver.reverse(&second).expect_err("twice").kind(), ErrorKind::NoSuchReservation);

        let day = driver.end_of_day().expect("end of day");
        assert_eq!(day.total, 3_000);
        assert!(day.receipt_lines.iter().any(|l| l.contains("END OF DAY")), "{:?}", day.receipt_lines);
        assert_eq!(driver.end_of_day().expect("again").total, 0);
    }
}

#[test]
fn declines_are_told_apart_and_reserve_nothing() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let mut driver = driver(&terminal);
    for (code, expected) in [
        (0x05, AuthorizationOutcome::Declined(DeclineReason::Declined)),
        (0x55, AuthorizationOutcome::Declined(DeclineReason::WrongPin)),
        (0x78, AuthorizationOutcome::Declined(DeclineReason::CardExpired)),
        (0x6C, AuthorizationOutcome::Cancelled),
    ] {
        terminal.control().script(Script::Decline(code));
        assert_eq!(pay(&mut driver, &request(3_000)).0, Ok(expected));
    }
    assert!(terminal.control().open_reservations().is_empty());
    // The link survives declines: the next card is approved on it.
    approved(pay(&mut driver, &request(3_000)).0);
}

#[test]
fn cancelling_at_the_kiosk_aborts_the_wait_for_a_card() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let mut driver = driver(&terminal);
    terminal.control().script(Script::NeverPresented);
    let request = request(3_000);
    let cancel = request.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let started = Instant::now();
    let (outcome, prompts) = pay(&mut driver, &request);
    assert_eq!(outcome, Ok(AuthorizationOutcome::Cancelled));
    assert_eq!(prompts, [TerminalPrompt::PresentCard]);
    assert!(started.elapsed() < Duration::from_secs(3), "the abort reached the terminal before its own card wait ran out");
    assert!(terminal.control().received().contains(&0x06B0), "the kiosk sent 06 B0");
    assert!(terminal.control().open_reservations().is_empty());
}

#[test]
fn a_card_never_presented_ends_when_the_terminal_gives_up() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().set_card_wait(Duration::from_millis(200));
    let mut driver = driver(&terminal);
    terminal.control().script(Script::NeverPresented);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Ok(AuthorizationOutcome::Cancelled));
    assert!(!terminal.control().received().contains(&0x06B0));
}

#[test]
fn an_approval_whose_end_never_comes_is_unknown_and_stays_open_at_the_terminal() {
    for script in [Script::DropAfterApproval, Script::Silent] {
        let terminal = VirtualZvtTerminal::listen().expect("terminal");
        let mut driver = driver(&terminal);
        terminal.control().script(script.clone());
        assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::OutcomeUnknown), "{script:?}");
        // Asking the terminal resolves it: after a drop the reservation is open; after
        // silence, nothing was reserved.
        let open = driver.open_reservation().expect("the driver reconnects and asks");
        match script {
            Script::DropAfterApproval => assert_eq!(open, Some(1)),
            _ => assert_eq!(open, None),
        }
    }
}

#[test]
fn garbage_from_the_terminal_during_a_payment_is_unknown_not_a_decline() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let mut driver = driver(&terminal);
    terminal.control().script(Script::Garbage);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::OutcomeUnknown));
    // The next payment runs on a fresh link.
    approved(pay(&mut driver, &request(3_000)).0);
}

#[test]
fn a_completion_sent_twice_does_not_confuse_the_next_command() {
    for delivery in DELIVERIES {
        let terminal = VirtualZvtTerminal::listen().expect("terminal");
        terminal.control().set_delivery(delivery);
        let mut driver = driver(&terminal);
        terminal.control().script(Script::AnswerTwice);
        let authorization = approved(pay(&mut driver, &request(3_000)).0);
        std::thread::sleep(Duration::from_millis(50));
        driver.capture(&authorization, 3_000).expect("captured despite the repeated completion");
        assert_eq!(terminal.control().booked(), [(authorization.receipt_number as usize, 3_000)], "{delivery:?}");
    }
}

#[test]
fn an_offline_terminal_reads_as_offline_and_a_payment_never_starts() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().set_offline(true);
    let mut driver = driver(&terminal);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Offline);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::NoAnswer));
    terminal.control().set_offline(false);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Ready);
}

#[test]
fn a_terminal_that_asks_for_a_diagnosis_gets_one_and_is_ready() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().require_diagnosis();
    let mut driver = driver(&terminal);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Ready);
    assert!(terminal.control().received().contains(&0x0670), "the kiosk ran a diagnosis (06 70)");
}

#[test]
fn a_technicians_diagnosis_registers_again_and_tells_a_terminal_cut_off_from_its_host() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let mut driver = driver(&terminal);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Ready);
    assert_eq!(driver.diagnose().expect("diagnosed"), TerminalStatus::Ready);
    let received = terminal.control().received();
    assert_eq!(received.iter().filter(|c| **c == 0x0600).count(), 2, "registered anew: {received:04X?}");
    assert!(received.contains(&0x0670), "a diagnosis (06 70)");
    terminal.control().set_host_unreachable(true);
    assert_eq!(driver.diagnose().expect("diagnosed"), TerminalStatus::OutOfOrder, "answers, but cannot reach its host");
    assert!(terminal.control().booked().is_empty() && terminal.control().open_reservations().is_empty(), "no money moved");
    terminal.control().set_offline(true);
    assert_eq!(driver.diagnose().expect_err("gone").kind(), ErrorKind::NoAnswer);
}

#[test]
fn nothing_listening_is_no_answer() {
    let address = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
    let mut driver = ZvtTerminal::new(ZvtConfig::new(address));
    assert_eq!(driver.status().expect("status"), TerminalStatus::Offline);
    assert_eq!(driver.open_reservation().expect_err("nobody").kind(), ErrorKind::NoAnswer);
}

#[test]
fn card_data_a_terminal_sends_in_clear_never_leaves_the_driver() {
    use balcao_drivers::payment_terminal::zvt::sim::CLEAR_PAN;
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().send_card_data_in_clear(true);
    let mut driver = driver(&terminal);
    let authorization = approved(pay(&mut driver, &request(3_000)).0);
    assert_eq!(authorization.card, None, "an unmasked number is not kept, not even its last four digits");
    let everything = format!("{authorization:?}");
    assert!(!everything.contains(CLEAR_PAN), "{everything}");
    assert!(!everything.contains("=2912"), "no track 2: {everything}");
    assert!(authorization.receipt_lines.iter().any(|l| l == "VISA ************1111"), "{:?}", authorization.receipt_lines);
}

#[test]
fn a_paced_terminal_takes_the_citizens_time_and_a_cancel_still_stops_it() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().set_pace(Duration::from_millis(300));
    terminal.control().set_usual(Script::ApproveWithPin);
    let mut driver = driver(&terminal);
    let started = Instant::now();
    let (outcome, prompts) = pay(&mut driver, &request(3_000));
    approved(outcome);
    assert!(started.elapsed() >= Duration::from_millis(900), "three steps of 300 ms: {:?}", started.elapsed());
    assert_eq!(prompts[..2], [TerminalPrompt::PresentCard, TerminalPrompt::EnterPin]);

    let request = request(3_000);
    let cancel = request.cancel.clone();
    terminal.control().set_pace(Duration::from_secs(20));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        cancel.cancel();
    });
    let started = Instant::now();
    assert_eq!(pay(&mut driver, &request).0, Ok(AuthorizationOutcome::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(terminal.control().open_reservations().len(), 1, "only the first reservation is open");
}
