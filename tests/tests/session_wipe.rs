//! The session leaves nothing behind: a citizen walks away at every stage of every journey
//! that takes what they type or scan — a half-filled form, the review, the identification step,
//! the pickup form, the status check, an appointment's date of birth, a cancellation, the end of
//! an application — and once the idle timeout has wiped the session, nothing they gave is in the
//! screen's model, and at the end nothing of it is in any file of the kiosk's data folder (only
//! in sealed records, which are ciphertext), its logs included.

use std::path::Path;
use std::time::Duration;

use balcao_tests::citizen::{act, type_into};
use balcao_tests::{TestKiosk, client, loopback_central, test_settings};
use balcao_ui::view::{Language, Screen, UserAction, View};

const WAIT: Duration = Duration::from_secs(20);
/// What the citizens give: distinctive enough that finding one anywhere is no coincidence.
const NAME: &str = "QWXZ KJVQ";
const DOCUMENT: &str = "7654321(0)";
const BIRTH_TYPED: &str = "29021984";
const REFERENCE: &str = "K01-990101-0042";
const BOOKING: &str = "AP-QQQQ-QQQQ";
/// Every form the values take on screen, in records and in messages.
const TRACES: [&str; 8] = ["QWXZ", "KJVQ", "7654321", "29021984", "29/02/1984", "1984-02-29", "990101-0042", "QQQQ-QQQQ"];

/// From the services to the review of a whole criminal-record form with the citizen's values.
async fn to_review(kiosk: &TestKiosk) {
    act(kiosk, UserAction::ChooseService("criminal-record-certificate".into()));
    kiosk.view.wait_for("the form", WAIT, |v| v.screen == Screen::Form).await;
    type_into(kiosk, 0, NAME);
    type_into(kiosk, 1, DOCUMENT);
    type_into(kiosk, 2, BIRTH_TYPED);
    act(kiosk, UserAction::Choose(3, "employment".into()));
    act(kiosk, UserAction::FormNext);
    kiosk.view.wait_for("the review", WAIT, |v| v.screen == Screen::Review).await;
}

fn start(kiosk: &TestKiosk, tile: UserAction) {
    for action in [UserAction::Start, UserAction::ChooseLanguage(Language::En), tile] {
        act(kiosk, action);
    }
}

/// Waits until the session has ended by itself, then checks the screen's model holds nothing
/// the citizen gave.
async fn walks_away(kiosk: &TestKiosk, stage: &str) {
    let view = kiosk.view.wait_for(&format!("the session at {stage} to be wiped"), WAIT, |v| v.screen == Screen::Attract).await;
    clean(&view, stage);
}

fn clean(view: &View, stage: &str) {
    let seen = format!("{view:?}");
    for trace in TRACES {
        assert!(!seen.contains(trace), "after walking away at {stage}, {trace:?} is still in the screen's model: {seen}");
    }
}

/// Every file under `dir` that holds one of the traces.
fn files_holding_traces(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("data folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            for trace in TRACES {
                if bytes.windows(trace.len()).any(|w| w == trace.as_bytes()) {
                    found.push(format!("{} holds {trace:?}", path.display()));
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_away_at_any_stage_leaves_nothing_the_citizen_gave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let data = dir.path().join("k01");
    let mut settings = test_settings(&data);
    settings.session.idle_timeout = Duration::from_secs(2);
    settings.session.idle_warning = Duration::from_secs(1);
    settings.session.done_timeout = Duration::from_secs(2);
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let kiosk = TestKiosk::start_with(settings, &data, Some(client(&central.url, &central.ca_pem, &identity))).await;
    kiosk.view.wait_for("central reached", WAIT, |v| v.online).await;

    // A half-filled form.
    start(&kiosk, UserAction::Apply);
    kiosk.view.wait_for("the services", WAIT, |v| v.services.tiles.iter().any(|t| t.unavailable.is_none())).await;
    act(&kiosk, UserAction::ChooseService("criminal-record-certificate".into()));
    kiosk.view.wait_for("the form", WAIT, |v| v.screen == Screen::Form).await;
    type_into(&kiosk, 0, NAME);
    kiosk.view.wait_for("the name typed", WAIT, |v| v.form.fields[0].value == NAME).await;
    walks_away(&kiosk, "a half-filled form").await;

    // The review of a whole form.
    start(&kiosk, UserAction::Apply);
    to_review(&kiosk).await;
    walks_away(&kiosk, "the review").await;

    // The identification step, its details typed.
    start(&kiosk, UserAction::Apply);
    act(&kiosk, UserAction::ChooseService("identification-data-certificate".into()));
    kiosk.view.wait_for("the identification step", WAIT, |v| v.screen == Screen::Identify).await;
    type_into(&kiosk, 0, "7654321");
    type_into(&kiosk, 1, BIRTH_TYPED);
    kiosk.view.wait_for("the details typed", WAIT, |v| v.identify.date_of_birth == "29/02/1984").await;
    walks_away(&kiosk, "the identification step").await;

    // The pickup form.
    start(&kiosk, UserAction::Collect);
    kiosk.view.wait_for("the pickup form", WAIT, |v| v.screen == Screen::Pickup).await;
    type_into(&kiosk, 0, REFERENCE);
    type_into(&kiosk, 1, DOCUMENT);
    kiosk.view.wait_for("the numbers typed", WAIT, |v| v.pickup.document_number == DOCUMENT).await;
    walks_away(&kiosk, "the pickup form").await;

    // The status check.
    start(&kiosk, UserAction::CheckStatus);
    kiosk.view.wait_for("the status form", WAIT, |v| v.screen == Screen::Status).await;
    type_into(&kiosk, 0, REFERENCE);
    type_into(&kiosk, 1, BIRTH_TYPED);
    kiosk.view.wait_for("the details typed", WAIT, |v| v.status.date_of_birth == "29/02/1984").await;
    walks_away(&kiosk, "the status check").await;

    // An appointment's details (a place held, then let go) and a cancellation.
    start(&kiosk, UserAction::BookAppointment);
    let slots = kiosk.view.wait_for("the free places", WAIT, |v| v.appointment.times.iter().any(|t| t.free > 0)).await;
    let time = slots.appointment.times.iter().find(|t| t.free > 0).map(|t| t.time.clone()).expect("a free time");
    act(&kiosk, UserAction::ChooseTime(time));
    kiosk.view.wait_for("the place held", WAIT, |v| v.appointment.focused == Some(1)).await;
    type_into(&kiosk, 1, BIRTH_TYPED);
    kiosk.view.wait_for("the date typed", WAIT, |v| v.appointment.date_of_birth == "29/02/1984").await;
    walks_away(&kiosk, "an appointment's details").await;
    start(&kiosk, UserAction::BookAppointment);
    kiosk.view.wait_for("the free places", WAIT, |v| !v.appointment.days.is_empty()).await;
    act(&kiosk, UserAction::CancelAppointment);
    type_into(&kiosk, 0, BOOKING);
    type_into(&kiosk, 1, BIRTH_TYPED);
    kiosk.view.wait_for("the cancellation typed", WAIT, |v| v.appointment.number == BOOKING).await;
    walks_away(&kiosk, "a cancellation").await;

    // A whole application, left on its last screen.
    start(&kiosk, UserAction::Apply);
    to_review(&kiosk).await;
    act(&kiosk, UserAction::ToggleConsent);
    act(&kiosk, UserAction::Confirm);
    let done = kiosk.view.wait_for("the application done", WAIT, |v| matches!(v.screen, Screen::Done | Screen::Error)).await;
    assert_eq!(done.screen, Screen::Done, "{:?}", done.error);
    walks_away(&kiosk, "the end of an application").await;

    // Nothing of it on disk but in sealed records: not the database, its journal, the logs, the
    // printed receipts.
    kiosk.stop().await;
    let found = files_holding_traces(&data);
    assert!(found.is_empty(), "{found:#?}");
    // The application itself reached central, sealed there too.
    assert_eq!(central.central.store().count_applications().expect("count"), 1);
}
