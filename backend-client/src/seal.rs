//! Authenticated encryption of the personal data kiosks and central keep at rest
//! (ChaCha20-Poly1305 from `ring`), with the key in a file outside the database.
//!
//! Why columns and not SQLCipher: only a few columns hold personal data (outbox bodies, cached
//! certificates, central's answers), SQLCipher through rusqlite means building and carrying a
//! second crypto library (OpenSSL or a vendored copy) beside the `ring` both sides already have
//! for TLS, and column encryption leaves the rest of the database readable by a technician's
//! tools (and works the same on PostgreSQL). Each value is bound to its row (the associated
//! data names table, record and kind), so a ciphertext moved to another row does not decrypt.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the data key file {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot create the data key file {}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the data key file {} is not 64 hexadecimal digits", path.display())]
    Malformed { path: PathBuf },
    #[error("the system's random number generator failed")]
    Random,
}

/// The key that seals personal data. Never logged, never in the database.
pub struct DataKey {
    key: LessSafeKey,
    /// For blind indexes: derived from the same key file (HKDF), never the sealing key itself.
    index: ring::hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A value that did not decrypt: wrong key, or the row was altered.
#[derive(Debug, thiserror::Error)]
#[error("a sealed value does not open with this key (wrong key or altered data)")]
pub struct Unsealable;

impl DataKey {
    fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key is valid for ChaCha20-Poly1305");
        let index: ring::hmac::Key = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"balcao data key")
            .extract(bytes)
            .expand(&[b"blind index v1"], ring::hmac::HMAC_SHA256)
            .expect("HMAC-SHA256's key length is a valid HKDF output")
            .into();
        Self { key: LessSafeKey::new(key), index, rng: SystemRandom::new() }
    }

    /// Reads the key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.to_path_buf(), source })?;
        let bytes: [u8; KEY_LEN] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::Malformed { path: path.to_path_buf() })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Makes a new random key and writes it to `path` (readable by the owner only), durably
    /// and atomically: a power cut leaves either no key file or a whole one. Fails if the file
    /// exists: a key is never overwritten.
    pub fn create(path: &Path) -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut bytes).map_err(|_| KeyError::Random)?;
        let create = |source| KeyError::Create { path: path.to_path_buf(), source };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(create)?;
        let mut draft = path.as_os_str().to_owned();
        draft.push(".new");
        let draft = PathBuf::from(draft);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&draft).map_err(create)?;
        file.write_all(hex::encode(bytes).as_bytes()).map_err(create)?;
        file.sync_all().map_err(create)?;
        // A hard link, unlike a rename, refuses to replace an existing key.
        let linked = std::fs::hard_link(&draft, path);
        let _ = std::fs::remove_file(&draft);
        linked.map_err(create)?;
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(create)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Encrypts `plain`, bound to `context`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| KeyError::Random)?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| KeyError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// A blind index of `value` in `context`: the same for the same value under the same key,
    /// so a sealed value can be found by equality, and nothing of the value without the key
    /// (HMAC-SHA256, hex).
    pub fn blind_index(&self, context: &str, value: &str) -> String {
        let mut signing = ring::hmac::Context::with_key(&self.index);
        signing.update(context.as_bytes());
        signing.update(&[0]);
        signing.update(value.as_bytes());
        hex::encode(signing.sign().as_ref())
    }

    /// Decrypts what [`seal`](Self::seal) made with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut buffer = body.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer).map_err(|_| Unsealable)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = DataKey::create(&dir.path().join("k")).expect("create");
        let sealed = key.seal("outbox/1/application", b"CHAN TAI MAN").expect("seal");
        assert!(!sealed.windows(4).any(|w| w == b"CHAN"), "the plain text is not in the sealed value");
        assert_eq!(key.open("outbox/1/application", &sealed).expect("open"), b"CHAN TAI MAN");
        assert!(key.open("outbox/2/application", &sealed).is_err(), "moved to another row");
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert!(key.open("outbox/1/application", &altered).is_err(), "altered");
        let other = DataKey::create(&dir.path().join("other")).expect("create");
        assert!(other.open("outbox/1/application", &sealed).is_err(), "another key");
        assert_ne!(key.seal("c", b"same").expect("seal"), key.seal("c", b"same").expect("seal"), "fresh nonce each time");
    }

    #[test]
    fn a_blind_index_finds_equal_values_under_one_key_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = DataKey::create(&dir.path().join("k")).expect("create");
        let index = key.blind_index("holder", "1234567(8)");
        assert_eq!(index, key.blind_index("holder", "1234567(8)"));
        assert_eq!(index.len(), 64);
        assert!(!index.contains("1234567"));
        assert_ne!(index, key.blind_index("holder", "1234567(9)"));
        assert_ne!(index, key.blind_index("other", "1234567(8)"), "bound to its context");
        let reloaded = DataKey::load(&dir.path().join("k")).expect("load");
        assert_eq!(index, reloaded.blind_index("holder", "1234567(8)"), "the same key file, the same index");
        let other = DataKey::create(&dir.path().join("other")).expect("create");
        assert_ne!(index, other.blind_index("holder", "1234567(8)"));
    }

    #[test]
    fn the_key_file_is_private_reloadable_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/data.key");
        let key = DataKey::create(&path).expect("create");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        let sealed = key.seal("c", b"x").expect("seal");
        assert_eq!(DataKey::load(&path).expect("load").open("c", &sealed).expect("open"), b"x");
        assert!(matches!(DataKey::create(&path), Err(KeyError::Create { .. })));
        std::fs::write(dir.path().join("bad"), "not hex").expect("write");
        assert!(matches!(DataKey::load(&dir.path().join("bad")), Err(KeyError::Malformed { .. })));
    }
}
