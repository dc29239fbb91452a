//! The payment saga through kills: a kiosk process takes fees on a ZVT terminal (the virtual
//! terminal, in this harness, so it outlives every kill), and is killed with `SIGKILL` right
//! after each journal transition is on disk — in a citizen's payment and in the
//! reconciliation that follows a restart — then at random moments, and started again on the
//! same data each time. At the end every reservation the terminal approved was booked against
//! a delivered service or reversed, none is left open, and none was booked twice.
//!
//! CI kills at each transition twice and at 10 random moments;
//! `BALCAO_PAYMENT_KILL_ROUNDS=20 BALCAO_PAYMENT_RANDOM_KILLS=200` is the soak run.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use balcao_drivers::payment_terminal::zvt::sim::VirtualZvtTerminal;
use balcao_kiosk::store::PaymentState;
use balcao_tests::loopback_central;
use balcao_tests::process::{Endpoint, KioskProcess};
use rand::Rng;

/// The transitions to die at, in an order where each can be reached: a reservation a kill
/// left `authorised` is reversed by the next start's reconciliation (`reversal_sent`,
/// `reversed`); dying at `fulfilling` or later leaves the next start a reversal or a capture.
const POINTS: [&str; 10] = [
    "intent",
    "preauth_sent",
    "authorised",
    "reversal_sent",
    "authorised",
    "reversed",
    "fulfilling",
    "fulfilled",
    "capture_sent",
    "captured",
];

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn kiosk(crash_at: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scripted-kiosk"));
    match crash_at {
        Some(point) => command.env("BALCAO_CRASH_AT", point),
        None => command.env_remove("BALCAO_CRASH_AT"),
    };
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_approved_reservation_ends_booked_for_a_delivered_service_or_reversed_through_kills() {
    let (rounds, random_kills) = (env_count("BALCAO_PAYMENT_KILL_ROUNDS", 2), env_count("BALCAO_PAYMENT_RANDOM_KILLS", 10));
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let to_central =
        Endpoint::write(dir.path(), &central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    let zvt = terminal.address().to_string();
    let kiosk_dir = dir.path().join("kiosk");
    let args = ["--zvt", zvt.as_str()];
    let started = Instant::now();

    let mut died_at = Vec::new();
    for _ in 0..rounds {
        for point in POINTS {
            let process = KioskProcess::spawn_by(kiosk(Some(point)), &kiosk_dir, &to_central, &args);
            let ended = tokio::task::spawn_blocking(move || process.wait());
            let (lines, status) = tokio::time::timeout(Duration::from_secs(90), ended)
                .await
                .unwrap_or_else(|_| panic!("the kiosk never reached {point}"))
                .expect("join");
            let status = status.expect("status");
            assert_eq!(status.signal(), Some(9), "killed right after {point} was journaled: {status:?} {lines:?}");
            died_at.push(point);
        }
    }
    for _ in 0..random_kills {
        let process = KioskProcess::spawn_by(kiosk(None), &kiosk_dir, &to_central, &args);
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..1500))).await;
        process.kill();
    }
    let killing = started.elapsed();

    // The last start: nothing kills it; it settles what the kills left.
    let process = KioskProcess::spawn_by(kiosk(None), &kiosk_dir, &to_central, &["--settle", "--zvt", zvt.as_str()]);
    let settled = tokio::task::spawn_blocking(move || {
        let line = process.lines.recv_timeout(Duration::from_secs(90)).ok();
        process.kill();
        line
    })
    .await
    .expect("join");
    assert_eq!(settled.as_deref(), Some("SETTLED"), "the journal settles once the kiosk runs undisturbed");

    let control = terminal.control();
    assert!(control.open_reservations().is_empty(), "a reservation left open at the terminal: {:?}", control.open_reservations());

    let store = balcao_tests::kiosk_store(&kiosk_dir);
    let payments = store.all_payments().expect("journal");
    let unfinished: Vec<_> = payments.iter().filter(|p| !p.state.is_final()).collect();
    assert!(unfinished.is_empty(), "unfinished payments: {unfinished:?}");
    let lapsed: Vec<_> = payments.iter().filter(|p| p.state == PaymentState::Lapsed).collect();
    assert!(lapsed.is_empty(), "a delivered service's reservation lapsed: {lapsed:?}");

    // Booked once each, and only against a delivered service.
    let booked = control.booked();
    let receipts: BTreeSet<usize> = booked.iter().map(|(receipt, _)| *receipt).collect();
    assert_eq!(receipts.len(), booked.len(), "a reservation booked twice: {booked:?}");
    let captured: Vec<_> = payments.iter().filter(|p| p.state == PaymentState::Captured).collect();
    assert_eq!(captured.len(), booked.len(), "every booking is a captured payment and every captured payment one booking");
    for payment in &captured {
        let receipt = payment.receipt_number.expect("a captured payment has its receipt number") as usize;
        assert!(receipts.contains(&receipt), "payment {} captured but not booked at the terminal", payment.id);
        let application = payment.application_id.expect("captured against an application");
        assert!(store.application_state(application).expect("read").is_some(), "the application {application} is in the store");
        assert_eq!(booked.iter().find(|(r, _)| *r == receipt).map(|(_, a)| *a as u64), Some(payment.amount_avos));
    }
    for payment in payments.iter().filter(|p| p.state == PaymentState::Reversed) {
        let receipt = payment.receipt_number.map(|r| r as usize);
        assert!(receipt.is_none_or(|r| !receipts.contains(&r)), "payment {} reversed yet booked", payment.id);
        assert!(payment.application_id.is_none(), "payment {} reversed though its service was delivered", payment.id);
    }
    let reversed = payments.iter().filter(|p| p.state == PaymentState::Reversed).count();
    assert!(!captured.is_empty() && reversed > 0, "both endings happened: {} captured, {reversed} reversed", captured.len());
    eprintln!(
        "{} targeted kills ({} transitions × {rounds}) and {random_kills} random ones in {killing:.1?}: {} payments journaled, {} captured, {reversed} reversed, {} closed with nothing reserved",
        died_at.len(),
        POINTS.len(),
        payments.len(),
        captured.len(),
        payments.iter().filter(|p| matches!(p.state, PaymentState::NotReserved | PaymentState::Declined)).count(),
    );
    central.stop().await.expect("stop");
}
