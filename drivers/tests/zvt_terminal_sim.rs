//! The virtual ZVT terminal checked against the `zvt` crate's own ECR sequences over loopback
//! TCP, before anything of the kiosk is tested against it: registration, status enquiry, and
//! reservations approved, approved after a PIN, and declined.

use balcao_drivers::payment_terminal::zvt::sim::{CURRENCY_MOP, Script, TERMINAL_ID, VirtualZvtTerminal, status};
use futures::StreamExt as _;
use zvt::packets;
use zvt::sequences::{self, AuthorizationResponse, PartialReversalResponse, Sequence as _};

async fn connect(terminal: &VirtualZvtTerminal) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(terminal.address()).await.expect("the terminal listens")
}

#[tokio::test]
async fn registration_and_status_enquiry_complete_with_the_terminals_id() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let mut stream = connect(&terminal).await;
    let registration = packets::Registration { password: 123_456, config_byte: 0xDE, currency: Some(CURRENCY_MOP), tlv: None };
    let replies: Vec<_> = sequences::Registration::into_stream(&registration, &mut stream).collect().await;
    let [Ok(sequences::RegistrationResponse::CompletionData(done))] = &replies[..] else { panic!("{replies:?}") };
    assert_eq!(done.terminal_id, Some(TERMINAL_ID));

    // The same connection goes on with the next command.
    let enquiry = packets::StatusEnquiry { password: None, service_byte: None, tlv: None };
    let replies: Vec<_> = sequences::StatusEnquiry::into_stream(&enquiry, &mut stream).collect().await;
    assert!(matches!(replies.last(), Some(Ok(sequences::StatusEnquiryResponse::CompletionData(_)))), "{replies:?}");
}

/// Runs a reservation of `amount` cents the way the crate's ECR does; returns what came.
async fn reserve(terminal: &VirtualZvtTerminal, amount: usize) -> Vec<AuthorizationResponse> {
    let mut stream = connect(terminal).await;
    let request = packets::Reservation { amount: Some(amount), currency: Some(CURRENCY_MOP), ..packets::Reservation::default() };
    sequences::Reservation::into_stream(&request, &mut stream).map(|r| r.expect("a packet the crate reads")).collect().await
}

fn statuses(replies: &[AuthorizationResponse]) -> Vec<u8> {
    replies
        .iter()
        .filter_map(|r| match r {
            AuthorizationResponse::IntermediateStatusInformation(i) => Some(i.status),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_approved_reservation_reports_its_receipt_number_and_stays_open_at_the_terminal() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    let replies = reserve(&terminal, 3_000).await;
    assert_eq!(statuses(&replies), [status::INSERT_CARD, status::PLEASE_WAIT, status::REMOVE_CARD]);
    let information = replies
        .iter()
        .find_map(|r| match r {
            AuthorizationResponse::StatusInformation(s) => Some(s),
            _ => None,
        })
        .expect("status information");
    assert_eq!((information.result_code, information.amount, information.receipt_no), (Some(0), Some(3_000), Some(1)));
    // The card number comes masked (E nibbles), as terminals send it; the crate reads those
    // nibbles as digits, which is why the kiosk's driver takes BMP 22 out before parsing.
    assert!(information.card_number.is_some(), "the virtual terminal sends a masked card number");
    let lines: Vec<&String> = replies
        .iter()
        .flat_map(|r| match r {
            AuthorizationResponse::PrintLine(line) => vec![&line.text],
            AuthorizationResponse::PrintTextBlock(block) => block.tlv.iter().flat_map(|t| t.lines.iter().flat_map(|l| &l.lines)).collect(),
            _ => vec![],
        })
        .collect();
    assert!(lines.iter().any(|l| l.contains("PRE-AUTHORISATION")), "{lines:?}");
    assert!(matches!(replies.last(), Some(AuthorizationResponse::CompletionData(_))));
    assert_eq!(terminal.control().open_reservations(), [(1, 3_000)]);

    terminal.control().script(Script::ApproveWithPin);
    let replies = reserve(&terminal, 4_000).await;
    assert_eq!(statuses(&replies), [status::INSERT_CARD, status::ENTER_PIN, status::PLEASE_WAIT, status::REMOVE_CARD]);
    assert_eq!(terminal.control().open_reservations(), [(1, 3_000), (2, 4_000)]);
}

#[tokio::test]
async fn a_declined_reservation_ends_in_an_abort_with_the_result_code_and_reserves_nothing() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    terminal.control().script(Script::Decline(0x05));
    let replies = reserve(&terminal, 3_000).await;
    let Some(AuthorizationResponse::Abort(abort)) = replies.last() else { panic!("{replies:?}") };
    assert_eq!(abort.error, 0x05);
    assert!(terminal.control().open_reservations().is_empty());
}

#[tokio::test]
async fn open_reservations_are_named_one_at_a_time_and_end_of_day_and_diagnosis_complete() {
    let terminal = VirtualZvtTerminal::listen().expect("terminal");
    reserve(&terminal, 3_000).await;
    let mut stream = connect(&terminal).await;
    // The crate's partial reversal with receipt number FF FF asks for the open ones (2.10.1).
    let query = packets::PartialReversal { receipt_no: Some(0xFFFF), currency: Some(CURRENCY_MOP), ..Default::default() };
    let replies: Vec<_> = sequences::PartialReversal::into_stream(&query, &mut stream).collect().await;
    let Some(Ok(PartialReversalResponse::PartialReversalAbort(abort))) = replies.last() else { panic!("{replies:?}") };
    assert_eq!((abort.error, abort.receipt_no), (0xB8, Some(1)));

    let replies: Vec<_> = sequences::Diagnosis::into_stream(&packets::Diagnosis { tlv: None }, &mut stream).collect().await;
    assert!(matches!(replies.last(), Some(Ok(sequences::DiagnosisResponse::CompletionData(_)))), "{replies:?}");

    let replies: Vec<_> = sequences::EndOfDay::into_stream(&packets::EndOfDay { password: 0 }, &mut stream).collect().await;
    let total = replies.iter().find_map(|r| match r {
        Ok(sequences::EndOfDayResponse::StatusInformation(s)) => s.amount,
        _ => None,
    });
    assert_eq!(total, Some(0), "nothing was booked yet: {replies:?}");
    assert!(matches!(replies.last(), Some(Ok(sequences::EndOfDayResponse::CompletionData(_)))), "{replies:?}");
}
