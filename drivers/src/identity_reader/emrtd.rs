//! [`EmrtdReader`]: the [`IdentityReader`] for chip documents, on any [`CardSlot`] (a PC/SC
//! reader, or the virtual one of the simulator). It opens the chip with the MRZ key, reads it
//! with [`icao::chip`], checks the issuer's signature with [`icao::pa`] against its trust list,
//! and maps every failure to the kind the kiosk acts on.

use super::icao::apdu::{CardChannel, TransportError, TransportErrorKind};
use super::icao::chip::{self, ChipContents, ChipError, ReadOptions};
use super::icao::mrz::MrzKey;
use super::icao::pa::{self, TrustList};
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
    /// The CSCAs whose documents read as verified (passive authentication); empty: none.
    trust: TrustList,
}

impl<S: CardSlot> std::fmt::Debug for EmrtdReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmrtdReader")
            .field("slot", &self.slot.describe())
            .field("options", &self.options)
            .field("trusted_cscas", &self.trust.len())
            .finish()
    }
}

impl<S: CardSlot> EmrtdReader<S> {
    /// A reader that reads chips but verifies none (no trust list).
    pub fn new(slot: S, options: ReadOptions) -> Self {
        Self { slot, options, trust: TrustList::default() }
    }

    /// Documents whose security object chains to one of these CSCAs read as verified.
    pub fn with_trust_list(mut self, trust: TrustList) -> Self {
        self.trust = trust;
        self
    }

    /// How far the data read can be trusted: verified when the issuer's signature over it holds
    /// and chains to the trust list; unverified when it cannot be checked; an error when the
    /// check shows the data was altered.
    fn passive_authentication(&self, contents: &ChipContents, slot: &str) -> Result<Assurance, Error> {
        let Some(sod) = &contents.sod else {
            tracing::info!(reader = %slot, "the document has no security object: its data is unverified");
            return Ok(Assurance::ChipUnverified);
        };
        let mut files: Vec<(u8, &[u8])> = vec![(1, &contents.dg1)];
        if let Some(dg2) = &contents.dg2 {
            files.push((2, dg2));
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        match pa::verify(sod, &files, &self.trust, now) {
            Ok(_) => Ok(Assurance::ChipVerified),
            Err(e) if e.is_forgery() => {
                tracing::warn!(reader = %slot, error = %e, "a document failed passive authentication");
                Err(Error::new(ErrorKind::Tampered, format!("the document's data does not match its issuer's signature ({slot})"))
                    .with_source(e))
            }
            Err(e) => {
                tracing::info!(reader = %slot, reason = %e, "the document's data could not be verified");
                Ok(Assurance::ChipUnverified)
            }
        }
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
        let contents = {
            // The card is let go (and reset) before the checks that need no card.
            let mut channel = self.slot.connect().map_err(|e| transport_error(&e, &describe))?;
            chip::read(&mut channel, &key, options, &mut system_random).map_err(|e| chip_error(e, &describe))?
        };
        let assurance = self.passive_authentication(&contents, &describe)?;
        Ok(IdentityDocument { holder: contents.holder, assurance })
    }
}
