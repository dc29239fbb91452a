//! A payment terminal simulated in-process, scripted per payment: approve (with or without
//! PIN), decline, the citizen cancels or never presents a card, the terminal does not answer,
//! or it approves and the answer is lost. It keeps its own books — open reservations, captures,
//! reversals — so tests can check that no money is left reserved or taken twice.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{
    Authorization, AuthorizationOutcome, AuthorizationRequest, Capture, DayClose, DeclineReason, Error, ErrorKind, MaskedPan,
    PaymentTerminal, Reversal, TerminalPrompt, TerminalStatus,
};

/// What the citizen (or the terminal) does in the next payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimCardAction {
    Approve {
        pin: bool,
    },
    Decline(DeclineReason),
    /// The citizen presses Cancel on the terminal.
    CitizenCancels,
    /// Nobody presents a card; the terminal gives up after its card wait.
    NeverPresented,
    /// The terminal does not answer the request at all.
    NoAnswer,
    /// The terminal approves, but its answer never reaches the kiosk.
    LoseAnswerAfterApproval,
}

/// How long the simulated terminal takes.
#[derive(Clone, Copy, Debug)]
pub struct SimTimings {
    /// Between prompts (the citizen reaching for the card, typing the PIN, the host answering).
    pub step: Duration,
    /// How long the terminal waits for a card.
    pub card_wait: Duration,
}

impl Default for SimTimings {
    fn default() -> Self {
        Self { step: Duration::from_millis(900), card_wait: Duration::from_secs(60) }
    }
}

#[derive(Debug, Default)]
struct Books {
    offline: bool,
    script: VecDeque<SimCardAction>,
    next_receipt: u32,
    open: BTreeMap<u32, u64>,
    captured: Vec<(u32, u64)>,
    reversed: Vec<u32>,
    /// How many captures the last end-of-day already counted.
    closed: usize,
}

/// The script and the books of a simulated terminal; clones control the same terminal.
#[derive(Clone, Debug, Default)]
pub struct SimTerminalControl(Arc<Mutex<Books>>);

impl SimTerminalControl {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What happens in the next payment; with nothing queued, every card is approved with PIN.
    pub fn queue(&self, action: SimCardAction) {
        self.books().script.push_back(action);
    }

    pub fn set_offline(&self, offline: bool) {
        self.books().offline = offline;
    }

    /// Receipt numbers and amounts of reservations neither captured nor reversed.
    pub fn open_reservations(&self) -> Vec<(u32, u64)> {
        self.books().open.iter().map(|(&r, &a)| (r, a)).collect()
    }

    pub fn captured(&self) -> Vec<(u32, u64)> {
        self.books().captured.clone()
    }

    pub fn reversed(&self) -> Vec<u32> {
        self.books().reversed.clone()
    }
}

#[derive(Debug)]
pub struct SimulatedPaymentTerminal {
    control: SimTerminalControl,
    timings: SimTimings,
}

impl SimulatedPaymentTerminal {
    pub fn new(timings: SimTimings) -> Self {
        let control = SimTerminalControl::default();
        control.books().next_receipt = 1;
        Self { control, timings }
    }

    pub fn control(&self) -> SimTerminalControl {
        self.control.clone()
    }

    /// Waits one step, or until the citizen cancels at the kiosk.
    fn step(&self, request: &AuthorizationRequest, length: Duration) -> bool {
        let end = Instant::now() + length;
        while Instant::now() < end {
            if request.cancel.is_cancelled() {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
        }
        !request.cancel.is_cancelled()
    }
}

fn mop(avos: u64) -> String {
    format!("MOP {}.{:02}", avos / 100, avos % 100)
}

impl PaymentTerminal for SimulatedPaymentTerminal {
    fn status(&mut self) -> Result<TerminalStatus, Error> {
        Ok(if self.control.books().offline { TerminalStatus::Offline } else { TerminalStatus::Ready })
    }

    fn authorize(&mut self, request: &AuthorizationRequest, prompt: &mut dyn FnMut(TerminalPrompt)) -> Result<AuthorizationOutcome, Error> {
        let action = {
            let mut books = self.control.books();
            if books.offline {
                return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal does not answer: check its power and network cable"));
            }
            books.script.pop_front().unwrap_or(SimCardAction::Approve { pin: true })
        };
        if action == SimCardAction::NoAnswer {
            return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal did not acknowledge the request"));
        }
        prompt(TerminalPrompt::PresentCard);
        let wait = if action == SimCardAction::NeverPresented { self.timings.card_wait } else { self.timings.step };
        if !self.step(request, wait) {
            return Ok(AuthorizationOutcome::Cancelled);
        }
        let pin = match &action {
            SimCardAction::CitizenCancels => return Ok(AuthorizationOutcome::Cancelled),
            SimCardAction::NeverPresented => return Ok(AuthorizationOutcome::Declined(DeclineReason::TimedOut)),
            SimCardAction::Approve { pin } => *pin,
            _ => true,
        };
        if pin {
            prompt(TerminalPrompt::EnterPin);
            std::thread::sleep(self.timings.step);
        }
        prompt(TerminalPrompt::Processing);
        std::thread::sleep(self.timings.step);
        prompt(TerminalPrompt::RemoveCard);
        if let SimCardAction::Decline(reason) = action {
            return Ok(AuthorizationOutcome::Declined(reason));
        }

        let mut books = self.control.books();
        let receipt_number = books.next_receipt;
        books.next_receipt += 1;
        books.open.insert(receipt_number, request.amount);
        drop(books);
        if action == SimCardAction::LoseAnswerAfterApproval {
            return Err(Error::new(ErrorKind::OutcomeUnknown, "the payment terminal's answer to the authorisation never came"));
        }
        let card = MaskedPan::from_masked("************4242");
        Ok(AuthorizationOutcome::Approved(Authorization {
            amount: request.amount,
            receipt_number,
            trace_number: 100 + receipt_number,
            approval_code: Some(format!("{:06}", 314_159 + receipt_number)),
            card_brand: Some("VISA".into()),
            card: card.clone(),
            receipt_lines: vec![
                "SIMULATED TERMINAL 0001".into(),
                "PRE-AUTHORISATION".into(),
                format!("VISA {}", card.map(|c| c.to_string()).unwrap_or_default()),
                format!("AMOUNT {}", mop(request.amount)),
                format!("RECEIPT {receipt_number:04} TRACE {:06}", 100 + receipt_number),
            ],
        }))
    }

    fn capture(&mut self, authorization: &Authorization, amount: u64) -> Result<Capture, Error> {
        let mut books = self.control.books();
        if books.offline {
            return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal does not answer"));
        }
        let Some(&reserved) = books.open.get(&authorization.receipt_number) else {
            return Err(Error::new(
                ErrorKind::NoSuchReservation,
                format!("no open reservation with receipt number {}", authorization.receipt_number),
            ));
        };
        if amount > reserved {
            return Err(Error::new(ErrorKind::Refused, format!("capture of {amount} exceeds the reserved {reserved}")));
        }
        books.open.remove(&authorization.receipt_number);
        books.captured.push((authorization.receipt_number, amount));
        Ok(Capture { amount, receipt_lines: vec![format!("CAPTURED {}", mop(amount))] })
    }

    fn reverse(&mut self, authorization: &Authorization) -> Result<Reversal, Error> {
        let mut books = self.control.books();
        if books.offline {
            return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal does not answer"));
        }
        if books.open.remove(&authorization.receipt_number).is_none() {
            return Err(Error::new(
                ErrorKind::NoSuchReservation,
                format!("no open reservation with receipt number {}", authorization.receipt_number),
            ));
        }
        books.reversed.push(authorization.receipt_number);
        Ok(Reversal { receipt_lines: vec![format!("REVERSED {}", mop(authorization.amount))] })
    }

    fn open_reservation(&mut self) -> Result<Option<u32>, Error> {
        let books = self.control.books();
        if books.offline {
            return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal does not answer"));
        }
        Ok(books.open.keys().next().copied())
    }

    fn end_of_day(&mut self) -> Result<DayClose, Error> {
        let mut books = self.control.books();
        if books.offline {
            return Err(Error::new(ErrorKind::NoAnswer, "the payment terminal does not answer"));
        }
        let total = books.captured[books.closed..].iter().map(|(_, amount)| amount).sum();
        books.closed = books.captured.len();
        Ok(DayClose { total, receipt_lines: vec![format!("END OF DAY {}", mop(total))] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CancelToken;

    fn terminal() -> SimulatedPaymentTerminal {
        SimulatedPaymentTerminal::new(SimTimings { step: Duration::ZERO, card_wait: Duration::from_millis(10) })
    }

    fn request() -> AuthorizationRequest {
        AuthorizationRequest { amount: 3000, reference: "pay-1".into(), cancel: CancelToken::new() }
    }

    fn authorize(
        t: &mut SimulatedPaymentTerminal,
        request: &AuthorizationRequest,
    ) -> (Result<AuthorizationOutcome, Error>, Vec<TerminalPrompt>) {
        let mut prompts = Vec::new();
        let outcome = t.authorize(request, &mut |p| prompts.push(p));
        (outcome, prompts)
    }

    #[test]
    fn approve_then_capture_closes_the_reservation() {
        let mut t = terminal();
        let (outcome, prompts) = authorize(&mut t, &request());
        assert_eq!(
            prompts,
            [TerminalPrompt::PresentCard, TerminalPrompt::EnterPin, TerminalPrompt::Processing, TerminalPrompt::RemoveCard]
        );
        let AuthorizationOutcome::Approved(auth) = outcome.expect("ok") else { panic!("not approved") };
        assert_eq!(t.control().open_reservations(), [(auth.receipt_number, 3000)]);
        t.capture(&auth, 3000).expect("captured");
        assert!(t.control().open_reservations().is_empty());
        assert_eq!(t.control().captured(), [(auth.receipt_number, 3000)]);
        // A second capture of the same reservation is refused: money is never taken twice.
        assert_eq!(t.capture(&auth, 3000).expect_err("twice").kind(), ErrorKind::NoSuchReservation);
        assert_eq!(t.end_of_day().expect("closed").total, 3000);
        assert_eq!(t.end_of_day().expect("closed again").total, 0);
    }

    #[test]
    fn reverse_releases_the_reservation() {
        let mut t = terminal();
        let AuthorizationOutcome::Approved(auth) = authorize(&mut t, &request()).0.expect("ok") else { panic!("not approved") };
        t.reverse(&auth).expect("reversed");
        assert!(t.control().open_reservations().is_empty());
        assert_eq!(t.control().reversed(), [auth.receipt_number]);
    }

    #[test]
    fn scripted_outcomes() {
        let mut t = terminal();
        t.control().queue(SimCardAction::Decline(DeclineReason::WrongPin));
        t.control().queue(SimCardAction::CitizenCancels);
        t.control().queue(SimCardAction::NeverPresented);
        t.control().queue(SimCardAction::NoAnswer);
        assert_eq!(authorize(&mut t, &request()).0.expect("ok"), AuthorizationOutcome::Declined(DeclineReason::WrongPin));
        assert_eq!(authorize(&mut t, &request()).0.expect("ok"), AuthorizationOutcome::Cancelled);
        assert_eq!(authorize(&mut t, &request()).0.expect("ok"), AuthorizationOutcome::Declined(DeclineReason::TimedOut));
        assert_eq!(authorize(&mut t, &request()).0.expect_err("no answer").kind(), ErrorKind::NoAnswer);
        assert!(t.control().open_reservations().is_empty());
    }

    #[test]
    fn a_lost_answer_leaves_an_open_reservation_to_resolve() {
        let mut t = terminal();
        t.control().queue(SimCardAction::LoseAnswerAfterApproval);
        assert_eq!(authorize(&mut t, &request()).0.expect_err("lost").kind(), ErrorKind::OutcomeUnknown);
        assert_eq!(t.control().open_reservations().len(), 1);
        assert_eq!(t.open_reservation().expect("asked"), Some(t.control().open_reservations()[0].0));
    }

    #[test]
    fn cancel_at_the_kiosk_stops_the_wait_for_a_card() {
        let mut t = SimulatedPaymentTerminal::new(SimTimings { step: Duration::from_secs(30), card_wait: Duration::from_secs(30) });
        let request = request();
        request.cancel.cancel();
        let started = Instant::now();
        assert_eq!(authorize(&mut t, &request).0.expect("ok"), AuthorizationOutcome::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn receipts_carry_no_card_number() {
        let mut t = terminal();
        let AuthorizationOutcome::Approved(auth) = authorize(&mut t, &request()).0.expect("ok") else { panic!("not approved") };
        let text = auth.receipt_lines.join("\n");
        assert!(text.contains("**** 4242"), "{text}");
        assert!(!text.contains("4242424242"), "{text}");
    }
}
