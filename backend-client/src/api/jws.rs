//! Compact JWS (RFC 7515) signed with Ed25519 (`alg` `EdDSA`, RFC 8037), the one form every
//! signed token here takes: the government app's sign-in codes and the certificates'
//! verification codes. The header names the key (`kid`); a token is checked against a published
//! set of keys ([`IssuerKeys`]), each valid until its `not_after`.
//!
//! Written over `ring` rather than with a JWT crate: one algorithm and one fixed header, and the
//! callers must tell an altered token from an unknown key, which general JWT validation folds
//! into one error.

use base64::Engine;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::IssuerKeys;

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

pub(crate) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// Why a token's signature was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not three base64url parts with an `EdDSA` header.
    Malformed,
    /// Signed by a key not in the set, or one past its time.
    UnknownKey,
    /// The signature does not hold: altered, or forged.
    BadSignature,
}

/// `header.payload.signature`, `sign` making the Ed25519 signature of the bytes it is given with
/// the key `kid` names.
pub(crate) fn sign(payload: &impl Serialize, kid: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let header = Header { alg: "EdDSA".into(), kid: kid.into(), typ: Some("JWT".into()) };
    let header = b64().encode(serde_json::to_vec(&header).unwrap_or_default());
    let payload = b64().encode(serde_json::to_vec(payload).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = b64().encode(sign(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The payload of `jws` if one of `keys`, valid at `now`, signed it.
pub(crate) fn verify(jws: &str, keys: &IssuerKeys, now: Timestamp) -> Result<Vec<u8>, Refusal> {
    let mut parts = jws.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Refusal::Malformed);
    };
    let decode = |part: &str| b64().decode(part).map_err(|_| Refusal::Malformed);
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| Refusal::Malformed)?;
    if header.alg != "EdDSA" {
        return Err(Refusal::Malformed);
    }
    let public = public_key(keys, &header.kid, now).ok_or(Refusal::UnknownKey)?;
    let signing_input = &jws[..jws.len() - signature.len() - 1];
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(signing_input.as_bytes(), &decode(signature)?)
        .map_err(|_| Refusal::BadSignature)?;
    decode(payload)
}

/// The raw public key `kid` names in `keys`, if it is an Ed25519 key valid at `now`.
pub(crate) fn public_key(keys: &IssuerKeys, kid: &str, now: Timestamp) -> Option<Vec<u8>> {
    let key = keys.keys.iter().find(|k| k.kid == kid && k.alg == "Ed25519")?;
    if key.not_after <= now {
        return None;
    }
    b64().decode(&key.public_key).ok()
}
