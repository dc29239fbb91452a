//! The key that seals the personal data the kiosk keeps: `balcao_backend_client::seal`, which
//! central uses too.

pub use balcao_backend_client::seal::{DataKey, KeyError, Unsealable};

/// Sealed with the key and kept in the database, to tell at opening whether a key file
/// belongs to this database.
pub const KEY_CHECK: &[u8] = b"balcao kiosk data key check v1";
