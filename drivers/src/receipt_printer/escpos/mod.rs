//! ESC/POS: the command language of thermal receipt printers (Epson and compatibles).
//!
//! - `status.rs` — what the printer says back: real-time status (`DLE EOT n`), Automatic
//!   Status Back (`GS a`), the process-ID answer that proves a job printed (`GS ( H`), decoded
//!   from one byte stream in which they may arrive interleaved and split across reads.

pub mod status;
