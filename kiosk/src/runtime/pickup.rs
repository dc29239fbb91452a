//! Collecting a certificate and taking a queue ticket: what is looked up and printed, each
//! recorded before the printer starts so a crash mid-print is never forgotten.

use super::{FRESH_LOOKUP, Kiosk, printouts, with_store};
use crate::receipt::TicketContent;
use crate::session::{DocumentNumber, Event, FoundCertificate};

impl Kiosk {
    /// Finds the certificate ready under the number and checks its holder off the loop.
    pub(super) fn find_certificate(&mut self, reference: String, document_number: DocumentNumber) {
        let Some(store) = self.store.clone() else {
            let _ = self.events.send(Event::CertificateFound(None));
            return;
        };
        let feed = self.certificates.clone().filter(|_| self.session.online());
        self.send_later(async move {
            let lookup = reference.clone();
            let mut found = with_store(&store, move |s| s.find_certificate(&lookup)).await;
            // Not here yet: staff may have marked it ready since the last poll. Central
            // is asked at once (briefly: the citizen is waiting), then the list again.
            if let (Ok(None), Some(feed)) = (&found, feed) {
                match tokio::time::timeout(FRESH_LOOKUP, feed.follow()).await {
                    Ok(Ok(())) => found = with_store(&store, move |s| s.find_certificate(&reference)).await,
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot refresh the certificates ready here"),
                    Err(_) => tracing::warn!("refreshing the certificates ready here took too long"),
                }
            }
            match found {
                Ok(Some(certificate)) => {
                    // Argon2id takes tens of milliseconds: on a blocking thread, never
                    // on the loop that answers the citizen's touches.
                    let checked = tokio::task::spawn_blocking(move || {
                        let holder_matches = certificate.holder.matches(&document_number.0);
                        FoundCertificate { certificate, holder_matches }
                    });
                    Event::CertificateFound(checked.await.ok().map(Box::new))
                }
                Ok(None) => Event::CertificateFound(None),
                Err(e) => {
                    tracing::error!(error = %e, "cannot look up ready certificates");
                    Event::CertificateFound(None)
                }
            }
        });
    }

    /// Records the pickup, prints the certificate, records how it went.
    pub(super) fn collect_certificate(&mut self, application_id: uuid::Uuid, offline: bool) {
        let Some(recorder) = self.recorder() else {
            let _ = self.events.send(Event::CertificateNotPrinted { uncertain: false });
            return;
        };
        self.send_later(printouts::collect(recorder, self.devices.document_printer.clone(), application_id, offline));
    }

    /// Numbers, records and prints a queue ticket.
    pub(super) fn issue_ticket(&mut self, content: TicketContent) {
        let Some(recorder) = self.recorder() else {
            let _ = self.events.send(Event::TicketNotPrinted { number: None });
            return;
        };
        let printer = self.devices.receipt_printer.clone();
        self.send_later(printouts::issue_ticket(recorder, printer, self.settings.ticket_series, content));
    }
}
