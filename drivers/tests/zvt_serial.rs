//! The kiosk's ZVT driver over ZVT's serial transport (DLE STX … DLE ETX, CRC, ACK/NAK),
//! against the virtual terminal on the other end of a socat pty pair: the same commands as over
//! TCP, frames damaged on the line in both directions, a terminal that never confirms, and one
//! that goes quiet after approving.

mod common;

use std::time::{Duration, Instant};

use balcao_drivers::payment_terminal::zvt::ecr::{ZvtLink, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::{Delivery, Script, VirtualZvtTerminal};
use balcao_drivers::payment_terminal::{AuthorizationOutcome, ErrorKind, PaymentTerminal, TerminalPrompt, TerminalStatus};
use common::zvt::{approved, pay, request};

fn serial_terminal() -> (VirtualZvtTerminal, ZvtTerminal) {
    serial_terminal_waiting(Duration::from_secs(3))
}

/// The driver waits `transaction` for a payment to end.
fn serial_terminal_waiting(transaction: Duration) -> (VirtualZvtTerminal, ZvtTerminal) {
    let terminal = VirtualZvtTerminal::on_new_pty().expect("virtual terminal on a pty (socat)");
    let mut config = terminal.config();
    assert!(matches!(config.link, ZvtLink::Serial { .. }), "{:?}", config.link);
    config.ack_timeout = Duration::from_secs(2);
    config.transaction_timeout = transaction;
    (terminal, ZvtTerminal::new(config))
}

#[test]
fn every_command_runs_over_the_serial_framing_whole_and_byte_by_byte() {
    for delivery in [Delivery::Whole, Delivery::BytePerWrite] {
        let (terminal, mut driver) = serial_terminal();
        terminal.control().set_delivery(delivery);
        assert_eq!(driver.status().expect("status"), TerminalStatus::Ready, "{delivery:?}");

        terminal.control().script(Script::ApproveWithPin);
        let (outcome, prompts) = pay(&mut driver, &request(3_000));
        assert_eq!(
            prompts,
            [TerminalPrompt::PresentCard, TerminalPrompt::EnterPin, TerminalPrompt::Processing, TerminalPrompt::RemoveCard],
            "{delivery:?}"
        );
        let first = approved(outcome);
        assert_eq!(first.card.as_ref().map(|c| c.last4()), Some("4242"));
        assert!(first.receipt_lines.iter().any(|l| l == "PRE-AUTHORISATION"), "{:?}", first.receipt_lines);
        let second = approved(pay(&mut driver, &request(4_500)).0);

        assert_eq!(driver.open_reservation().expect("asked"), Some(first.receipt_number));
        assert_eq!(driver.capture(&first, 2_500).expect("captured").amount, 2_500);
        driver.reverse(&second).expect("reversed");
        assert_eq!(terminal.control().booked(), [(first.receipt_number as usize, 2_500)]);
        assert!(terminal.control().open_reservations().is_empty());
        assert_eq!(driver.capture(&first, 2_500).expect_err("twice").kind(), ErrorKind::NoSuchReservation);

        terminal.control().script(Script::Decline(0x05));
        assert!(matches!(pay(&mut driver, &request(3_000)).0, Ok(AuthorizationOutcome::Declined(_))));
        assert_eq!(driver.end_of_day().expect("end of day").total, 2_500);
    }
}

#[test]
fn damaged_frames_are_asked_for_again_in_both_directions() {
    let (terminal, mut driver) = serial_terminal();
    assert_eq!(driver.status().expect("status"), TerminalStatus::Ready);
    // The terminal's next two frames arrive with a broken CRC: the kiosk NAKs, the terminal
    // sends them again. The kiosk's next two frames are refused: it sends them again.
    terminal.control().garble_sent_frames(2);
    terminal.control().refuse_received_frames(2);
    let authorization = approved(pay(&mut driver, &request(3_000)).0);
    driver.capture(&authorization, 3_000).expect("captured");
    assert_eq!(terminal.control().booked(), [(authorization.receipt_number as usize, 3_000)]);
    assert_eq!(terminal.control().frames_asked_again(), 2, "the kiosk asked for each damaged frame again");
    assert_eq!(terminal.control().refusals_left(), 0, "the kiosk sent both refused frames again");
    // Exactly one reservation and one booking: no frame sent again became a second command.
    assert_eq!(terminal.control().received().iter().filter(|c| **c == 0x0622).count(), 1);
    assert!(terminal.control().open_reservations().is_empty());
}

#[test]
fn the_cancel_at_the_kiosk_reaches_the_terminal_over_the_line() {
    let (terminal, mut driver) = serial_terminal();
    terminal.control().script(Script::NeverPresented);
    let request = request(3_000);
    let cancel = request.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let started = Instant::now();
    assert_eq!(pay(&mut driver, &request).0, Ok(AuthorizationOutcome::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(terminal.control().received().contains(&0x06B0));
}

#[test]
fn a_terminal_that_never_confirms_is_no_answer_and_one_quiet_after_approving_is_unknown() {
    let (terminal, mut driver) = serial_terminal();
    // Every frame refused: the registration never gets through; the terminal reads as offline
    // and a payment never starts.
    terminal.control().refuse_received_frames(usize::MAX);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Offline);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::NoAnswer));
    assert!(!terminal.control().received().contains(&0x0622), "no reservation reached the terminal");
    terminal.control().refuse_received_frames(0);
    assert_eq!(driver.status().expect("status"), TerminalStatus::Ready);

    // Approved, then the line goes quiet: the kiosk cannot know, and never pays again; asking
    // the terminal finds the reservation.
    terminal.control().script(Script::DropAfterApproval);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::OutcomeUnknown));
    let open = terminal.control().open_reservations();
    assert_eq!(open.len(), 1);
    assert_eq!(driver.open_reservation().expect("asked").map(|r| r as usize), Some(open[0].0));

    // A frame whose CRC holds but which is no ZVT message leaves the outcome unknown too.
    terminal.control().script(Script::Garbage);
    assert_eq!(pay(&mut driver, &request(3_000)).0, Err(ErrorKind::OutcomeUnknown));
    assert_eq!(driver.status().expect("the line recovers"), TerminalStatus::Ready);
}

#[test]
fn a_completion_sent_twice_and_a_cancel_that_comes_too_late_keep_the_line_in_step() {
    // The paced payment below takes three seconds of the citizen's time.
    let (terminal, mut driver) = serial_terminal_waiting(Duration::from_secs(15));
    terminal.control().script(Script::AnswerTwice);
    let first = approved(pay(&mut driver, &request(3_000)).0);
    // The second completion waits on the line; the next command still gets its own answer.
    assert_eq!(driver.capture(&first, 3_000).expect("captured").amount, 3_000);

    // The citizen cancels while typing the PIN: too late for the terminal, which refuses the
    // abort (84 83) and finishes; the line stays in step and the payment is approved, not lost.
    terminal.control().set_pace(Duration::from_secs(1));
    terminal.control().script(Script::ApproveWithPin);
    let request = request(2_000);
    let cancel = request.cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        cancel.cancel();
    });
    let (outcome, prompts) = pay(&mut driver, &request);
    let second = approved(outcome);
    assert!(prompts.contains(&TerminalPrompt::EnterPin), "{prompts:?}");
    assert!(terminal.control().received().contains(&0x06B0), "the abort reached the terminal");
    driver.reverse(&second).expect("reversed");
    assert!(terminal.control().open_reservations().is_empty());
}
