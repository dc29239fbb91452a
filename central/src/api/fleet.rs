//! The kiosks' side of the fleet's monitoring: heartbeats in, commands out (in the
//! heartbeat's answer, so a kiosk never listens on a port), and reports on the commands.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use balcao_backend_client::api::{
    AttendantCall, AttendantCallStatus, CommandOutcome, CommandReport, Diagnosis, Heartbeat, HeartbeatAnswer, Problem,
};
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

/// Keeps a technician's readiness report (`kiosk-provision diagnose`) as the kiosk's last, for
/// its console page. A repeat replaces it.
#[utoipa::path(
    post,
    path = "/v1/diagnoses",
    tag = "monitoring",
    request_body = Diagnosis,
    responses(
        (status = 204, description = "Kept as the kiosk's last report"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The report names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a report (an unknown field, a value out of range)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn diagnosis(State(state): State<Arc<AppState>>, kiosk: Kiosk, body: axum::body::Bytes) -> Result<StatusCode, ApiError> {
    let diagnosis: Diagnosis =
        super::from_json(&body).map_err(|e| unprocessable("invalid-diagnosis", "The report does not follow the schema", e))?;
    kiosk.must_be(&diagnosis.kiosk_id, &diagnosis.centre_id)?;
    let problems = diagnosis.problems();
    if !problems.is_empty() {
        return Err(unprocessable("invalid-diagnosis", "The report holds values out of range", problems.join("; ")));
    }
    super::plausible_time(diagnosis.at, "at", "report")?;
    super::blocking(move || state.store.record_diagnosis(&diagnosis)).await??;
    Ok(StatusCode::NO_CONTENT)
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

/// The file a command asked for: a masked screenshot (`image/png`) for `screenshot`, the logs
/// (`text/plain; charset=utf-8`) for `upload-logs`. Only the kiosk the command was for can
/// send it; a repeat is acknowledged and changes nothing.
#[utoipa::path(
    post,
    path = "/v1/commands/{id}/upload",
    tag = "monitoring",
    params(("id" = Uuid, Path, description = "The command's id")),
    request_body(content = Vec<u8>, description = "A PNG (screenshot) or UTF-8 text (logs)", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "Kept (also the answer to every repeat)"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such command of this kiosk asks for this file", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither a PNG nor UTF-8 text", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let not_asked = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "command-not-found",
            "This kiosk has no such command asking for a file",
            format!("command {id}"),
        )
    };
    let command_id = Uuid::parse_str(&id).map_err(|_| not_asked())?;
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let unsupported =
        |why: &str| ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-upload", "Not a screenshot or logs", why.to_string());
    let (kind, content_type) = if content_type.starts_with("image/png") {
        if !is_png(&body) {
            return Err(unsupported("the body is not a PNG image of at most 4096 × 4096"));
        }
        ("screenshot", "image/png")
    } else if content_type.starts_with("text/plain") {
        if std::str::from_utf8(&body).is_err() {
            return Err(unsupported("the body is not UTF-8 text"));
        }
        ("upload-logs", "text/plain; charset=utf-8")
    } else {
        return Err(unsupported("send image/png or text/plain"));
    };
    let kiosk_id = kiosk.0.kiosk_id.clone();
    let filed = super::blocking(move || state.store.store_upload(&kiosk_id, command_id, kind, content_type, &body)).await??;
    match filed {
        crate::store::fleet::UploadFiled::Kept | crate::store::fleet::UploadFiled::Repeat => Ok(StatusCode::ACCEPTED),
        crate::store::fleet::UploadFiled::NotAsked => Err(not_asked()),
    }
}

/// Whether `body` starts as a PNG does (its signature, then its header chunk) with sides of
/// 1 to 4096 pixels. (Sixteen bytes read by hand: decoding the whole image is not needed to
/// keep it, and the console serves it as an image, never interprets it.)
fn is_png(body: &[u8]) -> bool {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let side = |at: usize| body.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    body.starts_with(SIGNATURE)
        && body.get(12..16) == Some(b"IHDR")
        && matches!((side(16), side(20)), (Some(w), Some(h)) if (1..=4096).contains(&w) && (1..=4096).contains(&h))
}
