//! A scanner simulated in-process: codes "held up" to it through its control come out of
//! `next_scan`, raw bytes and all, so validation is exercised as with a real scanner.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{CodeScanner, Error, ErrorKind, Scan, ScannerStatus};

#[derive(Debug, Default)]
struct Knobs {
    disconnected: bool,
    pending: VecDeque<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Shared {
    knobs: Mutex<Knobs>,
    changed: Condvar,
}

/// The knobs of a simulated scanner; clones control the same scanner.
#[derive(Clone, Debug, Default)]
pub struct SimScannerControl(Arc<Shared>);

impl SimScannerControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.0.knobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Someone holds a code up to the scanner.
    pub fn present(&self, code: impl Into<Vec<u8>>) {
        self.knobs().pending.push_back(code.into());
        self.0.changed.notify_all();
    }

    pub fn set_disconnected(&self, disconnected: bool) {
        self.knobs().disconnected = disconnected;
        self.0.changed.notify_all();
    }
}

#[derive(Debug, Default)]
pub struct SimulatedCodeScanner {
    control: SimScannerControl,
}

impl SimulatedCodeScanner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn control(&self) -> SimScannerControl {
        self.control.clone()
    }
}

impl CodeScanner for SimulatedCodeScanner {
    fn status(&mut self) -> Result<ScannerStatus, Error> {
        Ok(if self.control.knobs().disconnected { ScannerStatus::Offline } else { ScannerStatus::Ready })
    }

    fn next_scan(&mut self, wait: Duration) -> Result<Option<Scan>, Error> {
        let deadline = Instant::now() + wait;
        let mut knobs = self.control.knobs();
        loop {
            if knobs.disconnected {
                return Err(Error::new(ErrorKind::Disconnected, "the code scanner was disconnected"));
            }
            if let Some(raw) = knobs.pending.pop_front() {
                return Scan::from_bytes(&raw).map(Some);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            knobs = self.control.0.changed.wait_timeout(knobs, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presented_code_comes_out_once() {
        let mut scanner = SimulatedCodeScanner::new();
        let control = scanner.control();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            control.present("SJ01-261122-0007");
        });
        let scan = scanner.next_scan(Duration::from_secs(5)).expect("ok").expect("a scan");
        assert_eq!(scan.text(), "SJ01-261122-0007");
        assert_eq!(scanner.next_scan(Duration::from_millis(10)).expect("ok"), None);
        t.join().expect("thread");
    }

    #[test]
    fn garbage_is_refused_and_the_next_code_still_reads() {
        let mut scanner = SimulatedCodeScanner::new();
        scanner.control().present(&b"\x00\x01garbage"[..]);
        scanner.control().present("OK-1");
        assert_eq!(scanner.next_scan(Duration::ZERO).expect_err("garbage").kind(), ErrorKind::Malformed);
        assert_eq!(scanner.next_scan(Duration::ZERO).expect("ok").expect("scan").text(), "OK-1");
    }

    #[test]
    fn a_disconnected_scanner_is_offline_and_errors() {
        let mut scanner = SimulatedCodeScanner::new();
        scanner.control().set_disconnected(true);
        assert_eq!(scanner.status().expect("status"), ScannerStatus::Offline);
        assert_eq!(scanner.next_scan(Duration::from_secs(5)).expect_err("gone").kind(), ErrorKind::Disconnected);
    }
}
