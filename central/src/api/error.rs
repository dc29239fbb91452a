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

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "No such resource", "See /openapi.json for the API.")
}
