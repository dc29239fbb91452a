//! Applying and paying: the fee reserved on the terminal (journaled first), the application
//! saved with its outbox entry, the fee booked or the reservation released, and the paper.

use balcao_backend_client::api::{HolderCheck, IdentityProof};
use balcao_drivers::CancelToken;
use balcao_drivers::payment_terminal::{Authorization, AuthorizationOutcome, AuthorizationRequest, ErrorKind as PaymentError};

use super::{Kiosk, Outcome, local_now, settled, with_store};
use crate::receipt::{self, NotChargedContent, ReceiptContent};
use crate::session::{ApplicationDraft, Event};
use crate::store::{Approval, NewApplication, PaymentState};

impl Kiosk {
    /// Reserves the fee on the terminal, journaled before the terminal hears of it.
    pub(super) fn authorize(&mut self, amount_avos: u64, reference: String) {
        let Some(store) = self.store.clone() else {
            let _ = self.events.send(Event::PaymentFailed(PaymentError::Other));
            return;
        };
        let cancel = CancelToken::new();
        self.payment_cancel = Some(cancel.clone());
        let id = uuid::Uuid::now_v7();
        self.in_flight.set(Some(id));
        let terminal = self.devices.payment_terminal.clone();
        let prompts = self.events.clone();
        let (fatal, today) = (self.fatal.clone(), local_now().date().to_string());
        tracing::info!(amount_avos, service = %reference, payment = %id, "asking the terminal to reserve the fee");
        self.send_later(async move {
            // Journaled before the terminal hears of it: a crash from here on leaves a
            // trace the reconciliation follows.
            let service = reference.clone();
            let journaled = with_store(&store, move |s| {
                s.payment_intent(id, &service, amount_avos, &today)?;
                s.payment_step(id, PaymentState::PreauthSent)
            })
            .await;
            if let Err(e) = journaled {
                tracing::error!(error = %e, "payment not journaled: the terminal is not asked");
                if e.is_fatal() {
                    fatal.fail(&e);
                }
                return Event::PaymentFailed(PaymentError::Other);
            }
            let request = AuthorizationRequest { amount: amount_avos, reference: id.to_string(), cancel };
            let result = terminal
                .call(move |t| {
                    t.authorize(&request, &mut |prompt| {
                        let _ = prompts.send(Event::PaymentPrompt(prompt));
                    })
                })
                .await;
            let (event, step) = match result {
                Ok(Ok(outcome)) => {
                    let step = match &outcome {
                        AuthorizationOutcome::Approved(a) => Outcome::Approved(Approval {
                            receipt_number: a.receipt_number,
                            trace_number: a.trace_number,
                            card_brand: a.card_brand.clone(),
                            card_last4: a.card.as_ref().map(|c| c.last4().to_string()),
                        }),
                        _ => Outcome::Step(PaymentState::Declined),
                    };
                    (Event::PaymentOutcome(outcome), step)
                }
                Ok(Err(e)) => {
                    tracing::warn!(kind = ?e.kind(), error = %e, "payment terminal failed");
                    // Only a lost answer may have reserved money: it stays `preauth_sent`
                    // for the reconciliation. Anything else reserved nothing.
                    let step =
                        if e.kind() == PaymentError::OutcomeUnknown { Outcome::Unknown } else { Outcome::Step(PaymentState::NotReserved) };
                    (Event::PaymentFailed(e.kind()), step)
                }
                Err(gone) => {
                    tracing::error!(error = %gone, "payment terminal worker gone");
                    (Event::PaymentFailed(PaymentError::OutcomeUnknown), Outcome::Unknown)
                }
            };
            let written = match step {
                Outcome::Approved(approval) => with_store(&store, move |s| s.payment_authorised(id, &approval)).await,
                Outcome::Step(state) => with_store(&store, move |s| s.payment_step(id, state)).await,
                Outcome::Unknown => Ok(()),
            };
            match written {
                Ok(()) => event,
                Err(e) => {
                    // The reservation is not on record as approved: the service must
                    // not go ahead. The reconciliation finds it open and reverses it.
                    tracing::error!(error = %e, "payment outcome not journaled");
                    if e.is_fatal() {
                        fatal.fail(&e);
                    }
                    Event::PaymentFailed(PaymentError::OutcomeUnknown)
                }
            }
        });
    }

    /// Asks the terminal to abort the reservation under way.
    pub(super) fn cancel_payment(&mut self) {
        if let Some(cancel) = &self.payment_cancel {
            cancel.cancel();
        }
    }

    /// Saves the application and its outbox entry in one durable commit.
    pub(super) fn save_application(&mut self, draft: Box<ApplicationDraft>) {
        let Some(store) = self.store.clone() else {
            let _ = self.events.send(Event::ApplicationNotSaved);
            return;
        };
        let now = local_now();
        let new = NewApplication {
            kiosk_id: self.settings.kiosk_id.clone(),
            centre_id: self.settings.centre_id.clone(),
            service_id: draft.service_id,
            language: draft.language,
            answers: draft.answers,
            fee_avos: draft.fee_avos,
            payment_id: draft.payment.as_ref().and_then(|_| self.in_flight.get()),
            payment: draft.payment,
            identity: draft.identity.as_ref().map(|identity| IdentityProof {
                method: identity.method,
                holder: HolderCheck::new(rand::random(), &identity.document_number),
            }),
            submitted_at: now.timestamp(),
            local_date: now.date(),
        };
        let wake = self.outbox_wake.clone();
        let fatal = self.fatal.clone();
        self.send_later(async move {
            let saved = with_store(&store, move |s| {
                // The journal says the service is being delivered before it is.
                if let Some(payment) = new.payment_id {
                    s.payment_step(payment, PaymentState::Fulfilling)?;
                }
                s.save_application(&new)
            });
            match saved.await {
                Ok(saved) => {
                    tracing::info!(application = %saved.application_id, "application saved and queued");
                    wake.notify_one();
                    Event::ApplicationSaved(saved)
                }
                Err(e) => {
                    tracing::error!(error = %e, "application could not be saved");
                    if e.is_fatal() {
                        fatal.fail(&e);
                    }
                    Event::ApplicationNotSaved
                }
            }
        });
    }

    /// Books the reserved fee.
    pub(super) fn capture(&mut self, authorization: Box<Authorization>) {
        let (terminal, journal) = (self.devices.payment_terminal.clone(), self.journal());
        self.send_later(async move {
            let Some((store, id)) = journal else { return Event::CaptureFailed };
            if let Err(e) = with_store(&store, move |s| s.payment_step(id, PaymentState::CaptureSent)).await {
                tracing::error!(error = %e, "capture not journaled: left to the reconciliation");
                return Event::CaptureFailed;
            }
            let amount = authorization.amount;
            let result = terminal.call(move |t| t.capture(&authorization, amount)).await;
            let next = match &result {
                Ok(Ok(_)) => Some(PaymentState::Captured),
                Ok(Err(e)) if e.kind() == PaymentError::NoSuchReservation => Some(PaymentState::Lapsed),
                _ => None,
            };
            if let Some(state) = next
                && let Err(e) = with_store(&store, move |s| s.payment_step(id, state)).await
            {
                tracing::error!(error = %e, "capture outcome not journaled: left to the reconciliation");
            }
            match settled(result, "capture failed: the reservation needs reconciliation") {
                Some(capture) => Event::Captured(capture.receipt_lines),
                None => Event::CaptureFailed,
            }
        });
    }

    /// Releases the reservation.
    pub(super) fn reverse(&mut self, authorization: Box<Authorization>) {
        let (terminal, journal) = (self.devices.payment_terminal.clone(), self.journal());
        self.send_later(async move {
            let Some((store, id)) = journal else { return Event::ReversalFailed };
            if let Err(e) = with_store(&store, move |s| s.payment_step(id, PaymentState::ReversalSent)).await {
                tracing::error!(error = %e, "reversal not journaled: left to the reconciliation");
                return Event::ReversalFailed;
            }
            let result = terminal.call(move |t| t.reverse(&authorization)).await;
            // One the terminal no longer holds was never booked: released all the same.
            let released = match result {
                Ok(Ok(_)) => true,
                Ok(Err(e)) if e.kind() == PaymentError::NoSuchReservation => true,
                other => {
                    settled(other, "reversal failed: the reservation needs reconciliation");
                    false
                }
            };
            if !released {
                return Event::ReversalFailed;
            }
            match with_store(&store, move |s| s.payment_step(id, PaymentState::Reversed)).await {
                Ok(()) => Event::Reversed,
                Err(e) => {
                    tracing::error!(error = %e, "reversal not journaled: left to the reconciliation");
                    Event::ReversalFailed
                }
            }
        });
    }

    /// The "you were not charged" slip (best effort).
    pub(super) fn print_not_charged(&mut self, content: Box<NotChargedContent>) {
        let printer = self.devices.receipt_printer.clone();
        let printed_at = local_now().strftime("%Y-%m-%d %H:%M").to_string();
        let layout = receipt::not_charged_layout(&content, &printed_at, &self.settings.kiosk_id);
        tokio::spawn(async move {
            if let Some(done) = settled(printer.call(move |p| p.print(&layout)).await, "not-charged slip not printed") {
                tracing::info!(job = done.job, "not-charged slip printed");
            }
        });
    }

    /// The application's receipt.
    pub(super) fn print_receipt(&mut self, content: Box<ReceiptContent>) {
        let printer = self.devices.receipt_printer.clone();
        let printed_at = local_now().strftime("%Y-%m-%d %H:%M").to_string();
        let layout = receipt::layout(&content, &printed_at, &self.settings.kiosk_id, &self.settings.status_url);
        self.send_later(async move {
            match settled(printer.call(move |p| p.print(&layout)).await, "receipt not printed") {
                Some(done) => {
                    tracing::info!(job = done.job, length_mm = ?done.length_mm, "receipt printed");
                    Event::ReceiptPrinted
                }
                None => Event::ReceiptNotPrinted,
            }
        });
    }
}
