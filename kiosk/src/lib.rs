//! The Balcão kiosk program.
//!
//! - `config.rs` — the TOML configuration with documented defaults.
//! - `store/` — the offline store (SQLite, WAL, `synchronous=FULL`, migrations).
//! - `session/` — the citizen's session as a pure state machine: events in, effects out.
//! - `receipt.rs` — the receipt's content and layout in the citizen's language.
//!
//! The session does no I/O; the kiosk's loop carries its effects out with the devices, the
//! store and the central client.

pub mod config;
pub mod receipt;
pub mod session;
pub mod store;
