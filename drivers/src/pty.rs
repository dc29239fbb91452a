//! A null-modem cable for simulators: two linked pseudo-terminals made by `socat`, so a driver
//! opens one end as its serial port and a device simulator the other. socat is installed by
//! `tools/setup`; the pair is removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct PtyPair {
    child: Child,
    device: PathBuf,
    host: PathBuf,
    _dir: tempfile::TempDir,
}

impl PtyPair {
    pub fn new() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (device, host) = (dir.path().join("device"), dir.path().join("host"));
        let mut child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", device.display()))
            .arg(format!("pty,raw,echo=0,link={}", host.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start socat (tools/setup installs it): {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(device.exists() && host.exists()) {
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "socat made no ptys within 5 s"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Self { child, device, host, _dir: dir })
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
