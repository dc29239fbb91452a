//! The government app's sign-in code: what the citizen's phone shows as a QR code to identify
//! them at a kiosk, signed by the identity provider (the reference central plays that role).
//!
//! The code is `BALCAO-SIGNIN:` followed by a compact JWS (RFC 7515) signed with Ed25519
//! (`alg` `EdDSA`, RFC 8037), whose header names the key (`kid`) and whose payload is
//! [`SignInClaims`]. Kiosks check it offline against the issuer keys they cached
//! ([`super::IssuerKeys`]): signature, issuer, audience (the kiosk's centre or the kiosk),
//! validity in time. Replay (a nonce seen before) is the kiosk's to refuse, since only it
//! knows what it has seen.
//!
//! Written over `ring` (see [`super::jws`]) rather than with a JWT crate: one algorithm, one
//! fixed header, and the refusals must be told apart for the citizen (expired, another centre,
//! altered), which general-purpose JWT validation folds into one error.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{IssuerKeys, jws};

/// What a sign-in QR code starts with.
pub const SIGN_IN_PREFIX: &str = "BALCAO-SIGNIN:";
/// How far a kiosk's clock may be from the identity provider's.
pub const CLOCK_SKEW_SECS: i64 = 30;
/// The longest a code may be valid: the app shows a fresh one each time.
pub const MAX_LIFETIME_SECS: i64 = 600;
/// The longest code accepted (a QR code the app shows is far shorter).
pub const MAX_CODE_LEN: usize = 2048;

/// Who the code says the citizen is, and for whom and how long it is valid. Personal data:
/// nothing of it in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInClaims {
    pub iss: String,
    /// The citizen's identifier at the identity provider.
    pub sub: String,
    /// The service centre (or the one kiosk) the code is for.
    pub aud: String,
    /// Issued at and expires at, in seconds since the epoch.
    pub iat: i64,
    pub exp: i64,
    /// Unique per code: a kiosk accepts each once.
    pub nonce: String,
    /// The holder's name as on their identity document.
    pub name: String,
    pub document_number: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
}

impl std::fmt::Debug for SignInClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInClaims").field("iss", &self.iss).field("aud", &self.aud).field("exp", &self.exp).finish_non_exhaustive()
    }
}

/// Why a sign-in code was refused: each one has its own words for the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SignInRefusal {
    /// Not a sign-in code, or damaged: cannot be read.
    #[error("the code is not a well-formed sign-in code")]
    Malformed,
    /// The signature does not hold: the code was altered, or forged.
    #[error("the code's signature does not verify")]
    BadSignature,
    /// Signed by a key the kiosk does not know (yet), or one past its time.
    #[error("the code is signed by a key the kiosk does not accept")]
    UnknownKey,
    /// Signed by someone else than the identity provider the kiosk trusts.
    #[error("the code comes from another issuer")]
    WrongIssuer,
    /// For another service centre (or another kiosk).
    #[error("the code is for another service centre")]
    WrongAudience,
    #[error("the code has expired")]
    Expired,
    /// Issued in the future, or valid for longer than any code is.
    #[error("the code's validity is not credible")]
    NotYetValid,
    /// Shown at a kiosk before: each code signs in once.
    #[error("the code was used before")]
    Replayed,
}

/// Builds a sign-in code: `sign` makes the Ed25519 signature of the bytes it is given with the
/// key `kid` names. Used by the identity provider (the reference central) and tests.
pub fn encode(claims: &SignInClaims, kid: &str, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    format!("{SIGN_IN_PREFIX}{}", jws::sign(claims, kid, sign))
}

/// Whether scanned text claims to be a sign-in code (it may still be refused).
pub fn is_sign_in_code(text: &str) -> bool {
    text.starts_with(SIGN_IN_PREFIX)
}

/// Checks a sign-in code against the issuer keys at `now`, for a kiosk of centre `centre` with
/// id `kiosk`. Replay is the caller's to check, with the returned claims' nonce and expiry.
pub fn verify(code: &str, keys: &IssuerKeys, now: Timestamp, centre: &str, kiosk: &str) -> Result<SignInClaims, SignInRefusal> {
    if code.len() > MAX_CODE_LEN {
        return Err(SignInRefusal::Malformed);
    }
    let jws = code.strip_prefix(SIGN_IN_PREFIX).ok_or(SignInRefusal::Malformed)?;
    let payload = jws::verify(jws, keys, now).map_err(|e| match e {
        jws::Refusal::Malformed => SignInRefusal::Malformed,
        jws::Refusal::UnknownKey => SignInRefusal::UnknownKey,
        jws::Refusal::BadSignature => SignInRefusal::BadSignature,
    })?;
    // Only a signed payload is parsed further.
    let claims: SignInClaims = serde_json::from_slice(&payload).map_err(|_| SignInRefusal::Malformed)?;
    if claims.iss != keys.issuer {
        return Err(SignInRefusal::WrongIssuer);
    }
    if claims.aud != centre && claims.aud != kiosk {
        return Err(SignInRefusal::WrongAudience);
    }
    let now = now.as_second();
    if claims.exp + CLOCK_SKEW_SECS <= now {
        return Err(SignInRefusal::Expired);
    }
    if claims.iat - CLOCK_SKEW_SECS > now || claims.exp - claims.iat > MAX_LIFETIME_SECS || claims.exp < claims.iat {
        return Err(SignInRefusal::NotYetValid);
    }
    if claims.nonce.len() < 16 || claims.nonce.len() > 64 {
        return Err(SignInRefusal::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::IssuerKey;
    use crate::api::jws::b64;
    use base64::Engine;
    use ring::signature::KeyPair as _;

    const NOW: i64 = 1_796_000_000;

    fn key_pair(seed: u8) -> ring::signature::Ed25519KeyPair {
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("a key")
    }

    fn keys() -> IssuerKeys {
        let public = b64().encode(key_pair(1).public_key().as_ref());
        IssuerKeys {
            issuer: "balcao-reference-idp".into(),
            keys: vec![IssuerKey {
                kid: "k1".into(),
                alg: "Ed25519".into(),
                public_key: public,
                not_after: Timestamp::from_second(NOW + 86_400).expect("time"),
            }],
        }
    }

    fn claims() -> SignInClaims {
        SignInClaims {
            iss: "balcao-reference-idp".into(),
            sub: "citizen-0042".into(),
            aud: "GSC-01".into(),
            iat: NOW - 10,
            exp: NOW + 110,
            nonce: "3b1f0c2a9d4e5f60718293a4b5c6d7e8".into(),
            name: "CHAN TAI MAN".into(),
            document_number: "12345678".into(),
            birth_date: "1985-03-14".into(),
        }
    }

    fn code(claims: &SignInClaims, seed: u8, kid: &str) -> String {
        encode(claims, kid, |input| key_pair(seed).sign(input).as_ref().to_vec())
    }

    fn check(code: &str) -> Result<SignInClaims, SignInRefusal> {
        verify(code, &keys(), Timestamp::from_second(NOW).expect("time"), "GSC-01", "K01")
    }

    #[test]
    fn a_fresh_code_for_this_centre_or_kiosk_signs_in() {
        let good = code(&claims(), 1, "k1");
        assert!(is_sign_in_code(&good));
        assert_eq!(check(&good).expect("valid").document_number, "12345678");
        let for_kiosk = SignInClaims { aud: "K01".into(), ..claims() };
        check(&code(&for_kiosk, 1, "k1")).expect("for this kiosk");
        assert!(!format!("{:?}", claims()).contains("CHAN"));
    }

    #[test]
    fn each_reason_to_refuse_is_told_apart() {
        let good = code(&claims(), 1, "k1");
        // One character of the payload changed: the signature no longer holds.
        let (head, tail) = good.split_at(good.find('.').expect("header") + 10);
        let flipped = if tail.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}{flipped}{}", &tail[1..]);
        assert_eq!(check(&tampered), Err(SignInRefusal::BadSignature));
        assert_eq!(check(&code(&claims(), 2, "k1")), Err(SignInRefusal::BadSignature), "signed by another key");
        assert_eq!(check(&code(&claims(), 1, "k9")), Err(SignInRefusal::UnknownKey));
        assert_eq!(check(&code(&SignInClaims { aud: "GSC-02".into(), ..claims() }, 1, "k1")), Err(SignInRefusal::WrongAudience));
        assert_eq!(check(&code(&SignInClaims { iss: "someone".into(), ..claims() }, 1, "k1")), Err(SignInRefusal::WrongIssuer));
        let expired = SignInClaims { iat: NOW - 300, exp: NOW - 60, ..claims() };
        assert_eq!(check(&code(&expired, 1, "k1")), Err(SignInRefusal::Expired));
        let future = SignInClaims { iat: NOW + 600, exp: NOW + 700, ..claims() };
        assert_eq!(check(&code(&future, 1, "k1")), Err(SignInRefusal::NotYetValid));
        let forever = SignInClaims { exp: NOW + 86_400, ..claims() };
        assert_eq!(check(&code(&forever, 1, "k1")), Err(SignInRefusal::NotYetValid));
        for junk in ["", "hello", "BALCAO-SIGNIN:", "BALCAO-SIGNIN:a.b", "BALCAO-SIGNIN:a.b.c.d", "BALCAO-SIGNIN:!!.??.##"] {
            assert_eq!(check(junk), Err(SignInRefusal::Malformed), "{junk:?}");
        }
        assert_eq!(check(&format!("{good}{}", "A".repeat(MAX_CODE_LEN))), Err(SignInRefusal::Malformed));
    }

    #[test]
    fn a_key_past_its_time_is_not_accepted() {
        let good = code(&claims(), 1, "k1");
        let later = Timestamp::from_second(NOW + 86_400).expect("time");
        assert_eq!(verify(&good, &keys(), later, "GSC-01", "K01"), Err(SignInRefusal::UnknownKey));
    }
}
