//! A country's document signing, for the virtual chip: a country signing CA (CSCA) and a
//! document signer (DS) certificate it issued (made with `rcgen`, ECDSA P-256), and EF.SOD for
//! a chip's data groups — the LDSSecurityObject of their SHA-256 hashes, in a CMS SignedData
//! signed by the DS (built with the `cms` crate's types, signed with `ring`).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::pa::{DataGroupHash, ID_LDS_SECURITY_OBJECT, LdsSecurityObject};
use super::tlv;

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// A CSCA and the DS certificate it issued, with the DS's private key.
pub struct DocumentSigner {
    csca_der: Vec<u8>,
    ds: Certificate,
    ds_key: ring::signature::EcdsaKeyPair,
}

impl std::fmt::Debug for DocumentSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSigner").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("making the certificates failed: {0}")]
    Certificates(#[from] rcgen::Error),
    #[error("encoding failed: {0}")]
    Encoding(#[from] der::Error),
    #[error("the signing key is unusable")]
    Key,
}

impl DocumentSigner {
    /// A new CSCA of `country` (e.g. `UTO`) and a DS certificate under it.
    pub fn generate(country: &str) -> Result<Self, SignerError> {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut csca = CertificateParams::new(Vec::<String>::new())?;
        csca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        csca.distinguished_name.push(DnType::CountryName, country);
        csca.distinguished_name.push(DnType::CommonName, format!("CSCA {country} (Balcão test)"));
        csca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let csca = CertifiedIssuer::self_signed(csca, KeyPair::generate()?)?;
        let mut ds = CertificateParams::new(Vec::<String>::new())?;
        ds.distinguished_name.push(DnType::CountryName, country);
        ds.distinguished_name.push(DnType::CommonName, format!("Document Signer {country} (Balcão test)"));
        ds.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let ds_key = KeyPair::generate()?;
        let ds_cert = ds.signed_by(&ds_key, &csca)?;
        let rng = ring::rand::SystemRandom::new();
        let ds_key =
            ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &ds_key.serialize_der(), &rng)
                .map_err(|_| SignerError::Key)?;
        Ok(Self { csca_der: csca.der().to_vec(), ds: Certificate::from_der(ds_cert.der())?, ds_key })
    }

    /// The CSCA certificate, DER: what a kiosk's trust list holds.
    pub fn csca(&self) -> &[u8] {
        &self.csca_der
    }

    /// EF.SOD for the data groups `files` (number and whole file).
    pub fn security_object(&self, files: &[(u8, &[u8])]) -> Result<Vec<u8>, SignerError> {
        use sha2::Digest as _;
        let sha256 = AlgorithmIdentifierOwned { oid: SHA256, parameters: None };
        let hashes = files
            .iter()
            .map(|(number, file)| Ok(DataGroupHash { data_group: *number, hash: OctetString::new(sha2::Sha256::digest(file).to_vec())? }))
            .collect::<Result<Vec<_>, der::Error>>()?;
        let lds = LdsSecurityObject { version: 0, hash_algorithm: sha256.clone(), data_group_hashes: hashes, lds_version_info: None };
        let econtent = lds.to_der()?;

        let attribute = |oid: &str, value: Any| -> Result<Attribute, der::Error> {
            Ok(Attribute { oid: ObjectIdentifier::new_unwrap(oid), values: SetOfVec::try_from(vec![value])? })
        };
        let signed_attrs = SetOfVec::try_from(vec![
            attribute("1.2.840.113549.1.9.3", Any::encode_from(&ID_LDS_SECURITY_OBJECT)?)?,
            attribute("1.2.840.113549.1.9.4", Any::encode_from(&OctetString::new(sha2::Sha256::digest(&econtent).to_vec())?)?)?,
        ])?;
        let rng = ring::rand::SystemRandom::new();
        let signature = self.ds_key.sign(&rng, &signed_attrs.to_der()?).map_err(|_| SignerError::Key)?;

        let signer = SignerInfo {
            version: cms::content_info::CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.ds.tbs_certificate.issuer.clone(),
                serial_number: self.ds.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None },
            signature: OctetString::new(signature.as_ref().to_vec())?,
            unsigned_attrs: None,
        };
        let signed = SignedData {
            version: cms::content_info::CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_LDS_SECURITY_OBJECT,
                econtent: Some(Any::encode_from(&OctetString::new(econtent)?)?),
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(vec![CertificateChoices::Certificate(self.ds.clone())])?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
        };
        let content =
            ContentInfo { content_type: ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2"), content: Any::encode_from(&signed)? };
        Ok(tlv::encode(0x77, &content.to_der()?))
    }
}
