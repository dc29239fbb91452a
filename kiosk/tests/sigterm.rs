//! A kiosk asked to stop with SIGTERM (`systemctl stop`, a supervisor, a benchmark) ends
//! cleanly: exit status 0, and nothing it started — its simulators' helper processes — left
//! running.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb(Child, String);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xvfb() -> Xvfb {
    let mut process = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "540x960x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (tools/setup installs it)");
    let mut line = String::new();
    BufReader::new(process.stdout.take().expect("stdout")).read_line(&mut line).expect("display number");
    Xvfb(process, format!(":{}", line.trim()))
}

/// The processes descended from `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
            let after = &stat[stat.rfind(')')? + 2..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((e.file_name().to_string_lossy().parse().ok()?, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut at = 0;
    while at < found.len() {
        let parent = found[at];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(child, _)| *child));
        at += 1;
    }
    found.split_off(1)
}

#[test]
fn sigterm_ends_the_kiosk_cleanly_with_its_helpers() {
    let display = xvfb();
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
        let helpers = descendants(kiosk.id());
        let socats =
            helpers.iter().filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"socat\0"))).count();
        if socats >= 2 {
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
