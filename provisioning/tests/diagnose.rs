//! `kiosk-provision diagnose` against a running kiosk with simulated devices and a loopback
//! central: ready; then with the printer out of paper and the payment terminal unreachable,
//! not ready for exactly those two reasons, each with its remedy, in the exit code and the JSON.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_tests::{TestKiosk, client, test_settings};

fn diagnose(config: &Path) -> (i32, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk-provision"))
        .args(["diagnose", "--json", "--config"])
        .arg(config)
        .output()
        .expect("kiosk-provision runs");
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)));
    (output.status.code().expect("exited"), json)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_kiosk_passes_and_one_out_of_paper_with_its_terminal_away_fails_for_those_two() {
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

    let ready = until(&config, "ready", |code, _| code == 0).await;
    assert_eq!(ready["ready"], true, "{ready}");
    let names: Vec<&str> = ready["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    for name in ["configuration", "disk", "database", "certificate", "central", "clock", "receipt-printer", "payment-terminal"] {
        assert!(names.contains(&name), "{name} checked: {ready}");
    }

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

    // The same, for a person.
    let text = Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).args(["diagnose", "--config"]).arg(&config).output().expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("NOT READY") && text.contains("→ load paper"), "{text}");
    kiosk.stop().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}
