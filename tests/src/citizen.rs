//! A scripted citizen: applies for a Certificate of Criminal Record, or takes a queue ticket,
//! through the same events the touchscreen sends.

use std::time::Duration;

use balcao_kiosk::session::Event;
use balcao_ui::view::{Language, Screen, UserAction};

use crate::TestKiosk;

const WAIT: Duration = Duration::from_secs(20);

/// A touch the citizen makes.
pub fn act(kiosk: &TestKiosk, action: UserAction) {
    kiosk.send(Event::Ui(action));
}

/// Opens `field` and types `text` on the on-screen keyboard.
pub fn type_into(kiosk: &TestKiosk, field: usize, text: &str) {
    act(kiosk, UserAction::Focus(Some(field)));
    for c in text.chars() {
        act(kiosk, UserAction::Key(c.to_string()));
    }
}

/// From the welcome screen, in English, to choosing `service` once it is offered.
async fn choose_service(kiosk: &TestKiosk, service: &str) {
    act(kiosk, UserAction::Start);
    act(kiosk, UserAction::ChooseLanguage(Language::En));
    act(kiosk, UserAction::Apply);
    kiosk
        .view
        .wait_for("the service to be offered", WAIT, |v| {
            v.screen == Screen::Services && v.services.tiles.iter().any(|t| t.id == service && t.unavailable.is_none())
        })
        .await;
    act(kiosk, UserAction::ChooseService(service.into()));
}

/// Fills in and submits the application; returns the screen it ended on (done or an error).
pub async fn apply_for_criminal_record(kiosk: &TestKiosk, name: &str) -> balcao_ui::view::View {
    confirm_criminal_record(kiosk, name).await;
    kiosk.view.wait_for("the end of the journey", WAIT, |v| matches!(v.screen, Screen::Done | Screen::Error)).await
}

/// Fills in the application, consents and confirms: the payment starts.
pub async fn confirm_criminal_record(kiosk: &TestKiosk, name: &str) {
    choose_service(kiosk, "criminal-record-certificate").await;
    kiosk.view.wait_for("the form", WAIT, |v| v.screen == Screen::Form).await;
    type_into(kiosk, 0, name);
    type_into(kiosk, 1, "1234567(8)");
    type_into(kiosk, 2, "14031985");
    act(kiosk, UserAction::Choose(3, "employment".into()));
    act(kiosk, UserAction::FormNext);
    kiosk.view.wait_for("the review", WAIT, |v| v.screen == Screen::Review).await;
    act(kiosk, UserAction::ToggleConsent);
    act(kiosk, UserAction::Confirm);
}

/// Presses Cancel on the payment screen.
pub fn cancel_payment(kiosk: &TestKiosk) {
    act(kiosk, UserAction::CancelPayment);
}

/// Applies for the certificate of identification data, given only to its holder: identified by
/// `identify` (which presents a sign-in code or places a document and types its details), then
/// the form's remaining answers, review, payment. Returns the screen it ended on.
async fn apply_identified(kiosk: &TestKiosk, identify: impl AsyncFnOnce(&TestKiosk)) -> balcao_ui::view::View {
    choose_service(kiosk, "identification-data-certificate").await;
    kiosk.view.wait_for("the identification step", WAIT, |v| v.screen == Screen::Identify).await;
    identify(kiosk).await;
    let form = kiosk.view.wait_for("the form, identified", WAIT, |v| v.screen == Screen::Form || v.identify.problem.is_some()).await;
    assert_eq!(form.screen, Screen::Form, "not identified: {:?}", form.identify.problem);
    act(kiosk, UserAction::SetYesNo(3, false));
    act(kiosk, UserAction::FormNext);
    kiosk.view.wait_for("the review", WAIT, |v| v.screen == Screen::Review).await;
    act(kiosk, UserAction::ToggleConsent);
    act(kiosk, UserAction::Confirm);
    kiosk.view.wait_for("the end of the journey", WAIT, |v| matches!(v.screen, Screen::Done | Screen::Error)).await
}

/// The holder shows the government app's sign-in `code` to the (virtual) scanner.
pub async fn apply_identified_by_app(kiosk: &TestKiosk, code: &str) -> balcao_ui::view::View {
    apply_identified(kiosk, async |kiosk| kiosk.simulators.code_scanner.present(code.as_bytes()).expect("scanned")).await
}

/// The holder places the specimen identity card on the reader and types its details.
pub async fn apply_identified_by_chip(kiosk: &TestKiosk) -> balcao_ui::view::View {
    apply_identified(kiosk, async |kiosk| {
        kiosk.simulators.identity_reader.place(Some(balcao_drivers::identity_reader::sim::specimen_identity_card()));
        type_into(kiosk, 0, "12345678");
        type_into(kiosk, 1, "14031985");
        type_into(kiosk, 2, "30062031");
        act(kiosk, UserAction::IdentifyRead);
    })
    .await
}

/// The holder lays the specimen identity card on the OCR reader: nothing typed.
pub async fn apply_identified_by_ocr(kiosk: &TestKiosk) -> balcao_ui::view::View {
    apply_identified(kiosk, async |kiosk| {
        let card = balcao_drivers::identity_reader::sim::specimen_identity_card();
        kiosk.simulators.identity_reader.place(Some(card.clone()));
        kiosk.simulators.ocr_reader.lay_down(&card.holder).expect("laid down");
    })
    .await
}

/// Takes a ticket for the counter queue `queue` in `language`; returns the screen it ended on
/// (the ticket or an error).
pub async fn take_queue_ticket(kiosk: &TestKiosk, language: Language, queue: &str) -> balcao_ui::view::View {
    act(kiosk, UserAction::Start);
    act(kiosk, UserAction::ChooseLanguage(language));
    kiosk
        .view
        .wait_for("tickets to be offered", WAIT, |v| {
            v.screen == Screen::Home && v.ticket_unavailable.is_none() && v.queues.iter().any(|q| q.id == queue)
        })
        .await;
    act(kiosk, UserAction::TakeTicket);
    kiosk.view.wait_for("the list of queues", WAIT, |v| v.screen == Screen::Queues).await;
    act(kiosk, UserAction::ChooseQueue(queue.into()));
    kiosk.view.wait_for("the ticket", WAIT, |v| matches!(v.screen, Screen::Ticket | Screen::Error)).await
}

/// Leaves the done or error screen for the next citizen.
pub fn finish(kiosk: &TestKiosk) {
    act(kiosk, UserAction::Finish);
}

/// The application a citizen completes in [`apply_for_criminal_record`], as the session hands
/// it to the store: for tests that queue applications without going through the screens.
pub fn paid_criminal_record_application(kiosk_id: &str) -> balcao_kiosk::store::NewApplication {
    // The same application central's own tests file, queued as the kiosk saves it.
    let sample = balcao_central::testing::criminal_record_submission();
    let now = jiff::Zoned::now();
    balcao_kiosk::store::NewApplication {
        kiosk_id: kiosk_id.into(),
        centre_id: sample.centre_id,
        service_id: sample.service_id,
        language: balcao_backend_client::api::Language::En,
        answers: sample.answers,
        fee_avos: sample.fee_avos,
        payment: sample.payment,
        payment_id: None,
        identity: None,
        submitted_at: now.timestamp(),
        local_date: now.date(),
    }
}
