//! Enrolling a kiosk: the one-time token an administrator gives the technician, and what the
//! technician's tool (and later the kiosk renewing its certificate) and central say to each
//! other.
//!
//! A token is 24 random characters of Crockford's base32 (120 bits) and a check character,
//! written in five groups of five: `7KQ2M-XHD9R-TA4PB-C8VWN-3FGZE`. The check character lets
//! the tool say "mistyped" before it asks central anything; central keeps only the token's
//! SHA-256 (its 120 random bits make a slow hash unnecessary).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Crockford's base32: no I, L, O or U, so nothing reads as something else.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_CHARS: usize = 24;
const GROUP: usize = 5;

/// A one-time enrollment token, normalised (capitals, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentToken(String);

/// Why a typed token is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("an enrollment token has 25 characters (five groups of five); this one has {0}")]
    Length(usize),
    #[error("an enrollment token has no {0:?} (character {1}): it holds digits and capital letters other than I, L, O and U")]
    Character(char, usize),
    #[error("the token is mistyped: its last character does not match the others")]
    Check,
}

fn value_of(c: u8) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        c => c,
    };
    ALPHABET.iter().position(|&a| a == c).and_then(|p| u8::try_from(p).ok())
}

/// The check character's value: a weighted sum with odd weights, so one wrong character is
/// always caught and two swapped neighbours nearly always.
fn check_value(values: &[u8]) -> u8 {
    let sum: usize = values.iter().enumerate().map(|(i, &v)| (2 * i + 1) * usize::from(v)).sum();
    u8::try_from(sum % 32).unwrap_or(0)
}

impl EnrollmentToken {
    /// A new token from the system's random source.
    pub fn generate() -> Self {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; RANDOM_CHARS];
        // The system's random source failing is not something to carry on from.
        ring::rand::SystemRandom::new().fill(&mut bytes).unwrap_or_else(|_| panic!("the system's random source failed"));
        let values: Vec<u8> = bytes.iter().map(|b| b % 32).collect();
        let mut text: String = values.iter().map(|&v| char::from(ALPHABET[usize::from(v)])).collect();
        text.push(char::from(ALPHABET[usize::from(check_value(&values))]));
        Self(text)
    }

    /// Reads a token as a person typed it: any case, with or without hyphens and spaces, `O`
    /// for zero and `I` or `L` for one.
    pub fn parse(typed: &str) -> Result<Self, TokenError> {
        let kept: Vec<(usize, char)> = typed.trim().chars().enumerate().filter(|(_, c)| !matches!(c, '-' | ' ')).collect();
        if kept.len() != RANDOM_CHARS + 1 {
            return Err(TokenError::Length(kept.len()));
        }
        let mut values = Vec::with_capacity(kept.len());
        for (at, c) in kept {
            let value = u8::try_from(c).ok().and_then(value_of).ok_or(TokenError::Character(c, at + 1))?;
            values.push(value);
        }
        let (random, check) = values.split_at(RANDOM_CHARS);
        if check[0] != check_value(random) {
            return Err(TokenError::Check);
        }
        Ok(Self(values.iter().map(|&v| char::from(ALPHABET[usize::from(v)])).collect()))
    }

    /// What central keeps of it: the SHA-256 of its normalised text, in hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The token as it is written for a person: five groups of five.
    pub fn grouped(&self) -> String {
        self.0.as_bytes().chunks(GROUP).map(|g| String::from_utf8_lossy(g).into_owned()).collect::<Vec<_>>().join("-")
    }
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token is a credential until it is used: never in a log.
        f.write_str("EnrollmentToken(…)")
    }
}

/// The technician's tool asks central for the kiosk's first certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRequest {
    /// The one-time token the administrator gave, as typed.
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub token: String,
    /// A PKCS#10 certificate signing request (PEM) for the key the kiosk made; its subject is
    /// ignored: the certificate names the kiosk and centre the token is bound to.
    #[cfg_attr(feature = "openapi", schema(max_length = 8192))]
    pub csr_pem: String,
    /// The kiosk the technician is enrolling, as its configuration names it, if it does:
    /// central refuses a token made for another kiosk (and keeps it for the right one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub kiosk_id: Option<String>,
    /// The kiosk's centre, as its configuration names it, if it does; likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub centre_id: Option<String>,
}

/// A running kiosk asks for a new certificate before its current one expires (over mutual TLS
/// with the current one).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenewalRequest {
    /// A PKCS#10 certificate signing request (PEM) for the kiosk's new key.
    #[cfg_attr(feature = "openapi", schema(max_length = 8192))]
    pub csr_pem: String,
}

/// The certificate central's kiosk CA issued.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssuedCertificate {
    pub kiosk_id: String,
    pub centre_id: String,
    /// The certificate (PEM), for client authentication, naming the kiosk (common name) and
    /// its centre (organisational unit).
    pub certificate_pem: String,
    /// When it expires; the kiosk renews it well before.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub not_after: jiff::Timestamp,
}

/// The SHA-256 fingerprint of a certificate (its DER), as the console shows an administrator
/// central's CA and the technician's tool checks it: `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// A kiosk being decommissioned tells central, with its own certificate, for the last time:
/// central marks it retired (gone from the fleet, its alerts closed) and revokes its
/// certificates.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Retirement {
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub kiosk_id: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub centre_id: String,
    /// Records central had not acknowledged, exported to a file the technician hands in
    /// (zero when the kiosk's outbox was empty).
    pub exported_records: u32,
}

/// The largest certificate signing request central reads.
pub const MAX_CSR: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_however_it_is_typed_and_a_typo_is_caught() {
        let token = EnrollmentToken::generate();
        let grouped = token.grouped();
        assert_eq!(grouped.len(), 29, "{grouped}");
        assert_eq!(EnrollmentToken::parse(&grouped), Ok(token.clone()));
        assert_eq!(EnrollmentToken::parse(&grouped.to_lowercase().replace('-', " ")), Ok(token.clone()));
        assert_eq!(EnrollmentToken::parse(&grouped.replace('-', "")).map(|t| t.hash()), Ok(token.hash()));
        // Every single wrong character is caught.
        let plain: Vec<u8> = grouped.replace('-', "").into_bytes();
        for at in 0..plain.len() {
            for &other in ALPHABET {
                if other == plain[at] {
                    continue;
                }
                let mut typo = plain.clone();
                typo[at] = other;
                assert_eq!(EnrollmentToken::parse(std::str::from_utf8(&typo).expect("ascii")), Err(TokenError::Check));
            }
        }
        assert_eq!(EnrollmentToken::parse("ABCDE-FGHJK"), Err(TokenError::Length(10)));
        assert_eq!(EnrollmentToken::parse(&format!("{}U", &grouped[..28])), Err(TokenError::Character('U', 29)));
        assert!(!format!("{token:?}").contains(&grouped[..5]), "never in a log");
    }

    #[test]
    fn o_i_and_l_read_as_the_digits_they_look_like() {
        let token = EnrollmentToken::generate();
        let text = token.grouped().replace('0', "o").replace('1', "l");
        assert_eq!(EnrollmentToken::parse(&text), Ok(token));
    }
}
