//! What the UI shows and what the citizen does, as plain Rust data: the kiosk's session
//! produces a [`View`] and consumes [`UserAction`]s without knowing anything of Slint.

/// The kiosk's languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    ZhHant,
    Pt,
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::ZhHant, Language::Pt, Language::En];

    /// BCP 47 tag, also the name of the translation folder.
    pub fn tag(self) -> &'static str {
        match self {
            Language::ZhHant => "zh-Hant",
            Language::Pt => "pt",
            Language::En => "en",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// The language's name in itself, as on the language buttons.
    pub fn endonym(self) -> &'static str {
        match self {
            Language::ZhHant => "繁體中文",
            Language::Pt => "Português",
            Language::En => "English",
        }
    }

    /// "Use this language", in the language itself.
    pub fn prompt(self) -> &'static str {
        match self {
            Language::ZhHant => "使用繁體中文",
            Language::Pt => "Usar o português",
            Language::En => "Use English",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Screen {
    #[default]
    Attract,
    Language,
    Home,
    Services,
    /// The service needs to know who is applying: the app's sign-in code, or the chip of an
    /// identity document.
    Identify,
    Form,
    Review,
    Payment,
    Printing,
    Done,
    /// Collecting a certificate: the application number and the holder's document number.
    Pickup,
    /// The certificate is being printed.
    Collecting,
    /// The certificate came out.
    Collected,
    /// Taking a queue ticket: the centre's counter queues.
    Queues,
    /// The ticket is being printed.
    Ticketing,
    /// The ticket came out: its number, large.
    Ticket,
    /// Checking an application's status: the number and the applicant's date of birth, then
    /// what was found.
    Status,
    /// Booking a counter appointment (or cancelling one): the service, the day and time, the
    /// date of birth, then the booking.
    Appointment,
    Error,
    OutOfService,
}

impl Screen {
    /// The screen's name, as the kiosk reports it to central (never what it shows).
    pub fn name(self) -> &'static str {
        match self {
            Self::Attract => "attract",
            Self::Language => "language",
            Self::Home => "home",
            Self::Services => "services",
            Self::Identify => "identify",
            Self::Form => "form",
            Self::Review => "review",
            Self::Payment => "payment",
            Self::Printing => "printing",
            Self::Done => "done",
            Self::Pickup => "pickup",
            Self::Collecting => "collecting",
            Self::Collected => "collected",
            Self::Queues => "queues",
            Self::Ticketing => "ticketing",
            Self::Ticket => "ticket",
            Self::Status => "status",
            Self::Appointment => "appointment",
            Self::Error => "error",
            Self::OutOfService => "out-of-service",
        }
    }
}

/// Why a service cannot be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unavailable {
    PaymentTerminal,
    ReceiptPrinter,
    DocumentPrinter,
    IdentityReader,
    CodeScanner,
    Offline,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServiceTile {
    pub id: String,
    pub name: String,
    pub agency: String,
    pub description: String,
    /// Formatted, e.g. `MOP 30.00`; empty when free.
    pub fee: String,
    pub free: bool,
    /// The fee is per copy ordered.
    pub per_copy: bool,
    pub processing_days: u16,
    pub unavailable: Option<Unavailable>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServicesView {
    pub loading: bool,
    pub tiles: Vec<ServiceTile>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    Text,
    Date,
    Number,
    Choice,
    YesNo,
}

/// What is wrong with an answer, with its numbers (a maximum length, a range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldProblem {
    Required,
    TooLong(u32),
    OutOfRange(i64, i64),
    InvalidDate,
    DateNotInPast,
    DateNotInFuture,
    NotAnOption,
    WrongType,
    InvalidDocumentNumber,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldView {
    /// Filled from the citizen's identification: shown, not editable.
    pub locked: bool,
    pub id: String,
    pub label: String,
    pub help: String,
    pub field_type: FieldType,
    pub required: bool,
    /// The answer as shown.
    pub value: String,
    pub number: i64,
    pub min: i64,
    pub max: i64,
    pub max_length: u32,
    pub options: Vec<ChoiceView>,
    pub yes_no: Option<bool>,
    pub problem: Option<FieldProblem>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum KeyboardMode {
    #[default]
    None,
    Letters,
    Digits,
    /// A Chinese input method, with its candidate bar (see [`FormView::ime`]).
    Chinese,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FormView {
    pub service_name: String,
    pub fields: Vec<FieldView>,
    pub focused: Option<usize>,
    pub keyboard: KeyboardMode,
    /// The Chinese keyboard's state, while it shows.
    pub ime: ImeView,
    /// Asking whether Back should erase the answers.
    pub confirm_leave: bool,
}

/// An answer as shown for review; yes/no and "not answered" are words the UI translates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewAnswer {
    Text(String),
    Yes,
    No,
    NotAnswered,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRow {
    pub label: String,
    pub answer: ReviewAnswer,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ReviewView {
    pub service_name: String,
    pub agency: String,
    /// Every field and its answer, as the citizen will check them.
    pub rows: Vec<ReviewRow>,
    pub fee: String,
    pub free: bool,
    pub consent: bool,
    /// How the applicant was identified, when the service asked for it.
    pub identified_by: Option<IdentifiedBy>,
}

/// How the citizen was identified, as the screens say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentifiedBy {
    App,
    /// The chip, its issuer's signature checked.
    ChipVerified,
    /// The chip, its issuer's signature not checkable here.
    ChipUnverified,
}

/// Why the citizen is not identified yet; each has its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentifyProblem {
    /// The typed dates are not complete dates.
    DetailsIncomplete,
    /// The chip refused the typed details: they are not this document's.
    DetailsDoNotMatch,
    NoDocument,
    /// The document was moved away during the read.
    DocumentMoved,
    /// The chip could not be read (damaged, unsupported, no answer).
    DocumentUnreadable,
    ReaderUnavailable,
    DocumentExpired,
    /// The service needs a chip whose issuer's signature is checked, and this one's is not.
    IssuerNotVerified,
    /// The service needs the chip; an app code is not enough.
    AppNotEnough,
    SignInExpired,
    SignInUsed,
    /// The code is for another service centre.
    SignInOtherCentre,
    /// Altered, damaged or not from the identity provider.
    SignInInvalid,
    /// The kiosk cannot check the code now (keys not yet here, or clocks apart).
    SignInUncheckable,
    /// A code was scanned that is not a sign-in code.
    NotASignInCode,
    /// The OCR reader could not read the document's zone cleanly.
    ZoneUnreadable,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IdentifyView {
    pub service_name: String,
    /// The app's sign-in code is accepted (and the scanner works).
    pub app_accepted: bool,
    /// The chip is accepted (and the reader works).
    pub chip_accepted: bool,
    /// An OCR reader reads the details from the document laid on it.
    pub zone_reader: bool,
    /// As typed; dates as `DD/MM/YYYY` while typing.
    pub document_number: String,
    pub date_of_birth: String,
    pub date_of_expiry: String,
    /// 0: document number, 1: date of birth, 2: date of expiry.
    pub focused: Option<usize>,
    pub keyboard: KeyboardMode,
    /// Reading the chip or checking a code.
    pub busy: bool,
    pub problem: Option<IdentifyProblem>,
}

/// What the payment terminal asks of the citizen.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum PaymentPrompt {
    #[default]
    Connecting,
    PresentCard,
    EnterPin,
    Processing,
    RemoveCard,
    Cancelling,
    /// Text from the terminal with no known meaning, shown as it came.
    TerminalText(String),
}

/// Whether the citizen can still stop the payment, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PaymentCancel {
    /// The kiosk's Cancel button stops it (the terminal waits for the card).
    #[default]
    Offered,
    /// The terminal asks for the PIN: only its own cancel key stops it now.
    OnTerminal,
    /// The card is read and the bank is asked: nothing stops it now.
    NotNow,
    /// The citizen cancelled; an approval that still comes is released, never charged.
    Requested,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PaymentView {
    pub amount: String,
    pub prompt: PaymentPrompt,
    pub cancel: PaymentCancel,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DoneView {
    pub reference: String,
    pub service_name: String,
    pub agency: String,
    pub processing_days: u16,
    pub collect_at_counter: bool,
}

/// Why a certificate cannot be handed out as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PickupProblem {
    /// No certificate under this number is ready at this centre.
    NotFound,
    /// As `NotFound`, while central cannot be reached: it may be ready but not yet here.
    NotFoundOffline,
    /// The document number is not the holder's.
    DetailsDoNotMatch,
    /// The scanned code is not one of our receipts.
    NotAReceiptCode,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PickupView {
    /// The application number as typed.
    pub reference: String,
    /// The holder's identity document number as typed.
    pub document_number: String,
    /// 0: the application number, 1: the document number.
    pub focused: Option<usize>,
    /// Looking the certificate up.
    pub checking: bool,
    pub problem: Option<PickupProblem>,
    /// The certificate's service, once found.
    pub service_name: String,
}

/// Why a status cannot be shown as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusProblem {
    /// Central has no application with this number and date of birth (it does not say which).
    NotFound,
    /// Central cannot be reached and this kiosk has no application with this number and date
    /// of birth (it knows only its own).
    NotFoundOffline,
    /// Too many wrong tries of this number: it answers nothing for a while.
    TooManyTries,
    /// The date of birth typed is not a date.
    InvalidDate,
    /// The scanned code is not one of our receipts nor the app's sign-in code.
    NotAReceiptCode,
    /// The app's sign-in code was refused (expired, used, not for this centre, forged).
    SignInRefused,
    /// The citizen's identity was checked and central has no application of theirs.
    NoneForHolder,
    /// Looking applications up by identity needs central, which cannot be reached.
    HolderOffline,
    /// The document on the reader could not be read, or its chip's signature does not hold.
    DocumentNotRead,
}

/// Where an application stands, as the citizen reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StatusState {
    /// Saved at this kiosk and not yet sent to the agency (central could not be reached).
    #[default]
    NotSent,
    Received,
    InReview,
    Ready,
    Rejected,
    Collected,
}

/// What the citizen does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StatusStep {
    /// Nothing: it is being processed (or waits to be sent).
    #[default]
    Wait,
    /// Print the certificate at a kiosk of this centre.
    CollectAtKiosk,
    CollectAtCounter,
    /// Nothing more (collected, or sent electronically).
    Nothing,
    /// Refused: ask at the counter.
    AskAtCounter,
}

/// One step of an application's history.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StatusLine {
    /// Local date and time, `YYYY-MM-DD HH:MM`.
    pub at: String,
    pub state: StatusState,
}

/// An application's status as found.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StatusResult {
    pub reference: String,
    pub service_name: String,
    pub state: StatusState,
    pub next_step: StatusStep,
    /// The last day of the processing time, `YYYY-MM-DD`.
    pub due: String,
    pub on_time: bool,
    pub history: Vec<StatusLine>,
    /// Offline: when this kiosk last heard of the application (`YYYY-MM-DD HH:MM`); empty when
    /// the status is central's, live.
    pub as_of: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StatusView {
    /// The application number as typed or scanned.
    pub reference: String,
    /// The date of birth as typed, `DD/MM/YYYY`.
    pub date_of_birth: String,
    /// 0: the application number, 1: the date of birth.
    pub focused: Option<usize>,
    pub checking: bool,
    pub problem: Option<StatusProblem>,
    /// What was found: one application (by its number), or a person's (by their identity);
    /// empty while the form shows.
    pub results: Vec<StatusResult>,
    /// Found by the citizen's identity (their applications, possibly none).
    pub by_identity: bool,
    /// A document laid on the reader can be read here (an OCR reader and a chip reader).
    pub document_reader: bool,
}

/// Where booking (or cancelling) an appointment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AppointmentStep {
    /// Choosing one of several bookable services.
    #[default]
    Services,
    /// Asking central for the free places.
    Loading,
    /// Choosing a day and a time.
    Slots,
    /// Holding the chosen place.
    Holding,
    /// The place is held: the citizen types their date of birth and confirms.
    Details,
    /// Booking the held place.
    Confirming,
    /// Printing the confirmation.
    Printing,
    /// Booked: the number, the day and the time (printed or not: see `printed`).
    Booked,
    /// Central cannot be reached: nothing can be booked or cancelled now.
    Unreachable,
    /// Cancelling: the booking number and the date of birth.
    Cancel,
    Cancelling,
    Cancelled,
}

/// What went wrong on the way, shown above the step it sends the citizen back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppointmentProblem {
    /// Another citizen took the last place at that time a moment ago.
    SlotTaken,
    /// The place was held too long without a confirmation and was let go.
    HoldLapsed,
    /// Central did not answer in time (nothing was booked or cancelled).
    NoAnswer,
    /// The date of birth typed is not a date.
    InvalidDate,
    /// No booking with this number and date of birth (central does not say which).
    NotFound,
    /// Too many wrong tries of this number.
    TooManyTries,
    /// The appointment's time has passed.
    Past,
    /// The scanned code is not an appointment confirmation.
    NotABookingCode,
}

/// A day that can be booked.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AppointmentDayView {
    /// `DD/MM`.
    pub date: String,
    /// 1 Monday … 7 Sunday (the screen names it in the citizen's language).
    pub weekday: u8,
    /// No place left that day.
    pub full: bool,
    pub selected: bool,
}

/// A time of the chosen day.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AppointmentTimeView {
    /// `HH:MM`.
    pub time: String,
    /// Places left (0: full).
    pub free: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AppointmentView {
    pub step: AppointmentStep,
    /// The bookable services, when there are several to choose from.
    pub services: Vec<ServiceTile>,
    pub service_name: String,
    pub days: Vec<AppointmentDayView>,
    /// The chosen day's times.
    pub times: Vec<AppointmentTimeView>,
    /// The chosen (or booked, or cancelled) day, `DD/MM/YYYY`, its weekday and its time.
    pub date: String,
    pub weekday: u8,
    pub time: String,
    /// The counter to go to, when central's schedule names one.
    pub counter: String,
    /// The booking number: as booked, or as typed on the cancellation form.
    pub number: String,
    /// The date of birth as typed, `DD/MM/YYYY`.
    pub date_of_birth: String,
    /// 0: the booking number, 1: the date of birth.
    pub focused: Option<usize>,
    pub problem: Option<AppointmentProblem>,
    /// The confirmation came out of the printer.
    pub printed: bool,
}

/// A counter queue the citizen can take a ticket for.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QueueTile {
    pub id: String,
    /// The letter its ticket numbers start with.
    pub letter: char,
    pub name: String,
    pub description: String,
}

/// The ticket just issued.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TicketView {
    pub number: String,
    pub queue_name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Problem {
    #[default]
    PaymentDeclined,
    WrongPin,
    CardExpired,
    CardNotAccepted,
    PaymentTimedOut,
    PaymentCancelled,
    TerminalUnavailable,
    /// The terminal's answer was lost or contradictory: whether an amount is reserved is
    /// unknown; the kiosk settles it with the terminal, releasing anything reserved.
    PaymentUnresolved,
    /// The reservation of a payment that did not go ahead could not be released yet: the kiosk
    /// keeps trying; it is never charged.
    ReleasePending,
    NotSaved,
    ReceiptNotPrinted,
    /// A device or the network the service needs failed between choosing it and paying.
    ServiceUnavailable,
    /// The certificate printer failed before anything came out; nothing was recorded.
    CertificateNotPrinted,
    /// The certificate printer stopped answering mid-job: it may have printed.
    CertificatePrintUncertain,
    /// The certificate's file did not verify (altered, or not signed by the agency): it was
    /// not printed; staff were told.
    CertificateNotGenuine,
    /// Too many numbers that do not match: the citizen is sent to the counter.
    PickupRefused,
    /// Too many application numbers not found: the citizen is sent to the counter.
    PickupNotFound,
    /// Too many status checks found nothing: the citizen is sent to the counter.
    StatusNotFound,
    /// The queue ticket did not print.
    TicketNotPrinted,
    /// The printer stopped mid-ticket: the number is shown, and it will be called.
    TicketPrintUncertain,
    /// The document's chip data does not match its issuer's signature: sent to the counter.
    DocumentRejected,
    /// Too many attempts to identify: sent to the counter.
    IdentifyRefused,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ErrorView {
    pub problem: Problem,
    /// The application number, when it was saved.
    pub reference: String,
    /// The application's status page, shown as a QR code when its receipt did not print.
    pub status_link: String,
    pub can_retry: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OutOfService {
    #[default]
    StorageFault,
    NoCatalog,
    Maintenance,
}

/// Where a citizen's call for an attendant stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AttendantState {
    /// No call.
    #[default]
    None,
    /// Being sent to central.
    Calling,
    /// Staff are told; nobody has answered yet.
    Called,
    /// Staff acknowledged it: someone is on the way.
    Coming,
    /// Staff cannot be reached from this kiosk now: the citizen is sent to the counter.
    Unreachable,
}

/// The call for an attendant as the screen shows it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AttendantView {
    pub state: AttendantState,
    /// When staff acknowledged the call (`HH:MM`).
    pub acknowledged_at: String,
    /// Whether the call's panel covers the screen (the citizen can put it aside and go on).
    pub shown: bool,
}

/// Everything on screen.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct View {
    pub screen: Screen,
    pub language: Language,
    pub online: bool,
    /// The clock time the network went down, while it is down.
    pub offline_since: String,
    /// Writes saved at the kiosk and not yet acknowledged by central.
    pub pending_uploads: u32,
    pub clock: String,
    /// Seconds before an idle session is wiped, while the warning shows.
    pub idle_seconds_left: Option<u32>,
    pub services: ServicesView,
    pub identify: IdentifyView,
    pub form: FormView,
    pub review: ReviewView,
    pub payment: PaymentView,
    pub done: DoneView,
    /// Why the "collect a certificate" tile cannot be used now, if it cannot.
    pub collect_unavailable: Option<Unavailable>,
    pub pickup: PickupView,
    /// Why the "take a queue ticket" tile cannot be used now, if it cannot.
    pub ticket_unavailable: Option<Unavailable>,
    /// The centre's counter queues (empty: no tickets are issued here).
    pub queues: Vec<QueueTile>,
    pub ticket: TicketView,
    pub status: StatusView,
    /// Why the "book an appointment" tile cannot be used now, if it cannot.
    pub appointment_unavailable: Option<Unavailable>,
    /// Whether the catalog lists services to book (no tile otherwise).
    pub appointments_offered: bool,
    pub appointment: AppointmentView,
    pub error: ErrorView,
    pub out_of_service: OutOfService,
    /// Central's staff's message on the out-of-service screen, one line per language, the
    /// screen's language first (empty: none).
    pub out_of_service_message: Vec<String>,
    /// Whether the screen offers the "call an attendant" button (every screen of a journey).
    pub can_call_attendant: bool,
    pub attendant: AttendantView,
}

/// What stands for a value a citizen typed, scanned or read, in a masked view: always the
/// same, so not even a value's length shows.
pub const MASK: &str = "••••••";

impl View {
    /// This view with every value a citizen typed, scanned, chose or had read replaced by
    /// [`MASK`] (or unchosen): what a staff member's screenshot shows. What the kiosk itself
    /// says (the catalog, the prompts, the state of a call) stays.
    pub fn masked(&self) -> View {
        let hide = |value: &mut String| {
            if !value.is_empty() {
                *value = MASK.to_string();
            }
        };
        let mut view = self.clone();
        for field in &mut view.form.fields {
            hide(&mut field.value);
            if field.field_type == FieldType::Number {
                // A number shows as text, masked like the rest.
                field.field_type = FieldType::Text;
                field.value = MASK.to_string();
                field.number = 0;
            }
            field.options.iter_mut().for_each(|o| o.selected = false);
            field.yes_no = None;
        }
        for row in &mut view.review.rows {
            if row.answer != ReviewAnswer::NotAnswered {
                row.answer = ReviewAnswer::Text(MASK.to_string());
            }
        }
        view.review.consent = false;
        hide(&mut view.identify.document_number);
        hide(&mut view.identify.date_of_birth);
        hide(&mut view.identify.date_of_expiry);
        hide(&mut view.pickup.reference);
        hide(&mut view.pickup.document_number);
        hide(&mut view.status.reference);
        hide(&mut view.status.date_of_birth);
        for result in &mut view.status.results {
            hide(&mut result.reference);
        }
        hide(&mut view.appointment.number);
        hide(&mut view.appointment.date_of_birth);
        hide(&mut view.done.reference);
        hide(&mut view.error.reference);
        // The status page's address carries the application number.
        view.error.status_link.clear();
        if let PaymentPrompt::TerminalText(text) = &mut view.payment.prompt {
            hide(text);
        }
        view
    }
}

/// A Chinese input method on the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ImeMethod {
    /// 五筆劃: the five strokes.
    #[default]
    Stroke,
    /// 速成: Cangjie radicals.
    Quick,
}

/// The Chinese keyboard's state: the method, what was typed of a code (as strokes or radicals)
/// and the page of candidates.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ImeView {
    pub method: ImeMethod,
    /// The methods this kiosk has (the switch shows only those).
    pub methods: Vec<ImeMethod>,
    /// The code so far, as the strokes or radicals themselves (e.g. `一丿丶`).
    pub code: String,
    pub candidates: Vec<String>,
    /// Pages of candidates before and after this one.
    pub earlier: bool,
    pub later: bool,
}

/// What the citizen did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAction {
    Start,
    ChooseLanguage(Language),
    StillHere,
    Apply,
    /// Collect a certificate that is ready.
    Collect,
    /// Take a queue ticket for a counter.
    TakeTicket,
    /// Check an application's status.
    CheckStatus,
    /// Look the typed number and date of birth up.
    StatusNext,
    /// Leave the status check (from the form or the result).
    StatusBack,
    /// From a result, check another application.
    StatusAnother,
    /// Book an appointment at a counter.
    BookAppointment,
    /// Book this service.
    ChooseBookable(String),
    /// Show this day's times (its index in the list).
    ChooseDay(usize),
    /// Hold a place at this time of the chosen day.
    ChooseTime(String),
    /// Book the held place (details) or cancel the booking typed (cancellation form).
    AppointmentNext,
    /// One step back in the appointment journey (to the home screen from its first step).
    AppointmentBack,
    /// Cancel an appointment instead of booking one.
    CancelAppointment,
    ChooseQueue(String),
    QueuesBack,
    PickupNext,
    PickupBack,
    ChooseService(String),
    ServicesBack,
    /// Read the document on the reader with the typed details.
    IdentifyRead,
    IdentifyBack,
    /// Tapped a field (`None`: closed the keyboard).
    Focus(Option<usize>),
    Key(String),
    Backspace,
    Choose(usize, String),
    SetYesNo(usize, bool),
    Step(usize, i32),
    FormNext,
    FormBack,
    /// A key of the Chinese keyboard (a stroke or a radical, by the table's key).
    ImeKey(char),
    /// The candidate at this place of the bar goes into the field.
    ImeChoose(usize),
    /// Another page of candidates (-1 back, 1 on).
    ImeTurn(i32),
    /// Type Chinese with this method.
    ImeSwitch(ImeMethod),
    /// Back on a form with answers, confirmed: the answers are erased.
    LeaveForm,
    /// Back on a form with answers, taken back: the citizen stays.
    StayOnForm,
    ToggleConsent,
    Confirm,
    Edit,
    CancelPayment,
    Finish,
    Retry,
    /// Call an attendant (or show the call under way).
    CallAttendant,
    /// Put the call's panel aside and go on (the call stays).
    HideAttendant,
    /// The citizen needs no help any more: the call ends.
    CancelAttendant,
}

#[cfg(test)]
mod masking_tests {
    use super::*;

    fn field(field_type: FieldType) -> FieldView {
        FieldView {
            locked: false,
            id: "f".into(),
            label: String::new(),
            help: String::new(),
            field_type,
            required: true,
            value: String::new(),
            number: 0,
            min: 0,
            max: 0,
            max_length: 0,
            options: Vec::new(),
            yes_no: None,
            problem: None,
        }
    }

    #[test]
    fn a_masked_view_holds_nothing_a_citizen_gave_and_everything_the_kiosk_says() {
        let mut view = View { screen: Screen::Review, ..View::default() };
        view.form.service_name = "Certificate of Criminal Record".into();
        view.form.fields = vec![
            FieldView { value: "CHAN TAI MAN".into(), label: "Full name".into(), ..field(FieldType::Text) },
            FieldView { number: 4242, ..field(FieldType::Number) },
            FieldView {
                options: vec![ChoiceView { value: "employment".into(), label: "Employment".into(), selected: true }],
                ..field(FieldType::Choice)
            },
            FieldView { yes_no: Some(true), ..field(FieldType::YesNo) },
        ];
        view.review.rows = vec![
            ReviewRow { label: "Full name".into(), answer: ReviewAnswer::Text("CHAN TAI MAN".into()) },
            ReviewRow { label: "Married".into(), answer: ReviewAnswer::Yes },
            ReviewRow { label: "Notes".into(), answer: ReviewAnswer::NotAnswered },
        ];
        view.identify.document_number = "1234567(8)".into();
        view.identify.date_of_birth = "14/03/1985".into();
        view.pickup.reference = "K01-261122-0012".into();
        view.pickup.document_number = "7654321(0)".into();
        view.done.reference = "K01-261122-0013".into();
        view.error.reference = "K01-261122-0014".into();
        view.error.status_link = "https://status.example/K01-261122-0014".into();
        view.payment.prompt = PaymentPrompt::TerminalText("VISA 4242".into());

        let masked = view.masked();
        let data = format!("{masked:?}");
        for given in ["CHAN", "4242", "1234567", "14/03", "7654321", "K01-261122", "status.example"] {
            assert!(!data.contains(given), "{given} is masked: {data}");
        }
        assert!(masked.form.fields[2].options.iter().all(|o| !o.selected) && masked.form.fields[3].yes_no.is_none());
        assert_eq!(masked.review.rows[1].answer, ReviewAnswer::Text(MASK.into()), "a yes is an answer too");
        assert_eq!(masked.review.rows[2].answer, ReviewAnswer::NotAnswered);
        // What the kiosk says stays: the labels, the options offered, the screen.
        assert_eq!((masked.screen, masked.form.fields[0].label.as_str()), (Screen::Review, "Full name"));
        assert_eq!(masked.form.fields[2].options[0].label, "Employment");
        assert_eq!(masked.form.service_name, "Certificate of Criminal Record");
    }
}
