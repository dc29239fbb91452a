//! The A4 printer for certificates: a PDF goes in, and "printed" means the printer reported
//! the job completed, not that it was sent. Drivers: [`ipp`] (CUPS or IPP Everywhere printers).

pub mod ipp;
#[cfg(feature = "simulators")]
pub mod sim;

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

/// The error for a printer that cannot take a job now, or `None` if it can.
pub(crate) fn refusal(status: DocumentPrinterStatus) -> Option<Error> {
    let (kind, message) = match status {
        DocumentPrinterStatus::Ready | DocumentPrinterStatus::SuppliesLow => return None,
        DocumentPrinterStatus::MediaEmpty => (ErrorKind::MediaEmpty, "the A4 printer's tray is empty: load paper"),
        DocumentPrinterStatus::MediaJam => (ErrorKind::MediaJam, "the A4 printer has a paper jam: open it and clear the jam"),
        DocumentPrinterStatus::DoorOpen => (ErrorKind::DoorOpen, "the A4 printer's door is open: close it"),
        DocumentPrinterStatus::Offline => (ErrorKind::NoAnswer, "the A4 printer does not answer: check its power and network"),
    };
    Some(Error::new(kind, message))
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
