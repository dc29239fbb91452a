//! What an ESC/POS printer says back, decoded.
//!
//! Written by hand: the `escpos` crate sends `DLE EOT n` as four bytes (the reference has
//! three), and has neither Automatic Status Back (`GS a`) nor the process-ID answer
//! (`GS ( H`); and a driver must read a stream in which unsolicited status blocks, answers to
//! its own requests and line noise arrive mixed, split or coalesced. This module is that
//! reader, with no I/O, so every documented bit is tested byte for byte.
//!
//! The bytes a printer sends are told apart by their fixed bits: a real-time status byte has
//! bits 1 and 4 set and bits 0 and 7 clear (`xxx1xx10`), the first byte of an ASB block bit 4
//! set and bits 0, 1 and 7 clear (`xxx1xx00`), and a process-ID answer starts with `37 22`
//! and ends with `NUL`.

use super::super::ReceiptPrinterStatus;

/// `DLE EOT n`: which real-time status to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusQuery {
    /// n = 1: online/offline, drawer, feed button.
    Printer = 1,
    /// n = 2: why it is offline: cover, paper end, error.
    OfflineCause = 2,
    /// n = 3: which error: autocutter, unrecoverable, auto-recoverable.
    ErrorCause = 3,
    /// n = 4: the roll paper sensors.
    RollPaper = 4,
}

impl StatusQuery {
    pub const ALL: [StatusQuery; 4] = [Self::Printer, Self::OfflineCause, Self::ErrorCause, Self::RollPaper];

    /// The request, three bytes: `10 04 n`.
    pub fn request(self) -> [u8; 3] {
        [0x10, 0x04, self as u8]
    }
}

/// `GS a n`: enable Automatic Status Back for drawer, online, error and paper changes
/// (n = 0x0F; 0 disables it).
pub const ENABLE_ASB: [u8; 3] = [0x1D, 0x61, 0x0F];

/// What the printer reported about itself: the union of everything the four real-time
/// statuses and ASB carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PrinterState {
    pub offline: bool,
    pub cover_open: bool,
    /// Paper is being fed with the feed button.
    pub feeding_by_button: bool,
    /// Printing stopped because the paper ran out.
    pub stopped_by_paper_end: bool,
    /// Some error occurred (the error cause says which).
    pub error: bool,
    pub mechanical_error: bool,
    pub autocutter_error: bool,
    /// Needs a technician (e.g. a broken wire).
    pub unrecoverable_error: bool,
    /// Clears by itself (print head too hot, cover opened mid-print).
    pub auto_recoverable_error: bool,
    pub paper_near_end: bool,
    pub paper_end: bool,
    /// Drawer kick-out connector pin 3 (not used by the kiosk; decoded for completeness).
    pub drawer_pin3: bool,
}

impl PrinterState {
    /// The kiosk's view of the printer, the most serious condition first.
    pub fn status(&self) -> ReceiptPrinterStatus {
        if self.unrecoverable_error || self.autocutter_error || self.mechanical_error {
            ReceiptPrinterStatus::MechanismFault
        } else if self.cover_open {
            ReceiptPrinterStatus::CoverOpen
        } else if self.paper_end || self.stopped_by_paper_end {
            ReceiptPrinterStatus::PaperOut
        } else if self.offline || self.error || self.auto_recoverable_error {
            // Offline for another reason (feeding, head too hot): not printable right now.
            ReceiptPrinterStatus::Offline
        } else if self.paper_near_end {
            ReceiptPrinterStatus::PaperLow
        } else {
            ReceiptPrinterStatus::Ready
        }
    }

    /// Takes in the answer to `DLE EOT n`: the bits that status carries replace what was
    /// known of them.
    pub fn apply(&mut self, query: StatusQuery, byte: u8) -> Result<(), StatusError> {
        if !is_real_time(byte) {
            return Err(StatusError::NotAStatusByte(byte));
        }
        let bit = |n: u8| byte & (1 << n) != 0;
        match query {
            StatusQuery::Printer => {
                self.drawer_pin3 = bit(2);
                self.offline = bit(3);
                self.feeding_by_button = bit(6);
            }
            StatusQuery::OfflineCause => {
                self.cover_open = bit(2);
                self.feeding_by_button = bit(3);
                self.stopped_by_paper_end = bit(5);
                self.error = bit(6);
            }
            StatusQuery::ErrorCause => {
                // Bit 2 is undefined on most models; Epson uses it for a mechanical error.
                self.mechanical_error = bit(2);
                self.autocutter_error = bit(3);
                self.unrecoverable_error = bit(5);
                self.auto_recoverable_error = bit(6);
            }
            StatusQuery::RollPaper => {
                // Each sensor has two bits, both set when it detects no paper.
                self.paper_near_end = byte & 0x0C == 0x0C;
                self.paper_end = byte & 0x60 == 0x60;
            }
        }
        Ok(())
    }

    /// An Automatic Status Back block: four bytes that carry everything at once.
    pub fn from_asb(block: [u8; 4]) -> Result<Self, StatusError> {
        if !is_asb_start(block[0]) || block[1..].iter().any(|b| b & 0x90 != 0) {
            return Err(StatusError::NotAnAsbBlock(block));
        }
        let bit = |byte: u8, n: u8| byte & (1 << n) != 0;
        let [first, second, third, _] = block;
        Ok(Self {
            drawer_pin3: bit(first, 2),
            offline: bit(first, 3),
            cover_open: bit(first, 5),
            feeding_by_button: bit(first, 6),
            mechanical_error: bit(second, 2),
            autocutter_error: bit(second, 3),
            unrecoverable_error: bit(second, 5),
            auto_recoverable_error: bit(second, 6),
            error: second & 0x6C != 0,
            paper_near_end: third & 0x03 == 0x03,
            paper_end: third & 0x0C == 0x0C,
            stopped_by_paper_end: third & 0x0C == 0x0C && bit(first, 3),
        })
    }
}

impl PrinterState {
    /// What a printer in this state answers to `DLE EOT n` (the virtual printer's side).
    pub fn real_time_byte(&self, query: StatusQuery) -> u8 {
        let bits: [(bool, u8); 4] = match query {
            StatusQuery::Printer => [(self.drawer_pin3, 2), (self.offline, 3), (self.feeding_by_button, 6), (false, 0)],
            StatusQuery::OfflineCause => {
                [(self.cover_open, 2), (self.feeding_by_button, 3), (self.stopped_by_paper_end, 5), (self.error, 6)]
            }
            StatusQuery::ErrorCause => {
                [(self.mechanical_error, 2), (self.autocutter_error, 3), (self.unrecoverable_error, 5), (self.auto_recoverable_error, 6)]
            }
            StatusQuery::RollPaper => return 0x12 | if self.paper_near_end { 0x0C } else { 0 } | if self.paper_end { 0x60 } else { 0 },
        };
        bits.iter().filter(|(on, _)| *on).fold(0x12, |b, (_, n)| b | 1 << n)
    }

    /// The Automatic Status Back block a printer in this state sends (the virtual printer's side).
    pub fn asb(&self) -> [u8; 4] {
        let flag = |on: bool, n: u8| if on { 1u8 << n } else { 0 };
        [
            0x10 | flag(self.drawer_pin3, 2) | flag(self.offline, 3) | flag(self.cover_open, 5) | flag(self.feeding_by_button, 6),
            flag(self.mechanical_error, 2)
                | flag(self.autocutter_error, 3)
                | flag(self.unrecoverable_error, 5)
                | flag(self.auto_recoverable_error, 6),
            if self.paper_near_end { 0x03 } else { 0 } | if self.paper_end { 0x0C } else { 0 },
            0,
        ]
    }
}

fn is_real_time(byte: u8) -> bool {
    byte & 0x93 == 0x12
}

fn is_asb_start(byte: u8) -> bool {
    byte & 0x93 == 0x10
}

/// Bytes that are not what they should be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("{0:#04x} is not a real-time status byte (its fixed bits are wrong)")]
    NotAStatusByte(u8),
    #[error("{0:02x?} is not an automatic status block (its fixed bits are wrong)")]
    NotAnAsbBlock([u8; 4]),
    #[error("process id {0} is out of range (0 to 9999)")]
    ProcessId(u16),
}

/// `GS ( H`: asks the printer to answer with `id` once everything before it has printed —
/// the proof that a receipt really came out. The id goes as four ASCII digits.
pub fn process_id_request(id: u16) -> Result<[u8; 11], StatusError> {
    if id > 9999 {
        return Err(StatusError::ProcessId(id));
    }
    let digits = format!("{id:04}");
    let d = digits.as_bytes();
    Ok([0x1D, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, d[0], d[1], d[2], d[3]])
}

/// Something the printer said, as the decoder recognised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// The answer to a `DLE EOT n` (the driver knows which n it asked).
    RealTime(u8),
    /// An Automatic Status Back block.
    Asb(PrinterState),
    /// The printer finished everything before the `GS ( H` with this id.
    Printed(u16),
    /// Bytes that fit nothing (line noise, a model's extension): skipped, reported so the
    /// technician can see them in the log.
    Garbage(Vec<u8>),
}

/// Longest process-ID block accepted before it is called garbage (the reference sends 7 bytes).
const MAX_BLOCK: usize = 32;

/// Decodes the printer's byte stream, whatever the read boundaries: feed it every read, take
/// what it recognised.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `bytes` just read; returns every message now complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Incoming> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut garbage = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            let rest = &self.pending[at..];
            let (taken, message) = match rest[0] {
                b if is_real_time(b) => (1, Some(Incoming::RealTime(b))),
                // The bytes after an ASB start have bits 4 and 7 clear: one that does not ends
                // the block at once, so an answer right after a noise byte is not held back.
                b if is_asb_start(b) && rest.iter().skip(1).take(3).any(|b| b & 0x90 != 0) => (1, None),
                b if is_asb_start(b) => match rest.get(..4) {
                    None => break,
                    Some(block) => match PrinterState::from_asb([block[0], block[1], block[2], block[3]]) {
                        Ok(state) => (4, Some(Incoming::Asb(state))),
                        Err(_) => (1, None),
                    },
                },
                0x37 => match block_end(rest) {
                    BlockEnd::Incomplete => break,
                    BlockEnd::At(end) => (end + 1, process_id(&rest[..end]).map(Incoming::Printed)),
                    BlockEnd::TooLong => (1, None),
                },
                _ => (1, None),
            };
            match message {
                Some(message) => {
                    if !garbage.is_empty() {
                        out.push(Incoming::Garbage(std::mem::take(&mut garbage)));
                    }
                    out.push(message);
                }
                None => garbage.extend_from_slice(&rest[..taken]),
            }
            at += taken;
        }
        self.pending.drain(..at);
        if !garbage.is_empty() {
            out.push(Incoming::Garbage(garbage));
        }
        out
    }
}

enum BlockEnd {
    Incomplete,
    At(usize),
    TooLong,
}

fn block_end(block: &[u8]) -> BlockEnd {
    match block.iter().take(MAX_BLOCK).position(|&b| b == 0) {
        Some(end) => BlockEnd::At(end),
        None if block.len() >= MAX_BLOCK => BlockEnd::TooLong,
        None => BlockEnd::Incomplete,
    }
}

/// `37 22 d1 d2 d3 d4` (without its NUL): the id, if that is what the block is.
fn process_id(block: &[u8]) -> Option<u16> {
    match block {
        [0x37, 0x22, digits @ ..] if digits.len() == 4 && digits.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(digits).ok()?.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_after(answers: &[(StatusQuery, u8)]) -> PrinterState {
        let mut state = PrinterState::default();
        for &(query, byte) in answers {
            state.apply(query, byte).expect("a status byte");
        }
        state
    }

    #[test]
    fn requests_are_the_reference_bytes() {
        assert_eq!(StatusQuery::ALL.map(StatusQuery::request), [[0x10, 0x04, 1], [0x10, 0x04, 2], [0x10, 0x04, 3], [0x10, 0x04, 4]]);
        assert_eq!(process_id_request(42).expect("in range"), [0x1D, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, b'0', b'0', b'4', b'2']);
        assert_eq!(process_id_request(10_000), Err(StatusError::ProcessId(10_000)));
        assert_eq!(ENABLE_ASB, [0x1D, 0x61, 0x0F]);
    }

    #[test]
    fn every_documented_bit_of_the_real_time_statuses() {
        use StatusQuery::*;
        // All clear: the fixed bits only.
        let idle = state_after(&[(Printer, 0x12), (OfflineCause, 0x12), (ErrorCause, 0x12), (RollPaper, 0x12)]);
        assert_eq!(idle, PrinterState::default());
        assert_eq!(idle.status(), ReceiptPrinterStatus::Ready);

        type Case = (StatusQuery, u8, fn(&PrinterState) -> bool);
        let cases: [Case; 12] = [
            (Printer, 0x16, |s| s.drawer_pin3),
            (Printer, 0x1A, |s| s.offline),
            (Printer, 0x52, |s| s.feeding_by_button),
            (OfflineCause, 0x16, |s| s.cover_open),
            (OfflineCause, 0x1A, |s| s.feeding_by_button),
            (OfflineCause, 0x32, |s| s.stopped_by_paper_end),
            (OfflineCause, 0x52, |s| s.error),
            (ErrorCause, 0x16, |s| s.mechanical_error),
            (ErrorCause, 0x1A, |s| s.autocutter_error),
            (ErrorCause, 0x32, |s| s.unrecoverable_error),
            (ErrorCause, 0x52, |s| s.auto_recoverable_error),
            (RollPaper, 0x1E, |s| s.paper_near_end && !s.paper_end),
        ];
        for (query, byte, holds) in cases {
            let state = state_after(&[(query, byte)]);
            assert!(holds(&state), "{query:?} {byte:#04x} → {state:?}");
            assert_ne!(state, PrinterState::default(), "{query:?} {byte:#04x} sets exactly something");
        }
        let out = state_after(&[(RollPaper, 0x7E)]);
        assert!(out.paper_end && out.paper_near_end);
        // One sensor bit of a pair is not enough (models differ on which one they set).
        assert!(!state_after(&[(RollPaper, 0x16)]).paper_near_end);
        assert!(!state_after(&[(RollPaper, 0x32)]).paper_end);
        // A later answer replaces what that status said before.
        assert!(!state_after(&[(Printer, 0x1A), (Printer, 0x12)]).offline);
    }

    #[test]
    fn what_the_virtual_printer_sends_decodes_to_the_state_it_was_made_from() {
        // Every single condition, one at a time, through both the real-time and the ASB path.
        let setters: [fn(&mut PrinterState); 11] = [
            |s| s.offline = true,
            |s| s.cover_open = true,
            |s| s.feeding_by_button = true,
            |s| s.error = true,
            |s| s.mechanical_error = true,
            |s| s.autocutter_error = true,
            |s| s.unrecoverable_error = true,
            |s| s.auto_recoverable_error = true,
            |s| s.paper_near_end = true,
            |s| s.drawer_pin3 = true,
            |s| {
                s.paper_end = true;
                s.offline = true;
                s.stopped_by_paper_end = true;
            },
        ];
        for set in setters {
            let mut state = PrinterState::default();
            set(&mut state);
            let mut decoded = PrinterState::default();
            for query in StatusQuery::ALL {
                decoded.apply(query, state.real_time_byte(query)).expect("a status byte");
            }
            assert_eq!(decoded, state, "real time");
            let mut asb = PrinterState::from_asb(state.asb()).expect("an ASB block");
            // ASB has no "stopped by paper end" or generic error bit: both are derived.
            asb.stopped_by_paper_end = state.stopped_by_paper_end;
            asb.error = state.error;
            assert_eq!(asb, state, "ASB");
        }
    }

    #[test]
    fn the_kiosk_status_puts_the_most_serious_condition_first() {
        use StatusQuery::*;
        let status = |answers: &[(StatusQuery, u8)]| state_after(answers).status();
        assert_eq!(status(&[(RollPaper, 0x1E)]), ReceiptPrinterStatus::PaperLow);
        assert_eq!(status(&[(RollPaper, 0x7E), (Printer, 0x1A), (OfflineCause, 0x32)]), ReceiptPrinterStatus::PaperOut);
        assert_eq!(status(&[(Printer, 0x1A), (OfflineCause, 0x36), (RollPaper, 0x7E)]), ReceiptPrinterStatus::CoverOpen);
        assert_eq!(status(&[(Printer, 0x1A), (OfflineCause, 0x52), (ErrorCause, 0x1A)]), ReceiptPrinterStatus::MechanismFault);
        assert_eq!(status(&[(ErrorCause, 0x32)]), ReceiptPrinterStatus::MechanismFault);
        assert_eq!(status(&[(Printer, 0x1A), (OfflineCause, 0x52), (ErrorCause, 0x52)]), ReceiptPrinterStatus::Offline, "head too hot");
        assert_eq!(status(&[(Printer, 0x1A)]), ReceiptPrinterStatus::Offline);
    }

    #[test]
    fn bytes_with_wrong_fixed_bits_are_not_statuses() {
        let mut state = PrinterState::default();
        for byte in [0x00, 0xFF, 0x13, 0x92, 0x10, 0x02] {
            assert_eq!(state.apply(StatusQuery::Printer, byte), Err(StatusError::NotAStatusByte(byte)), "{byte:#04x}");
        }
        assert_eq!(state, PrinterState::default(), "nothing taken from a bad byte");
    }

    #[test]
    fn every_documented_bit_of_an_automatic_status_block() {
        assert_eq!(PrinterState::from_asb([0x10, 0x00, 0x00, 0x00]).expect("asb"), PrinterState::default());
        let full = PrinterState::from_asb([0x10 | 0x04 | 0x08 | 0x20 | 0x40, 0x04 | 0x08 | 0x20 | 0x40, 0x0F, 0x00]).expect("asb");
        assert_eq!(
            full,
            PrinterState {
                offline: true,
                cover_open: true,
                feeding_by_button: true,
                stopped_by_paper_end: true,
                error: true,
                mechanical_error: true,
                autocutter_error: true,
                unrecoverable_error: true,
                auto_recoverable_error: true,
                paper_near_end: true,
                paper_end: true,
                drawer_pin3: true,
            }
        );
        assert_eq!(PrinterState::from_asb([0x10, 0x00, 0x03, 0x00]).expect("asb").status(), ReceiptPrinterStatus::PaperLow);
        assert_eq!(PrinterState::from_asb([0x18, 0x00, 0x0F, 0x00]).expect("asb").status(), ReceiptPrinterStatus::PaperOut);
        assert_eq!(PrinterState::from_asb([0x38, 0x00, 0x00, 0x00]).expect("asb").status(), ReceiptPrinterStatus::CoverOpen);
        assert_eq!(PrinterState::from_asb([0x18, 0x08, 0x00, 0x00]).expect("asb").status(), ReceiptPrinterStatus::MechanismFault);
        for bad in [[0x12, 0, 0, 0], [0x10, 0x10, 0, 0], [0x10, 0, 0x80, 0], [0x90, 0, 0, 0]] {
            assert_eq!(PrinterState::from_asb(bad), Err(StatusError::NotAnAsbBlock(bad)));
        }
    }

    #[test]
    fn the_decoder_finds_messages_across_split_and_coalesced_reads() {
        let stream: Vec<u8> = [
            &[0x18, 0x00, 0x0F, 0x00][..],                   // ASB: offline, paper out
            &[0x12],                                         // a real-time answer
            &[0x37, 0x22, b'0', b'0', b'0', b'7', 0x00][..], // job 7 printed
            &[0x10, 0x00, 0x00, 0x00],                       // ASB: all clear
        ]
        .concat();
        let expected = vec![
            Incoming::Asb(PrinterState {
                offline: true,
                paper_end: true,
                paper_near_end: true,
                stopped_by_paper_end: true,
                ..Default::default()
            }),
            Incoming::RealTime(0x12),
            Incoming::Printed(7),
            Incoming::Asb(PrinterState::default()),
        ];
        // Whole, then byte by byte, then in every two-way split: the same messages.
        assert_eq!(Decoder::new().push(&stream), expected);
        let mut decoder = Decoder::new();
        let one_by_one: Vec<Incoming> = stream.iter().flat_map(|b| decoder.push(std::slice::from_ref(b))).collect();
        assert_eq!(one_by_one, expected);
        for split in 0..=stream.len() {
            let mut decoder = Decoder::new();
            let mut got = decoder.push(&stream[..split]);
            got.extend(decoder.push(&stream[split..]));
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn garbage_is_reported_and_skipped_without_losing_what_follows() {
        let mut decoder = Decoder::new();
        let got = decoder.push(&[0xFF, 0x00, 0x41, 0x12, 0x37, 0x22, b'1', b'x', b'3', b'4', 0x00, 0x16]);
        assert_eq!(
            got,
            vec![
                Incoming::Garbage(vec![0xFF, 0x00, 0x41]),
                Incoming::RealTime(0x12),
                Incoming::Garbage(vec![0x37, 0x22, b'1', b'x', b'3', b'4', 0x00]),
                Incoming::RealTime(0x16),
            ]
        );
        // A block that never ends is dropped once it is longer than any answer, and the
        // stream goes on.
        let mut endless = vec![0x37];
        endless.extend(std::iter::repeat_n(b'9', MAX_BLOCK));
        let got = decoder.push(&endless);
        assert!(matches!(got.as_slice(), [Incoming::Garbage(bytes)] if bytes.len() == MAX_BLOCK + 1), "{got:?}");
        assert_eq!(decoder.push(&[0x12]), vec![Incoming::RealTime(0x12)]);
        // An ASB start with a bad block is one garbage byte, not a lost status.
        assert_eq!(decoder.push(&[0x10, 0x80, 0x12]), vec![Incoming::Garbage(vec![0x10, 0x80]), Incoming::RealTime(0x12)]);
    }
}
