//! Identity documents with a chip (ICAO 9303 passports and ID cards), read through a
//! contactless or contact reader after opening the chip with an access key from the MRZ (BAC)
//! or the card access number (PACE).
//!
//! - `icao/` — ICAO 9303 without I/O: MRZ, BAC, secure messaging, the files, the reading of a
//!   chip over any card channel, and a virtual chip;
//! - `emrtd.rs` — [`emrtd::EmrtdReader`], the [`IdentityReader`] on any card slot;
//! - `pcsc.rs` — card slots of PC/SC readers (pcscd);
//! - `ocr.rs` — OCR readers of the machine-readable zone over a serial line, whose zone opens
//!   the chip without the citizen typing;
//! - `sim.rs` — the reader simulated in process: the real reader over a virtual chip.
//!
//! What a reader returns is personal data: the types here print nothing of it in `Debug`.

pub mod emrtd;
pub mod icao;
pub mod ocr;
pub mod pcsc;
#[cfg(feature = "simulators")]
pub mod sim;

use std::fmt;

/// What the reader reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityReaderStatus {
    /// Reader present, no document on it.
    NoDocument,
    /// A document is on the reader.
    DocumentPresent,
    /// No reader is connected.
    NoReader,
    /// A document is present but its chip does not answer properly.
    DocumentError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NoReader,
    NoDocument,
    /// The document was taken away during the read.
    DocumentRemoved,
    /// The chip refused the access key: the MRZ data does not match this document.
    AccessDenied,
    /// The document or its chip is of a kind this reader cannot read.
    Unsupported,
    /// The chip's answers broke the protocol (bad MAC, truncated data, unexpected status).
    Protocol,
    /// The chip's data does not match its issuer's signature (passive authentication): the
    /// document was altered or forged.
    Tampered,
    NoAnswer,
    Other,
}

pub type Error = crate::DeviceError<ErrorKind>;

/// A calendar date as printed on documents.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl fmt::Debug for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Dates here are birth and expiry dates: personal data.
        f.write_str("CalendarDate(..)")
    }
}

impl CalendarDate {
    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What opens the chip.
#[derive(Clone, PartialEq, Eq)]
pub enum AccessKey {
    /// From the machine-readable zone: document number, date of birth, date of expiry (BAC, or
    /// PACE with the MRZ as password).
    Mrz { document_number: String, date_of_birth: CalendarDate, date_of_expiry: CalendarDate },
    /// The card access number printed on the card (PACE).
    Can(String),
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mrz { .. } => f.write_str("AccessKey::Mrz(..)"),
            Self::Can(_) => f.write_str("AccessKey::Can(..)"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentType {
    Passport,
    IdentityCard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    Female,
    Male,
    Unspecified,
}

/// How far the data can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assurance {
    /// Read from the chip, and the issuer's signature over it checked against the trust list
    /// (passive authentication).
    ChipVerified,
    /// Read from the chip, but the signature could not be checked (no security object, or the
    /// issuer is not on the trust list).
    ChipUnverified,
}

/// The holder's data as the machine-readable zone carries it (in DG1 on the chip). Personal
/// data: nothing of it in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct HolderData {
    pub document_type: DocumentType,
    /// ISO 3166 alpha-3 code, with ICAO's additions (e.g. `CHN`, `PRT`, `D<<`).
    pub issuing_state: String,
    pub document_number: String,
    pub surname: String,
    pub given_names: String,
    pub nationality: String,
    pub date_of_birth: CalendarDate,
    pub sex: Sex,
    pub date_of_expiry: CalendarDate,
}

impl fmt::Debug for HolderData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HolderData").field("document_type", &self.document_type).finish_non_exhaustive()
    }
}

impl HolderData {
    /// What opens this document's chip.
    pub fn access_key(&self) -> AccessKey {
        AccessKey::Mrz {
            document_number: self.document_number.clone(),
            date_of_birth: self.date_of_birth,
            date_of_expiry: self.date_of_expiry,
        }
    }
}

/// A document read from its chip. Lives in memory for one session only.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    pub holder: HolderData,
    pub assurance: Assurance,
}

impl fmt::Debug for IdentityDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityDocument")
            .field("document_type", &self.holder.document_type)
            .field("assurance", &self.assurance)
            .finish_non_exhaustive()
    }
}

/// A reader of chip identity documents.
///
/// ## For callers
///
/// Poll `status` to learn when a document is placed; then `read` with the access key. A
/// document taken away mid-read is `DocumentRemoved`; ask for it again and retry.
///
/// ## For driver authors
///
/// Never keep anything of the document after `read` returns; never log it. A reader unplugged
/// mid-read is an error, never a hang.
pub trait IdentityReader: Send {
    fn status(&mut self) -> Result<IdentityReaderStatus, Error>;
    fn read(&mut self, key: &AccessKey) -> Result<IdentityDocument, Error>;
}

impl<T: IdentityReader + ?Sized> IdentityReader for Box<T> {
    fn status(&mut self) -> Result<IdentityReaderStatus, Error> {
        (**self).status()
    }
    fn read(&mut self, key: &AccessKey) -> Result<IdentityDocument, Error> {
        (**self).read(key)
    }
}
