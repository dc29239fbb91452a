//! `kiosk-provision diagnose` against a running kiosk with simulated devices and a loopback
//! central: ready; then with the printer out of paper and the payment terminal unreachable,
//! not ready for exactly those two reasons, each with its remedy, in the exit code and the JSON.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_tests::{TestKiosk, client, test_settings};
use balcao_ui::view::{Screen, UserAction};

/// Diagnose with its device tests, waiting for no scan and no card.
fn diagnose(config: &Path) -> (i32, serde_json::Value) {
    diagnose_with(config, &["--scan-wait", "0", "--card-wait", "0"])
}

fn diagnose_with(config: &Path, options: &[&str]) -> (i32, serde_json::Value) {
    common::json_answer(
        Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).args(["diagnose", "--json"]).args(options).arg("--config").arg(config),
    )
}

/// The names of the failed checks.
fn failed(json: &serde_json::Value) -> Vec<String> {
    json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["verdict"] == "failed")
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

/// Runs diagnose until `done` holds for its outcome (the kiosk's survey takes a moment).
async fn until(config: &Path, what: &str, done: impl Fn(i32, &serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let file = config.to_path_buf();
        let (code, json) = tokio::task::spawn_blocking(move || diagnose(&file)).await.expect("ran");
        if done(code, &json) {
            return json;
        }
        assert!(Instant::now() < deadline, "{what}: last report (exit {code}) {json}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The check named `name` in a report.
fn named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"].as_array().expect("checks").iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}: {report}"))
}

/// A running kiosk with simulated devices, its metrics and its maintenance socket, a loopback
/// central, and the configuration file that describes them.
struct Rig {
    _dir: tempfile::TempDir,
    central: LoopbackCentral,
    kiosk: TestKiosk,
    config: std::path::PathBuf,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = LoopbackCentral::start(&CentralOptions::new(dir.path().join("central.db"))).await.expect("central");
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let (ca_file, identity_file) = (dir.path().join("ca.pem"), dir.path().join("identity.pem"));
    std::fs::write(&ca_file, &central.ca_pem).expect("ca");
    std::fs::write(&identity_file, &identity).expect("identity");
    // A port below the range the system hands out to outgoing connections, so none of the
    // kiosk's own connections to central can take it between this check and the kiosk's bind.
    let port = (0..200)
        .map(|_| 20_000 + rand::random::<u16>() % 10_000)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port");
    let kiosk_dir = dir.path().join("kiosk");
    let mut settings = test_settings(&kiosk_dir);
    settings.metrics_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    settings.maintenance_socket = Some(kiosk_dir.join(balcao_kiosk::runtime::maintenance::SOCKET));
    let kiosk = TestKiosk::start_with(settings, &kiosk_dir, Some(client(&central.url, &central.ca_pem, &identity))).await;
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\nid = \"K01\"\ncentre_id = \"GSC-01\"\n[store]\ndata_dir = {kiosk_dir:?}\n[central]\nurl = {:?}\nca_file = {ca_file:?}\nidentity_file = {identity_file:?}\n[logging]\nmetrics_listen = \"127.0.0.1:{port}\"\n",
            central.url
        ),
    )
    .expect("config");
    Rig { _dir: dir, central, kiosk, config }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_kiosk_passes_and_one_out_of_paper_with_its_terminal_away_fails_for_those_two() {
    let Rig { _dir, central, kiosk, config } = rig().await;
    let ready = until(&config, "ready", |code, _| code == 0).await;
    assert_eq!(ready["ready"], true, "{ready}");
    let names: Vec<&str> = ready["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    for name in
        ["configuration", "disk", "database", "certificate", "central", "clock", "receipt-printer", "payment-terminal", "fonts", "display"]
    {
        assert!(names.contains(&name), "{name} checked: {ready}");
    }
    // The device tests ran: a test receipt and an A4 page printed, the terminal's diagnosis.
    assert!(named(&ready, "receipt-printer")["detail"].as_str().expect("detail").contains("test receipt printed"), "{ready}");
    assert!(named(&ready, "document-printer")["detail"].as_str().expect("detail").contains("test page printed"), "{ready}");
    assert!(named(&ready, "payment-terminal")["detail"].as_str().expect("detail").contains("no money moved"), "{ready}");
    assert_eq!(named(&ready, "code-scanner")["verdict"], "warning", "not tried without a wait: {ready}");
    assert!(kiosk.simulators.receipt_printer.printed().iter().any(|r| r.text.contains("Balcao test print")));
    assert_eq!(named(&ready, "fonts")["verdict"], "ok", "{ready}");
    // Central has it, for the kiosk's console page.
    assert_eq!(ready["sent_to_central"], true, "{ready}");
    let kept = central.central.store().last_diagnosis("K01").expect("read").expect("kept");
    assert!(kept.ready && kept.checks.iter().any(|c| c.name == "receipt-printer"), "{kept:?}");
    let saved = std::fs::read_to_string(ready["saved_to"].as_str().expect("saved")).expect("the report file");
    assert!(saved.contains("\"receipt-printer\""), "{saved}");

    kiosk.simulators.receipt_printer.set_paper_left_mm(Some(0));
    kiosk.simulators.payment_terminal.set_offline(true);
    let report = until(&config, "not ready for two reasons", |code, json| code == 4 && failed(json).len() == 2).await;
    let mut reasons = failed(&report);
    reasons.sort();
    assert_eq!(reasons, ["payment-terminal", "receipt-printer"], "{report}");
    let remedy = |name: &str| {
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["remedy"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(remedy("receipt-printer"), "load paper");
    assert!(remedy("payment-terminal").contains("power and cable"), "{report}");
    assert!(!central.central.store().last_diagnosis("K01").expect("read").expect("kept").ready, "the last report replaced the first");

    // The same, for a person.
    let text = Command::new(env!("CARGO_BIN_EXE_kiosk-provision"))
        .args(["diagnose", "--scan-wait", "0", "--card-wait", "0", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("NOT READY") && text.contains("→ load paper"), "{text}");
    kiosk.stop().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_reads_the_test_receipts_code_a_card_is_seen_and_the_report_is_printed() {
    let Rig { _dir, central, kiosk, config } = rig().await;
    // The kiosk's survey first, so the devices are known.
    until(&config, "ready", |code, _| code == 0).await;
    let before = kiosk.simulators.receipt_printer.printed().len();
    let file = config.clone();
    let run = tokio::task::spawn_blocking(move || diagnose_with(&file, &["--scan-wait", "30", "--card-wait", "30", "--print"]));
    // The technician takes the test receipt and holds its code under the scanner: the code is
    // read off the receipt's picture, as a scanner would.
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        let printed = kiosk.simulators.receipt_printer.printed();
        if let Some(receipt) = printed[before.min(printed.len())..].iter().find(|r| r.text.contains("Balcao test print")) {
            let png = receipt.png.as_ref().expect("the virtual printer keeps a picture");
            let codes = balcao_drivers::receipt_printer::escpos::sim::read_codes(png).expect("zbarimg");
            break codes.iter().find_map(|c| c.strip_prefix("QR-Code:")).expect("a QR code on the test receipt").to_string();
        }
        assert!(Instant::now() < deadline, "no test receipt printed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(code.starts_with("BALCAO-TEST-K01-"), "{code}");
    // A code from something else first: the test keeps waiting for its own.
    kiosk.simulators.code_scanner.present(b"K01-261122-0001").expect("scanned");
    tokio::time::sleep(Duration::from_millis(200)).await;
    kiosk.simulators.code_scanner.present(code.as_bytes()).expect("scanned");
    kiosk.simulators.identity_reader.place(Some(balcao_drivers::identity_reader::sim::specimen_identity_card()));

    let (exit, report) = run.await.expect("ran");
    assert_eq!(exit, 0, "{report}");
    for device in ["receipt-printer", "document-printer", "payment-terminal", "code-scanner", "identity-reader"] {
        assert_eq!(named(&report, device)["verdict"], "ok", "{device}: {report}");
    }
    assert!(named(&report, "code-scanner")["detail"].as_str().expect("detail").contains("read the test receipt's code"), "{report}");
    assert!(named(&report, "identity-reader")["detail"].as_str().expect("detail").contains("was seen"), "{report}");
    assert_eq!(report["printed"], true, "{report}");
    let printed = kiosk.simulators.receipt_printer.printed();
    let paper = printed.iter().rev().find(|r| r.text.contains("readiness report")).expect("the report on paper");
    assert!(paper.flowing_text().contains("READY") && paper.flowing_text().contains("code-scanner"), "{}", paper.text);
    // Out of service while the technician tested, back in service after.
    assert!(kiosk.view.history().iter().any(|v| v.screen == Screen::OutOfService), "citizens saw the kiosk under maintenance");
    kiosk.view.wait_for("back in service", Duration::from_secs(10), |v| v.screen == Screen::Attract).await;
    kiosk.stop().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_tests_wait_for_the_citizen_and_refuse_another_user() {
    let Rig { _dir, central, kiosk, config } = rig().await;
    until(&config, "ready", |code, _| code == 0).await;
    // A citizen mid-journey: the tests are refused, nothing printed.
    kiosk.send(balcao_kiosk::session::Event::Ui(UserAction::Start));
    kiosk.view.wait_for("a journey begun", Duration::from_secs(10), |v| v.screen != Screen::Attract).await;
    let before = kiosk.simulators.receipt_printer.printed().len();
    let file = config.clone();
    let (exit, report) =
        tokio::task::spawn_blocking(move || diagnose_with(&file, &["--scan-wait", "0", "--card-wait", "0"])).await.expect("ran");
    assert_eq!(exit, 4, "{report}");
    assert!(named(&report, "device-tests")["detail"].as_str().expect("detail").contains("a citizen is using the kiosk"), "{report}");
    assert_eq!(kiosk.simulators.receipt_printer.printed().len(), before, "nothing printed");
    kiosk.stop().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}
