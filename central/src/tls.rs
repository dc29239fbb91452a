//! TLS for central: its server configuration with mutual TLS for kiosks, and a
//! development PKI (a private CA, a server certificate for loopback, kiosk certificates) for
//! the demo and the tests.
//!
//! Kiosks authenticate with a client certificate signed by the kiosk CA; its subject's common
//! name is the kiosk id. The handshake accepts clients without a certificate too (a browser
//! opening the console page), and the API refuses them (`api::auth`): the TLS layer says who
//! the peer is, the HTTP layer decides what it may do.
//!
//! The server that accepts connections, within limits, is `server.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not generate a certificate")]
    Generate(#[from] rcgen::Error),
    #[error("bad PEM in {what}")]
    Pem { what: &'static str, source: rustls::pki_types::pem::Error },
    #[error("TLS configuration refused")]
    Rustls(#[from] rustls::Error),
    #[error("the client CA cannot verify kiosk certificates")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    #[error("{0:?} is not a kiosk or centre id (letters, digits and '-', at most 32)")]
    KioskId(String),
}

/// An enrolled kiosk as its certificate names it: the subject's common name is the kiosk,
/// its organisational unit the service centre the kiosk stands in. Central trusts the centre
/// from the certificate, so a kiosk can neither read another centre's certificates nor file
/// records for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KioskName {
    pub kiosk_id: String,
    pub centre_id: String,
}

/// Who is at the other end of a connection: its address and, when it presented a valid kiosk
/// certificate, the kiosk that certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub addr: SocketAddr,
    pub kiosk: Option<KioskName>,
}

impl Peer {
    /// A peer as the listener would see a kiosk: for tests that call the router directly.
    pub fn kiosk(kiosk_id: &str, centre_id: &str) -> Self {
        let kiosk = KioskName { kiosk_id: kiosk_id.to_string(), centre_id: centre_id.to_string() };
        Self { addr: SocketAddr::from(([127, 0, 0, 1], 0)), kiosk: Some(kiosk) }
    }
}

/// Whether `id` has the shape of a kiosk or centre id (as the kiosk's configuration requires).
pub fn is_kiosk_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The kiosk a verified client certificate names (common name and organisational unit); a
/// certificate without both is no kiosk's.
pub fn kiosk_of(cert: &CertificateDer<'_>) -> Option<KioskName> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = cert.subject();
    let kiosk_id = subject.iter_common_name().next()?.as_str().ok()?;
    let centre_id = subject.iter_organizational_unit().next()?.as_str().ok()?;
    (is_kiosk_id(kiosk_id) && is_kiosk_id(centre_id))
        .then(|| KioskName { kiosk_id: kiosk_id.to_string(), centre_id: centre_id.to_string() })
}

/// A private CA and a server certificate it signed for `localhost` and `127.0.0.1`. The same
/// CA signs kiosk certificates ([`DevPki::issue_kiosk`]).
#[derive(Clone)]
pub struct DevPki {
    pub ca_pem: String,
    pub ca_key_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl std::fmt::Debug for DevPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevPki").finish_non_exhaustive()
    }
}

impl DevPki {
    pub fn generate() -> Result<Self, TlsError> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "Balcão development CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate()?;
        let ca_key_pem = ca_key.serialize_pem();
        let ca = CertifiedIssuer::self_signed(ca, ca_key)?;

        let mut server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        server.distinguished_name.push(DnType::CommonName, "Balcão central (development)");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = server.signed_by(&server_key, &ca)?;
        Ok(Self { ca_pem: ca.pem(), ca_key_pem, server_cert_pem: server_cert.pem(), server_key_pem: server_key.serialize_pem() })
    }

    /// A certificate for the kiosk `kiosk_id` of the centre `centre_id`, signed by this CA for
    /// client authentication: the PEM of the certificate followed by its private key, as the
    /// kiosk's `central.identity_file` holds it.
    pub fn issue_kiosk(&self, kiosk_id: &str, centre_id: &str) -> Result<String, TlsError> {
        for id in [kiosk_id, centre_id] {
            if !is_kiosk_id(id) {
                return Err(TlsError::KioskId(id.to_string()));
            }
        }
        let issuer = Issuer::from_ca_cert_pem(&self.ca_pem, KeyPair::from_pem(&self.ca_key_pem)?)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, kiosk_id);
        params.distinguished_name.push(DnType::OrganizationalUnitName, centre_id);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(format!("{}{}", cert.pem(), key.serialize_pem()))
    }

    /// The files a development PKI is kept in, in its folder (`--dev-pki DIR`): the CA, its
    /// key, the server's certificate and its key.
    pub const FILES: [&'static str; 4] = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"];

    /// Writes the four [`FILES`](Self::FILES) into `dir` (made if missing), each readable by
    /// its owner only.
    pub fn save(&self, dir: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::create_dir_all(dir)?;
        for (name, pem) in Self::FILES.iter().zip([&self.ca_pem, &self.ca_key_pem, &self.server_cert_pem, &self.server_key_pem]) {
            let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(dir.join(name))?;
            file.write_all(pem.as_bytes())?;
        }
        Ok(())
    }

    /// The server's configuration, verifying kiosk certificates against this CA.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config(self.server_cert_pem.as_bytes(), self.server_key_pem.as_bytes(), self.ca_pem.as_bytes())
    }
}

/// A rustls server configuration (ring, TLS 1.2 and 1.3, HTTP/1.1) from PEM files. Client
/// certificates are verified against `client_ca_pem` (the kiosk CA); a client may also come
/// without one, and the API then refuses it.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8], client_ca_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Pem { what: "certificate", source })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|source| TlsError::Pem { what: "private key", source })?;
    let mut client_roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client_ca_pem) {
        client_roots.add(cert.map_err(|source| TlsError::Pem { what: "client CA", source })?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let clients = WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone()).allow_unauthenticated().build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(clients)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A kiosk beats every minute, and its connection has closed in between: resuming its TLS
    // session with a ticket spares both sides the certificates' signatures. Tickets are
    // stateless (encrypted with a key of this process, rotated), so a fleet of any size
    // resumes; on another instance a ticket is simply not accepted and the handshake is full.
    // The client's certificate travels in the ticket, so a resumed connection is the same
    // kiosk's (see `a_resumed_session_is_still_the_kiosk`).
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_cert(pem: &str) -> CertificateDer<'static> {
        CertificateDer::pem_slice_iter(pem.as_bytes()).next().expect("a certificate").expect("pem")
    }

    #[test]
    fn a_kiosk_certificate_names_the_kiosk_and_its_centre_and_nothing_else_is_a_kiosk() {
        let pki = DevPki::generate().expect("pki");
        let identity = pki.issue_kiosk("K07", "GSC-02").expect("issued");
        assert_eq!(kiosk_of(&first_cert(&identity)), Some(KioskName { kiosk_id: "K07".into(), centre_id: "GSC-02".into() }));
        // A certificate of the same CA with a kiosk's name but no centre is no kiosk's.
        let issuer = Issuer::from_ca_cert_pem(&pki.ca_pem, KeyPair::from_pem(&pki.ca_key_pem).expect("key")).expect("issuer");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, "K07");
        let centreless = params.signed_by(&KeyPair::generate().expect("key"), &issuer).expect("signed");
        assert_eq!(kiosk_of(centreless.der()), None);
        assert_eq!(kiosk_of(&first_cert(&pki.server_cert_pem)), None);
        assert!(matches!(pki.issue_kiosk("K07", "GSC 02"), Err(TlsError::KioskId(id)) if id == "GSC 02"));
        assert!(matches!(pki.issue_kiosk("", "GSC-02"), Err(TlsError::KioskId(_))));
    }
}
