//! Queue tickets work offline: the kiosk numbers and prints them itself, and each reaches
//! central exactly once when the network is back — including one whose printing ran out of
//! paper half-way (the citizen may hold its number) and one cut short by a crash.

use std::time::Duration;

use balcao_backend_client::api::TicketOutcome;
use balcao_tests::proxy::{FaultProxy, Plan};
use balcao_tests::{TestKiosk, citizen, client, eventually, kiosk_store, loopback_central, test_settings};
use balcao_ui::view::{Language, Problem, Screen, View};

const WAIT: Duration = Duration::from_secs(20);

/// A citizen takes a ticket in Chinese and leaves the screen for the next one.
async fn take_ticket(kiosk: &TestKiosk, queue: &str) -> View {
    let view = citizen::take_queue_ticket(kiosk, Language::ZhHant, queue).await;
    citizen::finish(kiosk);
    kiosk.view.wait_for("the welcome screen", WAIT, |v| v.screen == Screen::Attract).await;
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_issued_offline_reach_central_once_even_half_printed_or_cut_short_by_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    let data = dir.path().join("k01");

    // The kiosk synced the catalog before the network went, and crashed while printing
    // B1-001: the citizen may hold it.
    let mut store = kiosk_store(&data);
    store.save_catalog(None, &balcao_central::seed::catalog()).expect("catalog cached");
    let crashed = store.begin_ticket("civil-registry", 'B', '1', jiff::Zoned::now().date(), true).expect("begin");
    assert_eq!(crashed.number, "B1-001");
    drop(store);

    proxy.set(Plan::CUT);
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let kiosk = TestKiosk::start_with(test_settings(&data), &data, Some(client(&proxy.url, &proxy.ca_pem, &identity))).await;
    kiosk.view.wait_for("the kiosk ready, offline", WAIT, |v| v.ticket_unavailable.is_none() && !v.queues.is_empty() && !v.online).await;

    let view = take_ticket(&kiosk, "civil-registry").await;
    assert_eq!((view.screen, view.ticket.number.as_str(), view.ticket.queue_name.as_str()), (Screen::Ticket, "B1-002", "民事登記"));
    let printed = kiosk.simulators.receipt_printer.printed();
    assert_eq!(printed.len(), 1);
    // The number in the printer's own font; the Chinese lines (title, queue) as images.
    assert!(
        printed[0].text.contains("B1-002") && printed[0].raster_rows > 50,
        "{} / {} raster rows",
        printed[0].text,
        printed[0].raster_rows
    );
    let png = std::fs::read(printed[0].png.as_ref().expect("saved")).expect("png");
    assert!(png.starts_with(b"\x89PNG"));

    // The roll runs out half-way through the next ticket: its number is shown, and kept.
    kiosk.simulators.receipt_printer.set_paper_left_mm(Some(15));
    let view = take_ticket(&kiosk, "civil-registry").await;
    assert_eq!((view.screen, view.error.problem, view.error.reference.as_str()), (Screen::Error, Problem::TicketPrintUncertain, "B1-003"));
    assert!(kiosk.simulators.receipt_printer.printed()[1].incomplete);
    assert_eq!(kiosk.store().outbox_counts().expect("counts").pending, 3, "crashed, printed and half-printed tickets wait");
    assert_eq!(central.central.store().queue_days(1).expect("days").len(), 0);

    proxy.set(Plan::HEALTHY);
    eventually("three tickets at central", WAIT, || {
        central.central.store().queue_days(1).expect("days").first().is_some_and(|d| d.issued == 3)
    })
    .await;
    let day = &central.central.store().queue_days(1).expect("days")[0];
    assert_eq!(
        (day.queue_id.as_str(), day.centre_id.as_str(), day.offline, day.last_number.as_str()),
        ("civil-registry", "GSC-01", 3, "B1-003")
    );
    assert!(central.central.store().reused_ticket_numbers(10).expect("reused").is_empty());
    eventually("the kiosk's outbox emptied", WAIT, || kiosk.store().outbox_counts().expect("counts").pending == 0).await;
    assert_eq!(kiosk.store().outbox_counts().expect("counts").dead, 0);
    kiosk.stop().await;

    // What central filed says how each ended.
    let outcomes = central.central.store().queue_ticket_outcomes().expect("outcomes");
    assert_eq!(
        outcomes,
        vec![
            ("B1-001".to_string(), TicketOutcome::Uncertain),
            ("B1-002".to_string(), TicketOutcome::Printed),
            ("B1-003".to_string(), TicketOutcome::Uncertain)
        ]
    );
}
