//! A kiosk renews its own certificate before it expires, over mutual TLS with the current one,
//! and keeps talking to central across the old one's expiry without a gap. Certificates here
//! last six seconds, so the renewal comes four seconds in.

use std::time::Duration;

use balcao_backend_client::api::EnrollmentRequest;
use balcao_backend_client::{CentralClient, ClientConfig, Timeouts, identity_validity};
use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_kiosk::identity::{FileKeyStore, KeyStore as _};
use balcao_kiosk::runtime::renewal::Renewal;
use balcao_tests::{TestKiosk, client, eventually, test_settings};
use jiff::SignedDuration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_renews_its_certificate_before_it_expires_and_never_stops_talking_to_central() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = CentralOptions::new(dir.path().join("central.db"));
    options.kiosk_cert_lifetime = SignedDuration::from_secs(6);
    let central = LoopbackCentral::start(&options).await.expect("central");

    // Enrolled as the technician's tool does it.
    let identity_file = dir.path().join("kiosk/identity.pem");
    let (token, _) = central.central.store().create_enrollment_token("K01", "GSC-01", "ana", SignedDuration::from_hours(1)).expect("token");
    let pending = FileKeyStore { identity_file: identity_file.clone() }.new_key().expect("key");
    let csr_pem = pending.signing_request("K01", "GSC-01").expect("csr");
    let anonymous = CentralClient::new(&ClientConfig {
        base_url: central.url.clone(),
        ca_pem: central.ca_pem.clone().into_bytes(),
        identity_pem: None,
        timeouts: Timeouts::default(),
    })
    .expect("client");
    let issued =
        anonymous.enroll(&EnrollmentRequest { token: token.grouped(), csr_pem, kiosk_id: None, centre_id: None }).await.expect("enrolled");
    pending.install(&issued.certificate_pem).expect("installed");
    let first = std::fs::read(&identity_file).expect("identity");
    let (_, first_expires) = identity_validity(&first).expect("validity");

    let kiosk_dir = dir.path().join("kiosk");
    let mut settings = test_settings(&kiosk_dir);
    settings.heartbeat = Duration::from_millis(300);
    settings.renewal = Some(Renewal { identity_file: identity_file.clone(), check_every: Duration::from_millis(200) });
    let identity = String::from_utf8(first.clone()).expect("pem");
    let kiosk = TestKiosk::start_with(settings, &kiosk_dir, Some(client(&central.url, &central.ca_pem, &identity))).await;

    // Renewed before the first certificate expires, by the kiosk itself.
    let renewed = || central.central.store().kiosk_certificates("K01").expect("issued").iter().any(|c| c.how == "renewed");
    let installed = || std::fs::read(&identity_file).is_ok_and(|now| now != first);
    eventually("the kiosk renewed its certificate and keeps the new one", Duration::from_secs(10), || renewed() && installed()).await;
    let now = std::fs::read(&identity_file).expect("identity");
    let (_, expires) = identity_validity(&now).expect("validity");
    assert!(expires > first_expires, "{expires} after {first_expires}");
    assert!(jiff::Timestamp::now() < first_expires, "renewed before the first expired");

    // Past the first certificate's expiry, heartbeats keep arriving.
    let after = first_expires + SignedDuration::from_secs(1);
    let beating = || central.central.store().fleet(None).expect("fleet").iter().any(|k| k.kiosk_id == "K01" && k.last_seen > after);
    eventually("heartbeats after the first certificate expired", Duration::from_secs(10), beating).await;
    kiosk.stop().await;
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}
