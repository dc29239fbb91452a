//! How APDUs travel between the kiosk and the terminal: [`TcpWire`] (the APDUs as they are,
//! cut by their length) or [`SerialWire`] (each APDU in a frame, confirmed by the receiver).
//! Both sides of ZVT use them: the kiosk's driver and the virtual terminal.
//!
//! The serial framing (ZVT's transport protocol for RS-232 and USB CDC lines):
//!
//! ```text
//! DLE STX  APDU, every DLE in it sent twice  DLE ETX  CRC-lo CRC-hi
//! ```
//!
//! The CRC is CRC-16/KERMIT (CCITT polynomial, bit-reflected, start 0) over the APDU's bytes
//! (before doubling) and the ETX, sent low byte first. The receiver answers each frame with ACK
//! (`06`) when the CRC holds and NAK (`15`) when it does not; the sender sends it again after
//! a NAK or a silence, three times in all. The framing is written here: no crate does ZVT's
//! serial transport (the `zvt` crate speaks TCP only).

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serialport::SerialPort;

use super::apdu::{Apdu, ApduFramer, MAX_DATA};
use crate::error::read_timed_out;

/// One side's end of the link to the other.
pub trait Wire: Send {
    /// Sends encoded APDUs (on a serial line, one APDU: it goes out as one frame and returns
    /// once the other side confirmed it).
    fn send(&mut self, apdu: &[u8]) -> std::io::Result<()>;
    /// The next APDU, or `None` when `deadline` passes first.
    fn next(&mut self, deadline: Instant) -> std::io::Result<Option<Apdu>>;
    /// Ends the link: TCP closes; a serial line has nothing to close.
    fn close(&mut self);
}

/// ZVT over TCP: APDUs back to back, cut by the length each announces.
pub struct TcpWire {
    stream: TcpStream,
    framer: ApduFramer,
    inbox: VecDeque<Apdu>,
    /// Writes one byte at a time, so the other side reads every message in pieces (the
    /// virtual terminal's split delivery).
    pub byte_per_write: bool,
}

impl std::fmt::Debug for TcpWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpWire").field("peer", &self.stream.peer_addr().ok()).finish_non_exhaustive()
    }
}

impl TcpWire {
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self { stream, framer: ApduFramer::default(), inbox: VecDeque::new(), byte_per_write: false }
    }
}

impl Wire for TcpWire {
    fn send(&mut self, apdu: &[u8]) -> std::io::Result<()> {
        if !self.byte_per_write {
            return self.stream.write_all(apdu);
        }
        for byte in apdu {
            self.stream.write_all(std::slice::from_ref(byte))?;
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    fn next(&mut self, deadline: Instant) -> std::io::Result<Option<Apdu>> {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(apdu) = self.inbox.pop_front() {
                return Ok(Some(apdu));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.inbox.extend(self.framer.push(&chunk[..n])),
                Err(e) if read_timed_out(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

pub const DLE: u8 = 0x10;
pub const STX: u8 = 0x02;
pub const ETX: u8 = 0x03;
pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;

/// How often a frame goes out before the sender gives up.
pub const SERIAL_TRIES: usize = 3;

const KERMIT: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_KERMIT);

/// The frame's check value: over the APDU and the ETX that ends it.
pub fn frame_crc(apdu: &[u8]) -> u16 {
    let mut digest = KERMIT.digest();
    digest.update(apdu);
    digest.update(&[ETX]);
    digest.finalize()
}

/// One APDU as a serial frame.
pub fn frame(apdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(apdu.len() + 8);
    out.extend_from_slice(&[DLE, STX]);
    for &byte in apdu {
        out.push(byte);
        if byte == DLE {
            out.push(DLE);
        }
    }
    out.extend_from_slice(&[DLE, ETX]);
    out.extend_from_slice(&frame_crc(apdu).to_le_bytes());
    out
}

/// What the bytes on a serial line said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// A frame whose CRC holds: its APDU bytes.
    Frame(Vec<u8>),
    /// A frame that arrived damaged (CRC, or a DLE followed by what cannot follow it): NAK it.
    Damaged,
    Ack,
    Nak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineState {
    /// Between frames: ACK, NAK, or the DLE that starts a frame.
    Idle,
    IdleDle,
    InFrame,
    InFrameDle,
    /// After DLE ETX: the CRC's bytes so far.
    Crc(u8),
}

/// Reads a serial line's bytes as frames and confirmations. Pure: the caller feeds what it
/// read, in pieces of any size.
#[derive(Debug)]
pub struct LineDecoder {
    state: LineState,
    data: Vec<u8>,
    crc: [u8; 2],
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self { state: LineState::Idle, data: Vec::new(), crc: [0; 2] }
    }
}

impl LineDecoder {
    /// The longest APDU a frame can hold: the extended length's data and its header.
    const MAX_FRAME: usize = MAX_DATA + 5;

    pub fn push(&mut self, bytes: &[u8]) -> Vec<LineEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            self.state = match (self.state, byte) {
                (LineState::Idle, ACK) => {
                    events.push(LineEvent::Ack);
                    LineState::Idle
                }
                (LineState::Idle, NAK) => {
                    events.push(LineEvent::Nak);
                    LineState::Idle
                }
                (LineState::Idle, DLE) => LineState::IdleDle,
                // Line noise between frames: nothing to answer.
                (LineState::Idle, _) => LineState::Idle,
                (LineState::IdleDle, STX) => {
                    self.data.clear();
                    LineState::InFrame
                }
                (LineState::IdleDle, DLE) => LineState::IdleDle,
                (LineState::IdleDle, _) => LineState::Idle,
                // Longer than any APDU: line noise, not a frame.
                (LineState::InFrame | LineState::InFrameDle, _) if self.data.len() >= Self::MAX_FRAME => {
                    events.push(LineEvent::Damaged);
                    LineState::Idle
                }
                (LineState::InFrame, DLE) => LineState::InFrameDle,
                (LineState::InFrame, _) => {
                    self.data.push(byte);
                    LineState::InFrame
                }
                (LineState::InFrameDle, DLE) => {
                    self.data.push(DLE);
                    LineState::InFrame
                }
                (LineState::InFrameDle, ETX) => LineState::Crc(0),
                // The sender started over (it gave up on the frame and sends it again).
                (LineState::InFrameDle, STX) => {
                    self.data.clear();
                    LineState::InFrame
                }
                (LineState::InFrameDle, _) => {
                    events.push(LineEvent::Damaged);
                    LineState::Idle
                }
                (LineState::Crc(0), _) => {
                    self.crc[0] = byte;
                    LineState::Crc(1)
                }
                (LineState::Crc(_), _) => {
                    self.crc[1] = byte;
                    let data = std::mem::take(&mut self.data);
                    if u16::from_le_bytes(self.crc) == frame_crc(&data) {
                        events.push(LineEvent::Frame(data));
                    } else {
                        events.push(LineEvent::Damaged);
                    }
                    LineState::Idle
                }
            };
        }
        events
    }
}

/// What a test turns to make a serial line misbehave (the virtual terminal's): frames to send
/// with a broken CRC, frames to refuse with NAK although they arrived whole, and bytes written
/// one at a time. Shared, so a test turns them while the line is in use.
#[derive(Clone, Debug, Default)]
pub struct LineQuirks {
    pub garble_sent: Arc<AtomicUsize>,
    pub refuse_received: Arc<AtomicUsize>,
    pub byte_per_write: Arc<AtomicBool>,
    /// Frames the other side asked for again (NAK): counted, for tests to see the asking.
    pub asked_again: Arc<AtomicUsize>,
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

/// ZVT over a serial line (RS-232, or a terminal's USB CDC port).
pub struct SerialWire {
    port: Box<dyn SerialPort>,
    decoder: LineDecoder,
    inbox: VecDeque<Apdu>,
    /// A frame whose CRC held but which holds no single APDU: reported by the next `next`.
    unreadable: Option<String>,
    /// ACKs and NAKs not yet taken by `send`.
    confirmations: VecDeque<LineEvent>,
    /// How long the other side may take to confirm a frame.
    pub confirm_timeout: Duration,
    pub quirks: LineQuirks,
}

impl std::fmt::Debug for SerialWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialWire").field("port", &self.port.name()).finish_non_exhaustive()
    }
}

impl SerialWire {
    /// Opens `path`. ZVT's serial line runs 8 data bits, no parity, 2 stop bits; 9600 baud
    /// unless the terminal is set faster.
    pub fn open(path: &str, baud_rate: u32) -> std::io::Result<Self> {
        let port = serialport::new(path, baud_rate)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::Two)
            .timeout(Duration::from_millis(50))
            .open()
            .map_err(std::io::Error::from)?;
        // Bytes from before the kiosk opened the line (a frame half sent before a restart)
        // belong to no exchange of this link.
        let _ = port.clear(serialport::ClearBuffer::Input);
        Ok(Self::new(port))
    }

    pub fn new(port: Box<dyn SerialPort>) -> Self {
        Self {
            port,
            decoder: LineDecoder::default(),
            inbox: VecDeque::new(),
            unreadable: None,
            confirmations: VecDeque::new(),
            confirm_timeout: Duration::from_secs(1),
            quirks: LineQuirks::default(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.quirks.byte_per_write.load(Ordering::Relaxed) {
            for byte in bytes {
                self.port.write_all(std::slice::from_ref(byte))?;
                self.port.flush()?;
            }
            return Ok(());
        }
        self.port.write_all(bytes)?;
        self.port.flush()
    }

    /// Reads what arrives until `deadline` or the first bytes, and answers the frames in it.
    fn pump(&mut self, deadline: Instant) -> std::io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        self.port.set_timeout(left).map_err(std::io::Error::from)?;
        let mut chunk = [0u8; 1024];
        let n = match self.port.read(&mut chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if read_timed_out(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        for event in self.decoder.push(&chunk[..n]) {
            match event {
                LineEvent::Frame(data) if take_one(&self.quirks.refuse_received) => {
                    tracing::debug!(bytes = data.len(), "serial ZVT: refusing a whole frame (line noise)");
                    self.write(&[NAK])?;
                }
                LineEvent::Frame(data) => {
                    self.write(&[ACK])?;
                    let mut framer = ApduFramer::default();
                    let mut apdus = framer.push(&data);
                    match (apdus.pop(), apdus.is_empty() && framer.pending() == 0) {
                        (Some(apdu), true) => self.inbox.push_back(apdu),
                        _ => {
                            self.unreadable = Some(format!("a frame of {} bytes that holds no single ZVT message", data.len()));
                        }
                    }
                }
                LineEvent::Damaged => {
                    tracing::debug!("serial ZVT: a damaged frame, asking for it again");
                    self.write(&[NAK])?;
                }
                confirmation @ (LineEvent::Ack | LineEvent::Nak) => self.confirmations.push_back(confirmation),
            }
        }
        Ok(())
    }
}

impl Wire for SerialWire {
    fn send(&mut self, apdu: &[u8]) -> std::io::Result<()> {
        let framed = frame(apdu);
        // A confirmation left from before answers nothing now.
        self.confirmations.clear();
        for attempt in 1..=SERIAL_TRIES {
            if take_one(&self.quirks.garble_sent) {
                let mut garbled = framed.clone();
                let last = garbled.len() - 1;
                garbled[last] ^= 0x5A;
                self.write(&garbled)?;
            } else {
                self.write(&framed)?;
            }
            let deadline = Instant::now() + self.confirm_timeout;
            loop {
                match self.confirmations.pop_front() {
                    Some(LineEvent::Ack) => return Ok(()),
                    Some(_) => {
                        self.quirks.asked_again.fetch_add(1, Ordering::SeqCst);
                        tracing::debug!(attempt, "serial ZVT: the other side asked for the frame again");
                        break;
                    }
                    None if Instant::now() >= deadline => break,
                    None => self.pump(deadline)?,
                }
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("the other side did not confirm the frame ({SERIAL_TRIES} tries)")))
    }

    fn next(&mut self, deadline: Instant) -> std::io::Result<Option<Apdu>> {
        loop {
            if let Some(what) = self.unreadable.take() {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, what));
            }
            if let Some(apdu) = self.inbox.pop_front() {
                return Ok(Some(apdu));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            self.pump(deadline)?;
        }
    }

    fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_kermit_sent_low_byte_first() {
        // CRC-16/KERMIT's check value over "123456789" is 0x2189.
        assert_eq!(KERMIT.checksum(b"123456789"), 0x2189);
        let framed = frame(&[0x80, 0x00, 0x00]);
        let crc = frame_crc(&[0x80, 0x00, 0x00]);
        assert_eq!(&framed[..7], &[DLE, STX, 0x80, 0x00, 0x00, DLE, ETX]);
        assert_eq!(&framed[7..], &crc.to_le_bytes());
    }

    #[test]
    fn a_dle_in_the_data_goes_twice_and_comes_back_once() {
        let apdu = [0x06, 0x01, 0x03, 0x10, 0x10, 0x03];
        let framed = frame(&apdu);
        assert_eq!(&framed[2..11], &[0x06, 0x01, 0x03, DLE, DLE, DLE, DLE, 0x03, DLE]);
        // Byte by byte, the decoder gives the APDU back once.
        let mut decoder = LineDecoder::default();
        let events: Vec<_> = framed.iter().flat_map(|b| decoder.push(std::slice::from_ref(b))).collect();
        assert_eq!(events, vec![LineEvent::Frame(apdu.to_vec())]);
    }

    #[test]
    fn confirmations_frames_and_damage_read_apart_in_one_piece() {
        let mut line = vec![ACK, 0x41, NAK];
        line.extend(frame(&[0x04, 0xFF, 0x01, 0x0A]));
        let mut damaged = frame(&[0x06, 0x0F, 0x00]);
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        line.extend(damaged);
        // A frame cut short by a new start: the sender began again.
        line.extend_from_slice(&[DLE, STX, 0x06, 0x1E]);
        line.extend(frame(&[0x06, 0x1E, 0x01, 0x6C]));
        let events = LineDecoder::default().push(&line);
        assert_eq!(
            events,
            vec![
                LineEvent::Ack,
                LineEvent::Nak,
                LineEvent::Frame(vec![0x04, 0xFF, 0x01, 0x0A]),
                LineEvent::Damaged,
                LineEvent::Frame(vec![0x06, 0x1E, 0x01, 0x6C]),
            ]
        );
    }

    #[test]
    fn a_frame_longer_than_any_apdu_is_damage_and_the_next_frame_reads() {
        let mut line = vec![DLE, STX];
        line.extend(std::iter::repeat_n(DLE, 2 * (LineDecoder::MAX_FRAME + 2)));
        line.extend(frame(&[0x80, 0x00, 0x00]));
        assert_eq!(LineDecoder::default().push(&line), vec![LineEvent::Damaged, LineEvent::Frame(vec![0x80, 0x00, 0x00])]);
    }

    #[test]
    fn a_dle_before_anything_but_dle_etx_or_stx_is_damage() {
        assert_eq!(LineDecoder::default().push(&[DLE, STX, 0x80, DLE, 0x41]), vec![LineEvent::Damaged]);
    }
}
