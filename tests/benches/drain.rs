//! Draining a backlog: a kiosk with 10,000 queued applications comes online and sends them to
//! central over loopback HTTPS with mutual TLS; the clock stops when central has stored every
//! one durably (SQLite, WAL, `synchronous=FULL`) and the kiosk has recorded every
//! acknowledgement. Side by side in the same run: the same kiosk against a central that does
//! not take batches, so each application is its own request and its own commit on both sides
//! (1,000 applications, to keep the run short).
//!
//! Run with `cargo bench -p balcao-tests --bench drain` (a release build). The goal is 10,000 in
//! at most 3 s.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use balcao_central::{Central, CentralOptions, LoopbackCentral};
use balcao_tests::{TestKiosk, citizen, client, kiosk_store};

const BACKLOG: usize = 10_000;
const ONE_BY_ONE: usize = 1_000;
const GOAL: Duration = Duration::from_secs(3);

/// A central that answers 404 to batches, as one from before they existed would.
async fn central_without_batches(dir: &std::path::Path) -> LoopbackCentral {
    let central = Central::open(&CentralOptions::new(dir.join("central.db"))).expect("central");
    let router =
        central.router().layer(axum::middleware::from_fn(|request: axum::extract::Request, next: axum::middleware::Next| async move {
            if request.uri().path().ends_with("/batch") {
                return StatusCode::NOT_FOUND.into_response();
            }
            next.run(request).await
        }));
    LoopbackCentral::start_with_router(central, router).await.expect("central")
}

/// Queues `n` applications as the kiosk would while offline, then starts the kiosk and times
/// the drain.
async fn drain(dir: &std::path::Path, central: &LoopbackCentral, n: usize) -> Duration {
    let kiosk_dir = dir.join("kiosk");
    {
        let mut store = kiosk_store(&kiosk_dir);
        for _ in 0..n {
            store.save_application(&citizen::paid_criminal_record_application("K01")).expect("queued");
        }
    }
    let client = client(&central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    let database = balcao_tests::test_settings(&kiosk_dir).database;
    let started = Instant::now();
    let kiosk = TestKiosk::start(&kiosk_dir, Some(client)).await;
    // Watched cheaply: a count on a read-only connection of its own every 5 ms, nothing
    // opened, checked or decrypted (reopening the store each time cost the drain a third).
    loop {
        if balcao_kiosk::store::Store::pending_in(&database).is_ok_and(|pending| pending == 0) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the backlog did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(central.central.store().count_applications().expect("count"), n as u64, "everything is at central, once");
    kiosk.stop().await;
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        // On the build's disk, not /tmp (often a tmpfs, where fsync costs nothing).
        let single_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let single_central = central_without_batches(single_dir.path()).await;
        let single = drain(single_dir.path(), &single_central, ONE_BY_ONE).await;
        single_central.stop().await.expect("stop");

        let batch_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let batch_central = LoopbackCentral::start(&CentralOptions::new(batch_dir.path().join("central.db"))).await.expect("central");
        let batched = drain(batch_dir.path(), &batch_central, BACKLOG).await;
        batch_central.stop().await.expect("stop");

        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        println!("outbox drain benchmark (loopback HTTPS, mutual TLS, durable at both ends, release build)");
        println!("  one by one    {ONE_BY_ONE:>6} applications in {single:>9.2?}  ({:>7.0}/s)", rate(ONE_BY_ONE, single));
        println!("  in batches    {BACKLOG:>6} applications in {batched:>9.2?}  ({:>7.0}/s)", rate(BACKLOG, batched));
        println!("  {BACKLOG} in {batched:.2?} (goal <= {GOAL:?}): {}", if batched <= GOAL { "met" } else { "NOT met" });
    });
}
