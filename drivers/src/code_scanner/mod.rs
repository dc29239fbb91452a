//! QR and barcode scanners (receipt numbers, sign-in codes from the citizen's phone). Drivers:
//! [`serial`] (RS-232 and USB CDC-ACM scanners) and [`hid_pos`] (USB scanners in HID POS mode);
//! a virtual scanner on a pty in [`sim`].
//!
//! What a scanner reads is untrusted input from whoever holds a code up to it: [`Scan`] only
//! exists for text that passed [`Scan::from_bytes`] (bounded, UTF-8, no control characters).

pub mod hid_pos;
pub mod serial;
#[cfg(feature = "simulators")]
pub mod sim;

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScannerStatus {
    Ready,
    /// The scanner is not connected or does not answer.
    Offline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The scanner delivered something that is not acceptable text (too long, not UTF-8,
    /// control characters). The scan is dropped; the scanner keeps working.
    Malformed,
    /// The scanner went away.
    Disconnected,
    Other,
}

pub type Error = crate::DeviceError<ErrorKind>;

/// One code read by the scanner, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct Scan {
    text: String,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A scanned code can be a sign-in token: print only its length.
        write!(f, "Scan({} chars)", self.text.chars().count())
    }
}

impl Scan {
    /// The longest code accepted: a version-40 QR code holds about 3 KB, but no code the kiosk
    /// reads (receipt numbers, sign-in tokens) comes near 2 KB.
    pub const MAX_LEN: usize = 2048;

    /// Validates what a scanner delivered, without its prefix and suffix.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorKind::Malformed, "the scanner delivered an empty code"));
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(Error::new(
                ErrorKind::Malformed,
                format!("the scanner delivered {} bytes; at most {} are accepted", bytes.len(), Self::MAX_LEN),
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::new(ErrorKind::Malformed, "the scanned code is not UTF-8 text").with_source(e))?;
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(Error::new(ErrorKind::Malformed, format!("the scanned code holds the control character U+{:04X}", c as u32)));
        }
        Ok(Self { text: text.to_owned() })
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A code scanner.
///
/// ## For callers
///
/// Call `next_scan` in a loop on the scanner's own thread; it returns `Ok(None)` when nothing
/// was scanned within `wait`, so the loop can check for shutdown.
///
/// ## For driver authors
///
/// Strip the configured prefix and suffix, then build the [`Scan`] with `Scan::from_bytes`; a
/// malformed code is an `Err(Malformed)` for that scan only.
pub trait CodeScanner: Send {
    fn status(&mut self) -> Result<ScannerStatus, Error>;
    fn next_scan(&mut self, wait: Duration) -> Result<Option<Scan>, Error>;
}

impl<T: CodeScanner + ?Sized> CodeScanner for Box<T> {
    fn status(&mut self) -> Result<ScannerStatus, Error> {
        (**self).status()
    }
    fn next_scan(&mut self, wait: Duration) -> Result<Option<Scan>, Error> {
        (**self).next_scan(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_are_validated() {
        assert_eq!(Scan::from_bytes(b"SJ01-261122-0007").expect("valid").text(), "SJ01-261122-0007");
        assert_eq!(Scan::from_bytes("申請 Nº 7".as_bytes()).expect("valid utf-8").text(), "申請 Nº 7");
        for bad in [&b""[..], b"\xff\xfe", b"abc\x1bdef", &[b'a'; Scan::MAX_LEN + 1][..]] {
            assert_eq!(Scan::from_bytes(bad).expect_err("invalid").kind(), ErrorKind::Malformed, "{bad:?}");
        }
        assert_eq!(Scan::from_bytes(&[b'a'; Scan::MAX_LEN]).expect("at the limit").text().len(), Scan::MAX_LEN);
    }

    #[test]
    fn debug_hides_the_content() {
        let scan = Scan::from_bytes(b"secret-token").expect("valid");
        assert_eq!(format!("{scan:?}"), "Scan(12 chars)");
    }
}
