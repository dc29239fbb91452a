//! Does a status check's time tell a guesser whether an application number exists? A kiosk
//! asks central (loopback HTTPS, mutual TLS, SQLite) about numbers that exist with a wrong date
//! of birth, numbers that do not exist, and — for scale — numbers with the right date, the
//! three kinds interleaved so that drift falls on all alike; each number is tried once (five
//! wrong tries would close it). Printed: p50 and p90 of each, and the ratio of the first two.
//!
//! Run with `cargo bench -p balcao-tests --bench status_timing`. The goal: the wrong date and
//! the unknown number in one timing class — p50s within 1.25x of each other.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use balcao_backend_client::api::StatusQuery;
use balcao_tests::{enrolled_client, loopback_central};

const ROUNDS: usize = 400;

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let at = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[at]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let client = enrolled_client(&central);
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).strftime("%y%m%d").to_string();
    let reference = |i: usize| format!("K01-{today}-{:04}", i + 1);
    // Twice as many applications as rounds: one number for a wrong date, one for the right.
    for i in 0..2 * ROUNDS {
        let mut application = balcao_central::testing::criminal_record_submission();
        application.application_id = uuid::Uuid::now_v7();
        application.reference = reference(i);
        client.submit_application(&application).await.expect("filed");
    }
    let ask = async |reference: String, date_of_birth: &str| {
        let query = StatusQuery { reference, date_of_birth: date_of_birth.into() };
        let started = Instant::now();
        let found = client.check_status(&query).await.expect("answered");
        (started.elapsed(), found.is_some())
    };
    // Warm up: connections, caches.
    for i in 0..20 {
        ask(format!("K02-{today}-{:04}", 9000 + i), "1985-03-14").await;
    }
    let (mut wrong_date, mut unknown, mut right) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let (took, found) = ask(reference(i), "1990-01-01").await;
        assert!(!found);
        wrong_date.push(took);
        let (took, found) = ask(format!("K02-{today}-{:04}", i + 1), "1985-03-14").await;
        assert!(!found);
        unknown.push(took);
        let (took, found) = ask(reference(ROUNDS + i), "1985-03-14").await;
        assert!(found);
        right.push(took);
    }
    let row = |name: &str, times: &mut Vec<Duration>| {
        let (p50, p90) = (percentile(times, 0.5), percentile(times, 0.9));
        println!("{name:<34} p50 {:>8.3} ms   p90 {:>8.3} ms", p50.as_secs_f64() * 1e3, p90.as_secs_f64() * 1e3);
        p50
    };
    println!("status checks, {ROUNDS} of each kind, interleaved:");
    let wrong = row("existing number, wrong date", &mut wrong_date);
    let none = row("unknown number", &mut unknown);
    row("existing number, right date", &mut right);
    let ratio = wrong.as_secs_f64() / none.as_secs_f64();
    let verdict = if (0.8..=1.25).contains(&ratio) { "one timing class (goal met)" } else { "DIFFERENT timing classes (goal not met)" };
    println!("wrong date / unknown number: {ratio:.2}x — {verdict}");
    central.stop().await.expect("stop");
}
