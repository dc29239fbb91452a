//! A citizen checks an application's status at the kiosk: central's live answer (told only to
//! the number with the applicant's date of birth), then, with the network cut, the kiosk's own
//! copy, labelled with its age. A wrong date of birth shows nothing, online or offline.

use std::time::Duration;

use balcao_kiosk::session::Event;
use balcao_tests::proxy::{FaultProxy, Plan};
use balcao_tests::{TestKiosk, citizen, client, eventually, loopback_central, test_settings};
use balcao_ui::view::{Language, Screen, StatusProblem, StatusState, StatusStep, UserAction, View};

const WAIT: Duration = Duration::from_secs(20);

/// From wherever the kiosk is, to a status check of `reference` with `born` (`DDMMYYYY`), and
/// its outcome.
async fn check(kiosk: &TestKiosk, reference: &str, born: &str) -> View {
    let act = |action| kiosk.send(Event::Ui(action));
    let current = kiosk.view.current();
    if current.screen == Screen::Status && current.status.result.is_some() {
        act(UserAction::StatusAnother);
    } else if current.screen != Screen::Status {
        act(UserAction::Start);
        act(UserAction::ChooseLanguage(Language::En));
        act(UserAction::CheckStatus);
    }
    kiosk.view.wait_for("the status form", WAIT, |v| v.screen == Screen::Status && v.status.result.is_none()).await;
    act(UserAction::Focus(Some(0)));
    for _ in 0..40 {
        act(UserAction::Backspace);
    }
    for (field, text) in [(0, reference), (1, born)] {
        act(UserAction::Focus(Some(field)));
        for c in text.chars() {
            act(UserAction::Key(c.to_string()));
        }
    }
    act(UserAction::Focus(None));
    // What was typed is on screen (and the last answer's problem gone) before asking.
    let shown = format!("{}/{}/{}", &born[..2], &born[2..4], &born[4..]);
    kiosk
        .view
        .wait_for("the typed details", WAIT, |v| {
            v.status.reference == reference.to_uppercase() && v.status.date_of_birth == shown && v.status.problem.is_none()
        })
        .await;
    act(UserAction::StatusNext);
    kiosk
        .view
        .wait_for("the status check's outcome", WAIT, |v| {
            v.screen == Screen::Status && !v.status.checking && (v.status.result.is_some() || v.status.problem.is_some())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_is_live_online_and_the_kiosks_own_offline_and_never_for_a_wrong_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let proxy = FaultProxy::start(&central.url, &central.pki).await.expect("proxy");
    let data = dir.path().join("k01");
    let mut settings = test_settings(&data);
    settings.catalog_poll = Duration::from_millis(300);
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let kiosk = TestKiosk::start_with(settings, &data, Some(client(&proxy.url, &proxy.ca_pem, &identity))).await;

    let done = citizen::apply_for_criminal_record(&kiosk, "CHAN TAI MAN").await;
    let reference = done.done.reference.clone();
    citizen::finish(&kiosk);
    eventually("the application at central", WAIT, || central.central.store().count_applications().expect("count") == 1).await;

    // Online: central's answer, with its deadline.
    let view = check(&kiosk, &reference, "14031985").await;
    let result = view.status.result.clone().expect("found");
    assert_eq!((result.state, result.next_step, result.as_of.as_str()), (StatusState::Received, StatusStep::Wait, ""), "{view:?}");
    assert!(result.on_time && !result.due.is_empty() && result.history.len() == 1);
    assert_eq!(result.service_name, "Certificate of Criminal Record");
    let view = check(&kiosk, &reference, "15031985").await;
    assert_eq!((view.status.problem, view.status.result.is_some()), (Some(StatusProblem::NotFound), false));

    // Ready at central: the kiosk hears of it and says what to do.
    let application = central.central.store().recent_applications(1).expect("rows")[0].id;
    central.central.issue_certificate(application).expect("issued");
    let view = check(&kiosk, &reference, "14031985").await;
    let result = view.status.result.clone().expect("found");
    assert_eq!((result.state, result.next_step, result.history.len()), (StatusState::Ready, StatusStep::CollectAtKiosk, 2));
    eventually("the certificate known here", WAIT, || kiosk.store().ready_certificate_count().expect("count") == 1).await;

    // Offline: the kiosk's own copy, with when it last heard; still nothing for a wrong date.
    proxy.set(Plan::CUT);
    kiosk.view.wait_for("the kiosk to be offline", WAIT, |v| !v.online).await;
    let view = check(&kiosk, &reference, "14031985").await;
    let result = view.status.result.clone().expect("found offline");
    assert_eq!((result.state, result.next_step), (StatusState::Ready, StatusStep::CollectAtKiosk));
    assert!(!result.as_of.is_empty(), "labelled with its age: {result:?}");
    let view = check(&kiosk, &reference, "01011990").await;
    assert_eq!((view.status.problem, view.status.result.is_some()), (Some(StatusProblem::NotFoundOffline), false));
    kiosk.stop().await;
}
