//! ZVT application protocol data units: `CLASS INSTR LEN DATA`, where `LEN` is one byte, or
//! `FF lo hi` (little-endian) for data of 255 bytes and more.
//!
//! TCP delivers a byte stream: an acknowledgement and the terminal's next message may arrive
//! in one read, and a long message (a receipt) in many. [`ApduFramer`] cuts the stream by the
//! length each APDU announces, never by read boundaries. Written here rather than taken from
//! the `zvt` crate, whose reader is async-only and reads from the socket directly; the kiosk's
//! drivers are blocking and need the framing as a pure step they can test.

use std::fmt;

/// The longest data an APDU can carry (the extended length is 16 bits).
pub const MAX_DATA: usize = u16::MAX as usize;

/// One message. Its `Debug` shows the command and the length, not the data (which can hold
/// receipt lines and masked card data).
#[derive(Clone, PartialEq, Eq)]
pub struct Apdu {
    pub class: u8,
    pub instr: u8,
    pub data: Vec<u8>,
}

impl fmt::Debug for Apdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Apdu({:02X} {:02X}, {} bytes)", self.class, self.instr, self.data.len())
    }
}

/// An APDU that cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("APDU data of {0} bytes exceeds the 65535 a ZVT length can say")]
pub struct TooLong(pub usize);

impl Apdu {
    pub fn new(class: u8, instr: u8, data: impl Into<Vec<u8>>) -> Self {
        Self { class, instr, data: data.into() }
    }

    /// The positive acknowledgement `80 00 00`.
    pub fn ack() -> Self {
        Self::new(0x80, 0x00, Vec::new())
    }

    /// The command as `CLASS INSTR`, e.g. `0x0601`.
    pub fn command(&self) -> u16 {
        u16::from_be_bytes([self.class, self.instr])
    }

    pub fn encode(&self) -> Result<Vec<u8>, TooLong> {
        let len = self.data.len();
        if len > MAX_DATA {
            return Err(TooLong(len));
        }
        let mut out = Vec::with_capacity(len + 5);
        out.extend_from_slice(&[self.class, self.instr]);
        if len < 0xFF {
            out.push(len as u8);
        } else {
            out.push(0xFF);
            out.extend_from_slice(&(len as u16).to_le_bytes());
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Cuts a byte stream into APDUs. Pure: the caller feeds what it read.
#[derive(Default)]
pub struct ApduFramer {
    buffer: Vec<u8>,
}

impl fmt::Debug for ApduFramer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApduFramer").field("pending", &self.buffer.len()).finish()
    }
}

impl ApduFramer {
    /// Takes bytes as read; returns every APDU they complete, in order. A partial APDU stays
    /// for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Apdu> {
        self.buffer.extend_from_slice(bytes);
        let mut complete = Vec::new();
        while let Some((header, len)) = self.announced() {
            if self.buffer.len() < header + len {
                break;
            }
            let rest = self.buffer.split_off(header + len);
            let whole = std::mem::replace(&mut self.buffer, rest);
            complete.push(Apdu::new(whole[0], whole[1], &whole[header..]));
        }
        complete
    }

    /// The header length and data length of the APDU at the front, once they are known.
    fn announced(&self) -> Option<(usize, usize)> {
        match self.buffer.get(2)? {
            0xFF => Some((5, u16::from_le_bytes([*self.buffer.get(3)?, *self.buffer.get(4)?]) as usize)),
            &len => Some((3, len as usize)),
        }
    }

    /// Bytes of an APDU begun and not finished (the connection closing now cuts it).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Forgets a partial APDU (after a reconnection).
    pub fn reset(&mut self) {
        self.buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_extended_lengths_round_trip() {
        for len in [0, 1, 254, 255, 256, 1126, MAX_DATA] {
            let apdu = Apdu::new(0x06, 0xD3, vec![0x5A; len]);
            let bytes = apdu.encode().expect("encodes");
            assert_eq!(bytes.len(), len + if len < 255 { 3 } else { 5 }, "{len}");
            assert_eq!(ApduFramer::default().push(&bytes), vec![apdu]);
        }
        assert_eq!(Apdu::new(0x06, 0xD3, vec![0; MAX_DATA + 1]).encode(), Err(TooLong(MAX_DATA + 1)));
        assert_eq!(Apdu::ack().encode().expect("ack"), [0x80, 0x00, 0x00]);
    }

    #[test]
    fn an_ack_and_the_next_message_in_one_read_are_two_and_a_message_in_pieces_is_one() {
        let status = Apdu::new(0x04, 0xFF, vec![0x0A, 0x06, 0x01, 0x00]);
        let receipt = Apdu::new(0x06, 0xD3, vec![0x41; 600]);
        let mut stream = Apdu::ack().encode().expect("ack");
        stream.extend(status.encode().expect("status"));
        stream.extend(receipt.encode().expect("receipt"));
        let mut framer = ApduFramer::default();
        assert_eq!(framer.push(&stream), vec![Apdu::ack(), status.clone(), receipt.clone()]);
        // Byte by byte, and in every split of the header.
        let mut got = Vec::new();
        for byte in &stream {
            got.extend(framer.push(std::slice::from_ref(byte)));
        }
        assert_eq!(got, vec![Apdu::ack(), status, receipt]);
        assert_eq!(framer.pending(), 0);
        framer.push(&[0x06, 0xD3, 0xFF, 0x10]);
        assert_eq!(framer.pending(), 4);
        framer.reset();
        assert_eq!(framer.pending(), 0);
    }

    #[test]
    fn debug_shows_no_data() {
        let shown = format!("{:?}", Apdu::new(0x06, 0x0F, b"VISA ************4242".to_vec()));
        assert_eq!(shown, "Apdu(06 0F, 21 bytes)");
    }
}
