//! Which kiosk is calling, and from which centre. Every API route needs a kiosk certificate
//! (mutual TLS, see `tls.rs`); a write must come from the kiosk and centre it names, so a kiosk
//! cannot file records in another kiosk's or centre's name, nor read another centre's data.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;
use crate::tls::{KioskName, Peer};

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

impl<S: Send + Sync> FromRequestParts<S> for Kiosk {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<ConnectInfo<Peer>>() {
            Some(ConnectInfo(Peer { kiosk: Some(kiosk), .. })) => Ok(Self(kiosk.clone())),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "kiosk-certificate-required",
                "Only enrolled kiosks may call this API",
                "Connect with the kiosk's client certificate (mutual TLS).",
            )),
        }
    }
}
