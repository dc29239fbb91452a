//! Certificates ready for pickup at this centre, kept so they can be handed out while central
//! cannot be reached, and the pickups made here.
//!
//! A pickup is written before its certificate goes to the printer (`printing`), and becomes
//! `collected` with its outbox entry in one transaction once the printer reported the job
//! done. One found still `printing` at start-up was cut short by a crash: the certificate may
//! have come out, so it is reported as such (`uncertain`) and not handed out again here.

use balcao_backend_client::api::{
    CertificateRefusal, HolderCheck, IssuerKeys, PickupOutcome, PickupRecord, ReadyCertificate, verify_document,
};
use base64::Engine;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{KioskPlace, Store, StoreError, enqueue, millis, still_printing};
use crate::runtime::sync::DOCUMENT_KEYS;

/// What the session needs to know of a certificate to hand it out: no document.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    pub application_id: Uuid,
    pub reference: String,
    pub service_id: String,
    pub holder: HolderCheck,
}

impl std::fmt::Debug for CertificateSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateSummary").field("application_id", &self.application_id).finish_non_exhaustive()
    }
}

fn certificate_context(application_id: &str) -> String {
    format!("ready_certificates/{application_id}")
}

/// A receipt number as looked up: trimmed, upper case.
pub fn normalise_reference(reference: &str) -> String {
    reference.trim().to_ascii_uppercase()
}

impl Store {
    /// Reference data last received from central under `name`, with its `ETag`.
    pub fn reference_data(&self, name: &str) -> Result<Option<(Option<String>, String)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT etag, body FROM reference_data WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    pub fn save_reference_data(&mut self, name: &str, etag: Option<&str>, body: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO reference_data (name, etag, body, fetched_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, body = excluded.body, fetched_at = excluded.fetched_at",
            params![name, etag, body, millis(Timestamp::now())],
        )?;
        Ok(())
    }

    /// The token to follow the feed of ready certificates from; none before the first sync.
    pub fn certificate_sync_token(&self) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT token FROM certificate_sync WHERE id = 1", [], |r| r.get(0)).optional()?)
    }

    /// Applies what the feed said, with its new token, in one transaction: the session sees
    /// the list before or after, never half of it. With `reset`, the list replaces what was
    /// there. A certificate this kiosk has handed out (or was printing when it stopped) is
    /// never taken back in, even while central still lists it.
    pub fn apply_certificate_changes(
        &mut self,
        reset: bool,
        ready: &[ReadyCertificate],
        gone: &[Uuid],
        token: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if reset {
            tx.execute("DELETE FROM ready_certificates", [])?;
        }
        for id in gone {
            tx.prepare_cached("DELETE FROM ready_certificates WHERE application_id = ?1")?.execute([id.to_string()])?;
        }
        for certificate in ready {
            let id = certificate.application_id.to_string();
            let handed_out: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM pickups WHERE application_id = ?1 AND state IN ('printing', 'collected'))")?
                .query_row([&id], |r| r.get(0))?;
            if handed_out {
                continue;
            }
            let json = serde_json::to_vec(certificate).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let sealed = self.key.seal(&certificate_context(&id), &json)?;
            // A reference reused by another certificate (it should not happen) replaces it.
            let reference = normalise_reference(&certificate.reference);
            tx.prepare_cached("DELETE FROM ready_certificates WHERE reference = ?1 AND application_id <> ?2")?
                .execute(params![reference, id])?;
            tx.prepare_cached(
                "INSERT INTO ready_certificates (application_id, reference, service_id, ready_at, sealed) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (application_id) DO UPDATE SET reference = excluded.reference, service_id = excluded.service_id,
                     ready_at = excluded.ready_at, sealed = excluded.sealed",
            )?
            .execute(params![
                id,
                normalise_reference(&certificate.reference),
                certificate.service_id,
                millis(certificate.ready_at),
                sealed
            ])?;
        }
        tx.execute(
            "INSERT INTO certificate_sync (id, token) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET token = excluded.token",
            [token],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn cached_certificate(&self, clause: &str, value: &str) -> Result<Option<ReadyCertificate>, StoreError> {
        let sql = format!("SELECT application_id, sealed FROM ready_certificates WHERE {clause} = ?1");
        let row: Option<(String, Vec<u8>)> =
            self.conn.prepare_cached(&sql)?.query_row([value], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        let Some((id, sealed)) = row else { return Ok(None) };
        let plain = self.key.open(&certificate_context(&id), &sealed).map_err(|e| StoreError::Corrupt(format!("certificate {id}: {e}")))?;
        serde_json::from_slice(&plain).map(Some).map_err(|e| StoreError::Corrupt(format!("cached certificate {id}: {e}")))
    }

    /// The certificate ready here under the number on a receipt.
    pub fn find_certificate(&self, reference: &str) -> Result<Option<CertificateSummary>, StoreError> {
        Ok(self.cached_certificate("reference", &normalise_reference(reference))?.map(|c| CertificateSummary {
            application_id: c.application_id,
            reference: c.reference,
            service_id: c.service_id,
            holder: c.holder,
        }))
    }

    /// The printable document of a certificate ready here, checked at `now` against the
    /// agency's keys this kiosk holds: `Err` (why) for a file that is not the one the agency
    /// signed, comes with no signature, or is signed by a key this kiosk does not know.
    pub fn certificate_document(
        &self,
        application_id: Uuid,
        now: jiff::Timestamp,
    ) -> Result<Option<Result<Vec<u8>, CertificateRefusal>>, StoreError> {
        let Some(certificate) = self.cached_certificate("application_id", &application_id.to_string())? else { return Ok(None) };
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(certificate.document_pdf)
            .map_err(|e| StoreError::Corrupt(format!("certificate document {application_id}: {e}")))?;
        let keys = match self.reference_data(DOCUMENT_KEYS)? {
            Some((_, body)) => {
                Some(serde_json::from_str::<IssuerKeys>(&body).map_err(|e| StoreError::Corrupt(format!("cached document keys: {e}")))?)
            }
            None => None,
        };
        let checked = match (&certificate.signature, keys) {
            (Some(signature), Some(keys)) => verify_document(&pdf, signature, &keys, now),
            (None, _) => Err(CertificateRefusal::Malformed),
            // The keys never reached this kiosk: nothing can be checked.
            (Some(_), None) => Err(CertificateRefusal::UnknownKey),
        };
        Ok(Some(checked.map(|()| pdf)))
    }

    /// How many certificates can be handed out here.
    pub fn ready_certificate_count(&self) -> Result<u32, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM ready_certificates", [], |r| r.get(0))?)
    }

    /// Records, durably, that a certificate is about to be printed; returns the pickup's id.
    pub fn begin_pickup(&mut self, application_id: Uuid, offline: bool) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        self.conn.execute(
            "INSERT INTO pickups (id, application_id, started_at, state, offline) VALUES (?1, ?2, ?3, 'printing', ?4)",
            params![id.to_string(), application_id.to_string(), millis(Timestamp::now()), offline],
        )?;
        Ok(id)
    }

    /// The certificate came out (or may have, for `Uncertain`): the pickup is recorded, queued
    /// for central and the certificate leaves this kiosk's list, in one transaction.
    pub fn finish_pickup(&mut self, pickup_id: Uuid, outcome: PickupOutcome, place: KioskPlace<'_>) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = pickup_id.to_string();
        let row: Option<(String, bool)> = tx
            .query_row("SELECT application_id, offline FROM pickups WHERE id = ?1 AND state = 'printing'", [&id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((application_id, offline)) = row else { return Err(StoreError::Corrupt(format!("no pickup {id} in progress"))) };
        let record = PickupRecord {
            pickup_id,
            application_id: application_id.parse().map_err(|_| StoreError::Corrupt(format!("application id {application_id}")))?,
            kiosk_id: place.kiosk_id.to_string(),
            centre_id: place.centre_id.to_string(),
            outcome,
            offline,
            collected_at: Timestamp::now(),
        };
        tx.execute("UPDATE pickups SET state = 'collected' WHERE id = ?1", [&id])?;
        tx.execute("DELETE FROM ready_certificates WHERE application_id = ?1", [&application_id])?;
        enqueue(&tx, &self.key, &id, "pickup", &record, millis(Timestamp::now()))?;
        tx.commit()?;
        Ok(())
    }

    /// The printer failed before anything came out: nothing was handed out, and the
    /// certificate stays available.
    pub fn abandon_pickup(&mut self, pickup_id: Uuid) -> Result<(), StoreError> {
        self.conn.execute("UPDATE pickups SET state = 'not-printed' WHERE id = ?1 AND state = 'printing'", [pickup_id.to_string()])?;
        Ok(())
    }

    /// Pickups cut short while printing (by a crash or a power cut).
    pub fn interrupted_pickups(&self) -> Result<Vec<Uuid>, StoreError> {
        still_printing(&self.conn, "pickups")
    }
}
