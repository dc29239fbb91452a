//! The staff console as staff use it: Chromium driven over WebDriver, over central's HTTPS on
//! loopback. An operator logs in, filters the fleet, sees a kiosk turn to alarm live (no
//! reload), sends it a command, changes the language; the payment days whose terminal and
//! journal differ are flagged above the rest; a citizen's call arrives on the alerts page live and
//! is acknowledged; an administrator makes an enrollment token and revokes a kiosk; every page passes
//! axe-core's WCAG 2.2 AA rules. Screenshots of each page are saved to be looked at.

use std::path::Path;
use std::time::Duration;

use balcao_backend_client::api::{
    DayTotals, DeviceClass, DeviceCondition, DeviceReport, Heartbeat, KioskEvent, KioskEventKind, OutboxReport,
};
use balcao_central::store::staff::Role;
use balcao_tests::browser::Browser;
use balcao_tests::loopback_central;
use fantoccini::Locator;

const PASSWORD: &str = "correct horse battery staple";

fn day_closed(kiosk: &str, terminal_avos: u64, journal_avos: u64, payments: u64) -> KioskEvent {
    let totals = DayTotals { terminal_avos, journal_avos, payments };
    KioskEvent {
        event_id: uuid::Uuid::now_v7(),
        kiosk_id: kiosk.into(),
        centre_id: "GSC-01".into(),
        kind: KioskEventKind::DayClosed,
        severity: totals.severity(),
        detail: "end of day".into(),
        at: jiff::Timestamp::now(),
        day_totals: Some(totals),
    }
}

fn heartbeat(kiosk: &str, centre: &str, receipt_printer: DeviceCondition) -> Heartbeat {
    Heartbeat {
        kiosk_id: kiosk.into(),
        centre_id: centre.into(),
        sent_at: jiff::Timestamp::now(),
        software_version: "0.1.0".into(),
        uptime_seconds: 3 * 3600,
        devices: vec![
            DeviceReport { device: DeviceClass::ReceiptPrinter, condition: receipt_printer, detail: String::new() },
            DeviceReport { device: DeviceClass::PaymentTerminal, condition: DeviceCondition::Ok, detail: String::new() },
        ],
        outbox: OutboxReport { pending: 0, oldest_age_seconds: None, dead_letters: 0 },
        last_sync_at: Some(jiff::Timestamp::now()),
        database_bytes: 12 << 20,
        disk_free_bytes: 20 << 30,
        open_payments: 0,
        screen: "attract".into(),
        sessions_today: 14,
        out_of_service: false,
    }
}

const ENTER: &str = "\u{e007}";

/// Presses a key (a WebDriver key code such as Tab, U+E004) on whatever has the focus.
async fn press(client: &fantoccini::Client, key: char) {
    use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
    let actions = KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    client.perform_actions(actions).await.expect("a key pressed");
}

/// Presses Tab until the focused element's `attribute` satisfies `wanted`, at most `most`
/// times. Fails if it never gets there: a control the keyboard cannot reach.
async fn tab_to(client: &fantoccini::Client, attribute: &str, wanted: impl Fn(&str) -> bool, most: usize) {
    for _ in 0..most {
        press(client, '\u{e004}').await;
        let focused = client.active_element().await.expect("the focused element");
        if wanted(&focused.attr(attribute).await.ok().flatten().unwrap_or_default()) {
            return;
        }
    }
    panic!("{attribute}: not reached with {most} presses of Tab");
}

/// The page as shown passes axe-core's WCAG 2.2 A and AA rules.
async fn accessible(browser: &Browser, page: &str) {
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "{page} breaks accessibility rules:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_watches_the_fleet_live_and_steers_a_kiosk_in_a_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let store = central.central.store();
    store.add_staff("olga", "Olga Operator", Role::Operator, &[], PASSWORD).expect("staff");
    for (kiosk, centre) in [("K01", "GSC-01"), ("K02", "GSC-01"), ("K31", "GSC-02")] {
        store.record_heartbeat(&heartbeat(kiosk, centre, DeviceCondition::Ok)).expect("heartbeat");
    }
    // K01's terminal and journal agree; K02's terminal booked MOP 10.00 its journal never did.
    for event in [day_closed("K01", 6_000, 6_000, 2), day_closed("K02", 4_000, 3_000, 1)] {
        assert!(store.record_event(&event).expect("recorded"));
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let browser = Browser::start(dir.path()).await;
    let client = &browser.client;
    let soon = Duration::from_secs(15);

    // Not logged in: the console sends the browser to its login page, in Chinese by default.
    client.goto(&format!("{}/console/", central.url)).await.expect("goto");
    browser.wait_for("the login page", soon, |s| s.contains("id=\"password\"")).await;
    assert!(client.current_url().await.expect("url").path().ends_with("/console/login"));
    browser.screenshot(shots, "console-login").await;
    accessible(&browser, "console-login").await;
    // With the keyboard alone: the name has the focus already, Tab to the password, Enter.
    let focused = client.active_element().await.expect("focus");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("username"), "the name field has the focus");
    focused.send_keys("olga").await.expect("type");
    tab_to(client, "id", |id| id == "password", 1).await;
    client.active_element().await.expect("focus").send_keys(&format!("{PASSWORD}{ENTER}")).await.expect("type and Enter");
    let fleet = browser.wait_for("the fleet", soon, |s| s.contains("fleet-rows") && s.contains("K31")).await;
    assert!(fleet.contains("K01") && fleet.contains("K02"), "every kiosk");
    assert!(!fleet.contains("<td>attract</td>"), "screens in the reader's words, not the kiosk's names");
    // The first Tab on a page reaches the link past the header to its content.
    tab_to(client, "class", |class| class == "skip", 1).await;

    // Filter to one centre.
    client.find(Locator::Css("#centre option[value='GSC-02']")).await.expect("option").click().await.expect("choose");
    client.find(Locator::Css("form.filters button")).await.expect("filter").click().await.expect("filter");
    browser.wait_for("GSC-02 only", soon, |s| s.contains("K31") && !s.contains(">K01<")).await;
    client.goto(&format!("{}/console/?lang=en", central.url)).await.expect("goto");
    browser.wait_for("the fleet in English", soon, |s| s.contains("Kiosks") && s.contains(">K01<")).await;

    // K02's printer runs out of paper: the row turns to alarm without a reload.
    store.record_heartbeat(&heartbeat("K02", "GSC-01", DeviceCondition::PaperOut)).expect("heartbeat");
    let live = browser.wait_for("K02 in alarm, live", soon, |s| s.contains("Receipt printer: Out of paper")).await;
    assert!(live.contains("state-alarm"), "the row's state changed");
    browser.screenshot(shots, "console-fleet-live-alarm").await;
    // On a tablet held upright, nothing runs off the side of the page.
    client.set_window_size(800, 1280).await.expect("a tablet's size");
    let fits = client.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.expect("measured");
    browser.screenshot(shots, "console-fleet-tablet").await;
    assert_eq!(fits, serde_json::Value::Bool(true), "the fleet page fits a tablet's width");
    client.set_window_size(1280, 900).await.expect("back to a desktop's size");
    accessible(&browser, "console-fleet-live-alarm").await;

    // Put K02 out of service with a message in the three languages.
    client.find(Locator::LinkText("K02")).await.expect("link").click().await.expect("open K02");
    browser.wait_for("K02's page", soon, |s| s.contains("Citizens served today")).await;
    client.find(Locator::Id("m-zh")).await.expect("zh").send_keys("維護中，請到櫃台").await.expect("type");
    client.find(Locator::Id("m-pt")).await.expect("pt").send_keys("Em manutenção, dirija-se ao balcão").await.expect("type");
    client.find(Locator::Id("m-en")).await.expect("en").send_keys("Under maintenance, please see the counter").await.expect("type");
    client.find(Locator::Css("form.command fieldset button")).await.expect("send").click().await.expect("send");
    let sent = browser.wait_for("the command in the history", soon, |s| s.contains("Command issued")).await;
    assert!(sent.contains("Put out of service") && sent.contains("waiting for the kiosk"), "shown as waiting");
    let history = store.commands_of("K02", 10).expect("history");
    assert_eq!((history.len(), history[0].issued_by.as_str()), (1, "olga"));
    browser.screenshot(shots, "console-kiosk-command").await;
    accessible(&browser, "console-kiosk-command").await;

    // In Portuguese.
    client.find(Locator::Css("a[lang='pt']")).await.expect("Português").click().await.expect("choose");
    browser.wait_for("the page in Portuguese", soon, |s| s.contains("Atendimentos hoje") && s.contains("à espera do quiosque")).await;
    browser.screenshot(shots, "console-kiosk-pt").await;

    // The payment days: the one that differs is flagged first.
    client.goto(&format!("{}/console/applications", central.url)).await.expect("goto");
    let dom = browser.wait_for("the applications page", soon, |s| s.contains("payment-days")).await;
    let alert = dom.find("id=\"payment-days-differ\"").expect("the differing days are flagged");
    let all = dom.find("id=\"payment-days\"").expect("every closed day is listed");
    assert!(alert < all, "the flagged days come first");
    let flagged = &dom[alert..all];
    assert!(flagged.contains("K02") && flagged.contains("terminal +MOP 10,00"), "in Portuguese, as chosen: {flagged}");
    assert!(!flagged.contains("K01"), "a day that agrees is not flagged: {flagged}");
    browser.screenshot(shots, "console-payment-days").await;
    accessible(&browser, "console-payment-days").await;

    // The alerts: K02's paper and its payment day are there; a citizen's call at K01 arrives
    // live, and the operator acknowledges it.
    client.goto(&format!("{}/console/alerts", central.url)).await.expect("goto");
    browser.wait_for("the alerts page", soon, |s| s.contains("alert-rows") && s.contains("Sem papel")).await;
    let call = balcao_backend_client::api::AttendantCall {
        call_id: uuid::Uuid::now_v7(),
        kiosk_id: "K01".into(),
        centre_id: "GSC-01".into(),
        screen: "payment".into(),
        language: balcao_backend_client::api::Language::ZhHant,
        at: jiff::Timestamp::now(),
    };
    store.call_attendant(&call).expect("called");
    let live = browser.wait_for("the call, live", soon, |s| s.contains("Cidadão pede ajuda")).await;
    assert!(live.contains("rule-payment-day") && live.contains("rule-paper-out"), "every open alert is listed");
    assert!(live.contains("<td>Pagamento</td>") && !live.contains("<td>payment</td>"), "the citizen's screen in the reader's words");
    assert!(live.contains("Lançado pelo terminal MOP ") && !live.contains("end of day"), "the day's two totals, worded");
    browser.screenshot(shots, "console-alerts-call").await;
    // Acknowledged with the keyboard: Tab to the call's button, Enter.
    tab_to(client, "data-rule", |rule| rule == "attendant-called", 40).await;
    press(client, '\u{e007}').await;
    browser.wait_for("acknowledged", soon, |s| s.contains("Alerta visto") && s.contains("olga (")).await;
    let status = store.attendant_call("K01", call.call_id).expect("status").expect("the call");
    assert!(status.acknowledged_at.is_some() && !status.ended, "{status:?}");
    browser.screenshot(shots, "console-alerts-acknowledged").await;
    accessible(&browser, "console-alerts-acknowledged").await;

    // The centre's day at a glance.
    client.find(Locator::LinkText("K01")).await.expect("K01's link").click().await.expect("open K01");
    browser.wait_for("K01's page", soon, |s| s.contains("/console/centres/GSC-01")).await;
    client.find(Locator::LinkText("GSC-01")).await.expect("the centre's link").click().await.expect("open GSC-01");
    let centre = browser.wait_for("the centre's page", soon, |s| s.contains("<svg") && s.contains("Hoje, hora a hora")).await;
    assert!(centre.contains("K0") || centre.contains("Quiosques"), "the kiosks by state");
    browser.screenshot(shots, "console-centre").await;
    accessible(&browser, "console-centre").await;

    // Every page an operator opens fits a tablet held upright.
    client.set_window_size(800, 1280).await.expect("a tablet's size");
    for page in ["/console/kiosks/K02", "/console/alerts", "/console/applications", "/console/centres/GSC-01"] {
        client.goto(&format!("{}{page}", central.url)).await.expect("goto");
        browser.wait_for(page, soon, |s| s.contains("</main>")).await;
        let fits = client.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.expect("measured");
        assert_eq!(fits, serde_json::Value::Bool(true), "{page} fits a tablet's width");
    }
    browser.screenshot(shots, "console-centre-tablet").await;
    client.set_window_size(1280, 900).await.expect("back to a desktop's size");

    // The audit log holds the login and the command.
    let audit = store.audit_log(100).expect("audit");
    assert!(audit.iter().any(|e| e.username == "olga" && e.action == "log-in" && e.outcome == "ok"));
    assert!(audit.iter().any(|e| e.username == "olga" && e.action == "command" && e.target == "K02" && e.outcome == "ok"));
    assert!(audit.iter().any(|e| e.username == "olga" && e.action == "acknowledge-alert" && e.outcome == "ok"));
    browser.close().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_makes_an_enrollment_token_and_revokes_a_kiosk_in_a_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let store = central.central.store();
    store.add_staff("ada", "Ada Admin", Role::Administrator, &[], PASSWORD).expect("staff");
    store.record_heartbeat(&heartbeat("K01", "GSC-01", DeviceCondition::Ok)).expect("heartbeat");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let browser = Browser::start(dir.path()).await;
    let client = &browser.client;
    let soon = Duration::from_secs(15);

    client.goto(&format!("{}/console/login?lang=pt", central.url)).await.expect("goto");
    browser.wait_for("the login page", soon, |s| s.contains("id=\"password\"")).await;
    client.find(Locator::Id("username")).await.expect("name").send_keys("ada").await.expect("type");
    client.find(Locator::Id("password")).await.expect("password").send_keys(&format!("{PASSWORD}{ENTER}")).await.expect("type");
    browser.wait_for("the fleet", soon, |s| s.contains("fleet-rows")).await;

    // A token for K05, shown once beside central's CA fingerprint and the technician's command.
    client.find(Locator::LinkText("Registo de quiosques")).await.expect("the administrator's link").click().await.expect("open");
    browser.wait_for("the enrollment page", soon, |s| s.contains("id=\"token-kiosk\"")).await;
    accessible(&browser, "console-enrollment").await;
    client.find(Locator::Id("token-kiosk")).await.expect("kiosk").send_keys("K05").await.expect("type");
    client.find(Locator::Id("token-centre")).await.expect("centre").send_keys("GSC-01").await.expect("type");
    client.find(Locator::Css("form.login button")).await.expect("make").click().await.expect("make");
    let shown = browser.wait_for("the token", soon, |s| s.contains("id=\"new-token\"")).await;
    assert!(shown.contains("kiosk-provision enroll --central") && shown.contains("--ca-fingerprint"), "the technician's command");
    browser.screenshot(shots, "console-enrollment-token").await;
    accessible(&browser, "console-enrollment-token").await;
    let token = client.find(Locator::Id("new-token")).await.expect("token").text().await.expect("text");
    let token = balcao_backend_client::api::EnrollmentToken::parse(&token).expect("a token a technician can type");
    assert!(store.redeem_enrollment_token(&token.hash(), "test", (Some("K05"), Some("GSC-01"))).expect("store").is_ok());

    // K01 revoked from its page.
    client.goto(&format!("{}/console/kiosks/K01", central.url)).await.expect("goto");
    browser.wait_for("K01's page", soon, |s| s.contains("/console/kiosks/K01/revoke")).await;
    client.find(Locator::Css("form[action='/console/kiosks/K01/revoke'] button")).await.expect("revoke").click().await.expect("revoke");
    browser.wait_for("revoked", soon, |s| s.contains("Revogado desde")).await;
    browser.screenshot(shots, "console-kiosk-revoked").await;
    accessible(&browser, "console-kiosk-revoked").await;
    assert!(store.revocations().expect("revocations").contains_key("K01"));
    browser.close().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_follows_an_application_on_a_phone_from_the_receipts_qr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let submission = balcao_central::testing::criminal_record_submission();
    let kiosk = balcao_tests::client(&central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    kiosk.submit_application(&submission).await.expect("stored");

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let browser = Browser::start(dir.path()).await;
    let client = &browser.client;
    let soon = Duration::from_secs(15);
    client.set_window_size(390, 844).await.expect("a phone's size");
    // The receipt's QR: the number in the address; the page asks for the date of birth only.
    client.goto(&format!("{}/status/{}?lang=pt", central.url, submission.reference)).await.expect("goto");
    let form = browser.wait_for("the status form", soon, |s| s.contains("date_of_birth")).await;
    assert!(form.contains(&submission.reference) && !form.contains("Registo Criminal"), "nothing before the date of birth");
    accessible(&browser, "status-form").await;
    browser.screenshot(shots, "status-phone-form").await;
    let fits = client.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.expect("measured");
    assert_eq!(fits, serde_json::Value::Bool(true), "the page fits a phone's width");

    // A wrong date: nothing shown; the right one: the status, its deadline, what next.
    let date = |value: &'static str| async move {
        let field = client.find(Locator::Id("date_of_birth")).await.expect("the date field");
        client
            .execute("arguments[0].value = arguments[1];", vec![serde_json::to_value(&field).expect("element"), value.into()])
            .await
            .expect("set the date");
        client.find(Locator::Css("form button[type=submit]")).await.expect("the button").click().await.expect("submit");
    };
    date("1985-03-15").await;
    let wrong = browser.wait_for("no match", soon, |s| s.contains("class=\"problem\"")).await;
    assert!(wrong.contains("Não há pedido com este número") && !wrong.contains("Recebido"));
    date("1985-03-14").await;
    let found = browser.wait_for("the status", soon, |s| s.contains("class=\"status\"")).await;
    assert!(
        found.contains("Recebido") && found.contains("Dentro do prazo") && found.contains("Certificado de Registo Criminal"),
        "{found}"
    );
    assert!(!found.contains("1985-03-14") && !found.contains("CHAN TAI MAN"), "no personal data on the page");
    accessible(&browser, "status-found").await;
    browser.screenshot(shots, "status-phone-found").await;
    browser.close().await;
}
