//! Keeps the kiosk's reference data current, on every poll:
//!
//! - the catalog and the identity provider's keys, each by a conditional request
//!   (`If-None-Match`), so an unchanged one costs a tiny 304; a new one is stored in one
//!   transaction (and the catalog handed to the session);
//! - the certificates ready for pickup at this centre, by sync token: the pages of a change
//!   are gathered and applied in one transaction with the new token, and a token central no
//!   longer knows (410) starts over from the full list.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use balcao_backend_client::api::{CertificateChanges, IssuerKeys, ReadyCertificate};
use balcao_backend_client::{CentralClient, ClientError, Fetch};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{SharedStore, with_store};
use crate::session::Event;
use crate::store::StoreError;

/// The name the identity provider's keys are kept under.
pub const ISSUER_KEYS: &str = "identity-issuers";
/// The agency's keys certificates are signed with, as cached (see `store/pickups.rs`).
pub const DOCUMENT_KEYS: &str = "document-keys";

/// Most pages of the feed gathered in one poll (at 200 a page, 10,000 certificates).
const MAX_PAGES: usize = 50;

/// The certificates ready for pickup at this centre, followed by sync token. Shared by the
/// periodic sync and a citizen's pickup: a number the kiosk does not know yet is looked for
/// again after following the feed at once, so a certificate staff have just marked ready
/// can be collected without waiting for the next poll.
#[derive(Debug)]
pub struct CertificateFeed {
    pub store: SharedStore,
    pub client: CentralClient,
    pub centre_id: String,
    pub online: Arc<AtomicBool>,
    /// One follower at a time: two would fetch and apply the same pages.
    pub following: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
pub struct ReferenceSync {
    pub store: SharedStore,
    pub client: CentralClient,
    pub certificates: Arc<CertificateFeed>,
    pub catalog_etag: Option<String>,
    /// Between polls while central answers.
    pub interval: Duration,
    pub online: Arc<AtomicBool>,
    pub events: mpsc::UnboundedSender<Event>,
    pub fatal: super::Fatal,
    /// Polls at once when notified (staff asked for it).
    pub wake: Arc<tokio::sync::Notify>,
    /// Set when a poll went through.
    pub synced_at: Arc<std::sync::Mutex<Option<jiff::Timestamp>>>,
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Central(#[from] ClientError),
    #[error("cannot keep what central sent")]
    Store(#[from] StoreError),
    #[error("the feed of ready certificates did not end within {MAX_PAGES} pages")]
    FeedTooLong,
}

impl ReferenceSync {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        // While central cannot be reached, try again sooner (but never faster than every 5 s),
        // at a random point of the pause so a fleet back from an outage does not poll in step.
        let mut failures = 0u32;
        loop {
            match self.poll().await {
                Ok(()) => {
                    failures = 0;
                    *self.synced_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(jiff::Timestamp::now());
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "reference data sync failed");
                    if let SyncError::Store(e) = &e
                        && e.is_fatal()
                    {
                        self.fatal.fail(e);
                    }
                }
            }
            let pause = if failures == 0 {
                self.interval
            } else {
                (Duration::from_secs(5) * failures.min(12)).min(self.interval).mul_f64(rand::rng().random_range(0.5..=1.0))
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn note<T>(&self, result: &Result<T, ClientError>) {
        note(&self.online, result);
    }

    async fn poll(&mut self) -> Result<(), SyncError> {
        self.poll_catalog().await?;
        self.poll_issuer_keys().await?;
        // The keys before the certificates they check.
        self.poll_document_keys().await?;
        self.certificates.follow().await
    }

    async fn poll_catalog(&mut self) -> Result<(), SyncError> {
        let result = self.client.catalog(self.catalog_etag.as_deref()).await;
        self.note(&result);
        let Fetch::Updated { etag, value: catalog } = result? else { return Ok(()) };
        let catalog = Arc::new(catalog);
        let (to_store, tag) = (catalog.clone(), etag.clone());
        match with_store(&self.store, move |s| s.save_catalog(tag.as_deref(), &to_store)).await {
            Ok(()) => self.catalog_etag = etag,
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

    async fn poll_issuer_keys(&mut self) -> Result<(), SyncError> {
        let etag = self.cached_etag(ISSUER_KEYS).await?;
        let result = self.client.identity_issuers(etag.as_deref()).await;
        self.keep_keys(ISSUER_KEYS, result).await
    }

    async fn poll_document_keys(&mut self) -> Result<(), SyncError> {
        let etag = self.cached_etag(DOCUMENT_KEYS).await?;
        let result = self.client.document_keys(etag.as_deref()).await;
        self.keep_keys(DOCUMENT_KEYS, result).await
    }

    async fn cached_etag(&self, name: &'static str) -> Result<Option<String>, SyncError> {
        Ok(with_store(&self.store, move |s| s.reference_data(name)).await?.and_then(|(etag, _)| etag))
    }

    /// Caches a set of keys central sent (`name`: which).
    async fn keep_keys(&self, name: &'static str, result: Result<Fetch<IssuerKeys>, ClientError>) -> Result<(), SyncError> {
        self.note(&result);
        let Fetch::Updated { etag, value: keys } = result? else { return Ok(()) };
        let body = serde_json::to_string(&keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        with_store(&self.store, move |s| s.save_reference_data(name, etag.as_deref(), &body)).await?;
        tracing::info!(keys = keys.keys.len(), set = name, "signing keys updated");
        Ok(())
    }
}

/// Whether central answered at all.
fn note<T>(online: &AtomicBool, result: &Result<T, ClientError>) {
    online.store(!matches!(result, Err(ClientError::Unreachable { .. } | ClientError::Timeout(_))), Ordering::Relaxed);
}

impl CertificateFeed {
    /// Follows the feed of certificates ready at this centre up to its end.
    pub async fn follow(&self) -> Result<(), SyncError> {
        let _one_at_a_time = self.following.lock().await;
        let start = with_store(&self.store, |s| s.certificate_sync_token()).await?;
        let mut token = start.clone();
        let mut restarted = false;
        // What the pages say, gathered (a later change of a certificate replaces an earlier
        // one) and applied together once the feed says there is no more.
        let mut reset = false;
        let mut ready: HashMap<Uuid, ReadyCertificate> = HashMap::new();
        let mut gone: HashSet<Uuid> = HashSet::new();
        for _ in 0..MAX_PAGES {
            let result = self.client.ready_certificates(&self.centre_id, token.as_deref()).await;
            note(&self.online, &result);
            let page: CertificateChanges = match result {
                Err(e) if e.sync_expired() && !restarted => {
                    tracing::info!("the certificate sync token expired; fetching the full list");
                    (token, restarted) = (None, true);
                    continue;
                }
                other => other?,
            };
            if page.reset {
                reset = true;
                ready.clear();
                gone.clear();
            }
            for id in page.gone {
                ready.remove(&id);
                gone.insert(id);
            }
            for certificate in page.ready {
                gone.remove(&certificate.application_id);
                ready.insert(certificate.application_id, certificate);
            }
            token = Some(page.token);
            if page.more {
                continue;
            }
            let token = token.unwrap_or_default();
            if reset || !ready.is_empty() || !gone.is_empty() || start.as_deref() != Some(token.as_str()) {
                let (ready, gone): (Vec<_>, Vec<_>) = (ready.into_values().collect(), gone.into_iter().collect());
                let (count, removed) = (ready.len(), gone.len());
                with_store(&self.store, move |s| s.apply_certificate_changes(reset, &ready, &gone, &token)).await?;
                tracing::info!(full_list = reset, ready = count, gone = removed, "certificates ready for pickup updated");
            }
            return Ok(());
        }
        Err(SyncError::FeedTooLong)
    }
}
