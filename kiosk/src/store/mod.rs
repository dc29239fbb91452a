//! The kiosk's offline store: SQLite in WAL mode with `synchronous=FULL`, so what the screen
//! calls saved is on disk. Versioned migrations (`schema.rs`); an integrity check at opening.
//!
//! An application and its outbox entry are written in one transaction: either both exist or
//! neither does, so nothing the citizen was told is saved can miss its way to central.
//!
//! Personal data (the outbox bodies) is sealed with a key kept in a file outside the
//! database (`crypto.rs`); what central acknowledged is purged after the retention period,
//! with `secure_delete` so the freed pages are zeroed.

mod commands;
pub mod crypto;
mod payments;
pub use commands::CommandDone;
mod pickups;
mod schema;
mod signin;
mod status;
mod tickets;

pub use payments::{Approval, Payment, PaymentState};
pub use pickups::{CertificateSummary, normalise_reference};
pub use status::KnownStatus;
pub use tickets::IssuedTicket;

use std::path::{Path, PathBuf};

use balcao_backend_client::api::{Answer, ApplicationSubmission, Catalog, IdentityProof, KioskEvent, Language, PaymentRecord};
use crypto::DataKey;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("the kiosk database failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the kiosk database could not be brought to the current schema")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("the kiosk database is damaged: {0}")]
    Corrupt(String),
    #[error("the data key cannot be used")]
    Key(#[from] crypto::KeyError),
    #[error("the data key file {} does not belong to this database", path.display())]
    WrongKey { path: PathBuf },
}

impl StoreError {
    /// The disk or the file failed under SQLite (I/O error, disk full, damaged or read-only
    /// file): what was being written may not be on disk, and the process must restart and
    /// check the database rather than carry on.
    pub fn is_fatal(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, C::SystemIoFailure | C::DiskFull | C::DatabaseCorrupt | C::NotADatabase | C::ReadOnly | C::CannotOpen)
            }
            Self::Corrupt(_) | Self::WrongKey { .. } => true,
            _ => false,
        }
    }
}

/// An application as the session hands it over to be saved.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub kiosk_id: String,
    pub centre_id: String,
    pub service_id: String,
    pub language: Language,
    pub answers: std::collections::BTreeMap<String, Answer>,
    pub fee_avos: u64,
    pub payment: Option<PaymentRecord>,
    /// The journal's payment for this application's fee: saving the application marks it
    /// `fulfilled` in the same transaction.
    pub payment_id: Option<Uuid>,
    /// How the applicant was identified: the method and a salted hash of the document number.
    pub identity: Option<IdentityProof>,
    pub submitted_at: Timestamp,
    /// The kiosk's local date, for the application number.
    pub local_date: jiff::civil::Date,
}

/// Who this kiosk is, as the records it sends name it.
#[derive(Clone, Copy, Debug)]
pub struct KioskPlace<'a> {
    pub kiosk_id: &'a str,
    pub centre_id: &'a str,
}

/// What saving gave the application: its id (also its idempotency key) and its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedApplication {
    pub application_id: Uuid,
    pub reference: String,
}

/// A write waiting to reach central.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// The record's id, sent as the `Idempotency-Key`.
    pub id: Uuid,
    pub kind: String,
    /// The exact JSON body, sent unchanged on every attempt.
    pub body: String,
    pub attempts: u32,
}

/// One outbox entry as a technician or the monitoring sees it (no body: it holds personal
/// data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxReport {
    pub id: Uuid,
    pub kind: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// How much is waiting, and how much central refused for good.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u32,
    pub dead: u32,
}

#[derive(Debug)]
pub struct Store {
    conn: Connection,
    key: DataKey,
}

/// What became of an attempt to send an outbox entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Central has it; for an application, the state central gave it.
    Delivered { central_state: Option<String> },
    /// Not this time: try again at `next`.
    Retry { next: Timestamp, error: String },
    /// Refused for good: kept aside, and `alert` (if any) queued for the fleet's monitoring.
    Dead { error: String, alert: Option<KioskEvent> },
}

/// Queues `record` for central as an outbox entry of `kind`, its JSON sealed, due at once.
/// Every record that leaves the kiosk is queued here, in the transaction that writes it.
fn enqueue<T: serde::Serialize>(
    tx: &rusqlite::Transaction<'_>,
    key: &DataKey,
    record_id: &str,
    kind: &str,
    record: &T,
    now: i64,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let body = key.seal(&outbox_context(record_id, kind), body.as_bytes())?;
    tx.prepare_cached(
        "INSERT INTO outbox (record_id, kind, body, created_at, attempts, next_attempt_at, state)
         VALUES (?1, ?2, ?3, ?4, 0, ?4, 'pending')",
    )?
    .execute(params![record_id, kind, body, now])?;
    Ok(())
}

/// The next value of the counter `name` (1 for a new one), in the caller's transaction: what
/// numbers applications and queue tickets, so a number is never given twice.
fn next_in_sequence(tx: &rusqlite::Transaction<'_>, name: &str) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1
             RETURNING value",
        )?
        .query_row([name], |r| r.get(0))?)
}

/// The ids of the records in `table` (pickups, queue tickets) written before printing and
/// still waiting for the printer's answer: at start-up, the ones a crash cut short.
fn still_printing(conn: &Connection, table: &str) -> Result<Vec<Uuid>, StoreError> {
    let mut statement = conn.prepare(&format!("SELECT id FROM {table} WHERE state = 'printing'"))?;
    let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|id| {
        let id = id?;
        id.parse().map_err(|_| StoreError::Corrupt(format!("{table} id {id}")))
    })
    .collect()
}

fn insert_event(tx: &rusqlite::Transaction<'_>, key: &DataKey, event: &KioskEvent) -> Result<(), StoreError> {
    enqueue(tx, key, &event.event_id.to_string(), "event", event, millis(Timestamp::now()))
}

/// The associated data that binds a sealed outbox body to its row.
fn outbox_context(record_id: &str, kind: &str) -> String {
    format!("outbox/{record_id}/{kind}")
}

/// The database's page size. A commit writes every page it touches to the write-ahead log
/// (an application's touches five: the day's counter, the application, the outbox entry and
/// two of the outbox's indexes), and what it costs beyond the disk's flush is mostly those
/// bytes: at 1 KiB the commit of "application accepted" came to about 1.27x one 4 KiB
/// overwrite + `fdatasync`, against 1.4x at SQLite's default of 4 KiB (the `durable_commit`
/// benchmark). The kiosk's rows are small; the larger sealed bodies overflow to a few more
/// small pages.
pub const PAGE_SIZE: u32 = 1024;

/// Rebuilds a database made with another page size (a kiosk's before the change): the page
/// size of a database in WAL mode changes only by a `VACUUM` outside it. Best effort: a
/// database another process is reading (the technician's `diagnose`) keeps its page size
/// until the next start, and works the same.
fn resize_pages(conn: &Connection) -> Result<(), StoreError> {
    let current: u32 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    if current == PAGE_SIZE {
        return Ok(());
    }
    match conn.execute_batch(&format!("PRAGMA journal_mode = DELETE; PRAGMA page_size = {PAGE_SIZE}; VACUUM;")) {
        Ok(()) => tracing::info!(from = current, to = PAGE_SIZE, "database rebuilt with smaller pages"),
        Err(e) => tracing::warn!(error = %e, "the database keeps its page size until the next start"),
    }
    // Whatever happened, the store runs in WAL mode or not at all.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!("the database refused WAL mode (got {mode})")));
    }
    Ok(())
}

fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Store {
    /// Opens (or creates) the database at `path`, checks it, brings it to the current schema
    /// and unlocks its personal data with the key in `key_file` (created with a new database;
    /// never replaced for an existing one).
    pub fn open(path: &Path, key_file: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder { path: dir.to_path_buf(), source })?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Takes effect on a new database only; an older one is rebuilt below.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!("the database refused WAL mode (got {mode})")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(check));
        }
        schema::migrations().to_latest(&mut conn)?;
        resize_pages(&conn)?;
        let key = Self::unlock(&conn, key_file)?;
        let mut store = Self { conn, key };
        store.seal_plain_bodies()?;
        store.check_pending_bodies()?;
        Ok(store)
    }

    /// Checks a kiosk's database without writing to it (another process, the running kiosk,
    /// may have it open): its integrity, and how many outbox entries wait or were refused.
    pub fn inspect(path: &Path) -> Result<OutboxCounts, StoreError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(check));
        }
        let (pending, dead) = conn.query_row(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE state = 'pending'), (SELECT COUNT(*) FROM outbox WHERE state = 'dead')",
            [],
            |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?)),
        )?;
        Ok(OutboxCounts { pending, dead })
    }

    /// The database's key: the one whose check value it holds, or a new one for a new
    /// database.
    fn unlock(conn: &Connection, key_file: &Path) -> Result<DataKey, StoreError> {
        let check: Option<Vec<u8>> = conn.query_row("SELECT value FROM meta WHERE name = 'key-check'", [], |r| r.get(0)).optional()?;
        let wrong = || StoreError::WrongKey { path: key_file.to_path_buf() };
        match check {
            Some(check) => {
                let key = DataKey::load(key_file)?;
                match key.open("meta/key-check", &check) {
                    Ok(plain) if plain == crypto::KEY_CHECK => Ok(key),
                    _ => Err(wrong()),
                }
            }
            None => {
                let key = if key_file.exists() { DataKey::load(key_file)? } else { DataKey::create(key_file)? };
                let check = key.seal("meta/key-check", crypto::KEY_CHECK)?;
                conn.execute("INSERT INTO meta (name, value) VALUES ('key-check', ?1)", [check])?;
                Ok(key)
            }
        }
    }

    /// Seals outbox bodies written as plain text by an older version, in one transaction.
    fn seal_plain_bodies(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let plain: Vec<(i64, String, String, String)> = tx
            .prepare("SELECT seq, record_id, kind, body FROM outbox WHERE typeof(body) = 'text'")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (seq, record_id, kind, body) in plain {
            let sealed = self.key.seal(&outbox_context(&record_id, &kind), body.as_bytes())?;
            tx.execute("UPDATE outbox SET body = ?2 WHERE seq = ?1", params![seq, sealed])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every entry still to be sent must open: what cannot be read cannot be sent, and the
    /// kiosk must not serve on a store that lost what it promised.
    fn check_pending_bodies(&self) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare("SELECT record_id, kind, body FROM outbox WHERE state = 'pending'")?;
        let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        for row in rows {
            let (record_id, kind, body) = row?;
            self.key
                .open(&outbox_context(&record_id, &kind), &body)
                .map_err(|e| StoreError::Corrupt(format!("outbox entry {record_id}: {e}")))?;
        }
        Ok(())
    }

    /// Saves an application and queues it for central, in one durable transaction.
    pub fn save_application(&mut self, new: &NewApplication) -> Result<SavedApplication, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let day = format!("{:02}{:02}{:02}", new.local_date.year() % 100, new.local_date.month(), new.local_date.day());
        let sequence = next_in_sequence(&tx, &format!("application-number-{day}"))?;
        let reference = format!("{}-{day}-{sequence:04}", new.kiosk_id);
        let application_id = Uuid::now_v7();
        let submission = ApplicationSubmission {
            application_id,
            reference: reference.clone(),
            kiosk_id: new.kiosk_id.clone(),
            centre_id: new.centre_id.clone(),
            service_id: new.service_id.clone(),
            language: new.language,
            answers: new.answers.clone(),
            fee_avos: new.fee_avos,
            payment: new.payment.clone(),
            identity: new.identity.clone(),
            submitted_at: new.submitted_at,
        };
        let (id, now) = (application_id.to_string(), millis(Timestamp::now()));
        tx.prepare_cached("INSERT INTO applications (id, reference, service_id, created_at, state) VALUES (?1, ?2, ?3, ?4, 'queued')")?
            .execute(params![id, reference, new.service_id, now])?;
        enqueue(&tx, &self.key, &id, "application", &submission, now)?;
        if let Some(payment) = new.payment_id {
            payments::step(&tx, payment, PaymentState::Fulfilled, now)?;
            tx.prepare_cached("UPDATE payments SET application_id = ?2 WHERE id = ?1")?.execute(params![payment.to_string(), id])?;
        }
        tx.commit()?;
        if new.payment_id.is_some() {
            payments::crash_point(PaymentState::Fulfilled);
        }
        Ok(SavedApplication { application_id, reference })
    }

    /// The entries to send now, oldest first: pending entries up to the first one that must
    /// still wait. Nothing overtakes a waiting entry, so a pickup never reaches central
    /// before its application.
    pub fn due_outbox(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT record_id, kind, body, attempts, next_attempt_at FROM outbox
             WHERE state = 'pending' ORDER BY seq LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, u32>(3)?, r.get::<_, i64>(4)?))
        })?;
        let mut due = Vec::new();
        for row in rows {
            let (id, kind, sealed, attempts, next_attempt_at) = row?;
            if next_attempt_at > millis(now) {
                break;
            }
            let body = self.open_body(&id, &kind, &sealed)?;
            let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("outbox id {id:?}")))?;
            due.push(OutboxItem { id, kind, body, attempts });
        }
        Ok(due)
    }

    /// When the oldest pending entry — the one everything else waits for — is due, if any.
    pub fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let next: Option<i64> = self
            .conn
            .prepare_cached("SELECT next_attempt_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        next.map(|ms| Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    /// Records what became of attempts to send entries, in one transaction (one fsync for a
    /// whole batch): delivered, to be retried, or refused for good and kept aside.
    pub fn outbox_settle(&mut self, outcomes: &[(Uuid, Settlement)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let now = millis(Timestamp::now());
        for (id, outcome) in outcomes {
            let id = id.to_string();
            match outcome {
                Settlement::Delivered { central_state } => {
                    tx.prepare_cached("UPDATE outbox SET state = 'delivered', done_at = ?2, last_error = NULL WHERE record_id = ?1")?
                        .execute(params![id, now])?;
                    if let Some(central_state) = central_state {
                        tx.prepare_cached(
                            "UPDATE applications SET state = 'acknowledged', acknowledged_at = ?2, central_state = ?3 WHERE id = ?1",
                        )?
                        .execute(params![id, now, central_state])?;
                    }
                }
                Settlement::Retry { next, error } => {
                    tx.prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE record_id = ?1",
                    )?
                    .execute(params![id, millis(*next), error])?;
                }
                Settlement::Dead { error, alert } => {
                    tx.prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, state = 'dead', last_error = ?2, done_at = ?3 WHERE record_id = ?1",
                    )?
                    .execute(params![id, error, now])?;
                    if let Some(alert) = alert {
                        insert_event(&tx, &self.key, alert)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        // Both counts come from the partial indexes, not from a scan of what was delivered.
        let (pending, dead) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE state = 'pending'), (SELECT COUNT(*) FROM outbox WHERE state = 'dead')",
            )?
            .query_row([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?)))?;
        Ok(OutboxCounts { pending, dead })
    }

    /// How long the oldest entry waiting to be sent has waited, in whole seconds.
    pub fn oldest_pending_age(&self) -> Result<Option<u64>, StoreError> {
        // The oldest pending entry is the first by sequence (the `outbox_pending` index).
        let created: Option<i64> = self
            .conn
            .prepare_cached("SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(created.map(|at| u64::try_from(millis(Timestamp::now()).saturating_sub(at) / 1000).unwrap_or(0)))
    }

    /// How many outbox entries wait to be sent, read from the database at `path` by a reader
    /// of its own: no key, no check, nothing decrypted — for watching a running kiosk's outbox
    /// from outside it (a benchmark's progress) without weighing on it.
    pub fn pending_in(path: &Path) -> Result<u32, StoreError> {
        let conn =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        Ok(conn.query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?)
    }

    /// Every outbox entry, oldest first.
    pub fn outbox_report(&self) -> Result<Vec<OutboxReport>, StoreError> {
        let mut statement = self.conn.prepare("SELECT record_id, kind, state, attempts, last_error FROM outbox ORDER BY seq")?;
        let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.map(|row| {
            let (id, kind, state, attempts, last_error) = row?;
            let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("outbox id {id:?}")))?;
            Ok(OutboxReport { id, kind, state, attempts, last_error })
        })
        .collect()
    }

    /// An outbox entry's body, opened (it is bound to its record and kind).
    fn open_body(&self, id: &str, kind: &str, sealed: &[u8]) -> Result<String, StoreError> {
        self.key
            .open(&outbox_context(id, kind), sealed)
            .ok()
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("outbox entry {id} does not open")))
    }

    /// Every entry central has not acknowledged (waiting, or refused and kept), oldest first,
    /// with its body opened: what a technician decommissioning the kiosk must hand in.
    pub fn unacknowledged(&self) -> Result<Vec<(OutboxReport, String)>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT record_id, kind, state, attempts, last_error, body FROM outbox WHERE state IN ('pending', 'dead') ORDER BY seq",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Vec<u8>>(5)?))
        })?;
        rows.map(|row| {
            let (id, kind, state, attempts, last_error, sealed) = row?;
            let body = self.open_body(&id, &kind, &sealed)?;
            let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("outbox id {id:?}")))?;
            Ok((OutboxReport { id, kind, state, attempts, last_error }, body))
        })
        .collect()
    }

    /// The catalog last received from central, with its `ETag`.
    pub fn cached_catalog(&self) -> Result<Option<(Option<String>, Catalog)>, StoreError> {
        let row: Option<(Option<String>, String)> =
            self.conn.query_row("SELECT etag, body FROM catalog WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        row.map(|(etag, body)| {
            let catalog = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("cached catalog: {e}")))?;
            Ok((etag, catalog))
        })
        .transpose()
    }

    /// Replaces the cached catalog in one transaction: readers see the old one or the new one.
    pub fn save_catalog(&mut self, etag: Option<&str>, catalog: &Catalog) -> Result<(), StoreError> {
        let body = serde_json::to_string(catalog).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO catalog (id, etag, body, fetched_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at",
            params![etag, body, millis(Timestamp::now())],
        )?;
        Ok(())
    }

    /// Forgets what central acknowledged before `before`: delivered outbox entries,
    /// acknowledged applications, pickups and queue tickets, and pickups and tickets that
    /// printed nothing. Dead letters
    /// and anything pending are kept. Returns how many records went.
    pub fn purge_acknowledged(&mut self, before: Timestamp) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cutoff = millis(before);
        let pickups = tx.execute(
            "DELETE FROM pickups WHERE (state = 'not-printed' AND started_at < ?1)
                OR (state = 'collected' AND id IN (SELECT record_id FROM outbox WHERE state = 'delivered' AND done_at < ?1))",
            [cutoff],
        )?;
        let tickets = tx.execute(
            "DELETE FROM queue_tickets WHERE (state = 'not-printed' AND issued_at < ?1)
                OR (state = 'issued' AND id IN (SELECT record_id FROM outbox WHERE state = 'delivered' AND done_at < ?1))",
            [cutoff],
        )?;
        let entries = tx.execute("DELETE FROM outbox WHERE state = 'delivered' AND done_at < ?1", [cutoff])?;
        let applications = tx.execute("DELETE FROM applications WHERE state = 'acknowledged' AND acknowledged_at < ?1", [cutoff])?;
        tx.commit()?;
        Ok(pickups + tickets + entries + applications)
    }

    /// The state of a saved application: `queued` until central acknowledged it.
    pub fn application_state(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT state FROM applications WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?)
    }
}

#[cfg(test)]
mod tests;
