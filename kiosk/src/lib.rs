//! The Balcão kiosk program.
//!
//! - `config.rs` — the TOML configuration with documented defaults.
//! - `identity.rs` — the kiosk's key and certificate towards central (enrollment, renewal).
//! - `store/` — the offline store (SQLite, WAL, `synchronous=FULL`, migrations).
//! - `session/` — the citizen's session as a pure state machine: events in, effects out.
//! - `receipt.rs` — the receipt's content and layout in the citizen's language.
//! - `launch.rs` — a kiosk put together from its configuration, or the demo.
//! - `runtime/` — the event loop that drives the session, the device threads, the outbox and
//!   the catalog sync.
//! - `tour.rs` — every screen, reached through a real session, for screenshots.
//!
//! The session does no I/O; the kiosk's loop carries its effects out with the devices, the
//! store and the central client.

pub mod config;
pub mod identity;
pub mod launch;
pub mod receipt;
pub mod runtime;
pub mod session;
pub mod store;
#[cfg(feature = "demo")]
pub mod tour;
