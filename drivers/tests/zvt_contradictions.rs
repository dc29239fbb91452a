//! The ZVT driver against a terminal written from the protocol, not the project's simulator:
//! a peer that answers each command with exactly the bytes a test gives — contradictory
//! answers, a completion left over from an earlier command, fields of the whole BMP table,
//! malformed receipt blocks, a terminal deaf to the citizen's cancel.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use balcao_drivers::CancelToken;
use balcao_drivers::payment_terminal::zvt::apdu::{Apdu, ApduFramer};
use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, ErrorKind, PaymentTerminal, TerminalPrompt,
};

/// One step of the terminal's side of a conversation.
enum Step {
    /// The kiosk sends this command (`CLASS INSTR`); anything else fails the test.
    Expect(u16),
    /// The kiosk acknowledges (`80 00 00`) the terminal's last message.
    ExpectAck,
    /// The terminal sends these bytes.
    Send(Vec<u8>),
    /// The terminal reads whatever comes for this long and answers nothing.
    Deaf(Duration),
}

use Step::*;

const ACK: [u8; 3] = [0x80, 0x00, 0x00];
const COMPLETION: [u8; 3] = [0x06, 0x0F, 0x00];

/// A payment terminal that plays `steps` to the first connection, after the registration the
/// driver makes on connecting. Its thread's result says what went wrong on its side.
struct ScriptedTerminal {
    address: SocketAddr,
    played: JoinHandle<Result<(), String>>,
}

fn read_apdu(stream: &mut TcpStream, framer: &mut ApduFramer, pending: &mut Vec<Apdu>, until: Instant) -> Result<Option<Apdu>, String> {
    loop {
        if !pending.is_empty() {
            return Ok(Some(pending.remove(0)));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        let mut buffer = [0u8; 512];
        match stream.read(&mut buffer) {
            Ok(0) => return Err("the kiosk closed the link".into()),
            Ok(n) => pending.extend(framer.push(&buffer[..n])),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl ScriptedTerminal {
    fn play(steps: Vec<Step>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let address = listener.local_addr().expect("address");
        let played = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut framer = ApduFramer::default();
            let mut pending = Vec::new();
            let registration = [Expect(0x0600), Send(ACK.to_vec()), Send(COMPLETION.to_vec()), ExpectAck];
            for (at, step) in registration.into_iter().chain(steps).enumerate() {
                match step {
                    Expect(command) => {
                        let got = read_apdu(&mut stream, &mut framer, &mut pending, Instant::now() + Duration::from_secs(10))?
                            .ok_or(format!("step {at}: no command {command:04X} came"))?;
                        if got.command() != command {
                            return Err(format!("step {at}: expected {command:04X}, got {:04X}", got.command()));
                        }
                    }
                    ExpectAck => {
                        let got = read_apdu(&mut stream, &mut framer, &mut pending, Instant::now() + Duration::from_secs(10))?
                            .ok_or(format!("step {at}: no acknowledgement came"))?;
                        if got != Apdu::ack() {
                            return Err(format!("step {at}: expected an acknowledgement, got {got:?}"));
                        }
                    }
                    Send(bytes) => stream.write_all(&bytes).map_err(|e| format!("step {at}: {e}"))?,
                    Deaf(time) => {
                        let until = Instant::now() + time;
                        while Instant::now() < until {
                            if read_apdu(&mut stream, &mut framer, &mut pending, until).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
            Ok(())
        });
        Self { address, played }
    }

    fn driver(&self) -> ZvtTerminal {
        let mut config = ZvtConfig::new(self.address);
        config.ack_timeout = Duration::from_secs(2);
        config.transaction_timeout = Duration::from_secs(5);
        ZvtTerminal::new(config)
    }

    fn finished(self) {
        self.played.join().expect("the terminal's thread").expect("the terminal's side went as scripted");
    }
}

/// A status information (04 0F) with these BMPs.
fn status_information(bmps: &[u8]) -> Vec<u8> {
    Apdu::new(0x04, 0x0F, bmps.to_vec()).encode().expect("encodes")
}

/// Result 00, amount 30.00, trace 000101, receipt 0005, card name VISA, currency MOP.
const APPROVED: [u8; 26] = [
    0x27, 0x00, 0x04, 0, 0, 0, 0, 0x30, 0x00, 0x0B, 0x00, 0x01, 0x01, 0x87, 0x00, 0x05, 0x8B, 0xF0, 0xF4, b'V', b'I', b'S', b'A', 0x49,
    0x04, 0x46,
];

fn approved_information() -> Vec<u8> {
    status_information(&APPROVED)
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest { amount: 3_000, reference: "pay-1".into(), cancel: CancelToken::new() }
}

fn reservation(receipt_number: u32) -> Authorization {
    Authorization {
        amount: 3_000,
        receipt_number,
        trace_number: 101,
        approval_code: None,
        card_brand: None,
        card: None,
        receipt_lines: Vec::new(),
    }
}

#[test]
fn an_approval_followed_by_an_abort_is_an_unknown_outcome_never_a_cancellation() {
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0622),
        Send(ACK.to_vec()),
        Send(approved_information()),
        ExpectAck,
        Send(vec![0x06, 0x1E, 0x01, 0x6C]),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    let outcome = driver.authorize(&request(), &mut |_| {});
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::OutcomeUnknown), "the reservation may stand: ask the terminal");
    terminal.finished();
}

#[test]
fn a_completion_left_over_from_an_earlier_command_is_not_a_booking() {
    // The stale completion, then the terminal's real answer: no such reservation.
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0624),
        Send(ACK.to_vec()),
        Send(COMPLETION.to_vec()),
        ExpectAck,
        Send(vec![0x06, 0x1E, 0x01, 0xB8]),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    let booked = driver.capture(&reservation(5), 3_000);
    assert_eq!(booked.map(|c| c.amount).map_err(|e| e.kind()), Err(ErrorKind::NoSuchReservation));
    terminal.finished();

    // The stale completion, then the booking's own result and completion: booked.
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0624),
        Send(ACK.to_vec()),
        Send(COMPLETION.to_vec()),
        ExpectAck,
        Send(status_information(&[0x27, 0x00, 0x04, 0, 0, 0, 0, 0x30, 0x00, 0x87, 0x00, 0x05])),
        ExpectAck,
        Send(COMPLETION.to_vec()),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    assert_eq!(driver.capture(&reservation(5), 3_000).expect("booked").amount, 3_000);
    terminal.finished();

    // A result for another reservation (one left over too) proves nothing about this one.
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0625),
        Send(ACK.to_vec()),
        Send(status_information(&[0x27, 0x00, 0x87, 0x00, 0x09])),
        ExpectAck,
        Send(COMPLETION.to_vec()),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    assert_eq!(driver.reverse(&reservation(5)).map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::OutcomeUnknown));
    terminal.finished();

    // A terminal that completes a booking and never reports its result leaves it unknown.
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0624),
        Send(ACK.to_vec()),
        Send(COMPLETION.to_vec()),
        ExpectAck,
        Deaf(Duration::from_secs(6)),
    ]);
    let mut driver = terminal.driver();
    assert_eq!(driver.capture(&reservation(5), 3_000).map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::OutcomeUnknown));
    terminal.finished();
}

#[test]
fn fields_from_the_whole_bmp_table_leave_an_approval_readable_and_card_data_out() {
    let fields = [
        APPROVED.as_slice(),
        // Date YYMMDD (AA), time (0C), date MMDD (0D), expiry (0E), terminal id (29).
        &[0xAA, 0x26, 0x12, 0x06, 0x0C, 0x14, 0x05, 0x00, 0x0D, 0x12, 0x06, 0x0E, 0x29, 0x12, 0x29, 0x52, 0x52, 0x35, 0x35],
        // VU number (2A, 15 ASCII), AID authorisation attribute (3B, 8), card type (8A),
        // card-type id (8C), result code AS (A0), AID parameter (BA, 5), CVV (3A).
        &[0x2A],
        b"123456789012345",
        &[0x3B, 1, 2, 3, 4, 5, 6, 7, 8, 0x8A, 0x0A, 0x8C, 0x05, 0xA0, 0x00, 0xBA, 1, 2, 3, 4, 5, 0x3A, 0x01, 0x23],
        // A TLV container carrying track 2 (tag 1F09), and additional text (3C, LLLVAR).
        &[0x06, 0x0A, 0x1F, 0x09, 0x07, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11],
        &[0x3C, 0xF0, 0xF0, 0xF2],
        b"OK",
    ]
    .concat();
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0622),
        Send(ACK.to_vec()),
        Send(status_information(&fields)),
        ExpectAck,
        Send(COMPLETION.to_vec()),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    let Ok(AuthorizationOutcome::Approved(approval)) = driver.authorize(&request(), &mut |_| {}) else { panic!("approved") };
    assert_eq!((approval.receipt_number, approval.trace_number, approval.amount), (5, 101, 3_000));
    assert_eq!(approval.card_brand.as_deref(), Some("VISA"));
    assert!(!format!("{approval:?}").contains("411111"), "no track data kept: {approval:?}");
    terminal.finished();
}

#[test]
fn a_malformed_text_block_and_an_intermediate_status_the_crate_cannot_read_cost_nothing() {
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0622),
        Send(ACK.to_vec()),
        // 04 FF with a timeout byte that is no BCD.
        Send(vec![0x04, 0xFF, 0x02, 0x0A, 0xFA]),
        ExpectAck,
        Send(approved_information()),
        ExpectAck,
        // A text block whose BER length runs past its end.
        Send(vec![0x06, 0xD3, 0x02, 0x06, 0x82]),
        ExpectAck,
        Send(COMPLETION.to_vec()),
        ExpectAck,
    ]);
    let mut driver = terminal.driver();
    let mut prompts = Vec::new();
    let outcome = driver.authorize(&request(), &mut |p| prompts.push(p));
    assert!(matches!(outcome, Ok(AuthorizationOutcome::Approved(_))), "{outcome:?}");
    assert_eq!(prompts, [TerminalPrompt::PresentCard]);
    terminal.finished();
}

#[test]
fn a_terminal_that_ignores_the_citizens_cancel_holds_them_only_the_short_wait() {
    let terminal = ScriptedTerminal::play(vec![
        Expect(0x0622),
        Send(ACK.to_vec()),
        Send(vec![0x04, 0xFF, 0x01, 0x0A]),
        ExpectAck,
        // The abort comes, and the terminal neither confirms nor answers.
        Deaf(Duration::from_secs(4)),
    ]);
    let mut config = ZvtConfig::new(terminal.address);
    config.transaction_timeout = Duration::from_secs(60);
    config.abort_timeout = Duration::from_millis(300);
    let mut driver = ZvtTerminal::new(config);
    let request = request();
    let (cancel, (told, asked)) = (request.cancel.clone(), mpsc::channel());
    let started = Instant::now();
    let outcome = driver.authorize(&request, &mut |prompt| {
        if prompt == TerminalPrompt::PresentCard {
            // The citizen presses Cancel as soon as the screen asks for the card.
            cancel.cancel();
            let _ = told.send(());
        }
    });
    asked.try_recv().expect("the terminal asked for the card");
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::OutcomeUnknown), "the abort's fate is unknown");
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(30), "bounded by the abort's wait, not the payment's 60 s: {waited:?}");
    terminal.finished();
}
