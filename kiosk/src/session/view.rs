//! What the screen shows for each stage of the session.

use balcao_backend_client::api::{self, Delivery, FieldError, FieldKind, ServiceKind};
use balcao_ui::view::{
    AttendantView, ChoiceView, DoneView, ErrorView, FieldProblem, FieldType, FieldView, FormView, IdentifyView, ImeView, KeyboardMode,
    Language, PaymentCancel, PaymentPrompt, PaymentView, QueueTile, ReviewAnswer, ReviewRow, ReviewView, Screen, ServiceTile, ServicesView,
    TicketView, Unavailable, View,
};

use super::draft::{Draft, Input, Keyboard, date_display};
use super::identify::{IdentifyForm, app_accepted, chip_accepted};
use super::{Session, Stage, api_language, ime};

/// A text of central's catalog as the citizen sees it: in Chinese, its last two characters
/// are kept on one line (see `balcao_ui::cjk`).
pub(super) fn shown(text: &api::LocalizedText, language: api::Language) -> String {
    match language {
        api::Language::ZhHant => balcao_ui::cjk::keep_last_together(text.get(language)),
        api::Language::Pt | api::Language::En => text.get(language).to_string(),
    }
}

fn field_problem(error: &FieldError) -> FieldProblem {
    match error {
        FieldError::Required => FieldProblem::Required,
        FieldError::TooLong { max_length } => FieldProblem::TooLong(*max_length),
        FieldError::OutOfRange { min, max } => FieldProblem::OutOfRange(*min, *max),
        FieldError::InvalidDate => FieldProblem::InvalidDate,
        FieldError::DateNotInPast => FieldProblem::DateNotInPast,
        FieldError::DateNotInFuture => FieldProblem::DateNotInFuture,
        FieldError::NotAnOption => FieldProblem::NotAnOption,
        FieldError::WrongType | FieldError::UnknownField => FieldProblem::WrongType,
        FieldError::InvalidDocumentNumber => FieldProblem::InvalidDocumentNumber,
    }
}

impl Session {
    fn form_view(&self, draft: &Draft) -> FormView {
        let language = api_language(self.language);
        let problems = if draft.show_problems { draft.problems(&self.today) } else { Default::default() };
        let fields = draft
            .service
            .form
            .iter()
            .zip(&draft.inputs)
            .zip(&draft.locked)
            .map(|((field, input), &locked)| {
                let (min, max, max_length) = match &field.kind {
                    FieldKind::Number { min, max } => (*min, *max, 0),
                    FieldKind::Text { max_length } => (0, 0, *max_length),
                    _ => (0, 0, 0),
                };
                let mut view = FieldView {
                    locked,
                    id: field.id.clone(),
                    label: shown(&field.label, language),
                    help: field.help.as_ref().map(|h| shown(h, language)).unwrap_or_default(),
                    field_type: FieldType::Text,
                    required: field.required,
                    value: String::new(),
                    number: 0,
                    min,
                    max,
                    max_length,
                    options: Vec::new(),
                    yes_no: None,
                    problem: problems.get(&field.id).map(field_problem),
                };
                match (input, &field.kind) {
                    (Input::Text(text), _) => view.value = text.clone(),
                    (Input::Date(digits), _) => {
                        view.field_type = FieldType::Date;
                        view.value = date_display(digits);
                    }
                    (Input::Number(n), _) => {
                        view.field_type = FieldType::Number;
                        view.number = *n;
                    }
                    (Input::Choice(chosen), FieldKind::Choice { options }) => {
                        view.field_type = FieldType::Choice;
                        view.options = options
                            .iter()
                            .map(|o| ChoiceView {
                                value: o.value.clone(),
                                label: shown(&o.label, language),
                                selected: chosen.as_ref() == Some(&o.value),
                            })
                            .collect();
                    }
                    (Input::Choice(_), _) => view.field_type = FieldType::Choice,
                    (Input::YesNo(answer), _) => {
                        view.field_type = FieldType::YesNo;
                        view.yes_no = *answer;
                    }
                }
                view
            })
            .collect();
        FormView {
            service_name: shown(&draft.service.name, language),
            fields,
            focused: draft.focus,
            keyboard: match draft.keyboard() {
                None => KeyboardMode::None,
                Some(Keyboard::Letters) => KeyboardMode::Letters,
                Some(Keyboard::Digits) => KeyboardMode::Digits,
                Some(Keyboard::Chinese) => KeyboardMode::Chinese,
            },
            ime: self.ime_view(draft),
            confirm_leave: draft.leaving,
        }
    }

    /// The Chinese keyboard's state for the focused field.
    fn ime_view(&self, draft: &Draft) -> ImeView {
        let Some(method) = draft.composer.method else { return ImeView::default() };
        let (earlier, later) = draft.composer.more();
        let tables = self.input_tables.as_deref();
        ImeView {
            method: method.into(),
            methods: [ime::Method::Stroke, ime::Method::Quick]
                .into_iter()
                .filter(|m| tables.is_some_and(|t| t.table(*m).is_some()))
                .map(Into::into)
                .collect(),
            code: method.shown(&draft.composer.code),
            candidates: draft.composer.page_of_candidates().to_vec(),
            earlier,
            later,
        }
    }

    fn review_view(&self, draft: &Draft) -> ReviewView {
        let language = api_language(self.language);
        let rows = draft
            .service
            .form
            .iter()
            .zip(&draft.inputs)
            .map(|(field, input)| {
                let answer = match (input, &field.kind) {
                    (Input::Text(t), _) if t.trim().is_empty() => ReviewAnswer::NotAnswered,
                    (Input::Text(t), _) => ReviewAnswer::Text(t.trim().to_string()),
                    (Input::Date(d), _) if d.is_empty() => ReviewAnswer::NotAnswered,
                    (Input::Date(d), _) => ReviewAnswer::Text(date_display(d)),
                    (Input::Number(n), _) => ReviewAnswer::Text(n.to_string()),
                    (Input::Choice(Some(value)), FieldKind::Choice { options }) => {
                        ReviewAnswer::Text(options.iter().find(|o| &o.value == value).map_or(value.clone(), |o| shown(&o.label, language)))
                    }
                    (Input::Choice(_), _) => ReviewAnswer::NotAnswered,
                    (Input::YesNo(Some(true)), _) => ReviewAnswer::Yes,
                    (Input::YesNo(Some(false)), _) => ReviewAnswer::No,
                    (Input::YesNo(None), _) => ReviewAnswer::NotAnswered,
                };
                ReviewRow { label: shown(&field.label, language), answer }
            })
            .collect();
        ReviewView {
            service_name: shown(&draft.service.name, language),
            agency: shown(&draft.service.agency.name, language),
            rows,
            fee: language.money(draft.fee_avos()),
            free: draft.fee_avos() == 0,
            consent: draft.consent,
            identified_by: draft.identity.as_ref().map(|i| i.shown_as()),
        }
    }

    fn identify_view(&self, form: &IdentifyForm) -> IdentifyView {
        let (date_of_birth, date_of_expiry) = form.shown_dates();
        IdentifyView {
            service_name: shown(&form.service.name, api_language(self.language)),
            app_accepted: app_accepted(&form.service, &self.readiness),
            chip_accepted: chip_accepted(&self.readiness),
            zone_reader: chip_accepted(&self.readiness) && self.readiness.mrz_reader,
            document_number: form.document_number.clone(),
            date_of_birth,
            date_of_expiry,
            focused: form.focus,
            keyboard: match form.focus {
                None => KeyboardMode::None,
                Some(0) => KeyboardMode::Letters,
                Some(_) => KeyboardMode::Digits,
            },
            busy: form.busy,
            problem: form.problem,
        }
    }

    fn services_view(&self) -> ServicesView {
        let language = api_language(self.language);
        let Some(catalog) = &self.catalog else { return ServicesView { loading: true, tiles: Vec::new() } };
        let tiles = catalog
            .services
            .iter()
            .filter(|s| s.kind == ServiceKind::Application)
            .map(|s| ServiceTile {
                id: s.id.clone(),
                name: shown(&s.name, language),
                agency: shown(&s.agency.name, language),
                description: shown(&s.description, language),
                fee: if s.fee_avos == 0 { String::new() } else { language.money(s.fee_avos) },
                free: s.fee_avos == 0,
                per_copy: s.copies_field.is_some(),
                processing_days: s.processing_days,
                unavailable: self.readiness.blocks(s),
            })
            .collect();
        ServicesView { loading: false, tiles }
    }

    /// The screen shown now.
    pub(super) fn view_screen(&self) -> Screen {
        self.view().screen
    }

    /// Everything the screen shows now.
    pub fn view(&self) -> View {
        let mut view = View {
            language: self.language,
            online: self.readiness.online,
            offline_since: self.offline_since.clone().unwrap_or_default(),
            pending_uploads: self.pending_uploads,
            clock: self.clock.clone(),
            idle_seconds_left: self.idle_seconds_left(),
            collect_unavailable: (!self.readiness.document_printer).then_some(Unavailable::DocumentPrinter),
            ticket_unavailable: (!self.readiness.receipt_printer).then_some(Unavailable::ReceiptPrinter),
            appointments_offered: self.appointments_offered(),
            // Booking needs central (checked first: said before anything else) and the printer.
            appointment_unavailable: if !self.readiness.online {
                Some(Unavailable::Offline)
            } else {
                (!self.readiness.receipt_printer).then_some(Unavailable::ReceiptPrinter)
            },
            can_call_attendant: self.can_call_attendant(),
            attendant: AttendantView { state: self.call, acknowledged_at: self.call_acknowledged_at.clone(), shown: self.call_shown },
            ..View::default()
        };
        let language = api_language(self.language);
        view.queues = self
            .queues()
            .into_iter()
            .map(|q| QueueTile {
                id: q.id.clone(),
                letter: q.letter,
                name: shown(&q.name, language),
                description: shown(&q.description, language),
            })
            .collect();
        view.screen = match &self.stage {
            Stage::Attract => {
                // The welcome screen speaks each language in turn.
                let cycle = self.config.attract_cycle.as_millis().max(1);
                let turn = (self.now.saturating_duration_since(self.stage_since).as_millis() / cycle) as usize;
                view.language = Language::ALL[turn % Language::ALL.len()];
                Screen::Attract
            }
            Stage::Language => Screen::Language,
            Stage::Home => Screen::Home,
            Stage::Services => {
                view.services = self.services_view();
                Screen::Services
            }
            Stage::Identify(form) => {
                view.identify = self.identify_view(form);
                Screen::Identify
            }
            Stage::Form(draft) => {
                view.form = self.form_view(draft);
                Screen::Form
            }
            Stage::Review(draft) => {
                view.review = self.review_view(draft);
                Screen::Review
            }
            Stage::Paying { draft, prompt, cancelling } => {
                let cancel = match prompt {
                    _ if *cancelling => PaymentCancel::Requested,
                    prompt if super::apply::cancellable(prompt) => PaymentCancel::Offered,
                    PaymentPrompt::EnterPin => PaymentCancel::OnTerminal,
                    _ => PaymentCancel::NotNow,
                };
                view.payment = PaymentView { amount: language.money(draft.fee_avos()), prompt: prompt.clone(), cancel };
                Screen::Payment
            }
            Stage::Saving { .. } | Stage::Capturing { .. } | Stage::Printing { .. } | Stage::Reversing { .. } => Screen::Printing,
            Stage::Done { draft, saved } => {
                view.done = DoneView {
                    reference: saved.reference.clone(),
                    service_name: shown(&draft.service.name, language),
                    agency: shown(&draft.service.agency.name, language),
                    processing_days: draft.service.processing_days,
                    collect_at_counter: draft.service.delivery == Delivery::CollectAtCounter,
                };
                Screen::Done
            }
            Stage::Pickup(form) => {
                view.pickup = form.view(false);
                Screen::Pickup
            }
            Stage::PickupChecking(form) => {
                view.pickup = form.view(true);
                Screen::Pickup
            }
            Stage::Status(form) => {
                view.status = form.view(false);
                view.status.document_reader = chip_accepted(&self.readiness) && self.readiness.mrz_reader;
                Screen::Status
            }
            Stage::StatusChecking(form) => {
                view.status = form.view(true);
                Screen::Status
            }
            Stage::StatusShown { found, by_identity } => {
                let name = |id: &str| {
                    self.catalog.as_ref().and_then(|c| c.service(id)).map_or_else(|| id.to_string(), |s| shown(&s.name, language))
                };
                view.status.results = found.iter().map(|f| f.result(name(&f.service_id))).collect();
                view.status.by_identity = *by_identity;
                Screen::Status
            }
            Stage::Collecting { .. } => Screen::Collecting,
            Stage::Collected { service_id } => {
                view.pickup.service_name =
                    self.catalog.as_ref().and_then(|c| c.service(service_id)).map_or_else(String::new, |s| shown(&s.name, language));
                Screen::Collected
            }
            Stage::Queues => Screen::Queues,
            Stage::Booking(booking) => {
                view.appointment = self.booking_view(booking);
                Screen::Appointment
            }
            Stage::Ticketing { .. } => Screen::Ticketing,
            Stage::Ticket { queue_id, number } => {
                let queue_name = view.queues.iter().find(|q| &q.id == queue_id).map_or_else(String::new, |q| q.name.clone());
                view.ticket = TicketView { number: number.clone(), queue_name };
                Screen::Ticket
            }
            Stage::Error { problem, reference, retry } => {
                view.error =
                    ErrorView { problem: *problem, reference: reference.clone(), status_link: String::new(), can_retry: retry.is_some() };
                Screen::Error
            }
            Stage::OutOfService(reason) => {
                view.out_of_service = *reason;
                // Staff's message, in the citizen's language first, then the other two: nobody
                // has chosen a language at a kiosk out of service.
                if let (balcao_ui::view::OutOfService::Maintenance, Some(message)) = (reason, &self.closed_by_central) {
                    let first = api_language(self.language);
                    let order = std::iter::once(first).chain(api::Language::ALL.into_iter().filter(|l| *l != first));
                    view.out_of_service_message = order.map(|l| message.get(l).to_string()).collect();
                }
                Screen::OutOfService
            }
        };
        view
    }
}
