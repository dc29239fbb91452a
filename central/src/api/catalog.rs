use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Whether an `If-None-Match` header names this `ETag` (a list, weak tags and `*` included).
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The service catalog; `304 Not Modified` when the kiosk's copy is current.
#[utoipa::path(
    get,
    path = "/v1/catalog",
    tag = "catalog",
    params(("If-None-Match" = Option<String>, Header, description = "ETag of the kiosk's copy")),
    responses(
        (status = 200, description = "The catalog", body = balcao_backend_client::api::Catalog,
            headers(("ETag" = String, description = "Identifies this version of the catalog"))),
        (status = 304, description = "The kiosk's copy is current; no body"),
        (status = 401, description = "No kiosk certificate (mutual TLS)", body = balcao_backend_client::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_catalog(State(state): State<Arc<AppState>>, _kiosk: super::auth::Kiosk, headers: HeaderMap) -> Result<Response, ApiError> {
    let catalog = state.catalog_now().await?;
    Ok(conditional(&headers, &catalog.etag, catalog.body.clone()))
}

/// The `ETag` of a JSON body: a hash of its bytes.
pub fn etag_of(body: &str) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body.as_bytes())[..12]))
}

/// A JSON body with its `ETag`, or `304 Not Modified` without a body when the request's
/// `If-None-Match` names that tag.
pub fn conditional(headers: &HeaderMap, etag: &str, body: String) -> Response {
    let tag = HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"invalid\""));
    let cache = HeaderValue::from_static("no-cache");
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| matches(v, etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag), (header::CACHE_CONTROL, cache)]).into_response();
    }
    (
        StatusCode::OK,
        [(header::ETAG, tag), (header::CACHE_CONTROL, cache), (header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn if_none_match_forms() {
        assert!(matches("\"abc\"", "\"abc\""));
        assert!(matches("W/\"abc\"", "\"abc\""));
        assert!(matches("\"x\", \"abc\"", "\"abc\""));
        assert!(matches("*", "\"abc\""));
        assert!(!matches("\"abd\"", "\"abc\""));
        assert!(!matches("", "\"abc\""));
    }
}
