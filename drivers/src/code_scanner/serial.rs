//! Scanners on a serial line: RS-232 scanners and USB scanners in CDC-ACM ("USB COM port")
//! mode, which appear as `/dev/ttyACM*` or `/dev/ttyUSB*`.
//!
//! Such a scanner sends each decoded code as bytes, with a prefix and a suffix set in its own
//! configuration (usually none and CR). Nothing marks where a code ends but the suffix, or
//! silence: bytes of one code follow each other within milliseconds, so a gap longer than the
//! inter-byte timeout ends the code (without a suffix) or shows it was cut short (with one).
//! [`Framer`] does that cutting, bounded in length; [`Scan::from_bytes`] then validates.

use std::io::Read as _;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use super::{CodeScanner, Error, ErrorKind, Scan, ScannerStatus};

/// How the scanner frames each code; set to what the scanner was configured to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Bytes the scanner sends before each code (often none).
    pub prefix: Vec<u8>,
    /// Bytes after each code (often `\r` or `\r\n`). Empty: a code ends at silence.
    pub suffix: Vec<u8>,
    /// Silence that ends a code.
    pub inter_byte_timeout: Duration,
}

impl Default for Framing {
    fn default() -> Self {
        Self { prefix: Vec::new(), suffix: b"\r".to_vec(), inter_byte_timeout: Duration::from_millis(50) }
    }
}

impl Framing {
    /// The longest prefix or suffix accepted: scanners allow a handful of characters.
    pub const MAX_AFFIX: usize = 8;
    /// The inter-byte timeouts accepted: longer than a byte at the slowest line, shorter than
    /// a person would notice.
    pub const INTER_BYTE_TIMEOUT: std::ops::RangeInclusive<Duration> =
        std::ops::RangeInclusive::new(Duration::from_millis(5), Duration::from_secs(2));

    pub fn check(&self) -> Result<(), String> {
        if self.prefix.len() > Self::MAX_AFFIX || self.suffix.len() > Self::MAX_AFFIX {
            return Err(format!("prefix and suffix are at most {} bytes each", Self::MAX_AFFIX));
        }
        if !Self::INTER_BYTE_TIMEOUT.contains(&self.inter_byte_timeout) {
            let (min, max) = (Self::INTER_BYTE_TIMEOUT.start(), Self::INTER_BYTE_TIMEOUT.end());
            return Err(format!("the inter-byte timeout {:?} is not between {min:?} and {max:?}", self.inter_byte_timeout));
        }
        Ok(())
    }
}

/// Cuts a byte stream into codes. Pure: the caller feeds bytes and the time they came.
#[derive(Debug)]
pub struct Framer {
    framing: Framing,
    buffer: Vec<u8>,
    last_byte: Option<Instant>,
    /// The current code outgrew the limit: its bytes are dropped until it ends.
    overflowed: bool,
}

impl Framer {
    pub fn new(framing: Framing) -> Self {
        Self { framing, buffer: Vec::new(), last_byte: None, overflowed: false }
    }

    fn limit(&self) -> usize {
        self.framing.prefix.len() + Scan::MAX_LEN + self.framing.suffix.len()
    }

    /// Takes one byte received at `now`; returns a code if this byte ended one.
    pub fn push(&mut self, byte: u8, now: Instant) -> Option<Result<Scan, Error>> {
        self.last_byte = Some(now);
        if self.overflowed {
            self.buffer.push(byte);
            let suffix = &self.framing.suffix;
            if !suffix.is_empty() && self.buffer.ends_with(suffix) {
                return Some(Err(self.take_overflow()));
            }
            // Keep only what could still be the start of the suffix.
            let keep = suffix.len().saturating_sub(1);
            let drop = self.buffer.len().saturating_sub(keep);
            self.buffer.drain(..drop);
            return None;
        }
        self.buffer.push(byte);
        let suffix = &self.framing.suffix;
        if !suffix.is_empty() && self.buffer.ends_with(suffix) {
            let end = self.buffer.len() - suffix.len();
            let code: Vec<u8> = self.buffer.drain(..).take(end).collect();
            return Some(self.code(&code));
        }
        if self.buffer.len() > self.limit() {
            self.overflowed = true;
            self.buffer.clear();
        }
        None
    }

    /// Called when no byte came: ends a code whose last byte is older than the inter-byte
    /// timeout.
    pub fn idle(&mut self, now: Instant) -> Option<Result<Scan, Error>> {
        let last = self.last_byte?;
        if now.duration_since(last) < self.framing.inter_byte_timeout || (self.buffer.is_empty() && !self.overflowed) {
            return None;
        }
        self.last_byte = None;
        if self.overflowed {
            return Some(Err(self.take_overflow()));
        }
        let code = std::mem::take(&mut self.buffer);
        if self.framing.suffix.is_empty() {
            return Some(self.code(&code));
        }
        Some(Err(Error::new(
            ErrorKind::Malformed,
            format!("a code of {} bytes stopped without its suffix: the scanner's suffix setting or the cable", code.len()),
        )))
    }

    /// How long `idle` may wait before a partly received code has to be looked at again.
    pub fn pending_deadline(&self) -> Option<Instant> {
        self.last_byte.map(|last| last + self.framing.inter_byte_timeout)
    }

    fn take_overflow(&mut self) -> Error {
        self.overflowed = false;
        self.buffer.clear();
        Error::new(ErrorKind::Malformed, format!("the scanner sent a code longer than {} bytes; it was dropped", Scan::MAX_LEN))
    }

    fn code(&self, framed: &[u8]) -> Result<Scan, Error> {
        let Some(code) = framed.strip_prefix(self.framing.prefix.as_slice()) else {
            return Err(Error::new(ErrorKind::Malformed, "a code came without the scanner's prefix: check the scanner's prefix setting"));
        };
        Scan::from_bytes(code)
    }
}

/// A scanner on a serial or CDC-ACM port. Opens the port on first use and again after it
/// went away, so unplugging and plugging the scanner back in recovers by itself.
pub struct SerialScanner {
    path: String,
    baud_rate: u32,
    framer: Framer,
    port: Option<Box<dyn SerialPort>>,
    /// Bytes read but not yet framed (a read can carry the end of one code and the next).
    unread: std::collections::VecDeque<u8>,
}

impl std::fmt::Debug for SerialScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialScanner").field("path", &self.path).field("open", &self.port.is_some()).finish_non_exhaustive()
    }
}

impl SerialScanner {
    pub fn new(path: impl Into<String>, baud_rate: u32, framing: Framing) -> Result<Self, Error> {
        framing.check().map_err(|e| Error::new(ErrorKind::Other, e))?;
        Ok(Self { path: path.into(), baud_rate, framer: Framer::new(framing), port: None, unread: Default::default() })
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, Error> {
        let port = match self.port.take() {
            Some(port) => port,
            None => {
                let port = serialport::new(&self.path, self.baud_rate).timeout(Duration::from_millis(10)).open().map_err(|e| {
                    Error::new(ErrorKind::Disconnected, format!("cannot open the code scanner at {}: is it plugged in?", self.path))
                        .with_source(e)
                })?;
                // A pty (and some USB adapters) hand over bytes written before the port was
                // opened: they belong to nobody here.
                let _ = port.clear(serialport::ClearBuffer::Input);
                tracing::info!(path = %self.path, "code scanner connected");
                port
            }
        };
        Ok(self.port.insert(port))
    }

    fn gone(&mut self, e: std::io::Error) -> Error {
        self.port = None;
        self.unread.clear();
        Error::new(ErrorKind::Disconnected, format!("the code scanner at {} went away", self.path)).with_source(e)
    }
}

impl CodeScanner for SerialScanner {
    fn status(&mut self) -> Result<ScannerStatus, Error> {
        // A serial scanner answers no status request: an open port is a present scanner.
        Ok(match self.port() {
            Ok(_) => ScannerStatus::Ready,
            Err(e) => {
                tracing::debug!(error = %e, "code scanner offline");
                ScannerStatus::Offline
            }
        })
    }

    fn next_scan(&mut self, wait: Duration) -> Result<Option<Scan>, Error> {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 256];
        loop {
            while let Some(byte) = self.unread.pop_front() {
                if let Some(code) = self.framer.push(byte, Instant::now()) {
                    return code.map(Some);
                }
            }
            let now = Instant::now();
            if let Some(code) = self.framer.idle(now) {
                return code.map(Some);
            }
            if now >= deadline {
                // A partly received code stays in the framer for the next call.
                return Ok(None);
            }
            // Wait for bytes until the deadline, or until a partial code's gap runs out.
            let until = self.framer.pending_deadline().map_or(deadline, |gap_end| gap_end.min(deadline));
            let timeout = until.saturating_duration_since(now).max(Duration::from_millis(1));
            let port = self.port()?;
            port.set_timeout(timeout).map_err(|e| Error::new(ErrorKind::Other, "cannot set the scanner port's timeout").with_source(e))?;
            match port.read(&mut chunk) {
                Ok(0) => return Err(self.gone(std::io::Error::from(std::io::ErrorKind::UnexpectedEof))),
                Ok(n) => self.unread.extend(&chunk[..n]),
                Err(e) if crate::error::read_timed_out(&e) => {}
                Err(e) => return Err(self.gone(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(framer: &mut Framer, bytes: &[u8], at: Instant) -> Vec<Result<String, ErrorKind>> {
        bytes.iter().filter_map(|b| framer.push(*b, at)).map(|r| r.map(|s| s.text().to_owned()).map_err(|e| e.kind())).collect()
    }

    #[test]
    fn codes_end_at_the_suffix_and_lose_prefix_and_suffix() {
        let t = Instant::now();
        let mut framer = Framer::new(Framing { prefix: b"]Q1".to_vec(), suffix: b"\r\n".to_vec(), ..Framing::default() });
        assert_eq!(
            feed(&mut framer, b"]Q1K01-261122-0007\r\n]Q1https://s.example/A\r\n", t),
            vec![Ok("K01-261122-0007".to_owned()), Ok("https://s.example/A".to_owned())]
        );
        assert_eq!(feed(&mut framer, b"no-prefix\r\n", t), vec![Err(ErrorKind::Malformed)], "a code without the prefix");
        assert_eq!(feed(&mut framer, b"]Q1ok\r\n", t), vec![Ok("ok".to_owned())], "and the next one reads");
    }

    #[test]
    fn without_a_suffix_silence_ends_the_code() {
        let t = Instant::now();
        let mut framer = Framer::new(Framing { suffix: Vec::new(), ..Framing::default() });
        assert!(feed(&mut framer, b"ABC-1", t).is_empty());
        assert!(framer.idle(t + Duration::from_millis(20)).is_none(), "still within the inter-byte gap");
        assert_eq!(framer.idle(t + Duration::from_millis(60)).expect("ended").expect("valid").text(), "ABC-1");
        assert!(framer.idle(t + Duration::from_secs(5)).is_none(), "nothing more");
    }

    #[test]
    fn a_code_cut_short_is_malformed_and_the_next_reads() {
        let t = Instant::now();
        let mut framer = Framer::new(Framing::default());
        assert!(feed(&mut framer, b"K01-2611", t).is_empty());
        assert_eq!(framer.idle(t + Duration::from_millis(60)).expect("ended").expect_err("cut short").kind(), ErrorKind::Malformed);
        assert_eq!(feed(&mut framer, b"K01-1\r", t + Duration::from_millis(100)), vec![Ok("K01-1".to_owned())]);
    }

    #[test]
    fn an_endless_code_is_dropped_once_and_reading_resumes_after_its_suffix() {
        let t = Instant::now();
        let mut framer = Framer::new(Framing::default());
        let mut stream = vec![b'A'; Scan::MAX_LEN * 3];
        stream.extend_from_slice(b"\rNEXT\r");
        assert_eq!(feed(&mut framer, &stream, t), vec![Err(ErrorKind::Malformed), Ok("NEXT".to_owned())]);
        assert!(framer.buffer.len() <= Scan::MAX_LEN + 2, "memory stays bounded");
    }

    #[test]
    fn control_characters_and_bad_utf8_are_refused() {
        let t = Instant::now();
        let mut framer = Framer::new(Framing::default());
        assert_eq!(
            feed(&mut framer, b"a\x1bb\r\xff\xfe\rok\r", t),
            vec![Err(ErrorKind::Malformed), Err(ErrorKind::Malformed), Ok("ok".to_owned())]
        );
    }

    #[test]
    fn framing_is_checked() {
        assert!(Framing::default().check().is_ok());
        assert!(Framing { prefix: vec![b'x'; 9], ..Framing::default() }.check().is_err());
        assert!(Framing { inter_byte_timeout: Duration::ZERO, ..Framing::default() }.check().is_err());
    }
}
