//! The kiosk ↔ central contract and the kiosk's client for it.
//!
//! - `api/` — the wire types, one file per resource (catalog, form schema and its validation,
//!   applications, problems). The reference central serves exactly these types and publishes
//!   them in its OpenAPI document; both sides validate form answers with the same code.
//! - `seal.rs` — sealing personal data at rest (ChaCha20-Poly1305, key in its own file), as
//!   the kiosk and central both keep it.
//! - `client.rs` (feature `client`) — the typed HTTPS client: reqwest on rustls (ring, no
//!   OpenSSL), bounded timeouts, errors classified as retryable or permanent, and an
//!   `Idempotency-Key` on every write.
//!
//! Only this crate speaks HTTP to the central platform.

pub mod api;
#[cfg(feature = "client")]
mod client;
#[doc(hidden)]
pub mod fuzz;
pub mod seal;

#[cfg(feature = "client")]
pub use client::{CentralClient, ClientConfig, ClientError, Fetch, Timeouts, identity_names, identity_validity, tls_config};
