//! The signing keys of the two signers the reference central plays: the identity provider (it
//! signs the government app's sign-in codes) and the agency issuing certificates (it signs
//! their verification codes and files). Each is a [`KeySet`]: public halves in a table of the
//! database (kiosks fetch them by `ETag`; the certificates' are also public), private halves in
//! a file of their own ([`super::KeyFiles`]), the owner's only, written whole or not at all,
//! never in the service's database: whoever reads them can sign in as any citizen, or issue
//! certificates. A real identity provider or agency keeps them in a hardware security module and
//! central never sees them; these files stand in for that module.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use rusqlite::OptionalExtension;

use super::db::args;
use super::{Store, StoreError};

/// The private signing keys, by key id (PKCS#8, hex), as the file holds them.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct SigningKeys {
    keys: BTreeMap<String, String>,
}

fn key_file_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Private { path: path.to_path_buf(), source }
}

impl SigningKeys {
    fn load(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(key_file_error(path, e)),
        }
    }

    /// Writes the file whole (a new file, synced, renamed over the old), the owner's only.
    fn save(&self, path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let fail = |e| key_file_error(path, e);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let draft = path.with_extension("new");
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&draft).map_err(fail)?;
        file.write_all(&serde_json::to_vec(self).map_err(|e| StoreError::Corrupt(e.to_string()))?).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&draft, path).map_err(fail)?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)
    }

    fn get(&self, kid: &str) -> Option<Vec<u8>> {
        self.keys.get(kid).and_then(|hex| hex::decode(hex).ok())
    }
}

/// A new key is made when the newest is this old…
const ROTATE_AFTER: SignedDuration = SignedDuration::from_hours(30 * 24);
/// …and each key signs for this long, so kiosks have the next key well before they need it.
const KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(90 * 24);

#[derive(Clone)]
pub struct StoredIssuerKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub not_after: Timestamp,
}

impl std::fmt::Debug for StoredIssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredIssuerKey").field("kid", &self.kid).field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

/// One signer's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySet {
    /// The identity provider's: the government app's sign-in codes.
    IdentityProvider,
    /// The agency's: certificates' verification codes and files.
    Documents,
}

impl KeySet {
    /// How long a key is published: an identity provider's codes live minutes, so its keys go
    /// after 90 days; a certificate is checked for years after it was issued, so the agency's
    /// keys stay published for thirty years (each signs only until the next rotation).
    fn lifetime(self) -> SignedDuration {
        match self {
            Self::IdentityProvider => KEY_LIFETIME,
            Self::Documents => SignedDuration::from_hours(30 * 366 * 24),
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::IdentityProvider => "issuer_keys",
            Self::Documents => "document_keys",
        }
    }
}

/// The agency's public keys (same on both databases but for the key's type).
pub(super) const SQLITE_DOCUMENT_KEYS_SCHEMA: &str =
    "CREATE TABLE document_keys (kid TEXT PRIMARY KEY, public_key BLOB NOT NULL, created_at TEXT NOT NULL, not_after TEXT NOT NULL);";
pub(super) const POSTGRES_DOCUMENT_KEYS_SCHEMA: &str =
    "CREATE TABLE document_keys (kid TEXT PRIMARY KEY, public_key BYTEA NOT NULL, created_at TEXT NOT NULL, not_after TEXT NOT NULL);";

impl Store {
    fn key_file(&self, set: KeySet) -> &Path {
        match set {
            KeySet::IdentityProvider => &self.issuer_keys,
            KeySet::Documents => &self.document_keys,
        }
    }

    /// Makes a new identity provider's signing key if due (see [`Self::rotate_keys`]).
    pub fn rotate_issuer_key(&self, now: Timestamp) -> Result<bool, StoreError> {
        self.rotate_keys(KeySet::IdentityProvider, now)
    }

    /// Makes a new signing key of `set` if the newest one is older than the rotation period
    /// (or there is none). Returns whether it made one.
    pub fn rotate_keys(&self, set: KeySet, now: Timestamp) -> Result<bool, StoreError> {
        use ring::signature::KeyPair;
        let table = set.table();
        // Instances rotate one at a time, and only the first finds the key due.
        self.db.write(|tx| {
            tx.lock(&format!("{table}/rotation"))?;
            let newest: Option<String> = tx.query_one(&format!("SELECT MAX(created_at) FROM {table}"), args![])?.get(0)?;
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
            // The private half is on disk before the public one is published.
            let mut secrets = SigningKeys::load(self.key_file(set))?;
            secrets.keys.insert(kid.clone(), hex::encode(pkcs8.as_ref()));
            secrets.save(self.key_file(set))?;
            tx.execute(
                &format!("INSERT INTO {table} (kid, public_key, created_at, not_after) VALUES ($1, $2, $3, $4)"),
                args![kid, public, now.to_string(), (now + set.lifetime()).to_string()],
            )?;
            Ok(true)
        })
    }

    pub(super) fn move_issuer_keys_out(&self) -> Result<(), StoreError> {
        let Some(conn) = self.db.sqlite_connection() else { return Ok(()) };
        let in_database: Option<i64> =
            conn.query_row("SELECT 1 FROM pragma_table_info('issuer_keys') WHERE name = 'private_pkcs8'", [], |r| r.get(0)).optional()?;
        if in_database.is_none() {
            return Ok(());
        }
        let rows: Vec<(String, Vec<u8>)> = conn
            .prepare("SELECT kid, private_pkcs8 FROM issuer_keys WHERE private_pkcs8 IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if !rows.is_empty() {
            let mut secrets = SigningKeys::load(&self.issuer_keys)?;
            for (kid, pkcs8) in rows {
                secrets.keys.insert(kid, hex::encode(pkcs8));
            }
            secrets.save(&self.issuer_keys)?;
        }
        conn.execute_batch("ALTER TABLE issuer_keys DROP COLUMN private_pkcs8; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// The identity provider's keys within their lifetime at `now`, newest first.
    pub fn issuer_keys(&self, now: Timestamp) -> Result<Vec<StoredIssuerKey>, StoreError> {
        self.public_keys(KeySet::IdentityProvider, now)
    }

    /// The keys of `set` within their lifetime at `now`, newest first.
    pub fn public_keys(&self, set: KeySet, now: Timestamp) -> Result<Vec<StoredIssuerKey>, StoreError> {
        let sql = format!("SELECT kid, public_key, not_after FROM {} ORDER BY created_at DESC", set.table());
        let rows = self.db.read(|tx| tx.query(&sql, args![]))?;
        let mut keys = Vec::new();
        for row in rows {
            let not_after: Timestamp = row.get::<String>(2)?.parse().map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?;
            if not_after > now {
                keys.push(StoredIssuerKey { kid: row.get(0)?, public_key: row.get(1)?, not_after });
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
        let (kid, pair) = self.signing_key(KeySet::IdentityProvider, now)?;
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
        Ok(encode(&claims, &kid, |input| pair.sign(input).as_ref().to_vec()))
    }

    /// The newest key of `set` at `now`, with its id: what signs now.
    pub fn signing_key(&self, set: KeySet, now: Timestamp) -> Result<(String, ring::signature::Ed25519KeyPair), StoreError> {
        let key =
            self.public_keys(set, now)?.into_iter().next().ok_or_else(|| StoreError::Corrupt(format!("no {set:?} key to sign with")))?;
        let file = self.key_file(set);
        let private = SigningKeys::load(file)?
            .get(&key.kid)
            .ok_or_else(|| StoreError::Corrupt(format!("{set:?} key {}: its private half is not in {}", key.kid, file.display())))?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&private)
            .map_err(|_| StoreError::Corrupt(format!("{set:?} key {} unusable", key.kid)))?;
        Ok((key.kid, pair))
    }
}

/// A key id: the first 8 bytes of the SHA-256 of the public key, hex.
fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(public_key)[..8])
}
