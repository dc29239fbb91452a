//! Central only talks to enrolled kiosks: over real HTTPS, a client without a kiosk
//! certificate, with a certificate from another CA, or filing records in another kiosk's name
//! is refused; an enrolled kiosk is served.

use balcao_backend_client::{CentralClient, ClientConfig, ClientError, Timeouts};
use balcao_central::LoopbackCentral;
use balcao_central::tls::DevPki;
use balcao_tests::{citizen, client, loopback_central};

fn anonymous(central: &LoopbackCentral) -> CentralClient {
    CentralClient::new(&ClientConfig {
        base_url: central.url.clone(),
        ca_pem: central.ca_pem.as_bytes().to_vec(),
        identity_pem: None,
        timeouts: Timeouts::default(),
    })
    .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_enrolled_kiosks_are_served_and_only_in_their_own_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let application = {
        let mut store = balcao_tests::kiosk_store(dir.path());
        let saved = store.save_application(&citizen::paid_criminal_record_application("K01")).expect("saved");
        let due = store.due_outbox(jiff::Timestamp::now(), 1).expect("due");
        assert_eq!(due[0].id, saved.application_id);
        serde_json::from_str(&due[0].body).expect("submission")
    };

    // No certificate: the handshake succeeds (browsers open the console page, technicians
    // enroll) but the API refuses with a problem that says why. The request itself is fine, so
    // a kiosk keeps it until it is enrolled (retryable, never a dead letter).
    match anonymous(&central).catalog(None).await {
        Err(e @ ClientError::NotEnrolled { .. }) => {
            assert_eq!(e.problem().map(|p| p.short_kind()), Some("kiosk-certificate-required"));
            assert!(e.is_retryable(), "{e}");
        }
        other => panic!("an anonymous client got {other:?}"),
    }

    // A certificate for K01 from a CA central does not know: no TLS session at all.
    let stranger = DevPki::generate().expect("pki").issue_kiosk("K01", "GSC-01").expect("identity");
    match client(&central.url, &central.ca_pem, &stranger).catalog(None).await {
        Err(ClientError::Unreachable { .. }) => {}
        other => panic!("a certificate from another CA got {other:?}"),
    }

    // K02, enrolled, filing K01's application: refused, nothing stored.
    let k02 = client(&central.url, &central.ca_pem, &central.kiosk_identity("K02", "GSC-01").expect("identity"));
    match k02.submit_application(&application).await {
        Err(ClientError::Refused { status: 403, problem }) => assert_eq!(problem.short_kind(), "kiosk-mismatch"),
        other => panic!("K02 filing for K01 got {other:?}"),
    }
    assert_eq!(central.central.store().count_applications().expect("count"), 0);

    // K01 itself is served.
    let k01 = client(&central.url, &central.ca_pem, &central.kiosk_identity("K01", "GSC-01").expect("identity"));
    assert!(k01.catalog(None).await.is_ok());
    assert_eq!(k01.submit_application(&application).await.expect("stored").application_id, application.application_id);
    assert_eq!(central.central.store().count_applications().expect("count"), 1);
    central.stop().await.expect("stop");
}
