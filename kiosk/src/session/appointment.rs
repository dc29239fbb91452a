//! Booking an appointment at a counter, and cancelling one. Online only: a place is shared by
//! every kiosk of the centre, so only central can give it, and the journey says so at its start
//! when central cannot be reached. The citizen picks a service (when there are several), a day
//! and a time; the kiosk holds that place at central while the citizen types their date of
//! birth and confirms, then books it and prints the confirmation. A place someone else took a
//! moment before is said so, with the times refreshed. Cancelling takes the booking number (typed,
//! or the confirmation's QR scanned) and the date of birth.
//!
//! The journey's states ([`Booking`]), what it asks the kiosk to do (the `Effect`s it returns)
//! and what it makes of the answers ([`BookingNews`]) are all here; the kiosk's side is
//! `runtime/appointment.rs`.

use std::sync::Arc;

use balcao_backend_client::api::{Appointment, AppointmentDay, AppointmentDays, Catalog, Service, ServiceKind};
use balcao_ui::view::{
    AppointmentDayView, AppointmentProblem, AppointmentStep, AppointmentTimeView, AppointmentView, ServiceTile, UserAction,
};
use uuid::Uuid;

use super::entry::NumberAndBirth;
use super::pickup::ScannedCode;
use super::view::shown;
use super::{Effect, Session, Stage, api_language};
use crate::receipt::AppointmentContent;

/// Days ahead a citizen is offered.
pub const BOOKING_DAYS: u16 = 14;
/// A booking number's length (`AP-XXXX-XXXX`).
const MAX_NUMBER: usize = 12;

/// What central answered, as the kiosk's loop reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookingNews {
    /// The free places of the service asked for (`None`: central could not be asked).
    Slots(Option<AppointmentDays>),
    /// The place is held under this id.
    Held(Uuid),
    /// Every place of the slot was taken.
    Full,
    Booked(Box<Appointment>),
    /// The hold ran out before the confirmation.
    Lapsed,
    /// The confirmation came out of the printer (or did not).
    Printed(bool),
    Cancelled(Box<Appointment>),
    /// No booking with this number and date of birth.
    NoMatch,
    /// Too many wrong tries of this number.
    Slowed,
    /// The appointment's time has passed.
    Past,
    /// Central did not answer (or failed) while holding, booking or cancelling.
    NoAnswer,
}

/// The journey's state.
#[derive(Clone, Debug)]
pub struct Booking {
    step: AppointmentStep,
    /// The bookable services, when the citizen has several to choose from.
    services: Vec<Service>,
    service: Option<Service>,
    days: Vec<AppointmentDay>,
    day: usize,
    time: Option<String>,
    /// The place held at central for this citizen, until booked or let go.
    hold: Option<Uuid>,
    /// The date of birth (details), or the booking number and date of birth (cancelling).
    entry: NumberAndBirth,
    problem: Option<AppointmentProblem>,
    /// The appointment booked, or cancelled.
    done: Option<Appointment>,
    printed: bool,
}

impl Booking {
    fn new(step: AppointmentStep, services: Vec<Service>) -> Self {
        Self {
            step,
            services,
            service: None,
            days: Vec::new(),
            day: 0,
            time: None,
            hold: None,
            entry: NumberAndBirth::default(),
            problem: None,
            done: None,
            printed: false,
        }
    }

    /// The kiosk is working (asking central, printing): no idle timeout, no touches taken.
    pub fn busy(&self) -> bool {
        matches!(
            self.step,
            AppointmentStep::Loading
                | AppointmentStep::Holding
                | AppointmentStep::Confirming
                | AppointmentStep::Printing
                | AppointmentStep::Cancelling
        )
    }

    /// The journey has ended well: the screen waits for "finish", on the shorter timeout.
    pub fn over(&self) -> bool {
        matches!(self.step, AppointmentStep::Booked | AppointmentStep::Cancelled)
    }

    /// The place held and not booked, which must be let go if the citizen leaves.
    pub fn held(&self) -> Option<Uuid> {
        self.hold.filter(|_| self.done.is_none())
    }

    fn fetch(&mut self, service: Service, effects: &mut Vec<Effect>) {
        effects.push(Effect::FetchSlots { service_id: service.id.clone() });
        self.service = Some(service);
        self.step = AppointmentStep::Loading;
    }

    /// Where "back" leads from the slots or the cancellation form: the list of services, or
    /// home (`None`).
    fn back(mut self) -> Option<Self> {
        if self.services.len() > 1 {
            self.step = AppointmentStep::Services;
            self.problem = None;
            Some(self)
        } else {
            None
        }
    }

    /// The days as central gave them; the chosen day stays chosen if it is still offered.
    fn take_days(&mut self, found: AppointmentDays) {
        let chosen = self.days.get(self.day).map(|d| d.date);
        self.days = found.days;
        self.day = chosen
            .and_then(|date| self.days.iter().position(|d| d.date == date))
            .or_else(|| self.days.iter().position(AppointmentDay::has_free))
            .unwrap_or(0);
        self.time = None;
        self.step = AppointmentStep::Slots;
    }

    fn cancel_form(&mut self) {
        self.entry = NumberAndBirth::new(MAX_NUMBER, Some(0));
        self.problem = None;
        self.step = AppointmentStep::Cancel;
    }
}

/// The catalog's services that are booked rather than applied for.
fn bookable(catalog: Option<&Arc<Catalog>>) -> Vec<Service> {
    catalog.map_or_else(Vec::new, |c| c.services.iter().filter(|s| s.kind == ServiceKind::Appointment).cloned().collect())
}

impl Session {
    /// Whether the catalog lists services to book.
    pub(super) fn appointments_offered(&self) -> bool {
        !bookable(self.catalog.as_ref()).is_empty()
    }

    /// The citizen chose "book an appointment".
    pub(super) fn start_booking(&mut self, effects: &mut Vec<Effect>) -> Stage {
        let mut services = bookable(self.catalog.as_ref());
        if services.is_empty() {
            return Stage::Home;
        }
        if !self.readiness.online {
            // Said at once, before the citizen chooses anything.
            return Stage::Booking(Booking::new(AppointmentStep::Unreachable, services));
        }
        if services.len() == 1 {
            let mut booking = Booking::new(AppointmentStep::Loading, Vec::new());
            booking.fetch(services.remove(0), effects);
            return Stage::Booking(booking);
        }
        Stage::Booking(Booking::new(AppointmentStep::Services, services))
    }

    pub(super) fn on_booking_action(&mut self, mut booking: Booking, action: UserAction, effects: &mut Vec<Effect>) -> Stage {
        use AppointmentStep as Step;
        if booking.busy() {
            return Stage::Booking(booking);
        }
        match (booking.step, action) {
            (Step::Services, UserAction::ChooseBookable(id)) => {
                if let Some(service) = booking.services.iter().find(|s| s.id == id).cloned() {
                    booking.problem = None;
                    booking.fetch(service, effects);
                }
            }
            (Step::Services | Step::Unreachable, UserAction::AppointmentBack) => return Stage::Home,
            (Step::Slots, UserAction::ChooseDay(day)) if day < booking.days.len() => {
                booking.day = day;
                booking.problem = None;
            }
            (Step::Slots, UserAction::ChooseTime(time)) => {
                let open = booking.days.get(booking.day).is_some_and(|d| d.slots.iter().any(|s| s.time == time && s.free > 0));
                if let (true, Some(service), Some(day)) = (open, &booking.service, booking.days.get(booking.day)) {
                    effects.push(Effect::HoldSlot { service_id: service.id.clone(), date: day.date, time: time.clone() });
                    booking.time = Some(time);
                    booking.problem = None;
                    booking.step = Step::Holding;
                }
            }
            (Step::Slots | Step::Cancel, UserAction::AppointmentBack) => {
                return booking.back().map_or(Stage::Home, Stage::Booking);
            }
            (Step::Services | Step::Slots, UserAction::CancelAppointment) => booking.cancel_form(),
            (Step::Details | Step::Cancel, UserAction::Focus(field)) => {
                // The details ask only for the date of birth.
                let field = if booking.step == Step::Details { field.map(|_| 1) } else { field };
                booking.entry.focus(field);
            }
            // A key that reached a field clears the problem shown.
            (Step::Details | Step::Cancel, UserAction::Key(key)) if booking.entry.key(&key) => booking.problem = None,
            (Step::Details | Step::Cancel, UserAction::Backspace) if booking.entry.backspace() => booking.problem = None,
            (Step::Details, UserAction::AppointmentNext) => match (booking.entry.date_of_birth(), booking.hold) {
                (Some(date_of_birth), Some(hold_id)) => {
                    booking.entry.focus = None;
                    effects.push(Effect::ConfirmBooking { hold_id, date_of_birth, language: api_language(self.language) });
                    booking.step = Step::Confirming;
                }
                _ => {
                    booking.problem = Some(AppointmentProblem::InvalidDate);
                    booking.entry.retype_birth();
                }
            },
            (Step::Details, UserAction::AppointmentBack) => {
                // The place is let go for others; the citizen chooses again.
                if let Some(hold_id) = booking.hold.take() {
                    effects.push(Effect::ReleaseHold { hold_id });
                }
                booking.step = Step::Slots;
                booking.time = None;
            }
            (Step::Cancel, UserAction::AppointmentNext) if booking.entry.complete() => match booking.entry.date_of_birth() {
                Some(date_of_birth) => {
                    booking.entry.focus = None;
                    effects.push(Effect::CancelBooking { number: booking.entry.number.clone(), date_of_birth });
                    booking.step = Step::Cancelling;
                }
                None => {
                    booking.problem = Some(AppointmentProblem::InvalidDate);
                    booking.entry.retype_birth();
                }
            },
            _ => {}
        }
        Stage::Booking(booking)
    }

    /// A code scanned on the cancellation form: an appointment confirmation's QR fills the number.
    pub(super) fn on_booking_scan(booking: &mut Booking, code: ScannedCode) {
        if booking.step != AppointmentStep::Cancel {
            return;
        }
        match code {
            ScannedCode::Booking { number } => {
                booking.entry.number = number;
                booking.problem = None;
                booking.entry.focus = if booking.entry.birth_digits.is_empty() { Some(1) } else { None };
            }
            _ => booking.problem = Some(AppointmentProblem::NotABookingCode),
        }
    }

    pub(super) fn on_booking_news(&mut self, mut booking: Booking, news: BookingNews, effects: &mut Vec<Effect>) -> Stage {
        use AppointmentStep as Step;
        match (booking.step, news) {
            (Step::Loading, BookingNews::Slots(Some(found))) => booking.take_days(found),
            (Step::Loading, BookingNews::Slots(None)) => booking.step = Step::Unreachable,
            (Step::Holding, BookingNews::Held(hold_id)) => {
                booking.hold = Some(hold_id);
                booking.entry = NumberAndBirth::new(MAX_NUMBER, Some(1));
                booking.step = Step::Details;
            }
            (Step::Holding | Step::Confirming, news @ (BookingNews::Full | BookingNews::Lapsed)) => {
                // Someone else has the place (or may have, once the hold ran out): the times
                // are asked again, and the citizen told why.
                booking.hold = None;
                booking.problem =
                    Some(if news == BookingNews::Full { AppointmentProblem::SlotTaken } else { AppointmentProblem::HoldLapsed });
                if let Some(service) = booking.service.clone() {
                    booking.fetch(service, effects);
                }
            }
            (Step::Holding, BookingNews::NoAnswer) => {
                booking.problem = Some(AppointmentProblem::NoAnswer);
                booking.step = Step::Slots;
            }
            (Step::Confirming, BookingNews::Booked(appointment)) => {
                effects.push(Effect::PrintBooking(Box::new(self.booking_content(&booking, &appointment))));
                booking.done = Some(*appointment);
                booking.hold = None;
                booking.step = Step::Printing;
            }
            (Step::Confirming, BookingNews::NoAnswer) => {
                // Still held: confirming again books it once.
                booking.problem = Some(AppointmentProblem::NoAnswer);
                booking.step = Step::Details;
            }
            (Step::Printing, BookingNews::Printed(printed)) => {
                booking.printed = printed;
                booking.step = Step::Booked;
            }
            (Step::Cancelling, BookingNews::Cancelled(appointment)) => {
                booking.done = Some(*appointment);
                booking.step = Step::Cancelled;
            }
            (Step::Cancelling, news) => {
                booking.problem = Some(match news {
                    BookingNews::Slowed => AppointmentProblem::TooManyTries,
                    BookingNews::Past => AppointmentProblem::Past,
                    BookingNews::NoMatch => AppointmentProblem::NotFound,
                    _ => AppointmentProblem::NoAnswer,
                });
                booking.entry.retype_birth();
                booking.step = Step::Cancel;
            }
            (_, BookingNews::Held(hold_id)) => {
                // A hold that came back after the citizen moved on is nobody's.
                effects.push(Effect::ReleaseHold { hold_id });
            }
            _ => {}
        }
        Stage::Booking(booking)
    }

    /// The confirmation slip's content, in the citizen's language.
    fn booking_content(&self, booking: &Booking, appointment: &Appointment) -> AppointmentContent {
        let language = api_language(self.language);
        let service = booking.service.as_ref();
        AppointmentContent {
            language: self.language,
            reference: appointment.number.clone(),
            service_name: service.map_or_else(String::new, |s| s.name.get(language).to_string()),
            agency_name: service.map_or_else(String::new, |s| s.agency.name.get(language).to_string()),
            slot: format!("{} {}", appointment.date, appointment.time),
            counter: appointment.counter.clone(),
        }
    }

    pub(super) fn booking_view(&self, booking: &Booking) -> AppointmentView {
        let language = api_language(self.language);
        let weekday = |date: jiff::civil::Date| u8::try_from(date.weekday().to_monday_one_offset()).unwrap_or(1);
        let mut view = AppointmentView {
            step: booking.step,
            services: booking
                .services
                .iter()
                .map(|s| ServiceTile {
                    id: s.id.clone(),
                    name: shown(&s.name, language),
                    agency: shown(&s.agency.name, language),
                    description: shown(&s.description, language),
                    ..ServiceTile::default()
                })
                .collect(),
            service_name: booking.service.as_ref().map_or_else(String::new, |s| shown(&s.name, language)),
            days: booking
                .days
                .iter()
                .enumerate()
                .map(|(i, d)| AppointmentDayView {
                    date: d.date.strftime("%d/%m").to_string(),
                    weekday: weekday(d.date),
                    full: !d.has_free(),
                    selected: i == booking.day,
                })
                .collect(),
            times: booking
                .days
                .get(booking.day)
                .map(|d| d.slots.iter().map(|s| AppointmentTimeView { time: s.time.clone(), free: s.free }).collect())
                .unwrap_or_default(),
            date_of_birth: booking.entry.birth_shown(),
            focused: booking.entry.focus,
            problem: booking.problem,
            printed: booking.printed,
            ..AppointmentView::default()
        };
        if let Some(day) = booking.days.get(booking.day) {
            view.date = day.date.strftime("%d/%m/%Y").to_string();
            view.weekday = weekday(day.date);
        }
        view.time = booking.time.clone().unwrap_or_default();
        if booking.step == AppointmentStep::Cancel || booking.step == AppointmentStep::Cancelling {
            view.number = booking.entry.number.clone();
        }
        if let Some(done) = &booking.done {
            view.number = done.number.clone();
            view.date = done.date.strftime("%d/%m/%Y").to_string();
            view.weekday = weekday(done.date);
            view.time = done.time.clone();
            view.counter = done.counter.clone().unwrap_or_default();
            if view.service_name.is_empty() {
                let name = self.catalog.as_ref().and_then(|c| c.service(&done.service_id));
                view.service_name = name.map_or_else(String::new, |s| shown(&s.name, language));
            }
        }
        view
    }
}
