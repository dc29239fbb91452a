//! ISO 7816-4 command and response APDUs, with short and extended lengths, and the channel a
//! card is reached through.

/// A command to a card.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// How many bytes are expected back: `None` for none, up to 65536 (256 is `00` in a
    /// short APDU, 65536 is `00 00` in an extended one).
    pub le: Option<usize>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data can be a key or personal data: only its length is shown.
        write!(f, "Command({:02X} {:02X} {:02X} {:02X}, {} bytes, le {:?})", self.cla, self.ins, self.p1, self.p2, self.data.len(), self.le)
    }
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    pub fn le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Whether the command needs extended lengths.
    pub fn extended(&self) -> bool {
        self.data.len() > 255 || self.le.is_some_and(|le| le > 256)
    }

    /// The command's bytes: short when data and Le fit, extended otherwise.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        let extended = self.extended();
        if !self.data.is_empty() {
            if extended {
                out.extend_from_slice(&[0x00, (self.data.len() >> 8) as u8, self.data.len() as u8]);
            } else {
                out.push(self.data.len() as u8);
            }
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            if extended {
                if self.data.is_empty() {
                    out.push(0x00);
                }
                let le = if le >= 65536 { 0 } else { le };
                out.extend_from_slice(&[(le >> 8) as u8, le as u8]);
            } else {
                out.push(if le >= 256 { 0 } else { le as u8 });
            }
        }
        out
    }
}

/// A card's answer: data and the status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} bytes, SW {:04X})", self.data.len(), self.sw)
    }
}

impl Response {
    /// Splits a card's answer into data and status word; `None` if it is shorter than a
    /// status word.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let split = bytes.len().checked_sub(2)?;
        Some(Self { data: bytes[..split].to_vec(), sw: u16::from_be_bytes([bytes[split], bytes[split + 1]]) })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }

    pub fn ok(&self) -> bool {
        self.sw == SW_OK
    }
}

pub const SW_OK: u16 = 0x9000;

/// Why an APDU got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// The card left the reader's field (or was pulled out).
    CardRemoved,
    /// The reader itself went away.
    ReaderGone,
    /// The card or reader did not answer in time.
    NoAnswer,
    /// The answer was not a well-formed response APDU.
    Malformed,
    Other,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// A link to one card: a PC/SC reader slot, or a card simulator in process.
///
/// ## For implementers
///
/// Send the command as it is and return the card's complete answer: follow `61xx` with
/// GET RESPONSE and repeat a command answered `6Cxx` with the right Le, so callers never see
/// either. Never block past the transport's timeout.
pub trait CardChannel {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError>;
}

impl<C: CardChannel + ?Sized> CardChannel for Box<C> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        (**self).transmit(command)
    }
}

impl<C: CardChannel + ?Sized> CardChannel for &mut C {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        (**self).transmit(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_extended_encodings() {
        assert_eq!(Command::new(0x00, 0x84, 0, 0).le(8).encode(), [0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!(Command::new(0x00, 0xB0, 0, 0).le(256).encode(), [0x00, 0xB0, 0x00, 0x00, 0x00]);
        assert_eq!(Command::new(0x00, 0xA4, 2, 0x0C).data([0x01, 0x1E]).encode(), [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]);
        assert_eq!(Command::new(0x00, 0xB0, 0, 0).le(1000).encode(), [0x00, 0xB0, 0x00, 0x00, 0x00, 0x03, 0xE8]);
        let big = Command::new(0x0C, 0xB0, 0, 0).data(vec![7; 300]).le(65536).encode();
        assert_eq!(&big[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(&big[big.len() - 2..], &[0x00, 0x00]);
        assert_eq!(big.len(), 4 + 3 + 300 + 2);
    }

    #[test]
    fn responses_split_data_and_status() {
        let response = Response::parse(&[0x60, 0x14, 0x90, 0x00]).expect("valid");
        assert_eq!((response.data.as_slice(), response.sw), (&[0x60, 0x14][..], 0x9000));
        assert!(Response::parse(&[0x90]).is_none());
        assert_eq!(format!("{response:?}"), "Response(2 bytes, SW 9000)");
    }
}
