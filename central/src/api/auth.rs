//! Which kiosk is calling, and from which centre. Every API route needs a kiosk certificate
//! (mutual TLS, see `tls.rs`) that was not revoked; a write must come from the kiosk and centre
//! it names, so a kiosk cannot file records in another kiosk's or centre's name, nor read
//! another centre's data.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jiff::Timestamp;

use super::{ApiError, AppState};
use crate::tls::{KioskName, Peer};

/// How long this instance trusts its copy of the revocations: a kiosk revoked through another
/// instance is refused here within this time (through this one, at once).
pub const REVOCATIONS_FRESH: Duration = Duration::from_secs(1);

/// The revoked kiosks as this instance last read them (see `store::enrollment`): every
/// request of every kiosk is checked against them, and the database is read at most once per
/// [`REVOCATIONS_FRESH`] for it.
#[derive(Debug, Default)]
pub struct Revocations {
    held: tokio::sync::Mutex<Option<(Instant, Arc<Revoked>)>>,
}

/// Each revoked kiosk, with the moment before which its certificates are refused.
pub type Revoked = HashMap<String, Timestamp>;

impl Revocations {
    async fn current(&self, state: &Arc<AppState>) -> Result<Arc<Revoked>, ApiError> {
        let mut held = self.held.lock().await;
        if let Some((at, revoked)) = &*held
            && at.elapsed() < REVOCATIONS_FRESH
        {
            return Ok(revoked.clone());
        }
        let reading = state.clone();
        let revoked = Arc::new(super::blocking(move || reading.store.revocations()).await??);
        *held = Some((Instant::now(), revoked.clone()));
        Ok(revoked)
    }

    /// Forgets the copy, so the next request reads the revocations again (after this instance
    /// revoked a kiosk).
    pub async fn forget(&self) {
        *self.held.lock().await = None;
    }
}

/// Whether `kiosk`'s certificate was issued before its kiosk was revoked.
pub fn revoked(kiosk: &KioskName, revocations: &Revoked) -> bool {
    revocations.get(&kiosk.kiosk_id).is_some_and(|from| kiosk.not_before < from.as_second())
}

/// The kiosk the connection's client certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kiosk(pub KioskName);

impl Kiosk {
    /// Refuses a record that names another kiosk, or another centre, than the one sending it.
    pub fn must_be(&self, kiosk_id: &str, centre_id: &str) -> Result<(), ApiError> {
        if kiosk_id != self.0.kiosk_id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "kiosk-mismatch",
                "A kiosk may only send its own records",
                format!("the certificate is kiosk {:?}, the record names {kiosk_id:?}", self.0.kiosk_id),
            ));
        }
        self.must_be_at(centre_id)
    }

    /// Refuses a request about another centre than the kiosk's.
    pub fn must_be_at(&self, centre_id: &str) -> Result<(), ApiError> {
        if centre_id == self.0.centre_id {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "centre-mismatch",
            "A kiosk may only act for its own service centre",
            format!("the certificate is of centre {:?}, the request names {centre_id:?}", self.0.centre_id),
        ))
    }
}

impl FromRequestParts<Arc<AppState>> for Kiosk {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Some(ConnectInfo(Peer { kiosk: Some(kiosk), .. })) = parts.extensions.get::<ConnectInfo<Peer>>() else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "kiosk-certificate-required",
                "Only enrolled kiosks may call this API",
                "Connect with the kiosk's client certificate (mutual TLS).",
            ));
        };
        // A connection outlives the handshake that checked the certificate's dates.
        if jiff::Timestamp::now().as_second() > kiosk.not_after {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "kiosk-certificate-expired",
                "This kiosk's certificate has expired",
                format!("Kiosk {} renews its certificate before it expires; enroll it again (kiosk-provision enroll).", kiosk.kiosk_id),
            ));
        }
        // (A resumed TLS session carries the certificate it began with: it is checked too.)
        if revoked(kiosk, &*state.revocations.current(state).await?) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "kiosk-certificate-revoked",
                "This kiosk's certificate was revoked",
                format!("Kiosk {} must be enrolled again (kiosk-provision enroll, with a new token).", kiosk.kiosk_id),
            ));
        }
        Ok(Self(kiosk.clone()))
    }
}
