//! The reference central platform: the API Balcão kiosks sync with.
//!
//! - `api/` — the HTTP API (catalog with `ETag`, applications with `Idempotency-Key`,
//!   `application/problem+json` errors) and its OpenAPI document (`central/openapi.json`).
//! - `store/` — the database, SQLite (the default) or PostgreSQL (several instances at once),
//!   behind one body of code (`store/db.rs`).
//! - `cli.rs` — `kiosk-central`'s command line.
//! - `seed.rs` — the catalog a fresh central starts with.
//! - `console.rs` — the read-only page for central staff.
//! - `server.rs` — the HTTPS server, its connection limits and timeouts.
//! - `tls.rs` — TLS: the server configuration (mutual TLS) and a development PKI.
//! - `testing.rs` — a throwaway PostgreSQL server for tests and benchmarks.
//!
//! [`Central`] is the library's entry point; `kiosk-central` is a thin binary around it, and
//! the kiosk's demo and the tests run it in-process on loopback with [`LoopbackCentral`].

pub mod alerts;
pub mod api;
pub mod cli;
mod console;
mod document;
pub mod metrics;
pub mod seed;
pub mod server;
pub mod store;
pub mod testing;
pub mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use balcao_backend_client::api::{Answer, Catalog};
use tokio::net::TcpListener;

use crate::api::AppState;
pub use crate::store::{DatabaseLocation, KeyFiles, PgOptions};
use crate::store::{Store, StoreError, StoredCatalog};
use crate::tls::DevPki;
pub use server::Limits;

/// Idempotency keys are kept at least this long, so a kiosk that was offline for weeks can
/// still repeat a write safely.
pub const MIN_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long a settled (collected or rejected) application's personal data stays at central by
/// default: the answers, the identity proof, the certificate's document and holder check.
pub const PERSONAL_DATA_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long a collected certificate stays in its centre's feed. A kiosk that has not synced for
/// longer gets 410 and fetches the full list again.
pub const FEED_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone, Debug)]
pub struct CentralOptions {
    pub database: DatabaseLocation,
    /// How central reaches PostgreSQL (pool size, time limits), when it does.
    pub postgres: PgOptions,
    /// The key that seals personal data and the identity provider's signing keys, each in its
    /// own file outside the database (by default in a folder beside a SQLite database; the
    /// same folder on every instance that shares a PostgreSQL database).
    pub keys: KeyFiles,
    /// How long a settled application's personal data is kept before it is purged.
    pub personal_data_retention: Duration,
    /// How long idempotency keys are kept; at least [`MIN_IDEMPOTENCY_RETENTION`].
    pub idempotency_retention: Duration,
    /// Added to the processing of every application; zero except in tests.
    pub processing_delay: Duration,
    /// The bounds of the connections it serves (see `server.rs`).
    pub limits: Limits,
    /// The bearer token a Prometheus scraper shows for `/metrics`; `None`: not served.
    pub metrics_token: Option<String>,
    /// How long a kiosk may be silent before the console shows it offline.
    pub offline_after: jiff::SignedDuration,
    /// Where alerts are delivered besides the console; `None`: the console only.
    pub alert_webhook: Option<alerts::Webhook>,
    /// How often silent kiosks are looked for (and lapsed calls ended).
    pub alert_sweep_every: Duration,
    /// How long the kiosk certificates central issues last (kiosks renew theirs when a third
    /// of it is left).
    pub kiosk_cert_lifetime: jiff::SignedDuration,
    /// The address citizens reach central's public pages at (`https://…`, no trailing slash):
    /// what a certificate's QR code points to. `None`: the address central listens at.
    pub public_url: Option<String>,
}

impl CentralOptions {
    /// On a SQLite file, its keys beside it.
    pub fn new(database: PathBuf) -> Self {
        Self::on(DatabaseLocation::Sqlite(database.clone()), KeyFiles::beside(&database))
    }

    /// On either database, with its keys where `keys` says.
    pub fn on(database: DatabaseLocation, keys: KeyFiles) -> Self {
        Self {
            keys,
            database,
            postgres: PgOptions::default(),
            personal_data_retention: PERSONAL_DATA_RETENTION,
            idempotency_retention: MIN_IDEMPOTENCY_RETENTION,
            processing_delay: Duration::ZERO,
            limits: Limits::default(),
            metrics_token: None,
            offline_after: store::fleet::OFFLINE_AFTER,
            alert_webhook: None,
            alert_sweep_every: Duration::from_secs(15),
            kiosk_cert_lifetime: tls::KIOSK_CERT_LIFETIME,
            public_url: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    #[error("no application {0}")]
    UnknownApplication(uuid::Uuid),
    #[error("cannot issue the certificate: {0}")]
    Issue(String),
    #[error("idempotency keys must be kept at least 30 days (configured: {0:?})")]
    RetentionTooShort(Duration),
}

/// The central platform: its state, ready to be served.
#[derive(Clone, Debug)]
pub struct Central {
    state: Arc<AppState>,
    retention: Duration,
    personal_data_retention: Duration,
    limits: Limits,
    alert_webhook: Option<alerts::Webhook>,
    alert_sweep_every: Duration,
    kiosk_cert_lifetime: jiff::SignedDuration,
}

impl Central {
    /// Opens (or creates) the database; a new one gets the seed catalog.
    pub fn open(options: &CentralOptions) -> Result<Self, CentralError> {
        if options.idempotency_retention < MIN_IDEMPOTENCY_RETENTION {
            return Err(CentralError::RetentionTooShort(options.idempotency_retention));
        }
        let store = Store::open(&options.database, &options.keys, &options.postgres)?;
        store.set_offline_after(options.offline_after);
        store.set_alert_webhook(options.alert_webhook.is_some());
        let catalog = match store.catalog()? {
            Some(catalog) => catalog,
            None => {
                let catalog = StoredCatalog::new(seed::catalog())?;
                store.replace_catalog(&catalog)?;
                // Another instance starting at the same moment may have published its own.
                store.catalog()?.unwrap_or(catalog)
            }
        };
        store.rotate_issuer_key(jiff::Timestamp::now())?;
        store.rotate_keys(store::issuer::KeySet::Documents, jiff::Timestamp::now())?;
        let state = AppState {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            processing_delay: options.processing_delay,
            metrics: metrics::Metrics::new(options.metrics_token.clone()),
            fleet: tokio::sync::Mutex::new(None),
            revocations: api::auth::Revocations::default(),
            kiosk_issuer: RwLock::new(None),
            server_ca_pem: RwLock::new(None),
            public_url: RwLock::new(options.public_url.clone()),
        };
        Ok(Self {
            state: Arc::new(state),
            retention: options.idempotency_retention,
            personal_data_retention: options.personal_data_retention,
            limits: options.limits,
            alert_webhook: options.alert_webhook.clone(),
            alert_sweep_every: options.alert_sweep_every,
            kiosk_cert_lifetime: options.kiosk_cert_lifetime,
        })
    }

    pub fn router(&self) -> Router {
        api::router(self.state.clone())
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// How long the kiosk certificates it issues last.
    pub fn kiosk_cert_lifetime(&self) -> jiff::SignedDuration {
        self.kiosk_cert_lifetime
    }

    /// Lets central enroll kiosks and renew their certificates with `issuer`, and tells the
    /// technician's tool to trust `server_ca_pem` for central's own certificate.
    pub fn enable_enrollment(&self, issuer: tls::KioskIssuer, server_ca_pem: Option<String>) {
        *self.state.kiosk_issuer.write().unwrap_or_else(|e| e.into_inner()) = Some(issuer);
        *self.state.server_ca_pem.write().unwrap_or_else(|e| e.into_inner()) = server_ca_pem;
    }

    /// Revokes every certificate of `kiosk_id` issued up to now, refused on this instance at
    /// once (on others within [`api::auth::REVOCATIONS_FRESH`]).
    pub async fn revoke_kiosk(&self, kiosk_id: &str, by: &str) -> Result<jiff::Timestamp, CentralError> {
        Ok(self.state.revoke_kiosk(kiosk_id, by).await?)
    }

    /// Publishes a new catalog; kiosks get it on their next poll.
    pub fn replace_catalog(&self, catalog: Catalog) -> Result<(), CentralError> {
        let stored = StoredCatalog::new(catalog)?;
        self.state.store.replace_catalog(&stored)?;
        *self.state.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(stored);
        Ok(())
    }

    /// Issues the certificate of an application (the agency's decision, made elsewhere): it
    /// becomes ready for pickup at the centre where it was applied for, and that centre's
    /// kiosks get it on their next sync.
    pub fn issue_certificate(&self, application_id: uuid::Uuid) -> Result<(), CentralError> {
        use balcao_backend_client::api::{CertificateContent, encode_token, sign_document};
        let catalog = self.state.current_catalog()?;
        let now = jiff::Timestamp::now();
        let issued = now.to_zoned(jiff::tz::TimeZone::system()).date();
        let fonts = document::Fonts::system().map_err(|e| CentralError::Issue(e.to_string()))?;
        let (kid, key) = self.state.store.signing_key(store::issuer::KeySet::Documents, now)?;
        let public = self.public_url();
        let sign = |bytes: &[u8]| key.sign(bytes).as_ref().to_vec();
        let make = |service_id: &str, reference: &str, answers: &BTreeMap<String, Answer>| {
            let service = catalog.catalog.service(service_id).ok_or_else(|| format!("service {service_id} is not in the catalog"))?;
            let text = |key: &str| match answers.get(key) {
                Some(Answer::Text(value)) if !value.trim().is_empty() => Some(value.trim().to_string()),
                _ => None,
            };
            let holder_names: Vec<String> = ["full_name", "chinese_name"].into_iter().filter_map(text).collect();
            let content = CertificateContent {
                document_id: application_id,
                reference: reference.to_string(),
                service_id: service_id.to_string(),
                agency_id: service.agency.id.clone(),
                issued,
                holder_names: holder_names.clone(),
                // One page per copy ordered (and paid for).
                copies: service.copies(answers),
            };
            let claims = content.claims();
            let token = encode_token(&claims, &kid, sign);
            let trilingual = |t: &balcao_backend_client::api::LocalizedText| document::Trilingual::new(&t.zh_hant, &t.pt, &t.en);
            let certificate = document::Certificate {
                agency: trilingual(&service.agency.name),
                title: trilingual(&service.name),
                holder_names,
                document_number: text("document_number").unwrap_or_default(),
                reference: reference.to_string(),
                issued: issued.to_string(),
                copies: content.copies,
                verify_url: format!("{public}{}{token}", balcao_backend_client::api::VERIFY_PATH),
                verify_site: format!("{public}{}", balcao_backend_client::api::VERIFY_PATH),
            };
            let pdf = document::certificate_pdf(&certificate, &fonts).map_err(|e| e.to_string())?;
            let signature = sign_document(&pdf, &kid, sign);
            Ok(store::IssuedDocument { pdf, claims, signature })
        };
        let salt: [u8; 16] = rand::random();
        self.state.store.issue_certificate(application_id, make, salt).map_err(|e| match e {
            store::IssueError::UnknownApplication(id) => CentralError::UnknownApplication(id),
            store::IssueError::Store(e) => CentralError::Store(e),
            other => CentralError::Issue(other.to_string()),
        })
    }

    /// The address of central's public pages, as configured or as learnt from where it listens.
    pub fn public_url(&self) -> String {
        self.state.public_url.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "https://localhost".into())
    }

    /// Sets the address of central's public pages unless one was configured.
    pub fn learn_public_url(&self, url: &str) {
        let mut known = self.state.public_url.write().unwrap_or_else(|e| e.into_inner());
        if known.is_none() {
            *known = Some(url.trim_end_matches('/').to_string());
        }
    }

    /// Plays a very quick agency for the demo: issues the certificate of every received
    /// application for a service printed at kiosks once it is `after` old. Returns how many.
    pub fn issue_due_certificates(&self, after: Duration) -> Result<usize, CentralError> {
        let due = jiff::Timestamp::now() - jiff::SignedDuration::try_from(after).unwrap_or(jiff::SignedDuration::MAX);
        let catalog = self.state.current_catalog()?;
        let mut issued = 0;
        for row in self.state.store.recent_applications(500)? {
            let printable =
                catalog.catalog.service(&row.service_id).is_some_and(|s| s.delivery == balcao_backend_client::api::Delivery::PrintAtKiosk);
            let old_enough = row.received_at.parse::<jiff::Timestamp>().is_ok_and(|t| t <= due);
            if row.state == balcao_backend_client::api::ApplicationState::Received && printable && old_enough {
                self.issue_certificate(row.id)?;
                issued += 1;
            }
        }
        Ok(issued)
    }

    /// The daily housekeeping: forgets idempotency keys past their retention, feed entries of
    /// collected certificates older than [`FEED_RETENTION`] and settled applications' personal
    /// data past its retention, and rotates the identity provider's signing key when it is due.
    /// One instance at a time does it; `None` if another was doing it.
    pub fn housekeeping(&self) -> Result<Option<usize>, CentralError> {
        let now = jiff::Timestamp::now();
        let age = |d: Duration| now - jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
        Ok(self.state.store.housekeeping(age(self.retention), age(FEED_RETENTION), age(self.personal_data_retention), now)?)
    }
}

/// Serves `router` over HTTPS until `shutdown` completes, doing the housekeeping daily and
/// the alerts' sweep and webhook deliveries all along.
pub async fn serve(
    central: Central,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CentralError> {
    let limits = central.limits;
    let alerting = tokio::spawn(alerts::run(central.clone(), central.alert_webhook.clone(), central.alert_sweep_every));
    let purger = tokio::spawn(async move {
        let mut every_day = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            every_day.tick().await;
            let central = central.clone();
            match tokio::task::spawn_blocking(move || central.housekeeping()).await {
                Ok(Ok(Some(n))) => tracing::info!(purged = n, "expired idempotency keys, feed entries and personal data purged"),
                Ok(Ok(None)) => tracing::info!("housekeeping left to the instance doing it now"),
                Ok(Err(e)) => tracing::warn!(error = %e, "housekeeping failed"),
                Err(e) => tracing::warn!(error = %e, "purge task failed"),
            }
        }
    });
    server::serve_https(listener, tls, router, limits, shutdown).await;
    purger.abort();
    alerting.abort();
    Ok(())
}

/// A central on `127.0.0.1:0` with a fresh development PKI, for the demo and the tests. It
/// stops when [`LoopbackCentral::stop`] is called or when it is dropped.
#[derive(Debug)]
pub struct LoopbackCentral {
    pub central: Central,
    /// e.g. `https://127.0.0.1:40123`.
    pub url: String,
    /// PEM of the CA that signed the server's certificate: what the kiosk must trust.
    pub ca_pem: String,
    /// The development PKI it serves with, which also signs kiosk certificates.
    pub pki: DevPki,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), CentralError>>>,
}

impl LoopbackCentral {
    pub async fn start(options: &CentralOptions) -> Result<Self, CentralError> {
        let options = options.clone();
        let central = tokio::task::spawn_blocking(move || Central::open(&options))
            .await
            .map_err(|e| CentralError::Io(std::io::Error::other(e.to_string())))??;
        let router = central.router();
        Self::start_with_router(central, router).await
    }

    /// As [`start`](Self::start), serving a router the caller wrapped (tests add fault layers).
    pub async fn start_with_router(central: Central, router: Router) -> Result<Self, CentralError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve_on(central, router, listener, DevPki::generate()?)
    }

    /// Serves on a listener and with a PKI the caller made, e.g. to bring central back on the
    /// same address and certificate after an outage.
    pub fn serve_on(central: Central, router: Router, listener: TcpListener, pki: DevPki) -> Result<Self, CentralError> {
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        central.learn_public_url(&url);
        // The development PKI's CA enrolls kiosks, and is what they trust for central.
        central.enable_enrollment(tls::KioskIssuer::of_dev_pki(&pki, central.kiosk_cert_lifetime)?, Some(pki.ca_pem.clone()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(central.clone(), listener, pki.server_config()?, router, async move {
            let _ = stopped.await;
        }));
        Ok(Self { central, url, ca_pem: pki.ca_pem.clone(), pki, stop: Some(stop), task: Some(task) })
    }

    /// A client identity (certificate and key, PEM) for the kiosk `kiosk_id` of the centre
    /// `centre_id`, as enrolment would give it.
    pub fn kiosk_identity(&self, kiosk_id: &str, centre_id: &str) -> Result<String, CentralError> {
        Ok(self.pki.issue_kiosk(kiosk_id, centre_id)?)
    }

    pub async fn stop(mut self) -> Result<(), CentralError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for LoopbackCentral {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
