//! A virtual payment terminal: the PT side of ZVT over TCP, as a terminal answers an ECR,
//! scripted for tests (approve, decline, ask for the PIN …). It speaks the bytes a terminal
//! sends — acknowledgements, intermediate status, status information, completion or abort —
//! encoded with the `zvt` crate's packets, and is checked against that crate's own ECR
//! sequences before the kiosk's driver is tested against it.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use zvt::ZvtSerializer as _;
use zvt::packets;

use super::apdu::{Apdu, ApduFramer};

/// The terminal id the virtual terminal reports.
pub const TERMINAL_ID: usize = 52_523_535;
/// Macao pataca, ISO 4217 numeric.
pub const CURRENCY_MOP: usize = 446;

/// ZVT intermediate status codes (04 FF) the virtual terminal shows.
pub mod status {
    pub const INSERT_CARD: u8 = 0x0A;
    pub const ENTER_PIN: u8 = 0x0E;
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
}

/// How the terminal's bytes reach the kiosk over TCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Each message in one write.
    #[default]
    Whole,
    /// One byte per write: every message arrives in pieces.
    BytePerWrite,
    /// The acknowledgement and the message after it in one write.
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
    delivery: Delivery,
}

/// Turns the virtual terminal's knobs from a test.
#[derive(Clone, Debug, Default)]
pub struct ZvtTerminalControl {
    knobs: Arc<Mutex<Knobs>>,
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

    pub fn set_delivery(&self, delivery: Delivery) {
        self.knobs().delivery = delivery;
    }
}

/// The PT side of ZVT on a loopback TCP port, one connection at a time (as a terminal).
#[derive(Debug)]
pub struct VirtualZvtTerminal {
    address: SocketAddr,
    control: ZvtTerminalControl,
}

/// Why a connection ended early.
#[derive(Debug)]
enum Ended {
    Closed,
    Io(std::io::Error),
    /// The ECR sent what a terminal cannot take; the terminal drops the connection.
    Garbage,
}

impl From<std::io::Error> for Ended {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

struct Link {
    stream: TcpStream,
    framer: ApduFramer,
    inbox: VecDeque<Apdu>,
    delivery: Delivery,
    /// An acknowledgement held back to go out with the next message (coalesced delivery).
    held: Vec<u8>,
}

impl Link {
    fn next(&mut self) -> Result<Apdu, Ended> {
        let mut chunk = [0u8; 512];
        loop {
            if let Some(apdu) = self.inbox.pop_front() {
                return Ok(apdu);
            }
            match self.stream.read(&mut chunk)? {
                0 => return Err(Ended::Closed),
                n => self.inbox.extend(self.framer.push(&chunk[..n])),
            }
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(bytes);
        match self.delivery {
            Delivery::BytePerWrite => {
                for byte in &out {
                    self.stream.write_all(std::slice::from_ref(byte))?;
                    self.stream.flush()?;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            Delivery::Whole | Delivery::Coalesced => self.stream.write_all(&out)?,
        }
        Ok(())
    }

    fn ack(&mut self) -> Result<(), Ended> {
        if self.delivery == Delivery::Coalesced {
            self.held.extend_from_slice(&[0x80, 0x00, 0x00]);
            return Ok(());
        }
        self.send_bytes(&[0x80, 0x00, 0x00])
    }

    /// Sends a message and waits for the ECR's acknowledgement.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Ended> {
        self.send_bytes(bytes)?;
        match self.next()? {
            reply if reply.class == 0x80 && reply.instr == 0x00 => Ok(()),
            _ => Err(Ended::Garbage),
        }
    }
}

impl VirtualZvtTerminal {
    /// A terminal listening on `127.0.0.1`, on a free port.
    pub fn listen() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let address = listener.local_addr()?;
        let control = ZvtTerminalControl::default();
        {
            let mut knobs = control.knobs();
            knobs.next_receipt = 1;
            knobs.next_trace = 100;
        }
        let serving = control.clone();
        std::thread::Builder::new().name("virtual-zvt-terminal".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let delivery = serving.knobs().delivery;
                let mut link = Link { stream, framer: ApduFramer::default(), inbox: VecDeque::new(), delivery, held: Vec::new() };
                match serve(&mut link, &serving) {
                    Ok(()) | Err(Ended::Closed) => {}
                    Err(Ended::Io(e)) => tracing::debug!(error = %e, "virtual terminal: connection failed"),
                    Err(Ended::Garbage) => tracing::debug!("virtual terminal: the ECR sent what a terminal cannot take"),
                }
            }
        })?;
        Ok(Self { address, control })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn control(&self) -> ZvtTerminalControl {
        self.control.clone()
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
        let bytes = command.encode().map_err(|_| Ended::Garbage)?;
        match command.command() {
            // Registration, status enquiry: acknowledged, then completion.
            0x0600 | 0x0501 => {
                link.ack()?;
                link.send(&completion())?;
            }
            // Reservation (pre-authorisation).
            0x0622 => {
                let Ok((reservation, _)) = packets::Reservation::zvt_deserialize(&bytes) else {
                    // 84 83: the ECR's message could not be read.
                    link.send_bytes(&[0x84, 0x83, 0x00])?;
                    continue;
                };
                link.ack()?;
                reserve(link, control, reservation.amount.unwrap_or(0))?;
            }
            // Book total (06 24) and pre-authorisation reversal (06 25).
            0x0624 | 0x0625 => {
                let fields = bmps(&command.data);
                let receipt = fields.iter().find(|(n, _)| *n == 0x87).and_then(|(_, v)| bcd_value(v));
                let amount = fields.iter().find(|(n, _)| *n == 0x04).and_then(|(_, v)| bcd_value(v));
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

/// The fixed-length bitmaps of a book-total or reversal command: `87` receipt number (2 BCD
/// bytes), `04` amount (6), `49` currency (2), `19` payment type (1).
fn bmps(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&number, tail)) = rest.split_first() {
        let len = match number {
            0x87 | 0x49 => 2,
            0x04 => 6,
            0x19 => 1,
            _ => break,
        };
        if tail.len() < len {
            break;
        }
        out.push((number, &tail[..len]));
        rest = &tail[len..];
    }
    out
}

fn bcd_value(bytes: &[u8]) -> Option<usize> {
    bytes.iter().try_fold(0usize, |n, b| {
        let (hi, lo) = (b >> 4, b & 0x0F);
        (hi < 10 && lo < 10).then(|| n * 100 + usize::from(hi) * 10 + usize::from(lo))
    })
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
    let script = control.knobs().scripts.pop_front().unwrap_or(Script::Approve);
    match script {
        Script::Silent => {
            // Keeps the connection open and says nothing until the ECR gives up.
            return link.next().map(|_| ());
        }
        Script::Garbage => {
            link.send_bytes(&[0x04, 0x0F, 0x05, 0x27])?;
            link.stream.shutdown(std::net::Shutdown::Write)?;
            return Err(Ended::Garbage);
        }
        _ => {}
    }
    link.send(&intermediate(status::INSERT_CARD))?;
    if script == Script::ApproveWithPin {
        link.send(&intermediate(status::ENTER_PIN))?;
    }
    link.send(&intermediate(status::PLEASE_WAIT))?;
    let (receipt_no, trace_number) = {
        let mut knobs = control.knobs();
        let numbers = (knobs.next_receipt, knobs.next_trace);
        knobs.next_receipt += 1;
        knobs.next_trace += 1;
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
    link.send(&information.zvt_serialize())?;
    if script == Script::DropAfterApproval {
        link.stream.shutdown(std::net::Shutdown::Both)?;
        return Err(Ended::Closed);
    }
    link.send(&intermediate(status::REMOVE_CARD))?;
    if result_code == 0 { link.send(&completion()) } else { link.send(&packets::Abort { error: result_code }.zvt_serialize()) }
}
