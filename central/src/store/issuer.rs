//! The signing keys of the identity provider the reference central plays (it signs the
//! government app's sign-in codes). Kiosks fetch the public halves by `ETag`.

use jiff::{SignedDuration, Timestamp};
use rusqlite::params;

use super::{Store, StoreError};

/// A new key is made when the newest is this old…
const ROTATE_AFTER: SignedDuration = SignedDuration::from_hours(30 * 24);
/// …and each key signs for this long, so kiosks have the next key well before they need it.
const KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(90 * 24);

#[derive(Clone)]
pub struct StoredIssuerKey {
    pub kid: String,
    /// PKCS#8 of the Ed25519 key pair.
    pub private_pkcs8: Vec<u8>,
    pub public_key: Vec<u8>,
    pub not_after: Timestamp,
}

impl std::fmt::Debug for StoredIssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredIssuerKey").field("kid", &self.kid).field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

impl Store {
    /// Makes a new signing key if the newest one is older than the rotation period (or there
    /// is none). Returns whether it made one.
    pub fn rotate_issuer_key(&self, now: Timestamp) -> Result<bool, StoreError> {
        use ring::signature::KeyPair;
        let conn = self.conn();
        let newest: Option<String> = conn.query_row("SELECT MAX(created_at) FROM issuer_keys", [], |r| r.get(0))?;
        let newest: Option<Timestamp> =
            newest.map(|t| t.parse()).transpose().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?;
        if newest.is_some_and(|t| now.duration_since(t) < ROTATE_AFTER) {
            return Ok(false);
        }
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| StoreError::Corrupt("no randomness for a key".into()))?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| StoreError::Corrupt("generated key unusable".into()))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = key_id(&public);
        conn.execute(
            "INSERT INTO issuer_keys (kid, private_pkcs8, public_key, created_at, not_after) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![kid, pkcs8.as_ref(), public, now.to_string(), (now + KEY_LIFETIME).to_string()],
        )?;
        Ok(true)
    }

    /// The keys still signing or still within their lifetime at `now`, newest first.
    pub fn issuer_keys(&self, now: Timestamp) -> Result<Vec<StoredIssuerKey>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare("SELECT kid, private_pkcs8, public_key, not_after FROM issuer_keys ORDER BY created_at DESC")?;
        let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?)))?;
        let mut keys = Vec::new();
        for row in rows {
            let (kid, private_pkcs8, public_key, not_after) = row?;
            let not_after: Timestamp = not_after.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?;
            if not_after > now {
                keys.push(StoredIssuerKey { kid, private_pkcs8, public_key, not_after });
            }
        }
        Ok(keys)
    }
}

/// Who a sign-in code names: the citizen as the identity provider knows them.
#[derive(Clone)]
pub struct Citizen {
    pub sub: String,
    pub name: String,
    pub document_number: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
}

impl std::fmt::Debug for Citizen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Citizen").finish_non_exhaustive()
    }
}

impl Store {
    /// A sign-in code for `citizen`, valid at the service centre (or kiosk) `audience` for
    /// `lifetime` from `now`, signed with the newest key: what the government app shows.
    pub fn sign_in_code(&self, citizen: &Citizen, audience: &str, now: Timestamp, lifetime: SignedDuration) -> Result<String, StoreError> {
        use balcao_backend_client::api::signin::{SignInClaims, encode};
        use ring::rand::SecureRandom as _;
        let key = self.issuer_keys(now)?.into_iter().next().ok_or_else(|| StoreError::Corrupt("no issuer key to sign with".into()))?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&key.private_pkcs8)
            .map_err(|_| StoreError::Corrupt(format!("issuer key {} unusable", key.kid)))?;
        let mut nonce = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut nonce).map_err(|_| StoreError::Corrupt("no randomness for a nonce".into()))?;
        let claims = SignInClaims {
            iss: crate::api::ISSUER.into(),
            sub: citizen.sub.clone(),
            aud: audience.into(),
            iat: now.as_second(),
            exp: (now + lifetime).as_second(),
            nonce: hex::encode(nonce),
            name: citizen.name.clone(),
            document_number: citizen.document_number.clone(),
            birth_date: citizen.birth_date.clone(),
        };
        Ok(encode(&claims, &key.kid, |input| pair.sign(input).as_ref().to_vec()))
    }
}

/// A key id: the first 8 bytes of the SHA-256 of the public key, hex.
fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(public_key)[..8])
}
