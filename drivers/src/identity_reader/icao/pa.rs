//! Passive authentication (ICAO 9303 Part 11 §5.1): the issuing state signed the hashes of the
//! chip's data groups (EF.SOD, a CMS SignedData holding an LDSSecurityObject), with a document
//! signer (DS) certificate issued by its country signing CA (CSCA). The data read is the issuer's
//! when the hashes match, the signature holds, and the DS certificate chains to a CSCA of the
//! kiosk's trust list.
//!
//! The CMS and X.509 structures are parsed with the RustCrypto `cms` and `x509-cert` crates; the
//! signatures are checked with `ring` (RSA PKCS#1 v1.5 and PSS, ECDSA on P-256 and P-384). A
//! document signed with another algorithm (Brainpool curves, say) cannot be verified here: it
//! reads as unverified, never as forged.

use std::path::Path;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::tlv;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// The LDSSecurityObject: the hash of each data group.
#[derive(Clone, Debug, PartialEq, Eq, der::Sequence)]
pub struct LdsSecurityObject {
    pub version: u8,
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub data_group_hashes: Vec<DataGroupHash>,
    #[asn1(optional = "true")]
    pub lds_version_info: Option<der::Any>,
}

#[derive(Clone, Debug, PartialEq, Eq, der::Sequence)]
pub struct DataGroupHash {
    pub data_group: u8,
    pub hash: OctetString,
}

/// Why a document's data could not be shown to be its issuer's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaError {
    /// EF.SOD is not what ICAO 9303 describes.
    #[error("the security object is malformed: {0}")]
    Malformed(String),
    /// Signed, or hashed, with an algorithm the kiosk cannot check.
    #[error("the security object uses {0}, which the kiosk cannot check")]
    UnsupportedAlgorithm(String),
    /// The issuer's CSCA is not on the kiosk's trust list.
    #[error("the document signer's issuer is not on the kiosk's trust list")]
    UntrustedIssuer,
    /// The document signer's certificate is outside its validity at the time of the check.
    #[error("the document signer's certificate is not valid now")]
    CertificateNotValid,
    /// The data read does not match the hash the issuer signed: altered data.
    #[error("data group {0} does not match the hash its issuer signed")]
    HashMismatch(u8),
    /// A data group read has no hash in the security object.
    #[error("data group {0} has no hash in the security object")]
    MissingHash(u8),
    /// The signature, or the signed attributes, do not hold: an altered or forged object.
    #[error("the security object's signature does not hold: {0}")]
    BadSignature(&'static str),
}

impl PaError {
    /// Whether the failure shows the data was altered or forged (as opposed to merely not
    /// verifiable here).
    pub fn is_forgery(&self) -> bool {
        matches!(self, Self::HashMismatch(_) | Self::BadSignature(_))
    }
}

/// The country signing CA certificates the kiosk trusts.
#[derive(Clone, Debug, Default)]
pub struct TrustList {
    cscas: Vec<Certificate>,
}

/// Why a trust list could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustListError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} holds no certificate (PEM or DER): {reason}")]
    NotACertificate { path: String, reason: String },
}

impl TrustList {
    pub fn new(cscas: Vec<Certificate>) -> Self {
        Self { cscas }
    }

    /// Every certificate in the files of `dir` (PEM, possibly several per file, or DER).
    pub fn load_dir(dir: &Path) -> Result<Self, TrustListError> {
        let read_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| TrustListError::Read { path, source }
        };
        let mut cscas = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(read_error(dir))?.collect::<Result<_, _>>().map_err(read_error(dir))?;
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(read_error(&path))?;
            let parsed = if bytes.starts_with(b"-----BEGIN") {
                Certificate::load_pem_chain(&bytes).map_err(|e| e.to_string())
            } else {
                Certificate::from_der(&bytes).map(|c| vec![c]).map_err(|e| e.to_string())
            };
            let certificates = parsed.map_err(|reason| TrustListError::NotACertificate { path: path.display().to_string(), reason })?;
            cscas.extend(certificates);
        }
        Ok(Self { cscas })
    }

    pub fn len(&self) -> usize {
        self.cscas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cscas.is_empty()
    }
}

fn malformed(what: impl std::fmt::Display) -> PaError {
    PaError::Malformed(what.to_string())
}

/// The hash of `data` with the digest algorithm `oid`.
fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, PaError> {
    use sha2::Digest as _;
    Ok(match oid.to_string().as_str() {
        "1.3.14.3.2.26" => sha1::Sha1::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.4" => sha2::Sha224::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.1" => sha2::Sha256::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.2" => sha2::Sha384::digest(data).to_vec(),
        "2.16.840.1.101.3.4.2.3" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(PaError::UnsupportedAlgorithm(format!("the digest algorithm {other}"))),
    })
}

/// The hash algorithm and salt length named by RSASSA-PSS parameters (RFC 4055: SHA-1 and 20
/// bytes when absent).
fn pss_parameters(parameters: Option<&der::Any>) -> Result<(String, usize), PaError> {
    const SHA1: &str = "1.3.14.3.2.26";
    let Some(parameters) = parameters else { return Ok((SHA1.into(), 20)) };
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier,
    //   maskGenAlgorithm [1] …, saltLength [2] EXPLICIT INTEGER, trailerField [3] … }
    let sequence = parameters.to_der().map_err(malformed)?;
    let (outer, _) = tlv::read(&sequence).map_err(malformed)?;
    let hash = match tlv::find(outer.value, 0xA0).map_err(malformed)? {
        Some(hash) => AlgorithmIdentifierOwned::from_der(hash.value).map_err(malformed)?.oid.to_string(),
        None => SHA1.into(),
    };
    let salt = match tlv::find(outer.value, 0xA2).map_err(malformed)? {
        Some(salt) => usize::from(u16::from_der(salt.value).map_err(malformed)?),
        None => 20,
    };
    Ok((hash, salt))
}

/// Checks `signature` over `message` with the public key `key`, by the signature algorithm
/// `algorithm` (and the digest algorithm `digest_alg`, for a bare `rsaEncryption`).
fn verify_signature(
    key: &spki::SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    digest_alg: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PaError> {
    use ring::signature as sig;
    let curve = key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).map(|o| o.to_string());
    let algorithm_oid = algorithm.oid.to_string();
    let rsa_by_digest = |digest: &str| -> Option<&'static dyn sig::VerificationAlgorithm> {
        match digest {
            "1.3.14.3.2.26" => Some(&sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
            "2.16.840.1.101.3.4.2.1" => Some(&sig::RSA_PKCS1_2048_8192_SHA256),
            "2.16.840.1.101.3.4.2.2" => Some(&sig::RSA_PKCS1_2048_8192_SHA384),
            "2.16.840.1.101.3.4.2.3" => Some(&sig::RSA_PKCS1_2048_8192_SHA512),
            _ => None,
        }
    };
    let chosen: Option<&'static dyn sig::VerificationAlgorithm> = match (algorithm_oid.as_str(), curve.as_deref()) {
        ("1.2.840.113549.1.1.5", _) => rsa_by_digest("1.3.14.3.2.26"),
        ("1.2.840.113549.1.1.11", _) => rsa_by_digest("2.16.840.1.101.3.4.2.1"),
        ("1.2.840.113549.1.1.12", _) => rsa_by_digest("2.16.840.1.101.3.4.2.2"),
        ("1.2.840.113549.1.1.13", _) => rsa_by_digest("2.16.840.1.101.3.4.2.3"),
        ("1.2.840.113549.1.1.1", _) => digest_alg.and_then(|d| rsa_by_digest(&d.to_string())),
        // ring checks PSS with a salt as long as the hash, as ICAO 9303 documents use it.
        ("1.2.840.113549.1.1.10", _) => match pss_parameters(algorithm.parameters.as_ref())? {
            (hash, 32) if hash == "2.16.840.1.101.3.4.2.1" => Some(&sig::RSA_PSS_2048_8192_SHA256),
            (hash, 48) if hash == "2.16.840.1.101.3.4.2.2" => Some(&sig::RSA_PSS_2048_8192_SHA384),
            (hash, 64) if hash == "2.16.840.1.101.3.4.2.3" => Some(&sig::RSA_PSS_2048_8192_SHA512),
            _ => None,
        },
        ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => Some(&sig::ECDSA_P256_SHA256_ASN1),
        ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => Some(&sig::ECDSA_P256_SHA384_ASN1),
        ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => Some(&sig::ECDSA_P384_SHA256_ASN1),
        ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => Some(&sig::ECDSA_P384_SHA384_ASN1),
        _ => None,
    };
    let Some(chosen) = chosen else {
        return Err(PaError::UnsupportedAlgorithm(format!(
            "the signature algorithm {algorithm_oid}{}",
            curve.map(|c| format!(" on the curve {c}")).unwrap_or_default()
        )));
    };
    sig::UnparsedPublicKey::new(chosen, key.subject_public_key.raw_bytes())
        .verify(message, signature)
        .map_err(|_| PaError::BadSignature("the signature does not verify with the document signer's key"))
}

/// The unix time `time` names.
fn seconds(time: &x509_cert::time::Time) -> u64 {
    time.to_unix_duration().as_secs()
}

/// What EF.SOD says, once checked: the hashes the issuer signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedHashes {
    pub hash_algorithm: ObjectIdentifier,
    pub data_groups: Vec<u8>,
}

/// Checks EF.SOD (`sod`, the whole file) against the data groups read (`files`: number and
/// whole file) and the trust list, at `now` (seconds since the epoch).
pub fn verify(sod: &[u8], files: &[(u8, &[u8])], trust: &TrustList, now: u64) -> Result<VerifiedHashes, PaError> {
    let (outer, _) = tlv::read(sod).map_err(malformed)?;
    if outer.tag != 0x77 {
        return Err(malformed("EF.SOD does not start with tag 77"));
    }
    let content_info = ContentInfo::from_der(outer.value).map_err(malformed)?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(malformed("not a CMS SignedData"));
    }
    let signed: SignedData = content_info.content.decode_as().map_err(malformed)?;
    let encapsulated = &signed.encap_content_info;
    if encapsulated.econtent_type != ID_LDS_SECURITY_OBJECT {
        return Err(malformed("the signed content is not an LDSSecurityObject"));
    }
    let econtent = encapsulated.econtent.as_ref().ok_or_else(|| malformed("the LDSSecurityObject is not included"))?;
    let econtent: OctetString = econtent.decode_as().map_err(malformed)?;
    let lds = LdsSecurityObject::from_der(econtent.as_bytes()).map_err(malformed)?;

    // The data read against the hashes.
    for (number, file) in files {
        let signed_hash = lds.data_group_hashes.iter().find(|h| h.data_group == *number).ok_or(PaError::MissingHash(*number))?;
        if digest(&lds.hash_algorithm.oid, file)? != signed_hash.hash.as_bytes() {
            return Err(PaError::HashMismatch(*number));
        }
    }

    // The signature over the signed attributes, which bind the LDSSecurityObject's digest.
    let signer = signed.signer_infos.0.iter().next().ok_or_else(|| malformed("no signer"))?;
    let certificate = signed
        .certificates
        .as_ref()
        .and_then(|set| {
            set.0.iter().find_map(|choice| match choice {
                cms::cert::CertificateChoices::Certificate(c) => {
                    let matches = match &signer.sid {
                        SignerIdentifier::IssuerAndSerialNumber(id) => {
                            c.tbs_certificate.issuer == id.issuer && c.tbs_certificate.serial_number == id.serial_number
                        }
                        SignerIdentifier::SubjectKeyIdentifier(_) => true,
                    };
                    matches.then_some(c)
                }
                _ => None,
            })
        })
        .ok_or_else(|| malformed("the document signer's certificate is not included"))?;
    let attributes = signer.signed_attrs.as_ref().ok_or(PaError::BadSignature("no signed attributes"))?;
    let attribute = |oid: ObjectIdentifier| attributes.iter().find(|a| a.oid == oid).and_then(|a| a.values.iter().next());
    let content_type: ObjectIdentifier =
        attribute(ID_CONTENT_TYPE).ok_or(PaError::BadSignature("no content type attribute"))?.decode_as().map_err(malformed)?;
    if content_type != ID_LDS_SECURITY_OBJECT {
        return Err(PaError::BadSignature("the signed content type is not the LDSSecurityObject"));
    }
    let message_digest: OctetString =
        attribute(ID_MESSAGE_DIGEST).ok_or(PaError::BadSignature("no message digest attribute"))?.decode_as().map_err(malformed)?;
    if digest(&signer.digest_alg.oid, econtent.as_bytes())? != message_digest.as_bytes() {
        return Err(PaError::BadSignature("the signed digest is not the LDSSecurityObject's"));
    }
    // The signature covers the attributes encoded as a SET (RFC 5652 §5.4).
    let signed_bytes = attributes.to_der().map_err(malformed)?;
    let ds_key = &certificate.tbs_certificate.subject_public_key_info;
    verify_signature(ds_key, &signer.signature_algorithm, Some(&signer.digest_alg.oid), &signed_bytes, signer.signature.as_bytes())?;

    // The document signer's certificate: valid now, issued by a trusted CSCA.
    let validity = &certificate.tbs_certificate.validity;
    if now < seconds(&validity.not_before) || now > seconds(&validity.not_after) {
        return Err(PaError::CertificateNotValid);
    }
    let tbs = certificate.tbs_certificate.to_der().map_err(malformed)?;
    let cert_signature = certificate.signature.as_bytes().ok_or_else(|| malformed("the certificate's signature is not whole bytes"))?;
    let mut issuers = trust.cscas.iter().filter(|csca| csca.tbs_certificate.subject == certificate.tbs_certificate.issuer).peekable();
    if issuers.peek().is_none() {
        return Err(PaError::UntrustedIssuer);
    }
    let mut last = PaError::UntrustedIssuer;
    for csca in issuers {
        match verify_signature(&csca.tbs_certificate.subject_public_key_info, &certificate.signature_algorithm, None, &tbs, cert_signature)
        {
            Ok(()) => {
                return Ok(VerifiedHashes {
                    hash_algorithm: lds.hash_algorithm.oid,
                    data_groups: lds.data_group_hashes.iter().map(|h| h.data_group).collect(),
                });
            }
            // A CSCA of that name whose key did not sign it: a forged DS certificate, or a
            // renewed CSCA with the same name; another one may still match.
            Err(PaError::BadSignature(_)) => last = PaError::BadSignature("the document signer's certificate is not its CSCA's"),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(all(test, feature = "simulators"))]
mod tests {
    use super::super::signer::DocumentSigner;
    use super::*;
    use der::EncodePem as _;

    const NOW: u64 = 1_796_000_000;
    const DG1: &[u8] = b"\x61\x05\x5F\x1F\x02AB";
    const DG2: &[u8] = b"\x75\x03\x7F\x61\x00";

    fn trusting(signer: &DocumentSigner) -> TrustList {
        TrustList::new(vec![Certificate::from_der(signer.csca()).expect("a certificate")])
    }

    #[test]
    fn a_security_object_of_a_trusted_issuer_verifies_the_data_read() {
        let signer = DocumentSigner::generate("UTO").expect("signer");
        let sod = signer.security_object(&[(1, DG1), (2, DG2)]).expect("sod");
        let verified = verify(&sod, &[(1, DG1), (2, DG2)], &trusting(&signer), NOW).expect("verifies");
        assert_eq!(verified.data_groups, [1, 2]);
        // Only what was read is checked: DG2 need not be read.
        verify(&sod, &[(1, DG1)], &trusting(&signer), NOW).expect("DG1 alone");
    }

    #[test]
    fn altered_data_and_forged_signatures_are_forgeries() {
        let signer = DocumentSigner::generate("UTO").expect("signer");
        let sod = signer.security_object(&[(1, DG1)]).expect("sod");
        let altered = verify(&sod, &[(1, b"\x61\x05\x5F\x1F\x02AC")], &trusting(&signer), NOW).expect_err("altered DG1");
        assert_eq!(altered, PaError::HashMismatch(1));
        assert!(altered.is_forgery());
        assert_eq!(verify(&sod, &[(3, DG1)], &trusting(&signer), NOW), Err(PaError::MissingHash(3)));

        // The last byte of the DER is inside the signature value: flip it.
        let mut tampered = sod.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        let error = verify(&tampered, &[(1, DG1)], &trusting(&signer), NOW).expect_err("bad signature");
        assert!(error.is_forgery() || matches!(error, PaError::Malformed(_)), "{error}");

        // A CSCA of the same name but another key did not issue this DS certificate.
        let impostor = DocumentSigner::generate("UTO").expect("signer");
        let error = verify(&sod, &[(1, DG1)], &trusting(&impostor), NOW).expect_err("another CSCA");
        assert!(error.is_forgery(), "{error}");
    }

    #[test]
    fn a_trust_list_loads_pem_and_der_files_and_names_a_file_that_is_neither() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (DocumentSigner::generate("UTO").expect("signer"), DocumentSigner::generate("UTZ").expect("signer"));
        std::fs::write(dir.path().join("a.der"), a.csca()).expect("write");
        let pem = Certificate::from_der(b.csca()).expect("cert").to_pem(der::pem::LineEnding::LF).expect("pem");
        std::fs::write(dir.path().join("b.pem"), pem).expect("write");
        let trust = TrustList::load_dir(dir.path()).expect("loads");
        assert_eq!(trust.len(), 2);
        let sod = b.security_object(&[(1, DG1)]).expect("sod");
        verify(&sod, &[(1, DG1)], &trust, NOW).expect("the PEM one is trusted");
        std::fs::write(dir.path().join("notes.txt"), "not a certificate").expect("write");
        let error = TrustList::load_dir(dir.path()).expect_err("junk");
        assert!(error.to_string().contains("notes.txt"), "{error}");
    }

    #[test]
    fn an_unknown_issuer_or_an_expired_signer_is_unverified_not_forged() {
        let signer = DocumentSigner::generate("UTO").expect("signer");
        let sod = signer.security_object(&[(1, DG1)]).expect("sod");
        let untrusted = verify(&sod, &[(1, DG1)], &TrustList::default(), NOW).expect_err("empty trust list");
        assert_eq!(untrusted, PaError::UntrustedIssuer);
        assert!(!untrusted.is_forgery());
        assert_eq!(verify(&sod, &[(1, DG1)], &trusting(&signer), 0), Err(PaError::CertificateNotValid));
        for junk in [&b""[..], b"\x77\x00", b"\x77\x03\x30\x01\x00", b"\x60\x00"] {
            assert!(matches!(verify(junk, &[], &trusting(&signer), NOW), Err(PaError::Malformed(_))), "{junk:?}");
        }
    }
}
