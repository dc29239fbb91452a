//! Queue tickets for the counters of a service centre.
//!
//! A kiosk issues tickets itself, so it can while central cannot be reached: each number is
//! the counter queue's letter, the kiosk's ticket series and the day's sequence (`A1-023`). Kiosks
//! of one centre are given different series, so their numbers never meet; central files every
//! ticket it is told about for the counters' calling system and flags a number two kiosks
//! issued on the same day (a misconfigured series), so staff notice before citizens do.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LocalizedText;

/// A queue for a kind of counter service, as the catalog lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CounterQueue {
    /// Stable id, e.g. `identity-documents`.
    pub id: String,
    /// One capital letter that starts this queue's ticket numbers.
    pub letter: char,
    pub name: LocalizedText,
    /// What the counters of this queue deal with.
    pub description: LocalizedText,
}

impl CounterQueue {
    /// Whether the queue can be offered: a capital letter and names in every language.
    pub fn is_valid(&self) -> bool {
        self.letter.is_ascii_uppercase() && !self.id.trim().is_empty() && self.name.is_complete()
    }
}

/// The number printed on a ticket: `A1-023` for the 23rd ticket of queue `A` from the kiosk
/// whose series is `1`.
pub fn ticket_number(letter: char, series: char, sequence: u32) -> String {
    format!("{letter}{series}-{sequence:03}")
}

/// What the kiosk knows of how a ticket's printing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TicketOutcome {
    /// The printer reported the ticket printed.
    Printed,
    /// The kiosk stopped while printing: the citizen may hold the ticket, so it is called.
    Uncertain,
}

/// A queue ticket issued at a kiosk. `ticket_id` is also the `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueTicket {
    pub ticket_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub queue_id: String,
    /// As printed, e.g. `A1-023`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub number: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$"))]
    pub centre_id: String,
    /// The centre's local date the number belongs to (sequences start again each day): the day
    /// it was issued, give or take a time zone.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub service_day: Date,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_at: Timestamp,
    pub outcome: TicketOutcome,
    /// The kiosk could not reach central when it issued the ticket.
    pub offline: bool,
}

/// How central filed a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TicketVerdict {
    /// Filed in its queue.
    Recorded,
    /// Another ticket of the same centre and day already has this number (two kiosks share a
    /// series): filed too, and flagged for staff.
    NumberReused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketReceipt {
    pub ticket_id: Uuid,
    pub verdict: TicketVerdict,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_carry_queue_series_and_sequence() {
        assert_eq!(ticket_number('A', '1', 7), "A1-007");
        assert_eq!(ticket_number('C', 'B', 123), "CB-123");
        assert_eq!(ticket_number('A', '2', 1234), "A2-1234");
    }

    #[test]
    fn a_queue_needs_a_capital_letter_and_every_name() {
        let queue = CounterQueue {
            id: "general".into(),
            letter: 'A',
            name: LocalizedText::new("一般事務", "Assuntos gerais", "General matters"),
            description: LocalizedText::new("", "", ""),
        };
        assert!(queue.is_valid());
        assert!(!CounterQueue { letter: 'a', ..queue.clone() }.is_valid());
        assert!(!CounterQueue { letter: '1', ..queue.clone() }.is_valid());
        assert!(!CounterQueue { name: LocalizedText::new("一般事務", "", "General"), ..queue }.is_valid());
    }
}
