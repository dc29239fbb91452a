//! The kiosk's side of ZVT, over TCP or a serial line: [`ZvtTerminal`], a [`PaymentTerminal`].
//!
//! Every command is one exchange: the command, the terminal's acknowledgement (`80 00 00`, or
//! `84 xx` refusing it), then the terminal's messages — intermediate status (`04 FF`, shown
//! as prompts), status information (`04 0F`, the result), receipt lines (`06 D1`, `06 D3`) —
//! each acknowledged, until completion (`06 0F`) or abort (`06 1E`). Messages are read by
//! their announced length ([`ApduFramer`]), never by read boundaries. A money-moving command
//! whose end never came is `OutcomeUnknown`: the link is dropped and the caller asks the
//! terminal, never pays again.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zvt::ZvtSerializer as _;
use zvt::packets;

use super::apdu::Apdu;
use super::bmp;
use super::message::{self, Message, StatusInformation};
use super::wire::{SerialWire, TcpWire, Wire};
use crate::CancelToken;
use crate::payment_terminal::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, Capture, DayClose, DeclineReason, Error, ErrorKind, MaskedPan,
    PaymentTerminal, Reversal, TerminalPrompt, TerminalStatus,
};

/// ISO 4217 numeric code of the pataca.
pub const CURRENCY_MOP: usize = 446;

/// ZVT result codes the driver acts on (chapter 10).
mod result {
    /// Abort via timeout or the abort key: nothing was reserved.
    pub const ABORTED: u8 = 0x6C;
    /// No such pre-authorisation (or, asked for the list, the first open one follows).
    pub const PRE_AUTH: u8 = 0xB8;
    /// The terminal wants a diagnosis before it takes payments again.
    pub const DIAGNOSIS_REQUIRED: u8 = 0xC2;
}

/// How the kiosk reaches the terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZvtLink {
    /// ZVT over TCP (port 20007 on most terminals).
    Tcp(SocketAddr),
    /// ZVT's serial transport on an RS-232 port or the terminal's USB CDC port.
    Serial { path: PathBuf, baud_rate: u32 },
}

impl std::fmt::Display for ZvtLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(address) => write!(f, "{address}"),
            Self::Serial { path, baud_rate } => write!(f, "{} ({baud_rate} baud)", path.display()),
        }
    }
}

/// Where the terminal is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct ZvtConfig {
    pub link: ZvtLink,
    /// The terminal's six-digit password for registration and end-of-day.
    pub password: u32,
    pub connect_timeout: Duration,
    /// How long the terminal may take to acknowledge a command.
    pub ack_timeout: Duration,
    /// How long a payment may take from command to completion (the citizen at the terminal).
    pub transaction_timeout: Duration,
    /// How long the terminal may take to answer the citizen's cancel (`06 B0`), and, once it
    /// took it, to end the payment. A terminal that says nothing after a cancel holds the
    /// citizen this long, not the whole transaction limit; the outcome is then unknown.
    pub abort_timeout: Duration,
}

impl ZvtConfig {
    /// A terminal on the network.
    pub fn new(address: SocketAddr) -> Self {
        Self::on(ZvtLink::Tcp(address))
    }

    /// A terminal on a serial line.
    pub fn serial(path: impl Into<PathBuf>, baud_rate: u32) -> Self {
        Self::on(ZvtLink::Serial { path: path.into(), baud_rate })
    }

    fn on(link: ZvtLink) -> Self {
        Self {
            link,
            password: 0,
            connect_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(5),
            transaction_timeout: Duration::from_secs(180),
            abort_timeout: Duration::from_secs(10),
        }
    }
}

/// How an exchange ended.
#[derive(Debug, Default)]
struct Exchange {
    /// `None`: completed; `Some(code)`: aborted with that result code.
    aborted: Option<u8>,
    /// The receipt number an abort named (an open pre-authorisation).
    aborted_receipt: Option<u32>,
    information: Option<StatusInformation>,
    receipt_lines: Vec<String>,
}

/// What a command is, for how its failures and the terminal's messages read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Moves no money and reports no result (registration, status, diagnosis, the list of
    /// reservations): a lost answer means the terminal is not there.
    Query,
    /// Moves no money; its result comes in a status information (end-of-day).
    Report,
    /// Moves money, its result in a status information: once sent, a lost, unreadable or
    /// contradictory answer leaves the outcome unknown.
    Money,
}

impl Kind {
    /// Whether the terminal reports the command's result in a status information (`04 0F`)
    /// before completing it: a completion before that result is one left over from an earlier
    /// command, not this command's end.
    fn reports(self) -> bool {
        self != Self::Query
    }
}

/// A ZVT payment terminal on TCP or a serial line. Connects (and registers) on first use and
/// again after the link was lost.
pub struct ZvtTerminal {
    config: ZvtConfig,
    link: Option<Box<dyn Wire>>,
}

impl std::fmt::Debug for ZvtTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZvtTerminal").field("link", &self.config.link).field("connected", &self.link.is_some()).finish()
    }
}

/// What a result code means for the citizen (ZVT's own codes; 1–63 are the card issuer's).
fn decline(code: u8) -> AuthorizationOutcome {
    AuthorizationOutcome::Declined(match code {
        result::ABORTED => return AuthorizationOutcome::Cancelled,
        0x55 => DeclineReason::WrongPin,
        0x78 => DeclineReason::CardExpired,
        0x64 | 0x6E | 0x79 | 0x7A | 0xC5 => DeclineReason::CardNotAccepted,
        _ => DeclineReason::Declined,
    })
}

/// What the citizen is asked, from a ZVT intermediate status code (2.2.4), for the codes the
/// kiosk shows in the citizen's own language; `None` for the rest (card errors and the like),
/// which show the terminal's own display text if it sent one.
fn prompt(status: u8) -> Option<TerminalPrompt> {
    Some(match status {
        // Insert card; for loading, insert card.
        0x0A | 0x2A => TerminalPrompt::PresentCard,
        // Please watch the PIN pad; incorrect PIN (type it again).
        0x01 | 0x02 | 0x15 => TerminalPrompt::EnterPin,
        // Please remove card (also after "watch PIN pad" or "card not readable").
        0x0B | 0x41 | 0x4C => TerminalPrompt::RemoveCard,
        // Waiting for the amount confirmation or the host, sending reversals or post-bookings,
        // please wait, emergency transaction, application selection, dialling.
        0x00 | 0x04 | 0x05 | 0x06 | 0x0E | 0x17 | 0x2B | 0x2C | 0xD2 => TerminalPrompt::Processing,
        _ => return None,
    })
}

impl ZvtTerminal {
    pub fn new(config: ZvtConfig) -> Self {
        Self { config, link: None }
    }

    fn connect(&mut self) -> Result<(), Error> {
        if self.link.is_some() {
            return Ok(());
        }
        let unreachable = |e: std::io::Error| {
            Error::new(ErrorKind::NoAnswer, format!("the payment terminal at {} does not answer", self.config.link)).with_source(e)
        };
        self.link = Some(match &self.config.link {
            ZvtLink::Tcp(address) => {
                Box::new(TcpWire::new(TcpStream::connect_timeout(address, self.config.connect_timeout).map_err(unreachable)?))
            }
            ZvtLink::Serial { path, baud_rate } => Box::new(SerialWire::open(&path.to_string_lossy(), *baud_rate).map_err(unreachable)?),
        });
        // Registration: the kiosk prints the receipts (0x02, 0x04 … in the config byte) and
        // wants the intermediate status (0x08).
        let registration =
            packets::Registration { password: self.config.password as usize, config_byte: 0x8E, currency: Some(CURRENCY_MOP), tlv: None };
        match self.exchange(&registration.zvt_serialize(), Kind::Query, None, &mut |_| {}) {
            Ok(Exchange { aborted: None, .. }) => Ok(()),
            Ok(Exchange { aborted: Some(code), .. }) => {
                self.link = None;
                Err(Error::new(ErrorKind::Refused, format!("the terminal refused the kiosk's registration (result {code:02X})")))
            }
            Err(e) => {
                self.link = None;
                Err(e)
            }
        }
    }

    /// Sends `command` and follows the terminal until completion or abort, acknowledging each
    /// message. A set `cancel` sends the terminal an abort (`06 B0`) once.
    fn exchange(
        &mut self,
        command: &[u8],
        kind: Kind,
        cancel: Option<&CancelToken>,
        on_prompt: &mut dyn FnMut(TerminalPrompt),
    ) -> Result<Exchange, Error> {
        let config = &self.config;
        let link = self.link.as_mut().ok_or_else(|| Error::new(ErrorKind::Other, "not connected to the payment terminal"))?;
        let money = kind == Kind::Money;
        let unknown = |sent: bool| if sent && money { ErrorKind::OutcomeUnknown } else { ErrorKind::NoAnswer };
        let lost = |e: std::io::Error, sent: bool| Error::new(unknown(sent), "the link to the payment terminal broke").with_source(e);
        // Once a money-moving command is out, an answer the kiosk cannot read (or one that
        // contradicts itself) leaves the outcome unknown just as a lost one does.
        let broken = |what: &str| {
            Error::new(if money { ErrorKind::OutcomeUnknown } else { ErrorKind::Protocol }, format!("the payment terminal sent {what}"))
        };
        let result = (|| {
            // A serial frame nobody confirmed may still have arrived: the command is then out.
            link.send(command).map_err(|e| {
                let maybe_arrived = e.kind() == std::io::ErrorKind::TimedOut;
                lost(e, maybe_arrived)
            })?;
            let ack_deadline = Instant::now() + config.ack_timeout;
            loop {
                let Some(apdu) = link.next(ack_deadline).map_err(|e| lost(e, true))? else {
                    return Err(Error::new(unknown(true), "the terminal did not acknowledge the command"));
                };
                match message::read(&apdu) {
                    Ok(Message::Ack) => break,
                    Ok(Message::Refused(0x9C)) => return Err(Error::new(ErrorKind::Busy, "the terminal is busy")),
                    Ok(Message::Refused(code)) => {
                        return Err(Error::new(ErrorKind::Refused, format!("the terminal refused the command (84 {code:02X})")));
                    }
                    // A message left over from an earlier exchange (a terminal that answered
                    // twice): acknowledged and passed over.
                    _ => {
                        tracing::warn!(message = ?apdu, "the payment terminal repeated an earlier message");
                        link.send(&[0x80, 0x00, 0x00]).map_err(|e| lost(e, true))?;
                    }
                }
            }
            let deadline = Instant::now() + config.transaction_timeout;
            let mut exchange = Exchange::default();
            let mut abort_sent = false;
            // While the terminal owes an answer to the citizen's cancel: when that wait ends.
            let mut abort_deadline: Option<Instant> = None;
            loop {
                if !abort_sent && cancel.is_some_and(CancelToken::is_cancelled) {
                    // 06 B0: abort. The terminal acknowledges it, then ends with 06 1E 6C if
                    // it could still stop, or refuses it (84 xx) once the card is processed.
                    link.send(&[0x06, 0xB0, 0x00]).map_err(|e| lost(e, true))?;
                    abort_sent = true;
                    abort_deadline = Some(Instant::now() + config.abort_timeout);
                }
                // While the citizen may still cancel, look up often enough to pass it on.
                let wait_until = match abort_deadline {
                    Some(until) => until.min(deadline),
                    None if cancel.is_some() && !abort_sent => deadline.min(Instant::now() + Duration::from_millis(100)),
                    None => deadline,
                };
                let Some(apdu) = link.next(wait_until).map_err(|e| lost(e, true))? else {
                    let now = Instant::now();
                    if abort_deadline.is_some_and(|until| now >= until) {
                        return Err(Error::new(unknown(true), "the terminal did not answer the citizen's cancel in time"));
                    }
                    if now < deadline {
                        continue;
                    }
                    return Err(Error::new(unknown(true), "the terminal did not finish the transaction in time"));
                };
                // The terminal's answer to the kiosk's abort: taken (the end follows at once) or
                // refused (the payment goes on, on its own time). Nothing to acknowledge.
                if matches!(apdu.class, 0x80 | 0x84) {
                    if abort_sent {
                        abort_deadline = (apdu.class == 0x80).then(|| Instant::now() + config.abort_timeout);
                    }
                    continue;
                }
                link.send(&[0x80, 0x00, 0x00]).map_err(|e| lost(e, true))?;
                let message = message::read(&apdu).map_err(|e| broken(&format!("a message that does not read ({e})")))?;
                match message {
                    Message::Intermediate { status, text } => {
                        on_prompt(prompt(status).or(text.map(TerminalPrompt::Text)).unwrap_or(TerminalPrompt::Processing));
                    }
                    Message::Status(information) => {
                        let approved = |i: &Option<StatusInformation>| i.as_ref().is_some_and(|i| i.result == Some(0));
                        if money && approved(&exchange.information) && information.result != Some(0) {
                            return Err(broken("an approval, then a refusal of the same transaction"));
                        }
                        exchange.information = Some(information);
                    }
                    Message::Print(lines) => exchange.receipt_lines.extend(lines),
                    Message::Completion if kind.reports() && exchange.information.is_none() => {
                        // No result yet: a completion left over from an earlier command (a
                        // terminal that answered twice). This command's end is still to come.
                        tracing::warn!("the payment terminal completed before reporting a result: taken as a repeat, passed over");
                    }
                    Message::Completion => return Ok(exchange),
                    Message::Abort { code, receipt } => {
                        if money && exchange.information.as_ref().is_some_and(|i| i.result == Some(0)) {
                            // Approved, then aborted: the reservation may stand. Only asking
                            // the terminal can tell, never telling the citizen "not charged".
                            return Err(broken(&format!("an approval, then an abort (result {code:02X})")));
                        }
                        exchange.aborted = Some(code);
                        exchange.aborted_receipt = receipt;
                        return Ok(exchange);
                    }
                    Message::Other(command) => tracing::debug!(command = format!("{command:04X}"), "payment terminal message passed over"),
                    Message::Ack | Message::Refused(_) => {}
                }
            }
        })();
        if result.as_ref().is_err_and(|e| matches!(e.kind(), ErrorKind::OutcomeUnknown | ErrorKind::NoAnswer | ErrorKind::Protocol)) {
            // A link in an unknown state is not reused.
            self.link = None;
        }
        result
    }

    /// Connects if needed and runs one exchange.
    fn run(&mut self, command: &[u8], kind: Kind) -> Result<Exchange, Error> {
        self.connect()?;
        self.exchange(command, kind, None, &mut |_| {})
    }

    /// Books `amount` of the reservation `receipt` (06 24, which the `zvt` crate lacks).
    fn book_total(receipt: u32, amount: u64) -> Vec<u8> {
        let mut data = vec![0x87];
        data.extend(bmp::bcd(u64::from(receipt), 2));
        data.push(0x04);
        data.extend(bmp::bcd(amount, 6));
        data.push(0x49);
        data.extend(bmp::bcd(CURRENCY_MOP as u64, 2));
        Apdu::new(0x06, 0x24, data).encode().unwrap_or_default()
    }

    /// Diagnosis (06 70): the terminal checks itself and its host connection.
    pub fn diagnosis(&mut self) -> Result<bool, Error> {
        let exchange = self.run(&packets::Diagnosis { tlv: None }.zvt_serialize(), Kind::Query)?;
        Ok(exchange.aborted.is_none())
    }

    fn enquire(&mut self) -> Result<Option<u8>, Error> {
        let enquiry = packets::StatusEnquiry { password: None, service_byte: None, tlv: None };
        Ok(self.run(&enquiry.zvt_serialize(), Kind::Query)?.aborted)
    }
}

/// Why the terminal would not book or reverse a reservation.
fn refusal(what: &str, code: u8) -> Error {
    if code == result::PRE_AUTH {
        return Error::new(ErrorKind::NoSuchReservation, format!("the terminal holds no such reservation to {what}"));
    }
    Error::new(ErrorKind::Refused, format!("the terminal refused to {what} the reservation (result {code:02X})"))
}

/// The end of a booking or a reversal of reservation `receipt`: done only when the terminal's
/// status information says so, for that reservation. A completion alone proves nothing.
fn released(what: &str, exchange: Exchange, receipt: u32) -> Result<Vec<String>, Error> {
    if let Some(code) = exchange.aborted {
        return Err(refusal(what, code));
    }
    let information = exchange.information.ok_or_else(|| {
        Error::new(ErrorKind::OutcomeUnknown, format!("the terminal did not say whether it could {what} the reservation"))
    })?;
    match (information.result, information.receipt) {
        (Some(0), None) => Ok(exchange.receipt_lines),
        (Some(0), Some(named)) if named == receipt => Ok(exchange.receipt_lines),
        (Some(0), Some(named)) => Err(Error::new(
            ErrorKind::OutcomeUnknown,
            format!("asked to {what} reservation {receipt}, the terminal reported on reservation {named}"),
        )),
        (Some(code), _) => Err(refusal(what, code)),
        (None, _) => Err(Error::new(ErrorKind::OutcomeUnknown, format!("the terminal's answer to {what} the reservation has no result"))),
    }
}

impl PaymentTerminal for ZvtTerminal {
    fn diagnose(&mut self) -> Result<TerminalStatus, Error> {
        // A fresh registration, as after the terminal's restart, then its own diagnosis.
        self.link = None;
        self.connect()?;
        if !self.diagnosis()? {
            return Ok(TerminalStatus::OutOfOrder);
        }
        self.status()
    }

    fn status(&mut self) -> Result<TerminalStatus, Error> {
        let status = match self.enquire() {
            Ok(None) => TerminalStatus::Ready,
            // A terminal that asks for a diagnosis gets one, then is asked again.
            Ok(Some(result::DIAGNOSIS_REQUIRED)) => match self.diagnosis().and_then(|_| self.enquire()) {
                Ok(None) => TerminalStatus::Ready,
                Ok(Some(_)) => TerminalStatus::OutOfOrder,
                Err(e) if e.kind() == ErrorKind::Busy => TerminalStatus::Busy,
                Err(_) => TerminalStatus::Offline,
            },
            Ok(Some(_)) => TerminalStatus::OutOfOrder,
            Err(e) if e.kind() == ErrorKind::Busy => TerminalStatus::Busy,
            Err(_) => TerminalStatus::Offline,
        };
        Ok(status)
    }

    fn authorize(
        &mut self,
        request: &AuthorizationRequest,
        on_prompt: &mut dyn FnMut(TerminalPrompt),
    ) -> Result<AuthorizationOutcome, Error> {
        self.connect()?;
        let reservation =
            packets::Reservation { amount: Some(request.amount as usize), currency: Some(CURRENCY_MOP), ..packets::Reservation::default() };
        let exchange = self.exchange(&reservation.zvt_serialize(), Kind::Money, Some(&request.cancel), on_prompt)?;
        if let Some(code) = exchange.aborted {
            return Ok(decline(code));
        }
        let information = exchange
            .information
            .ok_or_else(|| Error::new(ErrorKind::OutcomeUnknown, "the terminal completed without status information"))?;
        match information.result {
            Some(0) => {}
            Some(code) => return Ok(decline(code)),
            None => return Err(Error::new(ErrorKind::OutcomeUnknown, "the terminal's status information has no result")),
        }
        let receipt_number = information
            .receipt
            .ok_or_else(|| Error::new(ErrorKind::OutcomeUnknown, "an approval without a receipt number cannot be captured"))?;
        Ok(AuthorizationOutcome::Approved(Authorization {
            amount: information.amount.unwrap_or(request.amount),
            receipt_number,
            trace_number: information.trace.unwrap_or(0),
            approval_code: None,
            card_brand: information.card_name,
            card: information.masked_card.as_deref().and_then(MaskedPan::from_masked),
            receipt_lines: exchange.receipt_lines,
        }))
    }

    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error> {
        let exchange = self.run(&Self::book_total(authorization.receipt_number, amount), Kind::Money)?;
        let receipt_lines = released("book", exchange, authorization.receipt_number)?;
        Ok(Capture { amount, receipt_lines })
    }

    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error> {
        let reversal = packets::PreAuthReversal {
            payment_type: None,
            currency: Some(CURRENCY_MOP),
            receipt_no: Some(authorization.receipt_number as usize),
        };
        let exchange = self.run(&reversal.zvt_serialize(), Kind::Money)?;
        let receipt_lines = released("reverse", exchange, authorization.receipt_number)?;
        Ok(Reversal { receipt_lines })
    }

    fn open_reservation(&mut self) -> Result<Option<u32>, Error> {
        // Partial reversal with receipt number FF FF (2.10.1) asks for the open
        // pre-authorisations: the terminal aborts with B8 and names the first, or with B8 alone
        // when there is none. It moves no money.
        let query =
            packets::PartialReversal { receipt_no: Some(0xFFFF), currency: Some(CURRENCY_MOP), ..packets::PartialReversal::default() };
        let exchange = self.run(&query.zvt_serialize(), Kind::Query)?;
        match exchange.aborted {
            Some(result::PRE_AUTH) => Ok(exchange.aborted_receipt),
            None => Ok(None),
            Some(code) => Err(Error::new(ErrorKind::Refused, format!("the terminal would not list its reservations (result {code:02X})"))),
        }
    }

    fn end_of_day(&mut self) -> Result<DayClose, Error> {
        let exchange = self.run(&packets::EndOfDay { password: self.config.password as usize }.zvt_serialize(), Kind::Report)?;
        if let Some(code) = exchange.aborted {
            return Err(Error::new(ErrorKind::Refused, format!("the terminal could not close the day (result {code:02X})")));
        }
        let information =
            exchange.information.ok_or_else(|| Error::new(ErrorKind::Protocol, "the terminal closed its day without reporting a total"))?;
        match information.result {
            Some(0) | None => {}
            Some(code) => return Err(Error::new(ErrorKind::Refused, format!("the terminal could not close the day (result {code:02X})"))),
        }
        Ok(DayClose { total: information.amount.unwrap_or(0), receipt_lines: exchange.receipt_lines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_receipt_numbers_are_packed_bcd() {
        assert_eq!(ZvtTerminal::book_total(12, 3_000), [0x06, 0x24, 0x0D, 0x87, 0x00, 0x12, 0x04, 0, 0, 0, 0, 0x30, 0, 0x49, 0x04, 0x46]);
    }

    #[test]
    fn result_codes_and_status_codes_mean_what_the_citizen_is_told() {
        assert_eq!(prompt(0x0A), Some(TerminalPrompt::PresentCard));
        assert_eq!(prompt(0x01), Some(TerminalPrompt::EnterPin));
        assert_eq!(prompt(0x0B), Some(TerminalPrompt::RemoveCard));
        assert_eq!(prompt(0x0E), Some(TerminalPrompt::Processing));
        assert_eq!(prompt(0x0C), None, "card not readable: the terminal's own words");
        assert_eq!(decline(0x6C), AuthorizationOutcome::Cancelled);
        assert_eq!(decline(0x55), AuthorizationOutcome::Declined(DeclineReason::WrongPin));
        assert_eq!(decline(0x78), AuthorizationOutcome::Declined(DeclineReason::CardExpired));
        assert_eq!(decline(0x05), AuthorizationOutcome::Declined(DeclineReason::Declined));
    }
}
