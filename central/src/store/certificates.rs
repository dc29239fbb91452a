//! Certificates ready for pickup, the per-centre change feed kiosks follow, and pickups.
//!
//! The feed keeps one row per certificate, at the position of its latest change: replaying a
//! centre's feed from the start gives its current list, and a kiosk that knows position `n`
//! catches up with the rows after `n`. Rows of certificates that left the list are purged
//! after a while; a centre's horizon is the last purged position, and a token before it can
//! no longer be caught up from (410), so the kiosk starts again from the full list.

use std::collections::BTreeMap;

use balcao_backend_client::api::{
    Answer, CertificateChanges, CertificateClaims, DocumentSignature, HolderCheck, PickupRecord, PickupVerdict, ReadyCertificate,
    normalise_document_number,
};
use jiff::Timestamp;
use uuid::Uuid;

use super::db::{Tx, args};
use super::{EMPTY, Store, StoreError, to_json};

/// Each certificate's signatures (see `balcao_backend_client::api::certificate`): the claims of
/// its verification code and the signature of its file, with the file's hash to recognise an
/// uploaded copy. Nothing personal: kept after the document itself is purged.
pub(super) const SIGNATURES_SCHEMA: &str = "
    ALTER TABLE certificates ADD COLUMN claims TEXT;
    ALTER TABLE certificates ADD COLUMN file_signature TEXT;
    ALTER TABLE certificates ADD COLUMN file_sha256 TEXT;
    CREATE INDEX certificates_file ON certificates(file_sha256);
";

/// A certificate as the agency issues it: the PDF, the claims its verification code signs, and
/// the signature of the file.
#[derive(Clone, Debug)]
pub struct IssuedDocument {
    pub pdf: Vec<u8>,
    pub claims: CertificateClaims,
    pub signature: DocumentSignature,
}

/// A certificate as the verification page finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub claims: CertificateClaims,
    /// Still ready for pickup, or collected (`ready`, `collected`).
    pub state: String,
}

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
    #[error("the certificate could not be made: {0}")]
    Document(String),
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
    pub centre_id: String,
    pub collected_at: String,
    pub offline: bool,
    pub duplicate: bool,
}

fn epoch(tx: &mut Tx<'_>) -> Result<String, StoreError> {
    tx.query_one("SELECT value FROM meta WHERE key = 'epoch'", args![])?.get(0)
}

impl Store {
    /// Issues the certificate of an application: it becomes ready for pickup at the centre the
    /// application was made at, and enters that centre's feed. `document` makes and signs it
    /// from the application's service id, number and answers (read and opened here once).
    pub fn issue_certificate(
        &self,
        application_id: Uuid,
        document: impl Fn(&str, &str, &BTreeMap<String, Answer>) -> Result<IssuedDocument, String> + Sync,
        salt: [u8; 16],
    ) -> Result<(), IssueError> {
        let id = application_id.to_string();
        self.db.write(|tx| {
            let row = tx.query_opt("SELECT centre_id, reference, service_id, sealed FROM applications WHERE id = $1", args![id])?;
            let Some(row) = row else { return Err(IssueError::UnknownApplication(application_id)) };
            let (centre, reference, service_id, sealed): (String, String, String, Option<Vec<u8>>) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            // An application whose personal data was purged has no holder left to check.
            let Some(sealed) = sealed else { return Err(IssueError::NoHolder(application_id)) };
            let answers = self.open_application(&id, &sealed)?.answers;
            let Some(Answer::Text(number)) =
                answers.get("document_number").filter(|a| matches!(a, Answer::Text(n) if !normalise_document_number(n).is_empty()))
            else {
                return Err(IssueError::NoHolder(application_id));
            };
            let holder = to_json(&HolderCheck::new(salt, number))?;
            let now = Timestamp::now();
            let issued = document(&service_id, &reference, &answers).map_err(IssueError::Document)?;
            let (holder, document) = self.seal_certificate(&id, holder.as_bytes(), &issued.pdf)?;
            let (claims, signature) = (to_json(&issued.claims)?, to_json(&issued.signature)?);
            tx.execute(
                "INSERT INTO certificates (application_id, centre_id, reference, service_id, holder, document, sealed_holder, sealed_document, ready_at, state,
                     claims, file_signature, file_sha256)
                 VALUES ($1, $2, $3, $4, '', $8, $5, $6, $7, 'ready', $9, $10, $11)
                 ON CONFLICT (application_id) DO UPDATE SET sealed_holder = excluded.sealed_holder, sealed_document = excluded.sealed_document,
                     ready_at = excluded.ready_at, state = 'ready', claims = excluded.claims, file_signature = excluded.file_signature,
                     file_sha256 = excluded.file_sha256",
                args![id, centre, reference, service_id, holder, document, now.to_string(), EMPTY, claims, signature, issued.signature.sha256],
            )?;
            feed_change(tx, &centre, &id, "ready", now)?;
            tx.execute("UPDATE applications SET state = 'ready' WHERE id = $1", args![id])?;
            tx.execute("INSERT INTO status_history (application_id, state, at) VALUES ($1, 'ready', $2)", args![id, now.to_string()])?;
            Ok(())
        })
    }

    /// A page of the centre's feed after `since` (the full list without it), at most `limit`
    /// entries long.
    pub fn certificate_changes(&self, centre: &str, since: Option<&str>, limit: usize) -> Result<CertificateChanges, FeedError> {
        let page = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let (epoch, horizon, after, listing, rows) = self.db.read(|tx| {
            let epoch = epoch(tx)?;
            let horizon: i64 =
                tx.query_one("SELECT COALESCE((SELECT seq FROM feed_horizon WHERE centre_id = $1), 0)", args![centre])?.get(0)?;
            // A page of the full list continues it ("<epoch>.<n>.full"): it skips what left the
            // list and is not held to the horizon, since the kiosk replaces its whole list anyway.
            let (after, listing) = match since {
                None => (0, true),
                Some(token) => {
                    let Some(Position { seq, listing }) = parse_token(token, &epoch) else { return Err(FeedError::Expired) };
                    let issued: i64 = tx.query_one("SELECT COALESCE(MAX(seq), 0) FROM certificate_feed", args![])?.get(0)?;
                    if (seq < horizon && !listing) || seq > issued.max(horizon) {
                        return Err(FeedError::Expired);
                    }
                    (seq, listing)
                }
            };
            let rows = tx.query(
                "SELECT f.seq, f.application_id, f.change, c.reference, c.service_id, c.sealed_holder, c.sealed_document, c.ready_at,
                     c.file_signature
                 FROM certificate_feed f JOIN certificates c ON c.application_id = f.application_id
                 WHERE f.centre_id = $1 AND f.seq > $2 ORDER BY f.seq LIMIT $3",
                args![centre, after, page],
            )?;
            Ok((epoch, horizon, after, listing, rows))
        })?;
        let mut changes =
            CertificateChanges { token: String::new(), reset: since.is_none(), ready: Vec::new(), gone: Vec::new(), more: false };
        let mut last = after;
        for (seen, row) in rows.iter().enumerate() {
            if seen == limit {
                changes.more = true;
                break;
            }
            last = row.get(0)?;
            let id: String = row.get(1)?;
            let application_id = id.parse().map_err(|_| StoreError::Corrupt(format!("certificate id {id}")))?;
            if row.get::<String>(2)? != "ready" {
                // The full list names only what is there; a catch-up also names what left.
                if !listing {
                    changes.gone.push(application_id);
                }
                continue;
            }
            let (Some(holder), Some(document)) = (row.get::<Option<Vec<u8>>>(5)?, row.get::<Option<Vec<u8>>>(6)?) else {
                return Err(StoreError::Corrupt(format!("certificate {id} ready but purged")).into());
            };
            let (holder, document) = self.open_certificate(&id, &holder, &document)?;
            changes.ready.push(ReadyCertificate {
                application_id,
                reference: row.get(3)?,
                service_id: row.get(4)?,
                holder: serde_json::from_slice(&holder).map_err(|e| StoreError::Corrupt(format!("holder: {e}")))?,
                ready_at: row.get::<String>(7)?.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
                document_pdf: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, document),
                signature: row
                    .get::<Option<String>>(8)?
                    .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("certificate {id} signature: {e}"))))
                    .transpose()?,
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

    /// The certificate a verification code names (its document id), if central issued it.
    pub fn issued_certificate(&self, document_id: Uuid) -> Result<Option<IssuedCertificate>, StoreError> {
        let row = self
            .db
            .read(|tx| tx.query_opt("SELECT claims, state FROM certificates WHERE application_id = $1", args![document_id.to_string()]))?;
        row.map(|row| issued(&row)).transpose().map(Option::flatten)
    }

    /// The certificate whose file has this SHA-256 (hex), if central issued one.
    pub fn certificate_by_file(&self, sha256: &str) -> Result<Option<IssuedCertificate>, StoreError> {
        let row = self.db.read(|tx| tx.query_opt("SELECT claims, state FROM certificates WHERE file_sha256 = $1", args![sha256]))?;
        row.map(|row| issued(&row)).transpose().map(Option::flatten)
    }

    /// Forgets the feed rows of certificates that left the list before `before`; tokens from
    /// before the newest forgotten row then get 410.
    pub fn purge_feed(&self, before: Timestamp) -> Result<usize, StoreError> {
        self.db.write(|tx| purge_feed(tx, before))
    }

    /// Files a pickup a kiosk reports. The first pickup of a certificate takes it off its
    /// centre's list; a later one with another id is kept too, flagged as a duplicate. Filing
    /// the same pickup again changes nothing and gets the same verdict. Two pickups of one
    /// certificate filed at once, on one instance or two, take turns: one is first.
    pub fn record_pickup(&self, pickup: &PickupRecord) -> Result<PickupFiled, StoreError> {
        let body = to_json(pickup)?;
        let outcome = to_json(&pickup.outcome)?;
        let (id, application) = (pickup.pickup_id.to_string(), pickup.application_id.to_string());
        self.db.write(|tx| {
            tx.lock(&format!("certificate/{application}"))?;
            tx.lock(&format!("pickup/{id}"))?;
            if let Some(row) = tx.query_opt("SELECT body, duplicate FROM pickups WHERE pickup_id = $1", args![id])? {
                let (stored, duplicate): (String, bool) = (row.get(0)?, row.get(1)?);
                return Ok(if stored == body { PickupFiled::Filed(verdict(duplicate)) } else { PickupFiled::IdReused });
            }
            let certificate = tx.query_opt("SELECT centre_id, state FROM certificates WHERE application_id = $1", args![application])?;
            let certificate = certificate.map(|row| Ok::<_, StoreError>((row.get::<String>(0)?, row.get::<String>(1)?))).transpose()?;
            // Another centre's certificate is none of this kiosk's business: refused exactly as
            // one that does not exist, so the answer tells nothing of other centres.
            let Some((centre, state)) = certificate.filter(|(centre, _)| *centre == pickup.centre_id) else {
                return Ok(PickupFiled::UnknownCertificate);
            };
            let duplicate: bool =
                tx.query_one("SELECT EXISTS (SELECT 1 FROM pickups WHERE application_id = $1)", args![application])?.get(0)?;
            let now = Timestamp::now();
            tx.execute(
                "INSERT INTO pickups (pickup_id, application_id, kiosk_id, centre_id, outcome, offline, collected_at, received_at, duplicate, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    id,
                    application,
                    pickup.kiosk_id,
                    pickup.centre_id,
                    outcome.trim_matches('"'),
                    pickup.offline,
                    pickup.collected_at.to_string(),
                    now.to_string(),
                    duplicate,
                    body
                ],
            )?;
            if state == "ready" {
                tx.execute("UPDATE certificates SET state = 'collected' WHERE application_id = $1", args![application])?;
                tx.execute("UPDATE applications SET state = 'collected' WHERE id = $1", args![application])?;
                tx.execute(
                    "INSERT INTO status_history (application_id, state, at) VALUES ($1, 'collected', $2)",
                    args![application, now.to_string()],
                )?;
                feed_change(tx, &centre, &application, "gone", now)?;
            }
            Ok(PickupFiled::Filed(verdict(duplicate)))
        })
    }

    /// Pickups, newest first; `duplicates_only` for the ones staff must look at.
    pub fn recent_pickups(&self, limit: u32, duplicates_only: bool) -> Result<Vec<PickupRow>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query(
                "SELECT p.pickup_id, p.application_id, COALESCE(c.reference, ''), p.kiosk_id, p.collected_at, p.offline, p.duplicate, p.centre_id
                 FROM pickups p LEFT JOIN certificates c ON c.application_id = p.application_id
                 WHERE p.duplicate <> 0 OR $2 = 0 ORDER BY p.received_at DESC, p.rowid DESC LIMIT $1",
                args![limit, duplicates_only],
            )
        })?;
        let uuid = |s: String| s.parse::<Uuid>().map_err(|_| StoreError::Corrupt(format!("id {s}")));
        rows.iter()
            .map(|row| {
                Ok(PickupRow {
                    pickup_id: uuid(row.get(0)?)?,
                    application_id: uuid(row.get(1)?)?,
                    reference: row.get(2)?,
                    kiosk_id: row.get(3)?,
                    centre_id: row.get(7)?,
                    collected_at: row.get(4)?,
                    offline: row.get(5)?,
                    duplicate: row.get(6)?,
                })
            })
            .collect()
    }
}

pub(super) fn purge_feed(tx: &mut Tx<'_>, before: Timestamp) -> Result<usize, StoreError> {
    tx.execute(
        "INSERT INTO feed_horizon (centre_id, seq)
         SELECT centre_id, MAX(seq) FROM certificate_feed WHERE change = 'gone' AND at < $1 GROUP BY centre_id
         ON CONFLICT (centre_id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > feed_horizon.seq",
        args![before.as_millisecond()],
    )?;
    Ok(tx.execute("DELETE FROM certificate_feed WHERE change = 'gone' AND at < $1", args![before.as_millisecond()])? as usize)
}

fn verdict(duplicate: bool) -> PickupVerdict {
    if duplicate { PickupVerdict::Duplicate } else { PickupVerdict::Recorded }
}

/// Moves the certificate's feed row to the end of the feed with its new state. Writers of a
/// centre's feed take turns until they commit, so positions are committed in the order they
/// are given: a kiosk that read up to position `n` never misses a row committed later below it.
fn feed_change(tx: &mut Tx<'_>, centre: &str, application_id: &str, change: &str, at: Timestamp) -> Result<(), StoreError> {
    tx.lock(&format!("feed/{centre}"))?;
    tx.execute("DELETE FROM certificate_feed WHERE application_id = $1", args![application_id])?;
    tx.execute(
        "INSERT INTO certificate_feed (centre_id, application_id, change, at) VALUES ($1, $2, $3, $4)",
        args![centre, application_id, change, at.as_millisecond()],
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

/// A certificate row's claims and state (`None` for one issued before certificates were signed).
fn issued(row: &super::db::Row) -> Result<Option<IssuedCertificate>, StoreError> {
    let Some(claims) = row.get::<Option<String>>(0)? else { return Ok(None) };
    let claims = serde_json::from_str(&claims).map_err(|e| StoreError::Corrupt(format!("certificate claims: {e}")))?;
    Ok(Some(IssuedCertificate { claims, state: row.get(1)? }))
}
