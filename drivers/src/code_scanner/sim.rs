//! A virtual serial scanner: it sits on the device end of a pty pair and sends each code
//! "held up" to it as a real CDC-ACM scanner does — prefix, code, suffix — so the kiosk's
//! [`SerialScanner`](super::serial::SerialScanner) reads it over a real tty.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serialport::SerialPort;

use crate::pty::PtyPair;

/// A scanner on the far end of a serial line.
pub struct VirtualScanner {
    port: Mutex<Option<Box<dyn SerialPort>>>,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// Time between two bytes on the wire (a scanner at 9600 baud sends one per ~1 ms).
    byte_time: Duration,
    pair: Mutex<Option<PtyPair>>,
    host: PathBuf,
}

impl std::fmt::Debug for VirtualScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualScanner").field("host", &self.host).finish_non_exhaustive()
    }
}

impl VirtualScanner {
    /// A scanner on a new pty pair; the driver opens [`VirtualScanner::port_path`].
    pub fn on_new_pty(prefix: &[u8], suffix: &[u8], byte_time: Duration) -> std::io::Result<Self> {
        let pair = PtyPair::new()?;
        let port = serialport::new(pair.device().to_string_lossy(), 9600).timeout(Duration::from_millis(100)).open()?;
        Ok(Self {
            port: Mutex::new(Some(port)),
            prefix: prefix.to_vec(),
            suffix: suffix.to_vec(),
            byte_time,
            host: pair.host().to_path_buf(),
            pair: Mutex::new(Some(pair)),
        })
    }

    /// The serial port the kiosk's driver opens.
    pub fn port_path(&self) -> &Path {
        &self.host
    }

    /// Someone holds a code up to the scanner: it sends prefix, code and suffix.
    pub fn present(&self, code: &[u8]) -> std::io::Result<()> {
        let mut framed = self.prefix.clone();
        framed.extend_from_slice(code);
        framed.extend_from_slice(&self.suffix);
        self.send_raw(&framed)
    }

    /// Sends bytes as they are (garbage, half a code …), at the wire's pace.
    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut port = self.port.lock().unwrap_or_else(|e| e.into_inner());
        let port =
            port.as_mut().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotConnected, "the virtual scanner is unplugged"))?;
        if self.byte_time.is_zero() {
            port.write_all(bytes)?;
        } else {
            for byte in bytes {
                port.write_all(std::slice::from_ref(byte))?;
                std::thread::sleep(self.byte_time);
            }
        }
        port.flush()
    }

    /// The cable is pulled: the pty pair goes away.
    pub fn unplug(&self) {
        self.port.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.pair.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
