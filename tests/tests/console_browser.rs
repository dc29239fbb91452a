//! The central console as staff see it: in a real browser (headless Chromium, installed by
//! `tools/setup`) over central's HTTPS on loopback. The payment terminals' closed days are
//! listed, and a day whose terminal total and kiosk journal differ is flagged above the rest.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use balcao_backend_client::api::{DayTotals, KioskEvent, KioskEventKind};
use balcao_tests::loopback_central;

/// Runs headless Chromium on `url` with `what` (`--dump-dom`, `--screenshot=…`); its stdout.
/// A profile of its own, no network beyond loopback, and the development CA's certificate
/// accepted (the browser has no way to be told of it on the command line).
fn chromium(profile: &Path, url: &str, what: &str) -> String {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--hide-scrollbars",
            "--window-size=1280,1000",
            "--timeout=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(what)
        .arg(url)
        .output()
        .expect("chromium runs (tools/setup installs it)");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser_flags_the_payment_day_whose_totals_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    // K01's terminal and journal agree; K02's terminal booked MOP 10.00 its journal never did.
    for event in [day_closed("K01", 6_000, 6_000, 2), day_closed("K02", 4_000, 3_000, 1)] {
        assert!(central.central.store().record_event(&event).expect("recorded"));
    }

    let (url, profile) = (format!("{}/", central.url), dir.path().join("profile"));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-payment-days.png");
    let (dom, shot) = tokio::task::spawn_blocking(move || {
        let dom = chromium(&profile, &url, "--dump-dom");
        chromium(&profile, &url, &format!("--screenshot={}", shot.display()));
        (dom, shot)
    })
    .await
    .expect("browser");

    let alert = dom.find("id=\"payment-days-differ\"").expect("the differing days are flagged");
    let all = dom.find("id=\"payment-days\"").expect("every closed day is listed");
    assert!(alert < all, "the flagged days come first");
    let flagged = &dom[alert..all];
    assert!(flagged.contains("K02") && flagged.contains("terminal +MOP 10.00"), "{flagged}");
    assert!(!flagged.contains("K01"), "a day that agrees is not flagged: {flagged}");
    let listed = &dom[all..];
    assert!(listed.contains("K01") && listed.contains("MOP 60.00") && listed.contains("agree"), "{listed}");

    // The screenshot is there to be looked at; it is a PNG of the page.
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot, {} bytes", png.len());
    eprintln!("console screenshot: {}", shot.display());
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}
