//! What the tests that run the kiosk's program share: a virtual display and the processes a
//! kiosk started.

#![allow(dead_code, reason = "each test binary uses its own part")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A virtual X display on a number the server picks (`-displayfd`); gone when dropped.
pub struct Xvfb(pub Child, pub String);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a virtual display; `.1` is its `DISPLAY`.
pub fn xvfb() -> Xvfb {
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
pub fn descendants(pid: u32) -> Vec<u32> {
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

/// The `socat` processes among `pids` (the simulators' pty pairs).
pub fn socats(pids: &[u32]) -> Vec<u32> {
    pids.iter().copied().filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"socat\0"))).collect()
}
