//! Certificates ready for pickup, the per-centre change feed kiosks follow, and pickups.
//!
//! The feed keeps one row per certificate, at the position of its latest change: replaying a
//! centre's feed from the start gives its current list, and a kiosk that knows position `n`
//! catches up with the rows after `n`. Rows of certificates that left the list are purged
//! after a while; a centre's horizon is the last purged position, and a token before it can
//! no longer be caught up from (410), so the kiosk starts again from the full list.

use balcao_backend_client::api::{
    Answer, CertificateChanges, HolderCheck, PickupRecord, PickupVerdict, ReadyCertificate, normalise_document_number,
};
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Store, StoreError, to_json};

/// A position in a centre's feed, as kiosks carry it: `<database epoch>.<position>`, with
/// `.full` while the full list is being paged through. The epoch makes a token from another
/// database (restored, or replaced) unknown rather than wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    seq: i64,
    listing: bool,
}

/// Why a feed request cannot be answered from the token.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The token is older than what central keeps, or from another database.
    #[error("the sync token is no longer valid; start again without one")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a certificate could not be marked ready.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no application {0}")]
    UnknownApplication(Uuid),
    #[error("application {0} has no document number to check the holder against")]
    NoHolder(Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What central answers a pickup with, or why it refuses it.
#[derive(Debug)]
pub enum PickupFiled {
    Filed(PickupVerdict),
    /// No certificate was ever issued for this application at the kiosk's centre.
    UnknownCertificate,
    /// This pickup id was filed before with another record (a kiosk bug).
    IdReused,
}

/// A pickup as the console lists it.
#[derive(Clone, Debug)]
pub struct PickupRow {
    pub pickup_id: Uuid,
    pub application_id: Uuid,
    pub reference: String,
    pub kiosk_id: String,
    pub collected_at: String,
    pub offline: bool,
    pub duplicate: bool,
}

impl Store {
    fn epoch(conn: &rusqlite::Connection) -> Result<String, StoreError> {
        Ok(conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| r.get(0))?)
    }

    /// Issues the certificate of an application: it becomes ready for pickup at the centre the
    /// application was made at, and enters that centre's feed.
    pub fn issue_certificate(&self, application_id: Uuid, document_pdf: &[u8], salt: [u8; 16]) -> Result<(), IssueError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let row: Option<(String, String, String, Option<Vec<u8>>)> = tx
            .query_row(
                "SELECT centre_id, reference, service_id, sealed FROM applications WHERE id = ?1",
                [application_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(StoreError::from)?;
        let Some((centre, reference, service_id, sealed)) = row else { return Err(IssueError::UnknownApplication(application_id)) };
        // An application whose personal data was purged has no holder left to check.
        let Some(sealed) = sealed else { return Err(IssueError::NoHolder(application_id)) };
        let answers = self.open_application(&application_id.to_string(), &sealed)?.answers;
        let Some(Answer::Text(number)) =
            answers.get("document_number").filter(|a| matches!(a, Answer::Text(n) if !normalise_document_number(n).is_empty()))
        else {
            return Err(IssueError::NoHolder(application_id));
        };
        let holder = to_json(&HolderCheck::new(salt, number))?;
        let now = Timestamp::now();
        let id = application_id.to_string();
        let (holder, document) = self.seal_certificate(&id, holder.as_bytes(), document_pdf)?;
        tx.execute(
            "INSERT INTO certificates (application_id, centre_id, reference, service_id, holder, document, sealed_holder, sealed_document, ready_at, state)
             VALUES (?1, ?2, ?3, ?4, '', x'', ?5, ?6, ?7, 'ready')
             ON CONFLICT (application_id) DO UPDATE SET sealed_holder = excluded.sealed_holder, sealed_document = excluded.sealed_document,
                 ready_at = excluded.ready_at, state = 'ready'",
            params![id, centre, reference, service_id, holder, document, now.to_string()],
        )
        .map_err(StoreError::from)?;
        feed_change(&tx, &centre, &id, "ready", now)?;
        tx.execute("UPDATE applications SET state = 'ready' WHERE id = ?1", [&id]).map_err(StoreError::from)?;
        tx.execute("INSERT INTO status_history (application_id, state, at) VALUES (?1, 'ready', ?2)", params![id, now.to_string()])
            .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(())
    }

    /// A page of the centre's feed after `since` (the full list without it), at most `limit`
    /// entries long.
    pub fn certificate_changes(&self, centre: &str, since: Option<&str>, limit: usize) -> Result<CertificateChanges, FeedError> {
        let conn = self.conn();
        let epoch = Self::epoch(&conn)?;
        let horizon: i64 = conn
            .query_row("SELECT COALESCE((SELECT seq FROM feed_horizon WHERE centre_id = ?1), 0)", [centre], |r| r.get(0))
            .map_err(StoreError::from)?;
        // A page of the full list continues it ("<epoch>.<n>.full"): it skips what left the
        // list and is not held to the horizon, since the kiosk replaces its whole list anyway.
        let (after, listing) = match since {
            None => (0, true),
            Some(token) => {
                let Some(Position { seq, listing }) = parse_token(token, &epoch) else { return Err(FeedError::Expired) };
                let issued: i64 =
                    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM certificate_feed", [], |r| r.get(0)).map_err(StoreError::from)?;
                if (seq < horizon && !listing) || seq > issued.max(horizon) {
                    return Err(FeedError::Expired);
                }
                (seq, listing)
            }
        };
        let reset = since.is_none();
        let mut statement = conn
            .prepare_cached(
                "SELECT f.seq, f.application_id, f.change, c.reference, c.service_id, c.sealed_holder, c.sealed_document, c.ready_at
                 FROM certificate_feed f JOIN certificates c ON c.application_id = f.application_id
                 WHERE f.centre_id = ?1 AND f.seq > ?2 ORDER BY f.seq LIMIT ?3",
            )
            .map_err(StoreError::from)?;
        let mut rows = statement.query(params![centre, after, limit as i64 + 1]).map_err(StoreError::from)?;
        let mut changes = CertificateChanges { token: String::new(), reset, ready: Vec::new(), gone: Vec::new(), more: false };
        let mut last = after;
        let mut seen = 0;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            if seen == limit {
                changes.more = true;
                break;
            }
            seen += 1;
            last = row.get(0).map_err(StoreError::from)?;
            let id: String = row.get(1).map_err(StoreError::from)?;
            let application_id = id.parse().map_err(|_| StoreError::Corrupt(format!("certificate id {id}")))?;
            let change: String = row.get(2).map_err(StoreError::from)?;
            if change != "ready" {
                // The full list names only what is there; a catch-up also names what left.
                if !listing {
                    changes.gone.push(application_id);
                }
                continue;
            }
            let holder: Option<Vec<u8>> = row.get(5).map_err(StoreError::from)?;
            let document: Option<Vec<u8>> = row.get(6).map_err(StoreError::from)?;
            let (Some(holder), Some(document)) = (holder, document) else {
                return Err(StoreError::Corrupt(format!("certificate {id} ready but purged")).into());
            };
            let (holder, document) = self.open_certificate(&id, &holder, &document)?;
            let ready_at: String = row.get(7).map_err(StoreError::from)?;
            changes.ready.push(ReadyCertificate {
                application_id,
                reference: row.get(3).map_err(StoreError::from)?,
                service_id: row.get(4).map_err(StoreError::from)?,
                holder: serde_json::from_slice(&holder).map_err(|e| StoreError::Corrupt(format!("holder: {e}")))?,
                ready_at: ready_at.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
                document_pdf: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, document),
            });
        }
        changes.token = match (listing, changes.more) {
            (true, true) => format!("{epoch}.{last}.full"),
            // The end of the full list: from here on, catch up (never from before the horizon).
            (true, false) => format!("{epoch}.{}", last.max(horizon)),
            (false, _) => format!("{epoch}.{last}"),
        };
        Ok(changes)
    }

    /// Forgets the feed rows of certificates that left the list before `before`; tokens from
    /// before the newest forgotten row then get 410.
    pub fn purge_feed(&self, before: Timestamp) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO feed_horizon (centre_id, seq)
             SELECT centre_id, MAX(seq) FROM certificate_feed WHERE change = 'gone' AND at < ?1 GROUP BY centre_id
             ON CONFLICT (centre_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            [before.as_millisecond()],
        )?;
        let purged = tx.execute("DELETE FROM certificate_feed WHERE change = 'gone' AND at < ?1", [before.as_millisecond()])?;
        tx.commit()?;
        Ok(purged)
    }

    /// Files a pickup a kiosk reports. The first pickup of a certificate takes it off its
    /// centre's list; a later one with another id is kept too, flagged as a duplicate. Filing
    /// the same pickup again changes nothing and gets the same verdict.
    pub fn record_pickup(&self, pickup: &PickupRecord) -> Result<PickupFiled, StoreError> {
        let body = to_json(pickup)?;
        let (id, application) = (pickup.pickup_id.to_string(), pickup.application_id.to_string());
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let before: Option<(String, bool)> =
            tx.query_row("SELECT body, duplicate FROM pickups WHERE pickup_id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        if let Some((stored, duplicate)) = before {
            return Ok(if stored == body { PickupFiled::Filed(verdict(duplicate)) } else { PickupFiled::IdReused });
        }
        let certificate: Option<(String, String)> = tx
            .query_row("SELECT centre_id, state FROM certificates WHERE application_id = ?1", [&application], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        // Another centre's certificate is none of this kiosk's business: refused exactly as one
        // that does not exist, so the answer tells nothing of other centres.
        let Some((centre, state)) = certificate.filter(|(centre, _)| *centre == pickup.centre_id) else {
            return Ok(PickupFiled::UnknownCertificate);
        };
        let duplicate: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM pickups WHERE application_id = ?1)", [&application], |r| r.get(0))?;
        let now = Timestamp::now();
        tx.execute(
            "INSERT INTO pickups (pickup_id, application_id, kiosk_id, centre_id, outcome, offline, collected_at, received_at, duplicate, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                application,
                pickup.kiosk_id,
                pickup.centre_id,
                to_json(&pickup.outcome)?.trim_matches('"'),
                pickup.offline,
                pickup.collected_at.to_string(),
                now.to_string(),
                duplicate,
                body
            ],
        )?;
        if state == "ready" {
            tx.execute("UPDATE certificates SET state = 'collected' WHERE application_id = ?1", [&application])?;
            tx.execute("UPDATE applications SET state = 'collected' WHERE id = ?1", [&application])?;
            tx.execute(
                "INSERT INTO status_history (application_id, state, at) VALUES (?1, 'collected', ?2)",
                params![application, now.to_string()],
            )?;
            feed_change(&tx, &centre, &application, "gone", now)?;
        }
        tx.commit()?;
        Ok(PickupFiled::Filed(verdict(duplicate)))
    }

    /// Pickups, newest first; `duplicates_only` for the ones staff must look at.
    pub fn recent_pickups(&self, limit: u32, duplicates_only: bool) -> Result<Vec<PickupRow>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT p.pickup_id, p.application_id, COALESCE(c.reference, ''), p.kiosk_id, p.collected_at, p.offline, p.duplicate
             FROM pickups p LEFT JOIN certificates c ON c.application_id = p.application_id
             WHERE p.duplicate OR NOT ?2 ORDER BY p.received_at DESC, p.rowid DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit, duplicates_only], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })?;
        rows.map(|row| {
            let (pickup, application, reference, kiosk_id, collected_at, offline, duplicate) = row?;
            let uuid = |s: &str| s.parse::<Uuid>().map_err(|_| StoreError::Corrupt(format!("id {s}")));
            Ok(PickupRow {
                pickup_id: uuid(&pickup)?,
                application_id: uuid(&application)?,
                reference,
                kiosk_id,
                collected_at,
                offline,
                duplicate,
            })
        })
        .collect()
    }
}

fn verdict(duplicate: bool) -> PickupVerdict {
    if duplicate { PickupVerdict::Duplicate } else { PickupVerdict::Recorded }
}

/// Moves the certificate's feed row to the end of the feed with its new state.
fn feed_change(tx: &rusqlite::Transaction<'_>, centre: &str, application_id: &str, change: &str, at: Timestamp) -> Result<(), StoreError> {
    tx.execute("DELETE FROM certificate_feed WHERE application_id = ?1", [application_id])?;
    tx.execute(
        "INSERT INTO certificate_feed (centre_id, application_id, change, at) VALUES (?1, ?2, ?3, ?4)",
        params![centre, application_id, change, at.as_millisecond()],
    )?;
    Ok(())
}

fn parse_token(token: &str, epoch: &str) -> Option<Position> {
    let mut parts = token.split('.');
    (parts.next()? == epoch).then_some(())?;
    let seq = parts.next()?.parse().ok().filter(|s: &i64| *s >= 0)?;
    let listing = match parts.next() {
        None => false,
        Some("full") => true,
        Some(_) => return None,
    };
    parts.next().is_none().then_some(Position { seq, listing })
}
