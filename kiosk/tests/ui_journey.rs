//! Citizens use the real kiosk — UI, session, store, simulated devices, and the reference
//! central over HTTPS on loopback — by touch, finding every control by its accessible label
//! as assistive technology would: the whole journey in each of the three languages, a queue
//! ticket, two applications for a certificate given only to its holder (identified by the
//! government app's sign-in code, then by the chip of their identity card), then
//! counter appointments booked in each language (one after another kiosk took the chosen time
//! a moment before) and one cancelled, a status checked with central gone (the kiosk's own copy,
//! labelled with its age; nothing for a wrong date of birth), then an idle timeout that wipes a
//! half-filled form.
//!
//! Slint's testing backend allows one event loop per process, so this file holds one test.

use std::time::{Duration, Instant};

use balcao_backend_client::api::IdentityMethod;
use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_drivers::code_scanner::sim::VirtualScanner;
use balcao_kiosk::runtime::devices::{Devices, SimulatorPace};
use balcao_kiosk::runtime::outbox::RetryPolicy;
use balcao_kiosk::runtime::{self, KioskSettings};
use balcao_kiosk::session::SessionConfig;
use balcao_ui::view::Language;
use balcao_ui::{KioskUi, MainWindow};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;

/// The UI's text for `msgid` in `language`, from the same catalogues the UI is built with.
fn tr(language: Language, msgid: &str) -> String {
    if language == Language::En {
        return msgid.to_string();
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ui/translations/{}/LC_MESSAGES/balcao-ui.po", language.tag()));
    let catalog = rspolib::pofile(path.as_path()).expect("catalogue");
    let entry = catalog.entries.iter().find(|e| e.msgid == msgid).unwrap_or_else(|| panic!("{msgid:?} not translated"));
    entry.msgstr.clone().expect("translation")
}

async fn sleep(duration: Duration) {
    let (done, wait) = tokio::sync::oneshot::channel();
    slint::Timer::single_shot(duration, move || {
        let _ = done.send(());
    });
    let _ = wait.await;
}

/// Waits (up to 15 s) for an element with this label and role.
async fn find(window: &MainWindow, label: &str, role: AccessibleRole) -> ElementHandle {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // Chinese paragraphs carry an invisible word joiner before their last character (see
        // `balcao_ui::cjk`): a person reads past it, and so does the search.
        let all = i_slint_backend_testing::ElementQuery::from_root(window).match_descendants().match_accessible_role(role).find_all();
        let read = |e: &ElementHandle| e.accessible_label().map(|l| l.replace(balcao_ui::cjk::WORD_JOINER, ""));
        if let Some(found) = all.iter().find(|e| read(e).as_deref() == Some(label)) {
            return found.clone();
        }
        if Instant::now() >= deadline {
            let labels: Vec<String> = all.iter().filter_map(read).collect();
            panic!("no {role:?} labelled {label:?} appeared; there are {labels:?}");
        }
        sleep(Duration::from_millis(20)).await;
    }
}

async fn tap(window: &MainWindow, label: &str) {
    // A person waits for a greyed-out button (a service while the devices are still being
    // checked) to become usable before touching it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let button = loop {
        let button = find(window, label, AccessibleRole::Button).await;
        if button.accessible_enabled() != Some(false) {
            break button;
        }
        assert!(Instant::now() < deadline, "the button {label:?} stayed disabled");
        sleep(Duration::from_millis(20)).await;
    };
    button.invoke_accessible_default_action();
    // Let the session answer before the next touch, as a person would.
    sleep(Duration::from_millis(60)).await;
}

/// Drags the screen's list up by a finger's swipe, to bring what is below into view.
async fn swipe_up(window: &MainWindow) {
    use slint::platform::{PointerEventButton, WindowEvent};
    let w = window.window();
    let at = |y: f32| slint::LogicalPosition::new(540.0, y);
    w.dispatch_event(WindowEvent::PointerPressed { position: at(1500.0), button: PointerEventButton::Left });
    for step in 1..=20 {
        sleep(Duration::from_millis(16)).await;
        w.dispatch_event(WindowEvent::PointerMoved { position: at(1500.0 - 40.0 * step as f32) });
    }
    sleep(Duration::from_millis(300)).await;
    w.dispatch_event(WindowEvent::PointerReleased { position: at(700.0), button: PointerEventButton::Left });
    sleep(Duration::from_millis(300)).await;
}

async fn type_on_keyboard(window: &MainWindow, language: Language, text: &str) {
    for c in text.chars() {
        let key = if c == ' ' { tr(language, "Space") } else { c.to_string() };
        tap(window, &key).await;
    }
}

async fn field(window: &MainWindow, label: &str) -> ElementHandle {
    find(window, label, AccessibleRole::TextInput).await
}

struct Texts {
    service: &'static str,
    full_name: &'static str,
    document: &'static str,
    birth: &'static str,
    employment: &'static str,
}

fn texts(language: Language) -> Texts {
    match language {
        Language::ZhHant => {
            Texts {
                service: "刑事紀錄證明書", full_name: "姓名", document: "身份證明文件編號", birth: "出生日期", employment: "就業"
            }
        }
        Language::Pt => Texts {
            service: "Certificado de Registo Criminal",
            full_name: "Nome completo",
            document: "Número do documento de identificação",
            birth: "Data de nascimento",
            employment: "Emprego",
        },
        Language::En => Texts {
            service: "Certificate of Criminal Record",
            full_name: "Full name",
            document: "Identity document number",
            birth: "Date of birth",
            employment: "Employment",
        },
    }
}

/// Touches the welcome screen, which cycles its language: in whichever it shows now.
async fn touch_start(window: &MainWindow) {
    let labels: Vec<String> = Language::ALL.iter().map(|&l| tr(l, "Touch the screen to start")).collect();
    let start = loop {
        if let Some(found) = labels
            .iter()
            .find_map(|l| ElementHandle::find_by_accessible_label(window, l).find(|e| e.accessible_role() == Some(AccessibleRole::Button)))
        {
            break found;
        }
        sleep(Duration::from_millis(20)).await;
    };
    start.invoke_accessible_default_action();
    sleep(Duration::from_millis(60)).await;
}

/// One citizen, from the welcome screen to the application number, in `language`.
async fn journey(window: &MainWindow, language: Language) -> String {
    let t = texts(language);
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Apply for a certificate")).await;
    tap(window, t.service).await;

    field(window, t.full_name).await.invoke_accessible_default_action();
    type_on_keyboard(window, language, "CHAN TAI MAN").await;
    field(window, t.document).await.invoke_accessible_default_action();
    type_on_keyboard(window, language, "1234567(8)").await;
    field(window, t.birth).await.invoke_accessible_default_action();
    type_on_keyboard(window, language, "14031985").await;
    assert_eq!(field(window, t.birth).await.accessible_value().as_deref(), Some("14/03/1985"));
    tap(window, t.employment).await;
    tap(window, &tr(language, "Continue")).await;
    consent_and_pay(window, language, 3000).await
}

/// On the review screen of an application to the Identification Services Bureau: consents,
/// pays `fee` and returns the application number shown at the end.
async fn consent_and_pay(window: &MainWindow, language: Language, fee_avos: u64) -> String {
    let fee = balcao_kiosk::session::api_language(language).money(fee_avos);
    let consent = find(
        window,
        &tr(language, "I confirm that this information is correct and agree to its use in processing my application ({}).").replace(
            "{}",
            match language {
                Language::ZhHant => "身份證明局",
                Language::Pt => "Direcção dos Serviços de Identificação",
                Language::En => "Identification Services Bureau",
            },
        ),
        AccessibleRole::Checkbox,
    )
    .await;
    assert_eq!(consent.accessible_checked(), Some(false));
    consent.invoke_accessible_default_action();
    sleep(Duration::from_millis(60)).await;
    tap(window, &tr(language, "Pay {} and submit").replace("{}", &fee)).await;

    // The simulated terminal approves; the application is saved, the fee captured, the
    // receipt printed.
    // The caption and the number share the label; the number is the one with a value.
    let caption = tr(language, "Your application number");
    find(window, &caption, AccessibleRole::Text).await;
    let reference = ElementHandle::find_by_accessible_label(window, &caption)
        .find_map(|e| e.accessible_value().filter(|v| !v.is_empty()))
        .expect("the number is shown")
        .to_string();
    tap(window, &tr(language, "Finish")).await;
    reference
}

/// Waits until a text with `label` shows `value`.
async fn shows(window: &MainWindow, label: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ElementHandle::find_by_accessible_label(window, label).any(|e| e.accessible_value().as_deref() == Some(value)) {
        assert!(Instant::now() < deadline, "{label:?} did not show {value:?}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// A citizen applies, in Portuguese, for a certificate given only to its holder: an expired
/// sign-in code is refused in their language, a fresh one fills and locks their details.
async fn identified_by_app(window: &MainWindow, scanner: &VirtualScanner, code: impl Fn(jiff::Timestamp) -> String) -> String {
    let language = Language::Pt;
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Apply for a certificate")).await;
    swipe_up(window).await;
    tap(window, "Certidão de dados de identificação").await;
    find(window, &tr(language, "With the government app"), AccessibleRole::Text).await;
    scanner.present(code(jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30)).as_bytes()).expect("scan");
    find(
        window,
        &tr(language, "This sign-in code has expired. Show a new one in the app and hold it under the scanner."),
        AccessibleRole::Text,
    )
    .await;
    scanner.present(code(jiff::Timestamp::now()).as_bytes()).expect("scan");
    shows(window, "Nome completo", "CHAN TAI MAN").await;
    shows(window, "Número do documento de identificação", "12345678").await;
    tap(window, &tr(language, "No")).await;
    tap(window, &tr(language, "Continue")).await;
    find(window, &format!("✓ {}", tr(language, "Identified with the government app")), AccessibleRole::Text).await;
    consent_and_pay(window, language, 4000).await
}

/// The same in English with the identity card on the reader and its details typed.
async fn identified_by_chip(window: &MainWindow) -> String {
    let language = Language::En;
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, "Apply for a certificate").await;
    swipe_up(window).await;
    tap(window, "Certificate of identification data").await;
    field(window, "Document number").await.invoke_accessible_default_action();
    type_on_keyboard(window, language, "12345678").await;
    tap(window, "Done").await;
    field(window, "Date of birth").await.invoke_accessible_default_action();
    // A complete birth date moves on to the expiry date; the keypad stays open after the last
    // digit (closing by itself, it would uncover Back under the citizen's finger) until Done.
    type_on_keyboard(window, language, "1403198530062031").await;
    assert!(ElementHandle::find_by_accessible_label(window, "Read my document").next().is_none(), "the keypad is still open");
    tap(window, "Done").await;
    tap(window, "Read my document").await;
    shows(window, "Full name", "CHAN TAI MAN").await;
    shows(window, "Date of birth", "14/03/1985").await;
    tap(window, "No").await;
    tap(window, "Continue").await;
    find(window, "✓ Identified with the chip of your identity document (its issuer's signature checked)", AccessibleRole::Text).await;
    consent_and_pay(window, language, 4000).await
}

/// Opens the field labelled `label`, types `text` on the on-screen keyboard and closes it.
async fn fill_in(window: &MainWindow, language: Language, label: &str, text: &str) {
    field(window, label).await.invoke_accessible_default_action();
    type_on_keyboard(window, language, text).await;
    tap(window, &tr(language, "Done")).await;
}

/// From the welcome screen, in `language`: asks for the status of `reference` with the date of
/// birth `born` (digits, as typed).
async fn ask_status(window: &MainWindow, language: Language, reference: &str, born: &str) {
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Check an application")).await;
    fill_in(window, language, &tr(language, "Application number"), reference).await;
    fill_in(window, language, &tr(language, "Applicant's date of birth (day/month/year)"), born).await;
    tap(window, &tr(language, "Check the status")).await;
}

/// A citizen checks an application's status by touch, in `language`: the number from the
/// receipt, the applicant's date of birth, then central's answer.
async fn check_status(window: &MainWindow, language: Language, reference: &str) {
    ask_status(window, language, reference, "14031985").await;
    find(window, &format!("{}: {}", tr(language, "Status"), tr(language, "Received")), AccessibleRole::Text).await;
    find(window, &format!("{}: {}", tr(language, "Service"), texts(language).service), AccessibleRole::Text).await;
    tap(window, &tr(language, "Finish")).await;
}

/// Central is out of reach: a wrong date of birth shows nothing of the application; the right
/// one shows the status this kiosk last knew, labelled with when it knew it.
async fn check_status_offline(window: &MainWindow, language: Language, reference: &str) {
    ask_status(window, language, reference, "01011990").await;
    let date_of_birth = tr(language, "Applicant's date of birth (day/month/year)");
    let not_here = tr(
        language,
        "This kiosk cannot reach the central system right now, and it has no application of its own with this number and date of birth. Please try again later or ask at the counter.",
    );
    find(window, &not_here, AccessibleRole::Text).await;
    assert!(
        ElementHandle::find_by_accessible_label(window, &format!("{}: {}", tr(language, "Status"), tr(language, "Received")))
            .next()
            .is_none(),
        "nothing of the application for a wrong date of birth"
    );
    let typed = field(window, &date_of_birth).await;
    typed.invoke_accessible_default_action();
    for _ in 0..8 {
        tap(window, &tr(language, "Delete")).await;
    }
    type_on_keyboard(window, language, "14031985").await;
    tap(window, &tr(language, "Done")).await;
    tap(window, &tr(language, "Check the status")).await;
    let label = tr(language, "This kiosk cannot reach the central system right now. This is the status it last knew, on {}.");
    let prefix = label.split("{}").next().expect("a text before the time");
    let known_at = text_after(window, prefix).await;
    assert!(known_at.chars().any(|c| c.is_ascii_digit()), "when the kiosk knew it: {known_at:?}");
    find(window, &format!("{}: {}", tr(language, "Status"), tr(language, "Received")), AccessibleRole::Text).await;
    tap(window, &tr(language, "Finish")).await;
}

const BOOKABLE: &str = "id-card-renewal-appointment";

/// Tomorrow's day button on the appointment screen, as `language` names it (`Tue 08/12`).
fn tomorrow_label(language: Language) -> String {
    let day = jiff::Zoned::now().date().tomorrow().expect("a tomorrow");
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let name = tr(language, names[usize::try_from(day.weekday().to_monday_one_offset() - 1).expect("weekday")]);
    format!("{name} {}", day.strftime("%d/%m"))
}

/// Waits for a text whose label starts with `prefix`; returns the rest.
async fn text_after(window: &MainWindow, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all = i_slint_backend_testing::ElementQuery::from_root(window)
            .match_descendants()
            .match_accessible_role(AccessibleRole::Text)
            .find_all();
        if let Some(rest) = all.iter().find_map(|e| e.accessible_label().and_then(|l| l.strip_prefix(prefix).map(str::to_string))) {
            return rest;
        }
        assert!(Instant::now() < deadline, "no text starting {prefix:?} appeared");
        sleep(Duration::from_millis(20)).await;
    }
}

/// A citizen books a counter appointment by touch, in `language`, tomorrow at `time`; with
/// `taken_first`, another kiosk takes that time's last place a moment before the citizen
/// touches it, and the citizen books `instead`. Returns the booking number shown.
async fn book_appointment(
    window: &MainWindow,
    central: &balcao_central::Central,
    language: Language,
    time: &str,
    taken_first: Option<&str>,
) -> String {
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Book an appointment")).await;
    tap(window, &tomorrow_label(language)).await;
    let time = match taken_first {
        Some(instead) => {
            find(window, time, AccessibleRole::Button).await;
            let tomorrow = jiff::Zoned::now().date().tomorrow().expect("a tomorrow");
            let slot = jiff::civil::Time::strptime("%H:%M", time).expect("time");
            let now = jiff::Zoned::now();
            let taken = central
                .store()
                .hold_appointment(uuid::Uuid::now_v7(), "K02", "GSC-01", BOOKABLE, tomorrow, slot, now.datetime(), now.timestamp())
                .expect("held by another kiosk");
            assert!(matches!(taken, balcao_central::store::appointments::Held::Held { .. }), "{taken:?}");
            tap(window, time).await;
            find(
                window,
                &tr(language, "Someone else has just taken the last place at that time. Please choose another time."),
                AccessibleRole::Text,
            )
            .await;
            instead
        }
        None => time,
    };
    tap(window, time).await;
    fill_in(window, language, &tr(language, "Your date of birth (day/month/year)"), "14031985").await;
    tap(window, &tr(language, "Book this appointment")).await;
    let number = text_after(window, &format!("{}: ", tr(language, "Booking number"))).await;
    find(window, &tr(language, "Your appointment is booked"), AccessibleRole::Text).await;
    tap(window, &tr(language, "Finish")).await;
    number
}

/// A citizen cancels an appointment in English with its number and their date of birth.
async fn cancel_appointment(window: &MainWindow, number: &str) {
    let language = Language::En;
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, "Book an appointment").await;
    tap(window, "Cancel an appointment").await;
    field(window, "Booking number").await.invoke_accessible_default_action();
    type_on_keyboard(window, language, number).await;
    tap(window, "Done").await;
    field(window, "Your date of birth (day/month/year)").await.invoke_accessible_default_action();
    type_on_keyboard(window, language, "14031985").await;
    tap(window, "Done").await;
    tap(window, "Cancel the appointment").await;
    find(window, "Your appointment is cancelled", AccessibleRole::Text).await;
    tap(window, "Finish").await;
}

/// A citizen collects the certificate of application `reference` by touch, in `language`, and
/// sees `outcome` (a title of the screen that follows).
async fn collect_certificate(window: &MainWindow, language: Language, reference: &str, outcome: &str) {
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Collect a certificate")).await;
    fill_in(window, language, &tr(language, "Application number"), reference).await;
    fill_in(window, language, &tr(language, "Identity document number"), "1234567(8)").await;
    tap(window, &tr(language, "Print my certificate")).await;
    find(window, &tr(language, outcome), AccessibleRole::Text).await;
    tap(window, &tr(language, "Finish")).await;
}

/// The id central gave the application numbered `reference`.
fn application_id(central: &balcao_central::Central, reference: &str) -> uuid::Uuid {
    let rows = central.store().recent_applications(20).expect("applications");
    rows.iter().find(|a| a.reference == reference).expect("the application").id
}

/// Issues the certificate of `reference` with a file that is not the one its signature signs,
/// as an altered copy on its way to the kiosk would be.
fn issue_altered_certificate(central: &balcao_central::Central, reference: &str) {
    use balcao_backend_client::api::{CertificateContent, sign_document};
    let id = application_id(central, reference);
    let (kid, key) =
        central.store().signing_key(balcao_central::store::issuer::KeySet::Documents, jiff::Timestamp::now()).expect("the agency's key");
    let make = |service_id: &str, reference: &str, _: &_| {
        let content = CertificateContent {
            document_id: id,
            reference: reference.into(),
            service_id: service_id.into(),
            agency_id: "dsi".into(),
            issued: jiff::Zoned::now().date(),
            holder_names: vec!["CHAN TAI MAN".into()],
            copies: 1,
        };
        let signature = sign_document(b"%PDF-1.7 the certificate as issued", &kid, |b| key.sign(b).as_ref().to_vec());
        Ok(balcao_central::store::IssuedDocument {
            pdf: b"%PDF-1.7 the certificate, altered".to_vec(),
            claims: content.claims(),
            signature,
        })
    };
    central.store().issue_certificate(id, make, [1; 16]).expect("issued");
}

/// A citizen takes a queue ticket in Portuguese; returns the number shown.
async fn take_ticket(window: &MainWindow) -> String {
    let language = Language::Pt;
    touch_start(window).await;
    tap(window, language.endonym()).await;
    tap(window, &tr(language, "Take a queue ticket")).await;
    tap(window, "Registo civil").await;
    let caption = tr(language, "Your number");
    find(window, &caption, AccessibleRole::Text).await;
    let number = ElementHandle::find_by_accessible_label(window, &caption)
        .find_map(|e| e.accessible_value().filter(|v| !v.is_empty()))
        .expect("the number is shown")
        .to_string();
    tap(window, &tr(language, "Finish")).await;
    number
}

/// A citizen walks away from a half-filled form: the countdown shows, then everything is wiped.
async fn walk_away(window: &MainWindow) {
    let t = texts(Language::En);
    tap(window, Language::En.endonym()).await;
    tap(window, "Apply for a certificate").await;
    tap(window, t.service).await;
    field(window, t.full_name).await.invoke_accessible_default_action();
    type_on_keyboard(window, Language::En, "HALF").await;
    assert_eq!(field(window, t.full_name).await.accessible_value().as_deref(), Some("HALF"));
    // The countdown appears before the end.
    find(window, "Yes, I need more time", AccessibleRole::Button).await;
    // Back on the welcome screen: nothing of the form is left.
    let labels: Vec<String> = Language::ALL.iter().map(|&l| tr(l, "Touch the screen to start")).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !labels.iter().any(|l| ElementHandle::find_by_accessible_label(window, l).next().is_some()) {
        assert!(Instant::now() < deadline, "the idle session did not end");
        sleep(Duration::from_millis(50)).await;
    }
    assert!(ElementHandle::find_by_accessible_label(window, t.full_name).next().is_none());
    // The next citizen starts with an empty form.
    tap(window, Language::En.endonym()).await;
    tap(window, "Apply for a certificate").await;
    tap(window, t.service).await;
    assert_eq!(field(window, t.full_name).await.accessible_value().as_deref(), Some(""));
}

#[test]
fn citizens_complete_the_journey_by_touch_in_each_language_and_an_idle_form_is_wiped() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let ui = KioskUi::new().expect("window");
    let dir = tempfile::tempdir().expect("tempdir");
    let (view, channel) = runtime::connect_ui(&ui);

    // The kiosk's core and the reference central run on their own runtime, as in the kiosk.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The script takes central away before its last citizen (or the test ends).
    let (central_down, central_goes) = tokio::sync::oneshot::channel::<()>();
    let (central_tx, central_rx) = std::sync::mpsc::channel();
    let data = dir.path().to_path_buf();
    let core = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let central = LoopbackCentral::start(&CentralOptions::new(data.join("central.db"))).await.expect("central");
            let client = balcao_backend_client::CentralClient::new(&balcao_backend_client::ClientConfig {
                base_url: central.url.clone(),
                ca_pem: central.ca_pem.clone().into_bytes(),
                identity_pem: Some(central.kiosk_identity("K01", "GSC-01").expect("identity").into_bytes()),
                timeouts: balcao_backend_client::Timeouts::default(),
            })
            .expect("client");
            let (devices, simulators) = Devices::simulated(&data, SimulatorPace::INSTANT).expect("devices");
            let settings = KioskSettings {
                kiosk_id: "K01".into(),
                centre_id: "GSC-01".into(),
                ticket_series: '1',
                status_url: "https://status.example/".into(),
                session: SessionConfig {
                    idle_timeout: Duration::from_secs(4),
                    idle_warning: Duration::from_secs(3),
                    done_timeout: Duration::from_secs(60),
                    attract_cycle: Duration::from_secs(4),
                    default_language: Language::ZhHant,
                },
                retry: RetryPolicy { first: Duration::from_millis(100), max: Duration::from_secs(1) },
                catalog_poll: Duration::from_secs(60),
                health_poll: Duration::from_millis(200),
                heartbeat: Duration::from_secs(60),
                metrics_listen: None,
                database: data.join("kiosk.db"),
                data_key: data.join("keys/data.key"),
                retention: Duration::from_secs(7 * 24 * 3600),
                end_of_day: Duration::from_secs(24 * 3600),
                end_of_day_when_idle: Duration::from_secs(12 * 3600),
                renewal: None,
                maintenance_socket: None,
                supervision: balcao_kiosk::runtime::supervisor::Supervision::new(&data),
            };
            let handle = runtime::start(settings, view, devices, Some(client), channel).await;
            central_tx.send((central.central.clone(), simulators)).expect("hand over");
            let _ = central_goes.await;
            central.stop().await.expect("central stops");
            let _ = stopped.await;
            handle.stop().await;
        });
    });
    let (central, simulators) = central_rx.recv().expect("core started");

    // A specimen identity card lies on the reader; the government app's codes are signed by
    // the reference central, as the identity provider.
    simulators.identity_reader.place(Some(balcao_drivers::identity_reader::sim::specimen_identity_card()));
    let scanner = simulators.code_scanner.clone();
    let idp = central.clone();
    let sign_in_code = move |issued: jiff::Timestamp| {
        let citizen = balcao_central::store::Citizen {
            sub: "citizen-0042".into(),
            name: "CHAN TAI MAN".into(),
            document_number: "12345678".into(),
            birth_date: "1985-03-14".into(),
        };
        idp.store().sign_in_code(&citizen, "GSC-01", issued, jiff::SignedDuration::from_mins(2)).expect("signed")
    };

    ui.window().show().expect("show");
    let status_central = central.clone();
    let booking_central = central.clone();
    let every_day = (1..=7)
        .map(|weekday| balcao_central::store::appointments::ScheduleRow {
            weekday,
            opens: jiff::civil::Time::constant(10, 0, 0, 0),
            closes: jiff::civil::Time::constant(12, 0, 0, 0),
            slot_minutes: 30,
            capacity: 1,
            counter: Some("12".into()),
        })
        .collect::<Vec<_>>();
    central.store().set_appointment_schedule("*", BOOKABLE, &every_day).expect("schedule");
    let window = ui.window().as_weak();
    let script = slint::spawn_local(async move {
        let window = window.upgrade().expect("window");
        let mut references = Vec::new();
        for language in [Language::ZhHant, Language::Pt, Language::En] {
            references.push(journey(&window, language).await);
        }
        // Each citizen then follows their application, in their language, once central has it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while status_central.store().count_applications().expect("count") < 3 {
            assert!(Instant::now() < deadline, "the applications did not reach central");
            sleep(Duration::from_millis(50)).await;
        }
        for (language, reference) in [Language::ZhHant, Language::Pt, Language::En].into_iter().zip(references.clone()) {
            check_status(&window, language, &reference).await;
        }
        let ticket = take_ticket(&window).await;
        references.push(identified_by_app(&window, &scanner, sign_in_code).await);
        references.push(identified_by_chip(&window).await);
        // Appointments tomorrow, one place per half hour: each citizen in their language, the
        // last after another kiosk took the time they touched; then one is cancelled.
        let mut bookings = Vec::new();
        for (language, time, taken) in
            [(Language::ZhHant, "10:00", None), (Language::Pt, "10:30", None), (Language::En, "11:30", Some("11:00"))]
        {
            bookings.push(book_appointment(&window, &booking_central, language, time, taken).await);
        }
        cancel_appointment(&window, &bookings[0]).await;
        // Certificates: the first citizen's prints; the second's file fails the kiosk's check
        // and is not printed.
        booking_central.issue_certificate(application_id(&booking_central, &references[0])).expect("issued");
        issue_altered_certificate(&booking_central, &references[1]);
        collect_certificate(&window, Language::ZhHant, &references[0], "Your certificate is printed").await;
        collect_certificate(&window, Language::Pt, &references[1], "Your certificate could not be checked").await;
        // Once central has everything the kiosk sends, it goes away: a citizen checks a status
        // offline.
        let deadline = Instant::now() + Duration::from_secs(15);
        while booking_central.store().count_applications().expect("count") < 5
            || !booking_central
                .store()
                .recent_events(50)
                .expect("events")
                .iter()
                .any(|e| e.kind == balcao_backend_client::api::KioskEventKind::CertificateRejected)
        {
            assert!(Instant::now() < deadline, "the applications and the rejected certificate did not reach central");
            sleep(Duration::from_millis(50)).await;
        }
        central_down.send(()).expect("core running");
        check_status_offline(&window, Language::Pt, &references[2]).await;
        walk_away(&window).await;
        slint::quit_event_loop().expect("quit");
        (references, ticket, bookings)
    })
    .expect("script");
    slint::run_event_loop().expect("event loop");
    let (references, ticket, bookings) = futures_lite_block_on(script);
    // One certificate printed, the altered one not; central was told of it.
    let printed_documents = std::fs::read_dir(dir.path().join("documents")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(printed_documents, 1, "only the genuine certificate was printed");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !central
        .store()
        .recent_events(50)
        .expect("events")
        .iter()
        .any(|e| e.kind == balcao_backend_client::api::KioskEventKind::CertificateRejected)
    {
        assert!(Instant::now() < deadline, "central was not told of the rejected certificate");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Three bookings, each its own number; the first cancelled, the others still booked.
    let state = |number: &str| central.store().appointment_state(number).expect("state").unwrap_or_default();
    assert_eq!(bookings.iter().map(|b| state(b)).collect::<Vec<_>>(), ["cancelled", "booked", "booked"], "{bookings:?}");
    assert_eq!(ticket, "B1-001", "the civil registry's first ticket of the day from series 1");

    // Five applications, numbered in order, each printed and each delivered to central once.
    let day = jiff::Zoned::now().strftime("%y%m%d").to_string();
    assert_eq!(references, [1, 2, 3, 4, 5].map(|n| format!("K01-{day}-{n:04}")));
    let printed = simulators.receipt_printer.printed();
    assert_eq!(printed.len(), 9);
    // The printer has no Chinese font: the zh-Hant receipt's Chinese lines came as images
    // (rows with a Chinese label too); the card terminal's own lines as text.
    let text: Vec<String> = printed.iter().map(|p| p.flowing_text()).collect();
    assert!(
        printed[0].raster_rows > 200
            && text[0].contains("VISA **** 4242")
            && !text[0].contains("Recibo")
            && !text[0].contains("Application")
            && text[1].contains("Recibo do pedido")
            && text[2].contains("Application receipt")
            && text[3].contains("Senha de atendimento")
            && text[3].contains("B1-001")
            && text[4].contains("Certidão de dados de identificação")
            && text[5].contains("Certificate of identification data")
            && text[7].contains("Confirmação de marcação")
            && text[7].contains(&bookings[1])
            && text[8].contains("Appointment confirmation")
            && text[8].contains("11:00"),
        "{text:#?}"
    );
    assert!(printed.iter().all(|p| p.png.as_ref().is_some_and(|png| png.exists())));
    assert_eq!(simulators.payment_terminal.captured().len(), 5);
    assert!(simulators.payment_terminal.open_reservations().is_empty());
    let deadline = Instant::now() + Duration::from_secs(15);
    while central.store().count_applications().expect("count") < 5 {
        assert!(Instant::now() < deadline, "the applications did not reach central");
        std::thread::sleep(Duration::from_millis(50));
    }
    let rows = central.store().recent_applications(10).expect("list");
    let stored: Vec<&str> = rows.iter().map(|a| a.reference.as_str()).collect();
    assert_eq!(stored.len(), 5);
    for reference in &references {
        assert!(stored.contains(&reference.as_str()), "{reference} missing at central: {stored:?}");
    }
    // The identified applications carry how, and a salted hash of the document number only.
    let identified = |reference: &str| rows.iter().find(|a| a.reference == reference).and_then(|a| a.identity.clone());
    let by_app = identified(&references[3]).expect("identified by the app");
    let by_chip = identified(&references[4]).expect("identified by the chip");
    assert_eq!((by_app.method, by_chip.method), (IdentityMethod::App, IdentityMethod::ChipVerified));
    assert!(by_app.holder.matches("12345678") && by_chip.holder.matches("12345678") && !by_chip.holder.matches("12345679"));
    assert_ne!(by_app.holder, by_chip.holder, "each application has its own salt");
    assert!(identified(&references[0]).is_none());
    let _ = stop.send(());
    core.join().expect("core thread");
}

/// Completes a future that is already finished (the script ended before the loop quit).
fn futures_lite_block_on<T>(task: slint::JoinHandle<T>) -> T {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut task = std::pin::pin!(task);
    match task.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("the UI script did not finish"),
    }
}
