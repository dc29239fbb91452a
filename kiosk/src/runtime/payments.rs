//! Payments the kiosk left unfinished — an answer that never came, a crash between two steps —
//! resolved with the terminal, never by paying again.
//!
//! For each unfinished saga in the journal, oldest first:
//!
//! - `intent`: nothing was sent; it is closed, nothing reserved.
//! - `authorised`, `fulfilling`, `reversal_sent`: the service was not delivered; the
//!   reservation is reversed (one already gone counts as reversed: it was never booked).
//! - `fulfilled`, `capture_sent`: the service was delivered; the reservation is booked. One the
//!   terminal no longer holds was booked by the capture already sent (`capture_sent`), or
//!   lapsed before it (`fulfilled`: flagged for staff).
//! - `preauth_sent`: the kiosk never learned the receipt number. The terminal is asked for its
//!   open reservations one at a time (each released before asking again); one no saga claims
//!   is put on the oldest such payment and reversed. Those left over reserved nothing.
//!
//! Every step is journaled before the command goes out, so a crash in the middle of this is
//! resolved the same way at the next start. It runs only while no citizen is paying.

use std::sync::{Arc, Mutex};

use balcao_drivers::payment_terminal::{Authorization, ErrorKind, PaymentTerminal};
use uuid::Uuid;

use super::SharedStore;
use crate::store::{Payment, PaymentState, Store, StoreError};

/// What one reconciliation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub captured: usize,
    pub reversed: usize,
    /// Closed with nothing reserved.
    pub closed: usize,
    /// Delivered but no longer bookable: for staff.
    pub lapsed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the payment journal could not be written")]
    Store(#[from] StoreError),
    #[error("the payment terminal could not settle receipt {receipt}: {source}")]
    Terminal { receipt: u32, source: balcao_drivers::payment_terminal::Error },
    #[error("the payment terminal cannot list its reservations: {0}")]
    Listing(balcao_drivers::payment_terminal::Error),
    #[error("the terminal keeps naming reservations after {0} releases")]
    Endless(usize),
}

/// The payment in flight, if any: reconciliation leaves the journal alone while it is set.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<Mutex<Option<Uuid>>>);

impl InFlight {
    pub fn set(&self, id: Option<Uuid>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    pub fn get(&self) -> Option<Uuid> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn journal<R>(store: &SharedStore, job: impl FnOnce(&mut Store) -> Result<R, StoreError>) -> Result<R, StoreError> {
    job(&mut store.lock().unwrap_or_else(|e| e.into_inner()))
}

/// What capture and reversal need: the reservation's receipt number and amount.
fn authorization(amount: u64, receipt_number: u32) -> Authorization {
    Authorization { amount, receipt_number, trace_number: 0, approval_code: None, card_brand: None, card: None, receipt_lines: Vec::new() }
}

/// The most reservations one run releases while walking the terminal's list (a terminal that
/// keeps naming the same one must not loop the kiosk forever).
const MAX_RELEASES: usize = 200;

/// Resolves every unfinished payment with `terminal`, except the one `live` names (a citizen's
/// payment that began meanwhile: it cannot have reached the terminal, whose worker runs this).
/// Blocking: run it on the terminal's worker, which serialises it with live payments.
pub fn reconcile(store: &SharedStore, terminal: &mut dyn PaymentTerminal, live: &InFlight) -> Result<Reconciled, ReconcileError> {
    let mut done = Reconciled::default();
    let mut unfinished = journal(store, |s| s.unfinished_payments())?;
    unfinished.retain(|p| Some(p.id) != live.get());
    let mut lost_answers: Vec<Payment> = Vec::new();
    for payment in unfinished {
        match (payment.state, payment.receipt_number) {
            (PaymentState::Intent, _) => {
                journal(store, |s| s.payment_step(payment.id, PaymentState::NotReserved))?;
                done.closed += 1;
            }
            (PaymentState::PreauthSent, _) => lost_answers.push(payment),
            (PaymentState::Authorised | PaymentState::Fulfilling | PaymentState::ReversalSent, Some(receipt)) => {
                reverse(store, terminal, &payment, receipt)?;
                done.reversed += 1;
            }
            (PaymentState::Fulfilled | PaymentState::CaptureSent, Some(receipt)) => {
                if capture(store, terminal, &payment, receipt)? {
                    done.captured += 1;
                } else {
                    done.lapsed += 1;
                }
            }
            (state, receipt) => {
                tracing::error!(payment = %payment.id, state = state.as_str(), ?receipt, "payment journal entry cannot be resolved");
            }
        }
    }
    // Every reservation still open at the terminal belongs to no delivered service: the ones
    // above were all released. Reverse each, under a payment whose answer was lost if any.
    let mut releases = 0;
    loop {
        let Some(receipt) = terminal.open_reservation().map_err(ReconcileError::Listing)? else { break };
        releases += 1;
        if releases > MAX_RELEASES {
            return Err(ReconcileError::Endless(MAX_RELEASES));
        }
        match (!lost_answers.is_empty()).then(|| lost_answers.remove(0)) {
            Some(mut payment) => {
                // Adopting writes `reversal_sent`: the reversal below is not journaled twice.
                journal(store, |s| s.payment_adopt_reservation(payment.id, receipt))?;
                payment.state = PaymentState::ReversalSent;
                reverse(store, terminal, &payment, receipt)?;
            }
            None => {
                tracing::warn!(receipt, "an open reservation no payment claims: reversing it");
                release(terminal, &authorization(0, receipt), false)?;
            }
        }
        done.reversed += 1;
    }
    for payment in lost_answers {
        journal(store, |s| s.payment_step(payment.id, PaymentState::NotReserved))?;
        done.closed += 1;
    }
    if done != Reconciled::default() {
        tracing::info!(?done, "payments reconciled with the terminal");
    }
    Ok(done)
}

/// Captures (`book`) or reverses; `Ok(false)` when the terminal holds no such reservation.
fn release(terminal: &mut dyn PaymentTerminal, authorization: &Authorization, book: bool) -> Result<bool, ReconcileError> {
    let result =
        if book { terminal.capture(authorization, authorization.amount).map(|_| ()) } else { terminal.reverse(authorization).map(|_| ()) };
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NoSuchReservation => Ok(false),
        Err(source) => Err(ReconcileError::Terminal { receipt: authorization.receipt_number, source }),
    }
}

fn reverse(store: &SharedStore, terminal: &mut dyn PaymentTerminal, payment: &Payment, receipt: u32) -> Result<(), ReconcileError> {
    if payment.state != PaymentState::ReversalSent {
        journal(store, |s| s.payment_step(payment.id, PaymentState::ReversalSent))?;
    }
    // Gone already: it was never booked (only delivered services are), so it is released.
    release(terminal, &authorization(payment.amount_avos, receipt), false)?;
    journal(store, |s| s.payment_step(payment.id, PaymentState::Reversed))?;
    Ok(())
}

/// True when booked (now or by the capture sent before); false when it lapsed.
fn capture(store: &SharedStore, terminal: &mut dyn PaymentTerminal, payment: &Payment, receipt: u32) -> Result<bool, ReconcileError> {
    let sent_before = payment.state == PaymentState::CaptureSent;
    journal(store, |s| s.payment_step(payment.id, PaymentState::CaptureSent))?;
    if release(terminal, &authorization(payment.amount_avos, receipt), true)? || sent_before {
        journal(store, |s| s.payment_step(payment.id, PaymentState::Captured))?;
        return Ok(true);
    }
    tracing::error!(payment = %payment.id, receipt, "a delivered service's reservation lapsed before it was booked");
    journal(store, |s| s.payment_step(payment.id, PaymentState::Lapsed))?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use balcao_drivers::CancelToken;
    use balcao_drivers::payment_terminal::sim::{SimCardAction, SimTimings, SimulatedPaymentTerminal};
    use balcao_drivers::payment_terminal::{AuthorizationOutcome, AuthorizationRequest};

    use super::*;
    use crate::store::Approval;

    fn store(dir: &tempfile::TempDir) -> SharedStore {
        let path = dir.path().join("kiosk.db");
        Arc::new(Mutex::new(Store::open(&path, &path.with_extension("key")).expect("store")))
    }

    fn terminal() -> SimulatedPaymentTerminal {
        SimulatedPaymentTerminal::new(SimTimings { step: std::time::Duration::ZERO, card_wait: std::time::Duration::ZERO })
    }

    /// A payment journaled up to `upto`, its reservation approved at `terminal` when it got
    /// that far (or lost in the answer, for `preauth_sent`).
    fn payment_at(store: &SharedStore, terminal: &mut SimulatedPaymentTerminal, upto: PaymentState) -> Uuid {
        use PaymentState::*;
        let id = Uuid::now_v7();
        let mut s = store.lock().expect("store");
        s.payment_intent(id, "criminal-record-certificate", 3_000, "2026-12-02").expect("intent");
        if upto == Intent {
            return id;
        }
        s.payment_step(id, PreauthSent).expect("sent");
        let request = AuthorizationRequest { amount: 3_000, reference: id.to_string(), cancel: CancelToken::new() };
        if upto == PreauthSent {
            terminal.control().queue(SimCardAction::LoseAnswerAfterApproval);
            terminal.authorize(&request, &mut |_| {}).expect_err("lost");
            return id;
        }
        let Ok(AuthorizationOutcome::Approved(a)) = terminal.authorize(&request, &mut |_| {}) else { panic!("approved") };
        s.payment_authorised(id, &Approval { receipt_number: a.receipt_number, trace_number: a.trace_number, ..Approval::default() })
            .expect("authorised");
        let rest: &[PaymentState] = match upto {
            Fulfilling => &[Fulfilling],
            Fulfilled => &[Fulfilling, Fulfilled],
            CaptureSent => &[Fulfilling, Fulfilled, CaptureSent],
            ReversalSent => &[ReversalSent],
            _ => &[],
        };
        for state in rest {
            s.payment_step(id, *state).expect("step");
        }
        id
    }

    fn state(store: &SharedStore, id: Uuid) -> PaymentState {
        store.lock().expect("store").payment(id).expect("read").expect("there").state
    }

    #[test]
    fn every_unfinished_state_ends_captured_if_delivered_and_reversed_or_closed_if_not() {
        use PaymentState::*;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        let mut terminal = terminal();
        let cases = [
            (Intent, NotReserved),
            (PreauthSent, Reversed),
            (Authorised, Reversed),
            (Fulfilling, Reversed),
            (Fulfilled, Captured),
            (CaptureSent, Captured),
            (ReversalSent, Reversed),
        ];
        let ids: Vec<(Uuid, PaymentState)> = cases.iter().map(|(at, end)| (payment_at(&store, &mut terminal, *at), *end)).collect();
        assert_eq!(terminal.control().open_reservations().len(), 6);
        let done = reconcile(&store, &mut terminal, &InFlight::default()).expect("reconciled");
        assert_eq!(done, Reconciled { captured: 2, reversed: 4, closed: 1, lapsed: 0 });
        for ((id, end), (from, _)) in ids.iter().zip(cases) {
            assert_eq!(state(&store, *id), *end, "from {from:?}");
        }
        assert!(terminal.control().open_reservations().is_empty(), "nothing left open");
        assert_eq!(
            store.lock().expect("store").payment_steps(ids[1].0).expect("steps"),
            [Intent, PreauthSent, ReversalSent, Reversed],
            "the lost answer's reservation adopted and reversed, each step once"
        );
        assert_eq!(terminal.control().captured().len(), 2, "each delivered service charged once");
        assert!(store.lock().expect("store").unfinished_payments().expect("read").is_empty());
        // Again: nothing to do, nothing charged twice.
        assert_eq!(reconcile(&store, &mut terminal, &InFlight::default()).expect("again"), Reconciled::default());
        assert_eq!(terminal.control().captured().len(), 2);
    }

    #[test]
    fn a_capture_already_booked_is_not_booked_again_and_a_lapsed_one_is_flagged() {
        use PaymentState::*;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        let mut terminal = terminal();
        let sent = payment_at(&store, &mut terminal, CaptureSent);
        let lapsed = payment_at(&store, &mut terminal, Fulfilled);
        // The capture went through before the crash; the other reservation lapsed.
        let [(first, _), (second, _)] = terminal.control().open_reservations()[..] else { panic!("two open") };
        terminal.capture(&authorization(3_000, first), 3_000).expect("booked before the crash");
        terminal.reverse(&authorization(3_000, second)).expect("lapsed at the terminal");
        let done = reconcile(&store, &mut terminal, &InFlight::default()).expect("reconciled");
        assert_eq!(done, Reconciled { captured: 1, reversed: 0, closed: 0, lapsed: 1 });
        assert_eq!((state(&store, sent), state(&store, lapsed)), (Captured, Lapsed));
        assert_eq!(terminal.control().captured().len(), 1, "booked once");
    }

    #[test]
    fn a_terminal_that_does_not_answer_leaves_the_journal_as_it_was() {
        use PaymentState::*;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir);
        let mut terminal = terminal();
        let id = payment_at(&store, &mut terminal, Fulfilled);
        terminal.control().set_offline(true);
        reconcile(&store, &mut terminal, &InFlight::default()).expect_err("offline");
        assert_eq!(state(&store, id), CaptureSent, "the attempt is on record");
        terminal.control().set_offline(false);
        reconcile(&store, &mut terminal, &InFlight::default()).expect("reconciled");
        assert_eq!(state(&store, id), Captured);
        assert_eq!(
            store.lock().expect("store").payment_steps(id).expect("steps"),
            [Intent, PreauthSent, Authorised, Fulfilling, Fulfilled, CaptureSent, CaptureSent, Captured]
        );
    }
}
