//! Holder checks: proof that a person is the holder of a document number, without the number.
//!
//! A kiosk checks a citizen offline against a holder check (a certificate's, from its centre's
//! feed), and central checks an application's identity proof against the number answered. An
//! 8-digit document number has only 10⁸ values, so a fast hash of it — however salted — is
//! reversed by trying them all (a salted SHA-256: about three minutes on one core). The check is
//! therefore Argon2id, memory-hard, with its costs carried beside the salt so they can rise
//! later; `benches/holder_check.rs` measures them on this kind of machine.
//!
//! With the costs below (46 MiB, one pass: OWASP's first recommendation) one check takes about
//! 46 ms on one core here: the citizen does not notice it, and trying every 8-digit number
//! against one stolen check costs about 53 core-days, each record alone (the salts differ),
//! with 46 MiB per guess in flight. A salted SHA-256 took seconds.

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

/// The memory cost of new checks, in KiB.
pub const MEMORY_KIB: u32 = 46 * 1024;
/// The passes of new checks.
pub const PASSES: u32 = 1;
/// The most a check may ask of the one who verifies it: a check from elsewhere asking for more
/// is refused rather than run (it could take a kiosk's memory or minutes).
const MAX_MEMORY_KIB: u32 = 256 * 1024;
const MAX_PASSES: u32 = 10;

/// Proof that a person is the holder of a document number without carrying the number: the
/// Argon2id hash of the normalised number with a random salt, and the costs it was made with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HolderCheck {
    /// Hex, 16 bytes.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub salt: String,
    /// Hex, the 32-byte Argon2id output.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub digest: String,
    /// Argon2id's memory cost in KiB. A check without costs (made before Argon2id, by a fast
    /// hash) matches nothing.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 262144))]
    pub memory_kib: u32,
    /// Argon2id's passes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 10))]
    pub passes: u32,
}

impl std::fmt::Debug for HolderCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HolderCheck(..)")
    }
}

/// A document number as compared: letters and digits only, upper case (`1234567(8)` and
/// `12345678` are the same number).
pub fn normalise_document_number(number: &str) -> String {
    number.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// Argon2id of `number` (normalised) with `salt` at the given costs; `None` for costs out of
/// bounds.
fn digest(salt: &[u8], number: &str, memory_kib: u32, passes: u32) -> Option<[u8; 32]> {
    if memory_kib == 0 || memory_kib > MAX_MEMORY_KIB || passes == 0 || passes > MAX_PASSES {
        return None;
    }
    let params = Params::new(memory_kib, passes, 1, Some(32)).ok()?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(normalise_document_number(number).as_bytes(), salt, &mut out)
        .ok()?;
    Some(out)
}

impl HolderCheck {
    /// A check of `document_number` with `salt`, at the current costs.
    pub fn new(salt: [u8; 16], document_number: &str) -> Self {
        Self::with_costs(salt, document_number, MEMORY_KIB, PASSES)
    }

    /// A check at other costs (benchmarks; raising them later).
    pub fn with_costs(salt: [u8; 16], document_number: &str, memory_kib: u32, passes: u32) -> Self {
        let digest = digest(&salt, document_number, memory_kib, passes).map(hex::encode).unwrap_or_default();
        Self { salt: hex::encode(salt), digest, memory_kib, passes }
    }

    /// Whether `document_number` is the holder's. A check with an unreadable salt, without
    /// costs, or with costs past what a kiosk runs, matches nothing.
    pub fn matches(&self, document_number: &str) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else { return false };
        if normalise_document_number(document_number).is_empty() {
            return false;
        }
        let Some(digest) = digest(&salt, document_number, self.memory_kib, self.passes) else { return false };
        // Every byte compared whatever the first difference: the digest is a secret's image.
        hex::decode(&self.digest)
            .is_ok_and(|expected| expected.len() == digest.len() && expected.iter().zip(digest).fold(0, |diff, (a, b)| diff | (a ^ b)) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_check_matches_the_number_however_it_is_written_and_nothing_else() {
        let check = HolderCheck::new([7; 16], "1234567(8)");
        assert!(check.matches("12345678"));
        assert!(check.matches(" 1234567 (8) "));
        assert!(!check.matches("12345679"));
        assert!(!check.matches(""));
        assert!(!check.matches("()"));
        let other_salt = HolderCheck::new([8; 16], "12345678");
        assert_ne!(other_salt.digest, check.digest);
        let broken = HolderCheck { salt: "zz".into(), ..check.clone() };
        assert!(!broken.matches("12345678"));
        assert_eq!(format!("{check:?}"), "HolderCheck(..)");
        assert_eq!((check.memory_kib, check.passes), (MEMORY_KIB, PASSES));
    }

    #[test]
    fn a_fast_hash_of_old_and_costs_past_the_bounds_match_nothing() {
        // A check from before Argon2id (salted SHA-256, no costs) no longer proves anything.
        let legacy: HolderCheck = serde_json::from_str(
            r#"{"salt":"07070707070707070707070707070707","digest":"9a1f6d8e07d1f1c1c8a93f8f5b6c1b7e2a7f1d7a4d0e3c0a4c5f2e5b6a7d8c9e"}"#,
        )
        .expect("an old check still reads");
        assert!(!legacy.matches("12345678"));
        let greedy = HolderCheck { memory_kib: MAX_MEMORY_KIB + 1, ..HolderCheck::new([7; 16], "12345678") };
        assert!(!greedy.matches("12345678"), "a check asking for more memory than a kiosk gives is not run");
        let cheap = HolderCheck::with_costs([7; 16], "12345678", 64, 1);
        assert!(cheap.matches("12345678"), "costs travel with the check");
    }
}
