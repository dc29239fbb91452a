//! A kiosk asked to stop with SIGTERM (`systemctl stop`, a supervisor, a benchmark) ends
//! cleanly: exit status 0, and nothing it started — its simulators' helper processes — left
//! running.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_ends_the_kiosk_cleanly_with_its_helpers() {
    let display = common::xvfb();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(&config, format!("[store]\ndata_dir = \"{}\"\n[display]\nfullscreen = false\n", dir.path().join("data").display()))
        .expect("config");
    let mut kiosk = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("--config")
        .arg(&config)
        .env("DISPLAY", &display.1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kiosk runs");
    // Its simulated scanner and OCR reader are on pty pairs: socat under a keeper shell.
    let deadline = Instant::now() + Duration::from_secs(30);
    let helpers = loop {
        let helpers = common::descendants(kiosk.id());
        if common::socats(&helpers).len() >= 2 {
            break helpers;
        }
        assert!(Instant::now() < deadline, "the kiosk started no simulators");
        assert!(kiosk.try_wait().expect("wait").is_none(), "the kiosk exited early");
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = Command::new("kill").args(["-TERM", &kiosk.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = kiosk.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "the kiosk did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "a clean stop: {exit}");
    let deadline = Instant::now() + Duration::from_secs(3);
    while helpers.iter().any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
        assert!(Instant::now() < deadline, "helpers left running: {helpers:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
