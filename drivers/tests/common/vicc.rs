//! pcscd, the virtual reader vpcd and the ePass emulator vicc, started inside the private
//! namespace of a test or benchmark (see `inside_private_namespace`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use balcao_drivers::identity_reader::emrtd::{CardSlot, SlotStatus};
use balcao_drivers::identity_reader::pcsc::PcscSlot;

use super::run;

/// The specimen passport of ICAO Doc 9303 Part 4.
pub const ZONE: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10";

pub struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// pcscd and what vicc needs, inside the namespace.
pub struct Lab {
    dir: tempfile::TempDir,
    pub pcscd: Option<Daemon>,
    pub vicc: Option<Daemon>,
}

impl Lab {
    pub fn start() -> Self {
        run("mount", &["-t", "tmpfs", "tmpfs", "/run"]);
        std::fs::create_dir_all("/run/pcscd").expect("/run/pcscd");
        run("ip", &["link", "set", "lo", "up"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/vicc-py3.sh");
        run("sh", &[script, &dir.path().join("vicc").to_string_lossy()]);
        let log = std::fs::File::create(dir.path().join("pcscd.log")).expect("log");
        let pcscd = Command::new("pcscd")
            .args(["-f"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("pcscd runs; tools/setup installs it");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new("/run/pcscd/pcscd.comm").exists() {
            assert!(Instant::now() < deadline, "pcscd made no socket within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut lab = Self { dir, pcscd: Some(Daemon(pcscd)), vicc: None };
        lab.insert();
        lab
    }

    fn vicc_path(&self) -> PathBuf {
        self.dir.path().join("vicc")
    }

    /// Starts vicc (the card goes on the reader) and waits until pcscd sees it.
    pub fn insert(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("vicc.log")).expect("log");
        let vicc = Command::new("/usr/bin/python3")
            .args(["/usr/bin/vicc", "-t", "ePass"])
            .env("VICC_MRZ", ZONE)
            .env("VICC_HOLD", self.hold_path())
            .env("PYTHONPATH", self.vicc_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("vicc runs; tools/setup installs vsmartcard-vpicc");
        self.vicc = Some(Daemon(vicc));
        let mut slot = PcscSlot::new("");
        let deadline = Instant::now() + Duration::from_secs(20);
        while slot.status().map_err(|e| e.to_string()) != Ok(SlotStatus::CardPresent) {
            assert!(Instant::now() < deadline, "vicc's card did not appear: {}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills vicc: the card leaves the reader.
    pub fn remove(&mut self) {
        self.vicc = None;
    }

    /// While this file exists, the card holds each answer (until [`Self::release`], or until
    /// it is pulled).
    pub fn hold_path(&self) -> PathBuf {
        self.dir.path().join("hold")
    }

    pub fn release(&self) {
        let _ = std::fs::remove_file(self.hold_path());
    }

    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("\n--- vicc\n{}\n--- pcscd\n{}", read("vicc.log"), read("pcscd.log"))
    }
}
