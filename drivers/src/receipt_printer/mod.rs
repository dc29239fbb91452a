//! Thermal receipt printer: receipts, queue tickets, slips.
//!
//! A receipt is described as layout blocks ([`Receipt`]); a driver turns them into its printer's
//! bytes (ESC/POS commands, or raster images where the printer's code pages cannot carry the
//! text). [`raster`] draws a receipt the way an 80 mm, 203 dpi printer prints it; the simulator
//! uses it to save what it "printed", and drivers use it for text the printer cannot render.

pub mod escpos;
pub mod raster;
mod receipt;

pub use receipt::{Align, Block, Receipt, TextSize};

/// What the printer reports about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptPrinterStatus {
    /// Online, paper loaded, cover closed.
    Ready,
    /// Still prints, but the roll's near-end sensor fired: a technician should change it soon.
    PaperLow,
    /// No paper: nothing can be printed.
    PaperOut,
    /// The cover is open.
    CoverOpen,
    /// The cutter or another mechanism failed; needs a technician.
    MechanismFault,
    /// The printer does not answer (unplugged, powered off, cable fault).
    Offline,
}

impl ReceiptPrinterStatus {
    /// Whether a receipt can be printed now.
    pub fn can_print(self) -> bool {
        matches!(self, Self::Ready | Self::PaperLow)
    }
}

/// Why printing or asking for status failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    PaperOut,
    CoverOpen,
    MechanismFault,
    /// The printer stopped answering within the driver's timeout.
    NoAnswer,
    /// The printer answered with bytes that make no sense.
    Protocol,
    /// The receipt cannot be printed as described (e.g. a QR payload too long for a QR code).
    InvalidReceipt,
    Other,
}

pub type Error = crate::DeviceError<ErrorKind>;

/// Proof that a receipt came out of the printer, not merely that its bytes were sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintConfirmation {
    /// The driver's job number (ESC/POS process id, or the simulator's counter).
    pub job: u32,
    /// Length of paper used, in millimetres, when the printer reports it (ESC/POS does not).
    pub length_mm: Option<u32>,
}

/// A receipt printer.
///
/// ## For callers
///
/// `print` returns only once the printer confirmed the receipt came out; a status change
/// during the job (paper out, cover open) fails it with that kind. Check `status` before
/// asking a citizen to pay for something that ends in a receipt.
///
/// ## For driver authors
///
/// Never block longer than the driver's documented timeouts; a printer that stops answering
/// is `ErrorKind::NoAnswer` from `print` and `ReceiptPrinterStatus::Offline` from `status`.
pub trait ReceiptPrinter: Send {
    fn status(&mut self) -> Result<ReceiptPrinterStatus, Error>;
    fn print(&mut self, receipt: &Receipt) -> Result<PrintConfirmation, Error>;
}

impl<T: ReceiptPrinter + ?Sized> ReceiptPrinter for Box<T> {
    fn status(&mut self) -> Result<ReceiptPrinterStatus, Error> {
        (**self).status()
    }
    fn print(&mut self, receipt: &Receipt) -> Result<PrintConfirmation, Error> {
        (**self).print(receipt)
    }
}
