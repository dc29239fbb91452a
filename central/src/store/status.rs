//! A citizen's own look at an application: found by the number on the receipt and checked
//! against the applicant's date of birth, never answered for a number alone. A wrong date and
//! an unknown number get the same answer, so a try tells nothing about whether a number exists;
//! wrong tries are counted per number (in the database: every instance sees them), and after
//! [`MAX_WRONG_TRIES`] within [`TRY_WINDOW`] the number answers nothing for [`LOCKED_FOR`].

use std::collections::BTreeMap;

use balcao_backend_client::api::{Answer, ApplicationStatus, answered_date_of_birth, normalise_document_number};
use jiff::{SignedDuration, Timestamp};

use super::db::{Tx, args};
use super::{Store, StoreError, parse_state};

/// The tries of each number, and the index that finds an application by its number.
pub(super) const STATUS_TRIES_SCHEMA: &str = "
    CREATE TABLE status_tries (
        reference TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        first_at BIGINT NOT NULL,
        locked_until BIGINT NOT NULL
    );
    CREATE INDEX applications_reference ON applications(reference);
";

/// The blind index of an applicant's document number on their application: what finds every
/// application of a person whose identity a kiosk has checked (chip or sign-in code), without
/// the number in the database.
pub(super) const HOLDER_INDEX_SCHEMA: &str = "
    ALTER TABLE applications ADD COLUMN holder_index TEXT;
    CREATE INDEX applications_holder ON applications(holder_index);
";

/// The most applications one look-up by holder returns, newest first.
pub const MAX_HOLDER_APPLICATIONS: u32 = 20;
const HOLDER_CONTEXT: &str = "applications/holder-document";

/// The blind index of the document number an application's answers name, if any.
pub(super) fn holder_index_of(store: &Store, answers: &BTreeMap<String, Answer>) -> Option<String> {
    match answers.get("document_number") {
        Some(Answer::Text(number)) => {
            let number = normalise_document_number(number);
            (!number.is_empty()).then(|| store.key.blind_index(HOLDER_CONTEXT, &number))
        }
        _ => None,
    }
}

/// Wrong tries of one number allowed within [`TRY_WINDOW`].
pub const MAX_WRONG_TRIES: i64 = 5;
/// Wrong tries from one address on the public status page within [`TRY_WINDOW`], whatever the
/// numbers: one person trying many numbers. Higher than a number's, since a household or an
/// office shares an address.
pub const MAX_WRONG_TRIES_PER_ADDRESS: i64 = 20;
pub const TRY_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// How long a number answers nothing after too many wrong tries.
pub const LOCKED_FOR: SignedDuration = SignedDuration::from_mins(15);

/// What a look-up by number and date of birth found.
#[derive(Debug, PartialEq, Eq)]
pub enum HolderLookup {
    /// The number exists and the date of birth is its applicant's.
    Found { status: ApplicationStatus, received_at: Timestamp },
    /// No application under this number, or not this applicant's (the same answer).
    NoMatch,
    /// Too many wrong tries of this number: nothing is checked until then.
    Slowed { until: Timestamp },
}

impl Store {
    /// The status of the application numbered `reference`, if `date_of_birth` (`YYYY-MM-DD`)
    /// is its applicant's. A wrong try is counted in the same transaction as the look-up, for
    /// the number and, on the public page, for the `address` it came from.
    pub fn status_for_holder(
        &self,
        reference: &str,
        date_of_birth: &str,
        address: Option<&str>,
        now: Timestamp,
    ) -> Result<HolderLookup, StoreError> {
        let now_ms = now.as_millisecond();
        let mut keys = vec![(reference.to_string(), MAX_WRONG_TRIES)];
        keys.extend(address.map(|a| (format!("address/{a}"), MAX_WRONG_TRIES_PER_ADDRESS)));
        // (A number has no `/`: the two kinds of key never meet.)
        keys.sort();
        self.db.write(|tx| {
            // Tries counted one at a time, on every instance: tries sent at once must not all
            // read the same count. (Locks taken in one order: two requests cannot wait on each
            // other.)
            let mut counters = Vec::new();
            for (key, max) in &keys {
                tx.lock(&format!("status-tries/{key}"))?;
                counters.push(read_tries(tx, key, *max, now_ms)?);
            }
            if let Some(until) = counters.iter().map(|c| c.locked_until).filter(|until| *until > now_ms).max() {
                return Ok(HolderLookup::Slowed { until: timestamp(until)? });
            }
            let found = tx.query_opt(
                "SELECT id, reference, service_id, state, received_at, sealed FROM applications WHERE reference = $1",
                args![reference],
            )?;
            let matched = match found {
                Some(row) => {
                    let (id, sealed): (String, Option<Vec<u8>>) = (row.get(0)?, row.get(5)?);
                    let answers = match sealed {
                        Some(sealed) => Some(self.open_application(&id, &sealed)?.answers),
                        None => None,
                    };
                    let born = answers.as_ref().and_then(answered_date_of_birth);
                    if born == Some(date_of_birth.trim()) { Some(row) } else { None }
                }
                None => None,
            };
            let Some(row) = matched else {
                for counter in &counters {
                    count_wrong_try(tx, counter, now_ms)?;
                }
                return Ok(HolderLookup::NoMatch);
            };
            tx.execute("DELETE FROM status_tries WHERE reference = $1", args![reference])?;
            let (status, received_at) = status_of(tx, &row)?;
            Ok(HolderLookup::Found { status, received_at })
        })
    }

    /// The applications of the holder of `document_number`, newest first, each with when it was
    /// received: for a kiosk that has checked who the citizen is (a chip read and verified, or
    /// the government app's signed code). An application whose answers give a date of birth
    /// other than `date_of_birth` is not theirs (a mistyped number on someone else's form).
    pub fn statuses_for_holder(
        &self,
        document_number: &str,
        date_of_birth: &str,
    ) -> Result<Vec<(ApplicationStatus, Timestamp)>, StoreError> {
        let number = normalise_document_number(document_number);
        if number.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.key.blind_index(HOLDER_CONTEXT, &number);
        self.db.read(|tx| {
            let rows = tx.query(
                "SELECT id, reference, service_id, state, received_at, sealed FROM applications
                 WHERE holder_index = $1 ORDER BY received_at DESC LIMIT $2",
                args![index, MAX_HOLDER_APPLICATIONS],
            )?;
            let mut found = Vec::new();
            for row in rows {
                let id: String = row.get(0)?;
                let Some(sealed) = row.get::<Option<Vec<u8>>>(5)? else { continue };
                let answers = self.open_application(&id, &sealed)?.answers;
                let same_number = matches!(answers.get("document_number"), Some(Answer::Text(n)) if normalise_document_number(n) == number);
                let other_birth = answered_date_of_birth(&answers).is_some_and(|born| born != date_of_birth.trim());
                if same_number && !other_birth {
                    found.push(status_of(tx, &row)?);
                }
            }
            Ok(found)
        })
    }
}

/// Applications indexed per housekeeping run, at most (each one opened and decrypted).
const INDEX_PER_RUN: u32 = 2000;

/// Gives applications stored before the holder index existed theirs ("" where the form names no
/// document number, so they are not read again): `INDEX_PER_RUN` per run of the daily
/// housekeeping. Returns how many were looked at.
pub(super) fn index_holders(store: &Store, tx: &mut Tx<'_>) -> Result<usize, StoreError> {
    let rows =
        tx.query("SELECT id, sealed FROM applications WHERE holder_index IS NULL AND sealed IS NOT NULL LIMIT $1", args![INDEX_PER_RUN])?;
    for row in &rows {
        let (id, sealed): (String, Vec<u8>) = (row.get(0)?, row.get(1)?);
        let index = holder_index_of(store, &store.open_application(&id, &sealed)?.answers).unwrap_or_default();
        tx.execute("UPDATE applications SET holder_index = $2 WHERE id = $1", args![id, index])?;
    }
    Ok(rows.len())
}

pub(super) fn purge_status_tries(tx: &mut Tx<'_>, before: Timestamp) -> Result<usize, StoreError> {
    let before = before.as_millisecond();
    let purged = tx.execute("DELETE FROM status_tries WHERE first_at < $1 AND locked_until < $1", args![before])?;
    Ok(usize::try_from(purged).unwrap_or(usize::MAX))
}

/// Takes the lock on `key`'s wrong tries and reads them (at most [`MAX_WRONG_TRIES`]):
/// `Err(until)` while they keep the key closed.
pub(super) fn check_tries(tx: &mut Tx<'_>, key: &str, at: Timestamp) -> Result<Result<Tries, Timestamp>, StoreError> {
    let now = at.as_millisecond();
    tx.lock(&format!("status-tries/{key}"))?;
    let tries = read_tries(tx, key, MAX_WRONG_TRIES, now)?;
    if tries.locked_until > now {
        return Ok(Err(timestamp(tries.locked_until)?));
    }
    Ok(Ok(tries))
}

/// Counts one wrong try on each of `tries`.
pub(super) fn count_wrong_tries(tx: &mut Tx<'_>, tries: &[Tries], at: Timestamp) -> Result<(), StoreError> {
    for counter in tries {
        count_wrong_try(tx, counter, at.as_millisecond())?;
    }
    Ok(())
}

/// One count of wrong tries: a number's, or an address's (`address/…`).
pub(super) struct Tries {
    key: String,
    max: i64,
    failures: i64,
    first_at: i64,
    locked_until: i64,
}

fn read_tries(tx: &mut Tx<'_>, key: &str, max: i64, now: i64) -> Result<Tries, StoreError> {
    let row = tx.query_opt("SELECT failures, first_at, locked_until FROM status_tries WHERE reference = $1", args![key])?;
    let (failures, first_at, locked_until) = match row {
        Some(row) => (row.get::<i64>(0)?, row.get::<i64>(1)?, row.get::<i64>(2)?),
        None => (0, now, 0),
    };
    Ok(Tries { key: key.to_string(), max, failures, first_at, locked_until })
}

fn count_wrong_try(tx: &mut Tx<'_>, tries: &Tries, now: i64) -> Result<(), StoreError> {
    let reference = tries.key.as_str();
    // A window that has passed starts again with this try.
    let (failures, first_at) =
        if now - tries.first_at > TRY_WINDOW.as_millis() as i64 { (1, now) } else { (tries.failures + 1, tries.first_at) };
    let locked_until = if failures >= tries.max { now + LOCKED_FOR.as_millis() as i64 } else { 0 };
    let (failures, locked_until) = if locked_until > 0 { (0, locked_until) } else { (failures, 0) };
    tx.execute(
        "INSERT INTO status_tries (reference, failures, first_at, locked_until) VALUES ($1, $2, $3, $4)
         ON CONFLICT (reference) DO UPDATE SET failures = excluded.failures, first_at = excluded.first_at,
         locked_until = excluded.locked_until",
        args![reference, failures, first_at, locked_until],
    )?;
    Ok(())
}

/// An application's status from its row (`id, reference, service_id, state, received_at, …`)
/// and its history, with when it was received.
fn status_of(tx: &mut Tx<'_>, row: &super::db::Row) -> Result<(ApplicationStatus, Timestamp), StoreError> {
    let (id, reference, service_id, state, received_at): (String, String, String, String, String) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?);
    let history = history_of(tx, &id)?;
    let application_id = id.parse().map_err(|_| StoreError::Corrupt(format!("application id {id:?}")))?;
    let received_at = received_at.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?;
    Ok((ApplicationStatus { application_id, reference, service_id, state: parse_state(&state)?, history }, received_at))
}

/// An application's changes of state, oldest first.
pub(super) fn history_of(tx: &mut Tx<'_>, id: &str) -> Result<Vec<balcao_backend_client::api::StatusChange>, StoreError> {
    tx.query("SELECT state, at FROM status_history WHERE application_id = $1 ORDER BY rowid", args![id])?
        .iter()
        .map(|row| {
            Ok(balcao_backend_client::api::StatusChange {
                state: parse_state(&row.get::<String>(0)?)?,
                at: row.get::<String>(1)?.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
            })
        })
        .collect()
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(e.to_string()))
}
