//! An emulated USB bus with one printer on it, for machines whose kernel has no USB (this
//! project's CI has none): the USB side of the virtual ESC/POS printer.
//!
//! umockdev emulates the bus, the way libusb tests itself. `bridge.py`, run under
//! `umockdev-wrapper` with Debian's python3 and its GObject bindings, keeps a umockdev testbed
//! with the sysfs entry and device node of one USB printer (a bidirectional printer-class
//! interface with bulk OUT and bulk IN endpoints) and answers the usbfs ioctls libusb makes on
//! that node. It carries the bulk transfers to and from a [`VirtualPrinter`] over TCP, so the
//! printer's behaviour is the virtual printer's; switching the virtual printer off takes the
//! device off the bus, as it would a real one, and switching it on plugs it in again under a
//! new address.
//!
//! A process sees the bus when it runs with the environment [`EmulatedUsbBus::env`] gives
//! (umockdev's preload library and the testbed's folder); a test re-runs itself that way.
//!
//! [`VirtualPrinter`]: crate::receipt_printer::escpos::sim::VirtualPrinter

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bridge between umockdev and the virtual printer.
const BRIDGE: &str = include_str!("bridge.py");
const PRELOAD: &str = "libumockdev-preload.so.0";

/// The emulated bus: started here ([`start`](Self::start)) or, in a process started with its
/// environment, found again ([`from_env`](Self::from_env)).
#[derive(Debug)]
pub struct EmulatedUsbBus {
    root: PathBuf,
    bridge: Option<Child>,
    _script: Option<tempfile::TempDir>,
}

/// What the bus looks like now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsbBusState {
    /// The printer's device address while it is plugged in.
    pub plugged: Option<u8>,
    /// Bytes carried over the bulk OUT endpoint (to the printer) and bulk IN (from it).
    pub carried_out: usize,
    pub carried_in: usize,
}

impl EmulatedUsbBus {
    /// Starts the bridge. It needs `umockdev-wrapper`, `/usr/bin/python3` and the umockdev
    /// GObject bindings (`tools/setup` installs umockdev, gir1.2-umockdev-1.0 and python3-gi).
    pub fn start() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("bridge.py");
        std::fs::write(&script, BRIDGE)?;
        // Debian's python3 carries the GObject bindings, whatever python is first on PATH.
        let mut bridge = Command::new("umockdev-wrapper")
            .arg("/usr/bin/python3")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot start umockdev-wrapper (tools/setup installs umockdev, gir1.2-umockdev-1.0, python3-gi): {e}"),
                )
            })?;
        let mut first = String::new();
        let stdout = bridge.stdout.take().ok_or_else(|| std::io::Error::other("the bridge has no stdout"))?;
        BufReader::new(stdout).read_line(&mut first)?;
        let Some(root) = first.trim().strip_prefix("root ") else {
            let _ = bridge.kill();
            let _ = bridge.wait();
            return Err(std::io::Error::other(format!("the USB bridge did not start: it said {first:?}")));
        };
        Ok(Self { root: PathBuf::from(root), bridge: Some(bridge), _script: Some(dir) })
    }

    /// The bus this process was started on, if any.
    pub fn from_env() -> Option<Self> {
        let root = std::env::var_os("UMOCKDEV_DIR")?;
        Some(Self { root: PathBuf::from(root), bridge: None, _script: None })
    }

    /// The environment a process needs to see this bus instead of the machine's.
    pub fn env(&self) -> [(&'static str, OsString); 2] {
        [("LD_PRELOAD", PRELOAD.into()), ("UMOCKDEV_DIR", self.root.clone().into_os_string())]
    }

    fn ask(&self, command: &str) -> std::io::Result<String> {
        let mut stream = UnixStream::connect(self.control())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        writeln!(stream, "{command}")?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer)?;
        Ok(answer.trim().to_string())
    }

    fn control(&self) -> PathBuf {
        Path::new(&self.root).join("bridge.sock")
    }

    /// Cables the bus's printer to the virtual printer at `address` and waits until the
    /// printer is on the bus.
    pub fn connect(&self, address: std::net::SocketAddr) -> std::io::Result<UsbBusState> {
        let answer = self.ask(&format!("connect {address}"))?;
        if answer != "ok" {
            return Err(std::io::Error::other(format!("the USB bridge refused to connect: {answer}")));
        }
        self.wait_until_plugged(true, Duration::from_secs(5))
    }

    pub fn state(&self) -> std::io::Result<UsbBusState> {
        let answer = self.ask("state")?;
        let bad = || std::io::Error::other(format!("the USB bridge's state makes no sense: {answer:?}"));
        let mut words = answer.split_whitespace();
        let plugged = match words.next() {
            Some("plugged") => Some(words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?),
            Some("unplugged") => None,
            _ => return Err(bad()),
        };
        let mut count = |prefix: &str| words.next().and_then(|w| w.strip_prefix(prefix)).and_then(|n| n.parse().ok()).ok_or_else(bad);
        Ok(UsbBusState { plugged, carried_out: count("out=")?, carried_in: count("in=")? })
    }

    /// Waits until the printer is on the bus (`plugged`) or off it.
    pub fn wait_until_plugged(&self, plugged: bool, within: Duration) -> std::io::Result<UsbBusState> {
        let deadline = Instant::now() + within;
        loop {
            let state = self.state()?;
            if state.plugged.is_some() == plugged {
                return Ok(state);
            }
            if Instant::now() > deadline {
                let want = if plugged { "on" } else { "off" };
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("the USB printer is not {want} the bus: {state:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EmulatedUsbBus {
    fn drop(&mut self) {
        if let Some(mut bridge) = self.bridge.take() {
            // Closing its standard input ends the bridge; kill it if it lingers.
            drop(bridge.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(2);
            while matches!(bridge.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = bridge.kill();
            let _ = bridge.wait();
        }
    }
}
