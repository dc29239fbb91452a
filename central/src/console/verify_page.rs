//! The public verification page of the certificates central issues for the agency: the QR code
//! printed on a certificate opens `/verify/<code>` on anyone's phone, which checks the code's
//! signature against the agency's published keys (`/verify/keys`, the same a verifier uses
//! offline) and shows what the code says and whether the certificate is still on record; a PDF
//! file uploaded to `/verify/` is recognised byte for byte (its SHA-256 among the files issued)
//! or refused. No session and nothing kept: the file is hashed and dropped.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use balcao_backend_client::api::{CertificateClaims, Language, file_sha256, verify_token};

use super::{Visit, page};
use crate::api::AppState;
use crate::api::issuers::{keys_of, published};
use crate::store::IssuedCertificate;
use crate::store::issuer::KeySet;

/// The largest file the page takes (a certificate is a few hundred kilobytes).
const MAX_UPLOAD: usize = 900 * 1024;

/// The page's words in the three languages.
#[derive(Debug)]
pub struct VerifyWords {
    pub lang: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub genuine: &'static str,
    pub genuine_file: &'static str,
    pub not_genuine: &'static str,
    pub not_genuine_file: &'static str,
    pub unknown: &'static str,
    pub compare: &'static str,
    pub number: &'static str,
    pub service: &'static str,
    pub agency: &'static str,
    pub issued: &'static str,
    pub collected: &'static str,
    pub upload: &'static str,
    pub upload_hint: &'static str,
    pub check: &'static str,
    pub unavailable: &'static str,
}

const ZH: VerifyWords = VerifyWords {
    lang: "zh-Hant",
    title: "證明書核實",
    intro: "以手機掃描證明書上的二維碼，或上載證明書的 PDF 檔案，即可核實其真偽。",
    genuine: "真確：此證明書由以下機關發出，資料未經更改。",
    genuine_file: "真確：此檔案與發出的證明書完全相同。",
    not_genuine: "無法核實：此核實碼並非由發證機關簽發，或已被更改。",
    not_genuine_file: "無法核實：此檔案並非本平台發出的證明書，或已被更改。",
    unknown: "此核實碼的簽署有效，但本平台沒有此證明書的紀錄。請向發證機關查詢。",
    compare: "請核對紙本上的姓名及資料：核實碼的簽署涵蓋證明書的全部內容。",
    number: "申請編號",
    service: "證明書",
    agency: "發出機關",
    issued: "發出日期",
    collected: "已領取",
    upload: "上載 PDF 檔案",
    upload_hint: "檔案只用作比對，不會儲存。",
    check: "核實",
    unavailable: "暫時未能核實，請稍後再試。",
};

const PT: VerifyWords = VerifyWords {
    lang: "pt",
    title: "Verificação de certidões",
    intro: "Leia o código QR da certidão com o telemóvel, ou carregue o ficheiro PDF da certidão, para verificar a sua autenticidade.",
    genuine: "Autêntica: esta certidão foi emitida pela entidade abaixo e os dados não foram alterados.",
    genuine_file: "Autêntico: este ficheiro é idêntico à certidão emitida.",
    not_genuine: "Não verificada: este código não foi assinado pela entidade emissora, ou foi alterado.",
    not_genuine_file: "Não verificado: este ficheiro não é uma certidão emitida por esta plataforma, ou foi alterado.",
    unknown: "A assinatura do código é válida, mas esta plataforma não tem registo da certidão. Contacte a entidade emissora.",
    compare: "Confira o nome e os dados no papel: a assinatura do código cobre todo o conteúdo da certidão.",
    number: "N.º do pedido",
    service: "Certidão",
    agency: "Entidade emissora",
    issued: "Data de emissão",
    collected: "Levantada",
    upload: "Carregar o ficheiro PDF",
    upload_hint: "O ficheiro serve só para comparação; não é guardado.",
    check: "Verificar",
    unavailable: "Não é possível verificar agora. Tente de novo mais tarde.",
};

const EN: VerifyWords = VerifyWords {
    lang: "en",
    title: "Certificate verification",
    intro: "Scan the QR code on a certificate with a phone, or upload the certificate's PDF file, to check that it is genuine.",
    genuine: "Genuine: this certificate was issued by the body below and its details have not been changed.",
    genuine_file: "Genuine: this file is exactly the certificate that was issued.",
    not_genuine: "Not verified: this code was not signed by the issuing body, or it was changed.",
    not_genuine_file: "Not verified: this file is not a certificate issued through this platform, or it was changed.",
    unknown: "The code's signature holds, but this platform has no record of the certificate. Please ask the issuing body.",
    compare: "Compare the name and details on the paper: the code's signature covers the whole certificate.",
    number: "Application number",
    service: "Certificate",
    agency: "Issued by",
    issued: "Date of issue",
    collected: "Collected",
    upload: "Upload the PDF file",
    upload_hint: "The file is only compared; it is not kept.",
    check: "Check",
    unavailable: "The certificate cannot be checked right now. Please try again later.",
};

impl VerifyWords {
    pub fn of(language: Language) -> &'static Self {
        match language {
            Language::ZhHant => &ZH,
            Language::Pt => &PT,
            Language::En => &EN,
        }
    }
}

/// A certificate as the page shows it.
struct Shown {
    reference: String,
    service: String,
    agency: String,
    issued: String,
    collected: bool,
}

/// What the page found.
enum Verdict {
    /// The code's signature holds and central issued the certificate.
    Genuine(Shown),
    /// The uploaded file is one central issued.
    GenuineFile(Shown),
    /// A good signature, but no record here.
    Unknown(Shown),
    NotGenuine,
    NotGenuineFile,
    Unavailable,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    w: &'static VerifyWords,
    verdict: Option<Verdict>,
}

impl VerifyPage {
    fn shown(&self) -> Option<&Shown> {
        match &self.verdict {
            Some(Verdict::Genuine(s) | Verdict::GenuineFile(s) | Verdict::Unknown(s)) => Some(s),
            _ => None,
        }
    }

    fn message(&self) -> Option<(&'static str, bool)> {
        let w = self.w;
        Some(match self.verdict.as_ref()? {
            Verdict::Genuine(_) => (w.genuine, true),
            Verdict::GenuineFile(_) => (w.genuine_file, true),
            Verdict::Unknown(_) => (w.unknown, false),
            Verdict::NotGenuine => (w.not_genuine, false),
            Verdict::NotGenuineFile => (w.not_genuine_file, false),
            Verdict::Unavailable => (w.unavailable, false),
        })
    }
}

fn shown(state: &AppState, claims: &CertificateClaims, record: Option<&IssuedCertificate>, language: Language) -> Shown {
    let catalog = state.catalog.read().unwrap_or_else(|e| e.into_inner()).clone();
    let service = catalog.catalog.service(&claims.service);
    Shown {
        reference: claims.reference.clone(),
        service: service.map_or_else(|| claims.service.clone(), |s| s.name.get(language).to_string()),
        agency: service.map_or_else(|| claims.iss.clone(), |s| s.agency.name.get(language).to_string()),
        issued: claims.date.to_string(),
        collected: record.is_some_and(|r| r.state == "collected"),
    }
}

fn status_of(verdict: &Verdict) -> StatusCode {
    match verdict {
        Verdict::Genuine(_) | Verdict::GenuineFile(_) => StatusCode::OK,
        Verdict::Unknown(_) | Verdict::NotGenuine | Verdict::NotGenuineFile => StatusCode::NOT_FOUND,
        Verdict::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn answer(visit: &Visit, verdict: Option<Verdict>) -> Response {
    let status = verdict.as_ref().map_or(StatusCode::OK, status_of);
    page(visit, status, VerifyPage { w: VerifyWords::of(visit.language), verdict }.render())
}

/// `GET /verify/`: what the page does, and the upload form.
pub async fn verify_form(visit: Visit) -> Response {
    answer(&visit, None)
}

/// `GET /verify/keys`: the agency's public keys, for checking codes offline.
pub async fn verify_keys(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match published(state, KeySet::Documents, headers).await {
        Ok(response) => response,
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// `GET /verify/<code>`: the code the QR carries, checked.
pub async fn verify_code(State(state): State<Arc<AppState>>, visit: Visit, Path(token): Path<String>) -> Response {
    let Ok(keys) = keys_of(state.clone(), KeySet::Documents).await else { return answer(&visit, Some(Verdict::Unavailable)) };
    let Ok(claims) = verify_token(&token, &keys, jiff::Timestamp::now()) else { return answer(&visit, Some(Verdict::NotGenuine)) };
    let lookup = state.clone();
    let doc = claims.doc;
    let record = match crate::api::blocking(move || lookup.store.issued_certificate(doc)).await {
        Ok(Ok(record)) => record,
        _ => return answer(&visit, Some(Verdict::Unavailable)),
    };
    // The record must be of this very code's content: a signature over other claims is no match.
    let verdict = match &record {
        Some(issued) if issued.claims == claims => Verdict::Genuine(shown(&state, &claims, Some(issued), visit.language)),
        _ => Verdict::Unknown(shown(&state, &claims, None, visit.language)),
    };
    answer(&visit, Some(verdict))
}

/// `POST /verify/`: an uploaded PDF file, recognised byte for byte or refused.
pub async fn verify_file(State(state): State<Arc<AppState>>, visit: Visit, mut form: Multipart) -> Response {
    let mut file = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            match field.bytes().await {
                Ok(bytes) if bytes.len() <= MAX_UPLOAD => file = Some(bytes),
                _ => return answer(&visit, Some(Verdict::NotGenuineFile)),
            }
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else { return answer(&visit, None) };
    let sha256 = file_sha256(&file);
    drop(file);
    let lookup = state.clone();
    let verdict = match crate::api::blocking(move || lookup.store.certificate_by_file(&sha256)).await {
        Ok(Ok(Some(issued))) => Verdict::GenuineFile(shown(&state, &issued.claims, Some(&issued), visit.language)),
        Ok(Ok(None)) => Verdict::NotGenuineFile,
        _ => Verdict::Unavailable,
    };
    answer(&visit, Some(verdict))
}
