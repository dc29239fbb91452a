//! Enrollment and renewal: the technician's tool trades a one-time token and a certificate
//! signing request for the kiosk's first certificate (no client certificate yet, so these are
//! the only writes central takes without one); a running kiosk trades its current certificate
//! and a new request for the next. Every enrollment, taken or refused, is in the audit log, and
//! an address that keeps offering wrong tokens is turned away for a while.

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use balcao_backend_client::api::{EnrollmentRequest, EnrollmentToken, IssuedCertificate, Problem, RenewalRequest, Retirement};

use super::auth::Kiosk;
use super::{ApiError, AppState, blocking, unprocessable};
use crate::store::enrollment::CertificateRecord;
use crate::store::staff::{ADDRESS_LIMIT, ADDRESS_WINDOW};
use crate::tls::{Issued, KioskIssuer, Peer};

/// The audit log's name for an enrollment.
const ENROLL: &str = "enroll";

fn not_set_up(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "enrollment-not-set-up",
        "This central does not enroll kiosks",
        format!("It was started without {what}; ask its administrator."),
    )
}

fn issuer(state: &AppState) -> Result<KioskIssuer, ApiError> {
    state.kiosk_issuer.read().unwrap_or_else(|e| e.into_inner()).clone().ok_or_else(|| not_set_up("its kiosk CA's key"))
}

/// The CA kiosks trust for central's own certificate (PEM). The technician's tool fetches it
/// on first contact and checks its fingerprint with the technician before trusting it.
#[utoipa::path(
    get,
    path = "/v1/enrollment/ca",
    tag = "enrollment",
    security(()),
    responses(
        (status = 200, description = "The CA's certificate (PEM)", body = String, content_type = "application/x-pem-file"),
        (status = 503, description = "This central does not know it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn central_ca(State(state): State<Arc<AppState>>) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let ca =
        state.server_ca_pem.read().unwrap_or_else(|e| e.into_inner()).clone().ok_or_else(|| not_set_up("the CA of its certificate"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], ca))
}

/// Enrolls a kiosk: the token (one use, bound to a kiosk and a centre) buys a certificate for
/// the key of the request, naming that kiosk and centre.
#[utoipa::path(
    post,
    path = "/v1/enrollments",
    tag = "enrollment",
    security(()),
    request_body = EnrollmentRequest,
    responses(
        (status = 201, description = "The kiosk's certificate", body = IssuedCertificate),
        (status = 403, description = "The token is unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The token is mistyped, or the request is not a valid signing request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many refused tokens from this address lately", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This central does not enroll kiosks", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enroll(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<IssuedCertificate>), ApiError> {
    let address = peer.addr.ip().to_string();
    let since = jiff::Timestamp::now() - ADDRESS_WINDOW;
    let (counting, from) = (state.clone(), address.clone());
    if blocking(move || counting.store.refused_from(&from, ENROLL, since)).await?? >= ADDRESS_LIMIT {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-refused-tokens",
            "Too many wrong enrollment tokens from this address",
            format!("Wait {} minutes, then try again with the token as the administrator gave it.", ADDRESS_WINDOW.as_mins()),
        ));
    }
    let request: EnrollmentRequest =
        super::from_json(&body).map_err(|e| unprocessable("invalid-enrollment", "The enrollment does not follow the schema", e))?;
    let issuer = issuer(&state)?;
    let refuse = |status: StatusCode, kind: &'static str, title: &'static str, why: String, target: String| {
        let (auditing, address) = (state.clone(), address.clone());
        async move {
            let detail = why.clone();
            blocking(move || auditing.store.audit("technician", &address, ENROLL, &target, &detail, "refused")).await??;
            Err::<(StatusCode, axum::Json<IssuedCertificate>), _>(ApiError::new(status, kind, title, why))
        }
    };
    let token = match EnrollmentToken::parse(&request.token) {
        Ok(token) => token,
        Err(e) => {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, "token-mistyped", "The token is mistyped", e.to_string(), "?".into()).await;
        }
    };
    let csr = match crate::tls::read_csr(&request.csr_pem) {
        Ok(csr) => csr,
        Err(e) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-csr",
                "Not a signing request central can sign",
                e.to_string(),
                "?".into(),
            )
            .await;
        }
    };
    let (redeeming, from) = (state.clone(), address.clone());
    let (expect_kiosk, expect_centre) = (request.kiosk_id.clone(), request.centre_id.clone());
    let target = expect_kiosk.clone().unwrap_or_else(|| "?".into());
    let redeemed = blocking(move || {
        redeeming.store.redeem_enrollment_token(&token.hash(), &from, (expect_kiosk.as_deref(), expect_centre.as_deref()))
    });
    let enrolling = match redeemed.await?? {
        Ok(enrolling) => enrolling,
        Err(refusal) => {
            return refuse(StatusCode::FORBIDDEN, "token-refused", "The enrollment token was refused", refusal.to_string(), target).await;
        }
    };
    let issued = issue(&state, &issuer, &csr, &enrolling.kiosk_id, &enrolling.centre_id, "enrolled").await?;
    let (auditing, detail) =
        (state.clone(), format!("centre {}, certificate {} until {}", enrolling.centre_id, issued.serial, issued.not_after));
    let kiosk_id = enrolling.kiosk_id.clone();
    blocking(move || auditing.store.audit("technician", &address, ENROLL, &kiosk_id, &detail, "ok")).await??;
    tracing::info!(kiosk = %enrolling.kiosk_id, centre = %enrolling.centre_id, serial = %issued.serial, "kiosk enrolled");
    Ok((StatusCode::CREATED, axum::Json(answer(enrolling.kiosk_id, enrolling.centre_id, issued))))
}

/// Renews the asking kiosk's certificate: a new one, for the key of the request, naming the
/// same kiosk and centre as the current one (which stays good until it expires).
#[utoipa::path(
    post,
    path = "/v1/certificates/renewal",
    tag = "enrollment",
    request_body = RenewalRequest,
    responses(
        (status = 201, description = "The kiosk's new certificate", body = IssuedCertificate),
        (status = 401, description = "No kiosk certificate (mutual TLS), or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid signing request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "This central does not renew certificates", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn renew(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<IssuedCertificate>), ApiError> {
    let request: RenewalRequest =
        super::from_json(&body).map_err(|e| unprocessable("invalid-renewal", "The renewal does not follow the schema", e))?;
    let csr = crate::tls::read_csr(&request.csr_pem)
        .map_err(|e| unprocessable("invalid-csr", "Not a signing request central can sign", e.to_string()))?;
    let issuer = issuer(&state)?;
    let name = kiosk.0;
    let issued = issue(&state, &issuer, &csr, &name.kiosk_id, &name.centre_id, "renewed").await?;
    tracing::info!(kiosk = %name.kiosk_id, serial = %issued.serial, "kiosk certificate renewed");
    Ok((StatusCode::CREATED, axum::Json(answer(name.kiosk_id, name.centre_id, issued))))
}

/// A kiosk being decommissioned, for the last time with its certificate: central marks it
/// retired and revokes every certificate it has (this one included, from the next request).
#[utoipa::path(
    post,
    path = "/v1/retirement",
    tag = "enrollment",
    request_body = Retirement,
    responses(
        (status = 204, description = "Retired and revoked"),
        (status = 401, description = "No kiosk certificate (mutual TLS), or a revoked one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The retirement names another kiosk or centre than the certificate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a retirement", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retire(
    State(state): State<Arc<AppState>>,
    kiosk: Kiosk,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let retirement: Retirement =
        super::from_json(&body).map_err(|e| unprocessable("invalid-retirement", "The retirement does not follow the schema", e))?;
    kiosk.must_be(&retirement.kiosk_id, &retirement.centre_id)?;
    let (retiring, address) = (state.clone(), peer.addr.ip().to_string());
    let from = blocking(move || {
        let from = retiring.store.retire_kiosk(&retirement.kiosk_id, &retirement.centre_id, retirement.exported_records)?;
        let detail = format!(
            "centre {}, {} records exported, certificates before {from} revoked",
            retirement.centre_id, retirement.exported_records
        );
        retiring.store.audit("technician", &address, "retire-kiosk", &retirement.kiosk_id, &detail, "ok")?;
        Ok::<_, crate::store::StoreError>(from)
    })
    .await??;
    state.revocations.forget().await;
    tracing::info!(kiosk = %kiosk.0.kiosk_id, %from, "kiosk decommissioned");
    Ok(StatusCode::NO_CONTENT)
}

/// Issues and records a certificate; it is good from now, or from the moment its kiosk's last
/// revocation ends, whichever is later (so a kiosk enrolled again right after a revocation is
/// not caught by it).
async fn issue(
    state: &Arc<AppState>,
    issuer: &KioskIssuer,
    csr: &rcgen::CertificateSigningRequestParams,
    kiosk_id: &str,
    centre_id: &str,
    how: &str,
) -> Result<Issued, ApiError> {
    let (reading, kiosk) = (state.clone(), kiosk_id.to_string());
    let revoked_until = blocking(move || reading.store.revocations().map(|r| r.get(&kiosk).copied())).await??;
    let now = jiff::Timestamp::now();
    let not_before = revoked_until.map_or(now, |until| until.max(now));
    let issued = issuer
        .issue(csr, kiosk_id, centre_id, not_before)
        .map_err(|e| unprocessable("invalid-csr", "Not a signing request central can sign", e.to_string()))?;
    let record = CertificateRecord {
        serial: issued.serial.clone(),
        kiosk_id: kiosk_id.to_string(),
        centre_id: centre_id.to_string(),
        issued_at: issued.not_before,
        not_after: issued.not_after,
        how: how.to_string(),
    };
    let recording = state.clone();
    blocking(move || recording.store.record_kiosk_certificate(&record)).await??;
    Ok(issued)
}

fn answer(kiosk_id: String, centre_id: String, issued: Issued) -> IssuedCertificate {
    IssuedCertificate { kiosk_id, centre_id, certificate_pem: issued.pem, not_after: issued.not_after }
}
