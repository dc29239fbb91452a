//! A kiosk enrolled the way a technician does it: an administrator's one-time token, then
//! `kiosk-provision enroll` on the kiosk against a central over loopback HTTPS. The kiosk then
//! talks to central over mutual TLS with what enrollment wrote; every wrong token is refused
//! with a clear message and an exit code of its own, and audited; a revoked kiosk is refused at
//! once and works again once enrolled again; a certificate renewed, expired, or of another CA.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use balcao_backend_client::api::{EnrollmentToken, RenewalRequest};
use balcao_backend_client::{CentralClient, ClientConfig, ClientError, Timeouts};
use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_kiosk::identity::{FileKeyStore, KeyStore as _};
use jiff::SignedDuration;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

const DAY: SignedDuration = SignedDuration::from_hours(24);

struct Kiosk {
    dir: tempfile::TempDir,
}

impl Kiosk {
    /// A kiosk's folder with a configuration naming only its data folder (and, if given, the
    /// kiosk and centre it is set up as).
    fn new(named: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = format!("# the kiosk at the entrance\n[store]\ndata_dir = {:?}\n", dir.path().join("data"));
        if let Some((kiosk, centre)) = named {
            config.push_str(&format!("[kiosk]\nid = \"{kiosk}\"\ncentre_id = \"{centre}\"\n"));
        }
        std::fs::write(dir.path().join("kiosk.toml"), config).expect("config");
        Self { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("kiosk.toml")
    }

    fn identity(&self) -> PathBuf {
        self.dir.path().join("data/identity.pem")
    }

    /// Runs `kiosk-provision enroll --json` with `args` after the central and the token.
    fn enroll(&self, central: &LoopbackCentral, token: &str, args: &[&str]) -> (i32, serde_json::Value) {
        common::json_answer(
            Command::new(env!("CARGO_BIN_EXE_kiosk-provision"))
                .args(["enroll", "--central", &central.url, "--token", token, "--json", "--config"])
                .arg(self.config())
                .args(args),
        )
    }

    /// A client of central with what enrollment wrote, as the kiosk makes it.
    fn client(&self, central: &LoopbackCentral) -> CentralClient {
        let config = balcao_kiosk::config::KioskConfig::load(&self.config()).expect("the configuration checks");
        assert_eq!(config.central.url, central.url);
        let read = |file: &Option<PathBuf>| std::fs::read(file.as_ref().expect("named")).expect("readable");
        CentralClient::new(&ClientConfig {
            base_url: config.central.url.clone(),
            ca_pem: read(&config.central.ca_file),
            identity_pem: Some(read(&config.central.identity_file)),
            timeouts: Timeouts::default(),
        })
        .expect("client")
    }
}

fn fingerprint_of(pem: &str) -> String {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes()).next().expect("a certificate").expect("pem");
    balcao_provisioning::enroll::fingerprint(der.as_ref())
}

fn token(central: &LoopbackCentral, kiosk: &str, centre: &str, lifetime: SignedDuration) -> String {
    central.central.store().create_enrollment_token(kiosk, centre, "ana", lifetime).expect("token").0.grouped()
}

fn error_of(json: &serde_json::Value) -> String {
    json["error"].as_str().unwrap_or_else(|| panic!("an error: {json}")).to_string()
}

fn refusals(central: &LoopbackCentral) -> Vec<String> {
    let log = central.central.store().audit_log(100).expect("audit");
    log.into_iter().filter(|e| e.action == "enroll" && e.outcome == "refused").map(|e| e.detail).collect()
}

async fn syncs(client: &CentralClient) -> Result<(), ClientError> {
    client.catalog(None).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_enrolls_a_kiosk_once_and_a_revoked_kiosk_is_refused_until_enrolled_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = LoopbackCentral::start(&CentralOptions::new(dir.path().join("central.db"))).await.expect("central");
    let print = fingerprint_of(&central.ca_pem);
    let kiosk = Kiosk::new(None);

    // Enrolled with the administrator's token, central's CA checked by its fingerprint.
    let given = token(&central, "K07", "GSC-02", DAY);
    let (code, json) = kiosk.enroll(&central, &given, &["--ca-fingerprint", &print]);
    assert_eq!(code, 0, "{json}");
    assert_eq!((json["enrolled"]["kiosk_id"].as_str(), json["enrolled"]["centre_id"].as_str()), (Some("K07"), Some("GSC-02")));
    let mode = std::fs::metadata(kiosk.identity()).expect("identity").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the kiosk's key is its user's only");
    let written = std::fs::read_to_string(kiosk.config()).expect("config");
    assert!(written.starts_with("# the kiosk at the entrance"), "the configuration keeps its comments:\n{written}");
    let client = kiosk.client(&central);
    syncs(&client).await.expect("the kiosk talks to central over mutual TLS");

    // The same token again: refused, said why, audited; central's answer is exit code 4.
    let again = Kiosk::new(None);
    let (code, json) = again.enroll(&central, &given, &["--ca-fingerprint", &print]);
    assert_eq!(code, 4, "{json}");
    assert!(error_of(&json).contains("used already"), "{json}");
    // Mistyped: the tool says so without asking central (exit code 2).
    let mut typo = given.clone().into_bytes();
    typo[3] = if typo[3] == b'7' { b'8' } else { b'7' };
    let (code, json) = again.enroll(&central, std::str::from_utf8(&typo).expect("ascii"), &["--ca-fingerprint", &print]);
    assert_eq!(code, 2, "{json}");
    assert!(error_of(&json).contains("mistyped"), "{json}");
    // Well formed but never issued.
    let (code, json) = again.enroll(&central, &EnrollmentToken::generate().grouped(), &["--ca-fingerprint", &print]);
    assert_eq!(code, 4, "{json}");
    assert!(error_of(&json).contains("no such token"), "{json}");
    // Expired.
    let brief = token(&central, "K08", "GSC-02", SignedDuration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, json) = again.enroll(&central, &brief, &["--ca-fingerprint", &print]);
    assert_eq!(code, 4, "{json}");
    assert!(error_of(&json).contains("expired"), "{json}");
    // For another centre than the kiosk is set up for: refused, and the token stays good.
    let elsewhere = Kiosk::new(Some(("K09", "GSC-01")));
    let other_centre = token(&central, "K09", "GSC-02", DAY);
    let (code, json) = elsewhere.enroll(&central, &other_centre, &["--ca-fingerprint", &print]);
    assert_eq!(code, 4, "{json}");
    assert!(error_of(&json).contains("centre GSC-02"), "{json}");
    // Central's CA not what the administrator said: not trusted, nothing sent (exit code 5).
    let wrong = print.replace(&print[..2], if &print[..2] == "00" { "11" } else { "00" });
    let (code, json) = Kiosk::new(None).enroll(&central, &other_centre, &["--ca-fingerprint", &wrong]);
    assert_eq!(code, 5, "{json}");
    assert!(error_of(&json).contains("do not enroll against this server"), "{json}");
    // No fingerprint and nobody at a terminal to confirm it: not trusted either.
    let (code, json) = Kiosk::new(None).enroll(&central, &other_centre, &[]);
    assert_eq!(code, 5, "{json}");
    assert!(error_of(&json).contains(&print), "the fingerprint is shown: {json}");
    let refused = refusals(&central);
    assert_eq!(refused.len(), 4, "used, unknown, expired, other centre: {refused:?}");
    let (code, json) = Kiosk::new(Some(("K09", "GSC-02"))).enroll(&central, &other_centre, &["--ca-fingerprint", &print]);
    assert_eq!(code, 0, "the token refused for the wrong kiosk is still good: {json}");

    // Renewed over mutual TLS with the current certificate: a new certificate, same names.
    let pending = FileKeyStore { identity_file: kiosk.identity() }.new_key().expect("key");
    let csr_pem = pending.signing_request("K07", "GSC-02").expect("csr");
    let renewed = client.renew_certificate(&RenewalRequest { csr_pem }).await.expect("renewed");
    assert_eq!((renewed.kiosk_id.as_str(), renewed.centre_id.as_str()), ("K07", "GSC-02"));
    pending.install(&renewed.certificate_pem).expect("installed");
    let client = kiosk.client(&central);
    syncs(&client).await.expect("the renewed certificate works");
    assert_eq!(central.central.store().kiosk_certificates("K07").expect("issued").len(), 2, "enrolled and renewed, recorded");

    // Revoked: refused at once, the certificate made by hand before enrollment too.
    let by_hand = central.kiosk_identity("K07", "GSC-02").expect("a certificate of the same CA");
    central.central.revoke_kiosk("K07", "ana").await.expect("revoked");
    let refused = syncs(&client).await.expect_err("revoked");
    assert!(matches!(&refused, ClientError::NotEnrolled { problem } if problem.kind.ends_with("kiosk-certificate-revoked")), "{refused:?}");
    let old = CentralClient::new(&ClientConfig {
        base_url: central.url.clone(),
        ca_pem: central.ca_pem.clone().into_bytes(),
        identity_pem: Some(by_hand.into_bytes()),
        timeouts: Timeouts::default(),
    })
    .expect("client");
    assert!(matches!(syncs(&old).await, Err(ClientError::NotEnrolled { .. })), "every certificate issued before the revocation");
    // Enrolled again with a new token: good again at once.
    let (code, json) = kiosk.enroll(&central, &token(&central, "K07", "GSC-02", DAY), &["--ca-fingerprint", &print]);
    assert_eq!(code, 0, "{json}");
    let client = kiosk.client(&central);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while let Err(e) = syncs(&client).await {
        assert!(std::time::Instant::now() < deadline, "enrolled again, refused still: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_or_one_of_another_ca_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = CentralOptions::new(dir.path().join("central.db"));
    options.kiosk_cert_lifetime = SignedDuration::from_secs(2);
    let central = LoopbackCentral::start(&options).await.expect("central");
    let kiosk = Kiosk::new(None);
    let (code, json) =
        kiosk.enroll(&central, &token(&central, "K01", "GSC-01", DAY), &["--ca-fingerprint", &fingerprint_of(&central.ca_pem)]);
    assert_eq!(code, 0, "{json}");
    let client = kiosk.client(&central);
    syncs(&client).await.expect("good while it lasts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A new connection's handshake is where an expired certificate is refused.
    let client = kiosk.client(&central);
    assert!(matches!(syncs(&client).await, Err(ClientError::Unreachable { .. })), "an expired certificate is refused at the handshake");

    // Another CA's certificate naming the same kiosk.
    let stranger = balcao_central::tls::DevPki::generate().expect("another CA").issue_kiosk("K01", "GSC-01").expect("issued");
    let client = CentralClient::new(&ClientConfig {
        base_url: central.url.clone(),
        ca_pem: central.ca_pem.clone().into_bytes(),
        identity_pem: Some(stranger.into_bytes()),
        timeouts: Timeouts::default(),
    })
    .expect("client");
    assert!(syncs(&client).await.is_err(), "another CA's certificate is refused");
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[test]
fn the_exit_codes_are_listed_in_the_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).args(["enroll", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for code in ["0 enrolled", "2 a wrong argument", "3 central unreachable", "4 central refused", "5 central's CA not trusted", "6 a file"]
    {
        assert!(help.contains(code), "{code:?} in:\n{help}");
    }
}
