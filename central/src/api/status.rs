//! A citizen's look at their own application, by the number on the receipt and their date of
//! birth: asked by a kiosk (this endpoint) or on the citizen's phone (the public status page,
//! `crate::console::status_page`). Both go through [`look_up`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use balcao_backend_client::api::{CitizenStatus, HolderQuery, HolderStatuses, Problem, StatusQuery};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::auth::Kiosk;
use super::{ApiError, AppState, unprocessable};
use crate::store::StoredCatalog;
use crate::store::status::HolderLookup;

/// The status of the application `query` names, if its date of birth is the applicant's.
/// `Err(ApiError)`: no match (404, the same for an unknown number and a wrong date), too many
/// wrong tries (429), a malformed query (422), or the database.
/// `address`: where a public page's request came from (its wrong tries are counted too). The
/// catalog it was read against comes with it, for the service's name.
pub async fn look_up(
    state: &Arc<AppState>,
    query: StatusQuery,
    address: Option<String>,
) -> Result<(CitizenStatus, Arc<StoredCatalog>), ApiError> {
    let reference = query.reference.trim().to_ascii_uppercase();
    let born = query.date_of_birth.trim().to_string();
    if reference.is_empty() || reference.len() > 32 || !reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(unprocessable("invalid-reference", "Not an application number", "The number is on the receipt, e.g. K01-261122-0007."));
    }
    check_date_of_birth(&born)?;
    let store = state.clone();
    let found = super::blocking(move || store.store.status_for_holder(&reference, &born, address.as_deref(), Timestamp::now())).await??;
    let (status, received_at) = match found {
        HolderLookup::Found { status, received_at } => (status, received_at),
        HolderLookup::NoMatch => return Err(no_match()),
        HolderLookup::Slowed { until } => {
            let wait = (until - Timestamp::now()).get_seconds().max(1);
            return Err(ApiError::Slowed(u64::try_from(wait).unwrap_or(1)));
        }
    };
    let catalog = state.catalog_now().await?;
    Ok((citizen_status(&catalog.catalog, status, received_at), catalog))
}

/// Refuses a date of birth that is not `YYYY-MM-DD` (422): the status checks' and the
/// appointments'.
pub(super) fn check_date_of_birth(born: &str) -> Result<(), ApiError> {
    match born.trim().parse::<jiff::civil::Date>() {
        Ok(_) => Ok(()),
        Err(_) => Err(unprocessable("invalid-date-of-birth", "Not a date of birth", "Send it as YYYY-MM-DD.")),
    }
}

/// What the citizen sees of `status`: the deadline and the next step from the service's terms.
fn citizen_status(
    catalog: &balcao_backend_client::api::Catalog,
    status: balcao_backend_client::api::ApplicationStatus,
    received_at: Timestamp,
) -> CitizenStatus {
    let service = catalog.service(&status.service_id);
    let (days, delivery) = service.map_or((0, balcao_backend_client::api::Delivery::CollectAtCounter), |s| (s.processing_days, s.delivery));
    let zone = TimeZone::system();
    let received = received_at.to_zoned(zone.clone()).date();
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    CitizenStatus::of(status, days, delivery, received, today, &zone)
}

fn no_match() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no-match",
        "No application with this number and date of birth",
        "Check the number on the receipt and the date of birth of the applicant.",
    )
}

/// The status of an application, for its applicant at a kiosk: the number on the receipt and
/// the applicant's date of birth. Never answered for a number alone; an unknown number and a
/// wrong date of birth get the same answer; five wrong tries of a number within 15 minutes
/// close it for 15 minutes.
#[utoipa::path(
    post,
    path = "/v1/status-checks",
    tag = "applications",
    request_body = StatusQuery,
    responses(
        (status = 200, description = "The application, its history, the next step and the processing deadline", body = CitizenStatus),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No application with this number and date of birth", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a status query (not JSON, a field missing), not an application number or not a date", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong tries of this number; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check(
    State(state): State<Arc<AppState>>,
    _kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<axum::Json<CitizenStatus>, ApiError> {
    let query: StatusQuery = super::body_as(&body, "status query")?;
    look_up(&state, query, None).await.map(|(status, _)| axum::Json(status))
}

/// Every application of a citizen whose identity the kiosk has checked (their document's chip,
/// or the government app's signed sign-in code): found by the document number's blind index,
/// newest first, at most 20. Only kiosks ask this, never a phone.
#[utoipa::path(
    post,
    path = "/v1/status-checks/holder",
    tag = "applications",
    request_body = HolderQuery,
    responses(
        (status = 200, description = "The holder's applications, newest first (none: an empty list)", body = HolderStatuses),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a holder query (not JSON, a field missing), not a document number or not a date", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check_holder(
    State(state): State<Arc<AppState>>,
    _kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<axum::Json<HolderStatuses>, ApiError> {
    let query: HolderQuery = super::body_as(&body, "holder query")?;
    let number = balcao_backend_client::api::normalise_document_number(&query.document_number);
    if number.is_empty() || number.len() > 20 {
        return Err(unprocessable("invalid-document-number", "Not a document number", "Send the number as on the document."));
    }
    check_date_of_birth(&query.date_of_birth)?;
    let store = state.clone();
    let found = super::blocking(move || store.store.statuses_for_holder(&query.document_number, &query.date_of_birth)).await??;
    let catalog = state.catalog_now().await?;
    let applications = found.into_iter().map(|(status, received_at)| citizen_status(&catalog.catalog, status, received_at)).collect();
    Ok(axum::Json(HolderStatuses { applications }))
}
