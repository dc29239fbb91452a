//! Queue tickets issued here. Numbers come from a counter per queue letter and day, in the
//! transaction that writes the ticket, so a number is never given twice by this kiosk, even
//! across a crash. Like a pickup, a ticket is written before printing (`printing`) and becomes
//! `issued` with its outbox entry once the printer reported it printed; one cut short by a
//! crash is reported as `uncertain` (the citizen may hold it, so it must be called).

use balcao_backend_client::api::{QueueTicket, TicketOutcome, ticket_number};
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{KioskPlace, Store, StoreError, enqueue, millis, next_in_sequence, still_printing};

/// A ticket about to be printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedTicket {
    pub ticket_id: Uuid,
    /// As printed, e.g. `A1-023`.
    pub number: String,
}

impl Store {
    /// Gives the next number of queue `letter` today and records the ticket, durably, before
    /// it is printed.
    pub fn begin_ticket(
        &mut self,
        queue_id: &str,
        letter: char,
        series: char,
        day: Date,
        offline: bool,
    ) -> Result<IssuedTicket, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sequence = next_in_sequence(&tx, &format!("ticket-{letter}-{day}"))?;
        let sequence = u32::try_from(sequence).map_err(|_| StoreError::Corrupt(format!("ticket counter {letter} at {sequence}")))?;
        let ticket_id = Uuid::now_v7();
        let number = ticket_number(letter, series, sequence);
        tx.prepare_cached(
            "INSERT INTO queue_tickets (id, queue_id, number, service_day, issued_at, state, offline)
             VALUES (?1, ?2, ?3, ?4, ?5, 'printing', ?6)",
        )?
        .execute(params![ticket_id.to_string(), queue_id, number, day.to_string(), millis(Timestamp::now()), offline])?;
        tx.commit()?;
        Ok(IssuedTicket { ticket_id, number })
    }

    /// The ticket came out (or may have, for `Uncertain`): it is recorded as issued and queued
    /// for central in one transaction.
    pub fn finish_ticket(&mut self, ticket_id: Uuid, outcome: TicketOutcome, place: KioskPlace<'_>) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = ticket_id.to_string();
        let row: Option<(String, String, String, i64, bool)> = tx
            .query_row(
                "SELECT queue_id, number, service_day, issued_at, offline FROM queue_tickets WHERE id = ?1 AND state = 'printing'",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((queue_id, number, day, issued_at, offline)) = row else {
            return Err(StoreError::Corrupt(format!("no queue ticket {id} being printed")));
        };
        let corrupt = |what: &str| StoreError::Corrupt(format!("queue ticket {id}: {what}"));
        let ticket = QueueTicket {
            ticket_id,
            queue_id,
            number,
            kiosk_id: place.kiosk_id.to_string(),
            centre_id: place.centre_id.to_string(),
            service_day: day.parse().map_err(|_| corrupt("service day"))?,
            issued_at: Timestamp::from_millisecond(issued_at).map_err(|_| corrupt("issue time"))?,
            outcome,
            offline,
        };
        tx.execute("UPDATE queue_tickets SET state = 'issued' WHERE id = ?1", [&id])?;
        enqueue(&tx, &self.key, &id, "queue-ticket", &ticket, millis(Timestamp::now()))?;
        tx.commit()?;
        Ok(())
    }

    /// The printer failed before anything came out: the number is skipped, nothing is sent.
    pub fn abandon_ticket(&mut self, ticket_id: Uuid) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE queue_tickets SET state = 'not-printed' WHERE id = ?1 AND state = 'printing'", [ticket_id.to_string()])?;
        Ok(())
    }

    /// Tickets cut short while printing (by a crash or a power cut).
    pub fn interrupted_tickets(&self) -> Result<Vec<Uuid>, StoreError> {
        still_printing(&self.conn, "queue_tickets")
    }
}
