//! Central as a territory runs it: two `kiosk-central` processes on one PostgreSQL, behind
//! HAProxy (TCP: mutual TLS passes through to central; HAProxy checks each instance's `/ready`).
//! A fleet of kiosks drains its backlog — applications, queue tickets, events — through the
//! load balancer while one central instance is killed with SIGKILL and started again, and
//! while PostgreSQL itself is restarted. Everything arrives exactly once, and every kiosk's
//! outbox empties.
//!
//! The central instances are this test binary started again (`BALCAO_TERRITORY_CENTRAL`),
//! running `kiosk-central`'s own command line from the library: real processes, killed for
//! real. Without a harness (`harness = false`): `main` is the test.

#![allow(clippy::print_stdout, reason = "the test says what it did, as a test harness would")]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use balcao_backend_client::api::{KioskEvent, KioskEventKind, Severity, TicketOutcome};
use balcao_central::testing::{Durability, Kept, PgServer};
use balcao_central::tls::DevPki;
use balcao_central::{Central, CentralOptions, DatabaseLocation, KeyFiles};
use balcao_kiosk::runtime::outbox::RetryPolicy;
use balcao_kiosk::store::KioskPlace;
use balcao_tests::{TestKiosk, citizen, client, kiosk_store, test_settings};

/// Set in the environment of the central instances this test starts.
const CENTRAL: &str = "BALCAO_TERRITORY_CENTRAL";

const KIOSKS: usize = 6;
/// Enough that the drain, about 5,000 applications a second here, is still under way when
/// the instance is killed and the database restarted.
const APPLICATIONS: usize = 1000;
const TICKETS: usize = 10;
const EVENTS: usize = 10;

fn main() -> ExitCode {
    if std::env::var_os(CENTRAL).is_some() {
        return balcao_central::cli::main();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(a_fleet_drains_through_a_killed_instance_and_a_restarted_database());
    println!("test a_fleet_drains_through_a_killed_instance_and_a_restarted_database ... ok");
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("port").local_addr().expect("address").port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `kiosk-central` process on `port`, ended with SIGTERM (or killed).
fn central_instance(dir: &Path, name: &str, port: u16, database: &str) -> Kept {
    let mut command = Command::new("env");
    command
        .arg(format!("{CENTRAL}=1"))
        .arg(std::env::current_exe().expect("this test binary"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database", database, "--database-pool", "8", "--dev-pki"])
        .arg(dir.join("pki"))
        .arg("--keys")
        .arg(dir.join("keys"));
    let instance = Kept::start(&command, "TERM", &dir.join(format!("central-{name}.log"))).expect("a central instance");
    wait_for_port(port, &format!("central {name}"));
    instance
}

/// HAProxy on `port` in front of the instances: TCP, round robin, each instance's `/ready`
/// checked over TLS every 200 ms.
fn load_balancer(dir: &Path, port: u16, instances: &[u16]) -> Kept {
    let servers: String = instances
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  server central{i} 127.0.0.1:{p} check check-ssl verify none inter 200ms fall 1 rise 1\n"))
        .collect();
    let config = format!(
        "global\n  maxconn 1000\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\n\
         frontend kiosks\n  bind 127.0.0.1:{port}\n  default_backend centrals\n\
         backend centrals\n  balance roundrobin\n  option httpchk GET /ready\n  http-check expect status 200\n{servers}"
    );
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, config).expect("haproxy.cfg");
    let mut command = Command::new("haproxy");
    command.arg("-f").arg(&file).arg("-db");
    let balancer = Kept::start(&command, "TERM", &dir.join("haproxy.log")).expect("haproxy (tools/setup installs it)");
    wait_for_port(port, "haproxy");
    balancer
}

fn event(kiosk_id: &str, n: usize) -> KioskEvent {
    KioskEvent {
        event_id: uuid::Uuid::now_v7(),
        kiosk_id: kiosk_id.into(),
        centre_id: "GSC-01".into(),
        kind: KioskEventKind::DeadLetter,
        severity: Severity::Warning,
        detail: format!("territory test event {n}"),
        at: jiff::Timestamp::now(),
        day_totals: None,
    }
}

/// What a kiosk queued while offline: its applications' ids, its tickets and events.
fn queue_backlog(dir: &Path, kiosk_id: &str) -> BTreeSet<String> {
    let mut store = kiosk_store(dir);
    store.save_catalog(None, &balcao_central::seed::catalog()).expect("catalog");
    let place = KioskPlace { kiosk_id, centre_id: "GSC-01" };
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    for _ in 0..TICKETS {
        let ticket = store.begin_ticket("civil-registry", 'B', '1', today, true).expect("ticket");
        store.finish_ticket(ticket.ticket_id, TicketOutcome::Printed, place).expect("ticket printed");
    }
    for n in 0..EVENTS {
        store.queue_event(&event(kiosk_id, n)).expect("event");
    }
    (0..APPLICATIONS)
        .map(|_| store.save_application(&citizen::paid_criminal_record_application(kiosk_id)).expect("saved").application_id.to_string())
        .collect()
}

async fn eventually(what: &str, timeout: Duration, mut test: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !test() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_fleet_drains_through_a_killed_instance_and_a_restarted_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut postgres = PgServer::start(Durability::Full).expect("PostgreSQL (tools/setup installs postgresql)");
    let database = postgres.create_database("territory").expect("database");
    let pki = DevPki::generate().expect("pki");
    pki.save(&dir.path().join("pki")).expect("the PKI's files");
    // What the test reads central's records through: one more instance, serving nothing.
    let observer = {
        let options = CentralOptions::on(DatabaseLocation::Postgres(database.clone()), KeyFiles::in_folder(&dir.path().join("keys")));
        tokio::task::spawn_blocking(move || Central::open(&options)).await.expect("observer").expect("observer opens")
    };

    let ports = [free_port(), free_port()];
    let mut first = Some(central_instance(dir.path(), "a", ports[0], &database));
    let second = central_instance(dir.path(), "b", ports[1], &database);
    let balancer_port = free_port();
    let balancer = load_balancer(dir.path(), balancer_port, &ports);
    let url = format!("https://127.0.0.1:{balancer_port}");

    // Every kiosk's backlog first, then the whole fleet comes online at once.
    let mut queued = BTreeSet::new();
    let place = |k: usize| (dir.path().join(format!("kiosk-{k}")), format!("K{k:02}"));
    for k in 0..KIOSKS {
        let (kiosk_dir, kiosk_id) = place(k);
        queued.extend(queue_backlog(&kiosk_dir, &kiosk_id));
    }
    let mut kiosks = Vec::new();
    for k in 0..KIOSKS {
        let (kiosk_dir, kiosk_id) = place(k);
        let mut settings = test_settings(&kiosk_dir);
        settings.kiosk_id = kiosk_id.clone();
        settings.retry = RetryPolicy { first: Duration::from_millis(100), max: Duration::from_secs(2) };
        let identity = pki.issue_kiosk(&kiosk_id, "GSC-01").expect("identity");
        kiosks.push(TestKiosk::start_with(settings, &kiosk_dir, Some(client(&url, &pki.ca_pem, &identity))).await);
    }
    let total = KIOSKS * APPLICATIONS;
    let count = || observer.store().count_applications().expect("count") as usize;

    // Mid-drain, one instance dies; the load balancer sends kiosks to the other. Then the
    // database restarts under the survivor, and the dead instance comes back.
    eventually("the drain to start", Duration::from_secs(30), || count() > 0).await;
    let at_kill = count();
    first.take().expect("instance a").kill();
    println!("instance a killed with SIGKILL after {at_kill} of {total} applications");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_restart = count();
    postgres.restart().expect("PostgreSQL back");
    println!("PostgreSQL restarted after {at_restart} of {total} applications");
    let first = central_instance(dir.path(), "a", ports[0], &database);
    println!("instance a started again");

    eventually("every application at central", Duration::from_secs(120), || count() >= total).await;
    for kiosk in &kiosks {
        eventually("every kiosk's outbox to empty", Duration::from_secs(60), || {
            kiosk.store().outbox_counts().expect("counts").pending == 0
        })
        .await;
    }
    let stored: BTreeSet<String> = observer
        .store()
        .recent_applications(u32::try_from(total * 2).expect("fits"))
        .expect("list")
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(count(), total, "each application stored once");
    assert_eq!(stored, queued, "every queued application, and nothing else");
    assert_eq!(observer.store().queue_ticket_outcomes().expect("tickets").len(), KIOSKS * TICKETS, "each ticket once");
    let events = observer.store().recent_events(u32::try_from(KIOSKS * EVENTS * 2).expect("fits")).expect("events");
    let ours: BTreeSet<_> = events.iter().filter(|e| e.detail.starts_with("territory test event")).map(|e| e.event_id).collect();
    assert_eq!(ours.len(), KIOSKS * EVENTS, "each event once");
    assert!(at_kill < total, "the instance died mid-drain ({at_kill} of {total} stored)");
    assert!(at_restart < total, "the database restarted mid-drain ({at_restart} of {total} stored)");
    // Through it all, central answered 503 (or the connection broke), never 500.
    for name in ["a", "b"] {
        let log = std::fs::read_to_string(dir.path().join(format!("central-{name}.log"))).expect("central's log");
        let failures: Vec<&str> = log.lines().filter(|l| l.contains("store failed") || l.contains("panicked")).collect();
        assert!(failures.is_empty(), "central {name} failed requests:\n{}", failures.join("\n"));
    }

    for kiosk in kiosks {
        kiosk.stop().await;
    }
    drop((balancer, first, second, observer, postgres));
}
