//! The kiosk's devices, in the kiosk's own words.
//!
//! One small trait per device class erases the device: no baud rates, ESC/POS bytes, IPP
//! attributes, APDU status words or ZVT tags appear in a trait. Each class lives in its own
//! folder:
//!
//! - `receipt_printer/` — thermal printer for receipts and tickets; a receipt is described by
//!   [`receipt_printer::Receipt`] (layout blocks), which a driver turns into its printer's bytes.
//! - `document_printer/` — the A4 printer for certificates (PDF in, "completed" out).
//! - `identity_reader/` — chip documents (ICAO 9303) behind an access key from the MRZ.
//! - `code_scanner/` — QR and barcode scanners, delivering validated text.
//! - `payment_terminal/` — card payment terminal: pre-authorise, capture, reverse.
//!
//! `usb/` is shared by the drivers of devices on USB: finding a device by its ids, listing the
//! bus for the technician, and bulk endpoints as a byte link.
//!
//! Each folder holds `mod.rs` (the trait, its status enum and error kind), its real protocol
//! drivers (`escpos/`, `ipp.rs`, `serial.rs`; PC/SC and ZVT to come) and `sim.rs`, a simulator
//! with knobs (paper out, cover open, card declined, no answer …) that behaves as the hardware
//! does. Where a real driver exists its simulator is a virtual device that speaks the same
//! protocol over a real link (TCP, HTTP, a pty, an emulated USB bus), so the driver is what the
//! demo and the tests run; the identity reader's and payment terminal's are still in process.
//!
//! All methods are blocking: callers run each device on its own thread (see the kiosk's
//! device workers), so a slow or dead device never blocks anything else.
//!
//! ## For callers
//!
//! Every method returns a `Result` whose error has a small `kind()` to match on and a
//! `Display` written for the technician. Citizen-facing text never comes from these errors:
//! the UI maps the kind to translated words.
//!
//! ## For driver authors
//!
//! Map every failure to the closest kind; put what the technician needs to fix it in the
//! message (which port, which status bit, what to check). Never hang: every wait is bounded by
//! the driver's documented timeouts.

pub mod code_scanner;
pub mod document_printer;
mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod identity_reader;
pub mod payment_terminal;
#[cfg(feature = "simulators")]
pub mod pty;
pub mod receipt_printer;
pub mod usb;

pub use error::{CancelToken, DeviceError};
