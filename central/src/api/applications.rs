use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{
    Answer, ApplicationBatch, ApplicationReceipt, ApplicationState, ApplicationStatus, ApplicationSubmission, BatchResult, BatchResults,
    FieldProblem, IdentityAttribute, IdentityLevel, MAX_BATCH, Problem, Service, ServiceKind, validate_answers,
};
use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::auth::Kiosk;
use super::{ApiError, AppState, join_error, unprocessable};
use crate::store::{NewApplication, Recorded, StoredCatalog, StoredResponse};

/// Macao's offset from UTC; it keeps no daylight saving time.
const MACAO_UTC_OFFSET_HOURS: i8 = 8;

fn today_in_macao() -> String {
    Timestamp::now().to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(MACAO_UTC_OFFSET_HOURS))).date().to_string()
}

/// JSON with object keys sorted, so the same request hashes the same however its keys are
/// ordered or spaced.
fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(&Value::String(key.clone()), out);
                out.push(b':');
                canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn request_hash(value: &Value) -> String {
    let mut bytes = Vec::new();
    canonical(value, &mut bytes);
    hex::encode(Sha256::digest(&bytes))
}

fn replay(stored: StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        response.headers_mut().insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Holds a kiosk's idempotency keys as "in flight" until the transaction that records them, or
/// until dropped, in the store, where every central instance sees them. Keys are the kiosk's
/// own: one kiosk's key in flight tells another kiosk nothing.
struct InFlight {
    state: Arc<AppState>,
    kiosk: String,
    keys: Vec<String>,
}

impl InFlight {
    /// Claims `keys` of `kiosk`'s in order, stopping before the first one in flight (the claim
    /// holds the keys before it), and reads the answers already given to those it holds.
    ///
    /// The claim is made into its guard on the blocking thread: a request cut short while it
    /// waits (the kiosk's connection dropped) drops the guard there, which ends the claims —
    /// they are not left behind for every repeat to be told 409.
    async fn claim(state: &Arc<AppState>, kiosk: &Kiosk, keys: &[String]) -> Result<(Self, Vec<Option<Recorded>>), ApiError> {
        let (claiming, kiosk, mut keys) = (state.clone(), kiosk.0.kiosk_id.clone(), keys.to_vec());
        let claimed = super::blocking(move || {
            let (claimed, answers) = claiming.store.claim_and_look_up(&kiosk, &keys)?;
            keys.truncate(claimed);
            Ok::<_, crate::store::StoreError>((Self { state: claiming, kiosk, keys }, answers))
        })
        .await??;
        Ok(claimed)
    }

    /// How many keys it holds.
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// Records `applications` (`to_store` keeps, for each, what the answer is matched with), and
    /// with them ends every claim this request holds: one transaction.
    async fn record<T: Send + 'static>(
        mut self,
        to_store: Vec<(T, String, String, ApplicationSubmission)>,
    ) -> Result<Vec<(T, String, String, ApplicationSubmission, Recorded)>, ApiError> {
        let (state, kiosk, keys) = (self.state.clone(), self.kiosk.clone(), std::mem::take(&mut self.keys));
        let (stored, keys) = super::blocking(move || {
            let receipts: Vec<ApplicationReceipt> = to_store.iter().map(|(_, _, _, s)| receipt_for(s)).collect();
            let new: Vec<NewApplication<'_>> = to_store
                .iter()
                .zip(&receipts)
                .map(|((_, key, hash, submission), receipt)| NewApplication { key, request_hash: hash, submission, receipt })
                .collect();
            let answers = state.store.record_applications(&new, &kiosk, &keys);
            let stored = answers.map(|answers| {
                to_store
                    .into_iter()
                    .zip(answers)
                    .map(|((slot, key, hash, submission), answer)| (slot, key, hash, submission, answer))
                    .collect()
            });
            (stored, keys)
        })
        .await?;
        if stored.is_err() {
            // Still held: the drop ends them.
            self.keys = keys;
        }
        Ok(stored?)
    }

    /// Ends the claims before the answer leaves, so that a repeat sent the moment the kiosk
    /// has it is not told the key is still in flight. (Dropping a claim ends it too, a moment
    /// later: a request cut short.)
    async fn release(mut self) {
        let (state, kiosk, keys) = (self.state.clone(), self.kiosk.clone(), std::mem::take(&mut self.keys));
        if keys.is_empty() {
            return;
        }
        match super::blocking(move || state.store.release(&kiosk, &keys)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "idempotency key claims not released"),
            Err(_) => tracing::warn!("idempotency key claims not released"),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let (state, kiosk, keys) = (self.state.clone(), std::mem::take(&mut self.kiosk), std::mem::take(&mut self.keys));
        let release = move || {
            if let Err(e) = state.store.release(&kiosk, &keys) {
                // The claims expire by themselves; until then a repeat gets 409 and retries.
                tracing::warn!(error = %e, "idempotency key claims not released");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.state.store.dialect() == crate::store::db::Dialect::Postgres => drop(runtime.spawn_blocking(release)),
            _ => release(),
        }
    }
}

/// Checks the application's number and time: the number is in the sending kiosk's own series
/// (`<kiosk>-<YYMMDD>-<sequence>`, `YYMMDD` the day it was made, give or take the time zones),
/// and it was made neither in the future nor implausibly long ago.
fn check_reference(submission: &ApplicationSubmission) -> Result<(), ApiError> {
    let refuse = |detail: String| Err(unprocessable("invalid-reference", "The application number is not this kiosk's", detail));
    let made = submission.submitted_at;
    super::plausible_time(made, "submitted_at", "application")?;
    let reference = submission.reference.as_str();
    let Some(rest) = reference.strip_prefix(submission.kiosk_id.as_str()).and_then(|r| r.strip_prefix('-')) else {
        return refuse(format!("{reference:?} is not in kiosk {}'s series", submission.kiosk_id));
    };
    let (day, sequence) = rest.split_once('-').unwrap_or((rest, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if reference.len() > 32 || day.len() != 6 || !digits(day) || sequence.len() < 4 || !digits(sequence) {
        return refuse(format!("{reference:?} is not <kiosk>-<YYMMDD>-<sequence of at least 4 digits>"));
    }
    let date = |yy: &str, mm: &str, dd: &str| -> Option<jiff::civil::Date> {
        jiff::civil::Date::new(2000 + yy.parse::<i16>().ok()?, mm.parse().ok()?, dd.parse().ok()?).ok()
    };
    let Some(day) = date(&day[..2], &day[2..4], &day[4..]) else { return refuse(format!("{reference:?} names no calendar day")) };
    // The kiosk numbers by its local day, whatever its time zone: within a day of UTC's.
    if !super::same_day(day, made) {
        return refuse(format!("{reference:?} is not numbered on the day it was made ({made})"));
    }
    Ok(())
}

/// Checks an application against the catalog: the service exists and takes applications, the
/// answers fit its form, the fee is the catalog's and was paid.
fn check(catalog: &StoredCatalog, submission: &ApplicationSubmission) -> Result<(), ApiError> {
    check_reference(submission)?;
    let Some(service) = catalog.catalog.service(&submission.service_id).filter(|s| s.kind == ServiceKind::Application) else {
        return Err(unprocessable("unknown-service", "No such service takes applications", format!("service {:?}", submission.service_id)));
    };
    let errors = validate_answers(&service.form, &submission.answers, &today_in_macao());
    if !errors.is_empty() {
        let mut problem = Problem::new(422, "invalid-answers", "Some answers do not fit the service's form");
        problem.errors = errors.into_iter().map(|(field, error)| FieldProblem { field, error }).collect();
        return Err(ApiError::Problem(problem));
    }
    check_identity(service, submission)?;
    // Per copy where the service says so: two copies cost twice the fee.
    let fee = service.fee_for(&submission.answers);
    if submission.fee_avos != fee {
        return Err(unprocessable(
            "fee-mismatch",
            "The fee differs from the catalog's",
            format!("catalog fee {fee} avos for these answers, application {}", submission.fee_avos),
        ));
    }
    let paid = submission.payment.as_ref().map_or(0, |p| p.amount_avos);
    if paid != fee {
        return Err(unprocessable("payment-mismatch", "The payment does not cover the fee", format!("fee {fee} avos, paid {paid}")));
    }
    Ok(())
}

/// Checks the applicant was identified as the service requires, and that the document number
/// answered (where the form asks for it) is the identified holder's.
fn check_identity(service: &Service, submission: &ApplicationSubmission) -> Result<(), ApiError> {
    let proved = submission.identity.as_ref().map_or(IdentityLevel::Declared, |i| i.method.level());
    if proved < service.identity_level {
        return Err(unprocessable(
            "identity-required",
            "The service requires the applicant to be identified",
            format!("required {:?}, proved {proved:?}", service.identity_level),
        ));
    }
    let Some(identity) = &submission.identity else { return Ok(()) };
    let answered = service.form.iter().filter(|f| f.prefill == Some(IdentityAttribute::DocumentNumber)).filter_map(|f| {
        match submission.answers.get(&f.id) {
            Some(Answer::Text(number)) => Some(number),
            _ => None,
        }
    });
    for number in answered {
        if !identity.holder.matches(number) {
            return Err(unprocessable(
                "identity-mismatch",
                "The document number is not the identified applicant's",
                "the answered document number does not match the identity proof",
            ));
        }
    }
    Ok(())
}

/// Submits an application. Repeating it with the same `Idempotency-Key` returns the first
/// answer and stores nothing twice.
#[utoipa::path(
    post,
    path = "/v1/applications",
    tag = "applications",
    params(("Idempotency-Key" = Uuid, Header, description = "The application's own id (`application_id`); kept at least 30 days")),
    request_body = ApplicationSubmission,
    responses(
        (status = 201, description = "Stored durably (also the answer to every repeat)", body = ApplicationReceipt),
        (status = 400, description = "Missing or malformed key or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The record names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The first request with this key is still being processed; retry after Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body, or the application does not fit the catalog", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit(State(state): State<Arc<AppState>>, kiosk: Kiosk, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed-body", "The body is not JSON", e.to_string()))?;
    let submission: ApplicationSubmission = serde_json::from_value(value.clone())
        .map_err(|e| unprocessable("invalid-application", "The application does not follow the schema", e.to_string()))?;
    // Who asks comes before anything else: a record in another kiosk's name learns nothing
    // (not even whether its id exists).
    kiosk.must_be(&submission.kiosk_id, &submission.centre_id)?;
    let key_id = super::idempotency_key(&headers, "application")?;
    if submission.application_id != key_id {
        return Err(unprocessable(
            "idempotency-key-mismatch",
            "The Idempotency-Key must be the application's id",
            "Send application_id as the key.",
        ));
    }
    let (key, hash) = (key_id.to_string(), request_hash(&value));

    let (claim, mut existing) = InFlight::claim(&state, &kiosk, std::slice::from_ref(&key)).await?;
    if claim.len() == 0 {
        return Err(ApiError::InFlight);
    }
    // A repeat, or a refusal: the claim is ended before the answer leaves (see `release`).
    let answered = match existing.pop().flatten() {
        Some(Recorded::Answer(existing)) if existing.request_hash == hash => Some(Ok(replay(existing, true))),
        Some(_) => Some(Err(key_reused())),
        None => match state.catalog_now().await {
            Ok(catalog) => check(&catalog, &submission).err().map(Err),
            Err(e) => Some(Err(e)),
        },
    };
    if let Some(answer) = answered {
        claim.release().await;
        return answer;
    }
    if !state.processing_delay.is_zero() {
        tokio::time::sleep(state.processing_delay).await;
    }
    let stored = claim.record(vec![((), key, hash.clone(), submission)]).await?;
    match stored.into_iter().next() {
        Some((.., Recorded::Answer(stored))) if stored.request_hash == hash => {
            tracing::info!(application = %key_id, "application stored");
            Ok(replay(stored, false))
        }
        _ => Err(key_reused()),
    }
}

/// Submits several queued applications in one request and stores them in one transaction:
/// how a kiosk drains a backlog. Each application is its own idempotent write, keyed by its
/// `application_id`, and gets the status and body it would have had alone. Central processes
/// them in order and stops before the first one another request is processing; the results
/// then end there, and the kiosk sends the rest again.
#[utoipa::path(
    post,
    path = "/v1/applications/batch",
    tag = "applications",
    request_body = ApplicationBatch,
    responses(
        (status = 200, description = "One result per processed application, in order (201 stored, 4xx refused)", body = BatchResults),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a batch of 1 to 100 applications", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit_batch(State(state): State<Arc<AppState>>, kiosk: Kiosk, body: Bytes) -> Result<axum::Json<BatchResults>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed-body", "The body is not JSON", e.to_string()))?;
    let Some(items) = value.get("applications").and_then(Value::as_array).filter(|a| (1..=MAX_BATCH).contains(&a.len())) else {
        return Err(unprocessable("invalid-batch", "A batch holds 1 to 100 applications", "send {\"applications\": [...]}"));
    };

    // Read the items in order, then claim their keys, stopping before one that is in flight.
    let mut results: Vec<Option<BatchResult>> = Vec::new();
    // (slot in the results, idempotency key, request hash, the application)
    let mut pending: Vec<(usize, String, String, ApplicationSubmission)> = Vec::new();
    for item in items {
        let submission: ApplicationSubmission = match serde_json::from_value(item.clone()) {
            Ok(submission) => submission,
            Err(e) => {
                let refused = unprocessable("invalid-application", "The application does not follow the schema", e.to_string());
                results.push(Some(refused_result(None, refused)));
                continue;
            }
        };
        let key = submission.application_id.to_string();
        // Who asks, before anything else.
        if let Err(refused) = kiosk.must_be(&submission.kiosk_id, &submission.centre_id) {
            results.push(Some(refused_result(Some(submission.application_id), refused)));
            continue;
        }
        pending.push((results.len(), key, request_hash(item), submission));
        results.push(None);
    }
    let keys: Vec<String> = pending.iter().map(|(_, key, _, _)| key.clone()).collect();
    let (claims, existing) = InFlight::claim(&state, &kiosk, &keys).await?;
    if let Some(&(first_in_flight, ..)) = pending.get(claims.len()) {
        results.truncate(first_in_flight);
        pending.truncate(claims.len());
    }
    let catalog = match state.catalog_now().await {
        Ok(catalog) => catalog,
        Err(e) => {
            claims.release().await;
            return Err(e);
        }
    };

    // A repeat gets its first answer; a new application is checked as if sent alone.
    let mut to_store = Vec::new();
    for ((slot, key, hash, submission), existing) in pending.into_iter().zip(existing) {
        let id = Some(submission.application_id);
        results[slot] = match existing {
            Some(Recorded::Answer(existing)) if existing.request_hash == hash => Some(stored_result(id, &existing)),
            Some(_) => Some(refused_result(id, key_reused())),
            None => match check(&catalog, &submission) {
                Err(refused) => Some(refused_result(id, refused)),
                Ok(()) => {
                    to_store.push((slot, key, hash, submission));
                    None
                }
            },
        };
    }
    if !to_store.is_empty() && !state.processing_delay.is_zero() {
        tokio::time::sleep(state.processing_delay).await;
    }
    if to_store.is_empty() {
        claims.release().await;
    } else {
        for (slot, _, hash, submission, answer) in claims.record(to_store).await? {
            let id = Some(submission.application_id);
            results[slot] = Some(match answer {
                Recorded::Answer(answer) if answer.request_hash == hash => stored_result(id, &answer),
                _ => refused_result(id, key_reused()),
            });
        }
    }
    let results: Vec<BatchResult> = results.into_iter().map_while(|r| r).collect();
    tracing::info!(processed = results.len(), of = items.len(), "application batch stored");
    Ok(axum::Json(BatchResults { results }))
}

/// The answer central gives a new application.
fn receipt_for(submission: &ApplicationSubmission) -> ApplicationReceipt {
    ApplicationReceipt {
        application_id: submission.application_id,
        reference: submission.reference.clone(),
        state: ApplicationState::Received,
        received_at: Timestamp::now(),
    }
}

fn key_reused() -> ApiError {
    unprocessable(
        "idempotency-key-reused",
        "This idempotency key was used with another request",
        "Each application needs its own id; a repeat must be identical to the first request.",
    )
}

fn stored_result(application_id: Option<Uuid>, stored: &StoredResponse) -> BatchResult {
    let receipt = serde_json::from_str(&stored.body).ok();
    BatchResult { application_id, status: stored.status, receipt, problem: None }
}

fn refused_result(application_id: Option<Uuid>, refused: ApiError) -> BatchResult {
    let problem = match refused {
        ApiError::Problem(problem) => problem,
        // Only problems reach here; anything else is reported without its internals.
        _ => Problem::new(500, "internal", "Central could not complete the request"),
    };
    BatchResult { application_id, status: problem.status, receipt: None, problem: Some(problem) }
}

/// An application's current state and history.
#[utoipa::path(
    get,
    path = "/v1/applications/{id}",
    tag = "applications",
    params(("id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "Found", body = ApplicationStatus),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    Path(id): Path<String>,
) -> Result<axum::Json<ApplicationStatus>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid-id", "Application ids are UUIDs", format!("got {id:?}")))?;
    // Only the kiosk's own centre's applications: another centre's reads as none.
    let centre = kiosk.0.centre_id;
    let found = tokio::task::spawn_blocking(move || state.store.application_status(id, Some(&centre))).await.map_err(join_error)??;
    found.map(axum::Json).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown-application", "No such application", id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_key_order_and_spacing_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "s"}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).expect("json");
        let c: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[2,1]},"b":1}"#).expect("json");
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&c));
    }
}
