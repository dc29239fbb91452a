//! The kiosk's side of ZVT over TCP: [`ZvtTerminal`], a [`PaymentTerminal`].
//!
//! Every command is one exchange: the command, the terminal's acknowledgement (`80 00 00`, or
//! `84 xx` refusing it), then the terminal's messages — intermediate status (`04 FF`, shown
//! as prompts), status information (`04 0F`, the result), receipt lines (`06 D1`, `06 D3`) —
//! each acknowledged, until completion (`06 0F`) or abort (`06 1E`). Messages are read by
//! their announced length ([`ApduFramer`]), never by read boundaries. A money-moving command
//! whose end never came is `OutcomeUnknown`: the link is dropped and the caller asks the
//! terminal, never pays again.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zvt::ZvtSerializer as _;
use zvt::packets;

use super::apdu::{Apdu, ApduFramer};
use crate::payment_terminal::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, Capture, DeclineReason, Error, ErrorKind, PaymentTerminal, Reversal,
    TerminalPrompt, TerminalStatus,
};

/// ISO 4217 numeric code of the pataca.
pub const CURRENCY_MOP: usize = 446;

/// Where the terminal is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct ZvtConfig {
    pub address: SocketAddr,
    /// The terminal's six-digit password for registration and end-of-day.
    pub password: u32,
    pub connect_timeout: Duration,
    /// How long the terminal may take to acknowledge a command.
    pub ack_timeout: Duration,
    /// How long a payment may take from command to completion (the citizen at the terminal).
    pub transaction_timeout: Duration,
}

impl ZvtConfig {
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            password: 0,
            connect_timeout: Duration::from_secs(2),
            ack_timeout: Duration::from_secs(5),
            transaction_timeout: Duration::from_secs(180),
        }
    }
}

/// How an exchange ended.
#[derive(Debug)]
struct Exchange {
    /// `None`: completed; `Some(code)`: aborted with that result code.
    aborted: Option<u8>,
    information: Option<packets::StatusInformation>,
    receipt_lines: Vec<String>,
}

struct Link {
    stream: TcpStream,
    framer: ApduFramer,
    inbox: VecDeque<Apdu>,
}

impl Link {
    fn next(&mut self, deadline: Instant) -> std::io::Result<Option<Apdu>> {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(apdu) = self.inbox.pop_front() {
                return Ok(Some(apdu));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.inbox.extend(self.framer.push(&chunk[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

/// A ZVT payment terminal on TCP. Connects (and registers) on first use and again after the
/// link was lost.
pub struct ZvtTerminal {
    config: ZvtConfig,
    link: Option<Link>,
}

impl std::fmt::Debug for ZvtTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZvtTerminal").field("address", &self.config.address).field("connected", &self.link.is_some()).finish()
    }
}

/// Packed BCD of `value` in `bytes` bytes.
fn bcd(value: u64, bytes: usize) -> Vec<u8> {
    let digits = format!("{value:0width$}", width = bytes * 2);
    digits.as_bytes().chunks(2).map(|pair| ((pair[0] - b'0') << 4) | (pair[1] - b'0')).collect()
}

/// What a result code means for the citizen (ZVT's own codes; 1–63 are the card issuer's).
fn decline(code: u8) -> AuthorizationOutcome {
    AuthorizationOutcome::Declined(match code {
        // Abort via timeout or the abort key: nothing was reserved.
        0x6C => return AuthorizationOutcome::Cancelled,
        0x55 => DeclineReason::WrongPin,
        0x78 => DeclineReason::CardExpired,
        0x64 | 0x6E | 0x79 | 0x7A | 0xC5 => DeclineReason::CardNotAccepted,
        _ => DeclineReason::Declined,
    })
}

fn prompt(status: u8) -> TerminalPrompt {
    // ZVT intermediate status codes (2.2.4).
    match status {
        0x0A | 0x0C | 0x0D | 0x14 => TerminalPrompt::PresentCard,
        0x0E | 0x15 => TerminalPrompt::EnterPin,
        0x0B => TerminalPrompt::RemoveCard,
        _ => TerminalPrompt::Processing,
    }
}

impl ZvtTerminal {
    pub fn new(config: ZvtConfig) -> Self {
        Self { config, link: None }
    }

    fn link(&mut self) -> Result<&mut Link, Error> {
        if self.link.is_none() {
            let stream = TcpStream::connect_timeout(&self.config.address, self.config.connect_timeout).map_err(|e| {
                Error::new(ErrorKind::NoAnswer, format!("the payment terminal at {} does not answer", self.config.address)).with_source(e)
            })?;
            let _ = stream.set_nodelay(true);
            self.link = Some(Link { stream, framer: ApduFramer::default(), inbox: VecDeque::new() });
            // Registration: the kiosk prints the receipts and wants the intermediate status.
            let registration = packets::Registration {
                password: self.config.password as usize,
                config_byte: 0x8E,
                currency: Some(CURRENCY_MOP),
                tlv: None,
            };
            if let Err(e) = self.exchange(&registration.zvt_serialize(), false, &mut |_| {}) {
                self.link = None;
                return Err(e);
            }
        }
        self.link.as_mut().ok_or_else(|| Error::new(ErrorKind::Other, "no link"))
    }

    /// Sends `command` and follows the terminal until completion or abort. `moves_money`:
    /// an answer lost after sending is `OutcomeUnknown` rather than `NoAnswer`.
    fn exchange(&mut self, command: &[u8], moves_money: bool, on_prompt: &mut dyn FnMut(TerminalPrompt)) -> Result<Exchange, Error> {
        let (ack_timeout, transaction_timeout) = (self.config.ack_timeout, self.config.transaction_timeout);
        let link = self.link.as_mut().ok_or_else(|| Error::new(ErrorKind::Other, "no link"))?;
        let lost = |e: std::io::Error, sent: bool| {
            let kind = if sent && moves_money { ErrorKind::OutcomeUnknown } else { ErrorKind::NoAnswer };
            Error::new(kind, "the link to the payment terminal broke").with_source(e)
        };
        let result = (|| {
            link.stream.write_all(command).map_err(|e| lost(e, false))?;
            let ack = link.next(Instant::now() + ack_timeout).map_err(|e| lost(e, true))?;
            match ack {
                Some(a) if a.class == 0x80 && a.instr == 0x00 => {}
                Some(a) if a.class == 0x84 && a.instr == 0x9C => return Err(Error::new(ErrorKind::Busy, "the terminal is busy")),
                Some(a) if a.class == 0x84 => {
                    return Err(Error::new(ErrorKind::Refused, format!("the terminal refused the command (84 {:02X})", a.instr)));
                }
                Some(a) => return Err(Error::new(ErrorKind::Protocol, format!("expected an acknowledgement, got {a:?}"))),
                None => {
                    let kind = if moves_money { ErrorKind::OutcomeUnknown } else { ErrorKind::NoAnswer };
                    return Err(Error::new(kind, "the terminal did not acknowledge the command"));
                }
            }
            let deadline = Instant::now() + transaction_timeout;
            let mut exchange = Exchange { aborted: None, information: None, receipt_lines: Vec::new() };
            loop {
                let Some(message) = link.next(deadline).map_err(|e| lost(e, true))? else {
                    let kind = if moves_money { ErrorKind::OutcomeUnknown } else { ErrorKind::NoAnswer };
                    return Err(Error::new(kind, "the terminal did not finish the transaction in time"));
                };
                let bytes = message.encode().map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))?;
                link.stream.write_all(&[0x80, 0x00, 0x00]).map_err(|e| lost(e, true))?;
                match message.command() {
                    0x04FF => {
                        let (status, _) = packets::IntermediateStatusInformation::zvt_deserialize(&bytes)
                            .map_err(|_| Error::new(ErrorKind::Protocol, "an intermediate status that does not parse"))?;
                        on_prompt(prompt(status.status));
                    }
                    0x040F => {
                        let (information, _) = packets::StatusInformation::zvt_deserialize(&bytes)
                            .map_err(|_| Error::new(ErrorKind::Protocol, "status information that does not parse"))?;
                        exchange.information = Some(information);
                    }
                    0x06D1 => {
                        if let Ok((line, _)) = packets::PrintLine::zvt_deserialize(&bytes) {
                            exchange.receipt_lines.push(line.text);
                        }
                    }
                    0x060F => return Ok(exchange),
                    0x061E => {
                        exchange.aborted = Some(message.data.first().copied().unwrap_or(0xFF));
                        return Ok(exchange);
                    }
                    // Anything else the terminal sends is acknowledged and passed over.
                    _ => {}
                }
            }
        })();
        if result.as_ref().is_err_and(|e| matches!(e.kind(), ErrorKind::OutcomeUnknown | ErrorKind::NoAnswer | ErrorKind::Protocol)) {
            // A link in an unknown state is not reused.
            self.link = None;
        }
        result
    }

    /// Books `amount` of the reservation `receipt` (06 24, which the `zvt` crate lacks).
    fn book_total(receipt: u32, amount: u64) -> Vec<u8> {
        let mut data = vec![0x87];
        data.extend(bcd(u64::from(receipt), 2));
        data.push(0x04);
        data.extend(bcd(amount, 6));
        data.push(0x49);
        data.extend(bcd(CURRENCY_MOP as u64, 2));
        Apdu::new(0x06, 0x24, data).encode().unwrap_or_default()
    }
}

impl PaymentTerminal for ZvtTerminal {
    fn status(&mut self) -> Result<TerminalStatus, Error> {
        if let Err(e) = self.link() {
            return Ok(match e.kind() {
                ErrorKind::Busy => TerminalStatus::Busy,
                _ => TerminalStatus::Offline,
            });
        }
        let enquiry = packets::StatusEnquiry { password: None, service_byte: None, tlv: None };
        match self.exchange(&enquiry.zvt_serialize(), false, &mut |_| {}) {
            Ok(Exchange { aborted: None, .. }) => Ok(TerminalStatus::Ready),
            Ok(_) => Ok(TerminalStatus::OutOfOrder),
            Err(e) if e.kind() == ErrorKind::Busy => Ok(TerminalStatus::Busy),
            Err(_) => Ok(TerminalStatus::Offline),
        }
    }

    fn authorize(
        &mut self,
        request: &AuthorizationRequest,
        on_prompt: &mut dyn FnMut(TerminalPrompt),
    ) -> Result<AuthorizationOutcome, Error> {
        self.link()?;
        let reservation =
            packets::Reservation { amount: Some(request.amount as usize), currency: Some(CURRENCY_MOP), ..packets::Reservation::default() };
        let exchange = self.exchange(&reservation.zvt_serialize(), true, on_prompt)?;
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
            // Card numbers are never taken from the terminal's answer.
            card: None,
            receipt_lines: exchange.receipt_lines,
        }))
    }

    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error> {
        self.link()?;
        let exchange = self.exchange(&Self::book_total(authorization.receipt_number, amount), true, &mut |_| {})?;
        match exchange.aborted {
            None => Ok(Capture { amount, receipt_lines: exchange.receipt_lines }),
            Some(code) => Err(Error::new(ErrorKind::Refused, format!("the terminal refused to book the reservation (result {code:02X})"))),
        }
    }

    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error> {
        self.link()?;
        let reversal = packets::PreAuthReversal {
            payment_type: None,
            currency: Some(CURRENCY_MOP),
            receipt_no: Some(authorization.receipt_number as usize),
        };
        let exchange = self.exchange(&reversal.zvt_serialize(), true, &mut |_| {})?;
        match exchange.aborted {
            None => Ok(Reversal { receipt_lines: exchange.receipt_lines }),
            Some(code) => Err(Error::new(ErrorKind::Refused, format!("the terminal refused the reversal (result {code:02X})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_receipt_numbers_are_packed_bcd() {
        assert_eq!(bcd(3_000, 6), [0x00, 0x00, 0x00, 0x00, 0x30, 0x00]);
        assert_eq!(bcd(446, 2), [0x04, 0x46]);
        assert_eq!(ZvtTerminal::book_total(12, 3_000), [0x06, 0x24, 0x0D, 0x87, 0x00, 0x12, 0x04, 0, 0, 0, 0, 0x30, 0, 0x49, 0x04, 0x46]);
    }

    #[test]
    fn result_codes_mean_what_the_citizen_is_told() {
        assert_eq!(decline(0x6C), AuthorizationOutcome::Cancelled);
        assert_eq!(decline(0x55), AuthorizationOutcome::Declined(DeclineReason::WrongPin));
        assert_eq!(decline(0x78), AuthorizationOutcome::Declined(DeclineReason::CardExpired));
        assert_eq!(decline(0x05), AuthorizationOutcome::Declined(DeclineReason::Declined));
    }
}
