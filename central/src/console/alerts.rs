//! The console's alerts: open ones first (live), those ended in the last day below, an
//! acknowledge button for operators, and the rules for administrators.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use uuid::Uuid;

use super::{Signed, Words, from_store, live, page, refused, when};
use balcao_backend_client::api::{DeviceClass, Language};

use crate::api::AppState;
use crate::store::alerts::{Acknowledged, Alert, AlertRule, RuleSetting};
use crate::store::staff::Role;

/// How long an ended alert stays on the page.
const RECENT: SignedDuration = SignedDuration::from_hours(24);

/// An alert as a row of the table.
#[derive(Debug)]
struct AlertRow {
    id: String,
    rule: &'static str,
    text: &'static str,
    open: bool,
    kiosk_id: String,
    centre_id: String,
    screen: String,
    raised: String,
    detail: String,
    /// Who acknowledged it and when.
    acknowledged: Option<String>,
    can_acknowledge: bool,
}

#[derive(Template)]
#[template(path = "alert_rows.html")]
struct AlertRows<'a> {
    w: &'static Words,
    csrf: &'a str,
    alerts: &'a [AlertRow],
}

#[derive(Debug)]
struct RuleRow {
    name: &'static str,
    text: &'static str,
    enabled: bool,
    minutes: Option<u32>,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    w: &'static Words,
    me: Option<super::Me>,
    notice: Option<&'static str>,
    csrf: String,
    rows: String,
    rules: Option<Vec<RuleRow>>,
}

fn row(w: &Words, alert: &Alert, can_acknowledge: bool) -> AlertRow {
    AlertRow {
        id: alert.alert_id.to_string(),
        rule: alert.rule.name(),
        text: w.rule(alert.rule),
        open: alert.cleared_at.is_none(),
        kiosk_id: alert.kiosk_id.clone(),
        centre_id: alert.centre_id.clone(),
        screen: w.screen(&alert.screen),
        raised: when(alert.raised_at),
        detail: detail(w, alert),
        acknowledged: alert.acknowledged_at.map(|at| format!("{} ({})", alert.acknowledged_by.as_deref().unwrap_or_default(), when(at))),
        can_acknowledge: can_acknowledge && alert.cleared_at.is_none(),
    }
}

/// What an alert's datum says, in the reader's words.
fn detail(w: &Words, alert: &Alert) -> String {
    let device = || serde_json::from_value::<DeviceClass>(serde_json::Value::String(alert.subject.clone())).ok();
    let with_detail = |head: String| if alert.detail.is_empty() { head } else { format!("{head} — {}", alert.detail) };
    match alert.rule {
        AlertRule::AttendantCalled => {
            let language = match Language::from_tag(&alert.detail) {
                Some(Language::ZhHant) => "繁體中文",
                Some(Language::Pt) => "Português",
                Some(Language::En) => "English",
                None => alert.detail.as_str(),
            };
            format!("{}: {language}", w.citizen_language)
        }
        AlertRule::Offline => match alert.detail.parse::<jiff::Timestamp>() {
            Ok(at) => format!("{}: {}", w.last_seen, when(at)),
            Err(_) => alert.detail.clone(),
        },
        AlertRule::DeadLetters => format!("{}: {}", w.dead_letters, alert.detail),
        AlertRule::OutboxOld => format!("{}: {} {}", w.outbox, alert.detail, w.minutes),
        AlertRule::PaperOut | AlertRule::PaperNearEnd | AlertRule::DeviceLost => match device() {
            Some(device) => with_detail(w.device(device).to_string()),
            None => alert.detail.clone(),
        },
        AlertRule::PaymentDay => match crate::store::alerts::day_totals_of(&alert.detail) {
            Some((terminal, journal)) => {
                format!("{} {} · {} {}", w.terminal_booked, w.money(terminal), w.kiosk_journal, w.money(journal))
            }
            None => format!("{} — {}", w.pick("日結未完成", "O dia não fechou", "The day did not close"), alert.detail),
        },
        AlertRule::StorageFailure => alert.detail.clone(),
    }
}

/// The rows this staff member sees, rendered.
async fn rows_for(state: &Arc<AppState>, signed: &Signed) -> Result<String, Response> {
    let centres = signed.session.staff.centre_filter().map(<[String]>::to_vec);
    let alerts = from_store(state, move |store| store.alerts(centres.as_deref(), RECENT)).await?;
    let can = signed.session.staff.role >= Role::Operator;
    let rows: Vec<AlertRow> = alerts.iter().map(|a| row(signed.visit.w, a, can)).collect();
    AlertRows { w: signed.visit.w, csrf: &signed.session.csrf, alerts: &rows }
        .render()
        .map_err(|e| page(&signed.visit, StatusCode::INTERNAL_SERVER_ERROR, Err(e)))
}

pub(super) async fn alerts_page(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let w = signed.visit.w;
    let rows = match rows_for(&state, &signed).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let rules = if signed.session.staff.role == Role::Administrator {
        match from_store(&state, |store| store.alert_rules()).await {
            Ok(rules) => Some(
                rules
                    .into_iter()
                    .map(|r| RuleRow { name: r.rule.name(), text: w.rule(r.rule), enabled: r.enabled, minutes: r.minutes })
                    .collect(),
            ),
            Err(response) => return response,
        }
    } else {
        None
    };
    let notice =
        if query.contains_key("acknowledged") { Some(w.alert_acknowledged) } else { query.contains_key("saved").then_some(w.rules_saved) };
    let html = AlertsPage { w, me: signed.me(), notice, csrf: signed.session.csrf.clone(), rows, rules }.render();
    page(&signed.visit, StatusCode::OK, html)
}

/// The alerts' rows, live.
pub(super) async fn alert_events(State(state): State<Arc<AppState>>, signed: Signed, headers: HeaderMap) -> Response {
    let token = super::cookie(&headers, super::SESSION_COOKIE).unwrap_or_default().to_owned();
    live(state, signed, token, |state, signed| async move { rows_for(&state, &signed).await.ok() })
}

pub(super) async fn acknowledge(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let w = signed.visit.w;
    if !signed.csrf_ok(&state, &form, "acknowledge-alert").await {
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    if signed.session.staff.role < Role::Operator {
        signed.audit(&state, "acknowledge-alert", &id, "viewers may not acknowledge alerts", "refused").await;
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    let Ok(alert_id) = Uuid::parse_str(&id) else {
        signed.audit(&state, "acknowledge-alert", &id, "no such alert", "refused").await;
        return refused(&signed, StatusCode::NOT_FOUND, w.no_alerts);
    };
    // Another centre's alert is no alert of theirs: looked up before it is touched.
    let visible = match from_store(&state, move |store| store.alert(alert_id)).await {
        Ok(alert) => alert.filter(|a| signed.session.staff.sees(&a.centre_id)),
        Err(response) => return response,
    };
    if visible.is_none() {
        signed.audit(&state, "acknowledge-alert", &id, "no such alert in the staff member's centres", "refused").await;
        return refused(&signed, StatusCode::NOT_FOUND, w.no_alerts);
    }
    let by = signed.session.staff.username.clone();
    match from_store(&state, move |store| store.acknowledge_alert(alert_id, &by)).await {
        Ok(Acknowledged::Done(alert)) => {
            let detail = format!("{} at kiosk {}", alert.rule.name(), alert.kiosk_id);
            signed.audit(&state, "acknowledge-alert", &id, &detail, "ok").await;
            Redirect::to("/console/alerts?acknowledged=1").into_response()
        }
        Ok(Acknowledged::Already(alert)) => {
            let detail = format!("acknowledged before by {}", alert.acknowledged_by.unwrap_or_default());
            signed.audit(&state, "acknowledge-alert", &id, &detail, "ok").await;
            Redirect::to("/console/alerts?acknowledged=1").into_response()
        }
        Ok(Acknowledged::NotFound) => refused(&signed, StatusCode::NOT_FOUND, w.no_alerts),
        Err(response) => response,
    }
}

/// The rules as a form sets them: a checkbox per rule (`on-<rule>`), minutes where a rule has
/// a threshold (`minutes-<rule>`, 1 to 1440).
fn rules_of(form: &HashMap<String, String>) -> Result<Vec<RuleSetting>, String> {
    AlertRule::ALL
        .iter()
        .map(|&rule| {
            let minutes = match rule.default_minutes() {
                None => None,
                Some(_) => {
                    let field = form.get(&format!("minutes-{}", rule.name())).map(|v| v.trim()).unwrap_or_default();
                    let minutes: u32 = field.parse().map_err(|_| format!("{}: minutes must be a number, not {field:?}", rule.name()))?;
                    if !(1..=1440).contains(&minutes) {
                        return Err(format!("{}: minutes must be 1 to 1440, not {minutes}", rule.name()));
                    }
                    Some(minutes)
                }
            };
            Ok(RuleSetting { rule, enabled: form.contains_key(&format!("on-{}", rule.name())), minutes })
        })
        .collect()
}

pub(super) async fn save_rules(State(state): State<Arc<AppState>>, signed: Signed, form: axum::Form<HashMap<String, String>>) -> Response {
    let w = signed.visit.w;
    if !signed.csrf_ok(&state, &form, "alert-rules").await {
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    if signed.session.staff.role != Role::Administrator {
        signed.audit(&state, "alert-rules", "", "only administrators change alert rules", "refused").await;
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    let wanted = match rules_of(&form) {
        Ok(rules) => rules,
        Err(problem) => {
            signed.audit(&state, "alert-rules", "", &problem, "refused").await;
            return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, &problem);
        }
    };
    let before = match from_store(&state, |store| store.alert_rules()).await {
        Ok(rules) => rules,
        Err(response) => return response,
    };
    for setting in wanted {
        if before.contains(&setting) {
            continue;
        }
        let detail =
            format!("{}{}", if setting.enabled { "on" } else { "off" }, setting.minutes.map(|m| format!(", {m} min")).unwrap_or_default());
        if let Err(response) = from_store(&state, move |store| store.set_alert_rule(setting)).await {
            return response;
        }
        signed.audit(&state, "alert-rules", setting.rule.name(), &detail, "ok").await;
    }
    Redirect::to("/console/alerts?saved=1").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_form_is_read_whole_or_refused() {
        let form: HashMap<String, String> =
            [("on-offline", "on"), ("minutes-outbox-old", "30")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let rules = rules_of(&form).expect("rules");
        assert_eq!(rules.len(), AlertRule::ALL.len());
        assert!(rules.iter().find(|r| r.rule == AlertRule::Offline).is_some_and(|r| r.enabled));
        assert!(rules.iter().find(|r| r.rule == AlertRule::PaperOut).is_some_and(|r| !r.enabled), "unchecked is off");
        assert_eq!(rules.iter().find(|r| r.rule == AlertRule::OutboxOld).and_then(|r| r.minutes), Some(30));
        let mut bad = form.clone();
        bad.insert("minutes-outbox-old".into(), "0".into());
        assert!(rules_of(&bad).is_err());
        bad.insert("minutes-outbox-old".into(), "soon".into());
        assert!(rules_of(&bad).is_err());
    }
}
