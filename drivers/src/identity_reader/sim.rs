//! A chip-document reader simulated in-process: a document can be placed and taken away, its
//! chip opens only with the matching MRZ key, and it can be removed in the middle of a read.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{AccessKey, CalendarDate, Error, ErrorKind, IdentityDocument, IdentityReader, IdentityReaderStatus};

#[derive(Debug, Default)]
struct Knobs {
    reader_present: bool,
    document: Option<IdentityDocument>,
    chip_broken: bool,
    remove_during_next_read: bool,
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

    /// Places a document on the reader (or takes it away with `None`).
    pub fn place(&self, document: Option<IdentityDocument>) {
        self.knobs().document = document;
    }

    /// The document's chip answers with garbage.
    pub fn set_chip_broken(&self, broken: bool) {
        self.knobs().chip_broken = broken;
    }

    /// The citizen takes the document away halfway through the next read.
    pub fn remove_during_next_read(&self) {
        self.knobs().remove_during_next_read = true;
    }
}

#[derive(Debug)]
pub struct SimulatedIdentityReader {
    control: SimIdentityControl,
    read_time: Duration,
}

impl SimulatedIdentityReader {
    /// A connected reader with no document on it.
    pub fn new(read_time: Duration) -> Self {
        let control = SimIdentityControl::default();
        control.set_reader_present(true);
        Self { control, read_time }
    }

    pub fn control(&self) -> SimIdentityControl {
        self.control.clone()
    }
}

fn key_matches(key: &AccessKey, doc: &IdentityDocument) -> bool {
    match key {
        AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } => {
            // The MRZ pads document numbers with '<'; a typed number has none.
            document_number.trim_end_matches('<').eq_ignore_ascii_case(doc.document_number.trim_end_matches('<'))
                && *date_of_birth == doc.date_of_birth
                && *date_of_expiry == doc.date_of_expiry
        }
        // The simulator's documents have no card access number.
        AccessKey::Can(_) => false,
    }
}

impl IdentityReader for SimulatedIdentityReader {
    fn status(&mut self) -> Result<IdentityReaderStatus, Error> {
        let knobs = self.control.knobs();
        Ok(match (knobs.reader_present, &knobs.document, knobs.chip_broken) {
            (false, _, _) => IdentityReaderStatus::NoReader,
            (true, None, _) => IdentityReaderStatus::NoDocument,
            (true, Some(_), true) => IdentityReaderStatus::DocumentError,
            (true, Some(_), false) => IdentityReaderStatus::DocumentPresent,
        })
    }

    fn read(&mut self, key: &AccessKey) -> Result<IdentityDocument, Error> {
        let document = {
            let knobs = self.control.knobs();
            if !knobs.reader_present {
                return Err(Error::new(ErrorKind::NoReader, "no identity reader is connected"));
            }
            let Some(document) = knobs.document.clone() else {
                return Err(Error::new(ErrorKind::NoDocument, "no document on the reader"));
            };
            if knobs.chip_broken {
                return Err(Error::new(ErrorKind::Protocol, "the document's chip answered with a bad MAC"));
            }
            document
        };
        std::thread::sleep(self.read_time / 2);
        {
            let mut knobs = self.control.knobs();
            if std::mem::take(&mut knobs.remove_during_next_read) {
                knobs.document = None;
                return Err(Error::new(ErrorKind::DocumentRemoved, "the document was taken away during the read"));
            }
        }
        if !key_matches(key, &document) {
            return Err(Error::new(ErrorKind::AccessDenied, "the chip refused the access key (MRZ data does not match)"));
        }
        std::thread::sleep(self.read_time / 2);
        Ok(document)
    }
}

/// A specimen ID card for demos and tests (fictitious holder, Macao-style data).
pub fn specimen_identity_card() -> IdentityDocument {
    IdentityDocument {
        document_type: super::DocumentType::IdentityCard,
        issuing_state: "CHN".into(),
        document_number: "1234567(8)".into(),
        surname: "CHAN".into(),
        given_names: "TAI MAN".into(),
        nationality: "CHN".into(),
        date_of_birth: CalendarDate { year: 1985, month: 3, day: 14 },
        sex: super::Sex::Male,
        date_of_expiry: CalendarDate { year: 2031, month: 6, day: 30 },
        assurance: super::Assurance::ChipVerified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_for(doc: &IdentityDocument) -> AccessKey {
        AccessKey::Mrz {
            document_number: doc.document_number.clone(),
            date_of_birth: doc.date_of_birth,
            date_of_expiry: doc.date_of_expiry,
        }
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
    fn debug_output_carries_no_personal_data() {
        let doc = specimen_identity_card();
        let printed = format!("{doc:?} {:?}", key_for(&doc));
        for secret in ["CHAN", "TAI MAN", "1234567", "1985"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
