//! Knowing who applies, for services that ask for more than a declaration: the government
//! app's sign-in code (scanned, checked offline by the store), or the chip of an identity
//! document opened with the details the citizen types from it (BAC). The identity lives in
//! the session only, and its memory is zeroed when it goes.

use balcao_backend_client::api::signin::{SignInClaims, SignInRefusal};
use balcao_backend_client::api::{IdentityAttribute, IdentityLevel, IdentityMethod, Service};
use balcao_drivers::identity_reader::{AccessKey, Assurance, CalendarDate, ErrorKind, IdentityDocument};
use balcao_ui::view::{IdentifiedBy, IdentifyProblem};
use zeroize::Zeroize;

use super::Readiness;
use super::draft::{date_display, iso_date};

/// Attempts that may fail (details not matching the chip, refused codes) before the citizen
/// is sent to the counter: the chip's access key can be guessed only so often.
pub const MAX_IDENTIFY_FAILURES: u8 = 5;
const MAX_DOCUMENT_NUMBER: usize = 20;

/// Who the citizen is, as the app's code or the document's chip says. Personal data: nothing
/// of it in `Debug`, zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub full_name: String,
    pub document_number: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// ICAO 9303 code, from a chip.
    pub nationality: Option<String>,
    pub method: IdentityMethod,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("method", &self.method).finish_non_exhaustive()
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        self.full_name.zeroize();
        self.document_number.zeroize();
        self.date_of_birth.zeroize();
        self.nationality.zeroize();
    }
}

impl Identity {
    pub fn from_sign_in(claims: &SignInClaims) -> Self {
        Self {
            full_name: claims.name.trim().to_string(),
            document_number: claims.document_number.trim().to_string(),
            date_of_birth: claims.birth_date.clone(),
            nationality: None,
            method: IdentityMethod::App,
        }
    }

    pub fn from_document(document: &IdentityDocument) -> Self {
        let holder = &document.holder;
        Self {
            full_name: format!("{} {}", holder.surname, holder.given_names).trim().to_string(),
            document_number: holder.document_number.clone(),
            date_of_birth: holder.date_of_birth.iso(),
            nationality: Some(holder.nationality.clone()),
            method: match document.assurance {
                Assurance::ChipVerified => IdentityMethod::ChipVerified,
                Assurance::ChipUnverified => IdentityMethod::ChipUnverified,
            },
        }
    }

    /// The value a form field asking for `attribute` is filled with.
    pub fn attribute(&self, attribute: IdentityAttribute) -> Option<&str> {
        match attribute {
            IdentityAttribute::FullName => Some(self.full_name.as_str()),
            IdentityAttribute::DocumentNumber => Some(self.document_number.as_str()),
            IdentityAttribute::DateOfBirth => Some(self.date_of_birth.as_str()),
            IdentityAttribute::Nationality => self.nationality.as_deref(),
        }
        .filter(|v| !v.is_empty())
    }

    pub fn shown_as(&self) -> IdentifiedBy {
        match self.method {
            IdentityMethod::App => IdentifiedBy::App,
            IdentityMethod::ChipVerified => IdentifiedBy::ChipVerified,
            IdentityMethod::ChipUnverified => IdentifiedBy::ChipUnverified,
        }
    }
}

/// Whether `service` asks who the applicant is.
pub fn needs_identity(service: &Service) -> bool {
    service.identity_level > IdentityLevel::Declared
}

/// The app's code is enough for `service` and can be scanned now.
pub fn app_accepted(service: &Service, readiness: &Readiness) -> bool {
    IdentityMethod::App.satisfies(service.identity_level) && readiness.code_scanner
}

/// A document's chip can be read now.
pub fn chip_accepted(readiness: &Readiness) -> bool {
    readiness.identity_reader
}

/// The identification step: what the citizen typed from their document (the chip's access
/// key), and how the attempts went. `Debug` shows nothing typed; zeroed when dropped.
#[derive(Clone)]
pub struct IdentifyForm {
    pub service: Service,
    pub document_number: String,
    /// Day first, up to eight digits, as typed.
    pub date_of_birth: String,
    pub date_of_expiry: String,
    /// 0: document number, 1: date of birth, 2: date of expiry.
    pub focus: Option<usize>,
    /// A chip read or a code check is under way.
    pub busy: bool,
    pub problem: Option<IdentifyProblem>,
    pub failures: u8,
}

impl std::fmt::Debug for IdentifyForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifyForm").field("service", &self.service.id).field("busy", &self.busy).finish_non_exhaustive()
    }
}

impl Drop for IdentifyForm {
    fn drop(&mut self) {
        self.document_number.zeroize();
        self.date_of_birth.zeroize();
        self.date_of_expiry.zeroize();
    }
}

/// What an answer of the reader or the code check leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Identified(Identity),
    TryAgain,
    /// The document's data was altered: no further attempt here.
    Rejected,
    /// Too many failed attempts.
    SendToCounter,
}

impl IdentifyForm {
    pub fn new(service: Service) -> Self {
        Self {
            service,
            document_number: String::new(),
            date_of_birth: String::new(),
            date_of_expiry: String::new(),
            focus: None,
            busy: false,
            problem: None,
            failures: 0,
        }
    }

    pub fn focus(&mut self, field: Option<usize>) {
        self.focus = field.filter(|f| *f < 3);
    }

    /// Document numbers are letters and digits, in capitals; dates are digits, day first.
    pub fn key(&mut self, key: &str) {
        match self.focus {
            Some(0) => {
                for c in key.chars().filter(char::is_ascii_alphanumeric) {
                    if self.document_number.len() < MAX_DOCUMENT_NUMBER {
                        self.document_number.push(c.to_ascii_uppercase());
                    }
                }
            }
            Some(field @ (1 | 2)) => {
                let date = if field == 1 { &mut self.date_of_birth } else { &mut self.date_of_expiry };
                for c in key.chars().filter(char::is_ascii_digit) {
                    if date.len() < 8 {
                        date.push(c);
                    }
                }
                // A complete birth date moves on to the expiry date. The keypad stays open after
                // the last digit: closed by itself, it would uncover Back under the finger that
                // was typing. The citizen closes it with Done.
                if date.len() == 8 && field == 1 && self.date_of_expiry.len() < 8 {
                    self.focus = Some(2);
                }
            }
            _ => return,
        }
        self.problem = None;
    }

    pub fn backspace(&mut self) {
        match self.focus {
            Some(0) => self.document_number.pop(),
            Some(1) => self.date_of_birth.pop(),
            Some(2) => self.date_of_expiry.pop(),
            _ => None,
        };
        self.problem = None;
    }

    /// The details as the OCR reader read them from the document's zone.
    pub fn fill(&mut self, key: &AccessKey) {
        if let AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } = key {
            let digits = |d: &CalendarDate| format!("{:02}{:02}{:04}", d.day, d.month, d.year);
            self.document_number.zeroize();
            self.document_number = document_number.chars().take(MAX_DOCUMENT_NUMBER).collect();
            self.date_of_birth.zeroize();
            self.date_of_birth = digits(date_of_birth);
            self.date_of_expiry.zeroize();
            self.date_of_expiry = digits(date_of_expiry);
        }
    }

    pub fn complete(&self) -> bool {
        !self.document_number.is_empty() && self.date_of_birth.len() == 8 && self.date_of_expiry.len() == 8
    }

    /// The chip's access key from what was typed, if it makes one.
    pub fn access_key(&self) -> Result<AccessKey, IdentifyProblem> {
        let date = |digits: &str| {
            let iso = iso_date(digits).ok_or(IdentifyProblem::DetailsIncomplete)?;
            let date: jiff::civil::Date = iso.parse().map_err(|_| IdentifyProblem::DetailsIncomplete)?;
            Ok(CalendarDate { year: date.year() as u16, month: date.month() as u8, day: date.day() as u8 })
        };
        if self.document_number.is_empty() {
            return Err(IdentifyProblem::DetailsIncomplete);
        }
        Ok(AccessKey::Mrz {
            document_number: self.document_number.clone(),
            date_of_birth: date(&self.date_of_birth)?,
            date_of_expiry: date(&self.date_of_expiry)?,
        })
    }

    pub fn shown_dates(&self) -> (String, String) {
        (date_display(&self.date_of_birth), date_display(&self.date_of_expiry))
    }

    /// A problem the citizen can fix; counts towards the limit when it is theirs to fix.
    fn try_again(&mut self, problem: IdentifyProblem, counts: bool) -> Outcome {
        if counts {
            self.failures += 1;
            if self.failures >= MAX_IDENTIFY_FAILURES {
                return Outcome::SendToCounter;
            }
        }
        self.problem = Some(problem);
        Outcome::TryAgain
    }

    /// The code check answered.
    pub fn signed_in(&mut self, result: Result<SignInClaims, SignInRefusal>) -> Outcome {
        self.busy = false;
        let refusal = match result {
            Ok(claims) => return Outcome::Identified(Identity::from_sign_in(&claims)),
            Err(refusal) => refusal,
        };
        let problem = match refusal {
            SignInRefusal::Expired => IdentifyProblem::SignInExpired,
            SignInRefusal::Replayed => IdentifyProblem::SignInUsed,
            SignInRefusal::WrongAudience => IdentifyProblem::SignInOtherCentre,
            SignInRefusal::Malformed | SignInRefusal::BadSignature | SignInRefusal::WrongIssuer => IdentifyProblem::SignInInvalid,
            SignInRefusal::UnknownKey | SignInRefusal::NotYetValid => IdentifyProblem::SignInUncheckable,
        };
        self.try_again(problem, problem != IdentifyProblem::SignInUncheckable)
    }

    /// The reader answered; `today` is `YYYY-MM-DD`.
    pub fn read(&mut self, result: Result<IdentityDocument, ErrorKind>, today: &str) -> Outcome {
        self.busy = false;
        let document = match result {
            Ok(document) => document,
            Err(ErrorKind::Tampered) => return Outcome::Rejected,
            Err(ErrorKind::AccessDenied) => {
                let outcome = self.try_again(IdentifyProblem::DetailsDoNotMatch, true);
                self.focus = Some(0);
                return outcome;
            }
            Err(ErrorKind::NoDocument) => return self.try_again(IdentifyProblem::NoDocument, false),
            Err(ErrorKind::DocumentRemoved) => return self.try_again(IdentifyProblem::DocumentMoved, false),
            Err(ErrorKind::NoReader) => return self.try_again(IdentifyProblem::ReaderUnavailable, false),
            Err(ErrorKind::Unsupported | ErrorKind::Protocol | ErrorKind::NoAnswer | ErrorKind::Other) => {
                return self.try_again(IdentifyProblem::DocumentUnreadable, false);
            }
        };
        if !today.is_empty() && document.holder.date_of_expiry.iso().as_str() < today {
            return self.try_again(IdentifyProblem::DocumentExpired, false);
        }
        let identity = Identity::from_document(&document);
        if !identity.method.satisfies(self.service.identity_level) {
            return self.try_again(IdentifyProblem::IssuerNotVerified, false);
        }
        Outcome::Identified(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(level: IdentityLevel) -> Service {
        let mut service =
            balcao_central::seed::catalog().services.into_iter().find(|s| s.id == "identification-data-certificate").expect("seed service");
        service.identity_level = level;
        service
    }

    fn document(assurance: Assurance, expiry_year: u16) -> IdentityDocument {
        let mut document = balcao_drivers::identity_reader::sim::specimen_identity_card();
        document.assurance = assurance;
        document.holder.date_of_expiry.year = expiry_year;
        document
    }

    fn typed(form: &mut IdentifyForm, field: usize, text: &str) {
        form.focus(Some(field));
        form.key(text);
    }

    #[test]
    fn typed_details_make_the_chips_access_key_and_bad_dates_make_none() {
        let mut form = IdentifyForm::new(service(IdentityLevel::App));
        typed(&mut form, 0, "ab 1234-5678");
        assert_eq!(form.document_number, "AB12345678", "capitals, letters and digits only");
        typed(&mut form, 1, "14031985");
        assert_eq!(form.focus, Some(2), "a complete birth date moves on to the expiry date");
        typed(&mut form, 2, "3101203");
        assert!(!form.complete());
        assert_eq!(form.access_key(), Err(IdentifyProblem::DetailsIncomplete));
        form.key("1");
        assert_eq!(form.focus, Some(2), "the keypad stays open after the last digit, until Done");
        let AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } = form.access_key().expect("a key") else { panic!() };
        assert_eq!(
            (document_number.as_str(), date_of_birth.iso(), date_of_expiry.iso()),
            ("AB12345678", "1985-03-14".into(), "2031-01-31".into())
        );
        // 31 February is no date.
        form.focus(Some(1));
        for _ in 0..8 {
            form.backspace();
        }
        form.key("31021985");
        assert_eq!(form.access_key(), Err(IdentifyProblem::DetailsIncomplete));
        assert_eq!(form.shown_dates().0, "31/02/1985");
    }

    #[test]
    fn the_chip_identifies_unless_expired_altered_or_unverified_where_verification_is_required() {
        let mut form = IdentifyForm::new(service(IdentityLevel::App));
        let Outcome::Identified(identity) = form.read(Ok(document(Assurance::ChipUnverified, 2031)), "2026-12-02") else { panic!() };
        assert_eq!(identity.full_name, "CHAN TAI MAN");
        assert_eq!(identity.attribute(IdentityAttribute::DateOfBirth), Some("1985-03-14"));
        assert_eq!(identity.method, IdentityMethod::ChipUnverified);

        assert_eq!(form.read(Ok(document(Assurance::ChipVerified, 2025)), "2026-12-02"), Outcome::TryAgain);
        assert_eq!(form.problem, Some(IdentifyProblem::DocumentExpired));
        assert_eq!(form.read(Err(ErrorKind::Tampered), "2026-12-02"), Outcome::Rejected);

        let mut chip_only = IdentifyForm::new(service(IdentityLevel::Chip));
        assert_eq!(chip_only.read(Ok(document(Assurance::ChipUnverified, 2031)), "2026-12-02"), Outcome::TryAgain);
        assert_eq!(chip_only.problem, Some(IdentifyProblem::IssuerNotVerified));
        assert!(matches!(chip_only.read(Ok(document(Assurance::ChipVerified, 2031)), "2026-12-02"), Outcome::Identified(_)));
    }

    #[test]
    fn wrong_details_count_and_end_at_the_counter_while_reader_trouble_does_not() {
        let mut form = IdentifyForm::new(service(IdentityLevel::App));
        for _ in 0..20 {
            assert_eq!(form.read(Err(ErrorKind::DocumentRemoved), "2026-12-02"), Outcome::TryAgain);
        }
        assert_eq!(form.problem, Some(IdentifyProblem::DocumentMoved));
        for _ in 1..MAX_IDENTIFY_FAILURES {
            assert_eq!(form.read(Err(ErrorKind::AccessDenied), "2026-12-02"), Outcome::TryAgain);
            assert_eq!(form.problem, Some(IdentifyProblem::DetailsDoNotMatch));
        }
        assert_eq!(form.signed_in(Err(SignInRefusal::Replayed)), Outcome::SendToCounter);
    }

    #[test]
    fn each_sign_in_refusal_has_its_own_words_for_the_citizen() {
        let mut form = IdentifyForm::new(service(IdentityLevel::App));
        for (refusal, problem) in [
            (SignInRefusal::Expired, IdentifyProblem::SignInExpired),
            (SignInRefusal::Replayed, IdentifyProblem::SignInUsed),
            (SignInRefusal::WrongAudience, IdentifyProblem::SignInOtherCentre),
            (SignInRefusal::BadSignature, IdentifyProblem::SignInInvalid),
            (SignInRefusal::UnknownKey, IdentifyProblem::SignInUncheckable),
        ] {
            form.failures = 0;
            assert_eq!(form.signed_in(Err(refusal)), Outcome::TryAgain);
            assert_eq!(form.problem, Some(problem), "{refusal:?}");
        }
    }

    #[test]
    fn nothing_typed_or_identified_shows_in_debug() {
        let mut form = IdentifyForm::new(service(IdentityLevel::App));
        typed(&mut form, 0, "AB123456");
        let identity = Identity::from_document(&document(Assurance::ChipVerified, 2031));
        let shown = format!("{form:?} {identity:?}");
        assert!(!shown.contains("AB123456") && !shown.contains("CHAN") && !shown.contains("12345678"), "{shown}");
    }
}
