//! The payment journal: every card payment's saga, written before each of its side effects.
//!
//! ```text
//! intent → preauth_sent → authorised → fulfilling → fulfilled → capture_sent → captured
//!                    ↘ declined / failed        ↘ reversal_sent → reversed
//! ```
//!
//! A state ending in `_sent` is a command the terminal may or may not have carried out; the
//! kiosk resolves it by asking the terminal (see `runtime::payments`), never by paying again.
//! `fulfilled` is written in the same transaction as the application and its outbox entry,
//! so "the service was delivered" and "the kiosk may take the money" are one fact on disk.
//!
//! What is kept of the card: the brand and the last four digits the terminal showed masked.
//! Never a card number, never track data.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use balcao_backend_client::api::KioskEvent;

use super::{Store, StoreError, insert_event, millis};

/// What the journal captured between two end-of-day closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub payments: u64,
    pub total_avos: u64,
}

/// Where a payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentState {
    /// The citizen confirmed; nothing sent to the terminal yet.
    Intent,
    /// The reservation was sent; its answer may not have come.
    PreauthSent,
    /// The terminal approved the reservation.
    Authorised,
    /// The service is being delivered (the application being saved).
    Fulfilling,
    /// The service was delivered: the application is in the outbox.
    Fulfilled,
    CaptureSent,
    Captured,
    ReversalSent,
    Reversed,
    /// Declined or cancelled at the terminal: nothing reserved.
    Declined,
    /// Never reached the terminal, or the terminal holds nothing for it: nothing reserved.
    NotReserved,
    /// Delivered, but the terminal no longer holds the reservation to book: needs staff.
    Lapsed,
}

impl PaymentState {
    pub const ALL: [Self; 12] = [
        Self::Intent,
        Self::PreauthSent,
        Self::Authorised,
        Self::Fulfilling,
        Self::Fulfilled,
        Self::CaptureSent,
        Self::Captured,
        Self::ReversalSent,
        Self::Reversed,
        Self::Declined,
        Self::NotReserved,
        Self::Lapsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::PreauthSent => "preauth_sent",
            Self::Authorised => "authorised",
            Self::Fulfilling => "fulfilling",
            Self::Fulfilled => "fulfilled",
            Self::CaptureSent => "capture_sent",
            Self::Captured => "captured",
            Self::ReversalSent => "reversal_sent",
            Self::Reversed => "reversed",
            Self::Declined => "declined",
            Self::NotReserved => "not_reserved",
            Self::Lapsed => "lapsed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Captured | Self::Reversed | Self::Declined | Self::NotReserved | Self::Lapsed)
    }

    /// The states a payment may come from to reach this one.
    fn from(self) -> &'static [Self] {
        use PaymentState::*;
        match self {
            Intent => &[],
            PreauthSent => &[Intent],
            Authorised => &[PreauthSent],
            Declined => &[PreauthSent],
            NotReserved => &[Intent, PreauthSent],
            Fulfilling => &[Authorised],
            Fulfilled => &[Fulfilling],
            CaptureSent => &[Fulfilled, CaptureSent],
            Captured => &[CaptureSent],
            Lapsed => &[Fulfilled, CaptureSent],
            // A reservation found open with no saga's receipt number is reversed under the
            // oldest payment whose reservation answer was lost.
            ReversalSent => &[PreauthSent, Authorised, Fulfilling, ReversalSent],
            Reversed => &[ReversalSent],
        }
    }
}

/// One payment as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub service_id: String,
    pub amount_avos: u64,
    pub state: PaymentState,
    pub receipt_number: Option<u32>,
    pub trace_number: Option<u32>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// The application that delivered the service (the proof for capturing).
    pub application_id: Option<Uuid>,
    /// The kiosk's local date of the payment (`YYYY-MM-DD`), for the day's reconciliation.
    pub local_date: String,
}

/// What an approval adds to the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Approval {
    pub receipt_number: u32,
    pub trace_number: u32,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
}

/// A transition the journal refused: the payment is not where the caller thought.
fn refused(id: Uuid, to: PaymentState) -> StoreError {
    StoreError::Corrupt(format!("payment {id} cannot move to {}", to.as_str()))
}

/// Test builds can stop the process dead right after a chosen transition is on disk, to
/// prove the journal holds at every step: `BALCAO_CRASH_AT=<state>` (optionally
/// `<state>:<n>` for the n-th time). Compiled only with the `crash-points` feature.
#[cfg(feature = "crash-points")]
pub(super) fn crash_point(state: PaymentState) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEEN: AtomicU32 = AtomicU32::new(0);
    let Ok(spec) = std::env::var("BALCAO_CRASH_AT") else { return };
    let (name, nth) = spec.split_once(':').map_or((spec.as_str(), 1), |(n, k)| (n, k.parse().unwrap_or(1)));
    if name == state.as_str() && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        // SIGKILL, as a power cut or the OOM killer would: no destructor, no flush.
        let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[cfg(not(feature = "crash-points"))]
pub(super) fn crash_point(_: PaymentState) {}

/// A journal row as SQLite returns it, before its values are checked.
type Raw = (String, String, i64, String, Option<i64>, Option<i64>, Option<String>, Option<String>, Option<String>, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

const COLUMNS: &str =
    "id, service_id, amount_avos, state, receipt_number, trace_number, card_brand, card_last4, application_id, local_date";

fn payment(
    (id, service_id, amount, state, receipt, trace, card_brand, card_last4, application, local_date): Raw,
) -> Result<Payment, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("payment {id}: {what}"));
    Ok(Payment {
        id: id.parse().map_err(|_| corrupt("id"))?,
        service_id,
        amount_avos: u64::try_from(amount).map_err(|_| corrupt("amount"))?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt("state"))?,
        receipt_number: receipt.map(|r| u32::try_from(r).map_err(|_| corrupt("receipt number"))).transpose()?,
        trace_number: trace.map(|t| u32::try_from(t).map_err(|_| corrupt("trace number"))).transpose()?,
        card_brand,
        card_last4,
        application_id: application.map(|a| a.parse().map_err(|_| corrupt("application"))).transpose()?,
        local_date,
    })
}

/// Moves payment `id` to `to` in the caller's transaction, from one of the states `to` may
/// come from, and records the step.
pub(super) fn step(tx: &rusqlite::Transaction<'_>, id: Uuid, to: PaymentState, now: i64) -> Result<(), StoreError> {
    // The states are the enum's own names, never outside input: safe to write into the SQL.
    let from: Vec<String> = to.from().iter().map(|s| format!("'{}'", s.as_str())).collect();
    let sql = format!("UPDATE payments SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state IN ({})", from.join(", "));
    let id_text = id.to_string();
    if tx.prepare_cached(&sql)?.execute(params![to.as_str(), now, id_text])? != 1 {
        return Err(refused(id, to));
    }
    tx.prepare_cached("INSERT INTO payment_steps (payment_id, at, state) VALUES (?1, ?2, ?3)")?.execute(params![
        id_text,
        now,
        to.as_str()
    ])?;
    Ok(())
}

impl Store {
    /// Journals a new payment (`intent`): before the terminal is asked for anything.
    pub fn payment_intent(&mut self, id: Uuid, service_id: &str, amount_avos: u64, local_date: &str) -> Result<(), StoreError> {
        let now = millis(Timestamp::now());
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "INSERT INTO payments (id, service_id, amount_avos, state, created_at, updated_at, local_date)
             VALUES (?1, ?2, ?3, 'intent', ?4, ?4, ?5)",
        )?
        .execute(params![id.to_string(), service_id, amount_avos as i64, now, local_date])?;
        tx.prepare_cached("INSERT INTO payment_steps (payment_id, at, state) VALUES (?1, ?2, 'intent')")?
            .execute(params![id.to_string(), now])?;
        tx.commit()?;
        crash_point(PaymentState::Intent);
        Ok(())
    }

    /// Moves a payment on; refused (as corrupt) when it is not in a state `to` may follow.
    pub fn payment_step(&mut self, id: Uuid, to: PaymentState) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        step(&tx, id, to, millis(Timestamp::now()))?;
        tx.commit()?;
        crash_point(to);
        Ok(())
    }

    /// The terminal approved: `authorised`, with its receipt and trace numbers.
    pub fn payment_authorised(&mut self, id: Uuid, approval: &Approval) -> Result<(), StoreError> {
        self.payment_with_receipt(id, PaymentState::Authorised, approval)
    }

    /// A reservation found open at the terminal with no payment's receipt number is put on
    /// the oldest payment whose reservation answer was lost, and its reversal is sent.
    pub fn payment_adopt_reservation(&mut self, id: Uuid, receipt_number: u32) -> Result<(), StoreError> {
        self.payment_with_receipt(id, PaymentState::ReversalSent, &Approval { receipt_number, ..Approval::default() })
    }

    fn payment_with_receipt(&mut self, id: Uuid, to: PaymentState, approval: &Approval) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let now = millis(Timestamp::now());
        step(&tx, id, to, now)?;
        tx.prepare_cached("UPDATE payments SET receipt_number = ?2, trace_number = ?3, card_brand = ?4, card_last4 = ?5 WHERE id = ?1")?
            .execute(params![
                id.to_string(),
                i64::from(approval.receipt_number),
                (approval.trace_number != 0).then_some(i64::from(approval.trace_number)),
                approval.card_brand,
                approval.card_last4.as_deref().filter(|l| l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit())),
            ])?;
        tx.commit()?;
        crash_point(to);
        Ok(())
    }

    pub fn payment(&self, id: Uuid) -> Result<Option<Payment>, StoreError> {
        let found = self.conn.query_row(&format!("SELECT {COLUMNS} FROM payments WHERE id = ?1"), [id.to_string()], row).optional()?;
        found.map(payment).transpose()
    }

    /// Payments not in a final state, oldest first: what reconciliation works through.
    pub fn unfinished_payments(&self) -> Result<Vec<Payment>, StoreError> {
        let finals: Vec<String> = PaymentState::ALL.iter().filter(|s| s.is_final()).map(|s| format!("'{}'", s.as_str())).collect();
        let mut statement =
            self.conn.prepare(&format!("SELECT {COLUMNS} FROM payments WHERE state NOT IN ({}) ORDER BY id", finals.join(", ")))?;
        let rows = statement.query_map([], row)?;
        rows.map(|r| payment(r?)).collect()
    }

    /// Every payment of local day `date`, oldest first.
    pub fn payments_of_day(&self, date: &str) -> Result<Vec<Payment>, StoreError> {
        let mut statement = self.conn.prepare(&format!("SELECT {COLUMNS} FROM payments WHERE local_date = ?1 ORDER BY id"))?;
        let rows = statement.query_map([date], row)?;
        rows.map(|r| payment(r?)).collect()
    }

    /// When the terminal last closed its day (ms since the epoch), if ever.
    pub fn last_day_close(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row("SELECT max(closed_at) FROM day_closes", [], |r| r.get(0))?)
    }

    /// When the journal first captured a payment (ms), if ever: the start of the first day.
    pub fn first_capture(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row("SELECT min(at) FROM payment_steps WHERE state = 'captured'", [], |r| r.get(0))?)
    }

    /// What the journal captured after `since` (ms) and up to `until`.
    pub fn captured_between(&self, since: i64, until: i64) -> Result<Captured, StoreError> {
        let (payments, total): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(p.amount_avos), 0) FROM payment_steps s JOIN payments p ON p.id = s.payment_id
             WHERE s.state = 'captured' AND s.at > ?1 AND s.at <= ?2",
            params![since, until],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Captured { payments: payments as u64, total_avos: total as u64 })
    }

    /// Records the terminal's close of the day at `closed_at` (ms) beside the journal's count,
    /// and queues `report` for central, in one transaction.
    pub fn record_day_close(
        &mut self,
        closed_at: i64,
        terminal_total: u64,
        journal: Captured,
        report: &KioskEvent,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached("INSERT INTO day_closes (closed_at, terminal_total, journal_total, payments) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![closed_at, terminal_total as i64, journal.total_avos as i64, journal.payments as i64])?;
        insert_event(&tx, &self.key, report)?;
        tx.commit()?;
        Ok(())
    }

    /// Queues a report for central.
    pub fn queue_event(&mut self, event: &KioskEvent) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        insert_event(&tx, &self.key, event)?;
        tx.commit()?;
        Ok(())
    }

    /// Every payment in the journal, oldest first.
    pub fn all_payments(&self) -> Result<Vec<Payment>, StoreError> {
        let mut statement = self.conn.prepare(&format!("SELECT {COLUMNS} FROM payments ORDER BY id"))?;
        let rows = statement.query_map([], row)?;
        rows.map(|r| payment(r?)).collect()
    }

    /// The states payment `id` went through, in order.
    pub fn payment_steps(&self, id: Uuid) -> Result<Vec<PaymentState>, StoreError> {
        let mut statement = self.conn.prepare("SELECT state FROM payment_steps WHERE payment_id = ?1 ORDER BY rowid")?;
        let rows = statement.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|s| {
            let s = s?;
            PaymentState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("payment step {s}")))
        })
        .collect()
    }
}
