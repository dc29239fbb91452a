//! A citizen types their name in Chinese on the kiosk's own keyboard — 陳 by its strokes
//! (五筆劃), then 大 and 文 with Quick (速成) — from the tables Debian ships, and those very
//! characters reach central: they are on the certificate central issues, as poppler reads it.

use std::time::Duration;

use balcao_kiosk::session::Event;
use balcao_tests::citizen::type_into;
use balcao_tests::{TestKiosk, client, eventually, loopback_central, test_settings};
use balcao_ui::view::{ImeMethod, KeyboardMode, Language, Screen, UserAction, View};

const WAIT: Duration = Duration::from_secs(20);
/// The form's field that asks for the name in Chinese characters.
const CHINESE_NAME: usize = 6;

/// Types `code` (the table's keys) and chooses `wanted` from the candidates, turning pages.
async fn compose(kiosk: &TestKiosk, code: &str, wanted: &str) {
    let act = |action| kiosk.send(Event::Ui(action));
    for key in code.chars() {
        act(UserAction::ImeKey(key));
    }
    // (The bar shows the code as strokes or radicals, one per key.)
    let typed = code.chars().count();
    for _ in 0..20 {
        let view = kiosk
            .view
            .wait_for("the candidates", WAIT, |v| v.form.ime.code.chars().count() == typed && !v.form.ime.candidates.is_empty())
            .await;
        if let Some(i) = view.form.ime.candidates.iter().position(|c| c == wanted) {
            act(UserAction::ImeChoose(i));
            kiosk.view.wait_for("the character in the field", WAIT, |v| v.form.ime.candidates.is_empty()).await;
            return;
        }
        assert!(view.form.ime.later, "{wanted} is not among the candidates of {code}");
        let shown = view.form.ime.candidates.clone();
        act(UserAction::ImeTurn(1));
        kiosk.view.wait_for("the next page", WAIT, |v| v.form.ime.candidates != shown).await;
    }
}

fn field(view: &View, index: usize) -> String {
    view.form.fields[index].value.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_typed_by_strokes_and_by_quick_reaches_central_as_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let data = dir.path().join("k01");
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let kiosk = TestKiosk::start_with(test_settings(&data), &data, Some(client(&central.url, &central.ca_pem, &identity))).await;
    let act = |action| kiosk.send(Event::Ui(action));

    act(UserAction::Start);
    act(UserAction::ChooseLanguage(Language::ZhHant));
    act(UserAction::Apply);
    kiosk
        .view
        .wait_for("the services", WAIT, |v| v.screen == Screen::Services && v.services.tiles.iter().any(|t| t.unavailable.is_none()))
        .await;
    act(UserAction::ChooseService("criminal-record-certificate".into()));
    kiosk.view.wait_for("the form", WAIT, |v| v.screen == Screen::Form).await;
    for (index, text) in [(0, "CHAN TAI MAN"), (1, "1234567(8)"), (2, "14031985")] {
        type_into(&kiosk, index, text);
    }
    act(UserAction::Choose(3, "employment".into()));

    // The Chinese field opens the Chinese keyboard, by strokes first.
    act(UserAction::Focus(Some(CHINESE_NAME)));
    let view = kiosk.view.wait_for("the Chinese keyboard", WAIT, |v| v.form.keyboard == KeyboardMode::Chinese).await;
    assert_eq!((view.form.ime.method, view.form.ime.methods.clone()), (ImeMethod::Stroke, vec![ImeMethod::Stroke, ImeMethod::Quick]));
    // 陳: 折 折 豎 橫 豎 …
    compose(&kiosk, "nn/m/", "陳").await;
    // A stroke typed by mistake is erased before the field's character.
    act(UserAction::ImeKey('m'));
    kiosk.view.wait_for("a stroke typed", WAIT, |v| v.form.ime.code == "一").await;
    act(UserAction::Backspace);
    let view = kiosk.view.wait_for("the stroke erased", WAIT, |v| v.form.ime.code.is_empty()).await;
    assert_eq!(field(&view, CHINESE_NAME), "陳");
    // 大 and 文 with Quick: 大 (k), 卜大 (y k).
    act(UserAction::ImeSwitch(ImeMethod::Quick));
    kiosk.view.wait_for("Quick", WAIT, |v| v.form.ime.method == ImeMethod::Quick).await;
    compose(&kiosk, "k", "大").await;
    compose(&kiosk, "yk", "文").await;
    let view = kiosk.view.wait_for("the name", WAIT, |v| field(v, CHINESE_NAME) == "陳大文").await;
    assert_eq!(field(&view, 0), "CHAN TAI MAN", "the other fields as typed");

    act(UserAction::Focus(None));
    act(UserAction::FormNext);
    kiosk.view.wait_for("the review", WAIT, |v| v.screen == Screen::Review).await;
    act(UserAction::ToggleConsent);
    act(UserAction::Confirm);
    let done = kiosk.view.wait_for("the end of the journey", WAIT, |v| matches!(v.screen, Screen::Done | Screen::Error)).await;
    assert_eq!(done.screen, Screen::Done, "{:?}", done.error);
    let store = central.central.store();
    eventually("the application at central", WAIT, || store.count_applications().expect("count") == 1).await;

    // Central has the characters as typed: its certificate shows them.
    let id = store.recent_applications(1).expect("list")[0].id;
    central.central.issue_certificate(id).expect("issued");
    let pdf = store.certificate_changes("GSC-01", None, 10).expect("feed").ready.pop().expect("ready").document_pdf;
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pdf).expect("base64")).expect("write");
    let text = std::process::Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext (tools/setup installs it)");
    let text = String::from_utf8(text.stdout).expect("utf-8");
    assert!(text.contains("陳大文") && text.contains("CHAN TAI MAN"), "{text}");
    kiosk.stop().await;
}
