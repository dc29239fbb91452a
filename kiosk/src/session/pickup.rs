//! Collecting a certificate that is ready: the citizen types the number on their receipt and
//! the number of the identity document they applied with; the kiosk finds the certificate in
//! its own copy of the centre's list (so this works offline), checks the holder, and prints.

use balcao_backend_client::api::signin;
use balcao_ui::view::{PickupProblem, PickupView};

use balcao_ui::view::{Problem, UserAction};

use super::{DocumentNumber, Effect, Event, FoundCertificate, Next, Session, Stage};

/// Document numbers that do not match a found certificate, allowed before the citizen is
/// sent to the counter: the holder check must not be guessed.
pub const MAX_PICKUP_FAILURES: u8 = 3;
/// Application numbers not found, allowed before the citizen is sent to the counter (where
/// staff can look the application up): more than mismatches, since a mistyped or not yet
/// ready number reveals nothing, but bounded, so numbers cannot be tried one after another.
pub const MAX_UNKNOWN_NUMBERS: u8 = 5;
const MAX_REFERENCE: usize = 32;
const MAX_DOCUMENT_NUMBER: usize = 20;

/// What the citizen typed. Its `Debug` shows nothing of it.
#[derive(Clone, Default)]
pub struct PickupForm {
    pub reference: String,
    pub document_number: String,
    /// 0: the application number, 1: the document number.
    pub focus: Option<usize>,
    pub problem: Option<PickupProblem>,
    /// Document numbers that did not match.
    pub failures: u8,
    /// Application numbers not found.
    pub unknown: u8,
}

impl PickupForm {
    /// An empty form with `focus` open.
    pub fn opened(focus: Option<usize>) -> Self {
        let mut form = Self::default();
        form.focus = focus;
        form
    }
}

impl Drop for PickupForm {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.reference);
        zeroize::Zeroize::zeroize(&mut self.document_number);
    }
}

impl std::fmt::Debug for PickupForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PickupForm")
            .field("focus", &self.focus)
            .field("failures", &self.failures)
            .field("unknown", &self.unknown)
            .finish_non_exhaustive()
    }
}

/// What the check of a found certificate concluded.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Hand(uuid::Uuid, String),
    TryAgain,
    /// The document number did not match too many times.
    SendToCounter,
    /// Too many application numbers were not found.
    NotFoundToCounter,
}

/// A code the scanner read, as far as the kiosk understands it.
#[derive(Clone, PartialEq, Eq)]
pub enum ScannedCode {
    /// The QR (or barcode) of one of our receipts: the application number.
    Receipt { reference: String },
    /// The government app's sign-in code (not yet checked).
    SignIn(SignInCode),
    /// The QR of an appointment confirmation: the booking number.
    Booking { number: String },
    /// Anything else: another site's QR, a product barcode …
    Unknown,
}

impl std::fmt::Debug for ScannedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Receipt { .. } => "ScannedCode::Receipt",
            Self::SignIn(_) => "ScannedCode::SignIn",
            Self::Booking { .. } => "ScannedCode::Booking",
            Self::Unknown => "ScannedCode::Unknown",
        })
    }
}

/// A scanned sign-in code as it came: it names the citizen, so `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInCode(pub String);

impl std::fmt::Debug for SignInCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInCode(..)")
    }
}

impl ScannedCode {
    /// Reads a scanned text: a receipt's QR is `status_url` followed by the application
    /// number; a barcode may carry the number alone. The number must look like one.
    pub fn parse(text: &str, status_url: &str) -> Self {
        if signin::is_sign_in_code(text) {
            return Self::SignIn(SignInCode(text.to_owned()));
        }
        if balcao_backend_client::api::is_appointment_number(text) {
            return Self::Booking { number: text.to_owned() };
        }
        let candidate = match text.strip_prefix(status_url) {
            Some(rest) if !status_url.is_empty() => rest,
            _ => text,
        };
        let looks_like_a_number = (5..=MAX_REFERENCE).contains(&candidate.len())
            && candidate.contains('-')
            && candidate.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if looks_like_a_number { Self::Receipt { reference: candidate.to_owned() } } else { Self::Unknown }
    }
}

impl PickupForm {
    /// A form started from a scanned receipt: the number is in, the document number is next.
    pub fn from_receipt(reference: String) -> Self {
        let mut form = Self::opened(Some(1));
        form.reference = reference;
        form
    }

    /// The citizen scanned a code on this screen.
    pub fn scanned(&mut self, code: ScannedCode) {
        match code {
            ScannedCode::Receipt { reference } => {
                self.reference = reference;
                self.problem = None;
                self.focus = if self.document_number.is_empty() { Some(1) } else { None };
            }
            ScannedCode::SignIn(_) | ScannedCode::Booking { .. } | ScannedCode::Unknown => {
                self.problem = Some(PickupProblem::NotAReceiptCode)
            }
        }
    }

    pub fn focus(&mut self, field: Option<usize>) {
        self.focus = field.filter(|f| *f < 2);
    }

    fn focused(&mut self) -> Option<(&mut String, usize)> {
        match self.focus? {
            0 => Some((&mut self.reference, MAX_REFERENCE)),
            _ => Some((&mut self.document_number, MAX_DOCUMENT_NUMBER)),
        }
    }

    /// Letters become capitals; only what receipt and document numbers are made of is taken.
    pub fn key(&mut self, key: &str) {
        let Some((text, max)) = self.focused() else { return };
        for c in key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '/')) {
            if text.chars().count() < max {
                text.push(c.to_ascii_uppercase());
            }
        }
        self.problem = None;
    }

    pub fn backspace(&mut self) {
        if let Some((text, _)) = self.focused() {
            text.pop();
        }
        self.problem = None;
    }

    pub fn complete(&self) -> bool {
        !self.reference.trim().is_empty() && !self.document_number.trim().is_empty()
    }

    /// Checks what the store found under the typed number against the typed document number.
    pub fn check(&mut self, found: Option<&FoundCertificate>, online: bool) -> Verdict {
        let problem = match found {
            Some(found) if found.holder_matches => {
                return Verdict::Hand(found.certificate.application_id, found.certificate.service_id.clone());
            }
            Some(_) => {
                self.failures += 1;
                if self.failures >= MAX_PICKUP_FAILURES {
                    return Verdict::SendToCounter;
                }
                PickupProblem::DetailsDoNotMatch
            }
            // A number not found is not a mismatch (it may be mistyped, or not ready yet), but
            // numbers can be guessed, so trying them one after another must stop too.
            None => {
                self.unknown += 1;
                if self.unknown >= MAX_UNKNOWN_NUMBERS {
                    return Verdict::NotFoundToCounter;
                }
                if online { PickupProblem::NotFound } else { PickupProblem::NotFoundOffline }
            }
        };
        self.problem = Some(problem);
        if problem == PickupProblem::DetailsDoNotMatch {
            self.document_number.clear();
            self.focus = Some(1);
        }
        Verdict::TryAgain
    }

    pub fn view(&self, checking: bool) -> PickupView {
        PickupView {
            reference: self.reference.clone(),
            document_number: self.document_number.clone(),
            focused: self.focus,
            checking,
            problem: self.problem,
            service_name: String::new(),
        }
    }
}

impl Session {
    /// A touch on the pickup form.
    pub(super) fn on_pickup_action(&mut self, stage: Stage, action: UserAction, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, action) {
            (Stage::Pickup(mut form), action) => match action {
                UserAction::Focus(field) => {
                    form.focus(field);
                    Stage::Pickup(form)
                }
                UserAction::Key(key) => {
                    form.key(&key);
                    Stage::Pickup(form)
                }
                UserAction::Backspace => {
                    form.backspace();
                    Stage::Pickup(form)
                }
                UserAction::PickupNext if form.complete() => {
                    form.focus = None;
                    effects.push(Effect::FindCertificate {
                        reference: form.reference.clone(),
                        document_number: DocumentNumber(form.document_number.clone()),
                    });
                    Stage::PickupChecking(form)
                }
                UserAction::PickupBack => Stage::Home,
                _ => Stage::Pickup(form),
            },
            (stage, _) => return Next::Stay(stage),
        })
    }

    /// What the store found, and how the printing went.
    pub(super) fn on_pickup_result(&mut self, stage: Stage, event: Event, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, event) {
            (Stage::PickupChecking(mut form), Event::CertificateFound(found)) => {
                match form.check(found.as_deref(), self.readiness.online) {
                    Verdict::Hand(application_id, service_id) => {
                        if self.readiness.document_printer {
                            effects.push(Effect::CollectCertificate { application_id, offline: !self.readiness.online });
                            Stage::Collecting { service_id }
                        } else {
                            Stage::Error { problem: Problem::CertificateNotPrinted, reference: String::new(), retry: None }
                        }
                    }
                    Verdict::TryAgain => Stage::Pickup(form),
                    Verdict::SendToCounter => Stage::Error { problem: Problem::PickupRefused, reference: String::new(), retry: None },
                    Verdict::NotFoundToCounter => Stage::Error { problem: Problem::PickupNotFound, reference: String::new(), retry: None },
                }
            }
            (Stage::Collecting { service_id }, Event::CertificateCollected) => Stage::Collected { service_id },
            (Stage::Collecting { .. }, Event::CertificateRejected) => {
                Stage::Error { problem: Problem::CertificateNotGenuine, reference: String::new(), retry: None }
            }
            (Stage::Collecting { .. }, Event::CertificateNotPrinted { uncertain }) => {
                let problem = if uncertain { Problem::CertificatePrintUncertain } else { Problem::CertificateNotPrinted };
                Stage::Error { problem, reference: String::new(), retry: None }
            }
            (stage, _) => return Next::Stay(stage),
        })
    }
}
