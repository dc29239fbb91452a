//! Applying for a service and paying for it: choosing the service, identifying the applicant
//! when the service asks, the form, the review, the card payment (reserve, save, capture; a
//! reservation released when the application cannot be saved or the citizen cancelled), the
//! receipt. The kiosk's side is `runtime/apply.rs`.

use balcao_backend_client::api::PaymentRecord;
use balcao_drivers::payment_terminal::{Authorization, AuthorizationOutcome, DeclineReason, ErrorKind as PaymentError, TerminalPrompt};
use balcao_ui::view::{PaymentPrompt, Problem, UserAction};

use super::draft::Draft;
use super::identify::{IdentifyForm, Outcome, chip_accepted, needs_identity};
use super::{ApplicationDraft, Effect, Event, Next, Session, Stage, api_language, ime};
use crate::receipt::{NotChargedContent, PaidBy, ReceiptContent};
use crate::store::SavedApplication;

/// Why an approved reservation is released rather than charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Release {
    /// The application could not be saved.
    NotSaved,
    /// The citizen cancelled, and the terminal approved all the same (the card was already
    /// being read): the citizen said no, so nothing is charged.
    Cancelled,
}

/// Whether the citizen can still stop a payment at `prompt`: the terminal takes the kiosk's
/// abort only while it waits for the card.
pub(super) fn cancellable(prompt: &PaymentPrompt) -> bool {
    matches!(prompt, PaymentPrompt::Connecting | PaymentPrompt::PresentCard)
}

pub(super) fn payment_prompt(prompt: TerminalPrompt) -> PaymentPrompt {
    match prompt {
        TerminalPrompt::PresentCard => PaymentPrompt::PresentCard,
        TerminalPrompt::EnterPin => PaymentPrompt::EnterPin,
        TerminalPrompt::Processing => PaymentPrompt::Processing,
        TerminalPrompt::RemoveCard => PaymentPrompt::RemoveCard,
        TerminalPrompt::Text(text) => PaymentPrompt::TerminalText(text),
    }
}

fn decline_problem(reason: DeclineReason) -> Problem {
    match reason {
        DeclineReason::Declined => Problem::PaymentDeclined,
        DeclineReason::WrongPin => Problem::WrongPin,
        DeclineReason::CardExpired => Problem::CardExpired,
        DeclineReason::CardNotAccepted => Problem::CardNotAccepted,
        DeclineReason::TimedOut => Problem::PaymentTimedOut,
    }
}

/// The card as printed: brand and the masked number the terminal gave, e.g. `VISA **** 4242`.
fn masked_card(authorization: &Authorization) -> Option<String> {
    let brand = authorization.card_brand.as_deref().unwrap_or_default();
    authorization.card.as_ref().map(|c| format!("{brand} {c}").trim().to_string())
}

impl Session {
    /// A touch on one of the journey's screens: `Err` (the stage as it was) when it means nothing there.
    pub(super) fn on_apply_action(&mut self, stage: Stage, action: UserAction, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, action) {
            (Stage::Services, UserAction::ServicesBack) => Stage::Home,
            (Stage::Services, UserAction::ChooseService(id)) => match self.service(&id) {
                Some(service) if self.readiness.blocks(service).is_some() => Stage::Services,
                Some(service) if needs_identity(service) => Stage::Identify(IdentifyForm::new(service.clone())),
                Some(service) => Stage::Form(Draft::new(service.clone())),
                None => Stage::Services,
            },
            (Stage::Identify(mut form), action) if !form.busy => match action {
                UserAction::Focus(field) => {
                    form.focus(field);
                    Stage::Identify(form)
                }
                UserAction::Key(key) => {
                    form.key(&key);
                    Stage::Identify(form)
                }
                UserAction::Backspace => {
                    form.backspace();
                    Stage::Identify(form)
                }
                UserAction::IdentifyRead if chip_accepted(&self.readiness) => {
                    form.focus = None;
                    match form.access_key() {
                        Ok(key) => {
                            form.busy = true;
                            form.problem = None;
                            effects.push(Effect::ReadIdentity(key));
                        }
                        Err(problem) => form.problem = Some(problem),
                    }
                    Stage::Identify(form)
                }
                UserAction::IdentifyBack => Stage::Services,
                _ => Stage::Identify(form),
            },
            // While asked whether to leave, only the answer counts.
            (Stage::Form(draft), action) if draft.leaving && !matches!(action, UserAction::LeaveForm | UserAction::StayOnForm) => {
                Stage::Form(draft)
            }
            (Stage::Form(mut draft), action) => match action {
                UserAction::Focus(field) => {
                    draft.focus(field, self.input_tables.as_deref());
                    Stage::Form(draft)
                }
                UserAction::Key(key) => {
                    draft.key(&key);
                    Stage::Form(draft)
                }
                // A key erases the code being composed first, then the field.
                UserAction::Backspace => {
                    let composing = self.input_tables.as_ref().is_some_and(|tables| draft.composer.backspace(tables));
                    if !composing {
                        draft.backspace();
                    }
                    Stage::Form(draft)
                }
                UserAction::ImeKey(key) => {
                    if let Some(tables) = &self.input_tables {
                        draft.composer.key(key, tables);
                    }
                    Stage::Form(draft)
                }
                UserAction::ImeChoose(index) => {
                    if let Some(chosen) = draft.composer.choose(index) {
                        draft.key(&chosen);
                    }
                    Stage::Form(draft)
                }
                UserAction::ImeTurn(by) => {
                    draft.composer.turn(by);
                    Stage::Form(draft)
                }
                UserAction::ImeSwitch(method) => {
                    if let Some(tables) = &self.input_tables {
                        draft.composer.switch(ime::Method::from(method), tables);
                    }
                    Stage::Form(draft)
                }
                UserAction::Choose(field, value) => {
                    draft.choose(field, &value);
                    Stage::Form(draft)
                }
                UserAction::SetYesNo(field, yes) => {
                    draft.set_yes_no(field, yes);
                    Stage::Form(draft)
                }
                UserAction::Step(field, delta) => {
                    draft.step(field, delta);
                    Stage::Form(draft)
                }
                UserAction::FormNext => {
                    draft.focus = None;
                    if draft.problems(&self.today).is_empty() {
                        draft.consent = false;
                        Stage::Review(draft)
                    } else {
                        draft.show_problems = true;
                        Stage::Form(draft)
                    }
                }
                // Back would erase the answers: the citizen is asked first.
                UserAction::FormBack if draft.has_answers() => {
                    draft.focus = None;
                    draft.leaving = true;
                    Stage::Form(draft)
                }
                UserAction::FormBack | UserAction::LeaveForm => Stage::Services,
                UserAction::StayOnForm => {
                    draft.leaving = false;
                    Stage::Form(draft)
                }
                _ => Stage::Form(draft),
            },
            (Stage::Review(mut draft), UserAction::ToggleConsent) => {
                draft.consent = !draft.consent;
                Stage::Review(draft)
            }
            (Stage::Review(draft), UserAction::Edit) => Stage::Form(draft),
            (Stage::Review(draft), UserAction::Confirm) if draft.consent => self.confirm(draft, effects),
            (Stage::Paying { draft, prompt, cancelling: false }, UserAction::CancelPayment) if cancellable(&prompt) => {
                effects.push(Effect::CancelPayment);
                Stage::Paying { draft, prompt: PaymentPrompt::Cancelling, cancelling: true }
            }
            (stage, _) => return Next::Stay(stage),
        })
    }

    /// What the terminal, the store or the printer answered during the journey.
    pub(super) fn on_apply_result(&mut self, stage: Stage, event: Event, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, event) {
            (Stage::Identify(mut form), event @ (Event::SignInChecked(_) | Event::IdentityRead(_))) if form.busy => {
                let outcome = match event {
                    Event::SignInChecked(result) => form.signed_in(result),
                    Event::IdentityRead(result) => form.read(result, &self.today),
                    _ => Outcome::TryAgain,
                };
                match outcome {
                    Outcome::Identified(identity) => Stage::Form(Draft::identified(form.service.clone(), identity)),
                    Outcome::TryAgain => Stage::Identify(form),
                    Outcome::Rejected => Stage::Error { problem: Problem::DocumentRejected, reference: String::new(), retry: None },
                    Outcome::SendToCounter => Stage::Error { problem: Problem::IdentifyRefused, reference: String::new(), retry: None },
                }
            }
            (Stage::Paying { draft, cancelling: true, .. }, Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization))) => {
                // The citizen cancelled, but the terminal could no longer stop (the card was
                // already being read) and approved. The citizen said no: the reservation is
                // released, never charged, and they are told so on screen and on paper.
                let card = masked_card(&authorization);
                effects.push(Effect::Reverse(Box::new(authorization)));
                Stage::Reversing { draft, card, cause: Release::Cancelled }
            }
            (Stage::Paying { draft, .. }, Event::PaymentOutcome(outcome)) => match outcome {
                AuthorizationOutcome::Approved(authorization) => {
                    effects.push(Effect::SaveApplication(Box::new(self.application(&draft, Some(&authorization)))));
                    Stage::Saving { draft, authorization: Some(Box::new(authorization)) }
                }
                AuthorizationOutcome::Declined(reason) => {
                    Stage::Error { problem: decline_problem(reason), reference: String::new(), retry: Some(draft) }
                }
                AuthorizationOutcome::Cancelled => {
                    Stage::Error { problem: Problem::PaymentCancelled, reference: String::new(), retry: Some(draft) }
                }
            },
            (Stage::Paying { draft, .. }, Event::PaymentFailed(kind)) => {
                // After a lost answer the money may be reserved: paying again could reserve it
                // twice, so no retry is offered; the kiosk resolves it with the terminal.
                match kind {
                    PaymentError::OutcomeUnknown => {
                        Stage::Error { problem: Problem::PaymentUnresolved, reference: String::new(), retry: None }
                    }
                    _ => Stage::Error { problem: Problem::TerminalUnavailable, reference: String::new(), retry: Some(draft) },
                }
            }
            (Stage::Saving { draft, authorization }, Event::ApplicationSaved(saved)) => match authorization {
                Some(authorization) => {
                    effects.push(Effect::Capture(authorization.clone()));
                    Stage::Capturing { draft, saved, authorization }
                }
                None => {
                    effects.push(Effect::PrintReceipt(Box::new(self.receipt(&draft, &saved, None))));
                    Stage::Printing { draft, saved }
                }
            },
            (Stage::Saving { draft, authorization }, Event::ApplicationNotSaved) => match authorization {
                Some(authorization) => {
                    let card = masked_card(&authorization);
                    effects.push(Effect::Reverse(authorization));
                    Stage::Reversing { draft, card, cause: Release::NotSaved }
                }
                None => Stage::Error { problem: Problem::NotSaved, reference: String::new(), retry: None },
            },
            (Stage::Capturing { draft, saved, authorization }, event @ (Event::Captured(_) | Event::CaptureFailed)) => {
                // A failed capture leaves the reservation to the payment journal's
                // reconciliation; the citizen has their application either way.
                let mut receipt = self.receipt(&draft, &saved, Some(&authorization));
                if let (Event::Captured(lines), Some(paid)) = (event, receipt.paid_by.as_mut()) {
                    paid.terminal_lines.extend(lines);
                }
                effects.push(Effect::PrintReceipt(Box::new(receipt)));
                Stage::Printing { draft, saved }
            }
            (Stage::Reversing { draft, card, cause }, event @ (Event::Reversed | Event::ReversalFailed)) => {
                // Only a reversal the terminal confirmed may print "not charged"; a failed one is
                // left to the payment journal's reconciliation, and the screen says so.
                if matches!(event, Event::ReversalFailed) {
                    return Next::To(Stage::Error { problem: Problem::ReleasePending, reference: String::new(), retry: None });
                }
                effects.push(Effect::PrintNotCharged(Box::new(NotChargedContent {
                    language: self.language,
                    service_name: draft.service.name.get(api_language(self.language)).to_string(),
                    amount_avos: draft.fee_avos(),
                    card,
                    cancelled: cause == Release::Cancelled,
                })));
                match cause {
                    Release::NotSaved => Stage::Error { problem: Problem::NotSaved, reference: String::new(), retry: None },
                    Release::Cancelled => Stage::Error { problem: Problem::PaymentCancelled, reference: String::new(), retry: Some(draft) },
                }
            }
            (Stage::Printing { draft, saved }, Event::ReceiptPrinted) => Stage::Done { draft, saved },
            (Stage::Printing { saved, .. }, Event::ReceiptNotPrinted) => {
                Stage::Error { problem: Problem::ReceiptNotPrinted, reference: saved.reference, retry: None }
            }
            (stage, _) => return Next::Stay(stage),
        })
    }

    /// The citizen confirmed: check the service can still be delivered, then pay or save.
    fn confirm(&mut self, draft: Draft, effects: &mut Vec<Effect>) -> Stage {
        if self.readiness.blocks(&draft.service).is_some() {
            return Stage::Error { problem: Problem::ServiceUnavailable, reference: String::new(), retry: Some(draft) };
        }
        let fee = draft.fee_avos();
        if fee == 0 {
            effects.push(Effect::SaveApplication(Box::new(self.application(&draft, None))));
            return Stage::Saving { draft, authorization: None };
        }
        effects.push(Effect::Authorize { amount_avos: fee, reference: draft.service.id.clone() });
        Stage::Paying { draft, prompt: PaymentPrompt::Connecting, cancelling: false }
    }

    fn application(&self, draft: &Draft, authorization: Option<&Authorization>) -> ApplicationDraft {
        ApplicationDraft {
            service_id: draft.service.id.clone(),
            language: api_language(self.language),
            answers: draft.answers(),
            fee_avos: draft.fee_avos(),
            identity: draft.identity.clone(),
            payment: authorization.map(|a| PaymentRecord {
                amount_avos: a.amount,
                terminal_receipt_number: a.receipt_number,
                trace_number: a.trace_number,
                approval_code: a.approval_code.clone(),
                card_brand: a.card_brand.clone(),
            }),
        }
    }

    fn receipt(&self, draft: &Draft, saved: &SavedApplication, authorization: Option<&Authorization>) -> ReceiptContent {
        let api_language = api_language(self.language);
        ReceiptContent {
            language: self.language,
            reference: saved.reference.clone(),
            service_name: draft.service.name.get(api_language).to_string(),
            agency_name: draft.service.agency.name.get(api_language).to_string(),
            fee_avos: draft.fee_avos(),
            paid_by: authorization.map(|a| PaidBy {
                card: masked_card(a),
                approval_code: a.approval_code.clone(),
                terminal_lines: a.receipt_lines.clone(),
            }),
            processing_days: draft.service.processing_days,
            delivery: draft.service.delivery,
            offline: !self.readiness.online,
        }
    }
}
