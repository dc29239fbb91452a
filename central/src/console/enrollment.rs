//! Enrolling kiosks, for administrators: a one-time token for a kiosk and its centre, shown
//! once with central's CA fingerprint (what the technician types into `kiosk-provision
//! enroll`), the tokens made and what became of them; and on a kiosk's page its certificates
//! and the button that revokes them. Every action is audited.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};

use super::{Signed, Words, from_store, page, refused, staff::administrator, when};
use crate::api::AppState;
use crate::store::enrollment::{CertificateRecord, TOKEN_LIFETIME, TokenNotMade};

/// What the enrollment page and a kiosk's certificates say, in the reader's language.
#[derive(Debug)]
pub(super) struct Labels {
    title: &'static str,
    intro: &'static str,
    kiosk: &'static str,
    centre: &'static str,
    hours: &'static str,
    make: &'static str,
    token: &'static str,
    shown_once: &'static str,
    fingerprint: &'static str,
    no_fingerprint: &'static str,
    command: &'static str,
    made: &'static str,
    by: &'static str,
    expires: &'static str,
    state: &'static str,
    unused: &'static str,
    used: &'static str,
    expired: &'static str,
    none: &'static str,
    pub certificates: &'static str,
    pub serial: &'static str,
    pub how: &'static str,
    pub issued: &'static str,
    pub until: &'static str,
    pub enrolled: &'static str,
    pub renewed: &'static str,
    pub revoke: &'static str,
    pub revoke_hint: &'static str,
    pub revoked_since: &'static str,
    pub no_certificates: &'static str,
}

impl Labels {
    pub(super) fn of(w: &Words) -> Self {
        Self {
            title: w.enrollment,
            intro: w.pick(
                "為一部自助機建立一次性登記碼：技術人員在自助機上以 kiosk-provision enroll 輸入登記碼及中央的 CA 指紋。",
                "Crie um código de registo de uso único para um quiosque: o técnico introdu-lo no quiosque com kiosk-provision enroll, junto com a impressão digital da CA central.",
                "Make a one-time enrollment token for a kiosk: the technician types it on the kiosk into kiosk-provision enroll, with central's CA fingerprint.",
            ),
            kiosk: w.kiosk,
            centre: w.centre,
            hours: w.pick("有效時數", "Horas de validade", "Hours it lasts"),
            make: w.pick("建立登記碼", "Criar o código", "Make the token"),
            token: w.pick("登記碼", "Código de registo", "Enrollment token"),
            shown_once: w.pick(
                "登記碼只顯示這一次，中央只保存其雜湊值。請交給技術人員。",
                "O código só é mostrado agora; a central guarda apenas o seu hash. Entregue-o ao técnico.",
                "The token is shown this once; central keeps only its hash. Give it to the technician.",
            ),
            fingerprint: w.pick("中央 CA 指紋（SHA-256）", "Impressão digital da CA central (SHA-256)", "Central's CA fingerprint (SHA-256)"),
            no_fingerprint: w.pick(
                "此中央不知道其憑證的 CA：技術人員須自備 CA 檔案（--ca-file）。",
                "Esta central não conhece a CA do seu certificado: o técnico traz o ficheiro da CA (--ca-file).",
                "This central does not know its certificate's CA: the technician brings the CA file (--ca-file).",
            ),
            command: w.pick("技術人員的指令", "Comando do técnico", "The technician's command"),
            made: w.pick("建立時間", "Criado", "Made"),
            by: w.by,
            expires: w.pick("到期", "Expira", "Expires"),
            state: w.state,
            unused: w.pick("未使用", "por usar", "unused"),
            used: w.pick("已使用", "usado", "used"),
            expired: w.pick("已過期", "expirado", "expired"),
            none: w.pick("尚未建立登記碼。", "Ainda nenhum código.", "No tokens yet."),
            certificates: w.pick("憑證", "Certificados", "Certificates"),
            serial: w.pick("序號", "Número de série", "Serial"),
            how: w.pick("方式", "Como", "How"),
            issued: w.pick("簽發", "Emitido", "Issued"),
            until: w.pick("有效至", "Válido até", "Valid until"),
            enrolled: w.pick("登記", "registo", "enrolled"),
            renewed: w.pick("續期", "renovação", "renewed"),
            revoke: w.pick("撤銷此自助機的憑證", "Revogar os certificados deste quiosque", "Revoke this kiosk's certificates"),
            revoke_hint: w.pick(
                "中央即時拒絕此自助機，直至以新登記碼重新登記。",
                "A central recusa o quiosque de imediato, até ser registado de novo com um novo código.",
                "Central refuses the kiosk at once, until it is enrolled again with a new token.",
            ),
            revoked_since: w.pick("已撤銷，生效於", "Revogado desde", "Revoked since"),
            no_certificates: w.pick(
                "中央未為此自助機簽發憑證（或為手動簽發）。",
                "A central não emitiu certificados a este quiosque (ou foram feitos à mão).",
                "Central issued this kiosk no certificate (or it was made by hand).",
            ),
        }
    }

    pub(super) fn how(&self, how: &str) -> &'static str {
        if how == "renewed" { self.renewed } else { self.enrolled }
    }
}

/// A certificate as a kiosk's page lists it.
#[derive(Debug)]
pub(super) struct CertificateRow {
    pub serial: String,
    pub how: &'static str,
    pub issued: String,
    pub until: String,
}

pub(super) fn certificate_rows(labels: &Labels, records: &[CertificateRecord]) -> Vec<CertificateRow> {
    records
        .iter()
        .map(|r| CertificateRow { serial: r.serial.clone(), how: labels.how(&r.how), issued: when(r.issued_at), until: when(r.not_after) })
        .collect()
}

#[derive(Debug)]
struct TokenRow {
    kiosk_id: String,
    centre_id: String,
    made: String,
    by: String,
    expires: String,
    state: String,
}

/// A token just made: shown this once.
#[derive(Debug)]
struct NewToken {
    token: String,
    kiosk_id: String,
    centre_id: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "enrollment.html")]
struct EnrollmentPage {
    w: &'static Words,
    me: Option<super::Me>,
    t: Labels,
    csrf: String,
    fingerprint: Option<String>,
    central_url: String,
    new_token: Option<NewToken>,
    tokens: Vec<TokenRow>,
}

/// The fingerprint of the CA central hands to the technician's tool, if it knows it.
fn fingerprint(state: &AppState) -> Option<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let pem = state.server_ca_pem.read().unwrap_or_else(|e| e.into_inner()).clone()?;
    let der = CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()?;
    Some(balcao_backend_client::api::fingerprint(der.as_ref()))
}

async fn render(state: &Arc<AppState>, signed: &Signed, headers: &axum::http::HeaderMap, new_token: Option<NewToken>) -> Response {
    let w = signed.visit.w;
    let tokens = match from_store(state, |store| store.enrollment_tokens(50)).await {
        Ok(tokens) => tokens,
        Err(response) => return response,
    };
    let t = Labels::of(w);
    let now = Timestamp::now();
    let rows = tokens
        .into_iter()
        .map(|r| TokenRow {
            state: match (&r.used_at, &r.used_from) {
                (Some(at), from) => format!("{} {} ({})", t.used, when(*at), from.as_deref().unwrap_or_default()),
                (None, _) if r.expires_at <= now => t.expired.to_string(),
                (None, _) => t.unused.to_string(),
            },
            kiosk_id: r.kiosk_id,
            centre_id: r.centre_id,
            made: when(r.created_at),
            by: r.created_by,
            expires: when(r.expires_at),
        })
        .collect();
    // The address the technician's tool reaches central at: the one this page was opened at.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("central");
    let html = EnrollmentPage {
        w,
        me: signed.me(),
        t,
        csrf: signed.session.csrf.clone(),
        fingerprint: fingerprint(state),
        central_url: format!("https://{host}"),
        new_token,
        tokens: rows,
    }
    .render();
    let mut response = page(&signed.visit, StatusCode::OK, html);
    // A page holding a token is kept by nothing on the way.
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

pub(super) async fn enrollment_page(State(state): State<Arc<AppState>>, signed: Signed, headers: axum::http::HeaderMap) -> Response {
    if let Err(response) = administrator(&state, &signed, "read-enrollment", "").await {
        return response;
    }
    render(&state, &signed, &headers, None).await
}

/// Makes a token (`POST /console/enrollment`): `kiosk`, `centre`, `hours`.
pub(super) async fn make_token(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    headers: axum::http::HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let (kiosk_id, centre_id) = (field("kiosk"), field("centre"));
    if !signed.csrf_ok(&state, &form, "enrollment-token").await {
        return refused(&signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed);
    }
    if let Err(response) = administrator(&state, &signed, "enrollment-token", &kiosk_id).await {
        return response;
    }
    let lifetime = match field("hours") {
        hours if hours.is_empty() => TOKEN_LIFETIME,
        hours => match hours.parse::<i64>() {
            Ok(hours) if (1..=168).contains(&hours) => SignedDuration::from_hours(hours),
            _ => return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, "hours: 1 to 168"),
        },
    };
    let by = signed.session.staff.username.clone();
    let (making, kiosk, centre) = (state.clone(), kiosk_id.clone(), centre_id.clone());
    let made = crate::api::blocking(move || making.store.create_enrollment_token(&kiosk, &centre, &by, lifetime)).await;
    match made {
        Ok(Ok((token, expires))) => {
            signed.audit(&state, "enrollment-token", &kiosk_id, &format!("centre {centre_id}, until {expires}"), "ok").await;
            let shown = NewToken { token: token.grouped(), kiosk_id, centre_id, expires: when(expires) };
            render(&state, &signed, &headers, Some(shown)).await
        }
        Ok(Err(TokenNotMade::Invalid(problem))) => {
            signed.audit(&state, "enrollment-token", &kiosk_id, &problem, "refused").await;
            refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, &problem)
        }
        Ok(Err(TokenNotMade::Store(e))) => crate::api::ApiError::from(e).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Revokes a kiosk's certificates (`POST /console/kiosks/{id}/revoke`).
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(kiosk_id): Path<String>,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    if !signed.csrf_ok(&state, &form, "revoke-kiosk").await {
        return refused(&signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed);
    }
    if let Err(response) = administrator(&state, &signed, "revoke-kiosk", &kiosk_id).await {
        return response;
    }
    if !crate::tls::is_kiosk_id(&kiosk_id) {
        return refused(&signed, StatusCode::NOT_FOUND, signed.visit.w.no_kiosks);
    }
    match state.revoke_kiosk(&kiosk_id, &signed.session.staff.username).await {
        Ok(from) => {
            signed.audit(&state, "revoke-kiosk", &kiosk_id, &format!("certificates issued before {from}"), "ok").await;
            Redirect::to(&format!("/console/kiosks/{kiosk_id}?revoked=1")).into_response()
        }
        Err(e) => crate::api::ApiError::from(e).into_response(),
    }
}
