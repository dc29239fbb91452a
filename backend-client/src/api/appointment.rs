//! Counter appointments: central plays the appointment platform. A kiosk asks for the free
//! places of a bookable service at its centre, holds one place for a few minutes while the
//! citizen confirms (so two kiosks can never both take the last place of a slot), confirms it
//! with the citizen's date of birth, and prints the booking. A booking is cancelled with its
//! number and that date of birth, never with the number alone. Online only: a place is a
//! shared resource, which a kiosk cannot promise on its own.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Language;

/// How many days ahead a kiosk may ask for (and book).
pub const MAX_BOOKING_DAYS: u16 = 28;

/// A slot's start as it travels: `HH:MM`, local time at the centre.
pub fn slot_time(time: Time) -> String {
    time.strftime("%H:%M").to_string()
}

/// One time a service can be booked at, and the places left in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentSlot {
    /// Local start time at the centre, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{2}:[0-9]{2}$"))]
    pub time: String,
    /// Places left (0: full).
    pub free: u32,
}

/// The slots of one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentDay {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    pub slots: Vec<AppointmentSlot>,
}

impl AppointmentDay {
    /// Whether any slot of the day has a place left.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(|s| s.free > 0)
    }
}

/// The days and slots of a bookable service at the asking kiosk's centre, from today: days the
/// centre does not open for the service are left out; slots already begun are left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentDays {
    pub service_id: String,
    pub days: Vec<AppointmentDay>,
}

/// A kiosk's request to hold one place while the citizen confirms. `hold_id` is also the
/// `Idempotency-Key`: a repeat holds nothing twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldRequest {
    pub hold_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub service_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// `HH:MM`, one of the day's slots.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{2}:[0-9]{2}$"))]
    pub time: String,
}

/// A place held for a kiosk until `held_until`: confirmed before then, it is the citizen's;
/// otherwise it is free again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentHold {
    pub hold_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub held_until: Timestamp,
}

/// What confirms a held place: the citizen's date of birth (what cancels the booking later,
/// with its number) and the language the citizen booked in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentConfirmation {
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date_of_birth: String,
    pub language: Language,
}

impl std::fmt::Debug for AppointmentConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppointmentConfirmation").field("language", &self.language).finish_non_exhaustive()
    }
}

/// A booked appointment, as printed on the citizen's confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appointment {
    /// The booking number, e.g. `AP-7K2M-Q9XD`: what counter staff look the appointment up
    /// by, and what cancels it (with the date of birth).
    pub number: String,
    pub service_id: String,
    pub centre_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// `HH:MM`, local time at the centre.
    pub time: String,
    /// The counter the citizen goes to, when the centre's schedule names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
}

/// A citizen cancelling their appointment: its number and their date of birth.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentCancellation {
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub number: String,
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date_of_birth: String,
}

impl std::fmt::Debug for AppointmentCancellation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppointmentCancellation").field("number", &self.number).finish_non_exhaustive()
    }
}

/// A booking number as typed: capitals, no spaces.
pub fn normalise_appointment_number(number: &str) -> String {
    number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
}

/// Whether `number` has the form of a booking number (`AP-XXXX-XXXX`, Crockford's base 32).
pub fn is_appointment_number(number: &str) -> bool {
    let b = number.as_bytes();
    b.len() == 12 && number.starts_with("AP-") && b[7] == b'-' && b[3..7].iter().chain(&b[8..12]).all(|c| APPOINTMENT_ALPHABET.contains(c))
}

/// Crockford's base 32: no I, L, O or U, so a number read aloud or typed is not mistaken.
pub const APPOINTMENT_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_numbers_are_recognised_by_their_form() {
        assert!(is_appointment_number("AP-7K2M-Q9XD"));
        assert_eq!(normalise_appointment_number(" ap-7k2m- q9xd "), "AP-7K2M-Q9XD");
        for wrong in ["AP-7K2M-Q9X", "AP-7K2MQ-9XD", "AB-7K2M-Q9XD", "AP-7K2M-Q9XI", "AP-7K2M-Q9XÉ", ""] {
            assert!(!is_appointment_number(wrong), "{wrong}");
        }
    }

    #[test]
    fn the_date_of_birth_never_shows_in_debug_output() {
        let confirmation = AppointmentConfirmation { date_of_birth: "1985-03-14".into(), language: Language::Pt };
        let cancellation = AppointmentCancellation { number: "AP-7K2M-Q9XD".into(), date_of_birth: "1985-03-14".into() };
        assert!(!format!("{confirmation:?}{cancellation:?}").contains("1985"));
    }
}
