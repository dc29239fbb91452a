//! Barcode scanners in USB HID POS mode (HID usage page 0x8C, "Bar Code Scanner"), read
//! through libusb: no keyboard emulation, so a scan cannot type into anything, and nothing
//! depends on the keyboard layout.
//!
//! A scan arrives as one or more 64-byte Scanned Data Reports on the interface's interrupt IN
//! endpoint, in the layout HID POS scanners use (Honeywell's and Zebra's HID POS modes):
//!
//! | byte  | meaning                                                        |
//! |-------|----------------------------------------------------------------|
//! | 0     | report ID 0x02 (Scanned Data Report)                           |
//! | 1     | how many data bytes this report carries (0–56)                 |
//! | 2–4   | the AIM symbology identifier (`]Q1` for QR, `]C0` for Code 128) |
//! | 5–60  | the data                                                       |
//! | 61–62 | vendor's own symbology code                                    |
//! | 63    | bit 0 set: more reports of this scan follow                    |
//!
//! Reports with other IDs (trigger and status reports) are ignored. [`Assembler`] joins a
//! scan's reports, bounded by [`Scan::MAX_LEN`], without I/O; [`HidPosScanner`] reads them.

use std::time::{Duration, Instant};

use rusb::{Direction, TransferType};

use super::{CodeScanner, Error, ErrorKind, Scan, ScannerStatus};
use crate::usb::{ClaimedInterface, UsbSelector};

/// The length of a Scanned Data Report.
pub const REPORT_LEN: usize = 64;
const SCANNED_DATA: u8 = 0x02;
/// Data bytes one report carries at most.
const DATA_PER_REPORT: usize = 56;
/// How long the next report of a scan may take before the scan counts as cut short.
const REPORT_GAP: Duration = Duration::from_secs(1);
/// The USB class of HID interfaces.
const HID_CLASS: u8 = 3;

/// One report's part of a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub symbology: [u8; 3],
    pub data: &'a [u8],
    pub more: bool,
}

/// Reads one report: `Ok(None)` for a report that is not scanned data.
pub fn parse(report: &[u8]) -> Result<Option<Fragment<'_>>, Error> {
    if report.first() != Some(&SCANNED_DATA) {
        return Ok(None);
    }
    if report.len() != REPORT_LEN {
        return Err(Error::new(
            ErrorKind::Malformed,
            format!("the scanner sent a scanned-data report of {} bytes; HID POS reports are {REPORT_LEN}", report.len()),
        ));
    }
    let len = usize::from(report[1]);
    if len > DATA_PER_REPORT {
        return Err(Error::new(
            ErrorKind::Malformed,
            format!("the scanner's report claims {len} data bytes; a report carries at most {DATA_PER_REPORT}"),
        ));
    }
    Ok(Some(Fragment { symbology: [report[2], report[3], report[4]], data: &report[5..5 + len], more: report[63] & 1 == 1 }))
}

/// Joins the reports of one scan.
#[derive(Debug, Default)]
pub struct Assembler {
    buffer: Vec<u8>,
    /// The scan under way grew past [`Scan::MAX_LEN`]: its reports are dropped until its last.
    overflowed: bool,
    last_report: Option<Instant>,
}

impl Assembler {
    /// Takes one report's part received at `now`; returns the scan once its last part came.
    pub fn push(&mut self, fragment: &Fragment<'_>, now: Instant) -> Option<Result<Scan, Error>> {
        self.last_report = fragment.more.then_some(now);
        if !self.overflowed {
            self.buffer.extend_from_slice(fragment.data);
            if self.buffer.len() > Scan::MAX_LEN {
                self.overflowed = true;
                self.buffer = Vec::new();
            }
        }
        if fragment.more {
            return None;
        }
        if std::mem::take(&mut self.overflowed) {
            return Some(Err(Error::new(ErrorKind::Malformed, format!("the scanned code is longer than {} bytes", Scan::MAX_LEN))));
        }
        Some(Scan::from_bytes(&std::mem::take(&mut self.buffer)))
    }

    /// A scan whose next report is overdue at `now` is given up, as cut short.
    pub fn idle(&mut self, now: Instant) -> Option<Error> {
        let since = self.last_report?;
        if now.duration_since(since) < REPORT_GAP {
            return None;
        }
        self.last_report = None;
        self.overflowed = false;
        self.buffer.clear();
        Some(Error::new(ErrorKind::Malformed, "the scanner stopped in the middle of a code: scan it again"))
    }

    /// When a scan under way is given up if nothing more comes.
    pub fn pending_deadline(&self) -> Option<Instant> {
        self.last_report.map(|t| t + REPORT_GAP)
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The reports a HID POS scanner sends for `data` read from a symbol of `symbology` (AIM
/// identifier): what the emulated scanner in the tests sends, and the reference for [`parse`].
#[cfg(any(test, feature = "simulators"))]
pub fn reports(symbology: [u8; 3], data: &[u8]) -> Vec<[u8; REPORT_LEN]> {
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(DATA_PER_REPORT).collect() };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut report = [0u8; REPORT_LEN];
            report[0] = SCANNED_DATA;
            report[1] = chunk.len() as u8;
            report[2..5].copy_from_slice(&symbology);
            report[5..5 + chunk.len()].copy_from_slice(chunk);
            report[63] = u8::from(i < last);
            report
        })
        .collect()
}

/// A scanner in HID POS mode on USB.
pub struct HidPosScanner {
    device: UsbSelector,
    interface: Option<ClaimedInterface>,
    assembler: Assembler,
}

impl std::fmt::Debug for HidPosScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidPosScanner").field("device", &self.device.to_string()).field("open", &self.interface.is_some()).finish()
    }
}

impl HidPosScanner {
    /// The scanner `device` names; nothing is opened until the first call.
    pub fn new(device: UsbSelector) -> Self {
        Self { device, interface: None, assembler: Assembler::default() }
    }

    /// The claimed HID interface, opened if it is not.
    fn interface(&mut self) -> Result<&ClaimedInterface, Error> {
        let gone = |e: std::io::Error, what: &str| Error::new(ErrorKind::Disconnected, what.to_string()).with_source(e);
        if self.interface.is_none() {
            // A fresh libusb context each time the scanner is looked for: a context's device
            // list follows hot-plug events only while something handles its events, which
            // nothing does between two opens, so an old one may never see the scanner return.
            let context = rusb::Context::new().map_err(|e| gone(std::io::Error::other(e), "libusb cannot start"))?;
            let interface = crate::usb::open_interface(&context, &self.device, HID_CLASS, &[(TransferType::Interrupt, Direction::In)])
                .map_err(|e| gone(e, &format!("the HID POS scanner (usb {}) cannot be opened", self.device)))?;
            tracing::info!(scanner = %self.device, "HID POS scanner opened");
            self.assembler.reset();
            self.interface = Some(interface);
        }
        Ok(self.interface.as_ref().expect("opened above"))
    }
}

impl CodeScanner for HidPosScanner {
    fn status(&mut self) -> Result<ScannerStatus, Error> {
        Ok(match self.interface() {
            Ok(_) => ScannerStatus::Ready,
            Err(e) => {
                tracing::debug!(error = %e, "HID POS scanner offline");
                ScannerStatus::Offline
            }
        })
    }

    fn next_scan(&mut self, wait: Duration) -> Result<Option<Scan>, Error> {
        let deadline = Instant::now() + wait;
        let mut report = [0u8; REPORT_LEN];
        loop {
            let now = Instant::now();
            if let Some(error) = self.assembler.idle(now) {
                return Err(error);
            }
            if now >= deadline {
                return Ok(None);
            }
            let until = self.assembler.pending_deadline().map_or(deadline, |gap_end| gap_end.min(deadline));
            let timeout = until.saturating_duration_since(now).max(Duration::from_millis(1));
            let interface = self.interface()?;
            match interface.handle().read_interrupt(interface.endpoint(0), &mut report, timeout) {
                Ok(n) => {
                    // A garbled report spoils the scan under way: it is dropped, not joined.
                    let fragment = parse(&report[..n]).inspect_err(|_| self.assembler.reset())?;
                    if let Some(fragment) = fragment
                        && let Some(scan) = self.assembler.push(&fragment, Instant::now())
                    {
                        return scan.map(Some);
                    }
                }
                Err(rusb::Error::Timeout | rusb::Error::Interrupted) => {}
                Err(e) => {
                    self.interface = None;
                    self.assembler.reset();
                    let e = crate::usb::io_error(e, "reading the HID POS scanner");
                    return Err(
                        Error::new(ErrorKind::Disconnected, format!("the HID POS scanner (usb {}) went away", self.device)).with_source(e)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_read_by_the_documented_layout() {
        let mut report = [0u8; REPORT_LEN];
        report[..10].copy_from_slice(&[0x02, 5, b']', b'C', b'0', b'S', b'J', b'0', b'1', b'-']);
        report[63] = 0x01;
        let fragment = parse(&report).expect("valid").expect("scanned data");
        assert_eq!(fragment, Fragment { symbology: *b"]C0", data: b"SJ01-", more: true });
        // Other reports (a trigger report) are not scans.
        assert_eq!(parse(&[0x04, 1, 0, 0]).expect("ignored"), None);
    }

    #[test]
    fn garbled_reports_are_malformed_not_a_panic() {
        let mut long = [0u8; REPORT_LEN];
        long[0] = 0x02;
        long[1] = 57;
        assert_eq!(parse(&long).expect_err("57 > 56").kind(), ErrorKind::Malformed);
        assert_eq!(parse(&[0x02, 1, b']']).expect_err("short").kind(), ErrorKind::Malformed);
        assert_eq!(parse(&[]).expect("empty is no report"), None);
    }

    #[test]
    fn a_scan_across_reports_is_joined_and_bounded() {
        let now = Instant::now();
        let text = "https://status.balcao.example/a/".repeat(3);
        let two = reports(*b"]Q1", text.as_bytes());
        assert_eq!(two.len(), 2, "96 bytes take two reports");
        let mut assembler = Assembler::default();
        assert!(assembler.push(&parse(&two[0]).expect("ok").expect("data"), now).is_none());
        let scan = assembler.push(&parse(&two[1]).expect("ok").expect("data"), now).expect("complete").expect("valid");
        assert_eq!(scan.text(), text);

        // Too long: one Malformed at its last report, then the next scan reads.
        let flood = vec![b'7'; Scan::MAX_LEN + 10];
        let results: Vec<_> =
            reports(*b"]C0", &flood).iter().filter_map(|r| assembler.push(&parse(r).expect("ok").expect("data"), now)).collect();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].as_ref().expect_err("too long").kind(), ErrorKind::Malformed);
        let next = assembler.push(&parse(&reports(*b"]C0", b"K01-261122-0012")[0]).expect("ok").expect("data"), now);
        assert_eq!(next.expect("complete").expect("valid").text(), "K01-261122-0012");
    }

    #[test]
    fn a_scan_whose_next_report_never_comes_is_given_up() {
        let start = Instant::now();
        let mut assembler = Assembler::default();
        let first = reports(*b"]Q1", &[b'a'; 100])[0];
        assert!(assembler.push(&parse(&first).expect("ok").expect("data"), start).is_none());
        assert!(assembler.idle(start + Duration::from_millis(500)).is_none());
        assert_eq!(assembler.idle(start + REPORT_GAP).expect("given up").kind(), ErrorKind::Malformed);
        assert!(assembler.pending_deadline().is_none());
        let scan = assembler.push(&parse(&reports(*b"]Q1", b"ok")[0]).expect("ok").expect("data"), start + REPORT_GAP);
        assert_eq!(scan.expect("complete").expect("valid").text(), "ok");
    }
}
