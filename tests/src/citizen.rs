//! A scripted citizen: applies for a Certificate of Criminal Record through the same events
//! the touchscreen sends.

use std::time::Duration;

use balcao_kiosk::session::Event;
use balcao_ui::view::{Language, Screen, UserAction};

use crate::TestKiosk;

const WAIT: Duration = Duration::from_secs(20);

fn act(kiosk: &TestKiosk, action: UserAction) {
    kiosk.send(Event::Ui(action));
}

fn type_into(kiosk: &TestKiosk, field: usize, text: &str) {
    act(kiosk, UserAction::Focus(Some(field)));
    for c in text.chars() {
        act(kiosk, UserAction::Key(c.to_string()));
    }
}

/// Fills in and submits the application; returns the screen it ended on (done or an error).
pub async fn apply_for_criminal_record(kiosk: &TestKiosk, name: &str) -> balcao_ui::view::View {
    act(kiosk, UserAction::Start);
    act(kiosk, UserAction::ChooseLanguage(Language::En));
    act(kiosk, UserAction::Apply);
    kiosk
        .view
        .wait_for("the service to be offered", WAIT, |v| {
            v.screen == Screen::Services
                && v.services.tiles.iter().any(|t| t.id == "criminal-record-certificate" && t.unavailable.is_none())
        })
        .await;
    act(kiosk, UserAction::ChooseService("criminal-record-certificate".into()));
    kiosk.view.wait_for("the form", WAIT, |v| v.screen == Screen::Form).await;
    type_into(kiosk, 0, name);
    type_into(kiosk, 1, "1234567(8)");
    type_into(kiosk, 2, "14031985");
    act(kiosk, UserAction::Choose(3, "employment".into()));
    act(kiosk, UserAction::FormNext);
    kiosk.view.wait_for("the review", WAIT, |v| v.screen == Screen::Review).await;
    act(kiosk, UserAction::ToggleConsent);
    act(kiosk, UserAction::Confirm);
    kiosk.view.wait_for("the end of the journey", WAIT, |v| matches!(v.screen, Screen::Done | Screen::Error)).await
}

/// Leaves the done or error screen for the next citizen.
pub fn finish(kiosk: &TestKiosk) {
    act(kiosk, UserAction::Finish);
}
