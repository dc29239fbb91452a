//! Knowing who applies: the government app's sign-in code, checked by the store, or the chip of
//! a document on the reader.

use balcao_backend_client::api::signin::SignInRefusal;
use balcao_drivers::identity_reader::{AccessKey, ErrorKind as IdentityError};

use super::{Kiosk, with_store};
use crate::session::{Event, SignInCode};

impl Kiosk {
    /// Checks a sign-in code (signature, audience, time, replay) and records its use.
    pub(super) fn check_sign_in(&mut self, code: SignInCode) {
        let Some(store) = self.store.clone() else {
            let _ = self.events.send(Event::SignInChecked(Err(SignInRefusal::UnknownKey)));
            return;
        };
        let (centre, kiosk) = (self.settings.centre_id.clone(), self.settings.kiosk_id.clone());
        let fatal = self.fatal.clone();
        self.send_later(async move {
            let result = with_store(&store, move |s| s.accept_sign_in(&code.0, jiff::Timestamp::now(), &centre, &kiosk)).await;
            match result {
                Ok(Ok(claims)) => {
                    tracing::info!("sign-in code accepted");
                    Event::SignInChecked(Ok(claims))
                }
                Ok(Err(refusal)) => {
                    tracing::info!(?refusal, "sign-in code refused");
                    Event::SignInChecked(Err(refusal))
                }
                Err(e) => {
                    // The code's nonce could not be recorded: it cannot be accepted.
                    tracing::error!(error = %e, "cannot check sign-in codes");
                    if e.is_fatal() {
                        fatal.fail(&e);
                    }
                    Event::SignInChecked(Err(SignInRefusal::UnknownKey))
                }
            }
        });
    }

    /// Reads the chip of the document on the reader.
    pub(super) fn read_identity(&mut self, key: AccessKey) {
        let reader = self.devices.identity_reader.clone();
        self.send_later(async move {
            match reader.call(move |r| r.read(&key)).await {
                Ok(Ok(document)) => {
                    tracing::info!(assurance = ?document.assurance, "identity document read");
                    Event::IdentityRead(Ok(document))
                }
                Ok(Err(e)) => {
                    tracing::info!(kind = ?e.kind(), "identity document not read");
                    Event::IdentityRead(Err(e.kind()))
                }
                Err(gone) => {
                    tracing::error!(error = %gone, "identity reader worker gone");
                    Event::IdentityRead(Err(IdentityError::Other))
                }
            }
        });
    }
}
