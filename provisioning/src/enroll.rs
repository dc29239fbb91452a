//! `kiosk-provision enroll`: the kiosk's first certificate for a one-time token.
//!
//! 1. The token is read as typed (its check character catches a typo before central is asked).
//! 2. Central's CA — what the kiosk will trust for central — comes from `--ca-file`, or is
//!    fetched from central on first contact and trusted only once its SHA-256 fingerprint
//!    matches `--ca-fingerprint` or the technician confirms it.
//! 3. The kiosk's key is made here, on the kiosk ([`balcao_kiosk::identity`]); only a signing
//!    request leaves it. Central's answer names the kiosk and centre the token was made for.
//! 4. The key and certificate are written as the configuration's `central.identity_file`
//!    (0600, the kiosk's user's), the CA beside it, and the configuration updated (keeping its
//!    comments) and checked exactly as the kiosk reads it before it replaces the old one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use balcao_backend_client::api::fingerprint;
use balcao_backend_client::api::{EnrollmentRequest, EnrollmentToken};
use balcao_backend_client::{CentralClient, ClientConfig, ClientError, Timeouts};
use balcao_kiosk::identity::{FileKeyStore, KeyStore as _};
use balcao_kiosk::runtime::error_chain;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// What the technician asked for.
#[derive(Clone, Debug)]
pub struct EnrollOptions {
    /// Central's address, `https://host:port`.
    pub central: String,
    /// The token as typed.
    pub token: String,
    /// The SHA-256 fingerprint of central's CA the administrator gave, if any.
    pub ca_fingerprint: Option<String>,
    /// Central's CA as a file the administrator gave, if any (else fetched from central).
    pub ca_file: Option<PathBuf>,
    /// The kiosk's configuration file (made if missing).
    pub config: PathBuf,
    /// Where the key and certificate go; default: `identity.pem` in the kiosk's data folder.
    pub identity_file: Option<PathBuf>,
}

/// Why enrolling failed; each kind has its own exit code (see [`EXIT_CODES`]).
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Untrusted(String),
    #[error("{0}")]
    Local(String),
}

/// The exit codes of `enroll`, as `--help` lists them.
pub const EXIT_CODES: &str = "Exit codes: 0 enrolled; 2 a wrong argument or token (mistyped); 3 central unreachable; 4 central refused \
                              the token or the request; 5 central's CA not trusted (fingerprint differs, or not confirmed); 6 a file on \
                              this kiosk could not be written, or the configuration does not check.";

impl EnrollError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Unreachable(_) => 3,
            Self::Refused(_) => 4,
            Self::Untrusted(_) => 5,
            Self::Local(_) => 6,
        }
    }
}

/// What enrolling did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Enrolled {
    pub kiosk_id: String,
    pub centre_id: String,
    pub not_after: String,
    pub identity_file: PathBuf,
    pub ca_file: PathBuf,
    pub ca_fingerprint: String,
    pub config: PathBuf,
    /// The configuration's values that changed, `key: old → new`.
    pub changed: Vec<String>,
}

impl std::fmt::Display for Enrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "enrolled: kiosk {} at centre {}", self.kiosk_id, self.centre_id)?;
        writeln!(f, "  certificate until {} (the kiosk renews it itself)", self.not_after)?;
        writeln!(f, "  identity (key and certificate): {}", self.identity_file.display())?;
        writeln!(f, "  central's CA: {} ({})", self.ca_file.display(), self.ca_fingerprint)?;
        write!(f, "  configuration: {}", self.config.display())?;
        for change in &self.changed {
            write!(f, "\n    {change}")?;
        }
        Ok(())
    }
}

/// A fingerprint as a person may write it (`SHA256:` before it or not, colons or not, any
/// case), made comparable.
fn normalise_fingerprint(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_prefix("SHA256:").or_else(|| text.strip_prefix("sha256:")).unwrap_or(text);
    text.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_uppercase()).collect()
}

/// The first certificate of a PEM text, and its fingerprint.
fn first_certificate(pem: &str, what: &str) -> Result<(CertificateDer<'static>, String), EnrollError> {
    let cert = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| EnrollError::Untrusted(format!("{what} holds no certificate")))?
        .map_err(|e| EnrollError::Untrusted(format!("{what} is not a PEM certificate: {e}")))?;
    let print = fingerprint(cert.as_ref());
    Ok((cert, print))
}

/// Accepts whatever certificate central shows, for one request only: fetching the CA whose
/// fingerprint is then checked with the technician before anything is trusted. Written here
/// because this trust-on-first-use step is particular to enrollment; the handshake's
/// signatures are still verified with the provider's algorithms.
#[derive(Debug)]
struct FirstContact(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for FirstContact {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The largest CA answer read on first contact.
const MAX_CA: usize = 64 * 1024;

/// Fetches the CA central says kiosks should trust for it, without trusting central yet.
pub async fn fetch_central_ca(central: &str) -> Result<String, EnrollError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| EnrollError::Local(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FirstContact(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| EnrollError::Local(e.to_string()))?;
    let url = format!("{}/v1/enrollment/ca", central.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| EnrollError::Unreachable(format!("cannot reach central at {central}: {}", error_chain(&e)));
    let response = http.get(&url).send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(EnrollError::Refused(format!(
            "central did not give its CA (HTTP {status}): bring it from the administrator with --ca-file"
        )));
    }
    if body.len() > MAX_CA {
        return Err(EnrollError::Untrusted("central's answer is too large to be a CA certificate".into()));
    }
    String::from_utf8(body.to_vec()).map_err(|_| EnrollError::Untrusted("central's CA is not PEM text".into()))
}

/// Enrolls this kiosk. `confirm` is asked whether to trust central's CA when no fingerprint
/// was given (it shows the fingerprint to the technician); it is never asked otherwise.
pub async fn enroll(options: &EnrollOptions, confirm: &mut dyn FnMut(&str) -> bool) -> Result<Enrolled, EnrollError> {
    let token = EnrollmentToken::parse(&options.token).map_err(|e| EnrollError::Usage(e.to_string()))?;
    let central = options.central.trim_end_matches('/').to_string();
    if !central.starts_with("https://") {
        return Err(EnrollError::Usage(format!("--central must start with https:// (got {central:?})")));
    }
    let old_text = match std::fs::read_to_string(&options.config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(EnrollError::Local(format!("cannot read {}: {e}", options.config.display()))),
    };
    let mut config: toml_edit::DocumentMut =
        old_text.parse().map_err(|e| EnrollError::Local(format!("{} is not TOML: {e}", options.config.display())))?;
    let data_dir = config
        .get("store")
        .and_then(|s| s.get("data_dir"))
        .and_then(|d| d.as_str())
        .map_or_else(|| balcao_kiosk::config::StoreSection::default().data_dir, PathBuf::from);
    let identity_file = options.identity_file.clone().unwrap_or_else(|| data_dir.join("identity.pem"));
    let ca_file = identity_file.with_file_name("central-ca.pem");

    // Central's CA, trusted only once its fingerprint is confirmed.
    let ca_pem = match &options.ca_file {
        Some(file) => std::fs::read_to_string(file).map_err(|e| EnrollError::Usage(format!("cannot read {}: {e}", file.display())))?,
        None => fetch_central_ca(&central).await?,
    };
    let (_, print) = first_certificate(&ca_pem, "central's CA")?;
    match &options.ca_fingerprint {
        Some(given) if normalise_fingerprint(given) == normalise_fingerprint(&print) => {}
        Some(given) => {
            return Err(EnrollError::Untrusted(format!(
                "central's CA has the fingerprint {print}, not {given}: do not enroll against this server; check the address with the administrator"
            )));
        }
        None if options.ca_file.is_some() => {}
        None if confirm(&print) => {}
        None => {
            return Err(EnrollError::Untrusted(format!(
                "central's CA ({print}) was not confirmed: compare it with the administrator's and run again with --ca-fingerprint"
            )));
        }
    }

    // The key, made here; only the request leaves the kiosk.
    let keys = FileKeyStore { identity_file: identity_file.clone() };
    let pending = keys.new_key().map_err(|e| EnrollError::Local(e.to_string()))?;
    // The kiosk and centre the configuration names already, if it does: central refuses a
    // token made for another.
    let configured = |key: &str| config.get("kiosk").and_then(|k| k.get(key)).and_then(|v| v.as_str()).map(str::to_owned);
    let (kiosk_id, centre_id) = (configured("id"), configured("centre_id"));
    let csr_pem = pending
        .signing_request(kiosk_id.as_deref().unwrap_or("unenrolled"), centre_id.as_deref().unwrap_or("unenrolled"))
        .map_err(|e| EnrollError::Local(e.to_string()))?;
    let client = CentralClient::new(&ClientConfig {
        base_url: central.clone(),
        ca_pem: ca_pem.clone().into_bytes(),
        identity_pem: None,
        timeouts: Timeouts::default(),
    })
    .map_err(|e| EnrollError::Usage(e.to_string()))?;
    let issued =
        client.enroll(&EnrollmentRequest { token: token.grouped(), csr_pem, kiosk_id, centre_id }).await.map_err(|e| match &e {
            ClientError::Refused { problem, .. } | ClientError::NotEnrolled { problem } => {
                EnrollError::Refused(format!("central refused: {}", problem.detail.as_deref().unwrap_or(&problem.title)))
            }
            ClientError::Throttled { .. } => EnrollError::Refused(format!("central refused: {e}")),
            ClientError::Unreachable { source, .. } => EnrollError::Unreachable(format!(
                "cannot reach central at {central} with its CA ({}): if the CA is right, central's certificate is not signed by it",
                error_chain(source)
            )),
            _ => EnrollError::Unreachable(format!("central at {central}: {e}")),
        })?;

    pending.install(&issued.certificate_pem).map_err(|e| EnrollError::Local(e.to_string()))?;
    balcao_kiosk::identity::write_private(&ca_file, &ca_pem).map_err(|e| EnrollError::Local(e.to_string()))?;

    // The configuration, updated where it differs, and checked before it replaces the old.
    let mut changed = Vec::new();
    let path_text = |p: &Path| p.to_string_lossy().into_owned();
    for (table, key, value) in [
        ("kiosk", "id", issued.kiosk_id.clone()),
        ("kiosk", "centre_id", issued.centre_id.clone()),
        ("central", "url", central.clone()),
        ("central", "ca_file", path_text(&ca_file)),
        ("central", "identity_file", path_text(&identity_file)),
    ] {
        let section = config.entry(table).or_insert_with(toml_edit::table);
        let old = section.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        if old.as_deref() != Some(value.as_str()) {
            changed.push(format!("{table}.{key}: {} → {value}", old.as_deref().unwrap_or("(unset)")));
            section[key] = toml_edit::value(value);
        }
    }
    let written = config.to_string();
    if written != old_text {
        let folder = options.config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let checked = folder.join(".kiosk-provision-check.toml");
        std::fs::write(&checked, &written).map_err(|e| EnrollError::Local(format!("cannot write {}: {e}", checked.display())))?;
        let check = balcao_kiosk::config::KioskConfig::load(&checked);
        if let Err(e) = check {
            let _ = std::fs::remove_file(&checked);
            return Err(EnrollError::Local(format!(
                "the kiosk is enrolled, but the updated configuration does not check, so {} was left as it was: {e}",
                options.config.display()
            )));
        }
        std::fs::rename(&checked, &options.config)
            .map_err(|e| EnrollError::Local(format!("cannot replace {}: {e}", options.config.display())))?;
    }
    Ok(Enrolled {
        kiosk_id: issued.kiosk_id,
        centre_id: issued.centre_id,
        not_after: issued.not_after.to_string(),
        identity_file,
        ca_file,
        ca_fingerprint: print,
        config: options.config.clone(),
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_compares_however_it_is_written() {
        let print = fingerprint(b"a certificate");
        assert_eq!(print.len(), 32 * 3 - 1);
        let plain = print.replace(':', "").to_lowercase();
        assert_eq!(normalise_fingerprint(&format!("SHA256:{plain}")), normalise_fingerprint(&print));
        assert_ne!(normalise_fingerprint(&fingerprint(b"another")), normalise_fingerprint(&print));
    }
}
