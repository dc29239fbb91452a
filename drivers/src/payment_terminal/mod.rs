//! The card payment terminal. The kiosk pre-authorises the fee, delivers the service, then
//! captures; on failure it reverses. Driver: ZVT (ECR side) over TCP or serial.
//!
//! No card data crosses this interface: the terminal handles the card, and what comes back is
//! masked ([`MaskedPan`] cannot hold more than the last four digits).

mod masked_pan;
#[cfg(feature = "simulators")]
pub mod sim;
pub mod zvt;

pub use masked_pan::{MaskedPan, luhn_valid, scrub_card_numbers};

use crate::CancelToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TerminalStatus {
    Ready,
    /// Busy with another transaction or with its own maintenance.
    Busy,
    /// Does not answer, or is not registered with the kiosk.
    Offline,
    /// Answers, but reports it cannot take payments (e.g. no connection to its host).
    OutOfOrder,
}

impl TerminalStatus {
    pub fn can_pay(self) -> bool {
        self == Self::Ready
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The terminal did not answer before the request was sent; nothing happened.
    NoAnswer,
    /// The request was sent but its answer never came: the money may or may not have moved.
    /// Resolve by asking the terminal, never by paying again.
    OutcomeUnknown,
    Busy,
    /// The terminal refused the capture or reversal (e.g. amount too high).
    Refused,
    /// The terminal holds no open reservation with that receipt number: it was already
    /// captured or reversed (or it lapsed).
    NoSuchReservation,
    /// The terminal's answer broke the protocol.
    Protocol,
    Other,
}

pub type Error = crate::DeviceError<ErrorKind>;

/// What the terminal asks of the citizen while a payment runs; the kiosk shows it translated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TerminalPrompt {
    PresentCard,
    EnterPin,
    Processing,
    RemoveCard,
    /// Text the terminal sent with no code the kiosk knows, shown as it came.
    Text(String),
}

/// A request to reserve an amount on the citizen's card.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    /// In the currency's minor unit (avos for MOP).
    pub amount: u64,
    /// The kiosk's id for this payment, printed on the terminal's receipt.
    pub reference: String,
    /// Lets the citizen cancel while the terminal waits for the card.
    pub cancel: CancelToken,
}

/// An approved reservation, to be captured or reversed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub amount: u64,
    /// The terminal's receipt number for this transaction: what capture and reversal name.
    pub receipt_number: u32,
    /// The terminal's trace number.
    pub trace_number: u32,
    pub approval_code: Option<String>,
    pub card_brand: Option<String>,
    pub card: Option<MaskedPan>,
    /// Lines the terminal asks to print on the citizen's receipt.
    pub receipt_lines: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    /// The card issuer declined.
    Declined,
    WrongPin,
    CardExpired,
    CardNotAccepted,
    /// The citizen took too long at the terminal.
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    Approved(Authorization),
    Declined(DeclineReason),
    /// Cancelled by the citizen, at the kiosk or on the terminal; nothing was reserved.
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub amount: u64,
    pub receipt_lines: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reversal {
    pub receipt_lines: Vec<String>,
}

/// The terminal's end-of-day: what it sent to its host since the last one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayClose {
    /// The total booked, in the currency's minor unit.
    pub total: u64,
    /// The terminal's own report.
    pub receipt_lines: Vec<String>,
}

/// A card payment terminal.
///
/// ## For callers
///
/// `authorize` reserves the amount and reports the terminal's prompts as they come; then
/// either `capture` (the service was delivered) or `reverse` (it was not). An
/// `OutcomeUnknown` error means the money may have moved: record it and ask the terminal,
/// never authorise again for the same payment.
///
/// ## For driver authors
///
/// Report every intermediate status as a prompt; never return card numbers except through
/// [`MaskedPan`]; bound every wait; tell `NoAnswer` (nothing sent) apart from
/// `OutcomeUnknown` (sent, answer lost).
pub trait PaymentTerminal: Send {
    fn status(&mut self) -> Result<TerminalStatus, Error>;
    fn authorize(&mut self, request: &AuthorizationRequest, prompt: &mut dyn FnMut(TerminalPrompt)) -> Result<AuthorizationOutcome, Error>;
    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error>;
    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error>;
    /// The receipt number of one reservation the terminal still holds open, if any. To walk
    /// them all, capture or reverse it and ask again.
    fn open_reservation(&mut self) -> Result<Option<u32>, Error>;
    /// Sends the day's bookings to the terminal's host and returns the total.
    fn end_of_day(&mut self) -> Result<DayClose, Error>;
    /// The terminal checks itself and its host connection, moving no money (ZVT: registration,
    /// then diagnosis); what it says, in the technician's words.
    fn diagnose(&mut self) -> Result<TerminalStatus, Error> {
        self.status()
    }
}

impl<T: PaymentTerminal + ?Sized> PaymentTerminal for Box<T> {
    fn status(&mut self) -> Result<TerminalStatus, Error> {
        (**self).status()
    }
    fn authorize(&mut self, request: &AuthorizationRequest, prompt: &mut dyn FnMut(TerminalPrompt)) -> Result<AuthorizationOutcome, Error> {
        (**self).authorize(request, prompt)
    }
    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error> {
        (**self).capture(authorization, amount)
    }
    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error> {
        (**self).reverse(authorization)
    }
    fn open_reservation(&mut self) -> Result<Option<u32>, Error> {
        (**self).open_reservation()
    }
    fn end_of_day(&mut self) -> Result<DayClose, Error> {
        (**self).end_of_day()
    }
    fn diagnose(&mut self) -> Result<TerminalStatus, Error> {
        (**self).diagnose()
    }
}
