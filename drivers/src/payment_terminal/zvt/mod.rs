//! ZVT, the ECR side: the kiosk (the electronic cash register) drives a payment terminal (the
//! PT) with ZVT commands over TCP, or over a serial line.
//!
//! - `apdu.rs` — the messages and their framing by length;
//! - `bmp.rs` — the fields in a message (the specification's whole table), and taking card
//!   data out before anything parses it;
//! - `message.rs` — what the terminal sends, read without the `zvt` crate (whose parsers panic
//!   on some malformed input);
//! - `wire.rs` — how the APDUs travel: over TCP as they are, or over a serial line in frames
//!   (DLE STX … DLE ETX, CRC, ACK/NAK);
//! - `ecr.rs` — [`ecr::ZvtTerminal`], the kiosk's driver over either;
//! - `sim.rs` — a virtual terminal (the PT side) for tests, on loopback TCP or a pty.
//!
//! The kiosk's commands are encoded with the `zvt` crate where it has them; the command it
//! lacks (`06 24` Book Total) is built here. What the terminal sends never reaches the crate.

pub mod apdu;
pub mod bmp;
pub mod ecr;
pub mod message;
#[cfg(feature = "simulators")]
pub mod sim;
pub mod wire;
