//! The kiosk renews its own certificate: once two thirds of its life have passed, it makes a
//! new key ([`crate::identity`]), asks central for a certificate over mutual TLS with the
//! current one, keeps the new identity where the configuration says, and presents it from its
//! next connection on. The current certificate stays good until it expires, so a renewal that
//! fails (central away) is simply tried again at the next check, with a third of the life left.

use std::path::PathBuf;
use std::time::Duration;

use balcao_backend_client::api::RenewalRequest;
use balcao_backend_client::{CentralClient, identity_validity};
use jiff::Timestamp;
use tokio::sync::watch;

use crate::identity::{FileKeyStore, KeyStore as _};

/// Where the kiosk keeps its identity, and how often it looks whether to renew it.
#[derive(Clone, Debug)]
pub struct Renewal {
    pub identity_file: PathBuf,
    pub check_every: Duration,
}

/// How often a kiosk looks at its certificate unless told otherwise.
pub const CHECK_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(super) struct Renewer {
    pub client: CentralClient,
    pub kiosk_id: String,
    pub centre_id: String,
    pub renewal: Renewal,
}

/// When a certificate valid from `from` until `until` is renewed: two thirds into its life.
fn due(from: Timestamp, until: Timestamp) -> Timestamp {
    from + until.duration_since(from) * 2 / 3
}

impl Renewer {
    pub(super) async fn run(self, mut stopped: watch::Receiver<bool>) {
        loop {
            let wait = match self.renew_if_due().await {
                Ok(next) => {
                    let until_due = next.duration_since(Timestamp::now());
                    Duration::try_from(until_due).unwrap_or(Duration::ZERO).clamp(Duration::from_millis(100), self.renewal.check_every)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the kiosk's certificate was not renewed; trying again later");
                    self.renewal.check_every
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// Renews the certificate if it is due; returns when the (new) certificate is next due.
    async fn renew_if_due(&self) -> Result<Timestamp, String> {
        let file = self.renewal.identity_file.clone();
        let read = move || std::fs::read(&file).map_err(|e| format!("reading the kiosk's identity: {e}"));
        let identity = tokio::task::spawn_blocking(read.clone()).await.map_err(|e| e.to_string())??;
        let (from, until) = identity_validity(&identity).map_err(|e| e.to_string())?;
        if Timestamp::now() < due(from, until) {
            return Ok(due(from, until));
        }
        let keys = FileKeyStore { identity_file: self.renewal.identity_file.clone() };
        let (kiosk_id, centre_id) = (self.kiosk_id.clone(), self.centre_id.clone());
        let (pending, csr_pem) = tokio::task::spawn_blocking(move || {
            let pending = keys.new_key()?;
            let csr = pending.signing_request(&kiosk_id, &centre_id)?;
            Ok::<_, crate::identity::IdentityError>((pending, csr))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let issued = self.client.renew_certificate(&RenewalRequest { csr_pem }).await.map_err(|e| e.to_string())?;
        let certificate = issued.certificate_pem.clone();
        tokio::task::spawn_blocking(move || pending.install(&certificate)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let identity = tokio::task::spawn_blocking(read).await.map_err(|e| e.to_string())??;
        self.client.use_identity(&identity).map_err(|e| e.to_string())?;
        tracing::info!(until = %issued.not_after, "the kiosk's certificate was renewed");
        let (from, until) = identity_validity(&identity).map_err(|e| e.to_string())?;
        Ok(due(from, until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_renewed_two_thirds_into_its_life() {
        let from = Timestamp::from_second(1_000_000).expect("time");
        let until = Timestamp::from_second(1_000_000 + 90 * 86_400).expect("time");
        assert_eq!(due(from, until), Timestamp::from_second(1_000_000 + 60 * 86_400).expect("time"));
    }
}
