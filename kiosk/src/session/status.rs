//! Checking an application's status: the citizen types (or scans) the number on the receipt
//! and types the applicant's date of birth; the kiosk asks central, or, while central cannot
//! be reached, reads its own copy of the applications made here. A number alone is never
//! answered; wrong tries end the journey at the counter.

use balcao_backend_client::api::{ApplicationState, NextStep};
use balcao_ui::view::{StatusLine, StatusProblem, StatusResult, StatusState, StatusStep, StatusView};

use balcao_ui::view::{Problem, UserAction};

use super::entry::NumberAndBirth;
use super::identify::Identity;
use super::pickup::ScannedCode;
use super::{DocumentNumber, Effect, Event, Next, Session, Stage};

/// Answers that found nothing allowed in one session before the citizen is sent to the
/// counter (central also closes a number after five wrong tries, whichever kiosk or phone
/// sends them).
pub const MAX_STATUS_FAILURES: u8 = 3;
const MAX_REFERENCE: usize = 32;

/// The form: the number and the date of birth (see [`NumberAndBirth`]), and what went wrong.
#[derive(Clone, Debug, Default)]
pub struct StatusForm {
    pub entry: NumberAndBirth,
    pub problem: Option<StatusProblem>,
    pub failures: u8,
}

/// A date of birth on its way to be checked: `Debug` shows nothing of it, and it is wiped
/// when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DateOfBirth(pub String);

impl std::fmt::Debug for DateOfBirth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DateOfBirth(..)")
    }
}

impl Drop for DateOfBirth {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// An application's status as found, ready to show: times already in local time.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusFound {
    pub reference: String,
    pub service_id: String,
    /// `None`: saved at this kiosk and not yet sent.
    pub state: Option<ApplicationState>,
    pub next_step: NextStep,
    /// The last day of the processing time, `YYYY-MM-DD`.
    pub due: String,
    pub on_time: bool,
    /// Each step, `YYYY-MM-DD HH:MM`.
    pub history: Vec<(ApplicationState, String)>,
    /// Offline: when this kiosk last heard of it (`YYYY-MM-DD HH:MM`).
    pub as_of: Option<String>,
}

impl std::fmt::Debug for StatusFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusFound").field("state", &self.state).field("offline", &self.as_of.is_some()).finish_non_exhaustive()
    }
}

/// What the look-up concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusAnswer {
    Found(Box<StatusFound>),
    /// The applications of a citizen whose identity was checked, newest first (maybe none).
    Holder(Vec<StatusFound>),
    /// By identity, central could not be asked (only central knows a person's applications).
    HolderUnreachable,
    /// No application with this number and date of birth (`offline`: among this kiosk's own,
    /// central could not be asked).
    NoMatch {
        offline: bool,
    },
    /// Too many wrong tries of this number: nothing is checked for a while.
    Slowed,
}

/// What the session does with an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// What was found, and whether by the citizen's identity.
    Show(Vec<StatusFound>, bool),
    TryAgain,
    SendToCounter,
}

impl StatusForm {
    pub fn new() -> Self {
        Self { entry: NumberAndBirth::new(MAX_REFERENCE, Some(0)), problem: None, failures: 0 }
    }

    /// A form started from a scanned receipt: the number is in, the date of birth is next.
    pub fn from_receipt(reference: String) -> Self {
        let mut form = Self { entry: NumberAndBirth::new(MAX_REFERENCE, Some(1)), problem: None, failures: 0 };
        form.entry.number = reference;
        form
    }

    pub fn scanned(&mut self, code: ScannedCode) {
        match code {
            ScannedCode::Receipt { reference } => {
                self.entry.number = reference;
                self.problem = None;
                self.entry.focus = if self.entry.birth_digits.is_empty() { Some(1) } else { None };
            }
            ScannedCode::SignIn(_) | ScannedCode::Booking { .. } | ScannedCode::Unknown => {
                self.problem = Some(StatusProblem::NotAReceiptCode);
            }
        }
    }

    /// The app's sign-in code was refused.
    pub fn sign_in_refused(&mut self) {
        self.problem = Some(StatusProblem::SignInRefused);
        self.entry.focus = None;
    }

    pub fn focus(&mut self, field: Option<usize>) {
        self.entry.focus(field);
    }

    pub fn key(&mut self, key: &str) {
        if self.entry.key(key) {
            self.problem = None;
        }
    }

    pub fn backspace(&mut self) {
        if self.entry.backspace() {
            self.problem = None;
        }
    }

    /// What "check" sends: the number and the date of birth as `YYYY-MM-DD`. A date that is
    /// not one is said so, and typed again.
    pub fn submit(&mut self) -> Option<(String, DateOfBirth)> {
        let Some(date_of_birth) = self.entry.date_of_birth() else {
            self.problem = Some(StatusProblem::InvalidDate);
            self.entry.retype_birth();
            return None;
        };
        self.entry.focus = None;
        self.problem = None;
        Some((self.entry.number.trim().to_string(), date_of_birth))
    }

    pub fn complete(&self) -> bool {
        self.entry.complete()
    }

    /// Reads what the look-up found.
    pub fn answered(&mut self, answer: StatusAnswer) -> Verdict {
        let problem = match answer {
            StatusAnswer::Found(found) => return Verdict::Show(vec![*found], false),
            StatusAnswer::Holder(found) if !found.is_empty() => return Verdict::Show(found, true),
            // The identity was checked: nothing was guessed, nothing counts.
            StatusAnswer::Holder(_) => StatusProblem::NoneForHolder,
            StatusAnswer::HolderUnreachable => StatusProblem::HolderOffline,
            StatusAnswer::Slowed => StatusProblem::TooManyTries,
            StatusAnswer::NoMatch { offline } => {
                self.failures += 1;
                if self.failures >= MAX_STATUS_FAILURES {
                    return Verdict::SendToCounter;
                }
                if offline { StatusProblem::NotFoundOffline } else { StatusProblem::NotFound }
            }
        };
        self.problem = Some(problem);
        self.entry.retype_birth();
        Verdict::TryAgain
    }

    pub fn view(&self, checking: bool) -> StatusView {
        StatusView {
            reference: self.entry.number.clone(),
            date_of_birth: self.entry.birth_shown(),
            focused: self.entry.focus,
            checking,
            problem: self.problem,
            results: Vec::new(),
            by_identity: false,
            document_reader: false,
        }
    }
}

fn state_shown(state: ApplicationState) -> StatusState {
    match state {
        ApplicationState::Received => StatusState::Received,
        ApplicationState::InReview => StatusState::InReview,
        ApplicationState::Ready => StatusState::Ready,
        ApplicationState::Rejected => StatusState::Rejected,
        ApplicationState::Collected => StatusState::Collected,
    }
}

impl StatusFound {
    /// As the screen shows it, with the service's name in the citizen's language.
    pub fn result(&self, service_name: String) -> StatusResult {
        StatusResult {
            reference: self.reference.clone(),
            service_name,
            state: self.state.map_or(StatusState::NotSent, state_shown),
            next_step: match self.next_step {
                NextStep::Wait => StatusStep::Wait,
                NextStep::CollectAtKiosk => StatusStep::CollectAtKiosk,
                NextStep::CollectAtCounter => StatusStep::CollectAtCounter,
                NextStep::Nothing => StatusStep::Nothing,
                NextStep::AskAtCounter => StatusStep::AskAtCounter,
            },
            due: self.due.clone(),
            on_time: self.on_time,
            history: self.history.iter().map(|(state, at)| StatusLine { at: at.clone(), state: state_shown(*state) }).collect(),
            as_of: self.as_of.clone().unwrap_or_default(),
        }
    }
}

impl Session {
    /// A touch on the status screens.
    pub(super) fn on_status_action(&mut self, stage: Stage, action: UserAction, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, action) {
            (Stage::Status(mut form), action) => match action {
                UserAction::Focus(field) => {
                    form.focus(field);
                    Stage::Status(form)
                }
                UserAction::Key(key) => {
                    form.key(&key);
                    Stage::Status(form)
                }
                UserAction::Backspace => {
                    form.backspace();
                    Stage::Status(form)
                }
                UserAction::StatusNext if form.complete() => match form.submit() {
                    Some((reference, date_of_birth)) => {
                        effects.push(Effect::CheckStatus { reference, date_of_birth });
                        Stage::StatusChecking(form)
                    }
                    None => Stage::Status(form),
                },
                UserAction::StatusBack => Stage::Home,
                _ => Stage::Status(form),
            },
            (Stage::StatusShown { .. }, UserAction::StatusBack) => Stage::Home,
            (Stage::StatusShown { .. }, UserAction::StatusAnother) => Stage::Status(StatusForm::new()),
            (stage, _) => return Next::Stay(stage),
        })
    }

    /// What the reader, the store or central answered.
    pub(super) fn on_status_result(&mut self, stage: Stage, event: Event, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, event) {
            // Only a chip whose signature holds shows a person's applications.
            (Stage::StatusChecking(mut form), Event::IdentityRead(read)) => match read {
                Ok(document) if document.assurance == balcao_drivers::identity_reader::Assurance::ChipVerified => {
                    effects.push(holder_lookup(&Identity::from_document(&document)));
                    Stage::StatusChecking(form)
                }
                _ => {
                    form.problem = Some(balcao_ui::view::StatusProblem::DocumentNotRead);
                    Stage::Status(form)
                }
            },
            (Stage::StatusChecking(mut form), Event::SignInChecked(checked)) => match checked {
                Ok(claims) => {
                    effects.push(holder_lookup(&Identity::from_sign_in(&claims)));
                    Stage::StatusChecking(form)
                }
                Err(_) => {
                    form.sign_in_refused();
                    Stage::Status(form)
                }
            },
            (Stage::StatusChecking(mut form), Event::StatusAnswered(answer)) => match form.answered(answer) {
                Verdict::Show(found, by_identity) => Stage::StatusShown { found, by_identity },
                Verdict::TryAgain => Stage::Status(form),
                Verdict::SendToCounter => Stage::Error { problem: Problem::StatusNotFound, reference: String::new(), retry: None },
            },
            (stage, _) => return Next::Stay(stage),
        })
    }
}

/// The look-up of every application of a citizen whose identity was checked.
fn holder_lookup(identity: &Identity) -> Effect {
    Effect::CheckHolderStatus {
        document_number: DocumentNumber(identity.document_number.clone()),
        date_of_birth: DateOfBirth(identity.date_of_birth.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_typed_day_first_and_must_be_a_date() {
        let mut form = StatusForm::new();
        form.key("k01-261122-0001");
        assert_eq!(form.entry.number, "K01-261122-0001");
        form.focus(Some(1));
        form.key("3102198");
        assert_eq!(form.view(false).date_of_birth, "31/02/198");
        form.key("5");
        assert_eq!(form.entry.focus, Some(1), "the keypad stays open after the last digit");
        form.key("9");
        assert_eq!(form.view(false).date_of_birth, "31/02/1985", "eight digits at most");
        assert!(form.entry.date_of_birth().is_none(), "31 February is not a date");
        form.focus(Some(1));
        (0..8).for_each(|_| form.backspace());
        form.key("14031985");
        assert_eq!(form.entry.date_of_birth().map(|d| d.0.clone()).as_deref(), Some("1985-03-14"));
        assert!(!format!("{form:?}").contains("1985"), "nothing typed in Debug");
    }

    #[test]
    fn no_match_clears_the_date_and_three_send_to_the_counter() {
        let mut form = StatusForm::from_receipt("K01-261122-0001".into());
        form.key("14031985");
        assert_eq!(form.answered(StatusAnswer::NoMatch { offline: false }), Verdict::TryAgain);
        assert_eq!((form.problem, form.entry.birth_digits.as_str(), form.entry.focus), (Some(StatusProblem::NotFound), "", Some(1)));
        assert_eq!(form.answered(StatusAnswer::Slowed), Verdict::TryAgain);
        assert_eq!(form.problem, Some(StatusProblem::TooManyTries));
        assert_eq!(form.answered(StatusAnswer::NoMatch { offline: true }), Verdict::TryAgain);
        assert_eq!(form.problem, Some(StatusProblem::NotFoundOffline));
        assert_eq!(form.answered(StatusAnswer::NoMatch { offline: false }), Verdict::SendToCounter);
    }

    #[test]
    fn by_identity_none_found_or_central_unreachable_is_said_and_counts_nothing() {
        let mut form = StatusForm::new();
        assert_eq!(form.answered(StatusAnswer::Holder(Vec::new())), Verdict::TryAgain);
        assert_eq!(form.problem, Some(StatusProblem::NoneForHolder));
        assert_eq!(form.answered(StatusAnswer::HolderUnreachable), Verdict::TryAgain);
        assert_eq!(form.problem, Some(StatusProblem::HolderOffline));
        assert_eq!(form.failures, 0);
    }
}
