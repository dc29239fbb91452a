//! Passive authentication against OpenSSL, which nobody on the team wrote: the security objects
//! the virtual chip's document signer makes pass `openssl cms -verify`, and security objects
//! OpenSSL signs — with RSA PKCS#1 v1.5, RSA-PSS, ECDSA P-256 and P-384 document signers — pass
//! the kiosk's check, and fail it once a data group is altered.

use std::path::Path;
use std::process::Command;

use balcao_drivers::identity_reader::icao::pa::{self, DataGroupHash, LdsSecurityObject, PaError, TrustList};
use balcao_drivers::identity_reader::icao::signer::DocumentSigner;
use balcao_drivers::identity_reader::icao::tlv;
use der::Encode;

/// OpenSSL's certificates start now: check at the real time.
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}
const DG1: &[u8] = b"\x61\x5B\x5F\x1F\x58P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10";

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn openssl_verifies_the_security_object_the_virtual_chip_carries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = DocumentSigner::generate("UTO").expect("signer");
    let sod = signer.security_object(&[(1, DG1)]).expect("sod");
    let (outer, _) = tlv::read(&sod).expect("tag 77");
    std::fs::write(dir.path().join("sod.der"), outer.value).expect("write");
    std::fs::write(dir.path().join("csca.der"), signer.csca()).expect("write");
    openssl(dir.path(), &["x509", "-inform", "DER", "-in", "csca.der", "-out", "csca.pem"]);
    openssl(
        dir.path(),
        &["cms", "-verify", "-inform", "DER", "-in", "sod.der", "-CAfile", "csca.pem", "-purpose", "any", "-out", "lds.der"],
    );
    // What OpenSSL took out of the signature is the LDSSecurityObject with DG1's hash.
    let lds = std::fs::read(dir.path().join("lds.der")).expect("content");
    use der::Decode as _;
    let lds = LdsSecurityObject::from_der(&lds).expect("an LDSSecurityObject");
    assert_eq!(lds.data_group_hashes.iter().map(|h| h.data_group).collect::<Vec<_>>(), [1]);
}

/// A CSCA and a DS certificate made by OpenSSL with `key_args` (`genpkey` options), and the
/// security object over DG1 OpenSSL signs with them (`sign_args` add to `cms -sign`).
fn openssl_security_object(dir: &Path, key_args: &[&str], sign_args: &[&str]) -> (Vec<u8>, TrustList) {
    let genpkey = |name: &str| {
        let mut args = vec!["genpkey", "-out", name];
        args.extend_from_slice(key_args);
        openssl(dir, &args);
    };
    genpkey("csca.key");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "csca.key",
            "-out",
            "csca.pem",
            "-days",
            "3650",
            "-subj",
            "/C=UT/CN=CSCA Utopia (OpenSSL)",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    genpkey("ds.key");
    openssl(dir, &["req", "-new", "-key", "ds.key", "-out", "ds.csr", "-subj", "/C=UT/CN=Document Signer Utopia (OpenSSL)"]);
    std::fs::write(dir.join("ds.ext"), "keyUsage=critical,digitalSignature\n").expect("write");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "ds.csr",
            "-CA",
            "csca.pem",
            "-CAkey",
            "csca.key",
            "-CAcreateserial",
            "-out",
            "ds.pem",
            "-days",
            "3650",
            "-extfile",
            "ds.ext",
        ],
    );
    use sha2::Digest as _;
    let lds = LdsSecurityObject {
        version: 0,
        hash_algorithm: spki::AlgorithmIdentifierOwned { oid: "2.16.840.1.101.3.4.2.1".parse().expect("oid"), parameters: None },
        data_group_hashes: vec![DataGroupHash {
            data_group: 1,
            hash: der::asn1::OctetString::new(sha2::Sha256::digest(DG1).to_vec()).expect("hash"),
        }],
        lds_version_info: None,
    };
    std::fs::write(dir.join("lds.der"), lds.to_der().expect("der")).expect("write");
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-nosmimecap",
        "-in",
        "lds.der",
        "-econtent_type",
        "2.23.136.1.1.1",
        "-signer",
        "ds.pem",
        "-inkey",
        "ds.key",
        "-md",
        "sha256",
        "-outform",
        "DER",
        "-out",
        "sod.der",
    ];
    args.extend_from_slice(sign_args);
    openssl(dir, &args);
    let content_info = std::fs::read(dir.join("sod.der")).expect("sod");
    let csca = std::fs::read(dir.join("csca.pem")).expect("csca");
    let cscas = x509_cert::Certificate::load_pem_chain(&csca).expect("pem");
    (tlv::encode(0x77, &content_info), TrustList::new(cscas))
}

#[test]
fn security_objects_openssl_signs_verify_with_each_algorithm() {
    for (name, key_args, sign_args) in [
        ("RSA PKCS#1 v1.5", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..], &[][..]),
        (
            "RSA-PSS, salt as long as the hash",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &["-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"],
        ),
        ("ECDSA P-256", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], &[]),
        ("ECDSA P-384", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], &[]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (sod, trust) = openssl_security_object(dir.path(), key_args, sign_args);
        pa::verify(&sod, &[(1, DG1)], &trust, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut altered = DG1.to_vec();
        altered[10] = b'X';
        assert_eq!(pa::verify(&sod, &[(1, &altered)], &trust, now()), Err(PaError::HashMismatch(1)), "{name}");
        assert_eq!(pa::verify(&sod, &[(1, DG1)], &TrustList::default(), now()), Err(PaError::UntrustedIssuer), "{name}");
    }
}

#[test]
fn a_brainpool_or_long_salted_pss_signer_is_unverifiable_not_forged() {
    for (name, key_args, sign_args) in [
        ("brainpoolP256r1", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:brainpoolP256r1"][..], &[][..]),
        (
            "RSA-PSS, longest salt",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            &["-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:max"],
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (sod, trust) = openssl_security_object(dir.path(), key_args, sign_args);
        let error = pa::verify(&sod, &[(1, DG1)], &trust, now()).expect_err(name);
        assert!(matches!(error, PaError::UnsupportedAlgorithm(_)), "{name}: {error}");
        assert!(!error.is_forgery());
    }
}
