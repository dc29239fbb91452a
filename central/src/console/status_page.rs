//! The citizen's status page, the one page here for the public rather than staff: the QR on a
//! receipt opens `/status/<number>` on the citizen's phone, which asks for the applicant's date
//! of birth and then shows what a kiosk would (`crate::api::status::look_up`: the same holder
//! check, the same count of wrong tries). No session, no cookie but the language; nothing is
//! cached; the date of birth goes in a POST body, never in an address.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use balcao_backend_client::api::{ApplicationState, Catalog, CitizenStatus, Language, NextStep, StatusQuery};

use super::{Visit, page};
use crate::api::{ApiError, AppState};

/// The page's words in the three languages.
#[derive(Debug)]
pub struct CitizenWords {
    pub lang: &'static str,
    pub title: &'static str,
    pub number: &'static str,
    pub date_of_birth: &'static str,
    pub date_hint: &'static str,
    pub check: &'static str,
    pub no_match: &'static str,
    pub too_many: &'static str,
    pub invalid: &'static str,
    pub unavailable: &'static str,
    pub service: &'static str,
    pub status: &'static str,
    pub history: &'static str,
    pub next: &'static str,
    pub due: &'static str,
    pub on_time: &'static str,
    pub late: &'static str,
    pub another: &'static str,
    pub states: [&'static str; 5],
    pub steps: [&'static str; 5],
}

const ZH: CitizenWords = CitizenWords {
    lang: "zh-Hant",
    title: "申請進度查詢",
    number: "申請編號",
    date_of_birth: "申請人出生日期",
    date_hint: "只用作核對身份，不會儲存。",
    check: "查詢",
    no_match: "找不到此編號及出生日期的申請。請核對收據上的編號及申請人的出生日期。",
    too_many: "此編號錯誤次數太多，請十五分鐘後再試，或到櫃檯查詢。",
    invalid: "請輸入收據上的申請編號及完整的出生日期。",
    unavailable: "暫時未能查詢，請稍後再試。",
    service: "服務",
    status: "狀態",
    history: "處理紀錄",
    next: "下一步",
    due: "預計完成日期",
    on_time: "按時處理中",
    late: "已超過預計完成日期",
    another: "查詢另一申請",
    states: ["已收件", "審核中", "可領取", "不獲批准", "已領取"],
    steps: [
        "毋須辦理任何手續，申請正在處理中。",
        "請帶同收據及身份證明文件，到中心的自助服務機列印證明。",
        "請帶同收據及身份證明文件到中心櫃檯領取。",
        "毋須辦理任何手續。",
        "申請不獲批准，請到櫃檯查詢原因。",
    ],
};

const PT: CitizenWords = CitizenWords {
    lang: "pt",
    title: "Estado do pedido",
    number: "Número do pedido",
    date_of_birth: "Data de nascimento do requerente",
    date_hint: "Serve só para confirmar que o pedido é seu; não é guardada.",
    check: "Consultar",
    no_match: "Não há pedido com este número e esta data de nascimento. Confirme o número do recibo e a data de nascimento do requerente.",
    too_many: "Demasiadas tentativas erradas com este número. Tente de novo daqui a 15 minutos ou pergunte no balcão.",
    invalid: "Escreva o número do recibo e a data de nascimento completa.",
    unavailable: "Não é possível consultar agora. Tente de novo mais tarde.",
    service: "Serviço",
    status: "Estado",
    history: "Histórico",
    next: "O que fazer a seguir",
    due: "Data prevista de conclusão",
    on_time: "Dentro do prazo",
    late: "Passou a data prevista",
    another: "Consultar outro pedido",
    states: ["Recebido", "Em apreciação", "Pronto a levantar", "Indeferido", "Levantado"],
    steps: [
        "Não precisa de fazer nada: o pedido está a ser tratado.",
        "Imprima o certificado num quiosque do centro, com o recibo e o documento de identificação.",
        "Levante-o no balcão do centro, com o recibo e o documento de identificação.",
        "Não precisa de fazer nada.",
        "O pedido foi indeferido: pergunte no balcão porquê.",
    ],
};

const EN: CitizenWords = CitizenWords {
    lang: "en",
    title: "Application status",
    number: "Application number",
    date_of_birth: "Applicant's date of birth",
    date_hint: "Only used to check the application is yours; it is not kept.",
    check: "Check",
    no_match: "No application with this number and date of birth. Check the number on the receipt and the applicant's date of birth.",
    too_many: "Too many wrong tries with this number. Try again in 15 minutes or ask at the counter.",
    invalid: "Enter the number on the receipt and the whole date of birth.",
    unavailable: "The status cannot be checked right now. Please try again later.",
    service: "Service",
    status: "Status",
    history: "History",
    next: "What to do next",
    due: "Expected by",
    on_time: "On time",
    late: "Past the expected date",
    another: "Check another application",
    states: ["Received", "In review", "Ready to collect", "Refused", "Collected"],
    steps: [
        "Nothing to do: the application is being processed.",
        "Print the certificate at a kiosk of the centre, with your receipt and identity document.",
        "Collect it at the centre's counter, with your receipt and identity document.",
        "Nothing to do.",
        "The application was refused: ask at the counter why.",
    ],
};

impl CitizenWords {
    pub fn of(language: Language) -> &'static Self {
        match language {
            Language::ZhHant => &ZH,
            Language::Pt => &PT,
            Language::En => &EN,
        }
    }

    fn state(&self, state: ApplicationState) -> &'static str {
        let i = match state {
            ApplicationState::Received => 0,
            ApplicationState::InReview => 1,
            ApplicationState::Ready => 2,
            ApplicationState::Rejected => 3,
            ApplicationState::Collected => 4,
        };
        self.states[i]
    }

    fn step(&self, step: NextStep) -> &'static str {
        let i = match step {
            NextStep::Wait => 0,
            NextStep::CollectAtKiosk => 1,
            NextStep::CollectAtCounter => 2,
            NextStep::Nothing => 3,
            NextStep::AskAtCounter => 4,
        };
        self.steps[i]
    }
}

/// A line of the history, as shown.
struct Change {
    state: &'static str,
    at: String,
}

/// What the page shows of a found application.
struct Shown {
    service: String,
    state: &'static str,
    next: &'static str,
    due: String,
    on_time: bool,
    history: Vec<Change>,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    w: &'static CitizenWords,
    reference: String,
    problem: Option<&'static str>,
    shown: Option<Shown>,
}

/// The number from the address, as typed on a receipt: capitals, digits and dashes, at most 32.
fn reference_in(path: &str) -> String {
    path.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(32).collect::<String>().to_ascii_uppercase()
}

/// `GET /status/<number>`: the form asking for the date of birth.
pub async fn status_form(visit: Visit, Path(reference): Path<String>) -> Response {
    let w = CitizenWords::of(visit.language);
    page(&visit, StatusCode::OK, StatusPage { w, reference: reference_in(&reference), problem: None, shown: None }.render())
}

/// `POST /status/<number>`: the status, or why not.
pub async fn status_answer(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(reference): Path<String>,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let language = visit.language;
    let w = CitizenWords::of(language);
    let reference = reference_in(form.get("reference").map_or(reference.as_str(), String::as_str));
    let date_of_birth = form.get("date_of_birth").cloned().unwrap_or_default();
    let query = StatusQuery { reference: reference.clone(), date_of_birth };
    let answer = crate::api::status::look_up(&state, query, Some(visit.address.clone())).await;
    let (status, problem, shown) = match answer {
        Ok((found, catalog)) => (StatusCode::OK, None, Some(shown(&catalog.catalog, found, language))),
        Err(ApiError::Slowed(_)) => (StatusCode::TOO_MANY_REQUESTS, Some(w.too_many), None),
        Err(ApiError::Problem(problem)) if problem.status == 404 => (StatusCode::NOT_FOUND, Some(w.no_match), None),
        Err(ApiError::Problem(problem)) if problem.status == 422 => (StatusCode::UNPROCESSABLE_ENTITY, Some(w.invalid), None),
        Err(e) => {
            tracing::warn!(error = ?e, "a status page could not be answered");
            (StatusCode::SERVICE_UNAVAILABLE, Some(w.unavailable), None)
        }
    };
    page(&visit, status, StatusPage { w, reference, problem, shown }.render())
}

fn shown(catalog: &Catalog, found: CitizenStatus, language: Language) -> Shown {
    let w = CitizenWords::of(language);
    let service = catalog.service(&found.service_id).map(|s| s.name.get(language).to_string());
    let zone = jiff::tz::TimeZone::system();
    Shown {
        service: service.unwrap_or(found.service_id),
        state: w.state(found.state),
        next: w.step(found.next_step),
        due: found.due.to_string(),
        on_time: found.on_time,
        history: found
            .history
            .iter()
            .map(|change| Change {
                state: w.state(change.state),
                at: change.at.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            })
            .collect(),
    }
}
