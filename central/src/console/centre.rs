//! A centre's day at a glance: applications, card payments and queue tickets hour by hour (a
//! chart drawn on the server as SVG, with the same figures in a table beside it), and the
//! centre's kiosks by state.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;

use super::{Signed, Words, from_store, page, refused};
use crate::api::AppState;
use crate::store::day::CentreDay;
use crate::store::fleet::KioskState;

/// The chart's drawing area, in SVG units.
const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;
const HOURS: u32 = 24;

/// One bar of the chart.
#[derive(Debug, PartialEq, Eq)]
struct Bar {
    x: u32,
    y: u32,
    height: u32,
    /// `applications`, `paid` or `tickets`: the series' class (colour and pattern).
    series: &'static str,
    /// What a pointer's tooltip says.
    title: String,
}

#[derive(Debug)]
struct HourRow {
    hour: String,
    applications: u32,
    paid: u32,
    tickets: u32,
}

#[derive(Template)]
#[template(path = "centre.html")]
struct CentrePage {
    w: &'static Words,
    me: Option<super::Me>,
    centre_id: String,
    day: String,
    labels: [&'static str; 3],
    totals: [u32; 3],
    fees: String,
    kiosks: Vec<(&'static str, &'static str, usize)>,
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    hours: Vec<HourRow>,
    chart_title: &'static str,
    hour_word: &'static str,
    fees_word: &'static str,
    kiosks_word: &'static str,
    quiet_word: &'static str,
    bookings: Vec<BookingRow>,
    bookings_words: BookingWords,
}

/// A booking's row on the centre's page.
#[derive(Debug)]
struct BookingRow {
    when: String,
    service: String,
    counter: String,
    number: String,
    cancelled: bool,
}

/// The booking table's words, in the page's language.
#[derive(Debug)]
struct BookingWords {
    title: &'static str,
    when: &'static str,
    service: &'static str,
    counter: &'static str,
    number: &'static str,
    state: &'static str,
    booked: &'static str,
    cancelled: &'static str,
    none: &'static str,
}

/// How many days of bookings the page lists.
const BOOKING_DAYS: u16 = 7;

/// The bars of `day`: for each hour, applications, of which paid, and tickets, side by side,
/// scaled to the busiest hour.
fn bars(day: &CentreDay, labels: [&str; 3]) -> Vec<Bar> {
    let series = [("applications", &day.applications), ("paid", &day.paid), ("tickets", &day.tickets)];
    let most = series.iter().flat_map(|(_, counts)| counts.iter()).copied().max().unwrap_or(0).max(1);
    let slot = WIDTH / HOURS;
    let bar = (slot - 6) / 3;
    let mut bars = Vec::new();
    for hour in 0..HOURS as usize {
        for (i, (name, counts)) in series.iter().enumerate() {
            let count = counts[hour];
            if count == 0 {
                continue;
            }
            let height = (u64::from(count) * u64::from(HEIGHT) / u64::from(most)).max(2) as u32;
            bars.push(Bar {
                x: hour as u32 * slot + 3 + i as u32 * bar,
                y: HEIGHT - height,
                height,
                series: name,
                title: format!("{hour:02}:00 — {}: {count}", labels[i]),
            });
        }
    }
    bars
}

pub(super) async fn centre_page(State(state): State<Arc<AppState>>, signed: Signed, Path(centre_id): Path<String>) -> Response {
    let w = signed.visit.w;
    if !signed.session.staff.sees(&centre_id) {
        return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks);
    }
    let zone = TimeZone::system();
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let (id, centres) = (centre_id.clone(), vec![centre_id.clone()]);
    let found = from_store(&state, move |store| {
        Ok((store.centre_day(&id, today, &zone)?, store.fleet(Some(&centres))?, store.upcoming_appointments(&id, today, BOOKING_DAYS)?))
    })
    .await;
    let (day, fleet, bookings) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let labels = [
        w.pick("申請", "Pedidos", "Applications"),
        w.pick("其中已用信用卡付款", "dos quais pagos com cartão", "of which paid by card"),
        w.pick("輪候票", "Senhas", "Queue tickets"),
    ];
    let sum = |counts: &[u32; 24]| counts.iter().sum::<u32>();
    let kiosks = [KioskState::Ok, KioskState::Warning, KioskState::OutOfService, KioskState::Alarm, KioskState::Offline]
        .map(|s| (s.name(), w.state(s), fleet.iter().filter(|k| k.state == s).count()))
        .to_vec();
    let catalog = match state.catalog_now().await {
        Ok(catalog) => catalog,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    let bookings = bookings
        .into_iter()
        .map(|b| BookingRow {
            when: format!("{} {}", b.date, b.time),
            service: catalog.catalog.service(&b.service_id).map_or_else(|| b.service_id.clone(), |s| w.localized(&s.name)),
            counter: b.counter.unwrap_or_default(),
            number: b.number,
            cancelled: b.cancelled,
        })
        .collect();
    let bookings_words = BookingWords {
        title: w.pick("未來七日的預約", "Marcações dos próximos sete dias", "Appointments in the next seven days"),
        when: w.pick("日期及時間", "Data e hora", "Date and time"),
        service: w.pick("服務", "Serviço", "Service"),
        counter: w.pick("櫃檯", "Balcão", "Counter"),
        number: w.pick("預約編號", "Número da marcação", "Booking number"),
        state: w.pick("狀態", "Estado", "State"),
        booked: w.pick("已預約", "Marcada", "Booked"),
        cancelled: w.pick("已取消", "Cancelada", "Cancelled"),
        none: w.pick("未來七日沒有預約。", "Sem marcações nos próximos sete dias.", "No appointments in the next seven days."),
    };
    let html = CentrePage {
        w,
        me: signed.me(),
        centre_id,
        day: today.to_string(),
        labels,
        totals: [sum(&day.applications), sum(&day.paid), sum(&day.tickets)],
        fees: format!("MOP {}.{:02}", day.fees_avos / 100, day.fees_avos % 100),
        kiosks,
        width: WIDTH,
        height: HEIGHT,
        bars: bars(&day, labels),
        hours: (0..24)
            .filter(|&h| day.applications[h] + day.tickets[h] > 0)
            .map(|h| HourRow { hour: format!("{h:02}:00"), applications: day.applications[h], paid: day.paid[h], tickets: day.tickets[h] })
            .collect(),
        chart_title: w.pick("今日每小時數字", "Hoje, hora a hora", "Today, hour by hour"),
        hour_word: w.pick("時段", "Hora", "Hour"),
        fees_word: w.pick("已收費用", "Taxas cobradas", "Fees taken"),
        kiosks_word: w.pick("自助機", "Quiosques", "Kiosks"),
        quiet_word: w.pick("今日尚未有申請或輪候票。", "Ainda nenhum pedido ou senha hoje.", "No applications or tickets yet today."),
        bookings,
        bookings_words,
    }
    .render();
    page(&signed.visit, StatusCode::OK, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_hour_fills_the_chart_and_empty_hours_draw_nothing() {
        let mut day = CentreDay::default();
        day.applications[9] = 10;
        day.paid[9] = 4;
        day.tickets[14] = 5;
        let drawn = bars(&day, ["a", "p", "t"]);
        assert_eq!(drawn.len(), 3);
        assert_eq!((drawn[0].series, drawn[0].height, drawn[0].y), ("applications", HEIGHT, 0), "the busiest hour is full height");
        assert_eq!(drawn[1].height, HEIGHT * 4 / 10);
        assert_eq!(drawn[2].x, 14 * (WIDTH / HOURS) + 3 + 2 * ((WIDTH / HOURS - 6) / 3), "tickets third in their hour");
        assert!(drawn[0].title.starts_with("09:00"));
        assert!(bars(&CentreDay::default(), ["a", "p", "t"]).is_empty());
    }
}
