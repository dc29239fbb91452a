//! The HTTP API kiosks call, the OpenAPI document that describes it, and the console page.

mod applications;
mod appointments;
pub mod auth;
mod catalog;
mod enrollment;
mod error;
mod events;
mod fleet;
pub(crate) mod issuers;
mod openapi;
mod pickups;
mod queue;
pub(crate) mod status;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::routing::get;

pub use catalog::etag_of;
pub use error::ApiError;
pub use issuers::ISSUER;
pub use openapi::{ApiDoc, OPENAPI_JSON};

use crate::store::db::Dialect;
use crate::store::{Store, StoreError, StoredCatalog};

/// The largest request body central reads (a batch of 100 applications fits many times over);
/// a larger one gets 413 before it is read.
pub const MAX_REQUEST_BODY: usize = 1 << 20;

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    /// The catalog as last read. With SQLite this instance is the only writer and the copy is
    /// always current; with PostgreSQL another instance may publish one, and the copy is
    /// checked against the database's `ETag` on every use.
    pub catalog: RwLock<Arc<StoredCatalog>>,
    /// Added to the processing of every application (tests use it to observe requests in
    /// flight; zero otherwise).
    pub processing_delay: Duration,
    pub metrics: crate::metrics::Metrics,
    /// The whole fleet as last judged, and when: every console's live page reads this copy,
    /// refreshed at most every [`FLEET_FRESH`], rather than the database each.
    pub fleet: tokio::sync::Mutex<Option<(std::time::Instant, Arc<Vec<crate::store::fleet::FleetKiosk>>)>>,
    /// The revoked kiosks, as last read.
    pub revocations: auth::Revocations,
    /// The kiosk CA that enrolls kiosks and renews their certificates; `None`: this central
    /// does not enroll (its kiosks' certificates are made elsewhere).
    pub kiosk_issuer: RwLock<Option<crate::tls::KioskIssuer>>,
    /// The CA kiosks must trust for central's own certificate, given to the technician's tool
    /// at enrollment; `None`: the technician brings it.
    pub server_ca_pem: RwLock<Option<String>>,
    /// The address citizens reach central's public pages at (a certificate's QR code points
    /// there); `None` until known.
    pub public_url: RwLock<Option<String>>,
}

/// How long the fleet as judged is shared between consoles before it is read again.
pub const FLEET_FRESH: Duration = Duration::from_secs(1);

impl AppState {
    /// The whole fleet, judged within the last [`FLEET_FRESH`] (one read for every console
    /// watching; a second caller meanwhile waits for the first's read).
    pub async fn fleet_now(self: &Arc<Self>) -> Result<Arc<Vec<crate::store::fleet::FleetKiosk>>, ApiError> {
        let mut cached = self.fleet.lock().await;
        if let Some((at, fleet)) = &*cached
            && at.elapsed() < FLEET_FRESH
        {
            return Ok(fleet.clone());
        }
        let state = self.clone();
        let fleet = Arc::new(blocking(move || state.store.fleet(None)).await??);
        *cached = Some((std::time::Instant::now(), fleet.clone()));
        Ok(fleet)
    }

    /// Revokes every certificate of `kiosk_id` issued up to now: refused on this instance at
    /// once, on others within [`auth::REVOCATIONS_FRESH`]. Returns from when a new one is good.
    pub async fn revoke_kiosk(self: &Arc<Self>, kiosk_id: &str, by: &str) -> Result<jiff::Timestamp, StoreError> {
        let (kiosk, by, state) = (kiosk_id.to_string(), by.to_string(), self.clone());
        let from = tokio::task::spawn_blocking(move || state.store.revoke_kiosk(&kiosk, &by))
            .await
            .map_err(|e| StoreError::Unavailable(format!("the revocation's task failed: {e}")))??;
        self.revocations.forget().await;
        Ok(from)
    }

    /// The copy held, without asking the database.
    fn held_catalog(&self) -> Arc<StoredCatalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The current catalog (blocking: from a blocking task or outside the runtime).
    pub fn current_catalog(&self) -> Result<Arc<StoredCatalog>, StoreError> {
        let held = self.held_catalog();
        if self.store.dialect() == Dialect::Sqlite || self.store.catalog_etag()?.is_none_or(|etag| etag == held.etag) {
            return Ok(held);
        }
        let Some(fresh) = self.store.catalog()? else { return Ok(held) };
        let fresh = Arc::new(fresh);
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// The current catalog, for a request.
    pub async fn catalog_now(self: &Arc<Self>) -> Result<Arc<StoredCatalog>, ApiError> {
        if self.store.dialect() == Dialect::Sqlite {
            return Ok(self.held_catalog());
        }
        let state = self.clone();
        Ok(blocking(move || state.current_catalog()).await??)
    }
}

/// The record id a write carries as its `Idempotency-Key`; `record` names it in the problem.
pub(crate) fn idempotency_key(headers: &axum::http::HeaderMap, record: &str) -> Result<uuid::Uuid, ApiError> {
    let key = headers.get(balcao_backend_client::api::IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
    key.and_then(|k| uuid::Uuid::parse_str(k.trim()).ok()).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "idempotency-key-required",
            "An Idempotency-Key header with a UUID is required",
            format!("Send the {record}'s id as the key."),
        )
    })
}

/// A problem with a record a kiosk sent (422).
pub(crate) fn unprocessable(kind: &str, title: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, kind, title, detail.into())
}

/// A record a kiosk files: what it must say of itself for central to take it.
pub(crate) trait KioskRecord: serde::de::DeserializeOwned {
    /// What the record is called in problems (`pickup`, `ticket`, `event`).
    const NAME: &'static str;
    /// The record's own id, which is its `Idempotency-Key`.
    fn id(&self) -> uuid::Uuid;
    /// The kiosk and centre the record names.
    fn filed_by(&self) -> (&str, &str);
}

/// The record a keyed write carries: its body parsed as `T`, checked first to be the asking
/// kiosk's own (who asks comes before anything else), then its `Idempotency-Key`, which must
/// be the record's id.
pub(crate) fn keyed_record<T: KioskRecord>(kiosk: &auth::Kiosk, headers: &axum::http::HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let record = T::NAME;
    let parsed: T = serde_json::from_slice(body)
        .map_err(|e| unprocessable(&format!("invalid-{record}"), &format!("The {record} does not follow the schema"), e.to_string()))?;
    let (kiosk_id, centre_id) = parsed.filed_by();
    kiosk.must_be(kiosk_id, centre_id)?;
    let key = idempotency_key(headers, record)?;
    if parsed.id() != key {
        return Err(unprocessable(
            "idempotency-key-mismatch",
            &format!("The Idempotency-Key must be the {record}'s id"),
            format!("Send the {record}'s id as the key."),
        ));
    }
    Ok(parsed)
}

/// A body as `T`, or a 422 naming the field at fault (`what` names the body in the problem:
/// `invalid-hold`, `invalid-status-query`).
pub(crate) fn body_as<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    from_json(body).map_err(|detail| {
        let kind = what.replace(' ', "-");
        unprocessable(&format!("invalid-{kind}"), &format!("The {what} does not follow the schema"), detail)
    })
}

/// Reads a JSON body as `T`; a refusal names the field at fault (`open_payments: invalid value:
/// integer -1, expected u32`), which serde_json's own message does not.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { e.into_inner().to_string() } else { format!("{path}: {}", e.into_inner()) }
    })
}

/// How far back a kiosk's record may have been made: a kiosk offline this long has more to
/// fix than its queue (its own clock, say).
const OLDEST_RECORD: jiff::SignedDuration = jiff::SignedDuration::from_hours(366 * 24);
/// How far ahead of central's clock a kiosk's may run.
const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Refuses a record time (`what` names the field) in the future or implausibly long ago, as a
/// record dated in the year 9999 would otherwise sort and count forever.
pub(crate) fn plausible_time(at: jiff::Timestamp, what: &str, record: &str) -> Result<(), ApiError> {
    let now = jiff::Timestamp::now();
    if at > now + CLOCK_SKEW || at < now - OLDEST_RECORD {
        return Err(unprocessable(
            &format!("invalid-{record}"),
            &format!("The {record}'s time is out of range"),
            format!("{what} {at} is more than a day ahead of central's clock ({now}) or more than a year behind it"),
        ));
    }
    Ok(())
}

/// Whether a day a record names is within a day of when it was made (time zones aside).
pub(crate) fn same_day(day: jiff::civil::Date, at: jiff::Timestamp) -> bool {
    (day - at.to_zoned(jiff::tz::TimeZone::UTC).date()).get_days().abs() <= 1
}

/// Runs database work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(join_error)
}

pub(crate) fn join_error(e: tokio::task::JoinError) -> ApiError {
    tracing::error!(error = %e, "database task failed");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Central could not complete the request",
        "Retry later; nothing was lost.",
    )
}

/// Whether this instance can serve: its database answers. For a load balancer's health check,
/// so it tells nothing else and asks for no certificate.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The database answers; this instance serves", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer", body = balcao_backend_client::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    let probe = state.clone();
    blocking(move || probe.store.reachable()).await??;
    Ok("ready\n")
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/catalog", get(catalog::get_catalog))
        .route("/v1/applications", axum::routing::post(applications::submit))
        .route("/v1/applications/batch", axum::routing::post(applications::submit_batch))
        .route("/v1/applications/{id}", get(applications::status))
        .route("/v1/status-checks", axum::routing::post(status::check))
        .route("/v1/status-checks/holder", axum::routing::post(status::check_holder))
        .route("/v1/events", axum::routing::post(events::submit))
        .route("/v1/heartbeats", axum::routing::post(fleet::heartbeat))
        .route("/v1/commands/{id}/report", axum::routing::post(fleet::report))
        .route("/v1/diagnoses", axum::routing::post(fleet::diagnosis))
        .route("/v1/commands/{id}/upload", axum::routing::post(fleet::upload))
        .route("/v1/attendant-calls", axum::routing::post(fleet::call_attendant))
        .route("/v1/attendant-calls/{id}", get(fleet::attendant_call))
        .route("/v1/attendant-calls/{id}/end", axum::routing::post(fleet::end_attendant_call))
        .route("/v1/identity-issuers", get(issuers::get_keys))
        .route("/v1/document-keys", get(issuers::document_keys))
        .route("/v1/certificates/ready", get(pickups::ready))
        .route("/v1/pickups", axum::routing::post(pickups::record))
        .route("/v1/queue-tickets", axum::routing::post(queue::record))
        .route("/v1/appointments/slots", get(appointments::slots))
        .route("/v1/appointments/holds", axum::routing::post(appointments::hold))
        .route("/v1/appointments/holds/{hold_id}", axum::routing::delete(appointments::release))
        .route("/v1/appointments/holds/{hold_id}/confirmation", axum::routing::post(appointments::confirm))
        .route("/v1/appointments/cancellations", axum::routing::post(appointments::cancel))
        .route("/v1/enrollment/ca", get(enrollment::central_ca))
        .route("/v1/enrollments", axum::routing::post(enrollment::enroll))
        .route("/v1/certificates/renewal", axum::routing::post(enrollment::renew))
        .route("/v1/retirement", axum::routing::post(enrollment::retire))
        .route("/openapi.json", get(openapi::document))
        .route("/ready", get(ready))
        .merge(crate::console::routes())
        .route("/metrics", get(crate::metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::measure))
        .fallback(error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .layer(axum::middleware::map_response(error::problem_for_bare_errors))
        .with_state(state)
}
