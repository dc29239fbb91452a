//! Reading an eMRTD chip over any [`CardChannel`]: select the application, open it with BAC,
//! then read EF.COM, DG1, DG2 (when asked and present) and EF.SOD under secure messaging.
//!
//! Every answer is checked before it is used; every malformation is a typed [`ChipError`];
//! files are bounded in size, so a hostile chip can neither crash the kiosk nor make it read
//! forever.

use super::apdu::{CardChannel, Command, Response, TransportError};
use super::bac::{self, AccessKeys, BacError, TerminalSecrets};
use super::lds::{self, Com, LdsError};
use super::mrz::{HolderData, MrzKey};
use super::sm::{SecureChannel, SmError, Strictness};
use super::tlv::{self, TlvError};

/// What to read, and how strictly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub strictness: Strictness,
    /// Read DG2 (the face image, tens of kilobytes: seconds on a real chip) when present.
    pub face_image: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { strictness: Strictness::Strict, face_image: false }
    }
}

/// What was read from the chip. Personal data: nothing of it in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ChipContents {
    pub com: Com,
    pub holder: HolderData,
    /// The raw files, for passive authentication (their hashes are signed in EF.SOD).
    pub dg1: Vec<u8>,
    pub dg2: Option<Vec<u8>>,
    pub sod: Option<Vec<u8>>,
}

impl std::fmt::Debug for ChipContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipContents").field("data_groups", &self.com.data_groups).finish_non_exhaustive()
    }
}

/// Why a chip could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    #[error("the link to the card failed: {0}")]
    Transport(#[from] TransportError),
    /// The card has no eMRTD application: not a travel or identity document with a chip.
    #[error("the card has no eMRTD application (SELECT answered {0:04X})")]
    NotAnEmrtd(u16),
    /// BAC failed: the MRZ data does not belong to this document.
    #[error("the chip refused the access key (MUTUAL AUTHENTICATE answered {0:04X})")]
    AccessDenied(u16),
    #[error("BAC failed: {0}")]
    Bac(#[from] BacError),
    #[error("the chip answered {what} with {sw:04X}")]
    Refused { what: &'static str, sw: u16 },
    #[error("the chip's answer to {what} is not secured properly: {error}")]
    SecureMessaging { what: &'static str, error: SmError },
    #[error("the chip answered {what} with {got} bytes where {expected} were asked for")]
    Length { what: &'static str, expected: usize, got: usize },
    #[error("file {file:04X}: {error}")]
    File { file: u16, error: LdsError },
    #[error("file {file:04X} claims {size} bytes, more than the {limit} accepted")]
    TooLarge { file: u16, size: usize, limit: usize },
}

/// The largest file read: DG2 with a face image is tens of kilobytes; 64 KiB leaves room.
pub const MAX_FILE: usize = 64 * 1024;
/// Bytes asked for per READ BINARY: answers stay within 256 bytes once wrapped.
const CHUNK: usize = 0xDF;
/// READ BINARY with INS B0 reaches offsets up to 32767.
const MAX_OFFSET: usize = 0x7FFF;

/// Sends a plain command and insists on `9000`.
fn plain(channel: &mut impl CardChannel, command: &Command, what: &'static str) -> Result<Response, ChipError> {
    let response = channel.transmit(command)?;
    if !response.ok() {
        return Err(ChipError::Refused { what, sw: response.sw });
    }
    Ok(response)
}

/// A channel with secure messaging on.
struct Secured<'c, C: CardChannel> {
    channel: &'c mut C,
    sm: SecureChannel,
}

impl<C: CardChannel> Secured<'_, C> {
    fn send(&mut self, command: &Command, what: &'static str) -> Result<Response, ChipError> {
        let protected = self.sm.protect(command);
        let answer = self.channel.transmit(&protected)?;
        let response = self.sm.unprotect(&answer).map_err(|error| ChipError::SecureMessaging { what, error })?;
        if !response.ok() {
            return Err(ChipError::Refused { what, sw: response.sw });
        }
        Ok(response)
    }

    fn read_binary(&mut self, offset: usize, len: usize, file: u16) -> Result<Vec<u8>, ChipError> {
        if offset > MAX_OFFSET {
            return Err(ChipError::TooLarge { file, size: offset + len, limit: MAX_OFFSET });
        }
        let command = Command::new(0x00, 0xB0, (offset >> 8) as u8, offset as u8).le(len);
        let data = self.send(&command, "READ BINARY")?.data;
        if data.is_empty() || data.len() > len {
            return Err(ChipError::Length { what: "READ BINARY", expected: len, got: data.len() });
        }
        Ok(data)
    }

    /// Selects a file and reads it whole; its size comes from its first bytes.
    fn read_file(&mut self, file: u16) -> Result<Vec<u8>, ChipError> {
        self.send(&Command::new(0x00, 0xA4, 0x02, 0x0C).data(file.to_be_bytes()), "SELECT")?;
        // The first four bytes hold the tag and length of all but the largest files; those
        // with a three-byte length need up to eight.
        let mut content = self.read_binary(0, 4, file)?;
        let size = loop {
            let known = tlv::encoded_len(&content).map_err(|error| ChipError::File { file, error: LdsError::Tlv(error) })?;
            match known {
                Some(size) => break size,
                None if content.len() < 8 => {
                    let more = self.read_binary(content.len(), 8 - content.len(), file)?;
                    content.extend_from_slice(&more);
                }
                None => return Err(ChipError::File { file, error: LdsError::Tlv(TlvError::TruncatedLength) }),
            }
        };
        if size > MAX_FILE {
            return Err(ChipError::TooLarge { file, size, limit: MAX_FILE });
        }
        content.truncate(size);
        while content.len() < size {
            let chunk = self.read_binary(content.len(), CHUNK.min(size - content.len()), file)?;
            content.extend_from_slice(&chunk);
        }
        Ok(content)
    }
}

/// Reads the chip. `random` fills the terminal's challenge and key half (the system's random
/// generator in the kiosk; fixed values in tests).
pub fn read(
    channel: &mut impl CardChannel,
    key: &MrzKey,
    options: ReadOptions,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<ChipContents, ChipError> {
    let select = Command::new(0x00, 0xA4, 0x04, 0x0C).data(lds::AID);
    let selected = channel.transmit(&select)?;
    if !selected.ok() {
        return Err(ChipError::NotAnEmrtd(selected.sw));
    }
    let challenge = plain(channel, &Command::new(0x00, 0x84, 0x00, 0x00).le(8), "GET CHALLENGE")?;
    let rnd_ic: [u8; 8] = challenge.data.as_slice().try_into().map_err(|_| ChipError::Length {
        what: "GET CHALLENGE",
        expected: 8,
        got: challenge.data.len(),
    })?;
    let mut secrets = TerminalSecrets { rnd_ifd: [0; 8], k_ifd: [0; 16] };
    random(&mut secrets.rnd_ifd);
    random(&mut secrets.k_ifd);
    let keys = AccessKeys::from_mrz(key);
    let authenticate = Command::new(0x00, 0x82, 0x00, 0x00).data(bac::terminal_authenticate(&keys, &rnd_ic, &secrets)).le(40);
    let answer = channel.transmit(&authenticate)?;
    if !answer.ok() {
        // 6300 (authentication failed) and 6982 (security status not satisfied) both mean the
        // chip did not accept the key.
        return Err(ChipError::AccessDenied(answer.sw));
    }
    let session = bac::terminal_complete(&keys, &answer.data, &rnd_ic, &secrets)?;
    let mut secured = Secured { channel, sm: SecureChannel::new(session, options.strictness) };

    let file_error = |file: u16| move |error: LdsError| ChipError::File { file, error };
    let com_file = secured.read_file(lds::EF_COM)?;
    let com = lds::parse_com(&com_file).map_err(file_error(lds::EF_COM))?;
    let dg1_file = lds::data_group_file(1);
    let dg1 = secured.read_file(dg1_file)?;
    let holder = lds::parse_dg1(&dg1).map_err(file_error(dg1_file))?;
    let dg2 = if options.face_image && com.data_groups.contains(&2) { Some(secured.read_file(lds::data_group_file(2))?) } else { None };
    let sod = match secured.read_file(lds::EF_SOD) {
        Ok(sod) => Some(sod),
        // A document without a security object cannot be verified; it can still be read.
        Err(ChipError::Refused { sw: 0x6A82, .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(ChipContents { com, holder, dg1, dg2, sod })
}
