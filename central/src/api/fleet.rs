//! The kiosks' side of the fleet's monitoring: heartbeats in, commands out (in the
//! heartbeat's answer, so a kiosk never listens on a port), and reports on the commands.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use balcao_backend_client::api::{AttendantCall, AttendantCallStatus, CommandOutcome, CommandReport, Heartbeat, HeartbeatAnswer, Problem};
use uuid::Uuid;

use super::auth::Kiosk;
use super::{ApiError, AppState, unprocessable};
use crate::store::fleet::ReportFiled;

/// Takes a kiosk's heartbeat and answers with the commands waiting for it.
#[utoipa::path(
    post,
    path = "/v1/heartbeats",
    tag = "monitoring",
    request_body = Heartbeat,
    responses(
        (status = 200, description = "Kept; the commands waiting for the kiosk, oldest first", body = HeartbeatAnswer),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The heartbeat names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a heartbeat (an unknown field, a value out of range)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn heartbeat(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<axum::Json<HeartbeatAnswer>, ApiError> {
    let heartbeat: Heartbeat =
        super::from_json(&body).map_err(|e| unprocessable("invalid-heartbeat", "The heartbeat does not follow the schema", e))?;
    kiosk.must_be(&heartbeat.kiosk_id, &heartbeat.centre_id)?;
    let problems = heartbeat.problems();
    if !problems.is_empty() {
        return Err(unprocessable("invalid-heartbeat", "The heartbeat holds values out of range", problems.join("; ")));
    }
    super::plausible_time(heartbeat.sent_at, "sent_at", "heartbeat")?;
    state.metrics.heartbeat_taken();
    let commands = super::blocking(move || state.store.record_heartbeat(&heartbeat)).await??;
    Ok(axum::Json(HeartbeatAnswer { commands }))
}

/// Files what came of a command. Only the kiosk it was for can report on it; a repeat is
/// acknowledged and changes nothing.
#[utoipa::path(
    post,
    path = "/v1/commands/{id}/report",
    tag = "monitoring",
    params(("id" = Uuid, Path, description = "The command's id")),
    request_body = CommandReport,
    responses(
        (status = 202, description = "Filed (also the answer to every repeat)"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The report names another kiosk than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such command for this kiosk", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a report", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<crate::tls::Peer>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let report: CommandReport = serde_json::from_slice(&body)
        .map_err(|e| unprocessable("invalid-report", "The report does not follow the schema", e.to_string()))?;
    kiosk.must_be(&report.kiosk_id, &kiosk.0.centre_id)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "command-not-found", "This kiosk has no such command", format!("command {id}"));
    let command_id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    if report.detail.len() > balcao_backend_client::api::MAX_DETAIL {
        return Err(unprocessable("invalid-report", "The report's detail is too long", "at most 2000 bytes"));
    }
    super::plausible_time(report.at, "at", "report")?;
    let kiosk_id = kiosk.0.kiosk_id.clone();
    let address = peer.addr.ip().to_string();
    let filed = super::blocking(move || {
        let filed = state.store.report_command(&kiosk_id, command_id, &report)?;
        // The kiosk's acknowledgement goes to the audit log beside the command staff gave.
        if filed == ReportFiled::Recorded {
            let said = match report.outcome {
                CommandOutcome::Done => "done",
                CommandOutcome::Failed => "failed",
                CommandOutcome::Expired => "expired",
            };
            let outcome = format!("{said}: {}", report.detail);
            state.store.audit(&format!("kiosk {kiosk_id}"), &address, "command-report", &command_id.to_string(), &outcome, "ok")?;
        }
        Ok::<_, crate::store::StoreError>(filed)
    })
    .await??;
    match filed {
        ReportFiled::Recorded | ReportFiled::Repeat => Ok(StatusCode::ACCEPTED),
        ReportFiled::NotFound => Err(not_found()),
    }
}

/// A citizen asks for an attendant: the call reaches the console at once as an alert naming
/// the centre, the kiosk and the screen. A repeat of the call (same id) is the same call.
#[utoipa::path(
    post,
    path = "/v1/attendant-calls",
    tag = "monitoring",
    request_body = AttendantCall,
    responses(
        (status = 200, description = "Staff are told; where the call stands (`ended`: staff take no calls now)", body = AttendantCallStatus),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The call names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a call", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn call_attendant(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<axum::Json<AttendantCallStatus>, ApiError> {
    let call: AttendantCall =
        super::from_json(&body).map_err(|e| unprocessable("invalid-call", "The call does not follow the schema", e))?;
    kiosk.must_be(&call.kiosk_id, &call.centre_id)?;
    let problems = call.problems();
    if !problems.is_empty() {
        return Err(unprocessable("invalid-call", "The call holds values out of range", problems.join("; ")));
    }
    super::plausible_time(call.at, "at", "call")?;
    let status = super::blocking(move || state.store.call_attendant(&call)).await??;
    Ok(axum::Json(status))
}

/// Where this kiosk's call stands: acknowledged by staff (someone is on the way), or over.
#[utoipa::path(
    get,
    path = "/v1/attendant-calls/{id}",
    tag = "monitoring",
    params(("id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "Where the call stands", body = AttendantCallStatus),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call of this kiosk", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn attendant_call(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    Path(id): Path<String>,
) -> Result<axum::Json<AttendantCallStatus>, ApiError> {
    let call_id = Uuid::parse_str(&id).map_err(|_| call_not_found(&id))?;
    let kiosk_id = kiosk.0.kiosk_id.clone();
    let status = super::blocking(move || state.store.attendant_call(&kiosk_id, call_id)).await??;
    status.map(axum::Json).ok_or_else(|| call_not_found(&id))
}

/// The kiosk ends its call: the citizen was helped, cancelled or left. Safe to repeat.
#[utoipa::path(
    post,
    path = "/v1/attendant-calls/{id}/end",
    tag = "monitoring",
    params(("id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 202, description = "Ended (also the answer to every repeat)"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call of this kiosk", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_attendant_call(State(state): State<Arc<AppState>>, kiosk: Kiosk, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let call_id = Uuid::parse_str(&id).map_err(|_| call_not_found(&id))?;
    let kiosk_id = kiosk.0.kiosk_id.clone();
    let ended = super::blocking(move || state.store.end_attendant_call(&kiosk_id, call_id)).await??;
    if ended { Ok(StatusCode::ACCEPTED) } else { Err(call_not_found(&id)) }
}

fn call_not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "call-not-found", "This kiosk has no such call", format!("call {id}"))
}
