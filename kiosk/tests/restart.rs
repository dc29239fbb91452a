//! Central's staff ask a kiosk to restart: the running program carries the command out once,
//! reports it, and starts itself again in the same process (`exec`, the same arguments) — a
//! new uptime in its heartbeats, its simulators' old helpers gone and new ones started, the
//! command not carried out again by the program that comes back.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use balcao_backend_client::api::{CommandAction, CommandOutcome};
use balcao_central::store::fleet::FleetKiosk;
use balcao_central::{CentralOptions, LoopbackCentral};

/// The kiosk's process, killed if the test ends early.
struct Kiosk(Child);

impl Drop for Kiosk {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn k01(central: &LoopbackCentral) -> Option<FleetKiosk> {
    central.central.store().fleet(None).expect("fleet").into_iter().find(|k| k.kiosk_id == "K01")
}

async fn eventually<T>(what: &str, within: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_asked_by_central_starts_the_program_again_once() {
    let display = common::xvfb();
    let dir = tempfile::tempdir().expect("tempdir");
    let central = LoopbackCentral::start(&CentralOptions::new(dir.path().join("central.db"))).await.expect("central");
    let (ca, identity) = (dir.path().join("ca.pem"), dir.path().join("k01.pem"));
    std::fs::write(&ca, &central.ca_pem).expect("ca");
    std::fs::write(&identity, central.kiosk_identity("K01", "GSC-01").expect("identity")).expect("identity");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\nid = \"K01\"\ncentre_id = \"GSC-01\"\n[store]\ndata_dir = {:?}\n[display]\nfullscreen = false\n\
             [central]\nurl = {:?}\nca_file = {ca:?}\nidentity_file = {identity:?}\nheartbeat_secs = 1\n",
            dir.path().join("data"),
            central.url,
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.path().join("kiosk.log")).expect("log");
    let mut kiosk = Kiosk(
        Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .arg("--config")
            .arg(&config)
            .env("DISPLAY", &display.1)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the kiosk runs"),
    );
    let pid = kiosk.0.id();
    let soon = Duration::from_secs(30);

    // Running for a while, its simulators on their pty pairs.
    let before = eventually("K01 beating for two seconds", soon, || k01(&central).filter(|k| k.heartbeat.uptime_seconds >= 2)).await;
    let helpers =
        eventually("the simulators' helpers", soon, || Some(common::socats(&common::descendants(pid))).filter(|s| s.len() >= 2)).await;

    central.central.store().issue_command("K01", CommandAction::Restart, "ana", jiff::SignedDuration::from_hours(1)).expect("issued");
    let reported = eventually("the restart reported", soon, || {
        central.central.store().commands_of("K01", 5).expect("history").into_iter().find(|c| c.outcome.is_some())
    })
    .await;
    assert_eq!(reported.outcome, Some(CommandOutcome::Done), "{reported:?}");

    // The program came back in the same process: a younger uptime than before, beating again.
    let after = eventually("K01 beating again after its restart", soon, || {
        k01(&central).filter(|k| k.last_seen > before.last_seen && k.heartbeat.uptime_seconds < before.heartbeat.uptime_seconds)
    })
    .await;
    assert!(kiosk.0.try_wait().expect("wait").is_none(), "the same process runs on (it replaced its program, it did not exit)");
    assert_eq!(after.heartbeat.screen, "attract", "it starts on its welcome screen");
    let deadline = Instant::now() + Duration::from_secs(5);
    while helpers.iter().any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
        assert!(Instant::now() < deadline, "the first run's helpers outlived it: {helpers:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    eventually("the new run's helpers", soon, || Some(common::socats(&common::descendants(pid))).filter(|s| s.len() >= 2)).await;

    // Carried out once: the program that came back did not restart again, and central holds
    // one command, done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = k01(&central).expect("K01");
    assert!(now.heartbeat.uptime_seconds >= after.heartbeat.uptime_seconds, "no second restart: {now:?}");
    let history = central.central.store().commands_of("K01", 5).expect("history");
    assert_eq!(history.len(), 1, "{history:?}");
    let written = std::fs::read_to_string(dir.path().join("kiosk.log")).expect("log");
    assert_eq!(written.matches("command from central").count(), 1, "carried out once:\n{written}");

    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = kiosk.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "the kiosk did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "a clean stop after the restart: {exit}");
}
