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
    if current.screen == Screen::Status && !current.status.results.is_empty() {
        act(UserAction::StatusAnother);
    } else if current.screen != Screen::Status {
        act(UserAction::Start);
        act(UserAction::ChooseLanguage(Language::En));
        act(UserAction::CheckStatus);
    }
    kiosk.view.wait_for("the status form", WAIT, |v| v.screen == Screen::Status && v.status.results.is_empty()).await;
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
            v.screen == Screen::Status && !v.status.checking && (!v.status.results.is_empty() || v.status.problem.is_some())
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
    let result = view.status.results.first().cloned().expect("found");
    assert_eq!((result.state, result.next_step, result.as_of.as_str()), (StatusState::Received, StatusStep::Wait, ""), "{view:?}");
    assert!(result.on_time && !result.due.is_empty() && result.history.len() == 1);
    assert_eq!(result.service_name, "Certificate of Criminal Record");
    let view = check(&kiosk, &reference, "15031985").await;
    assert_eq!((view.status.problem, view.status.results.len()), (Some(StatusProblem::NotFound), 0));

    // Ready at central: the kiosk hears of it and says what to do.
    let application = central.central.store().recent_applications(1).expect("rows")[0].id;
    central.central.issue_certificate(application).expect("issued");
    let view = check(&kiosk, &reference, "14031985").await;
    let result = view.status.results.first().cloned().expect("found");
    assert_eq!((result.state, result.next_step, result.history.len()), (StatusState::Ready, StatusStep::CollectAtKiosk, 2));
    eventually("the certificate known here", WAIT, || kiosk.store().ready_certificate_count().expect("count") == 1).await;

    // By identity: the app's sign-in code lists the holder's applications (the form's
    // document number is the code's).
    kiosk.send(Event::Ui(UserAction::StatusAnother));
    kiosk.view.wait_for("a new status form", WAIT, |v| v.screen == Screen::Status && v.status.results.is_empty()).await;
    let holder = balcao_central::store::Citizen {
        sub: "citizen-1".into(),
        name: "CHAN TAI MAN".into(),
        document_number: "1234567(8)".into(),
        birth_date: "1985-03-14".into(),
    };
    let code =
        central.central.store().sign_in_code(&holder, "GSC-01", jiff::Timestamp::now(), jiff::SignedDuration::from_mins(2)).expect("code");
    kiosk.simulators.code_scanner.present(code.as_bytes()).expect("the virtual scanner sends");
    let view = kiosk.view.wait_for("the holder's applications", WAIT, |v| v.status.by_identity || v.status.problem.is_some()).await;
    assert_eq!(view.status.problem, None, "{view:?}");
    assert_eq!(view.status.results.len(), 1);
    assert_eq!((view.status.results[0].reference.as_str(), view.status.results[0].state), (reference.as_str(), StatusState::Ready));

    // Offline: the kiosk's own copy, with when it last heard; still nothing for a wrong date.
    proxy.set(Plan::CUT);
    kiosk.view.wait_for("the kiosk to be offline", WAIT, |v| !v.online).await;
    let view = check(&kiosk, &reference, "14031985").await;
    let result = view.status.results.first().cloned().expect("found offline");
    assert_eq!((result.state, result.next_step), (StatusState::Ready, StatusStep::CollectAtKiosk));
    assert!(!result.as_of.is_empty(), "labelled with its age: {result:?}");
    let view = check(&kiosk, &reference, "01011990").await;
    assert_eq!((view.status.problem, view.status.results.len()), (Some(StatusProblem::NotFoundOffline), 0));
    kiosk.stop().await;
}
