//! Certificates worth trusting. The agency signs two things with its document key (a set of
//! Ed25519 keys published like the identity provider's, [`IssuerKeys`]):
//!
//! - the **verification code** printed on the certificate as a QR code: a compact JWS whose
//!   claims ([`CertificateClaims`]) name the document, its number, service, issuing agency and
//!   day, and the SHA-256 of its content ([`CertificateContent::digest`]: the holder's names,
//!   the copies, everything the paper says). Anyone can check it offline against the published
//!   keys, or at central's public verification page;
//! - the **PDF file** itself ([`DocumentSignature`]: the SHA-256 of its bytes, signed), which
//!   travels with the file to the kiosks: a kiosk prints only a file whose hash and signature
//!   hold, and the verification page recognises an uploaded file byte for byte.
//!
//! (The code is inside the PDF, so it cannot carry the hash of the very file it is printed in;
//! hence two signatures: one over what the paper says, one over the file.)

use base64::Engine;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use uuid::Uuid;

use super::{IssuerKeys, jws};

/// Where a certificate's QR code points: central's address, this, then the verification code.
pub const VERIFY_PATH: &str = "/verify/";
/// The longest verification code accepted (a QR code holds far less).
pub const MAX_TOKEN_LEN: usize = 2048;
/// What a PDF's detached signature signs, before the hash: no other signature of the same key
/// can be passed off as one.
const DOCUMENT_CONTEXT: &[u8] = b"balcao-certificate-pdf-v1\n";

/// What a certificate says, as its verification code's hash covers it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CertificateContent {
    pub document_id: Uuid,
    /// The application number.
    pub reference: String,
    pub service_id: String,
    pub agency_id: String,
    pub issued: Date,
    /// The holder's name as on their documents, in each script they have (Latin, Chinese).
    pub holder_names: Vec<String>,
    pub copies: u32,
}

impl std::fmt::Debug for CertificateContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateContent").field("document_id", &self.document_id).finish_non_exhaustive()
    }
}

impl CertificateContent {
    /// The SHA-256 (hex) of the content in a fixed form (JSON, fields in declaration order).
    pub fn digest(&self) -> String {
        hex::encode(sha2::Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }

    /// The claims of its verification code.
    pub fn claims(&self) -> CertificateClaims {
        CertificateClaims {
            doc: self.document_id,
            reference: self.reference.clone(),
            service: self.service_id.clone(),
            iss: self.agency_id.clone(),
            date: self.issued,
            sha256: self.digest(),
        }
    }
}

/// What a verification code says: nothing personal (the holder's names are in the hash only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateClaims {
    /// The document (the application's id).
    pub doc: Uuid,
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(rename = "svc")]
    pub service: String,
    /// The issuing agency.
    pub iss: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// SHA-256 (hex) of the certificate's content.
    pub sha256: String,
}

/// Why a verification code or a file was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefusal {
    #[error("not a well-formed verification code")]
    Malformed,
    #[error("signed by a key that is not the agency's, or one past its time")]
    UnknownKey,
    #[error("the signature does not hold: altered or forged")]
    BadSignature,
    #[error("the file is not the one that was signed")]
    HashMismatch,
}

impl From<jws::Refusal> for CertificateRefusal {
    fn from(refusal: jws::Refusal) -> Self {
        match refusal {
            jws::Refusal::Malformed => Self::Malformed,
            jws::Refusal::UnknownKey => Self::UnknownKey,
            jws::Refusal::BadSignature => Self::BadSignature,
        }
    }
}

/// A verification code for `claims`, `sign` making the Ed25519 signature with the key `kid`.
pub fn encode_token(claims: &CertificateClaims, kid: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    jws::sign(claims, kid, sign)
}

/// The claims of a verification code signed by one of `keys` valid at `now`.
pub fn verify_token(token: &str, keys: &IssuerKeys, now: Timestamp) -> Result<CertificateClaims, CertificateRefusal> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(CertificateRefusal::Malformed);
    }
    let payload = jws::verify(token.trim(), keys, now)?;
    serde_json::from_slice(&payload).map_err(|_| CertificateRefusal::Malformed)
}

/// The signature over a certificate file's bytes, as it travels with the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentSignature {
    pub kid: String,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
    /// Ed25519 over the context and the hash, base64url without padding.
    pub signature: String,
}

fn signed_bytes(sha256: &str) -> Vec<u8> {
    [DOCUMENT_CONTEXT, sha256.as_bytes()].concat()
}

/// SHA-256 (hex) of a file.
pub fn file_sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Signs a certificate file with the key `kid` (`sign` makes the Ed25519 signature).
pub fn sign_document(pdf: &[u8], kid: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> DocumentSignature {
    let sha256 = file_sha256(pdf);
    let signature = jws::b64().encode(sign(&signed_bytes(&sha256)));
    DocumentSignature { kid: kid.into(), sha256, signature }
}

/// Whether `pdf` is the file `signature` signs, by one of `keys` valid at `now`.
pub fn verify_document(pdf: &[u8], signature: &DocumentSignature, keys: &IssuerKeys, now: Timestamp) -> Result<(), CertificateRefusal> {
    if file_sha256(pdf) != signature.sha256 {
        return Err(CertificateRefusal::HashMismatch);
    }
    let public = jws::public_key(keys, &signature.kid, now).ok_or(CertificateRefusal::UnknownKey)?;
    let raw = jws::b64().decode(&signature.signature).map_err(|_| CertificateRefusal::Malformed)?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(&signed_bytes(&signature.sha256), &raw)
        .map_err(|_| CertificateRefusal::BadSignature)
}

#[cfg(test)]
mod tests {
    use ring::signature::KeyPair as _;

    use super::*;
    use crate::api::IssuerKey;

    fn pair(seed: u8) -> ring::signature::Ed25519KeyPair {
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("a key")
    }

    fn key_set(not_after: Timestamp) -> IssuerKeys {
        IssuerKeys {
            issuer: "agency".into(),
            keys: vec![IssuerKey {
                kid: "d1".into(),
                alg: "Ed25519".into(),
                public_key: jws::b64().encode(pair(1).public_key().as_ref()),
                not_after,
            }],
        }
    }

    fn content() -> CertificateContent {
        CertificateContent {
            document_id: Uuid::nil(),
            reference: "K01-261122-0001".into(),
            service_id: "criminal-record-certificate".into(),
            agency_id: "dsi".into(),
            issued: jiff::civil::date(2026, 11, 22),
            holder_names: vec!["CHAN TAI MAN".into(), "陳大文".into()],
            copies: 1,
        }
    }

    #[test]
    fn a_verification_code_holds_its_claims_and_refuses_any_change() {
        let now = Timestamp::now();
        let keys = key_set(now + jiff::SignedDuration::from_hours(1));
        let token = encode_token(&content().claims(), "d1", |b| pair(1).sign(b).as_ref().to_vec());
        let claims = verify_token(&token, &keys, now).expect("genuine");
        assert_eq!(claims, content().claims());
        assert!(!format!("{claims:?}{:?}", content()).contains("陳"), "no name in the claims or in Debug");
        // Another name is another hash.
        let mut other = content();
        other.holder_names[1] = "陳小文".into();
        assert_ne!(other.digest(), content().digest());
        // A changed character anywhere, another key, a key past its time, a token of garbage.
        for i in [3, token.len() / 2, token.len() - 3] {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).expect("ascii");
            assert!(verify_token(&altered, &keys, now).is_err(), "byte {i}");
        }
        let forged = encode_token(&content().claims(), "d1", |b| pair(2).sign(b).as_ref().to_vec());
        assert_eq!(verify_token(&forged, &keys, now), Err(CertificateRefusal::BadSignature));
        assert_eq!(verify_token(&token, &key_set(now), now), Err(CertificateRefusal::UnknownKey));
        assert_eq!(verify_token("x.y", &keys, now), Err(CertificateRefusal::Malformed));
    }

    #[test]
    fn a_file_is_accepted_byte_for_byte_with_its_signature() {
        let now = Timestamp::now();
        let keys = key_set(now + jiff::SignedDuration::from_hours(1));
        let pdf = b"%PDF-1.7 a certificate".to_vec();
        let signature = sign_document(&pdf, "d1", |b| pair(1).sign(b).as_ref().to_vec());
        assert_eq!(verify_document(&pdf, &signature, &keys, now), Ok(()));
        let mut changed = pdf.clone();
        changed[10] ^= 1;
        assert_eq!(verify_document(&changed, &signature, &keys, now), Err(CertificateRefusal::HashMismatch));
        // A hash swapped in with the old signature, or signed by another key.
        let swapped = DocumentSignature { sha256: file_sha256(&changed), ..signature.clone() };
        assert_eq!(verify_document(&changed, &swapped, &keys, now), Err(CertificateRefusal::BadSignature));
        let other = sign_document(&pdf, "d1", |b| pair(2).sign(b).as_ref().to_vec());
        assert_eq!(verify_document(&pdf, &other, &keys, now), Err(CertificateRefusal::BadSignature));
        assert_eq!(verify_document(&pdf, &signature, &key_set(now), now), Err(CertificateRefusal::UnknownKey));
    }
}
