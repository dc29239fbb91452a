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
}

#[derive(Debug, Default)]
struct Knobs {
    scripts: VecDeque<Script>,
    next_receipt: usize,
    next_trace: usize,
    /// Reservations approved and not released: receipt number → amount in cents.
    open: Vec<(usize, usize)>,
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
        self.stream.write_all(bytes)?;
        Ok(())
    }

    fn ack(&mut self) -> Result<(), Ended> {
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
                let mut link = Link { stream, framer: ApduFramer::default(), inbox: VecDeque::new() };
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
            _ => {
                // 84 83: command not supported.
                link.send_bytes(&[0x84, 0x83, 0x00])?;
            }
        }
    }
}

fn reserve(link: &mut Link, control: &ZvtTerminalControl, amount: usize) -> Result<(), Ended> {
    let script = control.knobs().scripts.pop_front().unwrap_or(Script::Approve);
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
        Script::Approve | Script::ApproveWithPin => 0,
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
    link.send(&information.zvt_serialize())?;
    link.send(&intermediate(status::REMOVE_CARD))?;
    if result_code == 0 {
        control.knobs().open.push((receipt_no, amount));
        link.send(&completion())
    } else {
        link.send(&packets::Abort { error: result_code }.zvt_serialize())
    }
}
