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
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SerialNumber,
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
    #[error("the certificate signing request is not one central can sign: {0}")]
    Csr(String),
    #[error("the kiosk CA's key does not load: {0}")]
    CaKey(String),
}

/// An enrolled kiosk as its certificate names it: the subject's common name is the kiosk,
/// its organisational unit the service centre the kiosk stands in. Central trusts the centre
/// from the certificate, so a kiosk can neither read another centre's certificates nor file
/// records for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KioskName {
    pub kiosk_id: String,
    pub centre_id: String,
    /// When the certificate became valid (its `notBefore`, seconds since 1970): a certificate
    /// issued before its kiosk was revoked is refused.
    pub not_before: i64,
    /// When it expires (`notAfter`): checked at the handshake, and again on each request, since
    /// a kiosk's connection is kept open between its requests.
    pub not_after: i64,
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
        let kiosk = KioskName { kiosk_id: kiosk_id.to_string(), centre_id: centre_id.to_string(), not_before: 0, not_after: i64::MAX };
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
    let (not_before, not_after) = (cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
    (is_kiosk_id(kiosk_id) && is_kiosk_id(centre_id)).then(|| KioskName {
        kiosk_id: kiosk_id.to_string(),
        centre_id: centre_id.to_string(),
        not_before,
        not_after,
    })
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
        let now = jiff::Timestamp::now();
        let params = kiosk_params(kiosk_id, centre_id, now.as_second(), (now + DEV_LIFETIME).as_second())?;
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

/// How long the development PKI's kiosk certificates last (made by hand, never renewed).
const DEV_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(5 * 366 * 24);

/// A kiosk certificate's contents: its name (common name) and centre (organisational unit),
/// for client authentication only, valid between the two times (seconds since 1970), with a
/// random serial.
fn kiosk_params(kiosk_id: &str, centre_id: &str, not_before: i64, not_after: i64) -> Result<CertificateParams, TlsError> {
    let time = |secs: i64| time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| TlsError::Csr(e.to_string()));
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, kiosk_id);
    params.distinguished_name.push(DnType::OrganizationalUnitName, centre_id);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = time(not_before)?;
    params.not_after = time(not_after)?;
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(params)
}

/// The kiosk CA as central uses it to enroll kiosks and renew their certificates.
#[derive(Clone)]
pub struct KioskIssuer {
    ca_pem: String,
    ca_key_pem: String,
    /// How long a certificate it issues lasts.
    pub lifetime: jiff::SignedDuration,
}

impl std::fmt::Debug for KioskIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskIssuer").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

/// A certificate the kiosk CA issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub pem: String,
    /// Its serial, in hex.
    pub serial: String,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
}

/// How long kiosk certificates last unless central is told otherwise: short, since the kiosk
/// renews its own.
pub const KIOSK_CERT_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(90 * 24);

impl KioskIssuer {
    /// The CA of `ca_pem` signing with `ca_key_pem`; both are checked to load.
    pub fn new(ca_pem: &str, ca_key_pem: &str, lifetime: jiff::SignedDuration) -> Result<Self, TlsError> {
        let key = KeyPair::from_pem(ca_key_pem).map_err(|e| TlsError::CaKey(e.to_string()))?;
        Issuer::from_ca_cert_pem(ca_pem, key).map_err(|e| TlsError::CaKey(e.to_string()))?;
        Ok(Self { ca_pem: ca_pem.to_string(), ca_key_pem: ca_key_pem.to_string(), lifetime })
    }

    /// The development PKI's CA, as issuer.
    pub fn of_dev_pki(pki: &DevPki, lifetime: jiff::SignedDuration) -> Result<Self, TlsError> {
        Self::new(&pki.ca_pem, &pki.ca_key_pem, lifetime)
    }

    /// A certificate for the key of `csr` (see [`read_csr`]) naming `kiosk_id` at `centre_id`,
    /// valid from `not_before` (whole seconds) for [`lifetime`](Self::lifetime). Whatever else
    /// the request asked for is ignored.
    pub fn issue(
        &self,
        csr: &CertificateSigningRequestParams,
        kiosk_id: &str,
        centre_id: &str,
        not_before: jiff::Timestamp,
    ) -> Result<Issued, TlsError> {
        for id in [kiosk_id, centre_id] {
            if !is_kiosk_id(id) {
                return Err(TlsError::KioskId(id.to_string()));
            }
        }
        let not_after = not_before + self.lifetime;
        let params = kiosk_params(kiosk_id, centre_id, not_before.as_second(), not_after.as_second())?;
        let serial = params.serial_number.as_ref().map(|s| hex::encode(s.to_bytes())).unwrap_or_default();
        let issuer = Issuer::from_ca_cert_pem(&self.ca_pem, KeyPair::from_pem(&self.ca_key_pem)?)?;
        let request = CertificateSigningRequestParams { params, public_key: csr.public_key.clone() };
        let cert = request.signed_by(&issuer)?;
        let second = |t: jiff::Timestamp| jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
        Ok(Issued { pem: cert.pem(), serial, not_before: second(not_before), not_after: second(not_after) })
    }
}

/// Reads and checks a certificate signing request (PEM): well formed, signed by the key it
/// carries. Untrusted input: a parser panic is a refusal, not a dead thread.
pub fn read_csr(pem: &str) -> Result<CertificateSigningRequestParams, TlsError> {
    if pem.len() > balcao_backend_client::api::MAX_CSR {
        return Err(TlsError::Csr(format!("it is longer than {} bytes", balcao_backend_client::api::MAX_CSR)));
    }
    match std::panic::catch_unwind(|| CertificateSigningRequestParams::from_pem(pem)) {
        Ok(Ok(csr)) => Ok(csr),
        Ok(Err(e)) => Err(TlsError::Csr(e.to_string())),
        Err(_) => Err(TlsError::Csr("it could not be read".into())),
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
        let named = kiosk_of(&first_cert(&identity)).expect("a kiosk's");
        assert_eq!((named.kiosk_id.as_str(), named.centre_id.as_str()), ("K07", "GSC-02"));
        assert!((named.not_before - jiff::Timestamp::now().as_second()).abs() < 5, "valid from its issue: {named:?}");
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
