//! Certificates ready for pickup (a change feed per centre, followed with a sync token) and the
//! pickups kiosks report.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{CertificateChanges, MAX_FEED_PAGE, PickupReceipt, PickupRecord, Problem};
use serde::Deserialize;

use super::auth::Kiosk;
use super::{ApiError, AppState, blocking, unprocessable};
use crate::store::{FeedError, PickupFiled};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The service centre whose certificates to list.
    pub centre: String,
    /// The token of the last page applied; without it, the full list.
    pub since: Option<String>,
}

/// Certificates ready for pickup at a centre: the full list, or what changed since a token.
#[utoipa::path(
    get,
    path = "/v1/certificates/ready",
    tag = "pickups",
    params(FeedQuery),
    responses(
        (status = 200, description = "A page of the feed; ask again with its token while `more` is true", body = CertificateChanges),
        (status = 400, description = "No `centre` in the query, or a query that does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The kiosk's certificate is of another centre", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The token is too old or unknown: start again without one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<Arc<AppState>>, kiosk: Kiosk, Query(query): Query<FeedQuery>) -> Result<Response, ApiError> {
    // The feed carries holders' checks and certificates: only the centre's own kiosks read it.
    kiosk.must_be_at(&query.centre)?;
    let changes = blocking(move || state.store.certificate_changes(&query.centre, query.since.as_deref(), MAX_FEED_PAGE)).await?;
    match changes {
        Ok(changes) => Ok(axum::Json(changes).into_response()),
        Err(FeedError::Expired) => Err(ApiError::new(
            StatusCode::GONE,
            "sync-token-expired",
            "The sync token is no longer valid",
            "Fetch the full list again without `since`.",
        )),
        Err(FeedError::Store(e)) => Err(e.into()),
    }
}

/// Records a certificate handed out at a kiosk. The first pickup of a certificate takes it off
/// its centre's list; another pickup of the same certificate (two kiosks handing it out while
/// offline) is recorded too and flagged as a duplicate for staff. Repeating a pickup with the
/// same `Idempotency-Key` records nothing twice and gets the same answer.
#[utoipa::path(
    post,
    path = "/v1/pickups",
    tag = "pickups",
    params(("Idempotency-Key" = Uuid, Header, description = "The pickup's own id (`pickup_id`)")),
    request_body = PickupRecord,
    responses(
        (status = 201, description = "Recorded (also the answer to every repeat); `verdict` says whether it is a duplicate", body = PickupReceipt),
        (status = 400, description = "Missing or malformed key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The record names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a pickup, no such certificate, or the key was used with another pickup", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn record(State(state): State<Arc<AppState>>, kiosk: Kiosk, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let pickup: PickupRecord = super::keyed_record(&kiosk, &headers, &body)?;
    super::plausible_time(pickup.collected_at, "collected_at", "pickup")?;
    let record = pickup.clone();
    match blocking(move || state.store.record_pickup(&record)).await?? {
        PickupFiled::Filed(verdict) => {
            if verdict == balcao_backend_client::api::PickupVerdict::Duplicate {
                tracing::warn!(pickup = %pickup.pickup_id, application = %pickup.application_id, kiosk = %pickup.kiosk_id, "certificate handed out twice");
            }
            Ok((StatusCode::CREATED, axum::Json(PickupReceipt { pickup_id: pickup.pickup_id, verdict })).into_response())
        }
        PickupFiled::UnknownCertificate => {
            Err(unprocessable("unknown-certificate", "No certificate was issued for this application", pickup.application_id.to_string()))
        }
        PickupFiled::IdReused => {
            Err(unprocessable("idempotency-key-reused", "This idempotency key was used with another pickup", pickup.pickup_id.to_string()))
        }
    }
}

impl super::KioskRecord for PickupRecord {
    const NAME: &'static str = "pickup";
    fn id(&self) -> uuid::Uuid {
        self.pickup_id
    }
    fn filed_by(&self) -> (&str, &str) {
        (&self.kiosk_id, &self.centre_id)
    }
}
