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
use super::wire::{SerialWire, TcpWire, Wire};
use crate::CancelToken;
use crate::payment_terminal::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, Capture, DayClose, DeclineReason, Error, ErrorKind, MaskedPan,
    PaymentTerminal, Reversal, TerminalPrompt, TerminalStatus, scrub_card_numbers,
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
    information: Option<packets::StatusInformation>,
    /// The card number as the terminal masked it; an unmasked one never gets this far.
    masked_card: Option<String>,
    receipt_lines: Vec<String>,
}

/// What a command is, for how its failures read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stakes {
    /// Moves no money: a lost answer means the terminal is not there.
    None,
    /// Moves money: once sent, a lost answer leaves the outcome unknown.
    Money,
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

/// BER-TLV objects in `data`, as (tag, value); stops at the first that does not read.
fn tlv_objects(mut data: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = data.split_first() {
        let mut tag = u32::from(first);
        let mut rest = rest;
        if first & 0x1F == 0x1F {
            // Multi-byte tag: more bytes while the high bit is set.
            loop {
                let Some((&b, tail)) = rest.split_first() else { return out };
                tag = (tag << 8) | u32::from(b);
                rest = tail;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let Some((&len, tail)) = rest.split_first() else { return out };
        let (len, tail) = match len {
            n if n < 0x80 => (usize::from(n), tail),
            0x81 => match tail.split_first() {
                Some((&n, tail)) => (usize::from(n), tail),
                None => return out,
            },
            0x82 if tail.len() >= 2 => (usize::from(u16::from_be_bytes([tail[0], tail[1]])), &tail[2..]),
            _ => return out,
        };
        if tail.len() < len {
            return out;
        }
        out.push((tag, &tail[..len]));
        data = &tail[len..];
    }
    out
}

/// The display text an intermediate status carries (TLV container `06`, display texts `24`,
/// text lines `07`), its lines joined.
fn display_text(data: &[u8]) -> Option<String> {
    // Status, timeout, then the BMPs.
    let container = bmp::find(data.get(2..)?, 0x06)?;
    let texts = tlv_objects(container).into_iter().find(|(tag, _)| *tag == 0x24)?.1;
    let lines: Vec<String> = tlv_objects(texts)
        .into_iter()
        .filter(|(tag, _)| *tag == 0x07)
        .map(|(_, line)| String::from_utf8_lossy(line).trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| scrub_card_numbers(&lines.join(" ")))
}

/// Lines of a text block (06 D3): the TLV's text lines.
fn text_block_lines(bytes: &[u8]) -> Vec<String> {
    packets::PrintTextBlock::zvt_deserialize(bytes)
        .ok()
        .and_then(|(block, _)| block.tlv)
        .and_then(|tlv| tlv.lines)
        .map(|lines| lines.lines)
        .unwrap_or_default()
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
        match self.exchange(&registration.zvt_serialize(), Stakes::None, None, &mut |_| {}) {
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
        stakes: Stakes,
        cancel: Option<&CancelToken>,
        on_prompt: &mut dyn FnMut(TerminalPrompt),
    ) -> Result<Exchange, Error> {
        let (ack_timeout, transaction_timeout) = (self.config.ack_timeout, self.config.transaction_timeout);
        let link = self.link.as_mut().ok_or_else(|| Error::new(ErrorKind::Other, "not connected to the payment terminal"))?;
        let unknown = |sent: bool| if sent && stakes == Stakes::Money { ErrorKind::OutcomeUnknown } else { ErrorKind::NoAnswer };
        let lost = |e: std::io::Error, sent: bool| Error::new(unknown(sent), "the link to the payment terminal broke").with_source(e);
        // Once a money-moving command is out, an answer the kiosk cannot read leaves the
        // outcome unknown just as a lost one does.
        let broken = |what: &str| {
            let kind = if stakes == Stakes::Money { ErrorKind::OutcomeUnknown } else { ErrorKind::Protocol };
            Error::new(kind, format!("the payment terminal sent {what}"))
        };
        let result = (|| {
            // A serial frame nobody confirmed may still have arrived: the command is then out.
            link.send(command).map_err(|e| {
                let maybe_arrived = e.kind() == std::io::ErrorKind::TimedOut;
                lost(e, maybe_arrived)
            })?;
            let ack_deadline = Instant::now() + ack_timeout;
            loop {
                match link.next(ack_deadline).map_err(|e| lost(e, true))? {
                    Some(a) if a.class == 0x80 && a.instr == 0x00 => break,
                    Some(a) if a.class == 0x84 && a.instr == 0x9C => return Err(Error::new(ErrorKind::Busy, "the terminal is busy")),
                    Some(a) if a.class == 0x84 => {
                        return Err(Error::new(ErrorKind::Refused, format!("the terminal refused the command (84 {:02X})", a.instr)));
                    }
                    // A message left over from an earlier exchange (a terminal that answered
                    // twice): acknowledged and passed over.
                    Some(stale) => {
                        tracing::warn!(message = ?stale, "the payment terminal repeated an earlier message");
                        link.send(&[0x80, 0x00, 0x00]).map_err(|e| lost(e, true))?;
                    }
                    None => return Err(Error::new(unknown(true), "the terminal did not acknowledge the command")),
                }
            }
            let deadline = Instant::now() + transaction_timeout;
            let mut exchange = Exchange::default();
            let mut abort_sent = false;
            loop {
                let wants_abort = !abort_sent && cancel.is_some_and(CancelToken::is_cancelled);
                if wants_abort {
                    // 06 B0: abort. The terminal acknowledges it, then ends with 06 1E 6C if
                    // it could still stop (it cannot once the card is processed).
                    link.send(&[0x06, 0xB0, 0x00]).map_err(|e| lost(e, true))?;
                    abort_sent = true;
                }
                // While the citizen may still cancel, look up often enough to pass it on.
                let wait_until =
                    if cancel.is_some() && !abort_sent { deadline.min(Instant::now() + Duration::from_millis(100)) } else { deadline };
                let Some(message) = link.next(wait_until).map_err(|e| lost(e, true))? else {
                    if Instant::now() < deadline {
                        continue;
                    }
                    return Err(Error::new(unknown(true), "the terminal did not finish the transaction in time"));
                };
                // The acknowledgement of the kiosk's abort, or its refusal: nothing to answer.
                if matches!(message.class, 0x80 | 0x84) {
                    continue;
                }
                let bytes = message.encode().map_err(|_| broken("a message too long to be ZVT"))?;
                link.send(&[0x80, 0x00, 0x00]).map_err(|e| lost(e, true))?;
                match message.command() {
                    0x04FF => {
                        let status = message.data.first().copied().ok_or_else(|| broken("an empty intermediate status"))?;
                        let shown = prompt(status).or_else(|| display_text(&message.data).map(TerminalPrompt::Text));
                        on_prompt(shown.unwrap_or(TerminalPrompt::Processing));
                    }
                    0x040F => {
                        let stripped = bmp::strip_card_data(&message.data).map_err(|_| broken("status information that does not read"))?;
                        let clean = Apdu::new(0x04, 0x0F, stripped.data).encode().map_err(|_| broken("oversized status information"))?;
                        let (information, _) = packets::StatusInformation::zvt_deserialize(&clean)
                            .map_err(|_| broken("status information that does not parse"))?;
                        exchange.information = Some(information);
                        exchange.masked_card = stripped.masked_card;
                    }
                    0x06D1 => {
                        if let Ok((line, _)) = packets::PrintLine::zvt_deserialize(&bytes) {
                            exchange.receipt_lines.push(scrub_card_numbers(&line.text));
                        }
                    }
                    0x06D3 => exchange.receipt_lines.extend(text_block_lines(&bytes).iter().map(|l| scrub_card_numbers(l))),
                    0x060F => return Ok(exchange),
                    0x061E => {
                        let (code, rest) = message.data.split_first().ok_or_else(|| broken("an abort without a result code"))?;
                        exchange.aborted = Some(*code);
                        exchange.aborted_receipt = bmp::find(rest, 0x87)
                            .filter(|r| r != &[0xFF, 0xFF])
                            .and_then(bmp::bcd_value)
                            .and_then(|n| u32::try_from(n).ok());
                        return Ok(exchange);
                    }
                    // Anything else the terminal sends is acknowledged and passed over.
                    _ => tracing::debug!(message = ?message, "payment terminal message passed over"),
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
    fn run(&mut self, command: &[u8], stakes: Stakes) -> Result<Exchange, Error> {
        self.connect()?;
        self.exchange(command, stakes, None, &mut |_| {})
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
        let exchange = self.run(&packets::Diagnosis { tlv: None }.zvt_serialize(), Stakes::None)?;
        Ok(exchange.aborted.is_none())
    }

    fn enquire(&mut self) -> Result<Option<u8>, Error> {
        let enquiry = packets::StatusEnquiry { password: None, service_byte: None, tlv: None };
        Ok(self.run(&enquiry.zvt_serialize(), Stakes::None)?.aborted)
    }
}

fn released(what: &str, code: u8) -> Error {
    if code == result::PRE_AUTH {
        return Error::new(ErrorKind::NoSuchReservation, format!("the terminal holds no such reservation to {what}"));
    }
    Error::new(ErrorKind::Refused, format!("the terminal refused to {what} the reservation (result {code:02X})"))
}

impl PaymentTerminal for ZvtTerminal {
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
        let exchange = self.exchange(&reservation.zvt_serialize(), Stakes::Money, Some(&request.cancel), on_prompt)?;
        if let Some(code) = exchange.aborted {
            return Ok(decline(code));
        }
        let information = exchange
            .information
            .ok_or_else(|| Error::new(ErrorKind::OutcomeUnknown, "the terminal completed without status information"))?;
        match information.result_code {
            Some(0) => {}
            Some(code) => return Ok(decline(code)),
            None => return Err(Error::new(ErrorKind::OutcomeUnknown, "the terminal's status information has no result")),
        }
        let receipt_number = information
            .receipt_no
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Error::new(ErrorKind::OutcomeUnknown, "an approval without a receipt number cannot be captured"))?;
        Ok(AuthorizationOutcome::Approved(Authorization {
            amount: information.amount.map_or(request.amount, |a| a as u64),
            receipt_number,
            trace_number: information.trace_number.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            approval_code: None,
            card_brand: information.card_name,
            card: exchange.masked_card.as_deref().and_then(MaskedPan::from_masked),
            receipt_lines: exchange.receipt_lines,
        }))
    }

    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error> {
        let exchange = self.run(&Self::book_total(authorization.receipt_number, amount), Stakes::Money)?;
        match exchange.aborted {
            None => Ok(Capture { amount, receipt_lines: exchange.receipt_lines }),
            Some(code) => Err(released("book", code)),
        }
    }

    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error> {
        let reversal = packets::PreAuthReversal {
            payment_type: None,
            currency: Some(CURRENCY_MOP),
            receipt_no: Some(authorization.receipt_number as usize),
        };
        let exchange = self.run(&reversal.zvt_serialize(), Stakes::Money)?;
        match exchange.aborted {
            None => Ok(Reversal { receipt_lines: exchange.receipt_lines }),
            Some(code) => Err(released("reverse", code)),
        }
    }

    fn open_reservation(&mut self) -> Result<Option<u32>, Error> {
        // Partial reversal with receipt number FF FF (2.10.1) asks for the open
        // pre-authorisations: the terminal aborts with B8 and names the first, or with B8 alone
        // when there is none. It moves no money.
        let query =
            packets::PartialReversal { receipt_no: Some(0xFFFF), currency: Some(CURRENCY_MOP), ..packets::PartialReversal::default() };
        let exchange = self.run(&query.zvt_serialize(), Stakes::None)?;
        match exchange.aborted {
            Some(result::PRE_AUTH) => Ok(exchange.aborted_receipt),
            None => Ok(None),
            Some(code) => Err(Error::new(ErrorKind::Refused, format!("the terminal would not list its reservations (result {code:02X})"))),
        }
    }

    fn end_of_day(&mut self) -> Result<DayClose, Error> {
        let exchange = self.run(&packets::EndOfDay { password: self.config.password as usize }.zvt_serialize(), Stakes::None)?;
        if let Some(code) = exchange.aborted {
            return Err(Error::new(ErrorKind::Refused, format!("the terminal could not close the day (result {code:02X})")));
        }
        let total = exchange.information.and_then(|i| i.amount).unwrap_or(0) as u64;
        Ok(DayClose { total, receipt_lines: exchange.receipt_lines })
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

    #[test]
    fn an_unknown_status_shows_the_terminals_display_text() {
        // 04 FF: status 0C (card not readable), timeout 0, BMP 06 { 24 { 07 "CARD NOT", 07 "READABLE" } }.
        let texts = [[0x07, 0x08].as_slice(), b"CARD NOT", &[0x07, 0x08], b"READABLE"].concat();
        let container = [[0x24, texts.len() as u8].as_slice(), &texts].concat();
        let data = [[0x0C, 0x00, 0x06, container.len() as u8].as_slice(), &container].concat();
        assert_eq!(display_text(&data).as_deref(), Some("CARD NOT READABLE"));
        assert_eq!(display_text(&[0x0C, 0x00]), None);
        assert_eq!(display_text(&[0x0C, 0x00, 0x06, 0x05, 0x24, 0x09]), None, "a length past the end reads as nothing");
        assert_eq!(tlv_objects(&[0x1F, 0x07, 0x01, 0x02]), [(0x1F07, [0x02].as_slice())]);
    }
}
