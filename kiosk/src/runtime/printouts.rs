//! What the kiosk hands out on paper that central must hear of: certificates collected and
//! queue tickets. Each is recorded before it is printed and recorded as done (with its outbox
//! entry) once the printer says the job completed. A job that failed in a way that may have
//! left paper in the citizen's hand is sent as uncertain rather than dropped; one that failed
//! cleanly printed nothing, and nothing is sent.

use std::fmt::Debug;
use std::sync::Arc;

use balcao_backend_client::api::{KioskEventKind, PickupOutcome, Severity, TicketOutcome};
use balcao_drivers::DeviceError;
use balcao_drivers::document_printer::{DocumentPrinter, PrintJob};
use balcao_drivers::receipt_printer::ReceiptPrinter;
use tokio::sync::Notify;

use super::devices::{DeviceGone, DeviceWorker};
use super::{Fatal, KioskIdentity, SharedStore, local_now, with_store};
use crate::receipt::{self, TicketContent};
use crate::session::Event;
use crate::store::{KioskPlace, StoreError};

/// How a print job ended, as far as the kiosk can know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Printed {
    Yes,
    /// The printer stopped answering mid-job (or its worker died): it may have come out.
    Maybe,
    No,
}

/// Classifies a print job's result (`maybe` says which of the driver's error kinds may have
/// left paper behind) and logs a failure for the technician.
fn printed<T, K: Debug + Copy>(result: &Result<Result<T, DeviceError<K>>, DeviceGone>, maybe: impl Fn(K) -> bool, what: &str) -> Printed {
    match result {
        Ok(Ok(_)) => Printed::Yes,
        Ok(Err(e)) if maybe(e.kind()) => {
            tracing::error!(kind = ?e.kind(), error = %e, "the printer failed mid-job: the {what} may have come out");
            Printed::Maybe
        }
        Ok(Err(e)) => {
            tracing::error!(kind = ?e.kind(), error = %e, "{what} not printed");
            Printed::No
        }
        Err(gone) => {
            tracing::error!(error = %gone, "the printer's worker is gone while printing a {what}");
            Printed::Maybe
        }
    }
}

/// What every printout job needs besides its printer.
#[derive(Clone)]
pub(super) struct Recorder {
    pub store: SharedStore,
    pub identity: KioskIdentity,
    pub wake: Arc<Notify>,
    pub fatal: Fatal,
}

impl Recorder {
    fn place(&self) -> (String, String) {
        (self.identity.kiosk_id.clone(), self.identity.centre_id.clone())
    }

    /// Logs a store failure; one that leaves the disk's state unknown stops the kiosk.
    fn failed(&self, e: &StoreError, what: &str) {
        tracing::error!(error = %e, "the {what} could not be recorded");
        if e.is_fatal() {
            self.fatal.fail(e);
        }
    }
}

/// Hands out a certificate on the document printer.
pub(super) async fn collect(
    recorder: Recorder,
    printer: DeviceWorker<dyn DocumentPrinter>,
    application_id: uuid::Uuid,
    offline: bool,
) -> Event {
    use balcao_drivers::document_printer::ErrorKind;

    let not_printed = Event::CertificateNotPrinted { uncertain: false };
    // A file that is not the one the agency signed is never printed, nor recorded as handed out.
    let started = with_store(&recorder.store, move |s| match s.certificate_document(application_id, jiff::Timestamp::now())? {
        Some(Ok(pdf)) => s.begin_pickup(application_id, offline).map(|id| Some(Ok((id, pdf)))),
        Some(Err(refusal)) => Ok(Some(Err(refusal))),
        None => Ok(None),
    })
    .await;
    let (pickup_id, pdf) = match started {
        Ok(Some(Ok(started))) => started,
        Ok(Some(Err(refusal))) => {
            tracing::error!(application = %application_id, %refusal, "a certificate failed its check: not printed");
            let detail = format!("certificate {application_id}: {refusal}");
            let event = recorder.identity.event(KioskEventKind::CertificateRejected, Severity::Critical, detail);
            if let Err(e) = with_store(&recorder.store, move |s| s.queue_event(&event)).await {
                recorder.failed(&e, "certificate check");
            }
            recorder.wake.notify_one();
            return Event::CertificateRejected;
        }
        Ok(None) => {
            tracing::warn!(application = %application_id, "the certificate left this kiosk's list before it was printed");
            return not_printed;
        }
        Err(e) => {
            recorder.failed(&e, "pickup");
            return not_printed;
        }
    };
    let job = PrintJob { name: format!("certificate-{application_id}"), pdf, copies: 1 };
    let result = printer.call(move |p| p.print(&job)).await;
    if let Ok(Ok(done)) = &result {
        tracing::info!(pickup = %pickup_id, job = done.job_id, sheets = done.sheets, "certificate printed");
    }
    // A certificate that stopped half-way for paper or a jam is no certificate; one whose
    // printer stopped answering may be whole.
    let outcome = match printed(&result, |kind| kind == ErrorKind::NoAnswer, "certificate") {
        Printed::Yes => Some(PickupOutcome::Printed),
        Printed::Maybe => Some(PickupOutcome::Uncertain),
        Printed::No => None,
    };
    let (kiosk_id, centre_id) = recorder.place();
    let recorded = with_store(&recorder.store, move |s| match outcome {
        Some(outcome) => s.finish_pickup(pickup_id, outcome, KioskPlace { kiosk_id: &kiosk_id, centre_id: &centre_id }),
        None => s.abandon_pickup(pickup_id),
    })
    .await;
    if let Err(e) = recorded {
        recorder.failed(&e, "pickup");
        return not_printed;
    }
    recorder.wake.notify_one();
    match outcome {
        Some(PickupOutcome::Printed) => Event::CertificateCollected,
        Some(PickupOutcome::Uncertain) => Event::CertificateNotPrinted { uncertain: true },
        None => not_printed,
    }
}

/// Issues a queue ticket on the receipt printer: numbered and recorded, printed, then
/// recorded as issued.
pub(super) async fn issue_ticket(
    recorder: Recorder,
    printer: DeviceWorker<dyn ReceiptPrinter>,
    series: char,
    content: TicketContent,
) -> Event {
    use balcao_drivers::receipt_printer::ErrorKind;

    let now = local_now();
    let (day, printed_at) = (now.date(), now.strftime("%Y-%m-%d %H:%M").to_string());
    let (queue_id, letter, offline) = (content.queue_id.clone(), content.letter, content.offline);
    let begun = with_store(&recorder.store, move |s| s.begin_ticket(&queue_id, letter, series, day, offline)).await;
    let ticket = match begun {
        Ok(ticket) => ticket,
        Err(e) => {
            recorder.failed(&e, "queue ticket");
            return Event::TicketNotPrinted { number: None };
        }
    };
    let layout = receipt::ticket_layout(&content, &ticket.number, &printed_at, &recorder.identity.kiosk_id);
    let result = printer.call(move |p| p.print(&layout)).await;
    if let Ok(Ok(done)) = &result {
        tracing::info!(ticket = %ticket.ticket_id, number = %ticket.number, job = done.job, "queue ticket printed");
    }
    // Half a ticket still carries its number, and a number nobody holds costs the counter a
    // moment while a held number never called costs the citizen their turn: unless the
    // printer refused the ticket outright, it is recorded and will be called.
    let outcome = match printed(&result, |kind| kind != ErrorKind::InvalidReceipt, "queue ticket") {
        Printed::Yes => Some(TicketOutcome::Printed),
        Printed::Maybe => Some(TicketOutcome::Uncertain),
        Printed::No => None,
    };
    let (kiosk_id, centre_id) = recorder.place();
    let id = ticket.ticket_id;
    let recorded = with_store(&recorder.store, move |s| match outcome {
        Some(outcome) => s.finish_ticket(id, outcome, KioskPlace { kiosk_id: &kiosk_id, centre_id: &centre_id }),
        None => s.abandon_ticket(id),
    })
    .await;
    if let Err(e) = recorded {
        recorder.failed(&e, "queue ticket");
        return Event::TicketNotPrinted { number: None };
    }
    recorder.wake.notify_one();
    match outcome {
        Some(TicketOutcome::Printed) => Event::TicketIssued { number: ticket.number },
        Some(TicketOutcome::Uncertain) => Event::TicketNotPrinted { number: Some(ticket.number) },
        None => Event::TicketNotPrinted { number: None },
    }
}
