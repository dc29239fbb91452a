//! Booking and cancelling appointments: the kiosk's side of `session/appointment.rs`. Every
//! question goes to central (a place is shared by the centre's kiosks) with a bound on the
//! wait, since a citizen stands at the screen; an answer that does not come in time is said so,
//! and nothing is booked twice by asking again (holds are keyed, confirmations repeatable).

use std::time::Duration;

use balcao_backend_client::api::{AppointmentCancellation, AppointmentConfirmation, HoldRequest};
use balcao_backend_client::{CentralClient, ClientError};
use uuid::Uuid;

use super::{Kiosk, local_now, settled};
use crate::receipt::{self, AppointmentContent};
use crate::session::{BOOKING_DAYS, BookingNews, DateOfBirth, Event};

/// How long the citizen waits for central before being told it did not answer.
const ASK_CENTRAL_FOR: Duration = Duration::from_secs(10);

/// Central's answer within the bound: `Err(None)` when it did not come in time (or central is
/// not configured); a refusal or failure is logged for the technician.
async fn ask<T>(
    client: Option<CentralClient>,
    what: &str,
    call: impl AsyncFnOnce(CentralClient) -> Result<T, ClientError>,
) -> Result<T, Option<ClientError>> {
    let client = client.ok_or(None)?;
    match tokio::time::timeout(ASK_CENTRAL_FOR, call(client)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "central refused or failed: {what}");
            Err(Some(e))
        }
        Err(_) => {
            tracing::warn!("central took too long: {what}");
            Err(None)
        }
    }
}

impl Kiosk {
    fn booking_client(&self) -> Option<CentralClient> {
        self.central.clone().filter(|_| self.session.online())
    }

    /// The free places of a service for the next two weeks.
    pub(super) fn fetch_slots(&mut self, service_id: String) {
        let client = self.booking_client();
        self.send_later(async move {
            let found = ask(client, "appointment slots", async |c| c.appointment_slots(&service_id, BOOKING_DAYS).await).await;
            Event::Booking(BookingNews::Slots(found.ok()))
        });
    }

    /// Holds a place under a new id (the session stays free of randomness).
    pub(super) fn hold_slot(&mut self, service_id: String, date: jiff::civil::Date, time: String) {
        let client = self.booking_client();
        let hold = HoldRequest { hold_id: Uuid::now_v7(), service_id, date, time };
        self.send_later(async move {
            let news = match ask(client, "appointment hold", async |c| c.hold_appointment(&hold).await).await {
                Ok(Some(held)) => BookingNews::Held(held.hold_id),
                Ok(None) => BookingNews::Full,
                Err(_) => BookingNews::NoAnswer,
            };
            Event::Booking(news)
        });
    }

    /// Books the held place.
    pub(super) fn confirm_booking(&mut self, hold_id: Uuid, date_of_birth: DateOfBirth, language: balcao_backend_client::api::Language) {
        let client = self.booking_client();
        self.send_later(async move {
            let confirmation = AppointmentConfirmation { date_of_birth: date_of_birth.0.clone(), language };
            let news = match ask(client, "appointment confirmation", async |c| c.confirm_appointment(hold_id, &confirmation).await).await {
                Ok(appointment) => BookingNews::Booked(Box::new(appointment)),
                Err(Some(ClientError::Refused { status: 410, .. })) => BookingNews::Lapsed,
                Err(_) => BookingNews::NoAnswer,
            };
            Event::Booking(news)
        });
    }

    /// Lets a held place go; best effort (an unconfirmed hold lapses at central by itself).
    pub(super) fn release_hold(&mut self, hold_id: Uuid) {
        let Some(client) = self.central.clone() else { return };
        tokio::spawn(async move {
            if let Err(e) = tokio::time::timeout(ASK_CENTRAL_FOR, client.release_appointment(hold_id)).await.unwrap_or(Ok(())) {
                tracing::info!(error = %e, "a held place was not let go: it lapses at central by itself");
            }
        });
    }

    /// Prints the confirmation on the receipt printer.
    pub(super) fn print_booking(&mut self, content: Box<AppointmentContent>) {
        let printer = self.devices.receipt_printer.clone();
        let printed_at = local_now().strftime("%Y-%m-%d %H:%M").to_string();
        let layout = receipt::appointment_layout(&content, &printed_at, &self.settings.kiosk_id);
        self.send_later(async move {
            let done = settled(printer.call(move |p| p.print(&layout)).await, "appointment confirmation not printed");
            if let Some(done) = &done {
                tracing::info!(job = done.job, "appointment confirmation printed");
            }
            Event::Booking(BookingNews::Printed(done.is_some()))
        });
    }

    /// Cancels a booking for its citizen.
    pub(super) fn cancel_booking(&mut self, number: String, date_of_birth: DateOfBirth) {
        let client = self.booking_client();
        self.send_later(async move {
            let cancellation = AppointmentCancellation { number, date_of_birth: date_of_birth.0.clone() };
            let news = match ask(client, "appointment cancellation", async |c| c.cancel_appointment(&cancellation).await).await {
                Ok(Some(appointment)) => BookingNews::Cancelled(Box::new(appointment)),
                Ok(None) => BookingNews::NoMatch,
                Err(Some(ClientError::Throttled { status: 429, .. })) => BookingNews::Slowed,
                Err(Some(ClientError::Refused { status: 409, .. })) => BookingNews::Past,
                Err(_) => BookingNews::NoAnswer,
            };
            Event::Booking(news)
        });
    }
}
