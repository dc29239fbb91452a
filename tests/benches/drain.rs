//! Draining a backlog: a kiosk with 10,000 queued applications comes online and sends them to
//! central over loopback HTTPS with mutual TLS; the clock stops when central has stored every
//! one durably and the kiosk has recorded every acknowledgement. Side by side in the same run:
//!
//! - central on SQLite (WAL, `synchronous=FULL`), the default;
//! - central on PostgreSQL (a throwaway cluster on the same disk, every commit synced);
//! - the same 10,000 spread over two central instances on that PostgreSQL (two kiosks of 5,000,
//!   one on each instance);
//! - a central that does not take batches, so each application is its own request and its own
//!   commit on both sides (1,000 applications, to keep the run short).
//!
//! Run with `cargo bench -p balcao-tests --bench drain` (a release build). The goals: 10,000 in
//! at most 3 s on either database, PostgreSQL within 1.5x SQLite's time.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use balcao_central::testing::{Durability, PgServer};
use balcao_central::{Central, CentralOptions, DatabaseLocation, KeyFiles, LoopbackCentral};
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

/// Queues `n` applications at each kiosk as it would while offline (kiosk `K0i` sends to
/// `centrals[i]`), then starts the kiosks and times the drain.
async fn drain(dir: &std::path::Path, centrals: &[&LoopbackCentral], n: usize) -> Duration {
    let mut kiosks = Vec::new();
    for (i, central) in centrals.iter().enumerate() {
        let (kiosk_dir, kiosk_id) = (dir.join(format!("kiosk-{i}")), format!("K0{}", i + 1));
        let mut store = kiosk_store(&kiosk_dir);
        for _ in 0..n {
            store.save_application(&citizen::paid_criminal_record_application(&kiosk_id)).expect("queued");
        }
        let client = client(&central.url, &central.ca_pem, &central.kiosk_identity(&kiosk_id, "GSC-01").expect("identity"));
        let mut settings = balcao_tests::test_settings(&kiosk_dir);
        settings.kiosk_id = kiosk_id;
        kiosks.push((kiosk_dir, settings, client));
    }
    let started = Instant::now();
    let mut running = Vec::new();
    for (kiosk_dir, settings, client) in kiosks {
        let database = settings.database.clone();
        running.push((TestKiosk::start_with(settings, &kiosk_dir, Some(client)).await, database));
    }
    // Watched cheaply: a count on a read-only connection of its own every 5 ms, nothing
    // opened, checked or decrypted (reopening the store each time cost the drain a third).
    for (_, database) in &running {
        loop {
            if balcao_kiosk::store::Store::pending_in(database).is_ok_and(|pending| pending == 0) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "the backlog did not drain");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = started.elapsed();
    let stored = centrals[0].central.store().count_applications().expect("count");
    assert_eq!(stored, (n * centrals.len()) as u64, "everything is at central, once");
    for (kiosk, _) in running {
        kiosk.stop().await;
    }
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        // On the build's disk, not /tmp (often a tmpfs, where fsync costs nothing).
        let single_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let single_central = central_without_batches(single_dir.path()).await;
        let single = drain(single_dir.path(), &[&single_central], ONE_BY_ONE).await;
        single_central.stop().await.expect("stop");

        let batch_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let batch_central = LoopbackCentral::start(&CentralOptions::new(batch_dir.path().join("central.db"))).await.expect("central");
        let sqlite = drain(batch_dir.path(), &[&batch_central], BACKLOG).await;
        batch_central.stop().await.expect("stop");

        let postgres = PgServer::start_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), Durability::Full).expect("PostgreSQL");
        let on = |database: &str, dir: &std::path::Path| {
            let url = postgres.create_database(database).expect("database");
            CentralOptions::on(DatabaseLocation::Postgres(url), KeyFiles::in_folder(&dir.join("keys")))
        };
        let pg_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let pg_central = LoopbackCentral::start(&on("one", pg_dir.path())).await.expect("central");
        let on_postgres = drain(pg_dir.path(), &[&pg_central], BACKLOG).await;
        pg_central.stop().await.expect("stop");

        let two_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let shared = on("two", two_dir.path());
        let (first, second) = (LoopbackCentral::start(&shared).await.expect("a"), LoopbackCentral::start(&shared).await.expect("b"));
        let on_two = drain(two_dir.path(), &[&first, &second], BACKLOG / 2).await;
        first.stop().await.expect("stop");
        second.stop().await.expect("stop");
        drop(postgres);

        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        println!("outbox drain benchmark (loopback HTTPS, mutual TLS, durable at both ends, release build)");
        println!("  one by one, SQLite               {ONE_BY_ONE:>6} in {single:>9.2?}  ({:>7.0}/s)", rate(ONE_BY_ONE, single));
        println!("  in batches, SQLite               {BACKLOG:>6} in {sqlite:>9.2?}  ({:>7.0}/s)", rate(BACKLOG, sqlite));
        println!("  in batches, PostgreSQL           {BACKLOG:>6} in {on_postgres:>9.2?}  ({:>7.0}/s)", rate(BACKLOG, on_postgres));
        println!("  in batches, PostgreSQL, 2 centrals {BACKLOG:>4} in {on_two:>9.2?}  ({:>7.0}/s)", rate(BACKLOG, on_two));
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        println!("  SQLite {BACKLOG} in {sqlite:.2?} (goal <= {GOAL:?}): {}", verdict(sqlite <= GOAL));
        println!("  PostgreSQL {BACKLOG} in {on_postgres:.2?} (goal <= {GOAL:?}): {}", verdict(on_postgres <= GOAL));
        let ratio = on_postgres.as_secs_f64() / sqlite.as_secs_f64();
        println!("  PostgreSQL / SQLite: {ratio:.2}x (goal <= 1.5x): {}", verdict(ratio <= 1.5));
    });
}
