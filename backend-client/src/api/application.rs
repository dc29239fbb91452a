use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{HolderCheck, IdentityLevel, Language};

/// One answer of a form: text (also dates `YYYY-MM-DD` and choice values), a number or yes/no.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Answer {
    Bool(bool),
    Number(i64),
    Text(String),
}

/// What the kiosk records of a card payment: the terminal's references, never card data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentRecord {
    pub amount_avos: u64,
    pub terminal_receipt_number: u32,
    pub trace_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_brand: Option<String>,
}

/// How the kiosk established who the applicant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// A sign-in code from the government app, signed by the identity provider.
    App,
    /// The chip of an identity document, its issuer's signature checked (passive
    /// authentication).
    ChipVerified,
    /// The chip of an identity document opened with its MRZ, the issuer's signature not
    /// checkable (no security object, or an issuer not on the kiosk's trust list).
    ChipUnverified,
}

impl IdentityMethod {
    /// The highest identity level this method proves. An unverified chip proves the document
    /// was at hand (its MRZ opened it), which is at least what the app's code proves.
    pub fn level(self) -> IdentityLevel {
        match self {
            Self::App | Self::ChipUnverified => IdentityLevel::App,
            Self::ChipVerified => IdentityLevel::Chip,
        }
    }

    pub fn satisfies(self, required: IdentityLevel) -> bool {
        self.level() >= required
    }
}

/// What an application carries of the applicant's identification: the method, and a salted
/// hash of the document number (never the chip's or the code's data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityProof {
    pub method: IdentityMethod,
    pub holder: HolderCheck,
}

/// An application as the kiosk sends it. `application_id` is also the `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationSubmission {
    /// UUIDv7 made by the kiosk when the citizen confirmed.
    pub application_id: Uuid,
    /// The number printed on the citizen's receipt, in the sending kiosk's series:
    /// `<kiosk>-<YYMMDD>-<sequence>`, the day the one it was made on, e.g. `K01-261122-0007`.
    #[cfg_attr(feature = "openapi", schema(max_length = 32, pattern = "^[A-Za-z0-9-]{1,20}-[0-9]{6}-[0-9]{4,}$"))]
    pub reference: String,
    /// The kiosk that sends it: the one its client certificate names.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    /// That kiosk's service centre.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    /// A service of the catalog that takes applications.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub service_id: String,
    /// The language the citizen used, for the agency's replies.
    pub language: Language,
    /// Form answers keyed by field id.
    pub answers: BTreeMap<String, Answer>,
    pub fee_avos: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRecord>,
    /// How the applicant was identified, when the service asks for more than a declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityProof>,
    /// When the citizen confirmed, by the kiosk's clock: at most a day ahead of central's and a
    /// year behind.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub submitted_at: Timestamp,
}

/// Where an application stands at the agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    Received,
    InReview,
    Ready,
    Rejected,
    Collected,
}

impl ApplicationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::InReview => "in_review",
            Self::Ready => "ready",
            Self::Rejected => "rejected",
            Self::Collected => "collected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Received, Self::InReview, Self::Ready, Self::Rejected, Self::Collected].into_iter().find(|v| v.as_str() == s)
    }
}

/// Central's answer to a submitted application (also to every repeat of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationReceipt {
    pub application_id: Uuid,
    pub reference: String,
    pub state: ApplicationState,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub state: ApplicationState,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// An application's status and history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationStatus {
    pub application_id: Uuid,
    pub reference: String,
    pub service_id: String,
    pub state: ApplicationState,
    pub history: Vec<StatusChange>,
}

/// The applicant's date of birth their answers give (`YYYY-MM-DD`), if any: what a status
/// check by number is told against, at central and at the kiosk.
pub fn answered_date_of_birth(answers: &BTreeMap<String, Answer>) -> Option<&str> {
    match answers.get("date_of_birth") {
        Some(Answer::Text(born)) if !born.is_empty() => Some(born.as_str()),
        _ => None,
    }
}

/// A citizen's question about their own application: the number on the receipt and the
/// applicant's date of birth. Central answers only when both belong together.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusQuery {
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub reference: String,
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date_of_birth: String,
}

impl std::fmt::Debug for StatusQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusQuery").field("reference", &self.reference).finish_non_exhaustive()
    }
}

/// A citizen's question about all their applications, asked by a kiosk that has checked who
/// they are (their document's chip, or the government app's signed code).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolderQuery {
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub document_number: String,
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date_of_birth: String,
}

impl std::fmt::Debug for HolderQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HolderQuery(..)")
    }
}

/// A person's applications, newest first (at most 20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolderStatuses {
    pub applications: Vec<CitizenStatus>,
}

/// What the citizen does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    /// Nothing yet: the agency is processing it.
    Wait,
    /// Collect the certificate at a kiosk of the centre, with the receipt and the document.
    CollectAtKiosk,
    /// Collect it at the centre's counter.
    CollectAtCounter,
    /// It was sent electronically.
    Nothing,
    /// The application was refused: ask at the counter why.
    AskAtCounter,
}

/// The status a citizen sees: the state and its history, what to do next, and the day the
/// agency promised an answer by (the one-stop tracking).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CitizenStatus {
    pub reference: String,
    pub service_id: String,
    pub state: ApplicationState,
    pub history: Vec<StatusChange>,
    pub next_step: NextStep,
    /// The last day of the processing time (working days from the day it was received).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due: jiff::civil::Date,
    /// Ready (or settled) by `due`, or not yet late.
    pub on_time: bool,
}

impl CitizenStatus {
    /// The citizen's view of `status`, for a service that takes `processing_days` working days
    /// and delivers as `delivery`; `received` and `today` are days in the centre's time zone.
    pub fn of(
        status: ApplicationStatus,
        processing_days: u16,
        delivery: super::Delivery,
        received: jiff::civil::Date,
        today: jiff::civil::Date,
        zone: &jiff::tz::TimeZone,
    ) -> Self {
        let due = working_days_after(received, processing_days);
        let next_step = match status.state {
            ApplicationState::Received | ApplicationState::InReview => NextStep::Wait,
            ApplicationState::Ready => match delivery {
                super::Delivery::PrintAtKiosk => NextStep::CollectAtKiosk,
                super::Delivery::CollectAtCounter => NextStep::CollectAtCounter,
                super::Delivery::Electronic => NextStep::Nothing,
            },
            ApplicationState::Rejected => NextStep::AskAtCounter,
            ApplicationState::Collected => NextStep::Nothing,
        };
        // Settled: when it became ready (or was refused); otherwise, whether today is still
        // within the time.
        let settled = status
            .history
            .iter()
            .find(|change| matches!(change.state, ApplicationState::Ready | ApplicationState::Rejected | ApplicationState::Collected))
            .map(|change| change.at.to_zoned(zone.clone()).date());
        let on_time = settled.unwrap_or(today) <= due;
        Self {
            reference: status.reference,
            service_id: status.service_id,
            state: status.state,
            history: status.history,
            next_step,
            due,
            on_time,
        }
    }
}

/// `days` working days (Monday to Friday) after `from`. Public holidays are the agency's to
/// publish; until the catalog carries them, weekends are the only days off.
pub fn working_days_after(from: jiff::civil::Date, days: u16) -> jiff::civil::Date {
    let mut day = from;
    let mut left = days;
    while left > 0 {
        day = day.tomorrow().unwrap_or(day);
        if !matches!(day.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_their_type_on_the_wire() {
        let answers: BTreeMap<String, Answer> = serde_json::from_str(r#"{"a":true,"b":2,"c":"2026-01-02","d":"x"}"#).expect("json");
        assert_eq!(answers["a"], Answer::Bool(true));
        assert_eq!(answers["b"], Answer::Number(2));
        assert_eq!(answers["c"], Answer::Text("2026-01-02".into()));
        assert!(serde_json::from_str::<Answer>("1.5").is_err(), "fractions are not numbers here");
    }

    #[test]
    fn the_processing_time_counts_working_days_only() {
        let friday = jiff::civil::date(2026, 12, 4);
        assert_eq!(working_days_after(friday, 0), friday);
        assert_eq!(working_days_after(friday, 1), jiff::civil::date(2026, 12, 7), "Friday + 1 is Monday");
        assert_eq!(working_days_after(friday, 3), jiff::civil::date(2026, 12, 9));
        let saturday = jiff::civil::date(2026, 12, 5);
        assert_eq!(working_days_after(saturday, 1), jiff::civil::date(2026, 12, 7));
    }

    #[test]
    fn a_citizen_status_says_what_next_and_whether_on_time() {
        let zone = jiff::tz::TimeZone::UTC;
        let at = |s: &str| s.parse::<Timestamp>().expect("time");
        let status = |state, history: Vec<(ApplicationState, &str)>| ApplicationStatus {
            application_id: Uuid::nil(),
            reference: "K01-261204-0001".into(),
            service_id: "s".into(),
            state,
            history: history.into_iter().map(|(state, t)| StatusChange { state, at: at(t) }).collect(),
        };
        let received = jiff::civil::date(2026, 12, 4);
        let waiting = status(ApplicationState::Received, vec![(ApplicationState::Received, "2026-12-04T09:00:00Z")]);
        let seen =
            CitizenStatus::of(waiting.clone(), 2, super::super::Delivery::PrintAtKiosk, received, jiff::civil::date(2026, 12, 8), &zone);
        assert_eq!((seen.next_step, seen.due, seen.on_time), (NextStep::Wait, jiff::civil::date(2026, 12, 8), true));
        let late = CitizenStatus::of(waiting, 2, super::super::Delivery::PrintAtKiosk, received, jiff::civil::date(2026, 12, 9), &zone);
        assert!(!late.on_time, "a day past the promise and not ready");
        let ready = status(
            ApplicationState::Ready,
            vec![(ApplicationState::Received, "2026-12-04T09:00:00Z"), (ApplicationState::Ready, "2026-12-07T10:00:00Z")],
        );
        let seen = CitizenStatus::of(ready, 2, super::super::Delivery::PrintAtKiosk, received, jiff::civil::date(2026, 12, 20), &zone);
        assert_eq!((seen.next_step, seen.on_time), (NextStep::CollectAtKiosk, true), "ready in time stays in time");
        let refused = status(ApplicationState::Rejected, vec![(ApplicationState::Rejected, "2026-12-10T10:00:00Z")]);
        let seen =
            CitizenStatus::of(refused, 2, super::super::Delivery::CollectAtCounter, received, jiff::civil::date(2026, 12, 10), &zone);
        assert_eq!((seen.next_step, seen.on_time), (NextStep::AskAtCounter, false));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            ApplicationState::Received,
            ApplicationState::InReview,
            ApplicationState::Ready,
            ApplicationState::Rejected,
            ApplicationState::Collected,
        ] {
            assert_eq!(ApplicationState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).expect("json"), format!("\"{}\"", s.as_str()));
        }
    }
}

/// The most applications one batch may carry.
pub const MAX_BATCH: usize = 100;

/// Several queued applications in one request: how a kiosk drains a backlog. Each keeps its own
/// `application_id` as its idempotency key, exactly as if sent alone; central processes them in
/// order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationBatch {
    /// 1 to 100 applications, oldest first.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub applications: Vec<ApplicationSubmission>,
}

/// Central's answer to a batch: one result per application it processed, in the batch's order.
/// Central may stop before the end (an application of the batch is being processed by another
/// request); the applications left out are to be sent again later, unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchResults {
    /// At most one per application sent, in the same order.
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub results: Vec<BatchResult>,
}

/// What became of one application of a batch: the status and body it would have had alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchResult {
    /// The application's id, when the item could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Uuid>,
    /// 201 stored (or stored before); 403 another kiosk's or centre's record; 422 refused
    /// (the schema, the catalog, a reused id). As the application would have had alone.
    #[cfg_attr(feature = "openapi", schema(minimum = 200, maximum = 599))]
    pub status: u16,
    /// With 201: the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ApplicationReceipt>,
    /// With a 4xx: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::api::Problem>,
}
