//! The console's page of received applications, certificates handed out twice, queue tickets
//! and card payment days, for the staff member's centres, in their language. (Nothing
//! personal of a citizen: references, services, kiosks, amounts.)

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{ApplicationState, IdentityMethod, KioskEvent};

use super::{Signed, Words, page};
use crate::api::AppState;

/// The page's own words, in the reader's language.
#[derive(Debug)]
struct Labels {
    title: &'static str,
    handed_out_twice: &'static str,
    collected: &'static str,
    reference: &'static str,
    offline: &'static str,
    issued_twice: &'static str,
    day: &'static str,
    number: &'static str,
    days_differ: &'static str,
    payment_days: &'static str,
    closed: &'static str,
    terminal_booked: &'static str,
    journal: &'static str,
    payments: &'static str,
    difference: &'static str,
    queue_tickets: &'static str,
    queue: &'static str,
    tickets: &'static str,
    issued_offline: &'static str,
    last_number: &'static str,
    last_issued: &'static str,
    received_title: &'static str,
    received: &'static str,
    service: &'static str,
    identified_by: &'static str,
    fee: &'static str,
    none_yet: &'static str,
}

impl Labels {
    fn of(w: &Words) -> Self {
        Self {
            title: w.pick("申請", "Pedidos", "Applications"),
            handed_out_twice: w.pick("重複發出的證明書", "Certidões entregues duas vezes", "Certificates handed out twice"),
            collected: w.pick("領取時間", "Levantada", "Collected"),
            reference: w.pick("申請編號", "Número do pedido", "Reference"),
            offline: w.pick("離線", "Sem ligação", "Offline"),
            issued_twice: w.pick("重複發出的輪候號碼", "Senhas emitidas duas vezes", "Queue ticket numbers issued twice"),
            day: w.pick("日期", "Dia", "Day"),
            number: w.pick("號碼", "Número", "Number"),
            days_differ: w.pick(
                "付款終端機與自助機記錄不符的日結",
                "Dias de pagamento em que o terminal e o quiosque diferem",
                "Card payment days where the terminal and the kiosk differ",
            ),
            payment_days: w.pick("信用卡付款日結", "Dias de pagamento com cartão", "Card payment days"),
            closed: w.pick("日結時間", "Fechado", "Closed"),
            terminal_booked: w.terminal_booked,
            journal: w.kiosk_journal,
            payments: w.pick("付款次數", "Pagamentos", "Payments"),
            difference: w.pick("差額", "Diferença", "Difference"),
            queue_tickets: w.pick("輪候票", "Senhas", "Queue tickets"),
            queue: w.pick("輪候類別", "Fila", "Queue"),
            tickets: w.pick("票數", "Senhas", "Tickets"),
            issued_offline: w.pick("離線發出", "Emitidas sem ligação", "Issued offline"),
            last_number: w.pick("最後號碼", "Último número", "Last number"),
            last_issued: w.pick("最後發出", "Última emitida", "Last issued"),
            received_title: w.pick("已收到的申請", "Pedidos recebidos", "Applications received"),
            received: w.pick("收到時間", "Recebido", "Received"),
            service: w.pick("服務", "Serviço", "Service"),
            identified_by: w.pick("身份確認方式", "Identificado por", "Identified by"),
            fee: w.pick("費用", "Taxa", "Fee"),
            none_yet: w.pick("尚未收到申請。", "Ainda não há pedidos.", "No applications yet."),
        }
    }
}

#[derive(Debug)]
struct DayRow {
    closed: String,
    kiosk: String,
    centre: String,
    terminal: String,
    journal: String,
    payments: u64,
    difference: String,
}

#[derive(Debug)]
struct QueueRow {
    day: String,
    centre: String,
    queue: String,
    issued: u32,
    offline: u32,
    last_number: String,
    last_issued: String,
}

#[derive(Debug)]
struct ApplicationLine {
    received: String,
    reference: String,
    service: String,
    kiosk: String,
    identified: &'static str,
    fee: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ApplicationsPage {
    w: &'static Words,
    me: Option<super::Me>,
    t: Labels,
    duplicates: Vec<(String, String, String, &'static str)>,
    reused: Vec<(String, String, String, String, String)>,
    differing: Vec<DayRow>,
    payment_days: Vec<DayRow>,
    queue_days: Vec<QueueRow>,
    note: String,
    applications: Vec<ApplicationLine>,
}

fn state_name(w: &Words, state: ApplicationState) -> &'static str {
    match state {
        ApplicationState::Received => w.pick("已收到", "Recebido", "Received"),
        ApplicationState::InReview => w.pick("審查中", "Em análise", "In review"),
        ApplicationState::Ready => w.pick("可領取", "Pronto", "Ready"),
        ApplicationState::Rejected => w.pick("已拒絕", "Recusado", "Rejected"),
        ApplicationState::Collected => w.pick("已領取", "Levantado", "Collected"),
    }
}

fn day_row(w: &Words, day: &KioskEvent) -> Option<DayRow> {
    let t = day.day_totals?;
    let difference = i128::from(t.terminal_avos) - i128::from(t.journal_avos);
    let amount = |d: i128| w.money(u64::try_from(d.unsigned_abs()).unwrap_or(u64::MAX));
    Some(DayRow {
        closed: day.at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        kiosk: day.kiosk_id.clone(),
        centre: day.centre_id.clone(),
        terminal: w.money(t.terminal_avos),
        journal: w.money(t.journal_avos),
        payments: t.payments,
        difference: match difference {
            0 => w.pick("相符", "conferem", "agree").to_string(),
            d if d > 0 => format!("{} +{}", w.pick("終端機", "terminal", "terminal"), amount(d)),
            d => format!("{} +{}", w.pick("自助機記錄", "registo do quiosque", "journal"), amount(d)),
        },
    })
}

/// Behind a staff session like every console page; a staff member limited to some centres
/// sees those centres' rows only.
pub async fn applications_page(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let w = signed.visit.w;
    let catalog = match state.catalog_now().await {
        Ok(catalog) => catalog,
        Err(e) => return e.into_response(),
    };
    let found = super::from_store(&state, |store| {
        Ok((
            store.recent_applications(200)?,
            store.recent_pickups(100, true)?,
            store.queue_days(3)?,
            store.reused_ticket_numbers(100)?,
            store.payment_days(100)?,
        ))
    })
    .await;
    let (rows, duplicates, queue_days, reused, payment_days) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let staff = &signed.session.staff;
    let yes_no = |b: bool| if b { w.pick("是", "sim", "yes") } else { w.pick("否", "não", "no") };
    let payment_days: Vec<&KioskEvent> = payment_days.iter().filter(|d| staff.sees(&d.centre_id)).collect();
    let applications: Vec<ApplicationLine> = rows
        .iter()
        .filter(|r| staff.sees(&r.centre_id))
        .map(|row| ApplicationLine {
            received: row.received_at.clone(),
            reference: row.reference.clone(),
            service: catalog.catalog.service(&row.service_id).map_or(row.service_id.clone(), |s| w.localized(&s.name)),
            kiosk: row.kiosk_id.clone(),
            identified: match row.identified_by {
                None => w.pick("自行申報", "declarado", "declared"),
                Some(IdentityMethod::App) => w.pick("政府應用程式登入", "app do Governo", "app sign-in"),
                Some(IdentityMethod::ChipVerified) => w.pick("證件晶片（已核實）", "chip (verificado)", "chip (verified)"),
                Some(IdentityMethod::ChipUnverified) => w.pick("證件晶片（未核實）", "chip (não verificado)", "chip (unverified)"),
            },
            fee: if row.paid { w.money(row.fee_avos) } else { "—".to_string() },
            state: state_name(w, row.state),
        })
        .collect();
    let html = ApplicationsPage {
        w,
        me: signed.me(),
        t: Labels::of(w),
        duplicates: duplicates
            .iter()
            .filter(|r| staff.sees(&r.centre_id))
            .map(|r| (r.collected_at.clone(), r.reference.clone(), r.kiosk_id.clone(), yes_no(r.offline)))
            .collect(),
        reused: reused
            .iter()
            .filter(|r| staff.sees(&r.centre_id))
            .map(|r| (r.service_day.clone(), r.centre_id.clone(), r.number.clone(), r.kiosk_id.clone(), r.issued_at.clone()))
            .collect(),
        differing: payment_days.iter().filter(|d| d.day_totals.is_some_and(|t| !t.agree())).filter_map(|d| day_row(w, d)).collect(),
        payment_days: payment_days.iter().filter_map(|d| day_row(w, d)).collect(),
        queue_days: queue_days
            .iter()
            .filter(|r| staff.sees(&r.centre_id))
            .map(|r| QueueRow {
                day: r.service_day.clone(),
                centre: r.centre_id.clone(),
                queue: catalog.catalog.queue(&r.queue_id).map_or(r.queue_id.clone(), |q| w.localized(&q.name)),
                issued: r.issued,
                offline: r.offline,
                last_number: r.last_number.clone(),
                last_issued: r.last_issued_at.clone(),
            })
            .collect(),
        note: format!(
            "{} {} · {} {}",
            applications.len(),
            w.pick("個最近的申請，最新的在前。", "pedidos mais recentes, o mais novo primeiro.", "most recent, newest first."),
            w.pick("服務目錄版本", "Versão do catálogo", "Catalog version"),
            catalog.catalog.version
        ),
        applications,
    }
    .render();
    page(&signed.visit, StatusCode::OK, html)
}
