use std::sync::Arc;
use std::time::{Duration, Instant};

use balcao_backend_client::api::Answer;
use balcao_drivers::payment_terminal::{
    Authorization, AuthorizationOutcome, DeclineReason, ErrorKind as PaymentError, MaskedPan, TerminalPrompt,
};
use balcao_ui::view::{
    AttendantState, FieldProblem, Language, PaymentCancel, PaymentPrompt, PickupProblem, Problem, ReviewAnswer, Screen, StatusProblem,
    Unavailable, UserAction,
};

use super::*;

struct Harness {
    session: Session,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        let now = Instant::now();
        let mut session = Session::new(SessionConfig::default(), now);
        session.handle(Event::Catalog(Arc::new(balcao_central::seed::catalog())), now);
        session.handle(Event::Readiness(Readiness::ALL), now);
        session.handle(Event::Tick { clock: "14:05".into(), today: "2026-11-22".into() }, now);
        Self { session, now }
    }

    fn ui(&mut self, action: UserAction) -> Vec<Effect> {
        self.session.handle(Event::Ui(action), self.now)
    }

    fn event(&mut self, event: Event) -> Vec<Effect> {
        self.session.handle(event, self.now)
    }

    fn wait(&mut self, secs: u64) -> Vec<Effect> {
        self.now += Duration::from_secs(secs);
        self.session.handle(Event::Tick { clock: "14:06".into(), today: "2026-11-22".into() }, self.now)
    }

    fn screen(&self) -> Screen {
        self.session.view().screen
    }

    fn type_text(&mut self, field: usize, text: &str) {
        self.ui(UserAction::Focus(Some(field)));
        for c in text.chars() {
            self.ui(UserAction::Key(c.to_string()));
        }
    }

    /// From the welcome screen to the empty criminal-record form, in `language`.
    fn open_criminal_record_form(&mut self, language: Language) {
        self.ui(UserAction::Start);
        self.ui(UserAction::ChooseLanguage(language));
        self.ui(UserAction::Apply);
        self.ui(UserAction::ChooseService("criminal-record-certificate".into()));
        assert_eq!(self.screen(), Screen::Form);
    }

    /// From the welcome screen to a filled criminal-record form.
    fn fill_criminal_record_form(&mut self) {
        self.open_criminal_record_form(Language::En);
        self.type_text(0, "CHAN TAI MAN");
        self.type_text(1, "1234567(8)");
        self.type_text(2, "14031985");
        self.ui(UserAction::Choose(3, "employment".into()));
    }

    fn reach_payment(&mut self) -> Vec<Effect> {
        self.fill_criminal_record_form();
        self.ui(UserAction::FormNext);
        assert_eq!(self.screen(), Screen::Review);
        self.ui(UserAction::ToggleConsent);
        self.ui(UserAction::Confirm)
    }
}

fn authorization() -> Authorization {
    Authorization {
        amount: 3000,
        receipt_number: 7,
        trace_number: 107,
        approval_code: Some("314166".into()),
        card_brand: Some("VISA".into()),
        card: MaskedPan::from_masked("************4242"),
        receipt_lines: vec!["PRE-AUTHORISATION".into()],
    }
}

fn saved() -> SavedApplication {
    SavedApplication { application_id: uuid::Uuid::now_v7(), reference: "K01-261122-0001".into() }
}

#[test]
fn the_whole_journey_pays_saves_captures_prints_and_ends() {
    let mut h = Harness::new();
    assert_eq!(h.reach_payment(), [Effect::Authorize { amount_avos: 3000, reference: "criminal-record-certificate".into() }]);
    assert_eq!(h.screen(), Screen::Payment);
    h.event(Event::PaymentPrompt(TerminalPrompt::EnterPin));
    assert_eq!(h.session.view().payment.prompt, PaymentPrompt::EnterPin);

    let effects = h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    let [Effect::SaveApplication(draft)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(draft.service_id, "criminal-record-certificate");
    assert_eq!(draft.answers["full_name"], Answer::Text("CHAN TAI MAN".into()));
    assert_eq!(draft.answers["date_of_birth"], Answer::Text("1985-03-14".into()));
    assert_eq!(draft.answers["copies"], Answer::Number(1));
    assert_eq!(draft.payment.as_ref().map(|p| (p.amount_avos, p.terminal_receipt_number)), Some((3000, 7)));
    assert_eq!(h.screen(), Screen::Printing);

    assert_eq!(h.event(Event::ApplicationSaved(saved())), [Effect::Capture(Box::new(authorization()))]);
    let effects = h.event(Event::Captured(vec!["CAPTURED MOP 30.00".into()]));
    let [Effect::PrintReceipt(receipt)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(
        receipt.paid_by.as_ref().map(|p| p.terminal_lines.clone()),
        Some(vec!["PRE-AUTHORISATION".into(), "CAPTURED MOP 30.00".into()])
    );
    assert_eq!(receipt.reference, "K01-261122-0001");
    assert_eq!(receipt.language, Language::En);
    assert_eq!(receipt.paid_by.as_ref().and_then(|p| p.card.clone()).as_deref(), Some("VISA **** 4242"));

    assert!(h.event(Event::ReceiptPrinted).is_empty());
    assert_eq!(h.screen(), Screen::Done);
    assert_eq!(h.session.view().done.reference, "K01-261122-0001");
    assert_eq!(h.ui(UserAction::Finish), [Effect::SessionEnded]);
    assert_eq!(h.screen(), Screen::Attract);
    assert_eq!(h.session.language, Language::ZhHant, "the next citizen starts in the default language");
}

#[test]
fn the_form_does_not_continue_until_answers_are_valid() {
    let mut h = Harness::new();
    h.open_criminal_record_form(Language::Pt);
    assert!(h.session.view().form.fields.iter().all(|f| f.problem.is_none()), "no problems before trying");
    h.type_text(2, "31022000");
    h.ui(UserAction::FormNext);
    assert_eq!(h.screen(), Screen::Form);
    let problems: Vec<_> = h.session.view().form.fields.iter().map(|f| f.problem).collect();
    assert_eq!(
        problems[..4],
        [Some(FieldProblem::Required), Some(FieldProblem::Required), Some(FieldProblem::InvalidDate), Some(FieldProblem::Required)]
    );
    assert_eq!(problems[4], None, "destination is optional");

    // A problem disappears as soon as its field is fixed.
    h.type_text(0, "CHAN");
    assert_eq!(h.session.view().form.fields[0].problem, None);
    // Labels come from the catalog in the citizen's language.
    assert_eq!(h.session.view().form.fields[0].label, "Nome completo");
}

#[test]
fn back_on_a_form_with_answers_asks_before_erasing_them() {
    let mut h = Harness::new();
    h.open_criminal_record_form(Language::En);
    h.ui(UserAction::FormBack);
    assert_eq!(h.screen(), Screen::Services, "an empty form is left at once");

    h.fill_criminal_record_form();
    h.ui(UserAction::FormBack);
    assert_eq!((h.screen(), h.session.view().form.confirm_leave), (Screen::Form, true), "asked first");
    h.ui(UserAction::Key("X".into()));
    assert_eq!(h.session.view().form.fields[0].value, "CHAN TAI MAN", "nothing else happens while asked");
    h.ui(UserAction::StayOnForm);
    let view = h.session.view();
    assert_eq!((view.screen, view.form.confirm_leave, view.form.fields[0].value.as_str()), (Screen::Form, false, "CHAN TAI MAN"));
    h.ui(UserAction::FormBack);
    h.ui(UserAction::LeaveForm);
    assert_eq!(h.screen(), Screen::Services);
    h.ui(UserAction::ChooseService("criminal-record-certificate".into()));
    assert_eq!(h.session.view().form.fields[0].value, "", "the answers were erased");
}

#[test]
fn two_copies_cost_twice_the_fee_everywhere_the_fee_is_shown_or_charged() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::Step(5, 1));
    assert_eq!(h.session.view().form.fields[5].number, 2);
    h.ui(UserAction::FormNext);
    assert_eq!(h.screen(), Screen::Review);
    assert_eq!(h.session.view().review.fee, "MOP 60.00");
    h.ui(UserAction::ToggleConsent);
    let effects = h.ui(UserAction::Confirm);
    assert!(matches!(effects.as_slice(), [Effect::Authorize { amount_avos: 6000, .. }]), "{effects:?}");
    assert_eq!((h.screen(), h.session.view().payment.amount.as_str()), (Screen::Payment, "MOP 60.00"));
}

#[test]
fn an_identity_number_not_written_as_a_document_shows_it_is_refused() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::Focus(Some(1)));
    for _ in 0..20 {
        h.ui(UserAction::Backspace);
    }
    h.type_text(1, "1234567)8/");
    h.ui(UserAction::Focus(None));
    h.ui(UserAction::FormNext);
    assert_eq!(h.screen(), Screen::Form, "not to the review");
    assert_eq!(h.session.view().form.fields[1].problem, Some(FieldProblem::InvalidDocumentNumber));
    h.ui(UserAction::Focus(Some(1)));
    for _ in 0..20 {
        h.ui(UserAction::Backspace);
    }
    h.type_text(1, "1234567(8)");
    h.ui(UserAction::Focus(None));
    h.ui(UserAction::FormNext);
    let fields = h.session.view().form.fields;
    assert_eq!(h.screen(), Screen::Review, "{:?}", fields.iter().map(|f| (&f.value, f.problem)).collect::<Vec<_>>());
}

#[test]
fn typing_respects_the_field_and_the_keyboard_fits_it() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::Focus(Some(2)));
    assert_eq!(h.session.view().form.keyboard, balcao_ui::view::KeyboardMode::Digits);
    h.ui(UserAction::Key("9".into()));
    assert_eq!(h.session.view().form.fields[2].value, "14/03/1985", "a date takes eight digits only");
    h.ui(UserAction::Backspace);
    assert_eq!(h.session.view().form.fields[2].value, "14/03/198");
    h.ui(UserAction::Focus(Some(3)));
    assert_eq!(h.session.view().form.keyboard, balcao_ui::view::KeyboardMode::None, "a choice needs no keyboard");
    h.ui(UserAction::Step(5, 10));
    assert_eq!(h.session.view().form.fields[5].number, 5, "copies stop at the maximum");
    h.type_text(1, &"X".repeat(40));
    assert_eq!(h.session.view().form.fields[1].value.chars().count(), 20, "text stops at max_length");
}

#[test]
fn an_idle_session_warns_then_wipes_a_half_filled_form() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    assert_eq!(h.session.view().idle_seconds_left, None);
    h.wait(75);
    assert_eq!(h.session.view().idle_seconds_left, Some(15));
    assert_eq!(h.screen(), Screen::Form);
    let effects = h.wait(15);
    assert_eq!(effects, [Effect::SessionEnded]);
    let view = h.session.view();
    assert_eq!(view.screen, Screen::Attract);
    assert_eq!(view.idle_seconds_left, None);
    assert!(!format!("{view:?}").contains("CHAN TAI MAN"), "nothing of the citizen is left in the view");
    assert!(!format!("{:?}", h.session).contains("CHAN TAI MAN"), "nor in the session");
}

#[test]
fn a_touch_during_the_countdown_keeps_the_session() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.wait(80);
    assert!(h.session.view().idle_seconds_left.is_some());
    h.ui(UserAction::StillHere);
    assert_eq!(h.session.view().idle_seconds_left, None);
    assert!(h.wait(60).is_empty());
    assert_eq!(h.screen(), Screen::Form);
    assert_eq!(h.session.view().form.fields[0].value, "CHAN TAI MAN");
}

#[test]
fn no_timeout_while_the_kiosk_is_taking_payment() {
    let mut h = Harness::new();
    h.reach_payment();
    assert!(h.wait(600).is_empty());
    assert_eq!(h.screen(), Screen::Payment);
}

#[test]
fn a_declined_card_can_be_retried_from_review() {
    let mut h = Harness::new();
    h.reach_payment();
    assert!(h.event(Event::PaymentOutcome(AuthorizationOutcome::Declined(DeclineReason::WrongPin))).is_empty());
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem, view.error.can_retry), (Screen::Error, Problem::WrongPin, true));
    h.ui(UserAction::Retry);
    assert_eq!(h.screen(), Screen::Review);
    assert!(h.session.view().review.consent, "the citizen already consented");
    assert!(matches!(h.ui(UserAction::Confirm).as_slice(), [Effect::Authorize { .. }]));
}

#[test]
fn cancelling_at_the_kiosk_asks_the_terminal_and_ends_uncharged() {
    let mut h = Harness::new();
    h.reach_payment();
    assert_eq!(h.ui(UserAction::CancelPayment), [Effect::CancelPayment]);
    assert_eq!(h.session.view().payment.prompt, PaymentPrompt::Cancelling);
    assert!(h.ui(UserAction::CancelPayment).is_empty(), "a second tap sends nothing more");
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Cancelled));
    assert_eq!(h.session.view().error.problem, Problem::PaymentCancelled);
}

#[test]
fn an_approval_that_comes_after_the_citizen_cancelled_is_released_and_nothing_charged() {
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentPrompt(TerminalPrompt::PresentCard));
    assert_eq!(h.session.view().payment.cancel, PaymentCancel::Offered);
    assert_eq!(h.ui(UserAction::CancelPayment), [Effect::CancelPayment]);
    assert_eq!(h.session.view().payment.cancel, PaymentCancel::Requested);
    // The terminal was already reading the card: it refused the abort and approved.
    let effects = h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    assert_eq!(effects, [Effect::Reverse(Box::new(authorization()))], "released, never saved nor captured");
    assert_eq!(h.screen(), Screen::Printing);
    let effects = h.event(Event::Reversed);
    let [Effect::PrintNotCharged(slip)] = effects.as_slice() else { panic!("the not-charged slip: {effects:?}") };
    assert_eq!((slip.amount_avos, slip.card.as_deref()), (3000, Some("VISA **** 4242")));
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem), (Screen::Error, Problem::PaymentCancelled));

    // A release the terminal did not confirm prints nothing and says the amount is still held.
    let mut h = Harness::new();
    h.reach_payment();
    h.ui(UserAction::CancelPayment);
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    assert!(h.event(Event::ReversalFailed).is_empty());
    assert_eq!(h.session.view().error.problem, Problem::ReleasePending);
}

#[test]
fn cancel_is_offered_only_while_the_terminal_can_still_take_it() {
    let mut h = Harness::new();
    h.reach_payment();
    assert_eq!(h.session.view().payment.cancel, PaymentCancel::Offered, "connecting");
    for (prompt, cancel) in [
        (TerminalPrompt::PresentCard, PaymentCancel::Offered),
        (TerminalPrompt::EnterPin, PaymentCancel::OnTerminal),
        (TerminalPrompt::Processing, PaymentCancel::NotNow),
        (TerminalPrompt::RemoveCard, PaymentCancel::NotNow),
        (TerminalPrompt::Text("PLEASE WAIT".into()), PaymentCancel::NotNow),
    ] {
        h.event(Event::PaymentPrompt(prompt.clone()));
        assert_eq!(h.session.view().payment.cancel, cancel, "{prompt:?}");
    }
    // A tap that arrives after the screen changed (the bank is asked) does nothing.
    assert!(h.ui(UserAction::CancelPayment).is_empty());
    assert_eq!(h.session.view().payment.cancel, PaymentCancel::NotNow);
}

#[test]
fn a_lost_terminal_answer_offers_no_second_payment() {
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentFailed(PaymentError::OutcomeUnknown));
    let view = h.session.view();
    assert_eq!((view.error.problem, view.error.can_retry), (Problem::PaymentUnresolved, false));
    assert!(h.ui(UserAction::Retry).is_empty());
    // A terminal that could not be reached reserved nothing: the citizen may try again.
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentFailed(PaymentError::NoAnswer));
    let view = h.session.view();
    assert_eq!((view.error.problem, view.error.can_retry), (Problem::TerminalUnavailable, true));
}

#[test]
fn a_failed_save_reverses_the_payment() {
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    assert_eq!(h.event(Event::ApplicationNotSaved), [Effect::Reverse(Box::new(authorization()))]);
    assert_eq!(h.screen(), Screen::Printing);
    let effects = h.event(Event::Reversed);
    assert_eq!(h.session.view().error.problem, Problem::NotSaved);
    let [Effect::PrintNotCharged(slip)] = effects.as_slice() else { panic!("a not-charged slip is printed: {effects:?}") };
    assert_eq!((slip.amount_avos, slip.card.as_deref()), (3000, Some("VISA **** 4242")));
    assert_eq!(slip.service_name, "Certificate of Criminal Record");

    // A reversal whose answer never came says nothing about money: no slip.
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    h.event(Event::ApplicationNotSaved);
    assert!(h.event(Event::ReversalFailed).is_empty());
    assert_eq!(h.session.view().error.problem, Problem::ReleasePending, "never \"not charged\" while the amount is held");
}

#[test]
fn a_receipt_that_did_not_print_shows_the_number_instead() {
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    h.event(Event::ApplicationSaved(saved()));
    h.event(Event::Captured(Vec::new()));
    h.event(Event::ReceiptNotPrinted);
    let view = h.session.view();
    assert_eq!((view.error.problem, view.error.reference.as_str()), (Problem::ReceiptNotPrinted, "K01-261122-0001"));
}

#[test]
fn services_that_need_a_broken_device_are_shown_unavailable_and_cannot_be_started() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { receipt_printer: false, ..Readiness::ALL }));
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::En));
    h.ui(UserAction::Apply);
    let tiles = h.session.view().services.tiles;
    assert!(tiles.iter().all(|t| t.unavailable == Some(Unavailable::ReceiptPrinter)), "{tiles:?}");
    h.ui(UserAction::ChooseService("criminal-record-certificate".into()));
    assert_eq!(h.screen(), Screen::Services);

    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    let tiles = h.session.view().services.tiles;
    let tax = tiles.iter().find(|t| t.id == "tax-clearance-certificate").expect("tax");
    assert_eq!(tax.unavailable, Some(Unavailable::Offline));
    let crc = tiles.iter().find(|t| t.id == "criminal-record-certificate").expect("crc");
    assert_eq!(crc.unavailable, None, "offline-capable services stay available");
    assert!(tiles.iter().all(|t| t.id != "id-card-renewal-appointment"), "appointments are another journey");
}

#[test]
fn the_view_says_since_when_the_kiosk_is_offline_and_what_waits() {
    let mut h = Harness::new();
    h.event(Event::Tick { clock: "14:05".into(), today: "2026-11-22".into() });
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.event(Event::Uploads { pending: 3 });
    h.event(Event::Tick { clock: "14:20".into(), today: "2026-11-22".into() });
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    let view = h.session.view();
    assert_eq!(
        (view.online, view.offline_since.as_str(), view.pending_uploads),
        (false, "14:05", 3),
        "since it went down, not since the last check"
    );
    h.event(Event::Readiness(Readiness::ALL));
    let view = h.session.view();
    assert_eq!((view.online, view.offline_since.as_str()), (true, ""));
}

#[test]
fn a_terminal_that_fails_before_payment_stops_the_citizen_before_the_card() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::FormNext);
    h.ui(UserAction::ToggleConsent);
    h.event(Event::Readiness(Readiness { payment_terminal: false, ..Readiness::ALL }));
    assert!(h.ui(UserAction::Confirm).is_empty(), "the card is never asked for");
    assert_eq!(h.session.view().error.problem, Problem::ServiceUnavailable);
}

#[test]
fn a_fee_needs_the_terminal_even_when_the_catalog_forgets_to_say_so() {
    let catalog = balcao_central::seed::catalog();
    let mut service = catalog.services.iter().find(|s| s.fee_avos > 0).expect("a paid service").clone();
    service.devices.retain(|d| *d != DeviceNeed::PaymentTerminal);
    let terminal_down = Readiness { payment_terminal: false, ..Readiness::ALL };
    assert_eq!(terminal_down.blocks(&service), Some(Unavailable::PaymentTerminal));
    service.fee_avos = 0;
    assert_eq!(terminal_down.blocks(&service), None, "a free service does not need it");
}

#[test]
fn switching_language_keeps_the_answers() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::ChooseLanguage(Language::ZhHant));
    let view = h.session.view();
    assert_eq!(view.screen, Screen::Form);
    assert_eq!(view.form.fields[0].label, "姓名");
    assert_eq!(view.form.fields[0].value, "CHAN TAI MAN");
    assert_eq!(view.form.service_name, "刑事紀錄證明書");
    h.ui(UserAction::FormNext);
    let review = h.session.view().review;
    assert_eq!(review.rows[3].answer, ReviewAnswer::Text("就業".into()));
    assert_eq!(review.rows[4].answer, ReviewAnswer::NotAnswered);
}

#[test]
fn a_late_answer_after_the_session_ended_changes_nothing() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.wait(200);
    assert_eq!(h.screen(), Screen::Attract);
    assert!(h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization()))).is_empty());
    assert!(h.event(Event::ReceiptPrinted).is_empty());
    assert_eq!(h.screen(), Screen::Attract);
}

#[test]
fn the_welcome_screen_speaks_each_language_in_turn() {
    let mut h = Harness::new();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(h.session.view().language);
        h.wait(4);
    }
    assert_eq!(seen, Language::ALL);
}

#[test]
fn the_done_screen_returns_to_the_welcome_screen_by_itself() {
    let mut h = Harness::new();
    h.reach_payment();
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
    h.event(Event::ApplicationSaved(saved()));
    h.event(Event::Captured(Vec::new()));
    h.event(Event::ReceiptPrinted);
    assert_eq!(h.session.view().idle_seconds_left, None, "no countdown over the application number");
    assert_eq!(h.wait(46), [Effect::SessionEnded]);
}

/// The certificate found under the typed number, its holder the citizen or not (the runtime
/// checks the typed document number against it).
fn certificate(holder_matches: bool) -> FoundCertificate {
    let certificate = CertificateSummary {
        application_id: uuid::Uuid::now_v7(),
        reference: "K01-261122-0001".into(),
        service_id: "criminal-record-certificate".into(),
        holder: balcao_backend_client::api::HolderCheck::with_costs([3; 16], "1234567(8)", 64, 1),
    };
    FoundCertificate { certificate, holder_matches }
}

impl Harness {
    /// From the welcome screen to a typed pickup request; returns what "print" asked for.
    fn ask_for_certificate(&mut self, reference: &str, document: &str) -> Vec<Effect> {
        if self.screen() != Screen::Pickup {
            self.ui(UserAction::Start);
            self.ui(UserAction::ChooseLanguage(Language::En));
            self.ui(UserAction::Collect);
        }
        assert_eq!(self.screen(), Screen::Pickup);
        self.type_text(0, reference);
        self.type_text(1, document);
        self.ui(UserAction::Focus(None));
        self.ui(UserAction::PickupNext)
    }
}

#[test]
fn a_ready_certificate_is_found_checked_against_the_holder_and_printed() {
    let mut h = Harness::new();
    let effects = h.ask_for_certificate("k01-261122-0001", "1234567(8)");
    assert_eq!(
        effects,
        vec![Effect::FindCertificate { reference: "K01-261122-0001".into(), document_number: DocumentNumber("1234567(8)".into()) }],
        "typed in capitals"
    );
    assert!(!format!("{effects:?}").contains("1234567"), "the typed number shows in no log");
    assert!(h.session.view().pickup.checking && h.session.busy());
    let found = certificate(true);
    let effects = h.event(Event::CertificateFound(Some(Box::new(found.clone()))));
    assert_eq!(effects, vec![Effect::CollectCertificate { application_id: found.certificate.application_id, offline: false }]);
    assert_eq!(h.screen(), Screen::Collecting);
    assert!(h.wait(600).is_empty(), "no timeout while the printer works");
    h.event(Event::CertificateCollected);
    assert_eq!(h.screen(), Screen::Collected);
    assert_eq!(h.session.view().pickup.service_name, "Certificate of Criminal Record");
    assert_eq!(h.ui(UserAction::Finish), vec![Effect::SessionEnded]);
    assert_eq!(h.screen(), Screen::Attract);
}

#[test]
fn offline_a_cached_certificate_is_still_handed_out_and_the_pickup_says_so() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.ask_for_certificate("K01-261122-0001", "12345678");
    let found = certificate(true);
    let effects = h.event(Event::CertificateFound(Some(Box::new(found.clone()))));
    assert_eq!(effects, vec![Effect::CollectCertificate { application_id: found.certificate.application_id, offline: true }]);
}

#[test]
fn wrong_document_numbers_are_explained_and_the_third_sends_the_citizen_to_the_counter() {
    let mut h = Harness::new();
    h.ask_for_certificate("K01-261122-0001", "99999999");
    assert!(h.event(Event::CertificateFound(Some(Box::new(certificate(false))))).is_empty());
    let view = h.session.view();
    assert_eq!((view.screen, view.pickup.problem), (Screen::Pickup, Some(PickupProblem::DetailsDoNotMatch)));
    assert_eq!((view.pickup.document_number.as_str(), view.pickup.focused), ("", Some(1)), "the wrong number is cleared");

    // A number not found in between is no mismatch: it does not bring the lock-out nearer.
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.type_text(1, "12345678");
    h.ui(UserAction::Focus(None));
    h.ui(UserAction::PickupNext);
    h.event(Event::CertificateFound(None));
    assert_eq!(h.session.view().pickup.problem, Some(PickupProblem::NotFoundOffline));

    h.ui(UserAction::PickupNext);
    h.event(Event::CertificateFound(Some(Box::new(certificate(false)))));
    assert_eq!(h.session.view().screen, Screen::Pickup, "two mismatches so far");
    h.type_text(1, "12345678");
    h.ui(UserAction::Focus(None));
    h.ui(UserAction::PickupNext);
    h.event(Event::CertificateFound(Some(Box::new(certificate(false)))));
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem), (Screen::Error, Problem::PickupRefused));
    assert_eq!(MAX_PICKUP_FAILURES, 3);
}

#[test]
fn numbers_not_found_are_not_mismatches_but_trying_them_one_after_another_stops() {
    let mut h = Harness::new();
    h.ask_for_certificate("K01-261122-0001", "12345678");
    for attempt in 1..MAX_UNKNOWN_NUMBERS {
        h.event(Event::CertificateFound(None));
        let view = h.session.view();
        assert_eq!((view.screen, view.pickup.problem), (Screen::Pickup, Some(PickupProblem::NotFound)), "attempt {attempt}");
        assert_eq!(view.pickup.document_number, "12345678", "a number not found keeps the document number");
        h.ui(UserAction::PickupNext);
    }
    h.event(Event::CertificateFound(None));
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem), (Screen::Error, Problem::PickupNotFound));
}

#[test]
fn a_certificate_that_did_not_print_or_may_have_is_explained() {
    for (uncertain, problem) in [(false, Problem::CertificateNotPrinted), (true, Problem::CertificatePrintUncertain)] {
        let mut h = Harness::new();
        h.ask_for_certificate("K01-261122-0001", "12345678");
        h.event(Event::CertificateFound(Some(Box::new(certificate(true)))));
        h.event(Event::CertificateNotPrinted { uncertain });
        assert_eq!((h.screen(), h.session.view().error.problem), (Screen::Error, problem));
    }
}

#[test]
fn collecting_is_not_offered_without_a_document_printer_and_an_empty_request_is_not_sent() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { document_printer: false, ..Readiness::ALL }));
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::En));
    assert_eq!(h.session.view().collect_unavailable, Some(Unavailable::DocumentPrinter));
    h.ui(UserAction::Collect);
    assert_eq!(h.screen(), Screen::Home);
    h.event(Event::Readiness(Readiness::ALL));
    h.ui(UserAction::Collect);
    assert!(h.ui(UserAction::PickupNext).is_empty(), "nothing typed yet");
    h.ui(UserAction::PickupBack);
    assert_eq!(h.screen(), Screen::Home);
}

impl Harness {
    fn at_home(&mut self, language: Language) {
        self.ui(UserAction::Start);
        self.ui(UserAction::ChooseLanguage(language));
        assert_eq!(self.screen(), Screen::Home);
    }
}

#[test]
fn a_queue_ticket_is_issued_for_the_chosen_counter_and_its_number_shown() {
    let mut h = Harness::new();
    h.at_home(Language::Pt);
    let queues = h.session.view().queues;
    assert_eq!(queues.iter().map(|q| q.letter).collect::<String>(), "ABCD");
    assert_eq!(queues[1].name, "Registo civil", "in the citizen's language");
    assert!(h.ui(UserAction::TakeTicket).is_empty());
    assert_eq!(h.screen(), Screen::Queues);
    h.ui(UserAction::ChooseQueue("no-such-queue".into()));
    assert_eq!(h.screen(), Screen::Queues, "an unknown queue is not a ticket");

    let effects = h.ui(UserAction::ChooseQueue("civil-registry".into()));
    let Some(Effect::IssueTicket(content)) = effects.first() else { panic!("{effects:?}") };
    assert_eq!(
        (content.queue_id.as_str(), content.letter, content.queue_name.as_str(), content.language, content.offline),
        ("civil-registry", 'B', "Registo civil", Language::Pt, false)
    );
    assert_eq!(h.screen(), Screen::Ticketing);
    assert!(h.session.busy(), "no timeout while the ticket prints");
    assert!(h.ui(UserAction::ChooseQueue("civil-registry".into())).is_empty(), "a double tap is not a second ticket");

    h.event(Event::TicketIssued { number: "B1-007".into() });
    let view = h.session.view();
    assert_eq!((view.screen, view.ticket.number.as_str(), view.ticket.queue_name.as_str()), (Screen::Ticket, "B1-007", "Registo civil"));
    h.ui(UserAction::ChooseLanguage(Language::ZhHant));
    assert_eq!(h.session.view().ticket.queue_name, "民事登記", "the name follows a language change");
    assert_eq!(h.ui(UserAction::Finish), vec![Effect::SessionEnded]);
    assert_eq!(h.screen(), Screen::Attract);
}

#[test]
fn queue_tickets_work_offline_but_not_without_a_receipt_printer() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.at_home(Language::En);
    h.ui(UserAction::TakeTicket);
    let effects = h.ui(UserAction::ChooseQueue("general-enquiries".into()));
    assert!(matches!(effects.as_slice(), [Effect::IssueTicket(c)] if c.offline), "{effects:?}");

    // The printer stopped mid-ticket: the number may be in the citizen's hand; it is shown.
    h.event(Event::TicketNotPrinted { number: Some("D1-002".into()) });
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem, view.error.reference.as_str()), (Screen::Error, Problem::TicketPrintUncertain, "D1-002"));
    h.ui(UserAction::Finish);

    let mut h = Harness::new();
    h.at_home(Language::En);
    h.ui(UserAction::TakeTicket);
    h.ui(UserAction::ChooseQueue("general-enquiries".into()));
    h.event(Event::TicketNotPrinted { number: None });
    let view = h.session.view();
    assert_eq!(
        (view.screen, view.error.problem, view.error.reference.as_str(), view.error.can_retry),
        (Screen::Error, Problem::TicketNotPrinted, "", false)
    );

    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { receipt_printer: false, ..Readiness::ALL }));
    h.at_home(Language::En);
    assert_eq!(h.session.view().ticket_unavailable, Some(Unavailable::ReceiptPrinter));
    h.ui(UserAction::TakeTicket);
    assert_eq!(h.screen(), Screen::Home, "no ticket without the printer to print it");
    h.event(Event::Readiness(Readiness::ALL));
    h.ui(UserAction::TakeTicket);
    h.event(Event::Readiness(Readiness { receipt_printer: false, ..Readiness::ALL }));
    assert!(h.ui(UserAction::ChooseQueue("general-enquiries".into())).is_empty(), "the printer failed while choosing");
    assert_eq!(h.screen(), Screen::Queues);
    h.ui(UserAction::QueuesBack);
    assert_eq!(h.screen(), Screen::Home);
}

#[test]
fn without_queues_in_the_catalog_no_ticket_is_offered() {
    let mut h = Harness::new();
    let mut catalog = balcao_central::seed::catalog();
    catalog.queues[0].letter = 'a';
    catalog.queues.truncate(1);
    h.event(Event::Catalog(Arc::new(catalog)));
    h.at_home(Language::En);
    assert!(h.session.view().queues.is_empty(), "a queue without a valid letter is not offered");
    h.ui(UserAction::TakeTicket);
    assert_eq!(h.screen(), Screen::Home);
}

#[test]
fn a_scanned_receipt_fills_the_number_and_from_home_opens_the_pickup() {
    let url = "https://www.gov.mo/balcao/status/";
    let receipt = || Event::Scanned(ScannedCode::parse("https://www.gov.mo/balcao/status/K01-261122-0001", url));
    let mut h = Harness::new();
    h.at_home(Language::Pt);
    h.event(receipt());
    let view = h.session.view();
    assert_eq!((view.screen, view.pickup.reference.as_str(), view.pickup.focused), (Screen::Pickup, "K01-261122-0001", Some(1)));
    assert_eq!(view.language, Language::Pt, "the citizen's language stays");

    // On the pickup screen: something else is explained, and a receipt then clears it.
    h.event(Event::Scanned(ScannedCode::parse("https://example.com/promo", url)));
    assert_eq!(h.session.view().pickup.problem, Some(PickupProblem::NotAReceiptCode));
    assert_eq!(h.session.view().pickup.reference, "K01-261122-0001", "the number already in stays");
    h.type_text(1, "12345678");
    h.ui(UserAction::Focus(None));
    h.event(Event::Scanned(ScannedCode::parse("K01-261122-0002", url)));
    let view = h.session.view();
    assert_eq!((view.pickup.reference.as_str(), view.pickup.problem, view.pickup.focused), ("K01-261122-0002", None, None));
    assert!(matches!(&h.ui(UserAction::PickupNext)[..], [Effect::FindCertificate { reference, .. }] if reference == "K01-261122-0002"));
}

#[test]
fn a_scan_elsewhere_or_without_a_certificate_printer_changes_nothing() {
    let url = "https://www.gov.mo/balcao/status/";
    let mut h = Harness::new();
    h.event(Event::Scanned(ScannedCode::parse("K01-261122-0001", url)));
    assert_eq!(h.screen(), Screen::Attract);
    h.at_home(Language::En);
    h.event(Event::Readiness(Readiness { document_printer: false, ..Readiness::ALL }));
    h.event(Event::Scanned(ScannedCode::parse("K01-261122-0001", url)));
    assert_eq!(h.screen(), Screen::Home);
    h.event(Event::Readiness(Readiness::ALL));
    h.event(Event::Scanned(ScannedCode::parse("not a receipt", url)));
    assert_eq!(h.screen(), Screen::Home, "an unknown code on the home screen is ignored");
}

#[test]
fn only_our_receipt_codes_are_read_as_application_numbers() {
    let url = "https://www.gov.mo/balcao/status/";
    let receipt = |r: &str| ScannedCode::Receipt { reference: r.to_owned() };
    assert_eq!(ScannedCode::parse("https://www.gov.mo/balcao/status/K01-261122-0007", url), receipt("K01-261122-0007"));
    assert_eq!(ScannedCode::parse("K01-261122-0007", url), receipt("K01-261122-0007"), "a barcode with the number alone");
    for other in [
        "https://evil.example/balcao/status/K01-261122-0007",
        "https://www.gov.mo/balcao/status/",
        "https://www.gov.mo/balcao/status/K01 261122",
        "https://www.gov.mo/balcao/status/../admin",
        "4006381333931",
        "k01-261122-0007",
        "K01-261122-0007-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(ScannedCode::parse(other, url), ScannedCode::Unknown, "{other}");
    }
    assert_eq!(format!("{:?}", receipt("K01-261122-0007")), "ScannedCode::Receipt", "Debug shows no number");
}

mod identification {
    use balcao_backend_client::api::signin::{SignInClaims, SignInRefusal};
    use balcao_backend_client::api::{IdentityLevel, IdentityMethod};
    use balcao_drivers::identity_reader::{
        AccessKey, Assurance, CalendarDate, DocumentType, ErrorKind as IdentityError, HolderData, IdentityDocument, Sex,
    };
    use balcao_ui::view::{IdentifiedBy, IdentifyProblem};

    use super::*;

    const SERVICE: &str = "identification-data-certificate";

    fn claims() -> SignInClaims {
        SignInClaims {
            iss: "balcao-reference-idp".into(),
            sub: "citizen-1".into(),
            aud: "GSC-01".into(),
            iat: 0,
            exp: 600,
            nonce: "n1".into(),
            name: "CHAN TAI MAN".into(),
            document_number: "1234567(8)".into(),
            birth_date: "1985-03-14".into(),
        }
    }

    fn document(assurance: Assurance) -> IdentityDocument {
        IdentityDocument {
            holder: HolderData {
                document_type: DocumentType::IdentityCard,
                issuing_state: "CHN".into(),
                document_number: "12345678".into(),
                surname: "WONG".into(),
                given_names: "KA MAN".into(),
                nationality: "CHN".into(),
                date_of_birth: CalendarDate { year: 1990, month: 7, day: 2 },
                sex: Sex::Female,
                date_of_expiry: CalendarDate { year: 2031, month: 1, day: 31 },
            },
            assurance,
        }
    }

    impl Harness {
        fn choose_identified_service(&mut self) {
            self.ui(UserAction::Start);
            self.ui(UserAction::ChooseLanguage(Language::Pt));
            self.ui(UserAction::Apply);
            self.ui(UserAction::ChooseService(SERVICE.into()));
        }

        fn type_document_details(&mut self) -> Vec<Effect> {
            self.type_text(0, "12345678");
            self.type_text(1, "02071990");
            self.type_text(2, "31012031");
            self.ui(UserAction::IdentifyRead)
        }
    }

    #[test]
    fn a_service_for_the_holder_only_asks_who_applies_before_its_form() {
        let mut h = Harness::new();
        h.choose_identified_service();
        assert_eq!(h.screen(), Screen::Identify);
        let view = h.session.view().identify;
        assert!(view.app_accepted && view.chip_accepted);
        assert_eq!(view.service_name, "Certidão de dados de identificação");
        // A service declared in the form goes straight to it.
        h.ui(UserAction::IdentifyBack);
        h.ui(UserAction::ChooseService("criminal-record-certificate".into()));
        assert_eq!(h.screen(), Screen::Form);
    }

    #[test]
    fn a_good_sign_in_code_fills_and_locks_the_holders_fields_and_goes_with_the_application() {
        let mut h = Harness::new();
        h.choose_identified_service();
        let effects = h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x.y.z".into()))));
        assert_eq!(effects, vec![Effect::CheckSignIn(SignInCode("BALCAO-SIGNIN:x.y.z".into()))]);
        assert!(h.session.view().identify.busy && h.session.busy(), "no timeout while the code is checked");
        // A second scan while checking is not a second check.
        assert!(h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:a.b.c".into())))).is_empty());
        h.event(Event::SignInChecked(Ok(claims())));
        assert_eq!(h.screen(), Screen::Form);
        let form = h.session.view().form;
        let shown: Vec<(&str, &str, bool)> = form.fields.iter().map(|f| (f.id.as_str(), f.value.as_str(), f.locked)).collect();
        assert_eq!(
            &shown[..3],
            &[("full_name", "CHAN TAI MAN", true), ("document_number", "1234567(8)", true), ("date_of_birth", "14/03/1985", true)]
        );
        // Locked fields cannot be focused nor changed.
        h.ui(UserAction::Focus(Some(1)));
        h.ui(UserAction::Key("9".into()));
        assert_eq!(h.session.view().form.focused, None);
        assert_eq!(h.session.view().form.fields[1].value, "1234567(8)");

        h.ui(UserAction::SetYesNo(3, false));
        h.ui(UserAction::FormNext);
        assert_eq!(h.screen(), Screen::Review);
        assert_eq!(h.session.view().review.identified_by, Some(IdentifiedBy::App));
        h.ui(UserAction::ToggleConsent);
        h.ui(UserAction::Confirm);
        let effects = h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
        let [Effect::SaveApplication(application)] = &effects[..] else { panic!("{effects:?}") };
        let identity = application.identity.as_ref().expect("the identity goes with the application");
        assert_eq!((identity.method, identity.document_number.as_str()), (IdentityMethod::App, "1234567(8)"));
        assert_eq!(application.answers.get("full_name"), Some(&Answer::Text("CHAN TAI MAN".into())));
    }

    #[test]
    fn refused_codes_are_explained_and_other_codes_are_not_taken_for_sign_in() {
        let mut h = Harness::new();
        h.choose_identified_service();
        h.event(Event::Scanned(ScannedCode::Receipt { reference: "K01-261122-0001".into() }));
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::NotASignInCode));
        for (refusal, problem) in [
            (SignInRefusal::Expired, IdentifyProblem::SignInExpired),
            (SignInRefusal::WrongAudience, IdentifyProblem::SignInOtherCentre),
            (SignInRefusal::BadSignature, IdentifyProblem::SignInInvalid),
        ] {
            h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x".into()))));
            h.event(Event::SignInChecked(Err(refusal)));
            assert_eq!(h.screen(), Screen::Identify);
            assert_eq!(h.session.view().identify.problem, Some(problem));
        }
        // A late answer with nothing asked changes nothing.
        h.event(Event::SignInChecked(Ok(claims())));
        assert_eq!(h.screen(), Screen::Identify);
        h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x".into()))));
        h.event(Event::SignInChecked(Err(SignInRefusal::Replayed)));
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::SignInUsed));
        h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x".into()))));
        h.event(Event::SignInChecked(Err(SignInRefusal::Replayed)));
        assert_eq!(h.session.view().error.problem, Problem::IdentifyRefused, "five refused attempts end at the counter");
    }

    #[test]
    fn the_chip_is_read_with_the_typed_details_and_its_holder_fills_the_form() {
        let mut h = Harness::new();
        h.choose_identified_service();
        h.ui(UserAction::IdentifyRead);
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::DetailsIncomplete), "nothing typed, nothing read");
        let effects = h.type_document_details();
        let expected = AccessKey::Mrz {
            document_number: "12345678".into(),
            date_of_birth: CalendarDate { year: 1990, month: 7, day: 2 },
            date_of_expiry: CalendarDate { year: 2031, month: 1, day: 31 },
        };
        assert_eq!(effects, vec![Effect::ReadIdentity(expected)]);
        h.event(Event::IdentityRead(Err(IdentityError::AccessDenied)));
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::DetailsDoNotMatch));
        h.ui(UserAction::Focus(None));
        h.ui(UserAction::IdentifyRead);
        h.event(Event::IdentityRead(Ok(document(Assurance::ChipVerified))));
        assert_eq!(h.screen(), Screen::Form);
        let fields = h.session.view().form.fields;
        assert_eq!((fields[0].value.as_str(), fields[2].value.as_str()), ("WONG KA MAN", "02/07/1990"));
        h.ui(UserAction::SetYesNo(3, true));
        h.ui(UserAction::FormNext);
        assert_eq!(h.session.view().review.identified_by, Some(IdentifiedBy::ChipVerified));
    }

    #[test]
    fn an_altered_document_is_turned_away_and_a_chip_only_service_takes_no_app_code() {
        let mut h = Harness::new();
        h.choose_identified_service();
        h.type_document_details();
        h.event(Event::IdentityRead(Err(IdentityError::Tampered)));
        assert_eq!(h.screen(), Screen::Error);
        assert_eq!(h.session.view().error.problem, Problem::DocumentRejected);
        assert!(!h.session.view().error.can_retry);

        let mut catalog = balcao_central::seed::catalog();
        catalog.services.iter_mut().find(|s| s.id == SERVICE).expect("seed service").identity_level = IdentityLevel::Chip;
        let mut h = Harness::new();
        h.event(Event::Catalog(Arc::new(catalog)));
        h.choose_identified_service();
        assert!(!h.session.view().identify.app_accepted);
        assert!(h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x".into())))).is_empty());
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::AppNotEnough));
        h.type_document_details();
        h.event(Event::IdentityRead(Ok(document(Assurance::ChipUnverified))));
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::IssuerNotVerified));
    }

    #[test]
    fn without_scanner_and_reader_the_service_is_unavailable_and_with_one_it_is_offered() {
        let mut h = Harness::new();
        h.event(Event::Readiness(Readiness { code_scanner: false, identity_reader: false, ..Readiness::ALL }));
        h.choose_identified_service();
        assert_eq!(h.screen(), Screen::Services);
        let tile = h.session.view().services.tiles.into_iter().find(|t| t.id == SERVICE).expect("its tile");
        assert_eq!(tile.unavailable, Some(Unavailable::IdentityReader));
        h.event(Event::Readiness(Readiness { identity_reader: false, ..Readiness::ALL }));
        h.ui(UserAction::ChooseService(SERVICE.into()));
        assert_eq!(h.screen(), Screen::Identify);
        let view = h.session.view().identify;
        assert!(view.app_accepted && !view.chip_accepted);
        h.type_document_details();
        assert!(h.ui(UserAction::IdentifyRead).is_empty(), "no read without a reader");
    }

    #[test]
    fn a_document_laid_on_the_ocr_reader_fills_the_details_and_reads_the_chip_at_once() {
        let mut h = Harness::new();
        // Elsewhere a zone means nothing.
        assert!(h.event(Event::ZoneRead(Some(document(Assurance::ChipVerified).holder.access_key()))).is_empty());
        h.choose_identified_service();
        assert!(h.session.view().identify.zone_reader);
        h.event(Event::ZoneRead(None));
        assert_eq!(h.session.view().identify.problem, Some(IdentifyProblem::ZoneUnreadable));
        let key = document(Assurance::ChipVerified).holder.access_key();
        assert_eq!(h.event(Event::ZoneRead(Some(key.clone()))), vec![Effect::ReadIdentity(key.clone())]);
        let view = h.session.view().identify;
        assert!(view.busy && view.problem.is_none());
        assert_eq!(
            (view.document_number.as_str(), view.date_of_birth.as_str(), view.date_of_expiry.as_str()),
            ("12345678", "02/07/1990", "31/01/2031")
        );
        // A second reading while the chip is read is not a second read.
        assert!(h.event(Event::ZoneRead(Some(key))).is_empty());
        h.event(Event::IdentityRead(Ok(document(Assurance::ChipVerified))));
        assert_eq!(h.screen(), Screen::Form);
        // Without the chip reader, the zone alone identifies nobody.
        let mut h = Harness::new();
        h.event(Event::Readiness(Readiness { identity_reader: false, ..Readiness::ALL }));
        h.choose_identified_service();
        assert!(!h.session.view().identify.zone_reader);
        assert!(h.event(Event::ZoneRead(Some(document(Assurance::ChipVerified).holder.access_key()))).is_empty());
    }

    #[test]
    fn the_identity_and_what_was_typed_are_gone_when_the_session_ends() {
        let mut h = Harness::new();
        h.choose_identified_service();
        h.event(Event::Scanned(ScannedCode::SignIn(SignInCode("BALCAO-SIGNIN:x".into()))));
        h.event(Event::SignInChecked(Ok(claims())));
        assert_eq!(h.screen(), Screen::Form);
        let effects = h.wait(120);
        assert!(effects.contains(&Effect::SessionEnded));
        assert_eq!(h.screen(), Screen::Attract);
        // The next citizen starts afresh: nothing of the last one's identity.
        h.choose_identified_service();
        assert_eq!(h.screen(), Screen::Identify);
        let debug = format!("{:?}", h.session);
        assert!(!debug.contains("CHAN") && !debug.contains("1234567"), "{debug}");
    }
}

fn staff_message() -> api::LocalizedText {
    api::LocalizedText::new("系統維護中", "Em manutenção", "Under maintenance")
}

#[test]
fn closed_by_central_at_rest_the_kiosk_shows_staffs_message_at_once_and_opens_again() {
    let mut h = Harness::new();
    h.event(Event::ClosedByCentral(Some(staff_message())));
    let view = h.session.view();
    assert_eq!(view.screen, Screen::OutOfService);
    assert_eq!(view.out_of_service_message, ["系統維護中", "Em manutenção", "Under maintenance"], "the default language first");
    assert!(h.session.at_rest() && h.session.closed_by_central());
    h.ui(UserAction::Start);
    assert_eq!(h.screen(), Screen::OutOfService, "a touch does not open it");
    h.event(Event::ClosedByCentral(None));
    assert_eq!(h.screen(), Screen::Attract);
    assert!(h.session.view().out_of_service_message.is_empty());
}

#[test]
fn closed_by_central_mid_journey_the_citizen_finishes_first() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.event(Event::ClosedByCentral(Some(staff_message())));
    assert_eq!(h.screen(), Screen::Form, "the citizen is not cut short");
    h.wait(SessionConfig::default().idle_timeout.as_secs() + 1);
    let view = h.session.view();
    assert_eq!(view.screen, Screen::OutOfService, "closed when the session ends");
    assert_eq!(view.out_of_service_message[0], "系統維護中", "the session's language was reset to the default");
}

#[test]
fn back_in_service_does_not_lift_a_storage_fault() {
    let mut h = Harness::new();
    h.event(Event::StorageFault);
    h.event(Event::ClosedByCentral(None));
    assert_eq!(h.screen(), Screen::OutOfService);
    assert!(h.session.view().out_of_service_message.is_empty());
}

#[test]
fn sessions_are_counted_per_day() {
    let mut h = Harness::new();
    assert_eq!(h.session.sessions_today(), 0);
    h.ui(UserAction::Start);
    h.wait(SessionConfig::default().idle_timeout.as_secs() + 1);
    h.ui(UserAction::Start);
    assert_eq!(h.session.sessions_today(), 2);
    h.event(Event::Tick { clock: "00:00".into(), today: "2026-11-23".into() });
    assert_eq!(h.session.sessions_today(), 0, "a new day starts at zero");
}

fn calls(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallAttendant { screen, language } => Some(format!("call {screen} {}", language.tag())),
            Effect::EndAttendantCall => Some("end".to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_citizen_calls_an_attendant_from_any_journey_screen_and_learns_help_is_coming() {
    let mut h = Harness::new();
    assert!(!h.session.view().can_call_attendant, "not from the welcome screen");
    assert!(calls(&h.ui(UserAction::CallAttendant)).is_empty());
    h.fill_criminal_record_form();
    assert!(h.session.view().can_call_attendant);

    assert_eq!(calls(&h.ui(UserAction::CallAttendant)), ["call form en"], "the screen by name, the language");
    let view = h.session.view();
    assert_eq!((view.attendant.state, view.attendant.shown), (AttendantState::Calling, true));
    assert!(calls(&h.ui(UserAction::CallAttendant)).is_empty(), "one call at a time");
    h.event(Event::Attendant(AttendantUpdate::Called));
    assert_eq!(h.session.view().attendant.state, AttendantState::Called);

    // Put aside, the form is as it was, and waiting does not wipe it.
    h.ui(UserAction::HideAttendant);
    assert!(!h.session.view().attendant.shown);
    assert_eq!(h.screen(), Screen::Form);
    h.wait(600);
    assert_eq!(h.screen(), Screen::Form, "a citizen waiting for help is not idle");
    assert_eq!(h.session.view().form.fields[0].value, "CHAN TAI MAN");

    h.event(Event::Attendant(AttendantUpdate::Acknowledged { at: "14:07".into() }));
    let view = h.session.view();
    assert_eq!(
        (view.attendant.state, view.attendant.acknowledged_at.as_str(), view.attendant.shown),
        (AttendantState::Coming, "14:07", true)
    );

    // Helped: the citizen ends the call, and the idle clock runs again.
    assert_eq!(calls(&h.ui(UserAction::CancelAttendant)), ["end"]);
    assert_eq!(h.session.view().attendant.state, AttendantState::None);
    h.wait(100);
    assert_eq!(h.screen(), Screen::Attract, "idle again, and wiped");
}

#[test]
fn a_call_ends_with_the_session_and_news_of_it_afterwards_changes_nothing() {
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::CallAttendant);
    h.event(Event::Attendant(AttendantUpdate::Called));
    h.event(Event::Attendant(AttendantUpdate::Ended));
    assert_eq!(h.session.view().attendant.state, AttendantState::Unreachable, "a call that lapsed unanswered: go to the counter");
    h.ui(UserAction::HideAttendant);
    assert_eq!(h.session.view().attendant.state, AttendantState::None);

    // A call the citizen ended is not ended again when the session ends.
    let mut h = Harness::new();
    h.fill_criminal_record_form();
    h.ui(UserAction::CallAttendant);
    h.event(Event::Attendant(AttendantUpdate::Called));
    h.ui(UserAction::CancelAttendant);
    h.ui(UserAction::CallAttendant);
    h.event(Event::Attendant(AttendantUpdate::Acknowledged { at: "14:09".into() }));
    h.ui(UserAction::CancelAttendant);
    let effects = h.wait(100);
    assert!(effects.iter().any(|e| matches!(e, Effect::SessionEnded)));
    assert!(calls(&effects).is_empty(), "the call was over already");
    h.event(Event::Attendant(AttendantUpdate::Acknowledged { at: "14:10".into() }));
    assert_eq!(h.session.view().attendant.state, AttendantState::None, "late news of an ended call");
}

#[test]
fn a_session_that_ends_mid_call_ends_the_call() {
    let mut h = Harness::new();
    h.reach_payment();
    assert!(h.session.view().can_call_attendant, "even while paying");
    assert_eq!(calls(&h.ui(UserAction::CallAttendant)), ["call payment en"]);
    h.event(Event::Attendant(AttendantUpdate::Called));
    h.event(Event::PaymentOutcome(AuthorizationOutcome::Declined(DeclineReason::Declined)));
    assert_eq!(h.screen(), Screen::Error);
    let effects = h.ui(UserAction::Finish);
    assert_eq!(h.screen(), Screen::Attract);
    assert_eq!(calls(&effects), ["end"]);
    assert_eq!(h.session.view().attendant, balcao_ui::view::AttendantView::default());
}

#[test]
fn offline_the_kiosk_says_at_once_that_staff_cannot_be_called() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::Pt));
    assert!(calls(&h.ui(UserAction::CallAttendant)).is_empty(), "nothing is sent");
    let view = h.session.view();
    assert_eq!((view.attendant.state, view.attendant.shown), (AttendantState::Unreachable, true));
    // Online, but the call does not reach central: the same answer.
    h.ui(UserAction::HideAttendant);
    h.event(Event::Readiness(Readiness::ALL));
    assert_eq!(calls(&h.ui(UserAction::CallAttendant)), ["call home pt"]);
    h.event(Event::Attendant(AttendantUpdate::Unreachable));
    assert_eq!(h.session.view().attendant.state, AttendantState::Unreachable);
}

impl Harness {
    /// From the welcome screen to a typed status check; returns what "check" asked for.
    fn ask_for_status(&mut self, reference: &str, born: &str) -> Vec<Effect> {
        if self.screen() != Screen::Status {
            self.ui(UserAction::Start);
            self.ui(UserAction::ChooseLanguage(Language::En));
            self.ui(UserAction::CheckStatus);
        }
        assert_eq!(self.screen(), Screen::Status);
        self.type_text(0, reference);
        self.type_text(1, born);
        self.ui(UserAction::Focus(None));
        self.ui(UserAction::StatusNext)
    }
}

fn status_found(offline: bool) -> StatusFound {
    StatusFound {
        reference: "K01-261122-0001".into(),
        service_id: "criminal-record-certificate".into(),
        state: Some(api::ApplicationState::Ready),
        next_step: api::NextStep::CollectAtKiosk,
        due: "2026-11-25".into(),
        on_time: true,
        history: vec![
            (api::ApplicationState::Received, "2026-11-22 10:00".into()),
            (api::ApplicationState::Ready, "2026-11-24 09:30".into()),
        ],
        as_of: offline.then(|| "2026-11-24 09:30".into()),
    }
}

#[test]
fn a_status_is_asked_with_the_number_and_date_of_birth_and_shown_with_what_next() {
    use balcao_ui::view::{StatusState, StatusStep};
    let mut h = Harness::new();
    let effects = h.ask_for_status("k01-261122-0001", "14031985");
    assert_eq!(effects, vec![Effect::CheckStatus { reference: "K01-261122-0001".into(), date_of_birth: DateOfBirth("1985-03-14".into()) }]);
    assert!(!format!("{effects:?}").contains("1985"), "the date of birth shows in no log");
    assert!(h.session.view().status.checking && h.session.busy(), "no timeout while central answers");
    h.event(Event::StatusAnswered(StatusAnswer::Found(Box::new(status_found(false)))));
    let view = h.session.view();
    let result = view.status.results.first().cloned().expect("shown");
    assert_eq!((view.screen, result.state, result.next_step), (Screen::Status, StatusState::Ready, StatusStep::CollectAtKiosk));
    assert_eq!(
        (result.service_name.as_str(), result.due.as_str(), result.as_of.as_str()),
        ("Certificate of Criminal Record", "2026-11-25", "")
    );
    assert_eq!(result.history.len(), 2);
    assert_eq!(
        h.session.view().masked().status.results.first().cloned().expect("shown").reference,
        balcao_ui::view::MASK,
        "a screenshot hides the number"
    );
    // Another check starts empty; back ends at home.
    h.ui(UserAction::StatusAnother);
    let view = h.session.view();
    assert!(view.status.results.is_empty() && view.status.reference.is_empty() && view.status.date_of_birth.is_empty());
    h.ui(UserAction::StatusBack);
    assert_eq!(h.screen(), Screen::Home);
}

#[test]
fn offline_the_kiosks_own_copy_is_shown_with_its_age() {
    let mut h = Harness::new();
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    h.ask_for_status("K01-261122-0001", "14031985");
    h.event(Event::StatusAnswered(StatusAnswer::Found(Box::new(status_found(true)))));
    assert_eq!(h.session.view().status.results.first().cloned().expect("shown").as_of, "2026-11-24 09:30");
}

#[test]
fn a_wrong_date_is_explained_a_non_date_refused_and_the_third_miss_sends_to_the_counter() {
    let mut h = Harness::new();
    assert!(h.ask_for_status("K01-261122-0001", "31021985").is_empty(), "31 February is not sent");
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::InvalidDate));
    for (i, offline) in [false, true].into_iter().enumerate() {
        h.ask_for_status("", "14031986");
        h.event(Event::StatusAnswered(StatusAnswer::NoMatch { offline }));
        let view = h.session.view();
        assert_eq!(view.screen, Screen::Status, "try {i}");
        assert_eq!(view.status.problem, Some(if offline { StatusProblem::NotFoundOffline } else { StatusProblem::NotFound }));
        assert!(view.status.date_of_birth.is_empty(), "the date is typed again");
    }
    h.ask_for_status("", "14031987");
    h.event(Event::StatusAnswered(StatusAnswer::Slowed));
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::TooManyTries));
    h.ask_for_status("", "14031988");
    h.event(Event::StatusAnswered(StatusAnswer::NoMatch { offline: false }));
    let view = h.session.view();
    assert_eq!((view.screen, view.error.problem), (Screen::Error, Problem::StatusNotFound));
}

#[test]
fn a_scanned_receipt_fills_the_status_number() {
    let mut h = Harness::new();
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::En));
    h.ui(UserAction::CheckStatus);
    h.event(Event::Scanned(ScannedCode::Receipt { reference: "K01-261122-0009".into() }));
    let view = h.session.view();
    assert_eq!((view.status.reference.as_str(), view.status.focused), ("K01-261122-0009", Some(1)));
    h.event(Event::Scanned(ScannedCode::Unknown));
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::NotAReceiptCode));
}

#[test]
fn the_apps_code_on_the_status_screen_lists_the_holders_applications() {
    let mut h = Harness::new();
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::En));
    h.ui(UserAction::CheckStatus);
    let code = SignInCode("eyJ.code.sig".into());
    let effects = h.event(Event::Scanned(ScannedCode::SignIn(code.clone())));
    assert_eq!(effects, vec![Effect::CheckSignIn(code.clone())]);
    assert!(h.session.view().status.checking);
    let claims = SignInClaims {
        iss: "balcao-reference-idp".into(),
        sub: "citizen-1".into(),
        aud: "GSC-01".into(),
        iat: 0,
        exp: 600,
        nonce: "n1".into(),
        name: "CHAN TAI MAN".into(),
        document_number: "1234567(8)".into(),
        birth_date: "1985-03-14".into(),
    };
    let effects = h.event(Event::SignInChecked(Ok(claims)));
    assert_eq!(
        effects,
        vec![Effect::CheckHolderStatus {
            document_number: DocumentNumber("1234567(8)".into()),
            date_of_birth: DateOfBirth("1985-03-14".into())
        }]
    );
    assert!(!format!("{effects:?}").contains("1234567"), "nothing of the holder in a log");
    let mut second = status_found(false);
    second.reference = "K01-261120-0003".into();
    h.event(Event::StatusAnswered(StatusAnswer::Holder(vec![status_found(false), second])));
    let view = h.session.view();
    assert!(view.status.by_identity);
    assert_eq!(view.status.results.iter().map(|r| r.reference.as_str()).collect::<Vec<_>>(), ["K01-261122-0001", "K01-261120-0003"]);

    // A refused code, and offline, say why; nothing is looked up.
    h.ui(UserAction::StatusAnother);
    h.event(Event::Scanned(ScannedCode::SignIn(code.clone())));
    h.event(Event::SignInChecked(Err(SignInRefusal::Expired)));
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::SignInRefused));
    h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
    assert!(h.event(Event::Scanned(ScannedCode::SignIn(code))).is_empty());
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::HolderOffline));
}

#[test]
fn a_verified_document_on_the_reader_lists_its_holders_applications_and_an_unverified_one_does_not() {
    use balcao_drivers::identity_reader::{Assurance, CalendarDate, DocumentType, HolderData, Sex};
    let document = |assurance| IdentityDocument {
        holder: HolderData {
            document_type: DocumentType::IdentityCard,
            issuing_state: "CHN".into(),
            document_number: "12345678".into(),
            surname: "WONG".into(),
            given_names: "KA MAN".into(),
            nationality: "CHN".into(),
            date_of_birth: CalendarDate { year: 1990, month: 7, day: 2 },
            sex: Sex::Female,
            date_of_expiry: CalendarDate { year: 2031, month: 1, day: 31 },
        },
        assurance,
    };
    let key = AccessKey::Mrz {
        document_number: "12345678".into(),
        date_of_birth: CalendarDate { year: 1990, month: 7, day: 2 },
        date_of_expiry: CalendarDate { year: 2031, month: 1, day: 31 },
    };
    let mut h = Harness::new();
    h.ui(UserAction::Start);
    h.ui(UserAction::ChooseLanguage(Language::Pt));
    h.ui(UserAction::CheckStatus);
    assert!(h.session.view().status.document_reader, "the form says a document may be laid on the reader");
    assert_eq!(h.event(Event::ZoneRead(Some(key.clone()))), vec![Effect::ReadIdentity(key.clone())]);
    let effects = h.event(Event::IdentityRead(Ok(document(Assurance::ChipVerified))));
    assert_eq!(
        effects,
        vec![Effect::CheckHolderStatus {
            document_number: DocumentNumber("12345678".into()),
            date_of_birth: DateOfBirth("1990-07-02".into())
        }]
    );
    h.event(Event::StatusAnswered(StatusAnswer::Holder(Vec::new())));
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::NoneForHolder));
    h.event(Event::ZoneRead(Some(key)));
    assert!(h.event(Event::IdentityRead(Ok(document(Assurance::ChipUnverified)))).is_empty(), "an unverified chip lists nothing");
    assert_eq!(h.session.view().status.problem, Some(StatusProblem::DocumentNotRead));
}

mod appointments {
    use balcao_backend_client::api::{Appointment, AppointmentDay, AppointmentDays, AppointmentSlot};
    use balcao_ui::view::AppointmentProblem as P;
    use balcao_ui::view::AppointmentStep as Step;

    use super::*;

    const SERVICE: &str = "id-card-renewal-appointment";

    fn day() -> jiff::civil::Date {
        jiff::civil::date(2026, 11, 23)
    }

    fn slots(free_at_1030: u32) -> Event {
        let slot = |time: &str, free| AppointmentSlot { time: time.into(), free };
        let days = vec![
            AppointmentDay { date: day(), slots: vec![slot("10:00", 0), slot("10:30", free_at_1030)] },
            AppointmentDay { date: day().tomorrow().expect("day"), slots: vec![slot("09:00", 2)] },
        ];
        Event::Booking(BookingNews::Slots(Some(AppointmentDays { service_id: SERVICE.into(), days })))
    }

    fn appointment() -> Appointment {
        Appointment {
            number: "AP-7K2M-Q9XD".into(),
            service_id: SERVICE.into(),
            centre_id: "GSC-01".into(),
            date: day(),
            time: "10:30".into(),
            counter: Some("12".into()),
        }
    }

    fn step(h: &Harness) -> Step {
        h.session.view().appointment.step
    }

    /// From the welcome screen to the appointment service's days and times.
    fn open(h: &mut Harness) {
        h.ui(UserAction::Start);
        h.ui(UserAction::ChooseLanguage(Language::Pt));
        assert!(h.session.view().appointments_offered);
        // One service to book: its free places are asked for at once.
        assert_eq!(h.ui(UserAction::BookAppointment), [Effect::FetchSlots { service_id: SERVICE.into() }]);
        assert_eq!((h.screen(), step(h)), (Screen::Appointment, Step::Loading));
        assert!(h.session.busy(), "no idle timeout while central is asked");
        h.event(slots(1));
        assert_eq!(step(h), Step::Slots);
    }

    fn hold(h: &mut Harness) -> uuid::Uuid {
        let effects = h.ui(UserAction::ChooseTime("10:30".into()));
        assert_eq!(effects, [Effect::HoldSlot { service_id: SERVICE.into(), date: day(), time: "10:30".into() }]);
        let id = uuid::Uuid::now_v7();
        h.event(Event::Booking(BookingNews::Held(id)));
        assert_eq!((step(h), h.session.view().appointment.focused), (Step::Details, Some(1)));
        id
    }

    #[test]
    fn a_place_is_chosen_held_booked_and_printed() {
        let mut h = Harness::new();
        open(&mut h);
        let view = h.session.view().appointment;
        assert_eq!((view.days.len(), view.days[0].selected, view.days[0].weekday), (2, true, 1), "Monday first");
        assert_eq!(view.times.iter().map(|t| (t.time.as_str(), t.free)).collect::<Vec<_>>(), [("10:00", 0), ("10:30", 1)]);
        // A full time cannot be held; another day shows its own times.
        assert!(h.ui(UserAction::ChooseTime("10:00".into())).is_empty());
        h.ui(UserAction::ChooseDay(1));
        assert_eq!(h.session.view().appointment.times[0].time, "09:00");
        h.ui(UserAction::ChooseDay(0));
        let id = hold(&mut h);

        // A date that is not one is asked again; the real one books the held place.
        h.type_text(1, "31021985");
        assert!(h.ui(UserAction::AppointmentNext).is_empty());
        assert_eq!(h.session.view().appointment.problem, Some(P::InvalidDate));
        h.type_text(1, "14031985");
        let effects = h.ui(UserAction::AppointmentNext);
        assert_eq!(
            effects,
            [Effect::ConfirmBooking {
                hold_id: id,
                date_of_birth: DateOfBirth("1985-03-14".into()),
                language: balcao_backend_client::api::Language::Pt
            }]
        );
        assert!(h.session.view().appointment.date_of_birth.is_empty() || step(&h) == Step::Confirming);
        let effects = h.event(Event::Booking(BookingNews::Booked(Box::new(appointment()))));
        let [Effect::PrintBooking(slip)] = effects.as_slice() else { panic!("{effects:?}") };
        assert_eq!(
            (slip.reference.as_str(), slip.slot.as_str(), slip.counter.as_deref()),
            ("AP-7K2M-Q9XD", "2026-11-23 10:30", Some("12"))
        );
        assert_eq!(slip.service_name, "Marcação para renovação do BIR", "in the citizen's language");
        h.event(Event::Booking(BookingNews::Printed(true)));
        let view = h.session.view().appointment;
        assert_eq!(
            (view.step, view.number.as_str(), view.date.as_str(), view.time.as_str()),
            (Step::Booked, "AP-7K2M-Q9XD", "23/11/2026", "10:30")
        );
        assert!(view.printed);
        // Finishing releases nothing: the place is the citizen's.
        assert_eq!(h.ui(UserAction::Finish), [Effect::SessionEnded]);
        assert_eq!(h.screen(), Screen::Attract);
    }

    #[test]
    fn a_place_taken_a_moment_before_is_said_and_the_times_asked_again() {
        let mut h = Harness::new();
        open(&mut h);
        h.ui(UserAction::ChooseTime("10:30".into()));
        assert_eq!(h.event(Event::Booking(BookingNews::Full)), [Effect::FetchSlots { service_id: SERVICE.into() }]);
        h.event(slots(0));
        let view = h.session.view().appointment;
        assert_eq!((view.step, view.problem), (Step::Slots, Some(P::SlotTaken)));
        assert_eq!(view.times[1].free, 0);
        // A hold that ran out before the confirmation is the same: choose again.
        let mut h = Harness::new();
        open(&mut h);
        hold(&mut h);
        h.type_text(1, "14031985");
        h.ui(UserAction::AppointmentNext);
        assert_eq!(h.event(Event::Booking(BookingNews::Lapsed)), [Effect::FetchSlots { service_id: SERVICE.into() }]);
        h.event(slots(1));
        assert_eq!((step(&h), h.session.view().appointment.problem), (Step::Slots, Some(P::HoldLapsed)));
        // No answer while booking: still held, the citizen can confirm again.
        let id = hold(&mut h);
        h.type_text(1, "14031985");
        h.ui(UserAction::AppointmentNext);
        h.event(Event::Booking(BookingNews::NoAnswer));
        assert_eq!((step(&h), h.session.view().appointment.problem), (Step::Details, Some(P::NoAnswer)));
        assert!(matches!(h.ui(UserAction::AppointmentNext).as_slice(), [Effect::ConfirmBooking { hold_id, .. }] if *hold_id == id));
    }

    #[test]
    fn a_held_place_is_let_go_when_the_citizen_goes_back_leaves_or_times_out() {
        let mut h = Harness::new();
        open(&mut h);
        let id = hold(&mut h);
        assert_eq!(h.ui(UserAction::AppointmentBack), [Effect::ReleaseHold { hold_id: id }]);
        assert_eq!(step(&h), Step::Slots);

        let id = hold(&mut h);
        h.type_text(1, "1403");
        let effects = h.wait(SessionConfig::default().idle_timeout.as_secs() + 1);
        assert_eq!(effects, [Effect::ReleaseHold { hold_id: id }, Effect::SessionEnded]);
        assert_eq!(h.screen(), Screen::Attract);
        assert!(!format!("{:?}", h.session).contains("1403"), "nothing typed is left");

        // A hold that comes back after the citizen left is let go at once.
        let late = uuid::Uuid::now_v7();
        assert_eq!(h.event(Event::Booking(BookingNews::Held(late))), [Effect::ReleaseHold { hold_id: late }]);
    }

    #[test]
    fn offline_the_journey_says_so_at_its_start() {
        let mut h = Harness::new();
        h.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
        h.ui(UserAction::Start);
        h.ui(UserAction::ChooseLanguage(Language::En));
        assert_eq!(h.session.view().appointment_unavailable, Some(Unavailable::Offline));
        // Even if asked (a tap that raced the network's loss), nothing is chosen before it says so.
        assert!(h.ui(UserAction::BookAppointment).is_empty());
        assert_eq!(step(&h), Step::Unreachable);
        h.ui(UserAction::AppointmentBack);
        assert_eq!(h.screen(), Screen::Home);
        // Online, but central does not answer for the places: said at once too.
        h.event(Event::Readiness(Readiness::ALL));
        h.ui(UserAction::BookAppointment);
        h.event(Event::Booking(BookingNews::Slots(None)));
        assert_eq!(step(&h), Step::Unreachable);
    }

    #[test]
    fn an_appointment_is_cancelled_with_its_number_and_date_of_birth() {
        let mut h = Harness::new();
        open(&mut h);
        h.ui(UserAction::CancelAppointment);
        assert_eq!((step(&h), h.session.view().appointment.focused), (Step::Cancel, Some(0)));
        // A scanned code that is not a confirmation is said so; the confirmation's QR fills the number.
        h.event(Event::Scanned(ScannedCode::parse("K01-261122-0001", "")));
        assert_eq!(h.session.view().appointment.problem, Some(P::NotABookingCode));
        h.event(Event::Scanned(ScannedCode::parse("AP-7K2M-Q9XD", "")));
        let view = h.session.view().appointment;
        assert_eq!((view.number.as_str(), view.focused, view.problem), ("AP-7K2M-Q9XD", Some(1), None));
        h.type_text(1, "14031985");
        let effects = h.ui(UserAction::AppointmentNext);
        assert_eq!(effects, [Effect::CancelBooking { number: "AP-7K2M-Q9XD".into(), date_of_birth: DateOfBirth("1985-03-14".into()) }]);
        // No match: the date is typed again; too many tries and a past appointment are said.
        for (news, problem) in [(BookingNews::NoMatch, P::NotFound), (BookingNews::Slowed, P::TooManyTries), (BookingNews::Past, P::Past)] {
            h.event(Event::Booking(news));
            let view = h.session.view().appointment;
            assert_eq!((view.step, view.problem, view.date_of_birth.as_str()), (Step::Cancel, Some(problem), ""));
            h.type_text(1, "14031985");
            h.ui(UserAction::AppointmentNext);
        }
        h.event(Event::Booking(BookingNews::Cancelled(Box::new(appointment()))));
        let view = h.session.view().appointment;
        assert_eq!((view.step, view.date.as_str(), view.time.as_str()), (Step::Cancelled, "23/11/2026", "10:30"));
        assert_eq!(view.service_name, "Marcação para renovação do BIR");
        // The masked view (a staff screenshot) shows neither number nor date.
        let masked = format!("{:?}", h.session.view().masked());
        assert!(!masked.contains("AP-7K2M") && !masked.contains("1985"), "{masked}");
    }
}

mod chinese {
    use super::*;
    use crate::session::ime::{Table, Tables};
    use balcao_ui::view::{ImeMethod, KeyboardMode};

    const CHINESE_NAME: usize = 6;

    fn tables() -> Arc<Tables> {
        let row = |code: &str, phrase: &str, freq| (code.to_string(), phrase.to_string(), freq);
        Arc::new(Tables {
            stroke: Some(Table::new(vec![row("nn/m/", "陳", 500), row("nn/m,", "陣", 400), row("m,.", "大", 500)])),
            quick: Some(Table::new(vec![row("k", "大", 500), row("yk", "文", 500), row("yk", "斗", 100)])),
        })
    }

    #[test]
    fn a_chinese_field_takes_strokes_and_quick_and_the_answer_is_the_characters_chosen() {
        let mut h = Harness::new();
        h.event(Event::InputTables(tables()));
        h.fill_criminal_record_form();
        // A Latin field keeps the Latin keyboard.
        h.ui(UserAction::Focus(Some(0)));
        assert_eq!(h.session.view().form.keyboard, KeyboardMode::Letters);
        h.ui(UserAction::Focus(Some(CHINESE_NAME)));
        let view = h.session.view().form;
        assert_eq!((view.keyboard, view.ime.method, view.ime.methods.len()), (KeyboardMode::Chinese, ImeMethod::Stroke, 2));
        for key in "nn/m".chars() {
            h.ui(UserAction::ImeKey(key));
        }
        let view = h.session.view().form;
        assert_eq!((view.ime.code.as_str(), view.ime.candidates.clone()), ("乙乙丨一", vec!["陳".to_string(), "陣".to_string()]));
        h.ui(UserAction::ImeChoose(0));
        h.ui(UserAction::ImeSwitch(ImeMethod::Quick));
        h.ui(UserAction::ImeKey('k'));
        h.ui(UserAction::ImeChoose(0));
        h.ui(UserAction::ImeKey('y'));
        h.ui(UserAction::ImeKey('k'));
        assert_eq!(h.session.view().form.ime.candidates, ["文", "斗"]);
        // Backspace erases the code first, then the field.
        h.ui(UserAction::Backspace);
        h.ui(UserAction::Backspace);
        assert_eq!(h.session.view().form.fields[CHINESE_NAME].value, "陳大");
        h.ui(UserAction::Backspace);
        assert_eq!(h.session.view().form.fields[CHINESE_NAME].value, "陳");
        h.ui(UserAction::ImeKey('k'));
        h.ui(UserAction::ImeChoose(0));
        for key in "yk".chars() {
            h.ui(UserAction::ImeKey(key));
        }
        h.ui(UserAction::ImeChoose(0));
        assert_eq!(h.session.view().form.fields[CHINESE_NAME].value, "陳大文");
        h.ui(UserAction::FormNext);
        h.ui(UserAction::ToggleConsent);
        let effects = h.ui(UserAction::Confirm);
        assert!(matches!(effects.as_slice(), [Effect::Authorize { .. }]), "{effects:?}");
        let effects = h.event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization())));
        let [Effect::SaveApplication(draft)] = effects.as_slice() else { panic!("{effects:?}") };
        assert_eq!(draft.answers["chinese_name"], Answer::Text("陳大文".into()));
    }

    #[test]
    fn without_the_tables_a_chinese_field_gets_the_latin_keyboard() {
        let mut h = Harness::new();
        h.open_criminal_record_form(Language::ZhHant);
        h.ui(UserAction::Focus(Some(CHINESE_NAME)));
        assert_eq!(h.session.view().form.keyboard, KeyboardMode::Letters);
        assert!(h.ui(UserAction::ImeKey('m')).is_empty());
    }
}
