//! A null-modem cable for simulators: two linked pseudo-terminals made by `socat`, so a driver
//! opens one end as its serial port and a device simulator the other. socat is installed by
//! `tools/setup`; the pair is removed when dropped.
//!
//! socat must not outlive the process that made the pair, however that process ends (a crash
//! test kills kiosks with SIGKILL, when no `Drop` runs). So socat runs under a small shell that
//! holds a lifeline: a pipe from this process, which the kernel closes when this process ends
//! (or when the pair is dropped). On the pipe's end the shell stops socat and removes the
//! pair's folder. (A parent-death signal would need `unsafe` code, and fires when the spawning
//! *thread* ends, not the process.)

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// socat under its keeper: `$1` and `$2` are the two ends, `$3` the folder to remove.
const KEEPER: &str = r#"socat "$1" "$2" & s=$!; cat >/dev/null; kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; rm -rf "$3""#;

#[derive(Debug)]
pub struct PtyPair {
    child: Child,
    /// Closing it (dropping the pair, or this process ending) ends socat.
    lifeline: Option<ChildStdin>,
    device: PathBuf,
    host: PathBuf,
    _dir: tempfile::TempDir,
}

impl PtyPair {
    pub fn new() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (device, host) = (dir.path().join("device"), dir.path().join("host"));
        let mut child = Command::new("sh")
            .args(["-c", KEEPER, "balcao-pty"])
            .arg(format!("pty,raw,echo=0,link={}", device.display()))
            .arg(format!("pty,raw,echo=0,link={}", host.display()))
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start socat under sh (tools/setup installs socat): {e}")))?;
        let lifeline = child.stdin.take();
        let mut pair = Self { child, lifeline, device, host, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(pair.device.exists() && pair.host.exists()) {
            if Instant::now() > deadline || pair.child.try_wait().is_ok_and(|status| status.is_some()) {
                // Dropping the pair ends its keeper.
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "socat made no ptys within 5 s (is socat installed?)"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(pair)
    }

    /// The end a device simulator opens.
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// The end the kiosk's driver opens.
    pub fn host(&self) -> &Path {
        &self.host
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        // The keeper stops socat and leaves; if it does not within a second, it is killed (and
        // socat with it, when its lifeline's end reaches it).
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|status| status.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socat processes whose command line names `path`.
    fn socats_for(path: &Path) -> usize {
        let needle = path.to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                    .filter(|cmdline| cmdline.starts_with(b"socat\0") && String::from_utf8_lossy(cmdline).contains(&needle))
                    .count()
            })
            .unwrap_or(0)
    }

    #[test]
    fn a_pair_dropped_leaves_no_socat_and_no_folder() {
        let pair = PtyPair::new().expect("a pty pair");
        let folder = pair.host().parent().expect("folder").to_path_buf();
        assert_eq!(socats_for(&folder), 1);
        drop(pair);
        let deadline = Instant::now() + Duration::from_secs(2);
        while (socats_for(&folder) > 0 || folder.exists()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!((socats_for(&folder), folder.exists()), (0, false));
    }

    #[test]
    fn a_process_that_dies_without_dropping_its_pair_takes_socat_with_it() {
        // A child process makes a pair and is killed with SIGKILL: no Drop runs there.
        if let Ok(folder) = std::env::var("BALCAO_PTY_ORPHAN_TEST") {
            let pair = PtyPair::new().expect("a pty pair");
            std::fs::write(&folder, pair.host().parent().expect("folder").to_string_lossy().as_bytes()).expect("report");
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        let report = tempfile::NamedTempFile::new().expect("report file");
        let mut child = Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", "pty::tests::a_process_that_dies_without_dropping_its_pair_takes_socat_with_it", "--nocapture"])
            .env("BALCAO_PTY_ORPHAN_TEST", report.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child");
        let deadline = Instant::now() + Duration::from_secs(10);
        let folder = loop {
            let text = std::fs::read_to_string(report.path()).unwrap_or_default();
            if !text.is_empty() {
                break PathBuf::from(text);
            }
            assert!(Instant::now() < deadline, "the child made no pair");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(socats_for(&folder), 1);
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let deadline = Instant::now() + Duration::from_secs(3);
        while (socats_for(&folder) > 0 || folder.exists()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!((socats_for(&folder), folder.exists()), (0, false), "socat and the folder went with the process");
    }
}
