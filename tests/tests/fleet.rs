//! Central's staff watch and steer a kiosk through its heartbeats, end to end over mutual TLS:
//! the kiosk shows up, a printer out of paper shows as an alarm within a heartbeat, an
//! out-of-service command closes the kiosk with staff's message (after the citizen being served
//! finishes, and across a restart), back in service opens it, the payment day closes on staff's
//! word, a restart is asked of the process, and every command's outcome
//! reaches central once and is audited; a kiosk that stops beating shows offline.

use std::time::Duration;

use balcao_backend_client::api::{CommandAction, CommandOutcome, DeviceClass, DeviceCondition, LocalizedText};
use balcao_central::store::fleet::{CommandRecord, Finding, FleetKiosk, KioskState};
use balcao_tests::{TestKiosk, enrolled_client, eventually, test_settings};
use balcao_ui::view::{Screen, UserAction};
use jiff::SignedDuration;

const HOUR: SignedDuration = SignedDuration::from_hours(1);

fn k01(central: &balcao_central::LoopbackCentral) -> Option<FleetKiosk> {
    central.central.store().fleet(None).expect("fleet").into_iter().find(|k| k.kiosk_id == "K01")
}

fn last_command(central: &balcao_central::LoopbackCentral) -> CommandRecord {
    central.central.store().commands_of("K01", 1).expect("history").remove(0)
}

fn closed() -> CommandAction {
    CommandAction::OutOfService {
        message: LocalizedText::new(
            "系統維護，請到櫃台",
            "Em manutenção, dirija-se ao balcão",
            "Under maintenance, please see the counter",
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_a_kiosk_and_steer_it_through_its_heartbeats() {
    // The kiosk keeps its recent log lines, as its `main` has it do.
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(balcao_kiosk::runtime::logs::layer()));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Offline after 2 s of silence (three missed heartbeats at this kiosk's pace; 3 min in service).
    let mut options = balcao_central::CentralOptions::new(dir.path().join("central.db"));
    options.offline_after = SignedDuration::from_secs(2);
    let central = balcao_central::LoopbackCentral::start(&options).await.expect("central");
    let kiosk_dir = dir.path().join("kiosk");
    let mut settings = test_settings(&kiosk_dir);
    settings.heartbeat = Duration::from_millis(300);
    settings.session.idle_timeout = Duration::from_secs(3);
    settings.session.idle_warning = Duration::from_secs(1);
    let kiosk = TestKiosk::start_with(settings.clone(), &kiosk_dir, Some(enrolled_client(&central))).await;
    let soon = Duration::from_secs(10);

    // The kiosk shows up with every device.
    eventually("K01 reports every device", soon, || k01(&central).is_some_and(|k| k.heartbeat.devices.len() == 5)).await;
    let seen = k01(&central).expect("K01");
    assert_eq!((seen.state, seen.centre_id.as_str(), seen.heartbeat.screen.as_str()), (KioskState::Ok, "GSC-01", "attract"));
    assert!(seen.heartbeat.disk_free_bytes > 0 && seen.heartbeat.database_bytes > 0, "{:?}", seen.heartbeat);

    // The receipt printer runs out of paper: an alarm within a heartbeat; paper back: ok.
    kiosk.simulators.receipt_printer.set_paper_left_mm(Some(0));
    let paper_out = Finding::Device { device: DeviceClass::ReceiptPrinter, condition: DeviceCondition::PaperOut };
    eventually("the alarm at central", soon, || {
        k01(&central).is_some_and(|k| k.state == KioskState::Alarm && k.findings.contains(&paper_out))
    })
    .await;
    kiosk.simulators.receipt_printer.set_paper_left_mm(None);
    eventually("the alarm cleared", soon, || k01(&central).is_some_and(|k| k.state == KioskState::Ok)).await;

    // A citizen is being served when staff close the kiosk: they finish first.
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Start));
    kiosk.view.wait_for("a journey begun", soon, |v| v.screen != Screen::Attract).await;
    central.central.store().issue_command("K01", closed(), "ana", HOUR).expect("issued");
    eventually("the command reported", soon, || last_command(&central).outcome.is_some()).await;
    let reported = last_command(&central);
    assert_eq!(reported.outcome, Some(CommandOutcome::Done));
    assert_eq!(reported.detail.as_deref(), Some("out of service once the citizen being served finishes"));
    assert_ne!(kiosk.view.current().screen, Screen::OutOfService, "the citizen is not cut short");
    let shown = kiosk.view.wait_for("the out-of-service screen once the session ends", soon, |v| v.screen == Screen::OutOfService).await;
    assert_eq!(
        shown.out_of_service_message,
        ["Under maintenance, please see the counter", "系統維護，請到櫃台", "Em manutenção, dirija-se ao balcão"],
        "staff's message, the kiosk's language first"
    );
    eventually("central sees it out of service", soon, || k01(&central).is_some_and(|k| k.state == KioskState::OutOfService)).await;

    // Closed it stays, across a restart.
    kiosk.stop().await;
    let kiosk = TestKiosk::start_with(settings.clone(), &kiosk_dir, Some(enrolled_client(&central))).await;
    kiosk
        .view
        .wait_for("still out of service after a restart", soon, |v| v.screen == Screen::OutOfService && v.out_of_service_message.len() == 3)
        .await;

    // Back in service.
    central.central.store().issue_command("K01", CommandAction::BackInService, "ana", HOUR).expect("issued");
    kiosk.view.wait_for("the welcome screen again", soon, |v| v.screen == Screen::Attract).await;
    eventually("back in service reported", soon, || last_command(&central).outcome == Some(CommandOutcome::Done)).await;
    eventually("central sees it ok", soon, || k01(&central).is_some_and(|k| k.state == KioskState::Ok)).await;

    // The payment terminal's day closed now, on staff's word: the close reaches central as a
    // closed day with its totals.
    central.central.store().issue_command("K01", CommandAction::CloseDay, "ana", HOUR).expect("issued");
    eventually("the close reported", soon, || last_command(&central).outcome.is_some()).await;
    let closed_day = last_command(&central);
    assert_eq!(closed_day.outcome, Some(CommandOutcome::Done), "{closed_day:?}");
    assert!(closed_day.detail.as_deref().is_some_and(|d| d.contains("the payment day is closed")), "{closed_day:?}");
    eventually("the closed day at central", soon, || !central.central.store().payment_days(10).expect("days").is_empty()).await;

    // A screenshot of a half-filled form: drawn with every typed value masked, and sent.
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Start));
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::ChooseLanguage(balcao_ui::view::Language::En)));
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Apply));
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::ChooseService("criminal-record-certificate".into())));
    kiosk.view.wait_for("the form", soon, |v| v.screen == Screen::Form).await;
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Focus(Some(0))));
    for c in "WONG SIU MING".chars() {
        kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Key(c.to_string())));
    }
    kiosk.view.wait_for("the name typed", soon, |v| v.form.fields.first().is_some_and(|f| f.value == "WONG SIU MING")).await;
    central.central.store().issue_command("K01", CommandAction::Screenshot, "ana", HOUR).expect("issued");
    eventually("the screenshot reported", Duration::from_secs(30), || last_command(&central).outcome.is_some()).await;
    let shot = last_command(&central);
    assert_eq!(shot.outcome, Some(CommandOutcome::Done), "{shot:?}");
    let drawn = kiosk.view.drawn();
    assert_eq!(drawn.len(), 1);
    assert_eq!(drawn[0].screen, Screen::Form, "the screen shown, drawn");
    let data = format!("{:?}", drawn[0]);
    assert!(!data.contains("WONG") && !data.contains("SIU MING") && data.contains(balcao_ui::view::MASK), "nothing typed is drawn: {data}");
    let upload = central.central.store().upload(shot.command.command_id).expect("read").expect("the screenshot at central");
    assert_eq!(upload.content_type, "image/png");
    assert!(upload.body.starts_with(b"\x89PNG"), "a PNG");
    assert_eq!(central.central.store().last_screenshot("K01").expect("read").map(|u| u.command_id), Some(shot.command.command_id));
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("masked-screenshot.png");
    std::fs::write(&path, &upload.body).expect("png");
    eprintln!("the masked screenshot: {}", path.display());
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::FormBack));
    kiosk.view.wait_for("the welcome screen", Duration::from_secs(15), |v| v.screen == Screen::Attract).await;

    // The last minutes of logs.
    central.central.store().issue_command("K01", CommandAction::UploadLogs { minutes: 10 }, "ana", HOUR).expect("issued");
    eventually("the logs reported", soon, || last_command(&central).outcome.is_some()).await;
    let logs = last_command(&central);
    assert_eq!(logs.outcome, Some(CommandOutcome::Done), "{logs:?}");
    let upload = central.central.store().upload(logs.command.command_id).expect("read").expect("the logs at central");
    assert!(upload.content_type.starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&upload.body).contains("command from central"), "the kiosk's own lines are there");

    // A restart: reported, then asked of the process (its `main` starts the program again),
    // nobody being served.
    central.central.store().issue_command("K01", CommandAction::Restart, "ana", HOUR).expect("issued");
    tokio::time::timeout(soon, kiosk.handle.restart_requested()).await.expect("the restart is asked for");
    eventually("the restart reported", soon, || last_command(&central).outcome == Some(CommandOutcome::Done)).await;

    // Every command was carried out once, and each kept at the kiosk.
    let history = central.central.store().commands_of("K01", 10).expect("history");
    assert_eq!(history.len(), 6);
    let store = kiosk.store();
    for command in &history {
        let kept = store.command_done(command.command.command_id).expect("read").expect("kept at the kiosk");
        assert_eq!(Some(kept.outcome), command.outcome);
    }
    // Each acknowledgement is in the audit log beside the command.
    let acknowledged = central.central.store().audit_log(100).expect("audit");
    for command in &history {
        let id = command.command.command_id.to_string();
        assert!(
            acknowledged.iter().any(|e| e.action == "command-report" && e.target == id && e.username == "kiosk K01"),
            "the report on {id} is audited: {acknowledged:?}"
        );
    }

    // A kiosk that stops beating shows offline once the threshold has passed.
    kiosk.stop().await;
    eventually("K01 offline", soon, || k01(&central).is_some_and(|k| k.state == KioskState::Offline)).await;
    assert!(matches!(k01(&central).expect("K01").findings[0], Finding::Silent { .. }));
    central.stop().await.expect("stop");
}

/// The citizen's sixth journey, end to end: a call for an attendant from a form reaches the
/// console as an alert naming centre, kiosk and screen; staff acknowledge it and the citizen's
/// screen says help is coming, since when; the citizen ends the call and the alert ends with
/// it. With central unreachable, the kiosk says at once that staff cannot be called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_calls_an_attendant_and_sees_staff_answer() {
    use balcao_central::store::alerts::AlertRule;
    use balcao_ui::view::AttendantState;
    let dir = tempfile::tempdir().expect("tempdir");
    let central = balcao_tests::loopback_central(dir.path()).await;
    let kiosk_dir = dir.path().join("kiosk");
    let kiosk = TestKiosk::start_with(test_settings(&kiosk_dir), &kiosk_dir, Some(enrolled_client(&central))).await;
    let soon = Duration::from_secs(10);
    let ui = |action| kiosk.send(balcao_kiosk::session::Event::Ui(action));

    ui(UserAction::Start);
    ui(UserAction::ChooseLanguage(balcao_ui::view::Language::Pt));
    ui(UserAction::Apply);
    kiosk.view.wait_for("the services, online", soon, |v| v.screen == Screen::Services && v.can_call_attendant && v.online).await;
    ui(UserAction::CallAttendant);
    let answered = kiosk
        .view
        .wait_for("the call answered", soon, |v| !matches!(v.attendant.state, AttendantState::None | AttendantState::Calling))
        .await;
    assert_eq!((answered.attendant.state, answered.attendant.shown), (AttendantState::Called, true), "{:?}", answered.attendant);

    let open = || {
        central
            .central
            .store()
            .alerts(None, SignedDuration::ZERO)
            .expect("alerts")
            .into_iter()
            .filter(|a| a.cleared_at.is_none())
            .collect::<Vec<_>>()
    };
    let alerts = open();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(
        (alert.rule, alert.kiosk_id.as_str(), alert.centre_id.as_str(), alert.screen.as_str(), alert.detail.as_str()),
        (AlertRule::AttendantCalled, "K01", "GSC-01", "services", "pt")
    );

    // The citizen puts the panel aside and goes on; staff acknowledge; the panel comes back.
    ui(UserAction::HideAttendant);
    kiosk.view.wait_for("the panel aside", soon, |v| !v.attendant.shown).await;
    central.central.store().acknowledge_alert(alert.alert_id, "ana").expect("acknowledged");
    let coming = kiosk.view.wait_for("help is coming", soon, |v| v.attendant.state == AttendantState::Coming).await;
    assert!(coming.attendant.shown, "the citizen sees it at once");
    assert_eq!(coming.attendant.acknowledged_at.len(), 5, "HH:MM: {:?}", coming.attendant.acknowledged_at);

    // Helped: the call ends, at the kiosk and at central.
    ui(UserAction::CancelAttendant);
    kiosk.view.wait_for("no call", soon, |v| v.attendant.state == AttendantState::None).await;
    eventually("the alert ended", soon, || open().is_empty()).await;

    // Central gone: said at once, nothing waits.
    central.stop().await.expect("stop");
    kiosk.send(balcao_kiosk::session::Event::Readiness(balcao_kiosk::session::Readiness {
        online: false,
        ..balcao_kiosk::session::Readiness::ALL
    }));
    ui(UserAction::CallAttendant);
    kiosk.view.wait_for("staff cannot be called", soon, |v| v.attendant.state == AttendantState::Unreachable && v.attendant.shown).await;
    kiosk.stop().await;
}

/// The kiosk's metrics on its loopback address, for the site's own monitoring: what its
/// heartbeat says, read afresh at each scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_scrapes_the_kiosks_metrics_on_loopback() {
    // (The scraper here is reqwest, whose TLS needs a provider even for plain HTTP.)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let central = balcao_tests::loopback_central(dir.path()).await;
    let kiosk_dir = dir.path().join("kiosk");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("port").local_addr().expect("address").port();
    let mut settings = test_settings(&kiosk_dir);
    settings.metrics_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    settings.heartbeat = Duration::from_millis(300);
    let kiosk = TestKiosk::start_with(settings, &kiosk_dir, Some(enrolled_client(&central))).await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let scrape = || async { reqwest::get(&url).await.ok()?.text().await.ok() };
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // After a heartbeat, and once the first survey of the devices is in (the two race at start).
    let surveyed = |text: &str| {
        text.lines().any(|l| {
            l.strip_prefix("balcao_kiosk_heartbeats_sent_total ").and_then(|n| n.trim().parse::<u64>().ok()).is_some_and(|n| n >= 1)
        }) && text.contains("balcao_kiosk_device_ready{device=\"receipt-printer\"} 1")
    };
    while !surveyed(&text) {
        assert!(std::time::Instant::now() < deadline, "no metrics of a surveyed kiosk after a heartbeat:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = scrape().await.unwrap_or_default();
    }
    kiosk.simulators.receipt_printer.set_paper_left_mm(Some(0));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("balcao_kiosk_device_condition{device=\"receipt-printer\",condition=\"paper-out\"} 1") {
        assert!(std::time::Instant::now() < deadline, "the paper's state not in the metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = scrape().await.unwrap_or_default();
    }
    kiosk.stop().await;
}
