//! An emulated USB bus with one device on it, for machines whose kernel has no USB (this
//! project's CI has none): the USB side of the virtual ESC/POS printer, or a barcode scanner in
//! HID POS mode.
//!
//! umockdev emulates the bus, the way libusb tests itself. `bridge.py`, run under
//! `umockdev-wrapper` with Debian's python3 and its GObject bindings, keeps a umockdev testbed
//! with the sysfs entry and device node of one USB device and answers the usbfs ioctls libusb
//! makes on that node. The printer (a bidirectional printer-class interface with bulk OUT and
//! bulk IN endpoints) carries the bulk transfers to and from a [`VirtualPrinter`] over TCP, so
//! its behaviour is the virtual printer's; switching the virtual printer off takes the device
//! off the bus, as it would a real one, and switching it on plugs it in again under a new
//! address. The scanner (a HID interface with an interrupt IN endpoint) sends the reports
//! [`EmulatedUsbBus::report`] hands it.
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

/// Which device is on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatedDevice {
    /// A USB printer (1209:0001, serial VP0001) cabled to a virtual printer with `connect`.
    Printer,
    /// A barcode scanner in HID POS mode (1209:0002, serial VS0001).
    HidPosScanner,
}

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
    pub fn start(device: EmulatedDevice) -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("bridge.py");
        std::fs::write(&script, BRIDGE)?;
        // Debian's python3 carries the GObject bindings, whatever python is first on PATH.
        let mut bridge = Command::new("umockdev-wrapper")
            .arg("/usr/bin/python3")
            .arg(&script)
            .arg(match device {
                EmulatedDevice::Printer => "printer",
                EmulatedDevice::HidPosScanner => "hid-pos-scanner",
            })
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

    /// For a test that needs the bus: outside it, runs the named test of this test binary again
    /// on a new bus with `device` on it, panics unless it passed there, and returns `None`;
    /// inside that run, returns the bus.
    pub fn rerun_test_on_bus(device: EmulatedDevice, test: &str) -> Option<Self> {
        if let Some(bus) = Self::from_env() {
            return Some(bus);
        }
        let bus = Self::start(device).unwrap_or_else(|e| panic!("the emulated USB bus does not start: {e}"));
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no test binary path: {e}"));
        let output = Command::new(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .envs(bus.env())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("the test binary does not run again: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{test} failed on the emulated USB bus:\n{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{test} did not run on the emulated USB bus:\n{stdout}\n{stderr}");
        None
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
        self.command(&format!("connect {address}"))?;
        self.wait_until_plugged(true, Duration::from_secs(5))
    }

    fn command(&self, command: &str) -> std::io::Result<()> {
        match self.ask(command)?.as_str() {
            "ok" => Ok(()),
            answer => Err(std::io::Error::other(format!("the USB bridge refused {command:?}: {answer}"))),
        }
    }

    /// Queues bytes on the device's IN endpoint: the reports a scanner sends by itself.
    pub fn report(&self, bytes: &[u8]) -> std::io::Result<()> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.command(&format!("report {hex}"))
    }

    /// Pulls the device's cable.
    pub fn unplug(&self) -> std::io::Result<()> {
        self.command("unplug")
    }

    /// Plugs the device in again; it gets a new address.
    pub fn plug(&self) -> std::io::Result<()> {
        self.command("plug")
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
