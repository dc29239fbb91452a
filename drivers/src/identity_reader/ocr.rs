//! OCR document readers: the citizen lays the document's data page on the glass, the reader
//! reads its machine-readable zone and sends the lines over a serial line (RS-232, or USB in
//! CDC-ACM mode), each line ended by CR — the serial output mode readers of this kind (Access-IS,
//! Desko, Thales/3M and others) offer, with an empty line or silence after the zone.
//!
//! The lines come through the code scanner's serial driver (the same framing: a configured
//! suffix, bounded length, text only), and [`ZoneAssembler`] puts them together: two lines of
//! 44 characters are a passport's zone (TD3), three of 30 an identity card's (TD1). The zone is
//! then parsed with every check digit checked; a zone that does not hold is an error for that
//! reading only — the citizen lays the document down again or types the details.
//!
//! What the zone gives opens the chip (BAC); it is never trusted as the holder's identity by
//! itself: only the chip's data, read with it, is.

use std::time::{Duration, Instant};

use super::icao::mrz;
use super::{Error, ErrorKind, HolderData};
use crate::code_scanner::{self, CodeScanner, ScannerStatus};

/// How long the lines of one zone may be apart: a reader sends them in one burst.
pub const LINE_GAP: Duration = Duration::from_millis(800);

/// Puts the lines an OCR reader sends together into zones. Pure: the caller feeds lines and
/// the time they came. Nothing of the lines appears in its `Debug` or its errors.
#[derive(Default)]
pub struct ZoneAssembler {
    lines: Vec<String>,
    last: Option<Instant>,
}

impl std::fmt::Debug for ZoneAssembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneAssembler").field("lines", &self.lines.len()).finish_non_exhaustive()
    }
}

fn unreadable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

impl ZoneAssembler {
    /// Takes one line received at `now`; returns a zone (or why it is not one) when this line
    /// completed or broke one.
    pub fn push(&mut self, line: &str, now: Instant) -> Option<Result<HolderData, Error>> {
        let line = line.trim();
        self.last = Some(now);
        if line.is_empty() {
            // The end of a zone: whatever is pending is all there is.
            return self.take_incomplete();
        }
        if !line.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<') {
            self.lines.clear();
            return Some(Err(unreadable("the reader sent a line with characters outside A-Z, 0-9 and <")));
        }
        let width = line.len();
        if !matches!(width, 30 | 36 | 44) {
            self.lines.clear();
            return Some(Err(unreadable(format!("the reader sent a line of {width} characters; zones have lines of 30, 36 or 44"))));
        }
        // A line of another width starts another zone: the pending one was cut short.
        let broken = match self.lines.first() {
            Some(first) if first.len() != width => self.take_incomplete(),
            _ => None,
        };
        if broken.is_some() {
            self.lines.push(line.to_owned());
            return broken;
        }
        self.lines.push(line.to_owned());
        let needed = if width == 30 { 3 } else { 2 };
        if self.lines.len() < needed {
            return None;
        }
        let zone = std::mem::take(&mut self.lines).concat();
        if width == 36 {
            return Some(Err(Error::new(ErrorKind::Unsupported, "a TD2 document (two lines of 36): only TD1 and TD3 are read")));
        }
        Some(mrz::parse(&zone).map_err(|e| unreadable(format!("the zone does not read cleanly: {e}"))))
    }

    /// Called when no line came: a zone left incomplete for longer than [`LINE_GAP`] is an
    /// error.
    pub fn idle(&mut self, now: Instant) -> Option<Result<HolderData, Error>> {
        let last = self.last?;
        if now.duration_since(last) < LINE_GAP {
            return None;
        }
        self.last = None;
        self.take_incomplete()
    }

    fn take_incomplete(&mut self) -> Option<Result<HolderData, Error>> {
        if self.lines.is_empty() {
            return None;
        }
        let got = std::mem::take(&mut self.lines).len();
        Some(Err(unreadable(format!("the reader stopped after {got} line(s) of a zone: the document moved, or the reader's line ending"))))
    }
}

/// What reads the zone of a document laid on it.
///
/// ## For callers
///
/// Call `next_zone` in a loop on the reader's own thread; it returns `Ok(None)` when no
/// document was read within `wait`. An unreadable zone is an error for that reading only.
pub trait MrzReader: Send {
    /// Whether the reader is connected.
    fn status(&mut self) -> Result<bool, Error>;
    fn next_zone(&mut self, wait: Duration) -> Result<Option<HolderData>, Error>;
}

/// An OCR reader whose lines come through a code scanner driver (a serial line with CR after
/// each line).
#[derive(Debug)]
pub struct OcrMrzReader<S> {
    lines: S,
    assembler: ZoneAssembler,
}

impl<S: CodeScanner> OcrMrzReader<S> {
    pub fn new(lines: S) -> Self {
        Self { lines, assembler: ZoneAssembler::default() }
    }
}

fn from_line_error(e: &code_scanner::Error) -> Option<Error> {
    match e.kind() {
        // An empty line is how readers end a zone; the framer reports it as malformed.
        code_scanner::ErrorKind::Malformed => None,
        code_scanner::ErrorKind::Disconnected => Some(Error::new(ErrorKind::NoReader, "the document reader went away")),
        code_scanner::ErrorKind::Other => Some(Error::new(ErrorKind::Other, "the document reader failed")),
    }
}

impl<S: CodeScanner> MrzReader for OcrMrzReader<S> {
    fn status(&mut self) -> Result<bool, Error> {
        let status = self.lines.status().map_err(|e| from_line_error(&e).unwrap_or_else(|| Error::new(ErrorKind::Other, "status")))?;
        Ok(status == ScannerStatus::Ready)
    }

    fn next_zone(&mut self, wait: Duration) -> Result<Option<HolderData>, Error> {
        let deadline = Instant::now() + wait;
        loop {
            let now = Instant::now();
            if let Some(zone) = self.assembler.idle(now) {
                return zone.map(Some);
            }
            if now >= deadline {
                return Ok(None);
            }
            // Short waits while a zone is pending, so an incomplete one is reported on time.
            let slice = if self.assembler.lines.is_empty() { deadline - now } else { (deadline - now).min(Duration::from_millis(100)) };
            match self.lines.next_scan(slice) {
                Ok(None) => {}
                Ok(Some(line)) => {
                    if let Some(zone) = self.assembler.push(line.text(), Instant::now()) {
                        return zone.map(Some);
                    }
                }
                Err(e) => match from_line_error(&e) {
                    Some(error) => return Err(error),
                    // An empty line: the end of a zone.
                    None => {
                        if let Some(zone) = self.assembler.push("", Instant::now()) {
                            return zone.map(Some);
                        }
                    }
                },
            }
        }
    }
}

impl<T: MrzReader + ?Sized> MrzReader for Box<T> {
    fn status(&mut self) -> Result<bool, Error> {
        (**self).status()
    }
    fn next_zone(&mut self, wait: Duration) -> Result<Option<HolderData>, Error> {
        (**self).next_zone(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ICAO 9303 Part 4's specimen passport and Part 5's specimen identity card.
    const TD3: [&str; 2] = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    const TD1: [&str; 3] = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

    #[test]
    fn lines_make_a_passport_or_an_identity_card_zone() {
        let now = Instant::now();
        let mut zones = ZoneAssembler::default();
        assert!(zones.push(TD3[0], now).is_none());
        let passport = zones.push(TD3[1], now).expect("a zone").expect("valid");
        assert_eq!((passport.document_number.as_str(), passport.date_of_birth.iso()), ("L898902C3", "1974-08-12".to_string()));
        assert!(zones.push("", now).is_none(), "the empty line after a complete zone is nothing");
        assert!(zones.push(TD1[0], now).is_none() && zones.push(TD1[1], now).is_none());
        let card = zones.push(TD1[2], now).expect("a zone").expect("valid");
        assert_eq!((card.document_number.as_str(), card.surname.as_str()), ("D23145890", "ERIKSSON"));
    }

    #[test]
    fn broken_zones_are_errors_that_leave_the_next_reading_intact() {
        let now = Instant::now();
        let mut zones = ZoneAssembler::default();
        // A misread check digit.
        let misread = TD3[1].replacen("L898902C36", "L898902C35", 1);
        zones.push(TD3[0], now);
        let error = zones.push(&misread, now).expect("a zone").expect_err("bad check digit");
        assert_eq!(error.kind(), ErrorKind::Protocol);
        assert!(!error.to_string().contains("L898902"), "no part of the zone in the error: {error}");
        // A card zone cut short by a passport's first line, then the passport.
        zones.push(TD1[0], now);
        assert_eq!(zones.push(TD3[0], now).expect("the cut zone").expect_err("incomplete").kind(), ErrorKind::Protocol);
        assert!(zones.push(TD3[1], now).expect("a zone").is_ok());
        // Noise, odd widths, lower case, and a zone left hanging.
        assert!(zones.push("HELLO", now).expect("refused").is_err());
        assert!(zones.push(&TD3[0].to_lowercase(), now).expect("refused").is_err());
        zones.push(TD1[0], now);
        assert!(zones.idle(now + LINE_GAP / 2).is_none());
        assert!(zones.idle(now + LINE_GAP).expect("timed out").is_err());
        assert!(zones.idle(now + 2 * LINE_GAP).is_none());
        // TD2 is not read.
        let td2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<";
        zones.push(td2, now);
        assert_eq!(zones.push(td2, now).expect("a zone").expect_err("TD2").kind(), ErrorKind::Unsupported);
    }
}
