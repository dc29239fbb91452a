//! ZVT, the ECR side: the kiosk (the electronic cash register) drives a payment terminal (the
//! PT) with ZVT commands over TCP, or over a serial line.
//!
//! - `apdu.rs` — the messages and their framing by length;
//! - `ecr.rs` — [`ecr::ZvtTerminal`], the kiosk's driver over TCP;
//! - `sim.rs` — a virtual terminal (the PT side) for tests.
//!
//! The terminal's packets are encoded and decoded with the `zvt` crate where it has them; the
//! commands it lacks (`06 01` Authorization, `06 30` Reversal) are built here.

pub mod apdu;
pub mod ecr;
#[cfg(feature = "simulators")]
pub mod sim;
