use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{IssuerKey, IssuerKeys};
use base64::Engine;

use super::catalog::{conditional, etag_of};
use super::{ApiError, AppState, blocking};
use crate::store::issuer::KeySet;

/// The name of the identity provider the reference central plays, as sign-in codes name it.
pub const ISSUER: &str = "balcao-reference-idp";

/// The public keys sign-in codes are signed with; `304 Not Modified` when the kiosk's copy is
/// current.
#[utoipa::path(
    get,
    path = "/v1/identity-issuers",
    tag = "catalog",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the kiosk's copy")),
    responses(
        (status = 200, description = "The keys", body = IssuerKeys,
            headers(("ETag" = String, description = "Identifies this set of keys"))),
        (status = 304, description = "The kiosk's copy is current; no body"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = balcao_backend_client::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_keys(State(state): State<Arc<AppState>>, _kiosk: super::auth::Kiosk, headers: HeaderMap) -> Result<Response, ApiError> {
    published(state, KeySet::IdentityProvider, headers).await
}

/// The name of the agency whose certificates the reference central issues.
pub const AGENCY: &str = "balcao-reference-agency";

/// The public keys certificates (their verification codes and files) are signed with;
/// `304 Not Modified` when the kiosk's copy is current. The same keys are public at
/// `/verify/keys`, for anyone checking a certificate.
#[utoipa::path(
    get,
    path = "/v1/document-keys",
    tag = "pickups",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the kiosk's copy")),
    responses(
        (status = 200, description = "The keys", body = IssuerKeys,
            headers(("ETag" = String, description = "Identifies this set of keys"))),
        (status = 304, description = "The kiosk's copy is current; no body"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = balcao_backend_client::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn document_keys(
    State(state): State<Arc<AppState>>,
    _kiosk: super::auth::Kiosk,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    published(state, KeySet::Documents, headers).await
}

/// `set`'s keys as published, with their `ETag`.
pub async fn published(state: Arc<AppState>, set: KeySet, headers: HeaderMap) -> Result<Response, ApiError> {
    let keys = keys_of(state, set).await?;
    let body = serde_json::to_string(&keys).map_err(|e| ApiError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    Ok(conditional(&headers, &etag_of(&body), body).into_response())
}

/// `set`'s public keys in the form tokens are checked against.
pub async fn keys_of(state: Arc<AppState>, set: KeySet) -> Result<IssuerKeys, ApiError> {
    let stored = blocking(move || state.store.public_keys(set, jiff::Timestamp::now())).await??;
    Ok(IssuerKeys {
        issuer: match set {
            KeySet::IdentityProvider => ISSUER.into(),
            KeySet::Documents => AGENCY.into(),
        },
        keys: stored
            .into_iter()
            .map(|k| IssuerKey {
                kid: k.kid,
                alg: "Ed25519".into(),
                public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&k.public_key),
                not_after: k.not_after,
            })
            .collect(),
    })
}
