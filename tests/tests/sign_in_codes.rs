//! Sign-in codes from the government app, end to end: the reference central (as the identity
//! provider) signs them, the kiosk syncs the issuer keys and then checks codes on its own —
//! with central unreachable — refusing an altered, expired, replayed or other-centre code.

use std::time::Duration;

use balcao_backend_client::api::signin::SignInRefusal;
use balcao_central::store::Citizen;
use balcao_tests::{TestKiosk, enrolled_client, eventually, loopback_central};
use jiff::{SignedDuration, Timestamp};

fn citizen() -> Citizen {
    Citizen { sub: "citizen-0042".into(), name: "CHAN TAI MAN".into(), document_number: "12345678".into(), birth_date: "1985-03-14".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signed_by_central_is_checked_offline_once_and_each_bad_one_for_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let kiosk = TestKiosk::start(dir.path(), Some(enrolled_client(&central))).await;
    // The kiosk's counter queues come with the catalog: the store is open and synced once
    // they show.
    kiosk.view.wait_for("the catalog on the kiosk", Duration::from_secs(20), |v| !v.queues.is_empty()).await;
    eventually("the issuer keys on the kiosk", Duration::from_secs(20), || {
        kiosk.store().reference_data("identity-issuers").expect("read").is_some()
    })
    .await;
    // From here on the kiosk is on its own: central is stopped.
    let idp = central.central.clone();
    kiosk.stop().await;
    central.stop().await.expect("stop");

    let now = Timestamp::now();
    let minute = SignedDuration::from_mins(1);
    let code = |audience: &str, issued: Timestamp| idp.store().sign_in_code(&citizen(), audience, issued, 2 * minute).expect("signed");
    let mut kiosk_store = balcao_tests::kiosk_store(dir.path());
    let mut check = |code: &str| kiosk_store.accept_sign_in(code, now, "GSC-01", "K01").expect("the store answers");

    let good = code("GSC-01", now);
    let claims = check(&good).expect("a fresh code for this centre");
    assert_eq!((claims.name.as_str(), claims.document_number.as_str()), ("CHAN TAI MAN", "12345678"));
    assert_eq!(check(&good), Err(SignInRefusal::Replayed), "the same code again");

    assert_eq!(check(&code("GSC-02", now)), Err(SignInRefusal::WrongAudience));
    assert_eq!(check(&code("GSC-01", now - 10 * minute)), Err(SignInRefusal::Expired));
    let fresh = code("K01", now);
    let dot = fresh.rfind('.').expect("signature");
    let altered = format!("{}{}", &fresh[..dot - 4], &fresh[dot - 4..].replacen(|_| true, "Z", 1));
    assert_eq!(check(&altered), Err(SignInRefusal::BadSignature));
    check(&fresh).expect("the unaltered code, for this kiosk, still signs in once");
}
