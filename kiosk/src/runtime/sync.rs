//! Keeps the kiosk's copy of the catalog current: a conditional request (`If-None-Match`) on
//! every poll, so an unchanged catalog costs a tiny 304; a new one is stored in one
//! transaction and handed to the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use balcao_backend_client::{CatalogFetch, CentralClient, ClientError};
use rand::Rng;
use tokio::sync::{mpsc, watch};

use super::{SharedStore, with_store};
use crate::session::Event;

#[derive(Debug)]
pub struct CatalogSync {
    pub store: SharedStore,
    pub client: CentralClient,
    pub etag: Option<String>,
    /// Between polls while central answers.
    pub interval: Duration,
    pub online: Arc<AtomicBool>,
    pub events: mpsc::UnboundedSender<Event>,
    pub fatal: super::Fatal,
}

impl CatalogSync {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        // While central cannot be reached, try again sooner (but never faster than every 5 s),
        // at a random point of the pause so a fleet back from an outage does not poll in step.
        let mut failures = 0u32;
        loop {
            match self.poll().await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "catalog check failed");
                }
            }
            let pause = if failures == 0 {
                self.interval
            } else {
                (Duration::from_secs(5) * failures.min(12)).min(self.interval).mul_f64(rand::rng().random_range(0.5..=1.0))
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn poll(&mut self) -> Result<(), ClientError> {
        let result = self.client.catalog(self.etag.as_deref()).await;
        self.online.store(!matches!(result, Err(ClientError::Unreachable { .. } | ClientError::Timeout(_))), Ordering::Relaxed);
        match result? {
            CatalogFetch::NotModified => Ok(()),
            CatalogFetch::Updated { etag, catalog } => {
                let catalog = Arc::new(catalog);
                let (to_store, tag) = (catalog.clone(), etag.clone());
                match with_store(&self.store, move |s| s.save_catalog(tag.as_deref(), &to_store)).await {
                    Ok(()) => self.etag = etag,
                    // The kiosk still uses the new catalog; the next poll fetches it again.
                    Err(e) => {
                        tracing::error!(error = %e, "cannot cache the catalog");
                        if e.is_fatal() {
                            self.fatal.fail(&e);
                        }
                    }
                }
                tracing::info!(version = %catalog.version, services = catalog.services.len(), "catalog updated");
                let _ = self.events.send(Event::Catalog(catalog));
                Ok(())
            }
        }
    }
}
