use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use balcao_backend_client::api::{KioskEvent, KioskEventKind, Problem};

use super::{ApiError, AppState, unprocessable};

/// The longest `detail` accepted; events are for alerts, not logs.
const MAX_DETAIL: usize = 2000;

/// Records an event a kiosk reports (alerts for the fleet's monitoring). Repeating it with
/// the same `Idempotency-Key` records nothing twice.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "monitoring",
    params(("Idempotency-Key" = Uuid, Header, description = "The event's own id (`event_id`)")),
    request_body = KioskEvent,
    responses(
        (status = 202, description = "Recorded (also the answer to every repeat)"),
        (status = 400, description = "Missing or malformed key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The record names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an event, or the key was used with another event", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    kiosk: super::auth::Kiosk,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let event: KioskEvent = super::keyed_record(&kiosk, &headers, &body)?;
    super::plausible_time(event.at, "at", "event")?;
    if event.kiosk_id.trim().is_empty() || event.detail.len() > MAX_DETAIL {
        return Err(unprocessable(
            "invalid-event",
            "The event is incomplete or too long",
            format!("kiosk_id required, detail at most {MAX_DETAIL} bytes"),
        ));
    }
    if (event.kind == KioskEventKind::DayClosed) != event.day_totals.is_some() {
        return Err(unprocessable(
            "invalid-event",
            "A closed day carries its totals, and only a closed day does",
            "day_totals is required for kind day-closed and refused for any other kind",
        ));
    }
    let stored = super::blocking(move || {
        let recorded = state.store.record_event(&event);
        (event, recorded)
    })
    .await?;
    let (event, recorded) = stored;
    if !recorded? {
        return Err(unprocessable(
            "idempotency-key-reused",
            "This idempotency key was used with another event",
            event.event_id.to_string(),
        ));
    }
    // The detail is the kiosk's text: logged escaped (quoted, line breaks and terminal escapes as
    // `\n` and `\u{1b}`), so it cannot forge log lines.
    tracing::warn!(kiosk = %event.kiosk_id, kind = ?event.kind, severity = ?event.severity, detail = ?event.detail, "kiosk event");
    Ok(StatusCode::ACCEPTED)
}

impl super::KioskRecord for KioskEvent {
    const NAME: &'static str = "event";
    fn id(&self) -> uuid::Uuid {
        self.event_id
    }
    fn filed_by(&self) -> (&str, &str) {
        (&self.kiosk_id, &self.centre_id)
    }
}
