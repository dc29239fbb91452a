//! The citizen's session as a pure state machine: [`Session::handle`] takes an [`Event`] (a
//! touch, a tick, a device's answer) and returns [`Effect`]s (pay, save, print) for the kiosk's
//! loop to carry out; [`Session::view`] says what the screen shows. No I/O, no clocks, no
//! randomness: time comes in with every event, so every path is testable as data.

mod apply;
mod appointment;
mod draft;
mod entry;
mod identify;
pub mod ime;
mod pickup;
mod status;
mod ticket;
mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use balcao_backend_client::api::signin::{SignInClaims, SignInRefusal};
use balcao_backend_client::api::{self, Answer, Catalog, DeviceNeed, PaymentRecord, Service, ServiceKind};
use balcao_drivers::identity_reader::{AccessKey, ErrorKind as IdentityError, IdentityDocument};
use balcao_drivers::payment_terminal::{Authorization, AuthorizationOutcome, ErrorKind as PaymentError, TerminalPrompt};
use balcao_ui::view::{AttendantState, IdentifyProblem, Language, OutOfService, PaymentPrompt, Problem, Unavailable, UserAction};

use apply::{Release, payment_prompt};
pub use appointment::{BOOKING_DAYS, Booking, BookingNews};
pub use draft::{Draft, Input, date_display, iso_date};
pub use identify::{IdentifyForm, Identity, MAX_IDENTIFY_FAILURES};
use identify::{app_accepted, chip_accepted, needs_identity};
pub use pickup::{MAX_PICKUP_FAILURES, MAX_UNKNOWN_NUMBERS, PickupForm, ScannedCode, SignInCode};
pub use status::{DateOfBirth, MAX_STATUS_FAILURES, StatusAnswer, StatusForm, StatusFound};

use crate::receipt::{NotChargedContent, ReceiptContent, TicketContent};
use crate::store::{CertificateSummary, SavedApplication};

/// Timings of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Without a touch for this long, the session is wiped.
    pub idle_timeout: Duration,
    /// The last part of `idle_timeout`, during which a countdown shows.
    pub idle_warning: Duration,
    /// How long the "submitted" screen stays.
    pub done_timeout: Duration,
    /// How long the welcome screen shows each language.
    pub attract_cycle: Duration,
    pub default_language: Language,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(90),
            idle_warning: Duration::from_secs(20),
            done_timeout: Duration::from_secs(45),
            attract_cycle: Duration::from_secs(4),
            default_language: Language::ZhHant,
        }
    }
}

/// Which of the kiosk's devices can serve now, and whether central can be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    pub payment_terminal: bool,
    pub receipt_printer: bool,
    pub document_printer: bool,
    pub identity_reader: bool,
    pub code_scanner: bool,
    /// An OCR reader of documents' zones (optional: without one, the citizen types).
    pub mrz_reader: bool,
    pub online: bool,
}

impl Readiness {
    /// Every device ready and central reachable.
    pub const ALL: Self = Self {
        payment_terminal: true,
        receipt_printer: true,
        document_printer: true,
        identity_reader: true,
        code_scanner: true,
        mrz_reader: true,
        online: true,
    };

    /// Why `service` cannot be used now, if it cannot.
    pub fn blocks(&self, service: &Service) -> Option<Unavailable> {
        let missing = service.devices.iter().find_map(|need| {
            let (ready, reason) = match need {
                DeviceNeed::PaymentTerminal => (self.payment_terminal, Unavailable::PaymentTerminal),
                DeviceNeed::ReceiptPrinter => (self.receipt_printer, Unavailable::ReceiptPrinter),
                DeviceNeed::DocumentPrinter => (self.document_printer, Unavailable::DocumentPrinter),
                DeviceNeed::IdentityReader => (self.identity_reader, Unavailable::IdentityReader),
                DeviceNeed::CodeScanner => (self.code_scanner, Unavailable::CodeScanner),
            };
            (!ready).then_some(reason)
        });
        // A service that asks who applies needs a way to tell: the scanner for the app's code
        // (where that is enough) or the document reader.
        let unidentifiable = needs_identity(service) && !app_accepted(service, self) && !chip_accepted(self);
        // A fee needs the terminal whatever the catalog lists: never ask for a card that
        // cannot be taken.
        let unpayable = service.fee_avos > 0 && !self.payment_terminal;
        missing
            .or_else(|| unpayable.then_some(Unavailable::PaymentTerminal))
            .or_else(|| unidentifiable.then_some(Unavailable::IdentityReader))
            .or_else(|| (!self.online && !service.offline_capable).then_some(Unavailable::Offline))
    }
}

/// A document number a citizen typed, on its way to be checked: `Debug` shows nothing of it,
/// and it is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentNumber(pub String);

impl std::fmt::Debug for DocumentNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocumentNumber(..)")
    }
}

impl Drop for DocumentNumber {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// A certificate the store found under the typed number, and whether the typed document number
/// is its holder's. The check is deliberately slow (Argon2id, tens of milliseconds), so the
/// kiosk's loop makes it on a blocking thread and the session only reads the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundCertificate {
    pub certificate: CertificateSummary,
    pub holder_matches: bool,
}

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Event {
    Ui(UserAction),
    /// Once a second: the wall clock as shown (`HH:MM`) and today's date (`YYYY-MM-DD`).
    Tick {
        clock: String,
        today: String,
    },
    Catalog(Arc<Catalog>),
    Readiness(Readiness),
    /// Applications saved here and not yet acknowledged by central.
    Uploads {
        pending: u32,
    },
    PaymentPrompt(TerminalPrompt),
    PaymentOutcome(AuthorizationOutcome),
    PaymentFailed(PaymentError),
    ApplicationSaved(SavedApplication),
    ApplicationNotSaved,
    /// The fee was taken; the terminal's lines for the receipt.
    Captured(Vec<String>),
    CaptureFailed,
    Reversed,
    ReversalFailed,
    ReceiptPrinted,
    ReceiptNotPrinted,
    /// What the store holds under the application number the citizen typed.
    CertificateFound(Option<Box<FoundCertificate>>),
    /// What central (or, offline, this kiosk) answered about an application's status.
    StatusAnswered(StatusAnswer),
    /// What central answered while booking or cancelling an appointment.
    Booking(BookingNews),
    /// The Chinese input methods' tables, read at start (none: no Chinese entry).
    InputTables(Arc<ime::Tables>),
    /// The certificate came out of the printer; the pickup is recorded and queued.
    CertificateCollected,
    /// The certificate's file did not verify against the agency's keys: it was not printed,
    /// nothing was recorded as handed out, and central was told.
    CertificateRejected,
    /// The certificate did not print. `uncertain`: the printer stopped answering mid-job, so
    /// it may have; the pickup is then recorded as uncertain.
    CertificateNotPrinted {
        uncertain: bool,
    },
    /// The queue ticket came out; it is recorded and queued.
    TicketIssued {
        number: String,
    },
    /// The queue ticket did not print. With a number: the printer stopped answering mid-job,
    /// so the ticket may have come out; it is recorded (it will be called) and the number is
    /// shown.
    TicketNotPrinted {
        number: Option<String>,
    },
    /// The code scanner read something.
    Scanned(ScannedCode),
    /// The store checked a scanned sign-in code.
    SignInChecked(Result<SignInClaims, SignInRefusal>),
    /// The OCR reader read a document's zone: the key to its chip (`None`: the zone did not
    /// read cleanly).
    ZoneRead(Option<AccessKey>),
    /// The identity reader read the document's chip, or could not.
    IdentityRead(Result<IdentityDocument, IdentityError>),
    /// The store cannot be trusted: stop serving.
    StorageFault,
    /// Central's staff put the kiosk out of service with this message (in zh-Hant, pt and en),
    /// or back in service (`None`). A citizen mid-journey finishes first.
    ClosedByCentral(Option<api::LocalizedText>),
    /// What became of the citizen's call for an attendant.
    Attendant(AttendantUpdate),
}

/// News of a citizen's call for an attendant, from central.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttendantUpdate {
    /// Central took the call: staff see it.
    Called,
    /// Staff acknowledged it at this clock time (`HH:MM`): someone is on the way.
    Acknowledged { at: String },
    /// The call did not reach staff (central unreachable, or refusing calls).
    Unreachable,
    /// The call is over at central (it lapsed).
    Ended,
}

/// An application, as the session hands it to be saved and queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationDraft {
    pub service_id: String,
    pub language: api::Language,
    pub answers: std::collections::BTreeMap<String, Answer>,
    pub fee_avos: u64,
    pub payment: Option<PaymentRecord>,
    /// Who applies, when the service asked; the kiosk keeps only a salted hash of the
    /// document number with the application.
    pub identity: Option<Identity>,
}

/// Something the kiosk's loop must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Reserve the fee on the payment terminal.
    Authorize {
        amount_avos: u64,
        reference: String,
    },
    CancelPayment,
    /// Save the application durably and queue it for central.
    SaveApplication(Box<ApplicationDraft>),
    Capture(Box<Authorization>),
    Reverse(Box<Authorization>),
    PrintReceipt(Box<ReceiptContent>),
    /// Print the "you were not charged" slip after a confirmed reversal (best effort: the
    /// screen says the same).
    PrintNotCharged(Box<NotChargedContent>),
    /// Look up the certificate ready under this application number.
    FindCertificate {
        reference: String,
        /// What the citizen typed, checked against the certificate's holder off the loop.
        document_number: DocumentNumber,
    },
    /// Look up an application's status for its applicant: central, or this kiosk's own copy
    /// while central cannot be reached.
    CheckStatus {
        reference: String,
        date_of_birth: DateOfBirth,
    },
    /// Look up every application of a citizen whose identity was checked (central only).
    CheckHolderStatus {
        document_number: DocumentNumber,
        date_of_birth: DateOfBirth,
    },
    /// Ask central for the free places of a bookable service.
    FetchSlots {
        service_id: String,
    },
    /// Hold a place of this slot at central (the kiosk names the hold).
    HoldSlot {
        service_id: String,
        date: jiff::civil::Date,
        time: String,
    },
    /// Book the held place for the citizen born on `date_of_birth`.
    ConfirmBooking {
        hold_id: uuid::Uuid,
        date_of_birth: DateOfBirth,
        language: api::Language,
    },
    /// Let a held place go (the citizen went back or left).
    ReleaseHold {
        hold_id: uuid::Uuid,
    },
    /// Print the appointment's confirmation.
    PrintBooking(Box<crate::receipt::AppointmentContent>),
    /// Cancel the booking with this number, for the citizen born on `date_of_birth`.
    CancelBooking {
        number: String,
        date_of_birth: DateOfBirth,
    },
    /// Record the pickup, print the certificate, and record how it went.
    CollectCertificate {
        application_id: uuid::Uuid,
        offline: bool,
    },
    /// Number, record and print a queue ticket, and record how it went.
    IssueTicket(Box<TicketContent>),
    /// Check a sign-in code (signature, audience, time, replay) and record its use.
    CheckSignIn(SignInCode),
    /// Read the chip of the document on the reader with this key.
    ReadIdentity(AccessKey),
    /// The citizen left or the session timed out: everything of theirs is gone.
    SessionEnded,
    /// Tell staff a citizen needs help at this screen, in this language.
    CallAttendant {
        screen: &'static str,
        language: Language,
    },
    /// The citizen's call is over (helped, cancelled, or the session ended).
    EndAttendantCall,
}

#[derive(Clone, Debug)]
enum Stage {
    Attract,
    Language,
    Home,
    Services,
    Identify(IdentifyForm),
    Form(Draft),
    Review(Draft),
    Paying {
        draft: Draft,
        prompt: PaymentPrompt,
        cancelling: bool,
    },
    Saving {
        draft: Draft,
        authorization: Option<Box<Authorization>>,
    },
    Capturing {
        draft: Draft,
        saved: SavedApplication,
        authorization: Box<Authorization>,
    },
    Printing {
        draft: Draft,
        saved: SavedApplication,
    },
    Done {
        draft: Draft,
        saved: SavedApplication,
    },
    /// The card reservation is being released; `card` (masked) goes on the slip.
    Reversing {
        draft: Draft,
        card: Option<String>,
        cause: Release,
    },
    Pickup(PickupForm),
    PickupChecking(PickupForm),
    Status(StatusForm),
    StatusChecking(StatusForm),
    StatusShown {
        found: Vec<StatusFound>,
        by_identity: bool,
    },
    Collecting {
        service_id: String,
    },
    Collected {
        service_id: String,
    },
    Queues,
    /// Booking (or cancelling) an appointment: see `appointment.rs`.
    Booking(Booking),
    Ticketing {
        queue_id: String,
    },
    Ticket {
        queue_id: String,
        number: String,
    },
    Error {
        problem: Problem,
        reference: String,
        retry: Option<Draft>,
    },
    OutOfService(OutOfService),
}

/// What a touch or an answer does to the stage: moves it on (the idle clock starts again
/// there), or leaves it as it was (a stale touch, a late answer).
enum Next {
    To(Stage),
    Stay(Stage),
}

impl Stage {
    /// A journey's last screen: it waits for "finish", on the shorter timeout.
    fn over(&self) -> bool {
        matches!(self, Stage::Done { .. } | Stage::Collected { .. } | Stage::Ticket { .. })
            || matches!(self, Stage::Booking(booking) if booking.over())
    }

    /// Stages where the kiosk, not the citizen, is working: no idle timeout there.
    fn kiosk_is_busy(&self) -> bool {
        matches!(
            self,
            Stage::Paying { .. }
                | Stage::Saving { .. }
                | Stage::Capturing { .. }
                | Stage::Printing { .. }
                | Stage::Reversing { .. }
                | Stage::PickupChecking(_)
                | Stage::StatusChecking(_)
                | Stage::Collecting { .. }
                | Stage::Ticketing { .. }
        ) || matches!(self, Stage::Identify(form) if form.busy)
            || matches!(self, Stage::Booking(booking) if booking.busy())
    }
}

pub fn api_language(language: Language) -> api::Language {
    match language {
        Language::ZhHant => api::Language::ZhHant,
        Language::Pt => api::Language::Pt,
        Language::En => api::Language::En,
    }
}

/// One citizen at the kiosk, from the welcome screen back to it.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    stage: Stage,
    language: Language,
    catalog: Option<Arc<Catalog>>,
    readiness: Readiness,
    pending_uploads: u32,
    /// The clock when central stopped answering, while it does not.
    offline_since: Option<String>,
    clock: String,
    today: String,
    now: Instant,
    last_activity: Instant,
    stage_since: Instant,
    /// Out of service by central's staff, with their message: shown once nobody is served.
    closed_by_central: Option<api::LocalizedText>,
    /// Citizens served since midnight: sessions that left the welcome screen.
    sessions_today: u32,
    /// The citizen's call for an attendant, and whether its panel shows.
    call: AttendantState,
    call_acknowledged_at: String,
    call_shown: bool,
    /// The Chinese input methods' tables, once read.
    input_tables: Option<Arc<ime::Tables>>,
}

impl Session {
    /// Whether the kiosk is in the middle of something for the citizen (payment, saving,
    /// printing) that must not be cut short.
    pub fn busy(&self) -> bool {
        self.stage.kiosk_is_busy()
    }

    /// Nobody is using the kiosk: it shows its welcome screen, or the out-of-service screen
    /// central's staff asked for.
    pub fn at_rest(&self) -> bool {
        matches!(self.stage, Stage::Attract | Stage::OutOfService(OutOfService::Maintenance))
    }

    /// Whether central's staff put the kiosk out of service (it may still be finishing a
    /// citizen's journey).
    pub fn closed_by_central(&self) -> bool {
        self.closed_by_central.is_some()
    }

    /// Whether central answered the kiosk's last request.
    /// The catalog the kiosk serves from, if it has one.
    pub fn catalog(&self) -> Option<Arc<Catalog>> {
        self.catalog.clone()
    }

    pub fn online(&self) -> bool {
        self.readiness.online
    }

    /// Citizens served since midnight.
    pub fn sessions_today(&self) -> u32 {
        self.sessions_today
    }

    pub fn new(config: SessionConfig, now: Instant) -> Self {
        Self {
            config,
            stage: Stage::Attract,
            language: config.default_language,
            catalog: None,
            readiness: Readiness::default(),
            pending_uploads: 0,
            offline_since: None,
            clock: String::new(),
            today: String::new(),
            now,
            last_activity: now,
            stage_since: now,
            closed_by_central: None,
            sessions_today: 0,
            call: AttendantState::None,
            call_acknowledged_at: String::new(),
            call_shown: false,
            input_tables: None,
        }
    }

    /// Takes one event at time `now`; returns what the kiosk must do about it.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        self.now = now;
        let mut effects = Vec::new();
        match event {
            Event::Ui(action @ (UserAction::CallAttendant | UserAction::HideAttendant | UserAction::CancelAttendant)) => {
                self.last_activity = now;
                self.on_attendant_action(action, &mut effects);
            }
            Event::Ui(action) => {
                self.last_activity = now;
                self.on_action(action, &mut effects);
            }
            Event::Attendant(update) => self.on_attendant(update),
            Event::Tick { clock, today } => {
                self.clock = clock;
                if today != self.today {
                    self.sessions_today = 0;
                }
                self.today = today;
            }
            Event::Catalog(catalog) => self.catalog = Some(catalog),
            Event::InputTables(tables) => self.input_tables = Some(tables),
            Event::Readiness(readiness) => {
                if readiness.online {
                    self.offline_since = None;
                } else if self.offline_since.is_none() {
                    self.offline_since = Some(self.clock.clone());
                }
                self.readiness = readiness;
            }
            Event::Uploads { pending } => self.pending_uploads = pending,
            Event::PaymentPrompt(prompt) => {
                if let Stage::Paying { prompt: shown, cancelling: false, .. } = &mut self.stage {
                    *shown = payment_prompt(prompt);
                }
            }
            Event::StorageFault => self.set_stage(Stage::OutOfService(OutOfService::StorageFault)),
            Event::ClosedByCentral(message) => {
                let closing = message.is_some();
                self.closed_by_central = message;
                match self.stage {
                    Stage::Attract if closing => self.set_stage(Stage::OutOfService(OutOfService::Maintenance)),
                    Stage::OutOfService(OutOfService::Maintenance) if !closing => self.set_stage(Stage::Attract),
                    // Mid-journey: the citizen finishes; the session's end closes the kiosk.
                    _ => {}
                }
            }
            Event::Scanned(code) => {
                self.last_activity = now;
                self.on_scan(code, &mut effects);
            }
            Event::ZoneRead(key) => {
                self.last_activity = now;
                self.on_zone(key, &mut effects);
            }
            other => self.on_result(other, &mut effects),
        }
        if let Some(deadline) = self.idle_deadline()
            && now >= deadline
        {
            self.end(&mut effects);
        }
        effects
    }

    fn set_stage(&mut self, stage: Stage) {
        if matches!(self.stage, Stage::Attract) && !matches!(stage, Stage::Attract | Stage::OutOfService(_)) {
            self.sessions_today = self.sessions_today.saturating_add(1);
        }
        self.stage = stage;
        self.stage_since = self.now;
    }

    fn end(&mut self, effects: &mut Vec<Effect>) {
        // Dropping the stage drops the draft: the form, the answers, the authorisation.
        let next = if self.closed_by_central.is_some() { Stage::OutOfService(OutOfService::Maintenance) } else { Stage::Attract };
        if let Stage::Booking(booking) = &self.stage
            && let Some(hold_id) = booking.held()
        {
            effects.push(Effect::ReleaseHold { hold_id });
        }
        self.set_stage(next);
        self.language = self.config.default_language;
        if matches!(self.call, AttendantState::Calling | AttendantState::Called | AttendantState::Coming) {
            effects.push(Effect::EndAttendantCall);
        }
        self.call = AttendantState::None;
        self.call_shown = false;
        effects.push(Effect::SessionEnded);
    }

    /// Whether the screen offers to call an attendant: every screen of a journey.
    pub fn can_call_attendant(&self) -> bool {
        !matches!(self.stage, Stage::Attract | Stage::OutOfService(_))
    }

    /// A call under way: staff are told or on their way.
    fn calling(&self) -> bool {
        matches!(self.call, AttendantState::Calling | AttendantState::Called | AttendantState::Coming)
    }

    fn on_attendant_action(&mut self, action: UserAction, effects: &mut Vec<Effect>) {
        match action {
            UserAction::CallAttendant if self.can_call_attendant() => {
                self.call_shown = true;
                if self.calling() {
                    return;
                }
                if self.readiness.online {
                    self.call = AttendantState::Calling;
                    effects.push(Effect::CallAttendant { screen: self.view_screen().name(), language: self.language });
                } else {
                    // Nothing can reach staff: said at once, not after a wait.
                    self.call = AttendantState::Unreachable;
                }
            }
            UserAction::HideAttendant => {
                self.call_shown = false;
                if self.call == AttendantState::Unreachable {
                    self.call = AttendantState::None;
                }
            }
            UserAction::CancelAttendant => {
                if self.calling() {
                    effects.push(Effect::EndAttendantCall);
                }
                self.call = AttendantState::None;
                self.call_shown = false;
            }
            _ => {}
        }
    }

    fn on_attendant(&mut self, update: AttendantUpdate) {
        match (update, self.call) {
            (AttendantUpdate::Called, AttendantState::Calling) => self.call = AttendantState::Called,
            (AttendantUpdate::Acknowledged { at }, AttendantState::Calling | AttendantState::Called) => {
                self.call = AttendantState::Coming;
                self.call_acknowledged_at = at;
                // The citizen sees at once that someone is coming.
                self.call_shown = true;
            }
            (AttendantUpdate::Unreachable | AttendantUpdate::Ended, AttendantState::Calling | AttendantState::Called) => {
                self.call = AttendantState::Unreachable;
                self.call_shown = true;
            }
            (AttendantUpdate::Ended, AttendantState::Coming) => {
                self.call = AttendantState::None;
                self.call_shown = false;
            }
            // News of a call that is over: nothing to show.
            _ => {}
        }
    }

    /// When the session ends by itself if nobody touches the screen.
    fn idle_deadline(&self) -> Option<Instant> {
        // A citizen waiting for an attendant is not idle; the call lapses at central if
        // nobody comes, and the session's clock starts again.
        if self.calling() {
            return None;
        }
        match &self.stage {
            Stage::Attract | Stage::OutOfService(_) => None,
            stage if stage.over() => Some(self.last_activity.max(self.stage_since) + self.config.done_timeout),
            stage if stage.kiosk_is_busy() => None,
            _ => Some(self.last_activity.max(self.stage_since) + self.config.idle_timeout),
        }
    }

    /// Seconds left before the session is wiped, while the warning shows.
    pub fn idle_seconds_left(&self) -> Option<u32> {
        if self.stage.over() {
            return None;
        }
        let left = self.idle_deadline()?.saturating_duration_since(self.now);
        (left <= self.config.idle_warning).then(|| left.as_secs_f64().ceil() as u32)
    }

    fn service(&self, id: &str) -> Option<&Service> {
        self.catalog.as_ref()?.services.iter().find(|s| s.id == id && s.kind == ServiceKind::Application)
    }

    /// The counter queues the catalog offers tickets for.
    fn queues(&self) -> Vec<&api::CounterQueue> {
        self.catalog.as_deref().map_or_else(Vec::new, |c| c.queues.iter().filter(|q| q.is_valid()).collect())
    }

    fn on_action(&mut self, action: UserAction, effects: &mut Vec<Effect>) {
        let stage = std::mem::replace(&mut self.stage, Stage::Attract);
        let next = match (stage, action) {
            (Stage::Attract, UserAction::Start) => Next::To(Stage::Language),
            (stage @ (Stage::Attract | Stage::Language), UserAction::ChooseLanguage(language)) => {
                self.language = language;
                drop(stage);
                Next::To(Stage::Home)
            }
            (stage, UserAction::ChooseLanguage(language)) => {
                self.language = language;
                Next::Stay(stage)
            }
            (Stage::Home, action) => self.on_home(action, effects),
            // A journey's last screen, or a problem: the citizen is done.
            (stage, UserAction::Finish) if stage.over() || matches!(stage, Stage::Error { .. }) => {
                self.end(effects);
                return;
            }
            (Stage::Error { retry: Some(draft), .. }, UserAction::Retry) => Next::To(Stage::Review(draft)),
            // Each journey's own screens: its file.
            (Stage::Booking(booking), action) => Next::To(self.on_booking_action(booking, action, effects)),
            (stage @ (Stage::Status(_) | Stage::StatusShown { .. }), action) => self.on_status_action(stage, action, effects),
            (stage @ Stage::Pickup(_), action) => self.on_pickup_action(stage, action, effects),
            (stage @ Stage::Queues, action) => self.on_ticket_action(stage, action, effects),
            (stage, action) => self.on_apply_action(stage, action, effects),
        };
        match next {
            Next::To(next) => self.set_stage(next),
            // Anything else (a stale touch, a double tap) changes nothing.
            Next::Stay(stage) => self.stage = stage,
        }
    }

    /// The home screen's tiles: each starts its journey.
    fn on_home(&mut self, action: UserAction, effects: &mut Vec<Effect>) -> Next {
        Next::To(match action {
            UserAction::Apply => Stage::Services,
            UserAction::Collect if self.readiness.document_printer => Stage::Pickup(PickupForm::opened(Some(0))),
            UserAction::CheckStatus => Stage::Status(StatusForm::new()),
            UserAction::BookAppointment if self.readiness.receipt_printer => self.start_booking(effects),
            UserAction::TakeTicket if self.readiness.receipt_printer && !self.queues().is_empty() => Stage::Queues,
            _ => return Next::Stay(Stage::Home),
        })
    }

    /// A scanned receipt fills the pickup form, and from the home screen opens it; a sign-in
    /// code identifies the citizen on the identification step. Elsewhere a scan means nothing.
    fn on_scan(&mut self, code: ScannedCode, effects: &mut Vec<Effect>) {
        let app = match &self.stage {
            Stage::Identify(form) => app_accepted(&form.service, &self.readiness),
            _ => false,
        };
        match (&mut self.stage, code) {
            (Stage::Pickup(form), code) => form.scanned(code),
            (Stage::Booking(booking), code) => Self::on_booking_scan(booking, code),
            // The app's code: every application of its holder, once the code is checked.
            (Stage::Status(form), ScannedCode::SignIn(code)) if self.readiness.online => {
                form.entry.focus = None;
                form.problem = None;
                let form = std::mem::take(form);
                effects.push(Effect::CheckSignIn(code));
                self.set_stage(Stage::StatusChecking(form));
            }
            (Stage::Status(form), ScannedCode::SignIn(_)) => form.problem = Some(balcao_ui::view::StatusProblem::HolderOffline),
            (Stage::Status(form), code) => form.scanned(code),
            (Stage::Identify(form), _) if form.busy => {}
            (Stage::Identify(form), ScannedCode::SignIn(code)) if app => {
                form.busy = true;
                form.problem = None;
                form.focus = None;
                effects.push(Effect::CheckSignIn(code));
            }
            (Stage::Identify(form), ScannedCode::SignIn(_)) => form.problem = Some(IdentifyProblem::AppNotEnough),
            (Stage::Identify(form), _) => form.problem = Some(IdentifyProblem::NotASignInCode),
            (Stage::Home, ScannedCode::Receipt { reference }) if self.readiness.document_printer => {
                self.set_stage(Stage::Pickup(PickupForm::from_receipt(reference)));
            }
            _ => {}
        }
    }

    /// A document laid on the OCR reader fills the details and reads the chip at once.
    fn on_zone(&mut self, key: Option<AccessKey>, effects: &mut Vec<Effect>) {
        let chip = chip_accepted(&self.readiness);
        // On the status screen, a document laid on the reader lists its holder's applications.
        if let Stage::Status(form) = &mut self.stage {
            match key {
                _ if !chip => {}
                _ if !self.readiness.online => form.problem = Some(balcao_ui::view::StatusProblem::HolderOffline),
                Some(key) => {
                    form.entry.focus = None;
                    form.problem = None;
                    let form = std::mem::take(form);
                    effects.push(Effect::ReadIdentity(key));
                    self.set_stage(Stage::StatusChecking(form));
                }
                None => form.problem = Some(balcao_ui::view::StatusProblem::DocumentNotRead),
            }
            return;
        }
        let Stage::Identify(form) = &mut self.stage else { return };
        if form.busy || !chip {
            return;
        }
        form.focus = None;
        match key {
            Some(key) => {
                form.fill(&key);
                form.busy = true;
                form.problem = None;
                effects.push(Effect::ReadIdentity(key));
            }
            None => form.problem = Some(IdentifyProblem::ZoneUnreadable),
        }
    }

    fn on_result(&mut self, event: Event, effects: &mut Vec<Effect>) {
        let stage = std::mem::replace(&mut self.stage, Stage::Attract);
        let next = match (stage, event) {
            (Stage::Booking(booking), Event::Booking(news)) => Next::To(self.on_booking_news(booking, news, effects)),
            (stage, Event::Booking(BookingNews::Held(hold_id))) => {
                // A place held for a citizen who has left: let go at once.
                effects.push(Effect::ReleaseHold { hold_id });
                Next::Stay(stage)
            }
            // Each journey's own answers: its file.
            (stage @ Stage::StatusChecking(_), event) => self.on_status_result(stage, event, effects),
            (stage @ (Stage::PickupChecking(_) | Stage::Collecting { .. }), event) => self.on_pickup_result(stage, event, effects),
            (stage @ Stage::Ticketing { .. }, event) => Self::on_ticket_result(stage, event),
            (stage, event) => self.on_apply_result(stage, event, effects),
        };
        match next {
            Next::To(next) => self.set_stage(next),
            // A late answer for a stage already left (e.g. after a timeout) changes nothing.
            Next::Stay(stage) => self.stage = stage,
        }
    }
}

#[cfg(test)]
mod tests;
