//! The console's page of received applications, pickups, queue tickets and payment days.
//! (Still written as HTML by hand: to be moved onto the console's templates.)

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use balcao_backend_client::api::IdentityMethod;

use crate::api::{ApiError, AppState};

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn mop(avos: u64) -> String {
    format!("MOP {}.{:02}", avos / 100, avos % 100)
}

/// Behind a staff session like every console page.
pub async fn applications_page(State(state): State<Arc<AppState>>, _signed: super::Signed) -> Result<Html<String>, ApiError> {
    let catalog = state.catalog_now().await?;
    let store_state = state.clone();
    let (rows, duplicates, queue_days, reused_numbers, payment_days) = crate::api::blocking(move || {
        let store = &store_state.store;
        Ok::<_, crate::store::StoreError>((
            store.recent_applications(200)?,
            store.recent_pickups(100, true)?,
            store.queue_days(3)?,
            store.reused_ticket_numbers(100)?,
            store.payment_days(100)?,
        ))
    })
    .await??;
    let mut html = String::from(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Balcão central — applications</title>",
        "<style>body{font-family:'Noto Sans','Noto Sans CJK TC',sans-serif;margin:2rem;color:#1a2b3c}",
        "h1{color:#0b4f6c}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .8rem;border-bottom:1px solid #d5dde5}",
        "th{background:#0b4f6c;color:#fff}h2.alert{color:#a4161a}td.num{text-align:right}.empty{color:#667}</style></head><body>",
        "<h1>Applications received</h1>"
    ));
    if !duplicates.is_empty() {
        // Two kiosks handed out the same certificate while offline: staff must follow up.
        html.push_str("<h2 class=\"alert\">Certificates handed out twice</h2><table><thead><tr><th>Collected</th><th>Reference</th><th>Kiosk</th><th>Offline</th></tr></thead><tbody>");
        for row in &duplicates {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&row.collected_at),
                escape(&row.reference),
                escape(&row.kiosk_id),
                if row.offline { "yes" } else { "no" }
            );
        }
        html.push_str("</tbody></table>");
    }
    if !reused_numbers.is_empty() {
        // Two kiosks of a centre share a ticket series: citizens hold the same number.
        html.push_str("<h2 class=\"alert\">Queue ticket numbers issued twice</h2><table><thead><tr><th>Day</th><th>Centre</th><th>Number</th><th>Kiosk</th><th>Issued</th></tr></thead><tbody>");
        for row in &reused_numbers {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&row.service_day),
                escape(&row.centre_id),
                escape(&row.number),
                escape(&row.kiosk_id),
                escape(&row.issued_at)
            );
        }
        html.push_str("</tbody></table>");
    }
    // Each terminal's closed days beside the kiosk's journal; the ones that differ first, as an
    // alert: money the kiosk did not account for, or a charge the terminal lost.
    let totals = |e: &balcao_backend_client::api::KioskEvent| e.day_totals;
    let differing: Vec<_> = payment_days.iter().filter(|e| totals(e).is_some_and(|t| !t.agree())).collect();
    let day_rows = |html: &mut String, days: &[&balcao_backend_client::api::KioskEvent]| {
        html.push_str("<table><thead><tr><th>Closed</th><th>Kiosk</th><th>Centre</th><th>Terminal booked</th><th>Kiosk journal</th><th>Payments</th><th>Difference</th></tr></thead><tbody>");
        for day in days {
            let Some(t) = day.day_totals else { continue };
            let difference = t.terminal_avos as i128 - t.journal_avos as i128;
            let shown = match difference {
                0 => "agree".to_string(),
                d if d > 0 => format!("terminal +{}", mop(d as u64)),
                d => format!("journal +{}", mop(d.unsigned_abs() as u64)),
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                day.at.strftime("%Y-%m-%d %H:%M UTC"),
                escape(&day.kiosk_id),
                escape(&day.centre_id),
                mop(t.terminal_avos),
                mop(t.journal_avos),
                t.payments,
                escape(&shown)
            );
        }
        html.push_str("</tbody></table>");
    };
    if !differing.is_empty() {
        html.push_str("<h2 class=\"alert\" id=\"payment-days-differ\">Card payment days where the terminal and the kiosk differ</h2>");
        day_rows(&mut html, &differing);
    }
    if !payment_days.is_empty() {
        html.push_str("<h2 id=\"payment-days\">Card payment days</h2>");
        day_rows(&mut html, &payment_days.iter().collect::<Vec<_>>());
    }
    if !queue_days.is_empty() {
        html.push_str("<h2>Queue tickets</h2><table><thead><tr><th>Day</th><th>Centre</th><th>Queue</th><th>Tickets</th><th>Issued offline</th><th>Last number</th><th>Last issued</th></tr></thead><tbody>");
        for row in &queue_days {
            let queue =
                catalog.catalog.queue(&row.queue_id).map_or(row.queue_id.clone(), |q| format!("{} · {}", q.name.en, q.name.zh_hant));
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&row.service_day),
                escape(&row.centre_id),
                escape(&queue),
                row.issued,
                row.offline,
                escape(&row.last_number),
                escape(&row.last_issued_at)
            );
        }
        html.push_str("</tbody></table>");
    }
    let _ = write!(html, "<p>{} most recent, newest first. Catalog version {}.</p>", rows.len(), escape(&catalog.catalog.version));
    if rows.is_empty() {
        html.push_str("<p class=\"empty\">No applications yet.</p>");
    } else {
        html.push_str("<table><thead><tr><th>Received</th><th>Reference</th><th>Service</th><th>Kiosk</th><th>Identified by</th><th>Fee</th><th>State</th></tr></thead><tbody>");
        for row in rows {
            let service =
                catalog.catalog.service(&row.service_id).map_or(row.service_id.clone(), |s| format!("{} · {}", s.name.en, s.name.zh_hant));
            let fee = if row.paid { mop(row.fee_avos) } else { "—".to_string() };
            let identified = match row.identified_by {
                None => "declared",
                Some(IdentityMethod::App) => "app sign-in",
                Some(IdentityMethod::ChipVerified) => "chip (verified)",
                Some(IdentityMethod::ChipUnverified) => "chip (unverified)",
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&row.received_at),
                escape(&row.reference),
                escape(&service),
                escape(&row.kiosk_id),
                identified,
                escape(&fee),
                row.state.as_str()
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</body></html>");
    Ok(Html(html))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
