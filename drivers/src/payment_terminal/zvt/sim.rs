//! A virtual payment terminal: the PT side of ZVT over TCP or a serial line (a pty), as a
//! terminal answers an ECR, scripted for tests (approve, decline, ask for the PIN …). It speaks the bytes a terminal
//! sends — acknowledgements, intermediate status, status information, completion or abort —
//! encoded with the `zvt` crate's packets, and is checked against that crate's own ECR
//! sequences before the kiosk's driver is tested against it.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zvt::ZvtSerializer as _;
use zvt::packets;

use super::apdu::{Apdu, ApduFramer};
use super::bmp;
use super::ecr::ZvtConfig;
use super::wire::{LineQuirks, SerialWire, TcpWire, Wire};
use crate::pty::PtyPair;

/// The result code of an end-of-day whose host did not answer (7D, "communication error").
pub const HOST_UNREACHABLE: u8 = 0x7D;

/// The terminal id the virtual terminal reports.
pub const TERMINAL_ID: usize = 52_523_535;
/// Macao pataca, ISO 4217 numeric.
pub const CURRENCY_MOP: usize = 446;

/// ZVT intermediate status codes (04 FF) the virtual terminal shows.
pub mod status {
    pub const INSERT_CARD: u8 = 0x0A;
    /// "Please watch the PIN pad".
    pub const ENTER_PIN: u8 = 0x01;
    pub const PLEASE_WAIT: u8 = 0x17;
    pub const REMOVE_CARD: u8 = 0x0B;
}

/// What the terminal does with the next payment it is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    /// Card presented, approved.
    Approve,
    /// Card presented, PIN asked, approved.
    ApproveWithPin,
    /// Declined with this ZVT result code (e.g. `0x05` declined, `0x55` wrong PIN).
    Decline(u8),
    /// Approved (the money is reserved), then the connection drops before the completion.
    DropAfterApproval,
    /// Acknowledges the command, then says nothing more.
    Silent,
    /// Acknowledges the command, then sends bytes that are no ZVT message.
    Garbage,
    /// Asks for the card and waits: nobody presents one. Ends when the kiosk aborts (06 B0)
    /// or after `card_wait`, with 06 1E 6C either way.
    NeverPresented,
    /// Approves, and sends its completion twice: the second arrives during the next command.
    AnswerTwice,
    /// Asks for the card, which is read at once without the terminal saying so (no status
    /// until the result, as when the card was already in the slot): the kiosk's screen still
    /// asks for the card, an abort now is refused (`84 83`), and the payment is approved.
    CardReadUnannounced,
    /// Approves, and sends among its receipt lines a text block whose length runs past its
    /// end (`06 D3 02 06 82`), which panics the `zvt` crate's parser.
    MalformedReceipt,
}

/// How the terminal's bytes reach the kiosk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Each message in one write.
    #[default]
    Whole,
    /// One byte per write: every message arrives in pieces.
    BytePerWrite,
    /// The acknowledgement and the message after it in one write (TCP; a serial line frames
    /// each message by itself).
    Coalesced,
}

#[derive(Debug, Default)]
struct Knobs {
    scripts: VecDeque<Script>,
    next_receipt: usize,
    next_trace: usize,
    /// Reservations approved and not released: receipt number → amount in cents.
    open: Vec<(usize, usize)>,
    /// Reservations booked: receipt number → amount booked.
    booked: Vec<(usize, usize)>,
    /// How many bookings the last end-of-day already sent.
    closed: usize,
    delivery: Delivery,
    card_wait: Duration,
    /// Connections are refused (the terminal is off or unplugged).
    offline: bool,
    /// Status enquiries abort with C2 until a diagnosis (06 70) runs.
    diagnosis_required: bool,
    /// End-of-day and diagnosis fail: the terminal's host cannot be reached.
    host_unreachable: bool,
    /// Every command the terminal was sent, as `CLASS INSTR`.
    received: Vec<u16>,
    /// What the terminal does when no script is queued (approve, unless set).
    usual: Option<Script>,
    /// How long each step of a payment takes (the citizen presenting the card, typing the
    /// PIN, the host answering); zero answers at once.
    pace: Duration,
    /// Approvals carry the card number in clear (BMP 22) and track 2 (BMP 23), as some
    /// terminals configured for it do: the kiosk must drop both.
    card_data_in_clear: bool,
}

/// Turns the virtual terminal's knobs from a test.
#[derive(Clone, Debug, Default)]
pub struct ZvtTerminalControl {
    knobs: Arc<Mutex<Knobs>>,
    quirks: LineQuirks,
}

impl ZvtTerminalControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.knobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues what the terminal does with the next payments (then it approves).
    pub fn script(&self, script: Script) {
        self.knobs().scripts.push_back(script);
    }

    /// Reservations approved and still open, as (receipt number, amount in cents).
    pub fn open_reservations(&self) -> Vec<(usize, usize)> {
        self.knobs().open.clone()
    }

    /// Reservations booked (captured), as (receipt number, amount booked).
    pub fn booked(&self) -> Vec<(usize, usize)> {
        self.knobs().booked.clone()
    }

    /// How the terminal writes: over TCP from the next connection on, on a serial line at once.
    pub fn set_delivery(&self, delivery: Delivery) {
        self.knobs().delivery = delivery;
        self.quirks.byte_per_write.store(delivery == Delivery::BytePerWrite, std::sync::atomic::Ordering::SeqCst);
    }

    /// How long the terminal waits for a card that never comes.
    pub fn set_card_wait(&self, wait: Duration) {
        self.knobs().card_wait = wait;
    }

    /// What the terminal does with payments when nothing is queued.
    pub fn set_usual(&self, script: Script) {
        self.knobs().usual = Some(script);
    }

    /// How long each step of a payment takes, as a citizen at a real terminal would (for the
    /// demo), and how long an end-of-day talks to the host. The citizen's cancel at the kiosk
    /// still stops the wait for the card.
    pub fn set_pace(&self, pace: Duration) {
        self.knobs().pace = pace;
    }

    /// An offline terminal drops every connection at once.
    pub fn set_offline(&self, offline: bool) {
        self.knobs().offline = offline;
    }

    /// End-of-day and diagnosis fail as when the terminal cannot reach its host (result
    /// [`HOST_UNREACHABLE`]), until set back.
    pub fn set_host_unreachable(&self, unreachable: bool) {
        self.knobs().host_unreachable = unreachable;
    }

    /// Status enquiries fail with "diagnosis required" until the kiosk runs one.
    pub fn require_diagnosis(&self) {
        self.knobs().diagnosis_required = true;
    }

    /// Approvals carry the card number in clear and track 2, as a misconfigured terminal's do.
    pub fn send_card_data_in_clear(&self, clear: bool) {
        self.knobs().card_data_in_clear = clear;
    }

    /// A sale made on the terminal by itself, not through the kiosk: booked, and counted in
    /// the next end-of-day, though the kiosk never heard of it.
    pub fn book_elsewhere(&self, amount: usize) {
        let mut knobs = self.knobs();
        knobs.booked.push((0, amount));
    }

    /// Commands received so far, as `CLASS INSTR` (e.g. `0x06B0` for an abort).
    pub fn received(&self) -> Vec<u16> {
        self.knobs().received.clone()
    }

    /// On a serial line: the terminal's next `frames` frames go out with a broken CRC (the
    /// kiosk must ask for each again).
    pub fn garble_sent_frames(&self, frames: usize) {
        self.quirks.garble_sent.store(frames, std::sync::atomic::Ordering::SeqCst);
    }

    /// On a serial line: how many of the terminal's frames the kiosk asked for again (NAK).
    pub fn frames_asked_again(&self) -> usize {
        self.quirks.asked_again.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// On a serial line: how many more received frames the terminal will refuse.
    pub fn refusals_left(&self) -> usize {
        self.quirks.refuse_received.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// On a serial line: the terminal refuses (NAKs) the next `frames` frames it receives, as
    /// if they arrived damaged (the kiosk must send each again).
    pub fn refuse_received_frames(&self, frames: usize) {
        self.quirks.refuse_received.store(frames, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Where the virtual terminal answers.
enum Served {
    Tcp(SocketAddr),
    Pty(PtyPair),
}

/// The PT side of ZVT on a loopback TCP port, one connection at a time (as a terminal), or
/// on a pty with ZVT's serial framing.
pub struct VirtualZvtTerminal {
    served: Served,
    control: ZvtTerminalControl,
}

impl std::fmt::Debug for VirtualZvtTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualZvtTerminal").field("link", &self.config().link).finish_non_exhaustive()
    }
}

/// Why a connection ended early.
#[derive(Debug)]
enum Ended {
    /// The other side closed the link.
    Closed,
    Io(std::io::Error),
    /// The ECR sent what a terminal cannot take (or the script sent garbage).
    Garbage,
    /// The script dropped the link after approving.
    Dropped,
    /// Nothing came for a long while.
    Idle,
}

impl From<std::io::Error> for Ended {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof { Self::Closed } else { Self::Io(e) }
    }
}

/// How long the terminal waits for the ECR's next message before it drops a TCP connection.
const IDLE: Duration = Duration::from_secs(30);

struct Link {
    wire: Box<dyn Wire>,
    /// Coalesced delivery: an acknowledgement is held back to go out with the next message.
    coalesce: bool,
    held: Vec<u8>,
}

impl Link {
    fn new(wire: Box<dyn Wire>, coalesce: bool) -> Self {
        Self { wire, coalesce, held: Vec::new() }
    }

    fn next(&mut self) -> Result<Apdu, Ended> {
        self.wire.next(Instant::now() + IDLE)?.ok_or(Ended::Idle)
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(bytes);
        Ok(self.wire.send(&out)?)
    }

    fn ack(&mut self) -> Result<(), Ended> {
        if self.coalesce {
            self.held.extend_from_slice(&[0x80, 0x00, 0x00]);
            return Ok(());
        }
        self.send_bytes(&[0x80, 0x00, 0x00])
    }

    /// Sends a message and waits for the ECR's acknowledgement.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        self.send_bytes(bytes)?;
        loop {
            match self.next()? {
                reply if reply.class == 0x80 && reply.instr == 0x00 => return Ok(()),
                // An abort once the card is being processed is too late: refused (84 83).
                reply if reply.command() == 0x06B0 => self.send_bytes(&[0x84, 0x83, 0x00])?,
                _ => return Err(Ended::Garbage),
            }
        }
    }

    /// Works for `time` (the PIN typed, the host asked) while still hearing the line, as a
    /// terminal does: an abort now comes too late and is refused (84 83); a serial frame is
    /// confirmed at once, not after the work.
    fn busy_for(&mut self, control: &ZvtTerminalControl, time: Duration) -> Result<(), Ended> {
        let until = Instant::now() + time;
        while Instant::now() < until {
            if let Some(message) = self.wire.next(until)?
                && message.command() == 0x06B0
            {
                control.knobs().received.push(0x06B0);
                self.send_bytes(&[0x84, 0x83, 0x00])?;
            }
        }
        Ok(())
    }

    /// Waits up to `wait` for the ECR to abort (06 B0); true if it did, the abort then recorded
    /// and acknowledged (the caller ends the payment with 06 1E 6C).
    fn abort_within(&mut self, control: &ZvtTerminalControl, wait: Duration) -> Result<bool, Ended> {
        let got = self.wire.next(Instant::now() + wait.max(Duration::from_millis(1)))?.is_some_and(|m| m.command() == 0x06B0);
        if got {
            control.knobs().received.push(0x06B0);
            self.send_bytes(&[0x80, 0x00, 0x00])?;
        }
        Ok(got)
    }
}

impl VirtualZvtTerminal {
    fn fresh_control() -> ZvtTerminalControl {
        let control = ZvtTerminalControl::default();
        {
            let mut knobs = control.knobs();
            knobs.next_receipt = 1;
            knobs.next_trace = 100;
            knobs.card_wait = Duration::from_secs(30);
        }
        control
    }

    /// A terminal listening on `127.0.0.1`, on a free port.
    pub fn listen() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let address = listener.local_addr()?;
        let control = Self::fresh_control();
        let serving = control.clone();
        std::thread::Builder::new().name("virtual-zvt-terminal".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if serving.knobs().offline {
                    drop(stream);
                    continue;
                }
                let delivery = serving.knobs().delivery;
                let mut wire = TcpWire::new(stream);
                wire.byte_per_write = delivery == Delivery::BytePerWrite;
                let mut link = Link::new(Box::new(wire), delivery == Delivery::Coalesced);
                let ended = serve(&mut link, &serving);
                link.wire.close();
                log_end(ended);
            }
        })?;
        Ok(Self { served: Served::Tcp(address), control })
    }

    /// A terminal on a new pty pair, speaking ZVT's serial framing; the kiosk opens
    /// [`Self::port_path`]. The line stays up while this value lives.
    pub fn on_new_pty() -> std::io::Result<Self> {
        let pair = PtyPair::new()?;
        let port = serialport::new(pair.device().to_string_lossy(), 9600).timeout(Duration::from_millis(100)).open()?;
        let control = Self::fresh_control();
        let serving = control.clone();
        let mut wire = SerialWire::new(port);
        wire.quirks = control.quirks.clone();
        std::thread::Builder::new().name("virtual-zvt-terminal-serial".into()).spawn(move || {
            let mut link = Link::new(Box::new(wire), false);
            loop {
                match serve(&mut link, &serving) {
                    // A serial line has no connection to lose: the terminal keeps listening,
                    // also after a frame the kiosk never confirmed.
                    Err(Ended::Garbage | Ended::Dropped | Ended::Idle) => {}
                    Err(Ended::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    // The pty went away with the terminal.
                    ended => return log_end(ended),
                }
            }
        })?;
        Ok(Self { served: Served::Pty(pair), control })
    }

    /// The terminal's TCP address. Panics for a terminal on a pty (see [`Self::config`]).
    pub fn address(&self) -> SocketAddr {
        match &self.served {
            Served::Tcp(address) => *address,
            Served::Pty(_) => panic!("the virtual terminal is on a pty, not TCP: use config()"),
        }
    }

    /// The serial port the kiosk opens, for a terminal on a pty.
    pub fn port_path(&self) -> Option<&Path> {
        match &self.served {
            Served::Tcp(_) => None,
            Served::Pty(pair) => Some(pair.host()),
        }
    }

    /// The ZVT driver's settings that reach this terminal.
    pub fn config(&self) -> ZvtConfig {
        match &self.served {
            Served::Tcp(address) => ZvtConfig::new(*address),
            Served::Pty(pair) => ZvtConfig::serial(pair.host(), 9600),
        }
    }

    pub fn control(&self) -> ZvtTerminalControl {
        self.control.clone()
    }
}

fn log_end(ended: Result<(), Ended>) {
    match ended {
        Ok(()) | Err(Ended::Closed | Ended::Dropped | Ended::Idle) => {}
        Err(Ended::Io(e)) => tracing::debug!(error = %e, "virtual terminal: the link failed"),
        Err(Ended::Garbage) => tracing::debug!("virtual terminal: the ECR sent what a terminal cannot take"),
    }
}

fn completion() -> Vec<u8> {
    packets::CompletionData { result_code: Some(0), status_byte: None, terminal_id: Some(TERMINAL_ID), currency: Some(CURRENCY_MOP) }
        .zvt_serialize()
}

fn intermediate(status: u8) -> Vec<u8> {
    packets::IntermediateStatusInformation { status, timeout: None }.zvt_serialize()
}

/// Serves one ECR connection, command after command, until it closes.
fn serve(link: &mut Link, control: &ZvtTerminalControl) -> Result<(), Ended> {
    loop {
        let command = link.next()?;
        control.knobs().received.push(command.command());
        match command.command() {
            // A late acknowledgement (of a message sent twice): nothing to answer.
            0x8000 => {}
            // Registration: acknowledged, then completion.
            0x0600 => {
                link.ack()?;
                link.send(&completion())?;
            }
            // Status enquiry: completion, or "diagnosis required".
            0x0501 => {
                link.ack()?;
                if control.knobs().diagnosis_required {
                    link.send(&packets::Abort { error: 0xC2 }.zvt_serialize())?;
                } else {
                    link.send(&completion())?;
                }
            }
            // Diagnosis: the terminal reaches its host, or says it cannot.
            0x0670 => {
                link.ack()?;
                link.send(&intermediate(status::PLEASE_WAIT))?;
                if control.knobs().host_unreachable {
                    link.send(&packets::Abort { error: HOST_UNREACHABLE }.zvt_serialize())?;
                } else {
                    control.knobs().diagnosis_required = false;
                    link.send(&completion())?;
                }
            }
            // End-of-day: the bookings since the last one, a report, completion.
            0x0650 => {
                link.ack()?;
                end_of_day(link, control)?;
            }
            // Partial reversal; with receipt number FF FF, the list of open reservations.
            0x0623 => {
                link.ack()?;
                let asked = bmp::find(&command.data, 0x87);
                if asked == Some(&[0xFF, 0xFF][..]) {
                    let first = control.knobs().open.first().map(|(receipt, _)| *receipt);
                    let mut abort = vec![0xB8];
                    if let Some(receipt) = first {
                        abort.push(0x87);
                        abort.extend(bmp::bcd(receipt as u64, 2));
                    }
                    link.send(&Apdu::new(0x06, 0x1E, abort).encode().map_err(|_| Ended::Garbage)?)?;
                } else {
                    link.send(&packets::Abort { error: 0x83 }.zvt_serialize())?;
                }
            }
            // Reservation (pre-authorisation).
            0x0622 => {
                // Read with the driver's own BMP walk: the `zvt` crate's parser panics on
                // some malformed input, and the virtual terminal serves whatever connects.
                let amount = bmp::fields(&command.data)
                    .ok()
                    .map(|fields| fields.iter().find(|f| f.number == 0x04).and_then(|f| bmp::bcd_value(f.value)).unwrap_or(0));
                let Some(amount) = amount else {
                    // 84 83: the ECR's message could not be read.
                    link.send_bytes(&[0x84, 0x83, 0x00])?;
                    continue;
                };
                link.ack()?;
                reserve(link, control, amount as usize)?;
            }
            // Book total (06 24) and pre-authorisation reversal (06 25).
            0x0624 | 0x0625 => {
                let value = |number| bmp::find(&command.data, number).and_then(bmp::bcd_value).map(|v| v as usize);
                let (receipt, amount) = (value(0x87), value(0x04));
                link.ack()?;
                release(link, control, command.instr == 0x24, receipt, amount)?;
            }
            _ => {
                // 84 83: command not supported.
                link.send_bytes(&[0x84, 0x83, 0x00])?;
            }
        }
    }
}

/// Books (`book`) or reverses an open reservation.
fn release(link: &mut Link, control: &ZvtTerminalControl, book: bool, receipt: Option<usize>, amount: Option<usize>) -> Result<(), Ended> {
    let found = {
        let mut knobs = control.knobs();
        let position = knobs.open.iter().position(|(r, _)| Some(*r) == receipt);
        position.map(|i| knobs.open.remove(i))
    };
    let Some((receipt_no, reserved)) = found else {
        // B8: no such pre-authorisation.
        return link.send(&packets::Abort { error: 0xB8 }.zvt_serialize());
    };
    let amount = if book { amount.unwrap_or(reserved).min(reserved) } else { 0 };
    if book {
        control.knobs().booked.push((receipt_no, amount));
    }
    let information = packets::StatusInformation {
        result_code: Some(0),
        amount: Some(amount),
        receipt_no: Some(receipt_no),
        terminal_id: Some(TERMINAL_ID),
        currency: Some(CURRENCY_MOP),
        ..packets::StatusInformation::default()
    };
    link.send(&information.zvt_serialize())?;
    link.send(&completion())
}

fn reserve(link: &mut Link, control: &ZvtTerminalControl, amount: usize) -> Result<(), Ended> {
    let script = {
        let mut knobs = control.knobs();
        let usual = knobs.usual.clone().unwrap_or(Script::Approve);
        knobs.scripts.pop_front().unwrap_or(usual)
    };
    match script {
        Script::NeverPresented => {
            link.send(&intermediate(status::INSERT_CARD))?;
            let wait = control.knobs().card_wait;
            link.abort_within(control, wait)?;
            return link.send(&packets::Abort { error: 0x6C }.zvt_serialize());
        }
        Script::Silent => {
            // Keeps the connection open and says nothing until the ECR gives up.
            return link.next().map(|_| ());
        }
        Script::Garbage => {
            link.send_bytes(&[0x04, 0x0F, 0x05, 0x27])?;
            link.wire.close();
            return Err(Ended::Garbage);
        }
        _ => {}
    }
    let pace = control.knobs().pace;
    link.send(&intermediate(status::INSERT_CARD))?;
    if script == Script::CardReadUnannounced {
        // The card is read now; the terminal works on without a word, refusing any abort.
        link.busy_for(control, pace)?;
    } else {
        // The citizen reaches for the card: until then the kiosk may still abort.
        if !pace.is_zero() && link.abort_within(control, pace)? {
            return link.send(&packets::Abort { error: 0x6C }.zvt_serialize());
        }
        if script == Script::ApproveWithPin {
            link.send(&intermediate(status::ENTER_PIN))?;
            link.busy_for(control, pace)?;
        }
        link.send(&intermediate(status::PLEASE_WAIT))?;
        link.busy_for(control, pace)?;
    }
    let (receipt_no, trace_number) = {
        let mut knobs = control.knobs();
        let numbers = (knobs.next_receipt, knobs.next_trace);
        // Receipt numbers have four digits and trace numbers six: they wrap, as a terminal's do.
        knobs.next_receipt = knobs.next_receipt % 9_999 + 1;
        knobs.next_trace = knobs.next_trace % 999_999 + 1;
        numbers
    };
    let result_code = match script {
        Script::Decline(code) => code,
        _ => 0,
    };
    let information = packets::StatusInformation {
        result_code: Some(result_code),
        amount: Some(amount),
        trace_number: Some(trace_number),
        receipt_no: (result_code == 0).then_some(receipt_no),
        terminal_id: Some(TERMINAL_ID),
        currency: Some(CURRENCY_MOP),
        card_name: (result_code == 0).then(|| "VISA".to_string()),
        ..packets::StatusInformation::default()
    };
    if result_code == 0 {
        control.knobs().open.push((receipt_no, amount));
    }
    let mut information = information.zvt_serialize();
    if result_code == 0 {
        information = with_card_data(&information, control.knobs().card_data_in_clear);
    }
    link.send(&information)?;
    if script == Script::DropAfterApproval {
        link.wire.close();
        return Err(Ended::Dropped);
    }
    link.send(&intermediate(status::REMOVE_CARD))?;
    if result_code != 0 {
        return link.send(&packets::Abort { error: result_code }.zvt_serialize());
    }
    let amount_text = format!("MOP {}.{:02}", amount / 100, amount % 100);
    link.send(&packets::PrintLine { attribute: 0, text: format!("TERMINAL {TERMINAL_ID}") }.zvt_serialize())?;
    let card = if control.knobs().card_data_in_clear { format!("VISA {CLEAR_PAN}") } else { "VISA ************4242".into() };
    link.send(&text_block(&["PRE-AUTHORISATION".into(), card, amount_text, format!("RECEIPT {receipt_no:04} TRACE {trace_number:06}")]))?;
    if script == Script::MalformedReceipt {
        link.send(&[0x06, 0xD3, 0x02, 0x06, 0x82])?;
    }
    link.send(&completion())?;
    if script == Script::AnswerTwice {
        // Not waiting for the acknowledgement: it comes, if at all, with the next command.
        link.send_bytes(&completion())?;
    }
    Ok(())
}

/// A receipt text block (06 D3) with these lines.
fn text_block(lines: &[String]) -> Vec<u8> {
    packets::PrintTextBlock {
        tlv: Some(zvt::packets::tlv::PrintTextBlock {
            receipt_type: Some(1),
            lines: Some(zvt::packets::tlv::TextLines { lines: lines.to_vec(), eol: None }),
        }),
    }
    .zvt_serialize()
}

/// A test card number (Luhn-valid) and its track 2 (`;PAN=YYMM…?`), which a terminal set to
/// send card data in clear puts in BMP 22 and BMP 23.
pub const CLEAR_PAN: &str = "4111111111111111";
const CLEAR_PAN_BCD: [u8; 8] = [0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11];
const TRACK2: &[u8] = b"4111111111111111=29122010000000000000";

/// The status information with the card number a terminal sends: masked (E nibbles), or in
/// clear with track 2, as BMPs 22 and 23, which the `zvt` crate cannot write (it holds card
/// numbers as integers).
fn with_card_data(information: &[u8], clear: bool) -> Vec<u8> {
    let Some(apdu) = ApduFramer::default().push(information).pop() else { return information.to_vec() };
    let mut data = apdu.data;
    if clear {
        data.extend_from_slice(&[0x22, 0xF0, 0xF8]);
        data.extend_from_slice(&CLEAR_PAN_BCD);
        // Track 2 as its ASCII digits and separator, with an LLVAR length.
        data.extend_from_slice(&[0x23, 0xF0 | (TRACK2.len() / 10) as u8, 0xF0 | (TRACK2.len() % 10) as u8]);
        data.extend_from_slice(TRACK2);
    } else {
        data.extend_from_slice(&[0x22, 0xF0, 0xF8, 0x42, 0x42, 0x42, 0xEE, 0xEE, 0xEE, 0x42, 0x42]);
    }
    Apdu::new(apdu.class, apdu.instr, data).encode().unwrap_or_else(|_| information.to_vec())
}

fn end_of_day(link: &mut Link, control: &ZvtTerminalControl) -> Result<(), Ended> {
    // The terminal talks to its host: it takes a while.
    link.send(&intermediate(status::PLEASE_WAIT))?;
    let pace = control.knobs().pace;
    link.busy_for(control, pace)?;
    if control.knobs().host_unreachable {
        // The bookings stay in the terminal's batch for the next close.
        return link.send(&packets::Abort { error: HOST_UNREACHABLE }.zvt_serialize());
    }
    let total: usize = {
        let mut knobs = control.knobs();
        let total = knobs.booked[knobs.closed..].iter().map(|(_, amount)| amount).sum();
        knobs.closed = knobs.booked.len();
        total
    };
    let information = packets::StatusInformation {
        result_code: Some(0),
        amount: Some(total),
        terminal_id: Some(TERMINAL_ID),
        currency: Some(CURRENCY_MOP),
        ..packets::StatusInformation::default()
    };
    link.send(&information.zvt_serialize())?;
    link.send(&packets::PrintLine { attribute: 0, text: format!("END OF DAY MOP {}.{:02}", total / 100, total % 100) }.zvt_serialize())?;
    link.send(&completion())
}
