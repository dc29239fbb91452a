//! Central is down when citizens apply: they are served anyway, the kiosk says it is offline,
//! and when central is back every application is delivered once; nothing is lost.

use std::time::Duration;

use balcao_central::tls::DevPki;
use balcao_central::{Central, CentralOptions, LoopbackCentral};
use balcao_tests::{TestKiosk, citizen, client, eventually};
use balcao_ui::view::Screen;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_made_while_central_is_down_are_delivered_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Central's future address and certificate; nothing listens there yet.
    let pki = DevPki::generate().expect("pki");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("https://127.0.0.1:{port}");
    // The kiosk has the catalog from an earlier sync.
    balcao_tests::kiosk_store(dir.path()).save_catalog(None, &balcao_central::seed::catalog()).expect("catalog");
    let kiosk = TestKiosk::start(dir.path(), Some(client(&url, &pki.ca_pem, &pki.issue_kiosk("K01", "GSC-01").expect("identity")))).await;

    let mut references = Vec::new();
    for name in ["CHAN TAI MAN", "LEI SIO IENG"] {
        let end = citizen::apply_for_criminal_record(&kiosk, name).await;
        assert_eq!(end.screen, Screen::Done);
        references.push(end.done.reference.clone());
        citizen::finish(&kiosk);
        kiosk.view.wait_for("the kiosk to show it is offline", Duration::from_secs(10), |v| !v.online).await;
    }
    // The kiosk knew it was offline when the second citizen applied: the receipt says so.
    let printed = kiosk.simulators.receipt_printer.printed();
    let last = &printed.last().expect("receipts").flowing_text();
    assert!(last.contains("it will be transmitted to the agency as soon as the connection returns"), "{last}");
    let report = kiosk.store().outbox_report().expect("report");
    assert_eq!(report.len(), 2);
    assert!(report.iter().all(|e| e.state == "pending"), "{report:?}");
    assert!(report[0].last_error.as_deref().is_some_and(|e| e.contains("could not reach central")), "{report:?}");
    assert_eq!(kiosk.view.current().pending_uploads, 2, "the kiosk says what is waiting");

    // Central comes back on the same address.
    let central = Central::open(&CentralOptions::new(dir.path().join("central.db"))).expect("central");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the port is free again");
    let central = LoopbackCentral::serve_on(central.clone(), central.router(), listener, pki).expect("central back");
    eventually("both applications at central", Duration::from_secs(30), || {
        central.central.store().count_applications().expect("count") == 2
    })
    .await;
    eventually("the kiosk's outbox to empty", Duration::from_secs(10), || kiosk.store().outbox_counts().expect("counts").pending == 0)
        .await;
    let stored: Vec<String> = central.central.store().recent_applications(10).expect("list").into_iter().map(|a| a.reference).collect();
    for reference in &references {
        assert!(stored.contains(reference), "{reference} not at central: {stored:?}");
    }
    kiosk.view.wait_for("the kiosk to show it is online", Duration::from_secs(10), |v| v.online && v.pending_uploads == 0).await;
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
