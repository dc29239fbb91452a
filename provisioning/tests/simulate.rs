//! A trainer drives a training kiosk's simulated devices with `kiosk-provision simulate`: the
//! receipt printer runs out of paper and gets it back, an unknown action or a device that is
//! real is refused, and a kiosk whose controls do not answer is said to be unreachable.

mod common;

use std::process::Command;
use std::time::Duration;

use balcao_kiosk::runtime::devices::Simulators;
use balcao_kiosk::runtime::training;
use balcao_tests::TestKiosk;

fn simulate(port: u16, args: &[&str]) -> (i32, serde_json::Value) {
    common::json_answer(Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).arg("simulate").args(args).args([
        "--json",
        "--kiosk",
        &format!("127.0.0.1:{port}"),
    ]))
}

async fn controls(simulators: Simulators) -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let port = listener.local_addr().expect("address").port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(training::serve_on(simulators, listener, stopped));
    (port, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_makes_the_printer_run_out_of_paper_and_come_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kiosk = TestKiosk::start(dir.path(), None).await;
    let (port, stop) = controls(Simulators::from(kiosk.simulators.clone())).await;
    let printer = kiosk.simulators.receipt_printer.clone();

    let (code, json) = tokio::task::spawn_blocking(move || simulate(port, &["paper-out"])).await.expect("ran");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["simulated"]["done"], "the receipt printer runs out of paper");
    assert_eq!(printer.paper_left_mm(), Some(0));
    let (code, _) = tokio::task::spawn_blocking(move || simulate(port, &["paper-back"])).await.expect("ran");
    assert_eq!(code, 0);
    assert_eq!(printer.paper_left_mm(), None);
    let (code, json) = tokio::task::spawn_blocking(move || simulate(port, &["scan", "K01-261207-0001"])).await.expect("ran");
    assert_eq!(code, 0, "{json}");

    let (code, json) = tokio::task::spawn_blocking(move || simulate(port, &["printer-explodes"])).await.expect("ran");
    assert_eq!(code, 4, "{json}");
    assert!(json["error"].as_str().expect("why").contains("paper-out"), "the actions there are: {json}");
    let _ = stop.send(true);
    kiosk.stop().await;

    // A kiosk whose receipt printer is real: refused, not pretended.
    let (port, stop) = controls(Simulators::default()).await;
    let (code, json) = tokio::task::spawn_blocking(move || simulate(port, &["cover-open"])).await.expect("ran");
    assert_eq!(code, 4, "{json}");
    assert!(json["error"].as_str().expect("why").contains("receipt printer is not simulated"), "{json}");
    let _ = stop.send(true);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address").port();
    let (code, json) = tokio::task::spawn_blocking(move || simulate(closed, &["paper-out"])).await.expect("ran");
    assert_eq!(code, 3, "{json}");
}
