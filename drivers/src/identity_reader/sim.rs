//! A chip-document reader simulated in process: the real [`EmrtdReader`] reading a
//! [`VirtualChip`] through a virtual slot, so every simulated read is BAC and secure messaging
//! byte for byte. A document can be placed and taken away, its chip opens only with the
//! matching MRZ key, and it can answer with bad MACs or be removed in the middle of a read.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::emrtd::{CardSlot, EmrtdReader, SlotStatus};
use super::icao::apdu::{CardChannel, Command, Response, TransportError, TransportErrorKind};
use super::icao::card::{ChipFaults, VirtualChip};
use super::icao::chip::ReadOptions;
use super::icao::lds;
use super::icao::pa::TrustList;
use super::icao::signer::DocumentSigner;
use super::{AccessKey, CalendarDate, DocumentType, Error, HolderData, IdentityDocument, IdentityReader, IdentityReaderStatus, Sex};
use der::Decode as _;

#[derive(Debug, Default)]
struct Knobs {
    reader_present: bool,
    chip: Option<VirtualChip>,
    chip_broken: bool,
    remove_during_next_read: bool,
    /// The test country whose documents are placed: it signs their security objects.
    issuer: Option<Arc<DocumentSigner>>,
}

/// The knobs of a simulated reader; clones control the same reader.
#[derive(Clone, Debug, Default)]
pub struct SimIdentityControl(Arc<Mutex<Knobs>>);

impl SimIdentityControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_reader_present(&self, present: bool) {
        self.knobs().reader_present = present;
    }

    /// Places a document on the reader (or takes it away with `None`): a chip whose DG1 holds
    /// the document's machine-readable zone.
    pub fn place(&self, document: Option<IdentityDocument>) {
        self.place_signed(document, false);
    }

    /// Places a document whose security object was signed over other data than its chip
    /// holds: an altered document, which passive authentication must catch.
    pub fn place_altered(&self, document: IdentityDocument) {
        self.place_signed(Some(document), true);
    }

    fn place_signed(&self, document: Option<IdentityDocument>, altered: bool) {
        let mut knobs = self.knobs();
        let issuer = knobs.issuer.clone();
        knobs.chip = document.map(|d| {
            let zone = zone_of(&d.holder);
            let dg1 = lds::encode_dg1(&zone);
            let signed_dg1 = if altered { lds::encode_dg1(&zone.replacen(&d.holder.surname, "FORGED", 1)) } else { dg1 };
            let sod = issuer.as_ref().and_then(|issuer| issuer.security_object(&[(1, &signed_dg1)]).ok());
            let files: Vec<(u16, Vec<u8>)> = sod.into_iter().map(|sod| (lds::EF_SOD, sod)).collect();
            VirtualChip::new(&zone, &files).expect("a zone made from valid data")
        });
    }

    /// The document's chip answers with bad MACs.
    pub fn set_chip_broken(&self, broken: bool) {
        self.knobs().chip_broken = broken;
    }

    /// The citizen takes the document away halfway through the next read.
    pub fn remove_during_next_read(&self) {
        self.knobs().remove_during_next_read = true;
    }
}

/// The machine-readable zone of a document (TD3 for a passport, TD1 otherwise), check digits
/// computed by the `mrz` crate.
pub fn zone_of(document: &HolderData) -> String {
    let date = |d: CalendarDate| mrz::MrzDate::Calendar(mrz::Date::new(i32::from(d.year), u32::from(d.month), u32::from(d.day)));
    let sex = match document.sex {
        Sex::Female => mrz::Sex::Female,
        Sex::Male => mrz::Sex::Male,
        Sex::Unspecified => mrz::Sex::Unspecified,
    };
    let number: String = document.document_number.chars().filter(char::is_ascii_alphanumeric).collect();
    match document.document_type {
        DocumentType::Passport => mrz::format_td3(&mrz::Td3Fields {
            issuing_country: document.issuing_state.clone(),
            document_number: number,
            surname: document.surname.clone(),
            given_names: document.given_names.clone(),
            nationality: document.nationality.clone(),
            date_of_birth: date(document.date_of_birth),
            sex,
            date_of_expiry: date(document.date_of_expiry),
            ..mrz::Td3Fields::default()
        }),
        DocumentType::IdentityCard => mrz::format_td1(&mrz::Td1Fields {
            issuing_country: document.issuing_state.clone(),
            document_number: number,
            surname: document.surname.clone(),
            given_names: document.given_names.clone(),
            nationality: document.nationality.clone(),
            date_of_birth: date(document.date_of_birth),
            sex,
            date_of_expiry: date(document.date_of_expiry),
            ..mrz::Td1Fields::default()
        }),
    }
}

/// The reader's slot: where the virtual chip is put.
#[derive(Debug)]
pub struct VirtualSlot {
    control: SimIdentityControl,
    /// Each APDU takes this long, as a contactless chip's do.
    per_command: Duration,
}

struct VirtualCard<'a> {
    control: &'a SimIdentityControl,
    per_command: Duration,
}

impl CardChannel for VirtualCard<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        std::thread::sleep(self.per_command);
        let mut knobs = self.control.knobs();
        if !knobs.reader_present {
            return Err(TransportError::new(TransportErrorKind::ReaderGone, "the reader was unplugged"));
        }
        let chip = knobs.chip.as_mut().ok_or_else(|| TransportError::new(TransportErrorKind::CardRemoved, "the card left the reader"))?;
        match chip.transmit(command) {
            Err(e) if e.kind == TransportErrorKind::CardRemoved => {
                knobs.chip = None;
                Err(e)
            }
            other => other,
        }
    }
}

impl CardSlot for VirtualSlot {
    fn describe(&self) -> String {
        "the simulated identity reader".into()
    }

    fn status(&mut self) -> Result<SlotStatus, TransportError> {
        let knobs = self.control.knobs();
        Ok(match (knobs.reader_present, &knobs.chip) {
            (false, _) => SlotStatus::NoReader,
            (true, None) => SlotStatus::Empty,
            (true, Some(_)) => SlotStatus::CardPresent,
        })
    }

    fn connect(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        {
            let mut knobs = self.control.knobs();
            if !knobs.reader_present {
                return Err(TransportError::new(TransportErrorKind::ReaderGone, "no identity reader is connected"));
            }
            let broken = knobs.chip_broken;
            let remove = std::mem::take(&mut knobs.remove_during_next_read);
            let Some(chip) = knobs.chip.as_mut() else {
                return Err(TransportError::new(TransportErrorKind::CardRemoved, "no document on the reader"));
            };
            // A new session: the chip is powered up afresh.
            chip.reinsert();
            chip.set_faults(ChipFaults {
                corrupt_mac_after: broken.then_some(0),
                // Halfway: after BAC, in the middle of the files.
                removed_after: remove.then_some(6),
                ..ChipFaults::default()
            });
        }
        Ok(Box::new(VirtualCard { control: &self.control, per_command: self.per_command }))
    }
}

/// The simulated reader: the real chip reader over the virtual slot.
#[derive(Debug)]
pub struct SimulatedIdentityReader {
    control: SimIdentityControl,
    reader: EmrtdReader<VirtualSlot>,
}

impl SimulatedIdentityReader {
    /// A connected reader with no document on it; a read takes about `read_time`.
    /// Documents placed on it are signed by a test country whose CSCA the reader trusts, so
    /// they read as verified.
    pub fn new(read_time: Duration) -> Self {
        let control = SimIdentityControl::default();
        control.set_reader_present(true);
        // A read is about a dozen APDUs.
        let slot = VirtualSlot { control: control.clone(), per_command: read_time / 12 };
        let mut reader = EmrtdReader::new(slot, ReadOptions::default());
        match DocumentSigner::generate("UTO") {
            Ok(issuer) => {
                if let Ok(csca) = x509_cert::Certificate::from_der(issuer.csca()) {
                    reader = reader.with_trust_list(TrustList::new(vec![csca]));
                }
                control.knobs().issuer = Some(Arc::new(issuer));
            }
            Err(e) => tracing::warn!(error = %e, "the simulated documents' issuer could not be made: they read as unverified"),
        }
        Self { control, reader }
    }

    pub fn control(&self) -> SimIdentityControl {
        self.control.clone()
    }
}

impl IdentityReader for SimulatedIdentityReader {
    fn status(&mut self) -> Result<IdentityReaderStatus, Error> {
        let status = self.reader.status()?;
        // A chip that answers garbage is a document in error, as the status poll sees it.
        Ok(if status == IdentityReaderStatus::DocumentPresent && self.control.knobs().chip_broken {
            IdentityReaderStatus::DocumentError
        } else {
            status
        })
    }

    fn read(&mut self, key: &AccessKey) -> Result<IdentityDocument, Error> {
        self.reader.read(key)
    }
}

/// The lines of a document's machine-readable zone, as an OCR reader reads them.
pub fn zone_lines(document: &HolderData) -> Vec<String> {
    let zone: String = zone_of(document).chars().filter(|c| !c.is_whitespace()).collect();
    let width = if zone.len() == 88 { 44 } else { 30 };
    zone.as_bytes().chunks(width).map(|line| String::from_utf8_lossy(line).into_owned()).collect()
}

/// A virtual OCR document reader at the end of a serial line (a pty): a document laid on it
/// is sent as real readers send it in serial mode — each line of its zone followed by CR, then
/// an empty line. The kiosk reads it with the code scanner's serial driver under
/// [`super::ocr::OcrMrzReader`].
#[derive(Debug)]
pub struct VirtualOcrReader {
    line: crate::code_scanner::sim::VirtualScanner,
}

impl VirtualOcrReader {
    /// A reader on a new pty pair, sending a byte every `byte_time` (about 1 ms at 9600 baud).
    pub fn on_new_pty(byte_time: Duration) -> std::io::Result<Self> {
        Ok(Self { line: crate::code_scanner::sim::VirtualScanner::on_new_pty(b"", b"\r", byte_time)? })
    }

    /// The serial port the kiosk's driver opens.
    pub fn port_path(&self) -> &std::path::Path {
        self.line.port_path()
    }

    /// The citizen lays the document's data page on the glass.
    pub fn lay_down(&self, document: &HolderData) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for line in zone_lines(document) {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\r');
        }
        bytes.push(b'\r');
        self.line.send_raw(&bytes)
    }

    /// Sends bytes as they are: a misread zone, half a zone, noise.
    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.line.send_raw(bytes)
    }

    pub fn unplug(&self) {
        self.line.unplug();
    }
}

/// A specimen ID card for demos and tests (fictitious holder, Macao-style data; the number's
/// check character in brackets on the card is the MRZ's ninth character).
pub fn specimen_identity_card() -> IdentityDocument {
    IdentityDocument {
        holder: HolderData {
            document_type: super::DocumentType::IdentityCard,
            issuing_state: "CHN".into(),
            document_number: "12345678".into(),
            surname: "CHAN".into(),
            given_names: "TAI MAN".into(),
            nationality: "CHN".into(),
            date_of_birth: CalendarDate { year: 1985, month: 3, day: 14 },
            sex: super::Sex::Male,
            date_of_expiry: CalendarDate { year: 2031, month: 6, day: 30 },
        },
        assurance: super::Assurance::ChipVerified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity_reader::{Assurance, ErrorKind};

    fn key_for(doc: &IdentityDocument) -> AccessKey {
        doc.holder.access_key()
    }

    #[test]
    fn the_right_key_reads_the_document() {
        let mut reader = SimulatedIdentityReader::new(Duration::ZERO);
        assert_eq!(reader.status().expect("status"), IdentityReaderStatus::NoDocument);
        let doc = specimen_identity_card();
        reader.control().place(Some(doc.clone()));
        assert_eq!(reader.status().expect("status"), IdentityReaderStatus::DocumentPresent);
        assert_eq!(reader.read(&key_for(&doc)).expect("read"), doc);
    }

    #[test]
    fn a_wrong_birth_date_is_access_denied() {
        let mut reader = SimulatedIdentityReader::new(Duration::ZERO);
        let doc = specimen_identity_card();
        reader.control().place(Some(doc.clone()));
        let mut key = key_for(&doc);
        if let AccessKey::Mrz { date_of_birth, .. } = &mut key {
            date_of_birth.day += 1;
        }
        assert_eq!(reader.read(&key).expect_err("denied").kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn removal_mid_read_is_an_error_and_the_next_read_works_once_replaced() {
        let mut reader = SimulatedIdentityReader::new(Duration::ZERO);
        let doc = specimen_identity_card();
        reader.control().place(Some(doc.clone()));
        reader.control().remove_during_next_read();
        assert_eq!(reader.read(&key_for(&doc)).expect_err("removed").kind(), ErrorKind::DocumentRemoved);
        assert_eq!(reader.status().expect("status"), IdentityReaderStatus::NoDocument);
        reader.control().place(Some(doc.clone()));
        assert_eq!(reader.read(&key_for(&doc)).expect("read"), doc);
    }

    #[test]
    fn no_reader_and_broken_chip_are_reported() {
        let mut reader = SimulatedIdentityReader::new(Duration::ZERO);
        let doc = specimen_identity_card();
        reader.control().place(Some(doc.clone()));
        reader.control().set_chip_broken(true);
        assert_eq!(reader.status().expect("status"), IdentityReaderStatus::DocumentError);
        assert_eq!(reader.read(&key_for(&doc)).expect_err("broken").kind(), ErrorKind::Protocol);
        reader.control().set_reader_present(false);
        assert_eq!(reader.status().expect("status"), IdentityReaderStatus::NoReader);
        assert_eq!(reader.read(&key_for(&doc)).expect_err("gone").kind(), ErrorKind::NoReader);
    }

    #[test]
    fn a_signed_document_reads_as_verified_and_an_altered_one_is_tampered() {
        let mut reader = SimulatedIdentityReader::new(Duration::ZERO);
        let doc = specimen_identity_card();
        reader.control().place(Some(doc.clone()));
        assert_eq!(reader.read(&key_for(&doc)).expect("read").assurance, Assurance::ChipVerified);
        reader.control().place_altered(doc.clone());
        assert_eq!(reader.read(&key_for(&doc)).expect_err("altered").kind(), ErrorKind::Tampered);
    }

    #[test]
    fn debug_output_carries_no_personal_data() {
        let doc = specimen_identity_card();
        let printed = format!("{doc:?} {:?}", key_for(&doc));
        for secret in ["CHAN", "TAI MAN", "1234567", "1985"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
