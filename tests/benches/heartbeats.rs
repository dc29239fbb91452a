//! A fleet's heartbeats: 10,000 simulated kiosks, each with its own certificate, beat to one
//! `kiosk-central` process over loopback HTTPS with mutual TLS — at their normal pace (every
//! 60 s, spread over the minute) and then ten times as often — first with central on SQLite,
//! then on PostgreSQL. Each kiosk is the kiosk's own client (its connection pool, its
//! timeouts). Printed side by side: heartbeats taken, p50/p99/max latency as a kiosk sees it
//! (a new TLS handshake included when its connection was closed meanwhile), failures, and
//! central's CPU share of one core (its process's user and system time over the window).
//!
//! Central runs as this benchmark started again (`BALCAO_BENCH_CENTRAL`), so its CPU is its
//! own; the simulated kiosks share the machine's two cores with it and with PostgreSQL.
//!
//! Run with `cargo bench -p balcao-tests --bench heartbeats` (a release build, about five
//! minutes). The goal at the
//! normal pace: p99 <= 50 ms and central under 10 % of one core.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_backend_client::CentralClient;
use balcao_backend_client::api::{DeviceClass, DeviceCondition, DeviceReport, Heartbeat, OutboxReport};
use balcao_central::testing::{Durability, Kept, PgServer};
use balcao_central::tls::DevPki;

const CENTRAL: &str = "BALCAO_BENCH_CENTRAL";
const KIOSKS: usize = 10_000;
const PACE: Duration = Duration::from_secs(60);
/// How long each pace is measured (after the fleet's first round at it).
const WINDOW: Duration = Duration::from_secs(30);
const GOAL_P99: Duration = Duration::from_millis(50);
const GOAL_CPU: f64 = 0.10;

fn heartbeat(kiosk_id: &str) -> Heartbeat {
    let device = |device| DeviceReport { device, condition: DeviceCondition::Ok, detail: String::new() };
    Heartbeat {
        kiosk_id: kiosk_id.into(),
        centre_id: "GSC-01".into(),
        sent_at: jiff::Timestamp::now(),
        software_version: "0.1.0".into(),
        uptime_seconds: 7200,
        devices: vec![
            device(DeviceClass::ReceiptPrinter),
            device(DeviceClass::DocumentPrinter),
            device(DeviceClass::IdentityReader),
            device(DeviceClass::CodeScanner),
            device(DeviceClass::PaymentTerminal),
        ],
        outbox: OutboxReport { pending: 0, oldest_age_seconds: None, dead_letters: 0 },
        last_sync_at: Some(jiff::Timestamp::now()),
        database_bytes: 8 << 20,
        disk_free_bytes: 40 << 30,
        open_payments: 0,
        screen: "attract".into(),
        sessions_today: 31,
        out_of_service: false,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("port").local_addr().expect("address").port()
}

/// Central's process's CPU time so far (user and system), from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("central's /proc stat");
    // Fields after the command's name (which may hold spaces) in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // In clock ticks of USER_HZ, which Linux fixes at 100 a second for what /proc shows.
    Duration::from_millis(ticks * 10)
}

/// What one pace measured.
struct Measured {
    taken: usize,
    failed: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    cpu_share: f64,
}

/// Every kiosk beats every `pace`, its first beat spread over the first `pace`; heartbeats that
/// start within the window after that first round (the steady state: each kiosk has met
/// central once) are measured.
async fn run(clients: &[Arc<CentralClient>], pace: Duration, central_pid: u32) -> Measured {
    let started = tokio::time::Instant::now();
    let window_from = started + pace;
    let window_to = window_from + WINDOW;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(KIOSKS * 2)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let (client, latencies, failures) = (client.clone(), latencies.clone(), failures.clone());
        let offset = pace.mul_f64(i as f64 / KIOSKS as f64);
        let kiosk_id = format!("K{i:05}");
        tasks.spawn(async move {
            let mut next = started + offset;
            while next < window_to {
                tokio::time::sleep_until(next).await;
                let measured = next >= window_from;
                let sent = Instant::now();
                let answer = client.heartbeat(&heartbeat(&kiosk_id)).await;
                if measured {
                    match answer {
                        Ok(_) => latencies.lock().expect("lock").push(sent.elapsed()),
                        Err(e) => failures.lock().expect("lock").push(e.to_string()),
                    }
                }
                next += pace;
            }
        });
    }
    tokio::time::sleep_until(window_from).await;
    let cpu_before = cpu_time(central_pid);
    tokio::time::sleep_until(window_to).await;
    let cpu_after = cpu_time(central_pid);
    while tasks.join_next().await.is_some() {}
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("lock"));
    latencies.sort();
    let at =
        |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
    let failures = std::mem::take(&mut *failures.lock().expect("lock"));
    let mut kinds: Vec<&String> = failures.iter().collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds.iter().take(3) {
        eprintln!("  a failure: {kind}");
    }
    Measured {
        taken: latencies.len(),
        failed: failures.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        cpu_share: (cpu_after - cpu_before).as_secs_f64() / WINDOW.as_secs_f64(),
    }
}

/// A `kiosk-central` process on `database`, serving on `port` with the PKI in `dir/pki`.
fn central(dir: &Path, name: &str, port: u16, database: &str) -> Kept {
    let mut command = Command::new("env");
    command
        .arg(format!("{CENTRAL}=1"))
        .arg(std::env::current_exe().expect("this benchmark"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database", database, "--max-connections", "15000", "--dev-pki"])
        .arg(dir.join("pki"))
        .arg("--keys")
        .arg(dir.join(format!("keys-{name}")));
    let kept = Kept::start(&command, "TERM", &dir.join(format!("central-{name}.log"))).expect("central");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "central {name} did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    kept
}

async fn fleet_on(dir: &Path, name: &str, database: &str, clients_of: impl Fn(&str) -> Vec<Arc<CentralClient>>) -> (Measured, Measured) {
    let port = free_port();
    let mut kept = central(dir, name, port, database);
    let clients = clients_of(&format!("https://127.0.0.1:{port}"));
    let normal = run(&clients, PACE, kept.pid()).await;
    let tenfold = run(&clients, PACE / 10, kept.pid()).await;
    kept.stop();
    (normal, tenfold)
}

fn main() -> ExitCode {
    if std::env::var_os(CENTRAL).is_some() {
        return balcao_central::cli::main();
    }
    // Each simulated kiosk may hold a connection: room for all of them.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let pki = DevPki::generate().expect("pki");
    pki.save(&dir.path().join("pki")).expect("the PKI's files");
    let issuing = Instant::now();
    let identities: Vec<String> = (0..KIOSKS).map(|i| pki.issue_kiosk(&format!("K{i:05}"), "GSC-01").expect("identity")).collect();
    eprintln!("{KIOSKS} kiosk certificates issued in {:.1?}", issuing.elapsed());
    let clients_of = |url: &str| -> Vec<Arc<CentralClient>> {
        identities.iter().map(|identity| Arc::new(balcao_tests::client(url, &pki.ca_pem, identity))).collect()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let sqlite = runtime.block_on(fleet_on(dir.path(), "sqlite", &dir.path().join("central.db").display().to_string(), clients_of));
    let postgres = PgServer::start_in(Path::new(env!("CARGO_TARGET_TMPDIR")), Durability::Full).expect("PostgreSQL");
    let url = postgres.create_database("heartbeats").expect("database");
    let on_postgres = runtime.block_on(fleet_on(dir.path(), "postgres", &url, clients_of));
    drop(postgres);

    println!("heartbeat benchmark: {KIOSKS} kiosks, mutual TLS over loopback, central in its own process (release build)");
    println!("  {:<34} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9}", "", "taken", "failed", "p50", "p99", "max", "CPU");
    for (name, m) in [
        ("SQLite, every 60 s", &sqlite.0),
        ("SQLite, every 6 s (10x)", &sqlite.1),
        ("PostgreSQL, every 60 s", &on_postgres.0),
        ("PostgreSQL, every 6 s (10x)", &on_postgres.1),
    ] {
        println!(
            "  {name:<34} {:>7} {:>6} {:>9.1?} {:>9.1?} {:>9.1?} {:>8.1}%",
            m.taken,
            m.failed,
            m.p50,
            m.p99,
            m.max,
            m.cpu_share * 100.0
        );
    }
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    for (name, m) in [("SQLite", &sqlite.0), ("PostgreSQL", &on_postgres.0)] {
        println!(
            "  {name} at the normal pace: p99 {:.1?} (goal <= {GOAL_P99:?}): {}; CPU {:.1}% of a core (goal < {:.0}%): {}",
            m.p99,
            verdict(m.p99 <= GOAL_P99 && m.failed == 0),
            m.cpu_share * 100.0,
            GOAL_CPU * 100.0,
            verdict(m.cpu_share < GOAL_CPU)
        );
    }
    ExitCode::SUCCESS
}
