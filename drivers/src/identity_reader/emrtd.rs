//! [`EmrtdReader`]: the [`IdentityReader`] for chip documents, on any [`CardSlot`] (a PC/SC
//! reader, or the virtual one of the simulator). It opens the chip with the MRZ key and reads
//! it with [`icao::chip`], and maps every failure to the kind the kiosk acts on.

use super::icao::apdu::{CardChannel, TransportError, TransportErrorKind};
use super::icao::chip::{self, ChipError, ReadOptions};
use super::icao::mrz::MrzKey;
use super::{AccessKey, Assurance, Error, ErrorKind, IdentityDocument, IdentityReader, IdentityReaderStatus};

/// What a reader slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotStatus {
    NoReader,
    Empty,
    CardPresent,
    /// A card is there but does not answer its reset (mute, or put on badly).
    CardMute,
}

/// A place a card is put: a PC/SC reader, or a simulator.
///
/// ## For implementers
///
/// `connect` gives exclusive use of the card until the channel is dropped; every call is
/// bounded in time; a reader that disappears is `ReaderGone`, never a hang.
pub trait CardSlot: Send {
    /// Where the reader is, for the technician.
    fn describe(&self) -> String;
    fn status(&mut self) -> Result<SlotStatus, TransportError>;
    fn connect(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError>;
}

/// A chip-document reader.
pub struct EmrtdReader<S: CardSlot> {
    slot: S,
    options: ReadOptions,
}

impl<S: CardSlot> std::fmt::Debug for EmrtdReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmrtdReader").field("slot", &self.slot.describe()).field("options", &self.options).finish()
    }
}

impl<S: CardSlot> EmrtdReader<S> {
    pub fn new(slot: S, options: ReadOptions) -> Self {
        Self { slot, options }
    }

    pub fn slot(&mut self) -> &mut S {
        &mut self.slot
    }
}

fn transport_error(e: &TransportError, slot: &str) -> Error {
    let kind = match e.kind {
        TransportErrorKind::CardRemoved => ErrorKind::DocumentRemoved,
        TransportErrorKind::ReaderGone => ErrorKind::NoReader,
        TransportErrorKind::NoAnswer => ErrorKind::NoAnswer,
        TransportErrorKind::Malformed => ErrorKind::Protocol,
        TransportErrorKind::Other => ErrorKind::Other,
    };
    let advice = match kind {
        ErrorKind::DocumentRemoved => "the document was taken off the reader during the read",
        ErrorKind::NoReader => "the identity reader is gone: check its cable",
        ErrorKind::NoAnswer => "the document's chip or the reader did not answer in time",
        _ => "the link to the document failed",
    };
    Error::new(kind, format!("{advice} ({slot}): {}", e.message))
}

/// The kind for a chip that could not be read, with what the technician should know.
fn chip_error(e: ChipError, slot: &str) -> Error {
    let kind = match &e {
        ChipError::Transport(t) => return transport_error(t, slot),
        ChipError::NotAnEmrtd(_) => ErrorKind::Unsupported,
        ChipError::AccessDenied(_) => ErrorKind::AccessDenied,
        ChipError::Bac(_)
        | ChipError::Refused { .. }
        | ChipError::SecureMessaging { .. }
        | ChipError::Length { .. }
        | ChipError::File { .. }
        | ChipError::TooLarge { .. } => ErrorKind::Protocol,
    };
    Error::new(kind, format!("the document's chip could not be read ({slot})")).with_source(e)
}

/// The system's random generator fills the terminal's BAC challenge and key half.
fn system_random(buf: &mut [u8]) {
    use rand::RngCore as _;
    rand::rng().fill_bytes(buf);
}

impl<S: CardSlot> IdentityReader for EmrtdReader<S> {
    fn status(&mut self) -> Result<IdentityReaderStatus, Error> {
        Ok(match self.slot.status() {
            Ok(SlotStatus::NoReader) => IdentityReaderStatus::NoReader,
            Ok(SlotStatus::Empty) => IdentityReaderStatus::NoDocument,
            Ok(SlotStatus::CardPresent) => IdentityReaderStatus::DocumentPresent,
            Ok(SlotStatus::CardMute) => IdentityReaderStatus::DocumentError,
            Err(e) => {
                tracing::debug!(reader = %self.slot.describe(), error = %e, "identity reader status unknown");
                IdentityReaderStatus::NoReader
            }
        })
    }

    fn read(&mut self, key: &AccessKey) -> Result<IdentityDocument, Error> {
        let describe = self.slot.describe();
        let key = match key {
            AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } => {
                MrzKey::new(document_number, *date_of_birth, *date_of_expiry)
                    .map_err(|e| Error::new(ErrorKind::AccessDenied, "the MRZ data given cannot open any chip").with_source(e))?
            }
            AccessKey::Can(_) => {
                return Err(Error::new(ErrorKind::Unsupported, "opening a chip with its card access number (PACE) is not supported yet"));
            }
        };
        let options = self.options;
        let mut channel = self.slot.connect().map_err(|e| transport_error(&e, &describe))?;
        let contents = chip::read(&mut channel, &key, options, &mut system_random).map_err(|e| chip_error(e, &describe))?;
        Ok(IdentityDocument { holder: contents.holder, assurance: Assurance::ChipUnverified })
    }
}
