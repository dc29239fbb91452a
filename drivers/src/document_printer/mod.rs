//! The A4 printer for certificates: a PDF goes in, and "printed" means the printer reported
//! the job completed, not that it was sent. Drivers: [`ipp`] (CUPS or IPP Everywhere printers).

pub mod ipp;
#[cfg(feature = "simulators")]
pub mod sim;
pub mod test_page;

/// What the printer reports about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentPrinterStatus {
    Ready,
    /// Prints, but the tray is nearly empty or the toner low.
    SuppliesLow,
    /// No paper in the tray.
    MediaEmpty,
    MediaJam,
    DoorOpen,
    /// The printer does not answer.
    Offline,
}

impl DocumentPrinterStatus {
    pub fn can_print(self) -> bool {
        matches!(self, Self::Ready | Self::SuppliesLow)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    MediaEmpty,
    MediaJam,
    DoorOpen,
    /// The printer stopped answering, or the job did not complete within the driver's timeout
    /// (the driver cancels it).
    NoAnswer,
    /// The document was refused (not a PDF, too large, unsupported).
    DocumentRejected,
    /// The printer answered with something the protocol does not allow.
    Protocol,
    Other,
}

pub type Error = crate::DeviceError<ErrorKind>;

/// What the technician or staff must do about a fault, in one place for every driver.
pub fn advice(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::MediaEmpty => Some("the A4 printer's tray is empty: load paper"),
        ErrorKind::MediaJam => Some("the A4 printer has a paper jam: open it and clear the jam"),
        ErrorKind::DoorOpen => Some("the A4 printer's door is open: close it"),
        ErrorKind::NoAnswer => Some("the A4 printer does not answer: check its power and network"),
        ErrorKind::DocumentRejected | ErrorKind::Protocol | ErrorKind::Other => None,
    }
}

/// The error for a printer that cannot take a job now, or `None` if it can.
pub(crate) fn refusal(status: DocumentPrinterStatus) -> Option<Error> {
    let kind = match status {
        DocumentPrinterStatus::Ready | DocumentPrinterStatus::SuppliesLow => return None,
        DocumentPrinterStatus::MediaEmpty => ErrorKind::MediaEmpty,
        DocumentPrinterStatus::MediaJam => ErrorKind::MediaJam,
        DocumentPrinterStatus::DoorOpen => ErrorKind::DoorOpen,
        DocumentPrinterStatus::Offline => ErrorKind::NoAnswer,
    };
    Some(Error::new(kind, advice(kind).unwrap_or_default()))
}

/// A document to print.
#[derive(Clone, PartialEq, Eq)]
pub struct PrintJob {
    /// Shown in the printer's queue; never personal data (use the certificate's id).
    pub name: String,
    pub pdf: Vec<u8>,
    pub copies: u16,
}

impl std::fmt::Debug for PrintJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintJob").field("name", &self.name).field("pdf_bytes", &self.pdf.len()).field("copies", &self.copies).finish()
    }
}

/// The printer's word that the job completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobCompleted {
    pub job_id: u32,
    pub sheets: u32,
}

/// An A4 document printer.
///
/// ## For callers
///
/// `print` blocks until the job completed or failed; on failure the job has been cancelled at
/// the printer, so it cannot come out later unattended.
///
/// ## For driver authors
///
/// Follow the job to its end state; map the printer's reasons (media-empty, jam, door open) to
/// the kinds above; bound every wait.
pub trait DocumentPrinter: Send {
    fn status(&mut self) -> Result<DocumentPrinterStatus, Error>;
    fn print(&mut self, job: &PrintJob) -> Result<JobCompleted, Error>;
}

impl<T: DocumentPrinter + ?Sized> DocumentPrinter for Box<T> {
    fn status(&mut self) -> Result<DocumentPrinterStatus, Error> {
        (**self).status()
    }
    fn print(&mut self, job: &PrintJob) -> Result<JobCompleted, Error> {
        (**self).print(job)
    }
}
