//! The staff console's doors, on both databases: nothing answers without a session, logging in
//! and out, the lockout after ten wrong passwords, CSRF on every form, roles (a viewer cannot
//! command), centres (a staff member of one centre sees nothing of another), the audit log of
//! every action, allowed or refused, and the page in the language chosen.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{DeviceClass, DeviceCondition, DeviceReport, Heartbeat};
use balcao_central::Central;
use balcao_central::store::staff::Role;
use balcao_central::tls::Peer;
use common::Db;
use rstest::rstest;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

/// A browser of one staff member: keeps the cookies central sets, and comes from 10.0.0.7.
struct Browser<'a> {
    central: &'a Central,
    cookies: HashMap<String, String>,
    address: std::net::SocketAddr,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[start..].split('"').next().expect("token").to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(central: &'a Central) -> Self {
        Self::from(central, "10.0.0.7:50000")
    }

    fn from(central: &'a Central, address: &str) -> Self {
        Self { central, cookies: HashMap::new(), address: address.parse().expect("address") }
    }

    async fn send(&mut self, mut request: Request<Body>) -> Page {
        let cookies: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !cookies.is_empty() {
            request.headers_mut().insert(header::COOKIE, cookies.join("; ").parse().expect("cookie"));
        }
        request.extensions_mut().insert(ConnectInfo(Peer { addr: self.address, kiosk: None }));
        let response = self.central.router().oneshot(request).await.expect("infallible");
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let location = response.headers().get(header::LOCATION).map(|v| v.to_str().expect("ascii").to_string());
        // (Lossy: a screenshot is no text; the pages are UTF-8.)
        let body = String::from_utf8_lossy(&axum::body::to_bytes(response.into_body(), 4 << 20).await.expect("body")).into_owned();
        Page { status, location, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).expect("request")).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(body)).expect("request");
        self.send(request).await
    }

    async fn log_in(&mut self, username: &str, password: &str) -> Page {
        let csrf = self.get("/console/login").await.csrf();
        self.post("/console/login", &[("csrf", &csrf), ("username", username), ("password", password)]).await
    }
}

/// A kiosk whose receipt printer is out of paper, the printer's detail holding markup.
fn heartbeat(kiosk: &str, centre: &str) -> Heartbeat {
    let mut heartbeat = common::heartbeat(kiosk, centre);
    heartbeat.devices = vec![DeviceReport {
        device: DeviceClass::ReceiptPrinter,
        condition: DeviceCondition::PaperOut,
        detail: "<script>alert('x')</script>".into(),
    }];
    heartbeat
}

/// A central with kiosks K01 (GSC-01) and K31 (GSC-02), and staff: an administrator, an
/// operator and a viewer of GSC-01.
fn central(db: Db, dir: &tempfile::TempDir) -> Central {
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    let store = central.store();
    store.record_heartbeat(&heartbeat("K01", "GSC-01")).expect("K01");
    store.record_heartbeat(&heartbeat("K31", "GSC-02")).expect("K31");
    store.add_staff("admin", "Ada Admin", Role::Administrator, &[], PASSWORD).expect("admin");
    store.add_staff("olga", "Olga Operator", Role::Operator, &["GSC-01".into()], PASSWORD).expect("operator");
    store.add_staff("vera", "Vera Viewer", Role::Viewer, &["GSC-01".into()], PASSWORD).expect("viewer");
    central
}

fn refused_lines(central: &Central, action: &str) -> usize {
    central.store().audit_log(1000).expect("audit").iter().filter(|e| e.action == action && e.outcome == "refused").count()
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn no_page_answers_without_a_session(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut stranger = Browser::new(&central);
    for path in
        ["/console/", "/console/kiosks/K01", "/console/audit", "/console/audit.csv", "/console/applications", "/console/fleet/events", "/"]
    {
        let page = stranger.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location.as_deref().is_some_and(|l| l.starts_with("/console")), "{path}: {:?}", page.location);
        assert!(!page.body.contains("K01"), "{path} shows nothing");
    }
    let sent = stranger.post("/console/kiosks/K01/commands", &[("csrf", "x"), ("kind", "restart")]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert!(central.store().commands_of("K01", 10).expect("history").is_empty(), "nothing sent");
    // A forged session cookie opens nothing either.
    stranger.cookies.insert("__Host-balcao-session".into(), "00".repeat(32));
    assert_eq!(stranger.get("/console/").await.status, StatusCode::SEE_OTHER);
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn logging_in_and_out_and_ten_wrong_passwords_lock_the_account(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut browser = Browser::new(&central);

    // The login form's own CSRF token is required.
    let forged = browser.post("/console/login", &[("csrf", "forged"), ("username", "admin"), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let in_ = browser.log_in("admin", PASSWORD).await;
    assert_eq!((in_.status, in_.location.as_deref()), (StatusCode::SEE_OTHER, Some("/console/")));
    let fleet = browser.get("/console/").await;
    assert_eq!(fleet.status, StatusCode::OK);
    assert!(fleet.body.contains("K01") && fleet.body.contains("K31"), "an administrator of every centre sees both");
    let out = browser.post("/console/logout", &[("csrf", &fleet.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/console/").await.status, StatusCode::SEE_OTHER, "logged out");

    // Nine wrong passwords, then the tenth locks the account: even the right one is refused.
    let mut attacker = Browser::new(&central);
    for _ in 0..9 {
        assert_eq!(attacker.log_in("olga", "not her password").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attacker.log_in("olga", "not her password").await.status, StatusCode::TOO_MANY_REQUESTS);
    let locked = Browser::new(&central).log_in("olga", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "locked for a while");
    assert_eq!(Browser::new(&central).log_in("nobody", PASSWORD).await.status, StatusCode::UNAUTHORIZED, "an unknown name reads the same");
    assert_eq!(refused_lines(&central, "log-in"), 1 + 10 + 1 + 1, "every refused attempt is audited");
    let audit = central.store().audit_log(100).expect("audit");
    assert!(audit.iter().any(|e| e.action == "log-in" && e.username == "admin" && e.outcome == "ok" && e.address == "10.0.0.7"));
    assert!(audit.iter().any(|e| e.action == "log-out" && e.username == "admin"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn roles_and_centres_decide_what_staff_see_and_send(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);

    // A viewer of GSC-01: sees K01 only, and cannot command it.
    let mut vera = Browser::new(&central);
    vera.log_in("vera", PASSWORD).await;
    let fleet = vera.get("/console/").await;
    assert!(fleet.body.contains("K01") && !fleet.body.contains("K31"), "GSC-01 only");
    assert_eq!(vera.get("/console/kiosks/K31").await.status, StatusCode::NOT_FOUND);
    let k01 = vera.get("/console/kiosks/K01").await;
    assert_eq!(k01.status, StatusCode::OK);
    assert!(!k01.body.contains("/commands\""), "no command forms for a viewer");
    assert!(k01.body.contains("&#60;script&#62;") && !k01.body.contains("<script>alert"), "what a kiosk sent is escaped");
    let tried = vera.post("/console/kiosks/K01/commands", &[("csrf", &fleet.csrf()), ("kind", "restart")]).await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);
    assert_eq!(vera.get("/console/audit").await.status, StatusCode::FORBIDDEN, "only administrators read the audit log");

    // An operator of GSC-01: commands K01, with the session's CSRF token only; not K31.
    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    let csrf = olga.get("/console/kiosks/K01").await.csrf();
    let forged = olga.post("/console/kiosks/K01/commands", &[("csrf", "0123"), ("kind", "restart")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let missing = olga.post("/console/kiosks/K01/commands", &[("kind", "restart")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let other_centre = olga.post("/console/kiosks/K31/commands", &[("csrf", &csrf), ("kind", "restart")]).await;
    assert_eq!(other_centre.status, StatusCode::NOT_FOUND);
    let half_message = olga
        .post(
            "/console/kiosks/K01/commands",
            &[("csrf", &csrf), ("kind", "out-of-service"), ("message_zh_hant", "維護"), ("message_pt", ""), ("message_en", "Maintenance")],
        )
        .await;
    assert_eq!(half_message.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        central.store().commands_of("K01", 10).expect("history").is_empty()
            && central.store().commands_of("K31", 10).expect("history").is_empty(),
        "nothing sent so far"
    );

    let sent = olga
        .post(
            "/console/kiosks/K01/commands",
            &[
                ("csrf", &csrf),
                ("kind", "out-of-service"),
                ("message_zh_hant", "維護中"),
                ("message_pt", "Em manutenção"),
                ("message_en", "Maintenance"),
            ],
        )
        .await;
    assert_eq!((sent.status, sent.location.as_deref()), (StatusCode::SEE_OTHER, Some("/console/kiosks/K01?sent=1")));
    let history = central.store().commands_of("K01", 10).expect("history");
    assert_eq!((history.len(), history[0].issued_by.as_str(), history[0].command.action.name()), (1, "olga", "out-of-service"));
    let page = olga.get("/console/kiosks/K01?sent=1").await;
    assert!(page.body.contains("Put out of service") || page.body.contains("暫停服務"), "the command is in the history");

    // Every refusal and the command itself are in the audit log.
    assert_eq!(refused_lines(&central, "command"), 5, "viewer, forged, missing, other centre, half a message");
    assert_eq!(refused_lines(&central, "read-audit-log"), 1);
    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let csv = admin.get("/console/audit.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with("seq,at,username,address,action,target,detail,outcome\r\n"));
    assert!(
        csv.body.lines().any(|l| l.contains("\"olga\"") && l.contains("\"command\"") && l.contains("\"K01\"") && l.contains("\"ok\"")),
        "{}",
        csv.body
    );
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn the_console_speaks_the_language_chosen(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut browser = Browser::new(&central);
    browser.log_in("admin", PASSWORD).await;
    let chinese = browser.get("/console/").await;
    assert!(chinese.body.contains("<html lang=\"zh-Hant\">") && chinese.body.contains("缺紙"), "Chinese by default");
    let portuguese = browser.get("/console/?lang=pt").await;
    assert!(portuguese.body.contains("<html lang=\"pt\">") && portuguese.body.contains("Sem papel"));
    let remembered = browser.get("/console/kiosks/K01").await;
    assert!(remembered.body.contains("Impressora de talões"), "the choice is remembered");
    let english = browser.get("/console/?lang=en").await;
    assert!(english.body.contains("Out of paper") && english.body.contains("Alarm"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn alerts_are_seen_by_centre_acknowledged_by_operators_and_ruled_by_administrators(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    // Both kiosks' printers are out of paper: an alert each.
    let alerts = central.store().alerts(None, jiff::SignedDuration::ZERO).expect("alerts");
    let id_of = |kiosk: &str| alerts.iter().find(|a| a.kiosk_id == kiosk).expect("an alert").alert_id.to_string();
    let (k01, k31) = (id_of("K01"), id_of("K31"));

    assert_eq!(Browser::new(&central).get("/console/alerts").await.status, StatusCode::SEE_OTHER, "no session, no alerts");

    let mut vera = Browser::new(&central);
    vera.log_in("vera", PASSWORD).await;
    let page = vera.get("/console/alerts?lang=pt").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sem papel") && page.body.contains("K01") && !page.body.contains("K31"), "GSC-01's, in Portuguese");
    assert!(!page.body.contains("/acknowledge\""), "no acknowledge button for a viewer");
    assert!(!page.body.contains("/console/alerts/rules"), "no rules for a viewer");
    let tried = vera.post(&format!("/console/alerts/{k01}/acknowledge"), &[("csrf", &page.csrf())]).await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);

    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    let page = olga.get("/console/alerts").await;
    let csrf = page.csrf();
    assert_eq!(olga.post(&format!("/console/alerts/{k01}/acknowledge"), &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        olga.post(&format!("/console/alerts/{k31}/acknowledge"), &[("csrf", &csrf)]).await.status,
        StatusCode::NOT_FOUND,
        "another centre's"
    );
    let done = olga.post(&format!("/console/alerts/{k01}/acknowledge"), &[("csrf", &csrf)]).await;
    assert_eq!((done.status, done.location.as_deref()), (StatusCode::SEE_OTHER, Some("/console/alerts?acknowledged=1")));
    let alert = central.store().alert(k01.parse().expect("uuid")).expect("alert").expect("there");
    assert_eq!(alert.acknowledged_by.as_deref(), Some("olga"));
    assert!(olga.get("/console/alerts").await.body.contains("olga ("), "shown as acknowledged");
    assert_eq!(olga.post("/console/alerts/rules", &[("csrf", &csrf), ("on-offline", "on")]).await.status, StatusCode::FORBIDDEN);

    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let page = admin.get("/console/alerts").await;
    assert!(page.body.contains("K01") && page.body.contains("K31") && page.body.contains("/console/alerts/rules"));
    let csrf = page.csrf();
    let bad = admin.post("/console/alerts/rules", &[("csrf", &csrf), ("minutes-outbox-old", "0")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Everything on but paper running low; the outbox's threshold 30 minutes.
    let mut form: Vec<(String, String)> = balcao_central::store::alerts::AlertRule::ALL
        .iter()
        .filter(|r| r.name() != "paper-near-end")
        .map(|r| (format!("on-{}", r.name()), "on".to_string()))
        .collect();
    form.push(("minutes-outbox-old".into(), "30".into()));
    form.push(("csrf".into(), csrf));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let saved = admin.post("/console/alerts/rules", &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let rules = central.store().alert_rules().expect("rules");
    let setting = |name: &str| *rules.iter().find(|r| r.rule.name() == name).expect("rule");
    assert!(!setting("paper-near-end").enabled && setting("paper-out").enabled);
    assert_eq!(setting("outbox-old").minutes, Some(30));

    let audit = central.store().audit_log(1000).expect("audit");
    let lines = |action: &str, outcome: &str| audit.iter().filter(|e| e.action == action && e.outcome == outcome).count();
    assert_eq!(lines("acknowledge-alert", "ok"), 1);
    assert_eq!(lines("acknowledge-alert", "refused"), 3, "the viewer's, the forged token's, the other centre's");
    assert_eq!(lines("alert-rules", "refused"), 2, "the operator's and the bad minutes");
    assert_eq!(lines("alert-rules", "ok"), 2, "one line per rule changed: paper-near-end and outbox-old");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_kiosks_screenshot_and_logs_are_shown_to_its_centres_staff_only(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let store = central.store();
    let hour = jiff::SignedDuration::from_hours(1);
    let shot = store.issue_command("K31", balcao_backend_client::api::CommandAction::Screenshot, "admin", hour).expect("issued");
    let logs =
        store.issue_command("K31", balcao_backend_client::api::CommandAction::UploadLogs { minutes: 5 }, "admin", hour).expect("issued");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    store.store_upload("K31", shot.command_id, "screenshot", "image/png", &png).expect("kept");
    store.store_upload("K31", logs.command_id, "upload-logs", "text/plain; charset=utf-8", b"a line\n").expect("kept");

    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    for path in [
        "/console/kiosks/K31/screenshot.png".to_string(),
        format!("/console/uploads/{}", shot.command_id),
        format!("/console/uploads/{}", logs.command_id),
    ] {
        let page = olga.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: another centre's");
    }

    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let page = admin.get("/console/kiosks/K31").await;
    assert!(page.body.contains("/console/kiosks/K31/screenshot.png"), "the page shows the screenshot");
    assert!(page.body.contains(&format!("/console/uploads/{}", logs.command_id)), "and links the logs");
    let request = Request::get("/console/kiosks/K31/screenshot.png").body(Body::empty()).expect("request");
    let image = admin.send(request).await;
    assert_eq!(image.status, StatusCode::OK);
    assert!(image.body.ends_with("IHDR\0\0\0\u{1}\0\0\0\u{1}\u{8}\u{2}\0\0\0"), "the PNG as kept");
    let logs_page = admin.get(&format!("/console/uploads/{}", logs.command_id)).await;
    assert_eq!((logs_page.status, logs_page.body.as_str()), (StatusCode::OK, "a line\n"));
    let audit = store.audit_log(100).expect("audit");
    assert!(audit.iter().any(|e| e.action == "download-logs" && e.username == "admin" && e.target == "K31"));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn the_applications_page_shows_a_staff_member_their_centres_only_in_their_language(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    for (kiosk, centre) in [("K01", "GSC-01"), ("K31", "GSC-02")] {
        let totals = balcao_backend_client::api::DayTotals { terminal_avos: 4_000, journal_avos: 3_000, payments: 1 };
        let event = balcao_backend_client::api::KioskEvent {
            event_id: uuid::Uuid::now_v7(),
            kiosk_id: kiosk.into(),
            centre_id: centre.into(),
            kind: balcao_backend_client::api::KioskEventKind::DayClosed,
            severity: totals.severity(),
            detail: "end of day".into(),
            at: jiff::Timestamp::now(),
            day_totals: Some(totals),
        };
        central.store().record_event(&event).expect("recorded");
    }
    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    let page = olga.get("/console/applications?lang=pt").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Dias de pagamento com cartão") && page.body.contains("terminal +MOP 10,00"), "in Portuguese");
    assert!(page.body.contains(">K01<") && !page.body.contains(">K31<"), "GSC-01's only");
    let k01 = olga.get("/console/kiosks/K01?lang=en").await;
    assert!(k01.body.contains("Recent events") && k01.body.contains("Payment day closed"), "the kiosk's events on its page");
    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let page = admin.get("/console/applications?lang=zh-Hant").await;
    assert!(page.body.contains(">K01<") && page.body.contains(">K31<") && page.body.contains("信用卡付款日結"), "every centre, in Chinese");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_centres_day_is_counted_hour_by_hour_and_drawn_for_its_staff(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let submission = common::submission();
    let mut request = Request::post("/v1/applications")
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", submission.application_id.to_string())
        .body(Body::from(serde_json::to_vec(&submission).expect("json")))
        .expect("request");
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    assert_eq!(central.router().oneshot(request).await.expect("infallible").status(), StatusCode::CREATED);
    for number in ["B1-001", "B1-002"] {
        central.store().record_queue_ticket(&common::ticket(number, "K01")).expect("ticket");
    }
    let zone = jiff::tz::TimeZone::system();
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let day = central.store().centre_day("GSC-01", today, &zone).expect("day");
    let hour = usize::try_from(jiff::Timestamp::now().to_zoned(zone.clone()).hour()).expect("hour");
    assert_eq!((day.applications[hour], day.paid[hour], day.fees_avos, day.tickets[hour]), (1, 1, 3000, 2), "{day:?}");
    assert_eq!(central.store().centre_day("GSC-02", today, &zone).expect("day"), Default::default(), "another centre's day is empty");

    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    let page = olga.get("/console/centres/GSC-01?lang=en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg") && page.body.contains("class=\"bar applications\"") && page.body.contains("class=\"bar tickets\""));
    assert!(page.body.contains("MOP 30.00") && page.body.contains("Today, hour by hour"), "the figures, in words too");
    assert_eq!(olga.get("/console/centres/GSC-02").await.status, StatusCode::NOT_FOUND, "another centre's");
    assert!(!page.body.contains("CHAN TAI MAN"), "nothing personal");
    assert!(page.body.contains("No appointments in the next seven days."));

    // A citizen books a counter for tomorrow at a kiosk, another books and cancels: the
    // counters' staff see both numbers, with the service and the counter, in their language.
    use balcao_central::store::appointments::{Cancelled, Confirmed, Held, ScheduleRow};
    const SERVICE: &str = "id-card-renewal-appointment";
    let rows: Vec<ScheduleRow> = (1..=7)
        .map(|weekday| ScheduleRow {
            weekday,
            opens: jiff::civil::Time::constant(10, 0, 0, 0),
            closes: jiff::civil::Time::constant(11, 0, 0, 0),
            slot_minutes: 30,
            capacity: 2,
            counter: Some("7".into()),
        })
        .collect();
    central.store().set_appointment_schedule("GSC-01", SERVICE, &rows).expect("schedule");
    let tomorrow = today.tomorrow().expect("tomorrow");
    let mut numbers = Vec::new();
    for time in [jiff::civil::Time::constant(10, 30, 0, 0), jiff::civil::Time::constant(10, 0, 0, 0)] {
        let (hold, now, at) = (uuid::Uuid::now_v7(), jiff::Zoned::now().datetime(), jiff::Timestamp::now());
        let held = central.store().hold_appointment(hold, "K01", "GSC-01", SERVICE, tomorrow, time, now, at).expect("hold");
        assert!(matches!(held, Held::Held { .. }), "{held:?}");
        let booked = central.store().confirm_appointment(hold, "K01", "1985-03-14", balcao_backend_client::api::Language::Pt, at);
        let Ok(Confirmed::Booked(appointment)) = booked else { panic!("not booked: {booked:?}") };
        numbers.push(appointment.number);
    }
    let cancelled = central
        .store()
        .cancel_appointment(&numbers[0], "1985-03-14", jiff::Zoned::now().datetime(), jiff::Timestamp::now())
        .expect("cancel");
    assert!(matches!(cancelled, Cancelled::Cancelled(_)), "{cancelled:?}");
    let page = olga.get("/console/centres/GSC-01?lang=en").await;
    let listed = &page.body[page.body.find("Appointments in the next seven days").expect("the bookings' table")..];
    let (first, second) = (listed.find(&numbers[1]).expect("the booking"), listed.find(&numbers[0]).expect("the cancelled one"));
    assert!(first < second, "in time order: 10:00 before 10:30");
    assert!(listed.contains(&format!("{tomorrow} 10:00")) && listed.contains(">7<"), "when and at which counter");
    assert!(listed.contains("Booked") && listed.contains("Cancelled"));
    let page = olga.get("/console/centres/GSC-01?lang=zh-Hant").await;
    assert!(page.body.contains("未來七日的預約") && page.body.contains("已取消") && page.body.contains(&numbers[1]), "in Chinese");
    let page = olga.get("/console/centres/GSC-01?lang=pt").await;
    assert!(page.body.contains("Marcações dos próximos sete dias") && page.body.contains("Marcada"), "in Portuguese");
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn one_address_trying_many_accounts_is_stopped(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    // One wrong password on each of thirty accounts: no account is locked, the address is.
    let mut sprayer = Browser::from(&central, "10.9.9.9:40000");
    for n in 0..30 {
        assert_eq!(sprayer.log_in(&format!("user{n}"), "Summer2026!").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sprayer.log_in("admin", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS, "even the right password");
    // The account itself is not locked: from elsewhere it logs in.
    let elsewhere = Browser::from(&central, "10.0.0.8:40000").log_in("admin", PASSWORD).await;
    assert_eq!(elsewhere.status, StatusCode::SEE_OTHER);
    let audit = central.store().audit_log(100).expect("audit");
    assert!(audit.iter().any(|e| e.address == "10.9.9.9" && e.detail.contains("too many refused log-ins")));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn administrators_manage_staff_accounts_and_every_change_is_audited(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    assert_eq!(olga.get("/console/staff").await.status, StatusCode::FORBIDDEN, "an operator manages no one");
    let csrf = olga.get("/console/").await.csrf();
    let tried = olga
        .post(
            "/console/staff",
            &[("csrf", &csrf), ("username", "mallory"), ("name", "M"), ("role", "administrator"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);

    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let page = admin.get("/console/staff?lang=pt").await;
    assert!(page.status == StatusCode::OK && page.body.contains("Contas do pessoal") && page.body.contains("data-staff=\"olga\""));
    let csrf = page.csrf();
    // A new operator of GSC-02.
    let added = admin
        .post(
            "/console/staff",
            &[
                ("csrf", &csrf),
                ("username", "rui"),
                ("name", "Rui Reis"),
                ("role", "operator"),
                ("centres", "GSC-02"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.location.as_deref(), Some("/console/staff?saved=1"));
    let short = admin
        .post("/console/staff", &[("csrf", &csrf), ("username", "ze"), ("name", "Zé"), ("role", "viewer"), ("password", "short")])
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(Browser::new(&central).log_in("rui", PASSWORD).await.status, StatusCode::SEE_OTHER, "the new account works");

    // Olga becomes a viewer of every centre: her next request knows it.
    let changed = admin.post("/console/staff/olga", &[("csrf", &csrf), ("do", "change"), ("role", "viewer"), ("centres", "")]).await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    let fleet = olga.get("/console/").await;
    assert!(fleet.body.contains("K31"), "every centre now");
    let k01 = olga.get("/console/kiosks/K01").await;
    assert!(!k01.body.contains("/commands\""), "no commands for a viewer");

    // Disabled: her session ends and she cannot log in; enabled again, she can.
    admin.post("/console/staff/olga", &[("csrf", &csrf), ("do", "disable")]).await;
    assert_eq!(olga.get("/console/").await.status, StatusCode::SEE_OTHER, "her session ended");
    assert_eq!(Browser::new(&central).log_in("olga", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    admin.post("/console/staff/olga", &[("csrf", &csrf), ("do", "enable")]).await;
    assert_eq!(Browser::new(&central).log_in("olga", PASSWORD).await.status, StatusCode::SEE_OTHER);
    // A reset password: the old one no longer opens.
    admin.post("/console/staff/olga", &[("csrf", &csrf), ("do", "reset"), ("password", "a brand new password")]).await;
    assert_eq!(Browser::new(&central).log_in("olga", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(Browser::new(&central).log_in("olga", "a brand new password").await.status, StatusCode::SEE_OTHER);

    // No administrator can undo themselves.
    let own = admin.post("/console/staff/admin", &[("csrf", &csrf), ("do", "change"), ("role", "viewer"), ("centres", "")]).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    let own = admin.post("/console/staff/admin", &[("csrf", &csrf), ("do", "disable")]).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.post("/console/staff/olga", &[("csrf", "forged"), ("do", "disable")]).await.status, StatusCode::FORBIDDEN);

    let audit = central.store().audit_log(200).expect("audit");
    let lines = |action: &str, outcome: &str| audit.iter().filter(|e| e.action == action && e.outcome == outcome).count();
    assert_eq!((lines("add-staff", "ok"), lines("add-staff", "refused")), (1, 2), "rui; mallory by an operator, a short password");
    assert_eq!((lines("staff-change", "ok"), lines("staff-change", "refused")), (1, 1));
    assert_eq!((lines("staff-disable", "ok"), lines("staff-disable", "refused")), (1, 2), "olga; admin themselves, a forged token");
    assert_eq!((lines("staff-enable", "ok"), lines("staff-reset", "ok")), (1, 1));
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn administrators_make_enrollment_tokens_shown_once_and_revoke_kiosks(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let pki = balcao_central::tls::DevPki::generate().expect("pki");
    central.enable_enrollment(
        balcao_central::tls::KioskIssuer::of_dev_pki(&pki, jiff::SignedDuration::from_hours(24)).expect("issuer"),
        Some(pki.ca_pem.clone()),
    );
    // An operator neither sees the page nor makes a token; both refusals audited.
    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    assert_eq!(olga.get("/console/enrollment").await.status, StatusCode::FORBIDDEN);
    let csrf = olga.get("/console/").await.csrf();
    let tried = olga.post("/console/enrollment", &[("csrf", &csrf), ("kiosk", "K02"), ("centre", "GSC-01"), ("hours", "24")]).await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);
    assert_eq!(refused_lines(&central, "enrollment-token"), 1);
    assert!(central.store().enrollment_tokens(10).expect("tokens").is_empty(), "nothing made");

    let mut admin = Browser::new(&central);
    admin.log_in("admin", PASSWORD).await;
    let page = admin.get("/console/enrollment?lang=zh-Hant").await;
    assert!(page.status == StatusCode::OK && page.body.contains("登記自助機"), "in the reader's language");
    let csrf = page.csrf();
    let made = admin.post("/console/enrollment", &[("csrf", &csrf), ("kiosk", "K02"), ("centre", "GSC-01"), ("hours", "24")]).await;
    assert_eq!(made.status, StatusCode::OK);
    let start = made.body.find("id=\"new-token\">").expect("the token shown") + 15;
    let shown = &made.body[start..start + 29];
    let token = balcao_backend_client::api::EnrollmentToken::parse(shown).expect("a token as a technician types it");
    let der = <rustls::pki_types::CertificateDer<'_> as rustls::pki_types::pem::PemObject>::pem_slice_iter(pki.ca_pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("pem");
    let print = balcao_backend_client::api::fingerprint(der.as_ref());
    assert!(made.body.contains(&print), "central's CA fingerprint beside it");
    // Shown once: the list says unused and never holds the token.
    let listed = admin.get("/console/enrollment?lang=en").await;
    assert!(listed.body.contains("unused") && !listed.body.contains(shown), "the token is not shown again");
    assert_eq!(central.store().enrollment_tokens(10).expect("tokens")[0].kiosk_id, "K02");
    let bad = admin.post("/console/enrollment", &[("csrf", &csrf), ("kiosk", "K 02"), ("centre", "GSC-01"), ("hours", "24")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "a kiosk name with a space");
    let forged = admin.post("/console/enrollment", &[("csrf", "forged"), ("kiosk", "K03"), ("centre", "GSC-01")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let redeemed = central.store().redeem_enrollment_token(&token.hash(), "10.0.0.9", (None, None)).expect("store");
    assert!(redeemed.is_ok(), "the token shown enrolls K02: {redeemed:?}");

    // Revoked from K01's page by the administrator; an operator cannot.
    let kiosk_page = admin.get("/console/kiosks/K01?lang=en").await;
    assert!(kiosk_page.body.contains("/console/kiosks/K01/revoke"), "the administrator sees the button");
    assert!(!olga.get("/console/kiosks/K01").await.body.contains("/revoke\""), "an operator does not");
    let csrf_olga = olga.get("/console/").await.csrf();
    assert_eq!(olga.post("/console/kiosks/K01/revoke", &[("csrf", &csrf_olga)]).await.status, StatusCode::FORBIDDEN);
    assert!(central.store().revocations().expect("revocations").is_empty());
    let revoked = admin.post("/console/kiosks/K01/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(revoked.location.as_deref(), Some("/console/kiosks/K01?revoked=1"));
    assert!(central.store().revocations().expect("revocations").contains_key("K01"));
    assert!(admin.get("/console/kiosks/K01?lang=en").await.body.contains("Revoked since"));
    let log = central.store().audit_log(100).expect("audit");
    for (action, outcome) in [("enrollment-token", "ok"), ("revoke-kiosk", "ok"), ("revoke-kiosk", "refused")] {
        assert!(log.iter().any(|e| e.action == action && e.outcome == outcome), "{action} {outcome} audited");
    }
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_kiosks_last_readiness_report_is_on_its_page_in_the_readers_language(#[case] db: Db) {
    use balcao_backend_client::api::{CheckVerdict, Diagnosis, DiagnosisCheck};
    let dir = tempfile::tempdir().expect("tempdir");
    let central = central(db, &dir);
    let mut olga = Browser::new(&central);
    olga.log_in("olga", PASSWORD).await;
    let before = olga.get("/console/kiosks/K01?lang=en").await;
    assert!(before.body.contains("No readiness report yet"), "{}", before.body);

    let check = |name: &str, verdict, detail: &str, remedy: Option<&str>| DiagnosisCheck {
        name: name.into(),
        verdict,
        detail: detail.into(),
        remedy: remedy.map(str::to_owned),
    };
    let report = |ready: bool| Diagnosis {
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        at: jiff::Timestamp::now(),
        ready,
        checks: vec![
            check("disk", CheckVerdict::Ok, "5000 MiB free", None),
            check("receipt-printer", if ready { CheckVerdict::Ok } else { CheckVerdict::Failed }, "paper-out <b>", Some("load paper")),
        ],
    };
    central.store().record_diagnosis(&report(true)).expect("kept");
    central.store().record_diagnosis(&report(false)).expect("the next replaces it");
    let english = olga.get("/console/kiosks/K01").await;
    assert!(english.body.contains("Readiness report") && english.body.contains("Not ready"), "{}", english.body);
    assert!(english.body.contains("load paper") && english.body.contains("paper-out &#60;b&#62;"), "escaped: {}", english.body);
    assert!(english.body.contains("Failed") && english.body.contains("✗"), "never by colour alone");
    let portuguese = olga.get("/console/kiosks/K01?lang=pt").await;
    assert!(portuguese.body.contains("Relatório de prontidão") && portuguese.body.contains("O que fazer"));
    let chinese = olga.get("/console/kiosks/K01?lang=zh-Hant").await;
    assert!(chinese.body.contains("就緒報告") && chinese.body.contains("不通過"));
    // Another centre's staff do not see it.
    central.store().record_diagnosis(&Diagnosis { kiosk_id: "K31".into(), centre_id: "GSC-02".into(), ..report(true) }).expect("kept");
    assert_eq!(olga.get("/console/kiosks/K31").await.status, StatusCode::NOT_FOUND);
}
