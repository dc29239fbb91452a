//! ESC/POS: the command language of thermal receipt printers (Epson and compatibles).
//!
//! - `driver.rs` — [`EscPosPrinter`]: the driver over raw TCP, a serial line or USB, with a
//!   reader thread always listening, bounded waits and reconnection.
//! - `sim.rs` — a virtual printer that reads the same bytes over TCP or a pty, prints them to
//!   PNG and answers as a printer does, with knobs for paper out, cover, cutter and silence.
//! - `encode.rs` — a receipt as the bytes of one job: text in the printer's code page, raster
//!   images for text it cannot carry, QR codes, cut, and the process-ID request that proves it
//!   printed.
//! - `status.rs` — what the printer says back: real-time status (`DLE EOT n`), Automatic
//!   Status Back (`GS a`), the process-ID answer that proves a job printed (`GS ( H`), decoded
//!   from one byte stream in which they may arrive interleaved and split across reads.

pub mod driver;
pub mod encode;
#[cfg(feature = "simulators")]
pub mod sim;
pub mod status;

pub use driver::{Connector, EscPosPrinter, Link, SerialConnector, TcpConnector, Timeouts, UsbConnector};
