//! Queue tickets issued by kiosks: filed for the counters, counted per queue and day for the
//! staff page, and a number issued twice at a centre on one day flagged.

use super::db::args;
use super::{Store, StoreError, to_json};
use balcao_backend_client::api::{QueueTicket, TicketOutcome, TicketVerdict};
use jiff::Timestamp;

/// How a ticket was filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketFiled {
    Filed(TicketVerdict),
    /// The ticket id was used before with another ticket.
    IdReused,
}

/// The tickets of one queue at one centre on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDay {
    pub service_day: String,
    pub centre_id: String,
    pub queue_id: String,
    pub issued: u32,
    pub offline: u32,
    pub last_number: String,
    pub last_issued_at: String,
}

/// A ticket whose number another ticket of the same centre and day already had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketNumberReused {
    pub service_day: String,
    pub centre_id: String,
    pub number: String,
    pub kiosk_id: String,
    pub issued_at: String,
}

/// A stored instant as shown to staff (millisecond precision).
fn timestamp(millis: i64) -> String {
    Timestamp::from_millisecond(millis).map_or_else(|_| format!("{millis} ms"), |t| t.to_string())
}

fn verdict(reused: bool) -> TicketVerdict {
    if reused { TicketVerdict::NumberReused } else { TicketVerdict::Recorded }
}

impl Store {
    /// Files a ticket once: a repeat of the same ticket gets the same verdict; a number that
    /// another ticket of the centre already had that day is filed too, flagged. Two instances
    /// filing the same number at once take turns (a lock on the centre, day and number).
    pub fn record_queue_ticket(&self, ticket: &QueueTicket) -> Result<TicketFiled, StoreError> {
        let body = to_json(ticket)?;
        let id = ticket.ticket_id.to_string();
        let day = ticket.service_day.to_string();
        let outcome = to_json(&ticket.outcome)?;
        self.db.write(|tx| {
            tx.lock(&format!("ticket/{id}"))?;
            tx.lock(&format!("ticket-number/{}/{day}/{}", ticket.centre_id, ticket.number))?;
            if let Some(row) = tx.query_opt("SELECT body, number_reused FROM queue_tickets WHERE ticket_id = $1", args![id])? {
                let (stored, reused): (String, bool) = (row.get(0)?, row.get(1)?);
                return Ok(if stored == body { TicketFiled::Filed(verdict(reused)) } else { TicketFiled::IdReused });
            }
            let reused: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM queue_tickets WHERE centre_id = $1 AND service_day = $2 AND number = $3)",
                    args![ticket.centre_id, day, ticket.number],
                )?
                .get(0)?;
            tx.execute(
                "INSERT INTO queue_tickets (ticket_id, centre_id, queue_id, number, service_day, kiosk_id, issued_at, outcome, offline,
                     received_at, number_reused, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                args![
                    id,
                    ticket.centre_id,
                    ticket.queue_id,
                    ticket.number,
                    day,
                    ticket.kiosk_id,
                    ticket.issued_at.as_millisecond(),
                    outcome.trim_matches('"'),
                    ticket.offline,
                    Timestamp::now().to_string(),
                    reused,
                    body
                ],
            )?;
            Ok(TicketFiled::Filed(verdict(reused)))
        })
    }

    /// Tickets per centre and queue over the last `days` service days on record, newest first.
    pub fn queue_days(&self, days: u32) -> Result<Vec<QueueDay>, StoreError> {
        // The last number is the one of the latest ticket of each group.
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT g.service_day, g.centre_id, g.queue_id, g.issued, g.offline, g.last_at,
                     (SELECT t.number FROM queue_tickets t
                      WHERE t.service_day = g.service_day AND t.centre_id = g.centre_id AND t.queue_id = g.queue_id
                      ORDER BY t.issued_at DESC, t.rowid DESC LIMIT 1)
                 FROM (SELECT service_day, centre_id, queue_id, COUNT(*) AS issued, SUM(offline) AS offline, MAX(issued_at) AS last_at
                       FROM queue_tickets
                       WHERE service_day IN (SELECT DISTINCT service_day FROM queue_tickets ORDER BY service_day DESC LIMIT $1)
                       GROUP BY service_day, centre_id, queue_id) g
                 ORDER BY g.service_day DESC, g.centre_id, g.queue_id",
                args![days],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(QueueDay {
                    service_day: r.get(0)?,
                    centre_id: r.get(1)?,
                    queue_id: r.get(2)?,
                    issued: r.get(3)?,
                    offline: r.get(4)?,
                    last_issued_at: timestamp(r.get(5)?),
                    last_number: r.get(6)?,
                })
            })
            .collect()
    }

    /// Every ticket's number and how its printing ended, by number.
    pub fn queue_ticket_outcomes(&self) -> Result<Vec<(String, TicketOutcome)>, StoreError> {
        let rows = self.db.read(|tx| tx.query("SELECT number, body FROM queue_tickets ORDER BY number, issued_at", args![]))?;
        rows.iter()
            .map(|row| {
                let number: String = row.get(0)?;
                let ticket: QueueTicket =
                    serde_json::from_str(&row.get::<String>(1)?).map_err(|e| StoreError::Corrupt(format!("queue ticket {number}: {e}")))?;
                Ok((number, ticket.outcome))
            })
            .collect()
    }

    /// Tickets filed with a number already issued, newest first.
    pub fn reused_ticket_numbers(&self, limit: u32) -> Result<Vec<TicketNumberReused>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT service_day, centre_id, number, kiosk_id, issued_at FROM queue_tickets
                 WHERE number_reused <> 0 ORDER BY received_at DESC, rowid DESC LIMIT $1",
                args![limit],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(TicketNumberReused {
                    service_day: r.get(0)?,
                    centre_id: r.get(1)?,
                    number: r.get(2)?,
                    kiosk_id: r.get(3)?,
                    issued_at: timestamp(r.get(4)?),
                })
            })
            .collect()
    }
}
