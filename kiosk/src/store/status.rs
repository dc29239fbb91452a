//! What this kiosk knows of an application made here, for a citizen checking its status while
//! central cannot be reached: whether it was sent, the state central last gave, whether its
//! certificate is ready here or was collected. Told only to the applicant's date of birth,
//! read from the application's own sealed record; a wrong date and an unknown number get the
//! same answer. Kept as long as the application is (`store.retention_days`).

use balcao_backend_client::api::{ApplicationState, ApplicationSubmission, answered_date_of_birth};
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// An application's status as this kiosk last knew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownStatus {
    pub application_id: uuid::Uuid,
    pub reference: String,
    pub service_id: String,
    pub saved_at: Timestamp,
    /// `None`: not yet sent to central (it waits in the outbox).
    pub central: Option<(ApplicationState, Timestamp)>,
}

impl Store {
    /// The status of the application numbered `reference` made at this kiosk, if
    /// `date_of_birth` (`YYYY-MM-DD`) is its applicant's.
    pub fn known_status(&self, reference: &str, date_of_birth: &str) -> Result<Option<KnownStatus>, StoreError> {
        let reference = super::normalise_reference(reference);
        let row = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.service_id, a.created_at, a.acknowledged_at, a.central_state, o.kind, o.body
                 FROM applications a JOIN outbox o ON o.record_id = a.id WHERE a.reference = ?1",
            )?
            .query_row(params![reference], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                ))
            })
            .optional()?;
        let Some((id, service_id, saved_at, acknowledged_at, central_state, kind, sealed)) = row else { return Ok(None) };
        let submission: ApplicationSubmission = serde_json::from_str(&self.open_body(&id, &kind, &sealed)?)
            .map_err(|e| StoreError::Corrupt(format!("application {id}: {e}")))?;
        if answered_date_of_birth(&submission.answers) != Some(date_of_birth.trim()) {
            return Ok(None);
        }
        let at = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(e.to_string()));
        let mut central = match (acknowledged_at, central_state.as_deref().and_then(ApplicationState::parse)) {
            (Some(ms), Some(state)) => Some((state, at(ms)?)),
            (Some(ms), None) => Some((ApplicationState::Received, at(ms)?)),
            _ => None,
        };
        // Later news from the certificate feed and this kiosk's own pickups.
        let ready: Option<i64> = self
            .conn
            .prepare_cached("SELECT ready_at FROM ready_certificates WHERE application_id = ?1")?
            .query_row([&id], |r| r.get(0))
            .optional()?;
        if let Some(ms) = ready {
            central = Some((ApplicationState::Ready, at(ms)?));
        }
        let collected: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT started_at FROM pickups WHERE application_id = ?1 AND state = 'collected' ORDER BY started_at DESC LIMIT 1",
            )?
            .query_row([&id], |r| r.get(0))
            .optional()?;
        if let Some(ms) = collected {
            central = Some((ApplicationState::Collected, at(ms)?));
        }
        let application_id = uuid::Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("application id {id:?}")))?;
        Ok(Some(KnownStatus { application_id, reference, service_id, saved_at: at(saved_at)?, central }))
    }
}
