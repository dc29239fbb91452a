//! A tour of every screen: a real session, driven with scripted events through each stage of
//! the journey and each failure the citizen can meet, yielding the view of each. The
//! screenshot tool renders it; tests look at the pixels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use balcao_drivers::payment_terminal::{Authorization, AuthorizationOutcome, DeclineReason, MaskedPan, TerminalPrompt};
use balcao_ui::view::{Language, UserAction, View};

use crate::session::{AttendantUpdate, Event, Readiness, Session, SessionConfig};
use crate::store::SavedApplication;

struct Guide {
    session: Session,
    now: Instant,
    language: Language,
}

impl Guide {
    fn new(language: Language) -> Self {
        let now = Instant::now();
        let config = SessionConfig { default_language: language, ..SessionConfig::default() };
        let mut session = Session::new(config, now);
        session.handle(Event::Catalog(Arc::new(balcao_central::seed::catalog())), now);
        session.handle(Event::Readiness(Readiness::ALL), now);
        session.handle(Event::Tick { clock: "10:30".into(), today: "2026-11-22".into() }, now);
        Self { session, now, language }
    }

    fn ui(&mut self, action: UserAction) -> &mut Self {
        self.session.handle(Event::Ui(action), self.now);
        self
    }

    fn event(&mut self, event: Event) -> &mut Self {
        self.session.handle(event, self.now);
        self
    }

    fn wait(&mut self, secs: u64) -> &mut Self {
        self.now += Duration::from_secs(secs);
        self.session.handle(Event::Tick { clock: "10:31".into(), today: "2026-11-22".into() }, self.now);
        self
    }

    fn typed(&mut self, field: usize, text: &str) -> &mut Self {
        self.ui(UserAction::Focus(Some(field)));
        for c in text.chars() {
            self.ui(UserAction::Key(c.to_string()));
        }
        self
    }

    fn view(&self) -> View {
        self.session.view()
    }

    fn open_form(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start)
            .ui(UserAction::ChooseLanguage(language))
            .ui(UserAction::Apply)
            .ui(UserAction::ChooseService("criminal-record-certificate".into()))
    }

    fn filled(&mut self) -> &mut Self {
        self.open_form().typed(0, "CHAN TAI MAN").typed(1, "1234567(8)").typed(2, "14031985").ui(UserAction::Choose(3, "employment".into()))
    }

    fn paying(&mut self) -> &mut Self {
        self.filled().ui(UserAction::FormNext).ui(UserAction::ToggleConsent).ui(UserAction::Confirm)
    }

    fn approved(&mut self) -> &mut Self {
        let authorization = Authorization {
            amount: 3000,
            receipt_number: 12,
            trace_number: 112,
            approval_code: Some("314171".into()),
            card_brand: Some("VISA".into()),
            card: MaskedPan::from_masked("************4242"),
            receipt_lines: Vec::new(),
        };
        self.paying().event(Event::PaymentOutcome(AuthorizationOutcome::Approved(authorization)))
    }

    /// On the pickup screen with the receipt's number and most of the document number typed.
    fn collecting(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start)
            .ui(UserAction::ChooseLanguage(language))
            .ui(UserAction::Collect)
            .typed(0, "K01-261122-0007")
            .typed(1, "1234567(")
    }

    /// The certificate found and its holder confirmed, while central cannot be reached.
    fn found(&mut self) -> &mut Self {
        self.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
        self.collecting().typed(1, "8").ui(UserAction::Focus(None)).ui(UserAction::PickupNext);
        self.event(Event::CertificateFound(Some(Box::new(crate::session::FoundCertificate {
            certificate: sample_certificate(),
            holder_matches: true,
        }))))
    }

    /// On the status form with a number and a date of birth typed.
    fn checking_status(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start)
            .ui(UserAction::ChooseLanguage(language))
            .ui(UserAction::CheckStatus)
            .typed(0, "K01-261122-0007")
            .typed(1, "140319")
    }

    /// A status found: ready to collect, on time (`as_of`: the kiosk's own copy, offline).
    fn status_found(&mut self, as_of: Option<&str>) -> &mut Self {
        use balcao_backend_client::api::{ApplicationState, NextStep};
        self.checking_status().typed(1, "85").ui(UserAction::StatusNext);
        self.event(Event::StatusAnswered(crate::session::StatusAnswer::Found(Box::new(crate::session::StatusFound {
            reference: "K01-261122-0007".into(),
            service_id: "criminal-record-certificate".into(),
            state: Some(ApplicationState::Ready),
            next_step: NextStep::CollectAtKiosk,
            due: "2026-11-25".into(),
            on_time: true,
            history: vec![(ApplicationState::Received, "2026-11-22 10:31".into()), (ApplicationState::Ready, "2026-11-24 09:12".into())],
            as_of: as_of.map(str::to_string),
        }))))
    }

    /// A citizen's applications, listed after their app's sign-in code was checked.
    fn status_by_identity(&mut self) -> &mut Self {
        use balcao_backend_client::api::{ApplicationState, NextStep};
        let language = self.language;
        self.ui(UserAction::Start)
            .ui(UserAction::ChooseLanguage(language))
            .ui(UserAction::CheckStatus)
            .event(Event::Scanned(crate::session::ScannedCode::SignIn(crate::session::SignInCode("code".into()))));
        let found = |reference: &str, service: &str, state, next_step, due: &str, on_time| crate::session::StatusFound {
            reference: reference.into(),
            service_id: service.into(),
            state: Some(state),
            next_step,
            due: due.into(),
            on_time,
            history: Vec::new(),
            as_of: None,
        };
        self.event(Event::StatusAnswered(crate::session::StatusAnswer::Holder(vec![
            found("K01-261122-0007", "criminal-record-certificate", ApplicationState::InReview, NextStep::Wait, "2026-11-25", true),
            found("K02-261103-0031", "birth-record-certificate", ApplicationState::Ready, NextStep::CollectAtCounter, "2026-11-05", false),
        ])))
    }

    /// On the list of counter queues.
    fn queues(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).ui(UserAction::TakeTicket)
    }

    /// A ticket for the civil registry's counters, being printed.
    fn ticketing(&mut self) -> &mut Self {
        self.queues().ui(UserAction::ChooseQueue("civil-registry".into()))
    }

    /// On the identification step of a service given only to the holder.
    fn identifying(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start)
            .ui(UserAction::ChooseLanguage(language))
            .ui(UserAction::Apply)
            .ui(UserAction::ChooseService("identification-data-certificate".into()))
    }

    /// The document's details typed and its chip asked for.
    fn reading_chip(&mut self) -> &mut Self {
        self.identifying().typed(0, "1234567").typed(1, "14031985").typed(2, "31012031").ui(UserAction::IdentifyRead)
    }

    fn scanned_sign_in(&mut self) -> &mut Self {
        self.event(Event::Scanned(crate::session::ScannedCode::SignIn(crate::session::SignInCode("BALCAO-SIGNIN:tour".into()))))
    }

    /// Signed in with the app: the form, with the holder's fields filled.
    fn identified(&mut self) -> &mut Self {
        let claims = balcao_backend_client::api::signin::SignInClaims {
            iss: "tour".into(),
            sub: "tour".into(),
            aud: "GSC-01".into(),
            iat: 0,
            exp: 0,
            nonce: "tour".into(),
            name: "CHAN TAI MAN".into(),
            document_number: "1234567(8)".into(),
            birth_date: "1985-03-14".into(),
        };
        self.identifying().scanned_sign_in().event(Event::SignInChecked(Ok(claims)))
    }

    /// The free places of the seed's appointment service, shown (one time full; with
    /// `taken`, 10:30 on the first day too).
    fn booking_slots(&mut self, taken: bool) -> &mut Self {
        use balcao_backend_client::api::{AppointmentDay, AppointmentDays, AppointmentSlot};
        let slot = |time: &str, free| AppointmentSlot { time: time.into(), free };
        let first = jiff::civil::date(2026, 11, 23);
        let days = (0..10)
            .map(|i| AppointmentDay {
                date: first.saturating_add(jiff::Span::new().days(i)),
                slots: vec![
                    slot("09:00", 2),
                    slot("09:30", 0),
                    slot("10:00", 2),
                    slot("10:30", if taken && i == 0 { 0 } else { 1 }),
                    slot("11:00", 2),
                    slot("11:30", 2),
                ],
            })
            .collect();
        let service_id = "id-card-renewal-appointment".into();
        self.event(Event::Booking(crate::session::BookingNews::Slots(Some(AppointmentDays { service_id, days }))))
    }

    /// On the appointment service's days and times.
    fn booking(&mut self) -> &mut Self {
        let language = self.language;
        self.ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).ui(UserAction::BookAppointment).booking_slots(false)
    }

    /// A place held at 10:30 on the first day: the date of birth is asked.
    fn booking_held(&mut self) -> &mut Self {
        self.booking()
            .ui(UserAction::ChooseTime("10:30".into()))
            .event(Event::Booking(crate::session::BookingNews::Held(uuid::Uuid::nil())))
    }

    /// Booked, and its confirmation printed.
    fn booked(&mut self) -> &mut Self {
        let appointment = balcao_backend_client::api::Appointment {
            number: "AP-7K2M-Q9XD".into(),
            service_id: "id-card-renewal-appointment".into(),
            centre_id: "GSC-01".into(),
            date: jiff::civil::date(2026, 11, 23),
            time: "10:30".into(),
            counter: Some("12".into()),
        };
        self.booking_held()
            .typed(1, "14031985")
            .ui(UserAction::Focus(None))
            .ui(UserAction::AppointmentNext)
            .event(Event::Booking(crate::session::BookingNews::Booked(Box::new(appointment))))
    }

    /// On the form's Chinese name, with Debian's input tables, having typed `code` by `method`.
    fn composing(&mut self, method: balcao_ui::view::ImeMethod, code: &str) -> &mut Self {
        let tables = crate::runtime::ime::load(std::path::Path::new(crate::runtime::ime::TABLES));
        self.event(Event::InputTables(Arc::new(tables))).open_form().typed(0, "CHAN TAI MAN").ui(UserAction::Focus(Some(6)));
        self.ui(UserAction::ImeSwitch(method));
        for key in code.chars() {
            self.ui(UserAction::ImeKey(key));
        }
        self
    }

    fn saved(&mut self) -> &mut Self {
        let saved = SavedApplication { application_id: uuid::Uuid::nil(), reference: "K01-261122-0007".into() };
        self.approved().event(Event::ApplicationSaved(saved)).event(Event::Captured(Vec::new()))
    }
}

/// Every screen in `language`, named for its file.
/// A certificate ready for the tour's citizen (document number 1234567(8)).
fn sample_certificate() -> crate::store::CertificateSummary {
    crate::store::CertificateSummary {
        application_id: uuid::Uuid::nil(),
        reference: "K01-261122-0007".into(),
        service_id: "criminal-record-certificate".into(),
        holder: balcao_backend_client::api::HolderCheck::new([7; 16], "1234567(8)"),
    }
}

pub fn tour(language: Language) -> Vec<(&'static str, View)> {
    let g = || Guide::new(language);
    let attract = {
        // The welcome screen shows each language in turn: wait for this one's turn.
        let mut guide = g();
        let turn = Language::ALL.iter().position(|&l| l == language).unwrap_or(0) as u64;
        guide.wait(4 * turn);
        guide.view()
    };
    vec![
        ("01-attract", attract),
        ("02-language", g().ui(UserAction::Start).view()),
        ("03-home", g().ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).view()),
        ("04-services", g().ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).ui(UserAction::Apply).view()),
        (
            "05-services-printer-down",
            g().event(Event::Readiness(Readiness { receipt_printer: false, ..Readiness::ALL }))
                .ui(UserAction::Start)
                .ui(UserAction::ChooseLanguage(language))
                .ui(UserAction::Apply)
                .view(),
        ),
        ("06-form", g().open_form().view()),
        ("07-form-keyboard", g().open_form().typed(0, "CHAN TAI MA").view()),
        ("08-form-date-keypad", g().open_form().typed(0, "CHAN TAI MAN").typed(2, "1403").view()),
        ("09-form-problems", g().open_form().typed(2, "3102").ui(UserAction::FormNext).view()),
        ("10-review", g().filled().ui(UserAction::FormNext).view()),
        ("11-review-consented", g().filled().ui(UserAction::FormNext).ui(UserAction::ToggleConsent).view()),
        ("12-payment-present-card", g().paying().event(Event::PaymentPrompt(TerminalPrompt::PresentCard)).view()),
        ("13-payment-pin", g().paying().event(Event::PaymentPrompt(TerminalPrompt::EnterPin)).view()),
        ("14-printing", g().approved().view()),
        ("15-done", g().saved().event(Event::ReceiptPrinted).view()),
        ("16-error-declined", g().paying().event(Event::PaymentOutcome(AuthorizationOutcome::Declined(DeclineReason::Declined))).view()),
        ("17-error-receipt-not-printed", {
            let mut view = g().saved().event(Event::ReceiptNotPrinted).view();
            crate::runtime::link_status_page(&mut view, &crate::config::CentralSection::default().status_url);
            view
        }),
        ("18-idle-warning", g().filled().wait(75).view()),
        ("19-offline-services", {
            let mut guide = g();
            guide.event(Event::Readiness(Readiness { online: false, ..Readiness::ALL }));
            guide.ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).ui(UserAction::Apply).view()
        }),
        ("20-out-of-service", g().event(Event::StorageFault).view()),
        (
            "20-out-of-service-by-staff",
            g().event(Event::ClosedByCentral(Some(balcao_backend_client::api::LocalizedText::new(
                "本機今日下午維護，請到二號櫃台辦理。",
                "Este quiosque está em manutenção esta tarde. Dirija-se ao balcão 2.",
                "This kiosk is under maintenance this afternoon. Please go to counter 2.",
            ))))
            .view(),
        ),
        ("21-pickup", g().collecting().view()),
        (
            "22-pickup-mismatch",
            g().collecting()
                .ui(UserAction::Focus(None))
                .ui(UserAction::PickupNext)
                .event(Event::CertificateFound(Some(Box::new(crate::session::FoundCertificate {
                    certificate: sample_certificate(),
                    holder_matches: false,
                }))))
                .view(),
        ),
        (
            "23-pickup-not-found",
            g().collecting().ui(UserAction::Focus(None)).ui(UserAction::PickupNext).event(Event::CertificateFound(None)).view(),
        ),
        ("23-pickup-scanned-other-code", g().collecting().event(Event::Scanned(crate::session::ScannedCode::Unknown)).view()),
        ("24-pickup-printing", g().found().view()),
        ("59-error-certificate-not-genuine", g().found().event(Event::CertificateRejected).view()),
        ("25-collected", g().found().event(Event::CertificateCollected).view()),
        ("26-queues", g().queues().view()),
        ("27-ticket-printing", g().ticketing().view()),
        ("28-ticket", g().ticketing().event(Event::TicketIssued { number: "B1-023".into() }).view()),
        ("29-ticket-uncertain", g().ticketing().event(Event::TicketNotPrinted { number: Some("B1-024".into()) }).view()),
        ("30-identify", g().identifying().view()),
        ("31-identify-typing", g().identifying().typed(0, "1234567").typed(1, "1403").view()),
        ("32-identify-reading", g().reading_chip().view()),
        (
            "33-identify-details-do-not-match",
            g().reading_chip().event(Event::IdentityRead(Err(balcao_drivers::identity_reader::ErrorKind::AccessDenied))).view(),
        ),
        (
            "34-identify-code-expired",
            g().identifying()
                .scanned_sign_in()
                .event(Event::SignInChecked(Err(balcao_backend_client::api::signin::SignInRefusal::Expired)))
                .view(),
        ),
        ("35-form-identified", g().identified().view()),
        ("36-review-identified", g().identified().ui(UserAction::SetYesNo(3, false)).ui(UserAction::FormNext).view()),
        (
            "37-error-document-rejected",
            g().reading_chip().event(Event::IdentityRead(Err(balcao_drivers::identity_reader::ErrorKind::Tampered))).view(),
        ),
        ("38-payment-processing", g().paying().event(Event::PaymentPrompt(TerminalPrompt::Processing)).view()),
        (
            "39-payment-cancel-requested",
            g().paying().event(Event::PaymentPrompt(TerminalPrompt::PresentCard)).ui(UserAction::CancelPayment).view(),
        ),
        (
            "40-error-payment-unresolved",
            g().paying().event(Event::PaymentFailed(balcao_drivers::payment_terminal::ErrorKind::OutcomeUnknown)).view(),
        ),
        ("41-error-release-pending", g().approved().event(Event::ApplicationNotSaved).event(Event::ReversalFailed).view()),
        ("42-attendant-called", g().open_form().ui(UserAction::CallAttendant).event(Event::Attendant(AttendantUpdate::Called)).view()),
        (
            "43-attendant-coming",
            g().open_form()
                .ui(UserAction::CallAttendant)
                .event(Event::Attendant(AttendantUpdate::Acknowledged { at: "10:32".into() }))
                .view(),
        ),
        (
            "44-attendant-unreachable",
            g().event(Event::Readiness(Readiness { online: false, ..Readiness::ALL })).open_form().ui(UserAction::CallAttendant).view(),
        ),
        (
            "45-form-attendant-coming-aside",
            g().open_form()
                .ui(UserAction::CallAttendant)
                .event(Event::Attendant(AttendantUpdate::Acknowledged { at: "10:32".into() }))
                .ui(UserAction::HideAttendant)
                .view(),
        ),
        ("46-form-leave-asked", g().filled().ui(UserAction::FormBack).view()),
        ("48-status-form", g().checking_status().view()),
        (
            "49-status-not-found",
            g().checking_status()
                .typed(1, "85")
                .ui(UserAction::StatusNext)
                .event(Event::StatusAnswered(crate::session::StatusAnswer::NoMatch { offline: false }))
                .view(),
        ),
        ("50-status-found", g().status_found(None).view()),
        ("51-status-found-offline", g().status_found(Some("2026-11-24 09:12")).view()),
        ("52-status-by-identity", g().status_by_identity().view()),
        ("60-form-chinese-strokes", g().composing(balcao_ui::view::ImeMethod::Stroke, "nn/").view()),
        ("61-form-chinese-quick", {
            let mut guide = g();
            guide.composing(balcao_ui::view::ImeMethod::Stroke, "nn/m/").ui(UserAction::ImeChoose(0));
            guide.ui(UserAction::ImeSwitch(balcao_ui::view::ImeMethod::Quick)).ui(UserAction::ImeKey('y'));
            guide.view()
        }),
        ("53-appointment-slots", g().booking().view()),
        ("54-appointment-slot-taken", {
            let mut guide = g();
            guide.booking().ui(UserAction::ChooseTime("10:30".into())).event(Event::Booking(crate::session::BookingNews::Full));
            guide.booking_slots(true).view()
        }),
        ("55-appointment-details", g().booking_held().typed(1, "140319").view()),
        ("56-appointment-booked", g().booked().event(Event::Booking(crate::session::BookingNews::Printed(true))).view()),
        ("57-appointment-cancel", g().booking().ui(UserAction::CancelAppointment).typed(0, "AP-7K2M-Q9XD").view()),
        ("58-appointment-offline", {
            let mut guide = g();
            let offline = crate::session::Readiness { online: false, ..crate::session::Readiness::ALL };
            guide.ui(UserAction::Start).ui(UserAction::ChooseLanguage(language)).event(Event::Readiness(offline));
            guide.view()
        }),
        ("47-pickup-not-found-too-often", {
            let mut guide = g();
            guide.collecting().ui(UserAction::Focus(None));
            for _ in 0..crate::session::MAX_UNKNOWN_NUMBERS {
                guide.ui(UserAction::PickupNext).event(Event::CertificateFound(None));
            }
            guide.view()
        }),
    ]
}

/// Every kind of paper the kiosk prints, in `language`, with sample content (no personal
/// data): the screenshot tool prints them through the real ESC/POS driver to the virtual
/// printer, so they can be looked at as the citizen holds them.
pub fn paper(language: Language) -> Vec<(&'static str, balcao_drivers::receipt_printer::Receipt)> {
    use balcao_backend_client::api::Delivery;

    use crate::receipt::{self, AppointmentContent, NotChargedContent, PaidBy, ReceiptContent, TicketContent};

    let catalog = balcao_central::seed::catalog();
    let wire = crate::session::api_language(language);
    let service = catalog.service("criminal-record-certificate").unwrap_or(&catalog.services[0]);
    let appointment = catalog.service("id-card-renewal-appointment").unwrap_or(service);
    let queue_name = catalog.queues.first().map(|q| q.name.get(wire).to_string()).unwrap_or_default();
    let card = "VISA **** 4242".to_string();
    let application = ReceiptContent {
        language,
        reference: "K01-261122-0012".into(),
        service_name: service.name.get(wire).into(),
        agency_name: service.agency.name.get(wire).into(),
        fee_avos: service.fee_avos,
        paid_by: Some(PaidBy {
            card: Some(card.clone()),
            approval_code: Some("314160".into()),
            terminal_lines: vec!["PRE-AUTHORISATION".into(), "CAPTURED MOP 30.00".into()],
        }),
        processing_days: service.processing_days,
        delivery: Delivery::PrintAtKiosk,
        offline: false,
    };
    let ticket = TicketContent { language, queue_id: "A".into(), letter: 'A', queue_name, offline: false };
    let booking = AppointmentContent {
        language,
        reference: "AP-7K2M-Q9XD".into(),
        service_name: appointment.name.get(wire).into(),
        agency_name: appointment.agency.name.get(wire).into(),
        slot: "2026-12-03 10:30".into(),
        counter: Some("B4".into()),
    };
    let not_charged = NotChargedContent {
        language,
        service_name: service.name.get(wire).into(),
        amount_avos: service.fee_avos,
        card: Some(card),
        cancelled: false,
    };
    let at = "2026-11-22 10:30";
    vec![
        ("application-receipt", receipt::layout(&application, at, "K01", "https://status.example/")),
        ("queue-ticket", receipt::ticket_layout(&ticket, "A1-023", at, "K01")),
        ("appointment-confirmation", receipt::appointment_layout(&booking, at, "K01")),
        ("not-charged-slip", receipt::not_charged_layout(&not_charged, at, "K01")),
    ]
}

/// Prints [`paper`] in every language through the real ESC/POS driver to a virtual printer on
/// loopback, and saves what came out as `DIR/<language>-paper-<kind>.png`.
pub fn print_paper(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    use balcao_drivers::receipt_printer::ReceiptPrinter as _;
    use balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter;
    use balcao_drivers::receipt_printer::escpos::{EscPosPrinter, TcpConnector, Timeouts};

    let spool = tempfile::tempdir()?;
    let virtual_printer = VirtualPrinter::listen_tcp(([127, 0, 0, 1], 0).into(), Some(spool.path()))?;
    let address = virtual_printer.address().ok_or_else(|| std::io::Error::other("the virtual printer has no address"))?;
    let connector = TcpConnector { address, connect_timeout: Duration::from_secs(1), write_timeout: Duration::from_secs(5) };
    let mut printer = EscPosPrinter::new(Box::new(connector), Timeouts::default());
    let mut saved = Vec::new();
    for language in Language::ALL {
        for (name, receipt) in paper(language) {
            printer.print(&receipt).map_err(|e| std::io::Error::other(format!("printing the {name} in {}: {e}", language.tag())))?;
            let printed = virtual_printer.control().printed();
            let png =
                printed.last().and_then(|p| p.png.clone()).ok_or_else(|| std::io::Error::other("the virtual printer saved nothing"))?;
            let path = dir.join(format!("{}-paper-{name}.png", language.tag()));
            std::fs::copy(&png, &path)?;
            saved.push(path);
        }
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use balcao_ui::view::Screen;

    use super::*;

    #[test]
    fn the_tour_visits_every_screen_in_the_chosen_language() {
        for language in Language::ALL {
            let stops = tour(language);
            let screens: std::collections::HashSet<Screen> = stops.iter().map(|(_, v)| v.screen).collect();
            assert_eq!(screens.len(), 20, "{language:?}: {screens:?}");
            assert!(stops.iter().all(|(_, v)| v.language == language), "{language:?}");
        }
    }
}
