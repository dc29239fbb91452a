//! The kiosk as a process of its own, for the crash harnesses: started on a data folder,
//! its output read line by line, killed (`SIGKILL`) at any moment.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// Where the kiosk process finds central: its URL, the CA to trust and the kiosk's identity,
/// as files the way a kiosk's configuration names them.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    pub ca_file: std::path::PathBuf,
    pub identity_file: std::path::PathBuf,
}

impl Endpoint {
    pub fn write(dir: &std::path::Path, url: &str, ca_pem: &str, identity_pem: &str) -> Self {
        let (ca_file, identity_file) = (dir.join(format!("ca-{}.pem", url.len())), dir.join("kiosk-identity.pem"));
        std::fs::write(&ca_file, ca_pem).expect("ca");
        std::fs::write(&identity_file, identity_pem).expect("identity");
        Self { url: url.to_string(), ca_file, identity_file }
    }
}

#[derive(Debug)]
pub struct KioskProcess {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl KioskProcess {
    /// Starts `command` — the `scripted-kiosk` binary, or a shell that sets limits and runs
    /// it — with the kiosk's arguments appended.
    pub fn spawn_by(mut command: Command, dir: &std::path::Path, to: &Endpoint, extra: &[&str]) -> Self {
        let mut child = command
            .arg(dir)
            .arg(&to.url)
            .arg(&to.ca_file)
            .arg(&to.identity_file)
            .args(extra)
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the kiosk process starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits for the process to end by itself; returns what it printed and how it ended.
    pub fn wait(mut self) -> (Vec<String>, std::io::Result<std::process::ExitStatus>) {
        let lines = self.lines.iter().collect();
        (lines, self.child.wait())
    }

    /// Kills the process at once, as a power cut would, and returns what it printed.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.iter().collect()
    }
}
