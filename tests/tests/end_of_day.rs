//! The terminal's end-of-day and the day's reconciliation: once it is due and nobody is at
//! the kiosk (or, at the longest interval, as soon as no payment is under way, paid services
//! held meanwhile), the kiosk has the ZVT terminal (the virtual one, over loopback) close its
//! day, and reports the terminal's total beside its own journal's to central — as information
//! when they agree, as critical when the terminal booked something the kiosk never did.

use std::time::Duration;

use balcao_backend_client::api::{DayTotals, KioskEventKind, Severity};
use balcao_central::LoopbackCentral;
use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::VirtualZvtTerminal;
use balcao_kiosk::session::Event;
use balcao_tests::{TestKiosk, citizen, enrolled_client, eventually, loopback_central, test_settings};
use balcao_ui::view::{Language, Screen, UserAction, View};

/// Central on loopback, the virtual ZVT terminal, and a kiosk enrolled at central that pays on
/// it through the ZVT driver, its day closing from `when_idle` on and at `latest` at the latest.
struct Setup {
    dir: tempfile::TempDir,
    central: LoopbackCentral,
    terminal: VirtualZvtTerminal,
    kiosk: TestKiosk,
}

async fn setup(latest: Duration, when_idle: Duration) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    let mut settings = test_settings(dir.path());
    settings.end_of_day = latest;
    settings.end_of_day_when_idle = when_idle;
    let driver = ZvtTerminal::new(ZvtConfig::new(terminal.address()));
    let kiosk = TestKiosk::start_with_terminal(settings, dir.path(), Some(enrolled_client(&central)), Some(Box::new(driver))).await;
    Setup { dir, central, terminal, kiosk }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_closes_its_day_when_nobody_is_at_the_kiosk_and_central_hears_whether_the_totals_agree() {
    // From 1 s on the day closes when nobody is at the kiosk; it is due at the latest at 60 s.
    let Setup { dir: _dir, central, terminal, kiosk } = setup(Duration::from_secs(60), Duration::from_secs(1)).await;

    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done, "{:?}", end.error);
    assert_eq!(terminal.control().booked().len(), 1, "the fee was booked");
    // The citizen is still on the last screen: no close yet.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(!terminal.control().received().contains(&0x0650), "no end-of-day while a citizen is at the kiosk");

    citizen::finish(&kiosk);
    let days_closed = |severity: Severity| {
        central
            .central
            .store()
            .recent_events(50)
            .expect("events")
            .into_iter()
            .filter(move |e| e.kind == KioskEventKind::DayClosed && e.severity == severity)
    };
    let agreed = "the terminal booked MOP 30.00, the kiosk's journal MOP 30.00 over 1 payment";
    eventually("the day's close at central", Duration::from_secs(20), || days_closed(Severity::Info).any(|e| e.detail.contains(agreed)))
        .await;
    assert_eq!(days_closed(Severity::Critical).count(), 0, "the totals agreed");
    // The figures travel as figures too, for the console's reconciliation.
    let days = central.central.store().payment_days(10).expect("payment days");
    assert_eq!(days[0].day_totals, Some(DayTotals { terminal_avos: 3_000, journal_avos: 3_000, payments: 1 }));

    // A sale on the terminal the kiosk never made: the next close disagrees, and says so.
    terminal.control().book_elsewhere(1_000);
    eventually("a disagreeing close at central", Duration::from_secs(20), || days_closed(Severity::Critical).count() == 1).await;
    let report = days_closed(Severity::Critical).next().expect("report");
    assert!(
        report.detail.contains("the terminal booked MOP 10.00, the kiosk's journal MOP 0.00 over 0 payment(s); they differ"),
        "{}",
        report.detail
    );
    assert_eq!(report.day_totals, Some(DayTotals { terminal_avos: 1_000, journal_avos: 0, payments: 0 }));
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_day_closes_though_a_citizen_stays_and_paid_services_wait_for_it() {
    // The close may wait for an idle moment from 1 s on, and must happen at 4 s.
    let Setup { dir: _dir, central, terminal, kiosk } = setup(Duration::from_secs(4), Duration::from_secs(1)).await;

    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done, "{:?}", end.error);
    // The terminal's close talks to its host for a while.
    terminal.control().set_pace(Duration::from_secs(3));
    // The citizen stays on the last screen past the longest interval: the day closes anyway.
    eventually("the overdue end-of-day", Duration::from_secs(15), || terminal.control().received().contains(&0x0650)).await;
    assert_eq!(kiosk.view.current().screen, Screen::Done, "the citizen was still at the kiosk");

    // While it closes, the fee-paying service is not offered to the next citizen.
    citizen::finish(&kiosk);
    for action in [UserAction::Start, UserAction::ChooseLanguage(Language::En), UserAction::Apply] {
        kiosk.send(Event::Ui(action));
    }
    let tile = |v: &View| v.services.tiles.iter().find(|t| t.id == "criminal-record-certificate").cloned();
    kiosk
        .view
        .wait_for("the paid service held", Duration::from_secs(10), |v| {
            v.screen == Screen::Services && tile(v).is_some_and(|t| t.unavailable.is_some())
        })
        .await;
    // Once closed, it is offered again, and central has the day's report.
    kiosk
        .view
        .wait_for("the paid service back", Duration::from_secs(15), |v| {
            v.screen == Screen::Services && tile(v).is_some_and(|t| t.unavailable.is_none())
        })
        .await;
    // (The report leaves the kiosk's outbox on its own schedule: it may arrive a moment later.)
    let store = central.central.store();
    eventually("the day's report at central", Duration::from_secs(15), || {
        let closed = store.recent_events(50).expect("events");
        closed.iter().any(|e| e.kind == KioskEventKind::DayClosed && e.severity == Severity::Info && e.detail.contains("MOP 30.00"))
    })
    .await;
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_that_cannot_reach_its_host_keeps_taking_payments_and_central_hears_once() {
    // Overdue 2 s after the first payment; a failed close is tried again 2 s later.
    let Setup { dir: _dir, central, terminal, kiosk } = setup(Duration::from_secs(2), Duration::from_secs(1)).await;
    terminal.control().set_host_unreachable(true);

    let end = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    assert_eq!(end.screen, Screen::Done, "{:?}", end.error);
    citizen::finish(&kiosk);
    let failures = || {
        central.central.store().recent_events(50).expect("events").into_iter().filter(|e| e.kind == KioskEventKind::DayCloseFailed).count()
    };
    eventually("the failed close reported", Duration::from_secs(20), || failures() == 1).await;
    let closes = || terminal.control().received().iter().filter(|c| **c == 0x0650).count();
    eventually("the close tried again", Duration::from_secs(20), || closes() >= 2).await;

    // Payments go on meanwhile: the next citizen pays as usual (the close is not holding them).
    let end = citizen::apply_for_criminal_record(&kiosk, "WONG SIU MING").await;
    assert_eq!(end.screen, Screen::Done, "{:?}", end.error);
    assert_eq!(terminal.control().booked().len(), 2);
    citizen::finish(&kiosk);

    // The host is back: the day closes with both payments, and the failure was reported once.
    terminal.control().set_host_unreachable(false);
    let closed = || {
        central
            .central
            .store()
            .payment_days(10)
            .expect("days")
            .into_iter()
            .find_map(|e| e.day_totals)
            .map(|t| (t.terminal_avos, t.journal_avos))
    };
    eventually("the day closed", Duration::from_secs(20), || closed() == Some((6_000, 6_000))).await;
    assert_eq!(failures(), 1, "one report for the whole episode");
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
