//! Queue tickets kiosks issued for the centre's counters.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{Problem, QueueTicket, TicketReceipt, TicketVerdict};

use super::auth::Kiosk;
use super::{ApiError, AppState, blocking, unprocessable};
use crate::store::TicketFiled;

/// Longest queue id and ticket number central files.
const MAX_FIELD: usize = 64;

/// Files a queue ticket a kiosk issued (possibly while offline) for the counters' calling. A
/// number that another ticket of the same centre and day already had is filed too and
/// flagged. Repeating a ticket with the same `Idempotency-Key` files nothing twice and gets
/// the same answer.
#[utoipa::path(
    post,
    path = "/v1/queue-tickets",
    tag = "queue",
    params(("Idempotency-Key" = Uuid, Header, description = "The ticket's own id (`ticket_id`)")),
    request_body = QueueTicket,
    responses(
        (status = 201, description = "Filed (also the answer to every repeat); `verdict` says whether the number was issued twice", body = TicketReceipt),
        (status = 400, description = "Missing or malformed key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The ticket names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a ticket, or the key was used with another ticket", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn record(State(state): State<Arc<AppState>>, kiosk: Kiosk, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let ticket: QueueTicket = super::keyed_record(&kiosk, &headers, &body)?;
    super::plausible_time(ticket.issued_at, "issued_at", "ticket")?;
    if !super::same_day(ticket.service_day, ticket.issued_at) {
        return Err(unprocessable(
            "invalid-ticket",
            "The ticket's day is not the day it was issued",
            format!("service_day {}", ticket.service_day),
        ));
    }
    for (name, value) in [("queue_id", &ticket.queue_id), ("number", &ticket.number), ("centre_id", &ticket.centre_id)] {
        if value.trim().is_empty() || value.len() > MAX_FIELD {
            return Err(unprocessable(
                "invalid-ticket",
                "The ticket does not follow the schema",
                format!("{name} must be 1 to {MAX_FIELD} bytes"),
            ));
        }
    }
    // A queue the catalog no longer lists is still filed: the citizen holds the ticket.
    let record = ticket.clone();
    match blocking(move || state.store.record_queue_ticket(&record)).await?? {
        TicketFiled::Filed(verdict) => {
            if verdict == TicketVerdict::NumberReused {
                tracing::warn!(ticket = %ticket.ticket_id, number = ?ticket.number, centre = %ticket.centre_id, kiosk = %ticket.kiosk_id, "queue ticket number issued twice: check the kiosks' ticket series");
            }
            Ok((StatusCode::CREATED, axum::Json(TicketReceipt { ticket_id: ticket.ticket_id, verdict })).into_response())
        }
        TicketFiled::IdReused => {
            Err(unprocessable("idempotency-key-reused", "This idempotency key was used with another ticket", ticket.ticket_id.to_string()))
        }
    }
}

impl super::KioskRecord for QueueTicket {
    const NAME: &'static str = "ticket";
    fn id(&self) -> uuid::Uuid {
        self.ticket_id
    }
    fn filed_by(&self) -> (&str, &str) {
        (&self.kiosk_id, &self.centre_id)
    }
}
