//! Counter appointments for the kiosks of a centre (central as the appointment platform): the
//! free places of a bookable service, a place held while the citizen confirms, the booking, and
//! its cancellation by number and date of birth. See `store::appointments` for how the last
//! place of a slot is taken once.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{
    Appointment, AppointmentCancellation, AppointmentConfirmation, AppointmentDays, AppointmentHold, HoldRequest, MAX_BOOKING_DAYS,
    Problem, ServiceKind, is_appointment_number, normalise_appointment_number,
};
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use uuid::Uuid;

use super::auth::Kiosk;
use super::status::check_date_of_birth;
use super::{ApiError, AppState, blocking, body_as, unprocessable};
use crate::store::appointments::{Cancelled, Confirmed, Held};

/// The centre's local clock (the reference central's own time zone).
fn local_now() -> (jiff::civil::DateTime, Timestamp) {
    let at = Timestamp::now();
    (at.to_zoned(TimeZone::system()).datetime(), at)
}

/// Refuses a service the catalog does not list as bookable.
async fn bookable(state: &Arc<AppState>, service_id: &str) -> Result<(), ApiError> {
    let catalog = state.catalog_now().await?;
    match catalog.catalog.service(service_id) {
        Some(service) if service.kind == ServiceKind::Appointment => Ok(()),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "no-such-service", "No bookable service with this id", service_id.to_string())),
    }
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// A service of kind `appointment` in the catalog.
    service_id: String,
    /// How many days from today (1 to 28; 14 when left out).
    days: Option<u16>,
}

/// The days and times `service_id` can be booked at the asking kiosk's centre, from today, with
/// the places left in each slot.
#[utoipa::path(
    get,
    path = "/v1/appointments/slots",
    tag = "appointments",
    params(SlotsQuery),
    responses(
        (status = 200, description = "The days the centre books the service, each with its slots and places left", body = AppointmentDays),
        (status = 400, description = "A parameter is missing or not a number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No bookable service with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Days out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn slots(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    Query(query): Query<SlotsQuery>,
) -> Result<axum::Json<AppointmentDays>, ApiError> {
    let days = query.days.unwrap_or(14);
    if !(1..=MAX_BOOKING_DAYS).contains(&days) {
        return Err(unprocessable("invalid-days", "Days out of range", format!("Ask for 1 to {MAX_BOOKING_DAYS} days.")));
    }
    bookable(&state, &query.service_id).await?;
    let (now, at) = local_now();
    let centre = kiosk.0.centre_id.clone();
    let found = blocking(move || state.store.appointment_days(&centre, &query.service_id, now.date(), days, now, at)).await??;
    Ok(axum::Json(found))
}

/// Holds one place of a slot for the asking kiosk's citizen while they confirm (five minutes).
/// Repeating it with the same `Idempotency-Key` holds nothing twice.
#[utoipa::path(
    post,
    path = "/v1/appointments/holds",
    tag = "appointments",
    params(("Idempotency-Key" = Uuid, Header, description = "The hold's own id (`hold_id`)")),
    request_body = HoldRequest,
    responses(
        (status = 201, description = "The place is held until `held_until` (also the answer to every repeat)", body = AppointmentHold),
        (status = 400, description = "Missing or malformed key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No bookable service with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Every place of the slot is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a hold, not one of the centre's slots, or the key was used for another hold", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn hold(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: HoldRequest = body_as(&body, "hold")?;
    let key = super::idempotency_key(&headers, "hold")?;
    if key != request.hold_id {
        return Err(unprocessable(
            "idempotency-key-mismatch",
            "The Idempotency-Key must be the hold's id",
            "Send the hold's id as the key.",
        ));
    }
    let time = Time::strptime("%H:%M", request.time.trim())
        .map_err(|_| unprocessable("invalid-hold", "Not a slot time", "Send the slot's time as HH:MM."))?;
    bookable(&state, &request.service_id).await?;
    let (now, at) = local_now();
    if (request.date - now.date()).get_days() >= i32::from(MAX_BOOKING_DAYS) {
        return Err(unprocessable("no-such-slot", "The centre does not book this service then", "Book within four weeks."));
    }
    let name = kiosk.0.clone();
    let held = blocking(move || {
        state.store.hold_appointment(request.hold_id, &name.kiosk_id, &name.centre_id, &request.service_id, request.date, time, now, at)
    })
    .await??;
    match held {
        Held::Held { held_until } => Ok((StatusCode::CREATED, axum::Json(AppointmentHold { hold_id: key, held_until })).into_response()),
        Held::Full => Err(ApiError::new(
            StatusCode::CONFLICT,
            "slot-full",
            "Every place at this time is taken",
            "Choose another time; the slots' places left are in /v1/appointments/slots.",
        )),
        Held::NoSuchSlot => {
            Err(unprocessable("no-such-slot", "The centre does not book this service then", "Choose one of the slots listed."))
        }
        Held::IdReused => Err(unprocessable("idempotency-key-reused", "This idempotency key was used for another hold", key.to_string())),
    }
}

/// Books the place the asking kiosk holds, for the citizen born on the date given (what, with
/// the booking's number, cancels it later). A repeat answers as the first did.
#[utoipa::path(
    post,
    path = "/v1/appointments/holds/{hold_id}/confirmation",
    tag = "appointments",
    params(("hold_id" = Uuid, Path, description = "The hold's id")),
    request_body = AppointmentConfirmation,
    responses(
        (status = 200, description = "Booked: the appointment as printed for the citizen", body = Appointment),
        (status = 400, description = "The hold id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No hold of this kiosk's with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already booked for another date of birth", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The hold ran out before it was confirmed: hold a place again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a confirmation or not a date", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    Path(hold_id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Appointment>, ApiError> {
    let confirmation: AppointmentConfirmation = body_as(&body, "confirmation")?;
    check_date_of_birth(&confirmation.date_of_birth)?;
    let kiosk_id = kiosk.0.kiosk_id.clone();
    let at = Timestamp::now();
    let confirmed =
        blocking(move || state.store.confirm_appointment(hold_id, &kiosk_id, &confirmation.date_of_birth, confirmation.language, at))
            .await??;
    match confirmed {
        Confirmed::Booked(appointment) => {
            tracing::info!(number = %appointment.number, service = %appointment.service_id, centre = %appointment.centre_id, "appointment booked");
            Ok(axum::Json(appointment))
        }
        Confirmed::Unknown => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "no-such-hold", "No hold of this kiosk's with this id", hold_id.to_string()))
        }
        Confirmed::Lapsed => Err(ApiError::new(
            StatusCode::GONE,
            "hold-lapsed",
            "The place was held too long without a confirmation",
            "Hold a place again; this one may be someone else's now.",
        )),
        Confirmed::Conflict => {
            Err(ApiError::new(StatusCode::CONFLICT, "already-booked", "This hold was booked for someone else", hold_id.to_string()))
        }
    }
}

/// Lets a place go that the asking kiosk held and did not book (the citizen went back or
/// left). Safe to repeat; a booked place is not touched.
#[utoipa::path(
    delete,
    path = "/v1/appointments/holds/{hold_id}",
    tag = "appointments",
    params(("hold_id" = Uuid, Path, description = "The hold's id")),
    responses(
        (status = 204, description = "The place is free again (or was not held)"),
        (status = 400, description = "The hold id is not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(State(state): State<Arc<AppState>>, kiosk: Kiosk, Path(hold_id): Path<Uuid>) -> Result<StatusCode, ApiError> {
    let kiosk_id = kiosk.0.kiosk_id.clone();
    blocking(move || state.store.release_appointment_hold(hold_id, &kiosk_id, Timestamp::now())).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels an appointment for its citizen: its number and their date of birth. An unknown
/// number and a wrong date get the same answer; five wrong tries of a number within 15 minutes
/// close it for 15 minutes.
#[utoipa::path(
    post,
    path = "/v1/appointments/cancellations",
    tag = "appointments",
    request_body = AppointmentCancellation,
    responses(
        (status = 200, description = "Cancelled (also the answer to a repeat): the appointment that was", body = Appointment),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No appointment with this number and date of birth", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The appointment's time has passed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a booking number or not a date", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong tries of this number; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    _kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<axum::Json<Appointment>, ApiError> {
    let request: AppointmentCancellation = body_as(&body, "cancellation")?;
    let number = normalise_appointment_number(&request.number);
    if !is_appointment_number(&number) {
        return Err(unprocessable("invalid-number", "Not a booking number", "The number is on the confirmation, e.g. AP-7K2M-Q9XD."));
    }
    check_date_of_birth(&request.date_of_birth)?;
    let (now, at) = local_now();
    let cancelled = blocking(move || state.store.cancel_appointment(&number, &request.date_of_birth, now, at)).await??;
    match cancelled {
        Cancelled::Cancelled(appointment) => {
            tracing::info!(number = %appointment.number, "appointment cancelled");
            Ok(axum::Json(appointment))
        }
        Cancelled::NoMatch => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no-match",
            "No appointment with this number and date of birth",
            "Check the number on the confirmation and the date of birth.",
        )),
        Cancelled::Past => {
            Err(ApiError::new(StatusCode::CONFLICT, "appointment-past", "The appointment's time has passed", "Nothing to cancel."))
        }
        Cancelled::Slowed { until } => Err(ApiError::Slowed(u64::try_from((until - Timestamp::now()).get_seconds().max(1)).unwrap_or(1))),
    }
}
