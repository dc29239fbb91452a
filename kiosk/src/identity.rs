//! The kiosk's identity towards central: its private key, made on the kiosk and never sent
//! anywhere, and the certificate central's kiosk CA issued for it. The technician's tool makes
//! the first at enrollment; the running kiosk makes each next one before the current expires.
//!
//! Where the key lives is behind [`KeyStore`]: today a file readable by the kiosk's user only
//! (the identity file the configuration names, holding the certificate and then the key, as
//! the kiosk's TLS client reads it); a TPM-held key that never leaves the chip can take its
//! place by signing the request and the TLS handshakes itself.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot make the kiosk's key: {0}")]
    Key(String),
    #[error("cannot write the kiosk's identity to {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "cannot give {} to the kiosk's user (uid {uid}, the owner of its folder): {source}; run the tool as root or as that user",
        path.display()
    )]
    Owner { path: PathBuf, uid: u32, source: std::io::Error },
    #[error("central's certificate for the kiosk is not one: {0}")]
    Certificate(String),
}

/// A new key of the kiosk's, waiting for its certificate.
pub trait PendingKey: Send {
    /// A certificate signing request (PEM) for the key, naming `kiosk_id` at `centre_id`
    /// (central names the certificate as it knows the kiosk, whatever the request says).
    fn signing_request(&self, kiosk_id: &str, centre_id: &str) -> Result<String, IdentityError>;
    /// Keeps the key with the certificate central issued for it, as the kiosk's identity,
    /// replacing the one before only once both are safely written.
    fn install(self: Box<Self>, certificate_pem: &str) -> Result<(), IdentityError>;
}

/// Where the kiosk's keys are made and kept.
pub trait KeyStore {
    /// Makes a new key (the current identity stays in use until the new one is installed).
    fn new_key(&self) -> Result<Box<dyn PendingKey>, IdentityError>;
}

/// The identity in a file: the certificate then the private key (PEM), mode 0600, owned by
/// the owner of its folder (the kiosk's user).
#[derive(Clone, Debug)]
pub struct FileKeyStore {
    pub identity_file: PathBuf,
}

struct FileKey {
    identity_file: PathBuf,
    key: KeyPair,
}

impl KeyStore for FileKeyStore {
    fn new_key(&self) -> Result<Box<dyn PendingKey>, IdentityError> {
        // ECDSA P-256: what every TLS stack takes, and what a TPM 2.0 holds.
        let key = KeyPair::generate().map_err(|e| IdentityError::Key(e.to_string()))?;
        Ok(Box::new(FileKey { identity_file: self.identity_file.clone(), key }))
    }
}

impl PendingKey for FileKey {
    fn signing_request(&self, kiosk_id: &str, centre_id: &str) -> Result<String, IdentityError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| IdentityError::Key(e.to_string()))?;
        params.distinguished_name.push(DnType::CommonName, kiosk_id);
        params.distinguished_name.push(DnType::OrganizationalUnitName, centre_id);
        let request = params.serialize_request(&self.key).map_err(|e| IdentityError::Key(e.to_string()))?;
        request.pem().map_err(|e| IdentityError::Key(e.to_string()))
    }

    fn install(self: Box<Self>, certificate_pem: &str) -> Result<(), IdentityError> {
        let names =
            balcao_backend_client::identity_names(certificate_pem.as_bytes()).map_err(|e| IdentityError::Certificate(e.to_string()))?;
        tracing::info!(kiosk = %names.0, centre = %names.1, file = %self.identity_file.display(), "kiosk identity installed");
        write_private(&self.identity_file, &format!("{}\n{}", certificate_pem.trim_end(), self.key.serialize_pem()))
    }
}

/// Writes `contents` to `path` readable by its owner only, owned by the owner of its folder,
/// through a file beside it renamed into place (a crash leaves the old file or the new, whole).
pub fn write_private(path: &Path, contents: &str) -> Result<(), IdentityError> {
    let failed = |source| IdentityError::Write { path: path.to_path_buf(), source };
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(failed)?;
    let owner = std::fs::metadata(folder).map_err(failed)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = folder.join(format!(".{name}.new"));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary).map_err(failed)?;
    file.write_all(contents.as_bytes()).and_then(|()| file.sync_all()).map_err(failed)?;
    let mine = file.metadata().map_err(failed)?;
    if (mine.uid(), mine.gid()) != (owner.uid(), owner.gid()) {
        std::os::unix::fs::chown(&temporary, Some(owner.uid()), Some(owner.gid())).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            IdentityError::Owner { path: path.to_path_buf(), uid: owner.uid(), source }
        })?;
    }
    std::fs::rename(&temporary, path).map_err(failed)?;
    // The rename itself on disk, not only the file's contents.
    std::fs::File::open(folder).and_then(|dir| dir.sync_all()).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_asks_for_its_certificate_and_is_kept_private_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileKeyStore { identity_file: dir.path().join("kiosk/identity.pem") };
        let pending = store.new_key().expect("key");
        let request = pending.signing_request("K01", "GSC-01").expect("csr");
        assert!(request.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{request}");
        let csr = rcgen::CertificateSigningRequestParams::from_pem(&request).expect("a request that verifies");
        // A certificate for that key, as central's CA would make it.
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("ca key");
        let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("ca");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, "K01");
        params.distinguished_name.push(DnType::OrganizationalUnitName, "GSC-01");
        let cert = rcgen::CertificateSigningRequestParams { params, public_key: csr.public_key }.signed_by(&issuer).expect("signed");
        pending.install(&cert.pem()).expect("installed");
        let written = std::fs::read_to_string(&store.identity_file).expect("identity");
        assert!(written.starts_with("-----BEGIN CERTIFICATE-----") && written.contains("PRIVATE KEY-----"), "{written}");
        let mode = std::fs::metadata(&store.identity_file).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is its owner's only");
        assert_eq!(balcao_backend_client::identity_names(written.as_bytes()).expect("names"), ("K01".to_string(), "GSC-01".to_string()));
        assert!(!dir.path().join("kiosk/.identity.pem.new").exists(), "nothing left beside it");
        // Something that is no certificate is not installed, and the identity stays.
        let next = store.new_key().expect("key");
        assert!(matches!(next.install("not a certificate"), Err(IdentityError::Certificate(_))));
        assert_eq!(std::fs::read_to_string(&store.identity_file).expect("identity"), written);
    }
}
