//! The wire types of the kiosk ↔ central API, version 1.

mod application;
mod appointment;
mod catalog;
mod certificate;
mod enrollment;
mod event;
mod fleet;
mod form;
mod holder;
mod issuer;
mod jws;
mod language;
mod pickup;
mod problem;
mod queue;
pub mod signin;

pub use application::{
    Answer, ApplicationBatch, ApplicationReceipt, ApplicationState, ApplicationStatus, ApplicationSubmission, BatchResult, BatchResults,
    CitizenStatus, HolderQuery, HolderStatuses, IdentityMethod, IdentityProof, MAX_BATCH, NextStep, PaymentRecord, StatusChange,
    StatusQuery, answered_date_of_birth, working_days_after,
};
pub use appointment::{
    APPOINTMENT_ALPHABET, Appointment, AppointmentCancellation, AppointmentConfirmation, AppointmentDay, AppointmentDays, AppointmentHold,
    AppointmentSlot, HoldRequest, MAX_BOOKING_DAYS, is_appointment_number, normalise_appointment_number, slot_time,
};
pub use catalog::{Agency, Catalog, Delivery, DeviceNeed, IdentityLevel, Service, ServiceKind};
pub use certificate::{
    CertificateClaims, CertificateContent, CertificateRefusal, DocumentSignature, MAX_TOKEN_LEN, VERIFY_PATH, encode_token, file_sha256,
    sign_document, verify_document, verify_token,
};
pub use enrollment::{EnrollmentRequest, EnrollmentToken, IssuedCertificate, MAX_CSR, RenewalRequest, Retirement, TokenError, fingerprint};
pub use event::{DayTotals, KioskEvent, KioskEventKind, Severity};
pub use fleet::{
    AttendantCall, AttendantCallStatus, CheckVerdict, CommandAction, CommandOutcome, CommandReport, DeviceClass, DeviceCondition,
    DeviceReport, Diagnosis, DiagnosisCheck, Heartbeat, HeartbeatAnswer, KioskCommand, MAX_CHECK_TEXT, MAX_CHECKS, MAX_DETAIL, MAX_DEVICES,
    MAX_LOG_MINUTES, MAX_MESSAGE, OutboxReport,
};
pub use form::{
    ChoiceOption, DateRange, FieldError, FieldKind, FormField, IdentityAttribute, TextFormat, is_identity_document_number, validate_answers,
};
pub use issuer::{IssuerKey, IssuerKeys};
pub use language::{Language, LocalizedText};
pub use pickup::{
    CertificateChanges, HolderCheck, MAX_FEED_PAGE, PickupOutcome, PickupReceipt, PickupRecord, PickupVerdict, ReadyCertificate,
    normalise_document_number,
};
pub use problem::{FieldProblem, Problem};
pub use queue::{CounterQueue, QueueTicket, TicketOutcome, TicketReceipt, TicketVerdict, ticket_number};

/// The header that makes a write safe to repeat; its value is the record's own id.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Path prefix of this version of the API.
pub const API_PREFIX: &str = "/v1";
