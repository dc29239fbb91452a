use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{PROBLEM_JSON, Problem};

use crate::store::StoreError;

/// Every error the API returns, as `application/problem+json`.
#[derive(Debug)]
pub enum ApiError {
    Problem(Problem),
    /// Same idempotency key already being processed: retry later.
    InFlight,
    /// Too many wrong tries: nothing is answered for this many seconds.
    Slowed(u64),
    Store(StoreError),
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::Problem(Problem::new(status.as_u16(), kind, title).with_detail(detail))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (problem, retry_after) = match self {
            ApiError::Problem(p) => (p, None),
            ApiError::InFlight => (
                Problem::new(409, "request-in-flight", "A request with this idempotency key is being processed")
                    .with_detail("Repeat the request, unchanged, after the time in Retry-After."),
                Some(1),
            ),
            ApiError::Slowed(secs) => (
                Problem::new(429, "too-many-tries", "Too many wrong tries of this application number")
                    .with_detail("Try again after the time in Retry-After, or ask at the counter."),
                Some(secs),
            ),
            ApiError::Store(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                (
                    Problem::new(503, "database-unavailable", "Central's database is not answering right now")
                        .with_detail("Repeat the request, unchanged, after the time in Retry-After; nothing was stored."),
                    Some(5),
                )
            }
            ApiError::Store(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "store failed");
                (
                    Problem::new(500, "internal", "Central could not complete the request").with_detail("Retry later; nothing was lost."),
                    None,
                )
            }
        };
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Turns an error response that is not a problem document (one axum or a layer made: a path or
/// query that does not parse, a method not allowed, a body too large) into one, keeping its
/// status, its `Allow` and `Retry-After`, and its text as the detail. A page made for people
/// (HTML: the console's refusals, a citizen's status page saying "no match") stays a page.
pub async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let is_problem = content_type == PROBLEM_JSON;
    let is_page = content_type.starts_with("text/html");
    if !(status.is_client_error() || status.is_server_error()) || is_problem || is_page {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let (kind, title) = match status {
        StatusCode::BAD_REQUEST => ("bad-request", "The request does not parse"),
        StatusCode::NOT_FOUND => ("not-found", "No such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "This resource does not take that method"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "The body is larger than central takes"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "The body is not of a type central takes"),
        StatusCode::REQUEST_TIMEOUT => ("request-timeout", "The request took too long to arrive"),
        _ => ("http-error", status.canonical_reason().unwrap_or("Error")),
    };
    let detail = if text.is_empty() { format!("HTTP {}", status.as_u16()) } else { text };
    let mut response = ApiError::new(status, kind, title, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "No such resource", "See /openapi.json for the API.")
}
