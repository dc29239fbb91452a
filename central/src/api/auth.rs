//! Which kiosk is calling. Every API route needs a kiosk certificate (mutual TLS, see
//! `tls.rs`); a write must come from the kiosk it names, so a kiosk cannot file applications
//! or events in another kiosk's name.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;
use crate::tls::Peer;

/// The kiosk the connection's client certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kiosk(pub String);

impl Kiosk {
    /// Refuses a record that names another kiosk than the one sending it.
    pub fn must_be(&self, named: &str) -> Result<(), ApiError> {
        if named == self.0 {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "kiosk-mismatch",
            "A kiosk may only send its own records",
            format!("the certificate is kiosk {:?}, the record names {named:?}", self.0),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Kiosk {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<ConnectInfo<Peer>>() {
            Some(ConnectInfo(Peer { kiosk_id: Some(id), .. })) => Ok(Self(id.clone())),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "kiosk-certificate-required",
                "Only enrolled kiosks may call this API",
                "Connect with the kiosk's client certificate (mutual TLS).",
            )),
        }
    }
}
