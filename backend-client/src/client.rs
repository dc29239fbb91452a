//! The kiosk's HTTPS client of the central platform.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use uuid::Uuid;

use crate::api::{
    API_PREFIX, ApplicationReceipt, ApplicationStatus, ApplicationSubmission, AttendantCall, AttendantCallStatus, BatchResults, Catalog,
    CertificateChanges, CitizenStatus, CommandReport, Diagnosis, EnrollmentRequest, Heartbeat, HeartbeatAnswer, HolderQuery,
    HolderStatuses, IDEMPOTENCY_KEY, IssuedCertificate, IssuerKeys, KioskEvent, MAX_BATCH, PickupReceipt, PickupRecord, Problem,
    QueueTicket, RenewalRequest, Retirement, StatusQuery, TicketReceipt,
};
use crate::api::{Appointment, AppointmentCancellation, AppointmentConfirmation, AppointmentDays, AppointmentHold, HoldRequest};

/// How long the client waits; injected so tests can shrink them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the TCP connection and finish the TLS handshake.
    pub connect: Duration,
    /// For a whole request, from sending to the last byte of the answer.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(5), request: Duration::from_secs(15) }
    }
}

/// Where central is and how to trust it.
#[derive(Clone)]
pub struct ClientConfig {
    /// e.g. `https://central.example.gov.mo`; no trailing path.
    pub base_url: String,
    /// PEM of the certificate authorities that sign central's server certificate.
    pub ca_pem: Vec<u8>,
    /// PEM of this kiosk's certificate chain and private key, for mutual TLS once enrolled.
    pub identity_pem: Option<Vec<u8>>,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("identity", &self.identity_pem.is_some())
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// The largest answer accepted from central; a catalog is far smaller.
const MAX_BODY: usize = 8 << 20;

/// Why a call to central failed. `is_retryable` tells the outbox what to do with it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configuration is unusable (bad URL, unreadable certificate); fix the kiosk's config.
    #[error("the central client is misconfigured: {0}")]
    Config(String),
    /// Central could not be reached (no route, refused, TLS failure, connection dropped).
    #[error("could not reach central at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Central did not answer in time; a write may or may not have been applied.
    #[error("central did not answer within {0:?}")]
    Timeout(Duration),
    /// Central is still processing the same write (409); repeat later with the same key.
    #[error("central is still processing this request; retry after {retry_after:?}")]
    InFlight { retry_after: Option<Duration> },
    /// Central asks to slow down (429 or 503).
    #[error("central asks to slow down (HTTP {status}); retry after {retry_after:?}")]
    Throttled { status: u16, retry_after: Option<Duration> },
    /// Central failed (5xx).
    #[error("central failed with HTTP {status}")]
    Server { status: u16, problem: Option<Problem> },
    /// Central does not take this kiosk's certificate (401: missing, or revoked): nothing is
    /// wrong with the request, and it is kept until the kiosk is enrolled again.
    #[error("central does not take this kiosk's certificate: {:?}; enroll the kiosk again (kiosk-provision enroll)", problem.title)]
    NotEnrolled { problem: Problem },
    /// Central refused the request and will refuse it again (4xx): a bug or bad data.
    #[error("central refused the request: HTTP {status} {:?}: {:?}", problem.short_kind(), problem.title)]
    Refused { status: u16, problem: Problem },
    /// Central's answer does not follow the contract.
    #[error("central's answer (HTTP {status}) does not follow the contract: {detail}")]
    MalformedResponse { status: u16, detail: String },
}

impl ClientError {
    /// Whether the same request may succeed later. Permanent errors go to the dead-letter
    /// queue; retryable ones are repeated with backoff and the same idempotency key.
    pub fn is_retryable(&self) -> bool {
        match self {
            // A malformed answer may come from a proxy or a transient server bug; the write is
            // idempotent, so repeating it is safe and loses nothing.
            Self::Unreachable { .. }
            | Self::Timeout(_)
            | Self::InFlight { .. }
            | Self::Throttled { .. }
            | Self::Server { .. }
            | Self::NotEnrolled { .. }
            | Self::MalformedResponse { .. } => true,
            Self::Config(_) | Self::Refused { .. } => false,
        }
    }

    /// How long central asked the client to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::InFlight { retry_after } | Self::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Central no longer knows the sync token (410 Gone): start again from the full list.
    pub fn sync_expired(&self) -> bool {
        matches!(self, Self::Refused { status: 410, .. })
    }

    /// The problem central sent, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Refused { problem, .. } | Self::NotEnrolled { problem } => Some(problem),
            Self::Server { problem, .. } => problem.as_ref(),
            _ => None,
        }
    }
}

/// Result of a conditional fetch of reference data (catalog, issuer keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetch<T> {
    /// The kiosk's copy is current (304).
    NotModified,
    Updated {
        etag: Option<String>,
        value: T,
    },
}

/// The typed client. Cheap to clone; clones share connections, and the identity: a renewed
/// certificate put in use ([`use_identity`](CentralClient::use_identity)) is what every clone
/// presents from its next connection on.
#[derive(Clone, Debug)]
pub struct CentralClient {
    http: Arc<std::sync::RwLock<reqwest::Client>>,
    base: String,
    ca_pem: Arc<Vec<u8>>,
    timeouts: Timeouts,
}

/// The TLS settings of a client of central: trust only `ca_pem`, present the kiosk's identity
/// when it has one (mutual TLS), HTTP/1.1.
pub fn tls_config(config: &ClientConfig) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&config.ca_pem) {
        let cert = cert.map_err(|e| ClientError::Config(format!("CA certificate PEM: {e}")))?;
        roots.add(cert).map_err(|e| ClientError::Config(format!("CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Config("no CA certificate given to trust central's server certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(e.to_string()))?
        .with_root_certificates(roots);
    let mut tls = match &config.identity_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| ClientError::Config(format!("kiosk certificate PEM: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| ClientError::Config(format!("kiosk private key PEM: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| ClientError::Config(format!("kiosk identity: {e}")))?
        }
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The first certificate of a kiosk identity (PEM), parsed.
fn with_identity_certificate<T>(
    identity_pem: &[u8],
    read: impl FnOnce(&x509_parser::certificate::X509Certificate<'_>) -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let first = CertificateDer::pem_slice_iter(identity_pem)
        .next()
        .ok_or_else(|| ClientError::Config("no certificate in the kiosk identity".into()))?
        .map_err(|e| ClientError::Config(format!("kiosk certificate PEM: {e}")))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(first.as_ref()).map_err(|e| ClientError::Config(format!("kiosk certificate: {e}")))?;
    read(&cert)
}

/// When a kiosk identity's certificate became valid and when it expires.
pub fn identity_validity(identity_pem: &[u8]) -> Result<(jiff::Timestamp, jiff::Timestamp), ClientError> {
    with_identity_certificate(identity_pem, |cert| {
        let at = |t: x509_parser::time::ASN1Time| {
            jiff::Timestamp::from_second(t.timestamp()).map_err(|e| ClientError::Config(format!("kiosk certificate validity: {e}")))
        };
        Ok((at(cert.validity().not_before)?, at(cert.validity().not_after)?))
    })
}

/// Who a kiosk identity (certificate and key, PEM, from enrolment) says the kiosk is: the
/// kiosk id (subject common name) and its service centre (organisational unit), which central
/// holds it to.
pub fn identity_names(identity_pem: &[u8]) -> Result<(String, String), ClientError> {
    with_identity_certificate(identity_pem, |cert| {
        let subject = cert.subject();
        let name = |found: Option<&x509_parser::x509::AttributeTypeAndValue<'_>>, what: &str| {
            found
                .and_then(|a| a.as_str().ok())
                .map(str::to_string)
                .ok_or_else(|| ClientError::Config(format!("the kiosk certificate names no {what}")))
        };
        Ok((
            name(subject.iter_common_name().next(), "kiosk (common name)")?,
            name(subject.iter_organizational_unit().next(), "centre (organisational unit)")?,
        ))
    })
}

/// What a status other than success means for the client: the one place statuses are
/// sorted into retryable and permanent errors, for whole answers and for each application
/// of a batch alike.
fn classify(status: StatusCode, problem: Option<Problem>, retry_after: Option<Duration>) -> ClientError {
    let code = status.as_u16();
    match status {
        // A conflict that is not a request in flight is central's answer (a slot taken, a
        // booking another's), not something a repeat settles.
        StatusCode::CONFLICT => match problem {
            Some(problem) if !problem.kind.ends_with(":request-in-flight") => ClientError::Refused { status: code, problem },
            _ => ClientError::InFlight { retry_after },
        },
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => ClientError::Throttled { status: code, retry_after },
        StatusCode::UNAUTHORIZED => ClientError::NotEnrolled {
            problem: problem.unwrap_or_else(|| Problem::new(code, "kiosk-certificate-required", "central does not take this certificate")),
        },
        s if s.is_server_error() => ClientError::Server { status: code, problem },
        s if s.is_client_error() => ClientError::Refused {
            status: code,
            problem: problem.unwrap_or_else(|| Problem::new(code, "unknown", s.canonical_reason().unwrap_or("refused"))),
        },
        _ => ClientError::MalformedResponse { status: code, detail: "unexpected status".into() },
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = when.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

impl CentralClient {
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let base = config.base_url.trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            return Err(ClientError::Config(format!("central's URL must start with https:// (got {base:?})")));
        }
        let http = Self::http_client(config)?;
        Ok(Self { http: Arc::new(std::sync::RwLock::new(http)), base, ca_pem: Arc::new(config.ca_pem.clone()), timeouts: config.timeouts })
    }

    /// Presents `identity_pem` (a renewed certificate and its key) from the next connection
    /// on, in this client and every clone of it.
    pub fn use_identity(&self, identity_pem: &[u8]) -> Result<(), ClientError> {
        let config = ClientConfig {
            base_url: self.base.clone(),
            ca_pem: self.ca_pem.to_vec(),
            identity_pem: Some(identity_pem.to_vec()),
            timeouts: self.timeouts,
        };
        let http = Self::http_client(&config)?;
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = http;
        Ok(())
    }

    fn http(&self) -> reqwest::Client {
        self.http.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn http_client(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(config)?)
            .https_only(true)
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            // Central closes a connection idle for 75 s: the kiosk lets go of its own well
            // before, so a request never goes out on one central is closing.
            .pool_idle_timeout(std::time::Duration::from_secs(70))
            .user_agent(concat!("balcao-kiosk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base)
    }

    /// Sends a request and sorts the answer: success statuses come back with their body,
    /// everything else becomes a classified error.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ClientError> {
        let started = Instant::now();
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response).await.map_err(|e| self.transport_error(e))?;
        tracing::debug!(what, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "central answered");
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok((status, headers, body));
        }
        let problem = parse_problem(&headers, &body, status);
        Err(classify(status, problem, retry_after(&headers)))
    }

    fn transport_error(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout(self.timeouts.request)
        } else if e.is_builder() {
            ClientError::Config(e.to_string())
        } else {
            ClientError::Unreachable { url: self.base.clone(), source: e }
        }
    }

    /// The catalog, unless the kiosk's copy (identified by its `ETag`) is current.
    pub async fn catalog(&self, etag: Option<&str>) -> Result<Fetch<Catalog>, ClientError> {
        self.fetch_conditional("/catalog", etag, "catalog").await
    }

    /// The agency's public keys certificates are signed with, unless the kiosk's copy is current.
    pub async fn document_keys(&self, etag: Option<&str>) -> Result<Fetch<IssuerKeys>, ClientError> {
        self.fetch_conditional("/document-keys", etag, "document_keys").await
    }

    /// The identity provider's public keys, unless the kiosk's copy is current.
    pub async fn identity_issuers(&self, etag: Option<&str>) -> Result<Fetch<IssuerKeys>, ClientError> {
        self.fetch_conditional("/identity-issuers", etag, "identity_issuers").await
    }

    async fn fetch_conditional<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        etag: Option<&str>,
        what: &str,
    ) -> Result<Fetch<T>, ClientError> {
        let mut request = self.http().get(self.url(path));
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let (status, headers, body) = self.send(request, what).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetch::NotModified);
        }
        let value = parse_json(status, &body)?;
        let etag = headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Fetch::Updated { etag, value })
    }

    /// A page of the certificates ready at `centre`: everything after `since`, or the full
    /// list without it. An error for which [`ClientError::sync_expired`] holds means: ask again
    /// without a token.
    pub async fn ready_certificates(&self, centre: &str, since: Option<&str>) -> Result<CertificateChanges, ClientError> {
        let mut query = vec![("centre", centre)];
        query.extend(since.map(|token| ("since", token)));
        let request = self.http().get(self.url("/certificates/ready")).query(&query);
        let (status, _, body) = self.send(request, "ready_certificates").await?;
        parse_json(status, &body)
    }

    /// The status of a citizen's application, if `query`'s date of birth is its applicant's:
    /// `Ok(None)` when central has no application with this number and date of birth (it does
    /// not say which of the two is wrong). Too many wrong tries of a number:
    /// [`ClientError::Throttled`] with the wait.
    pub async fn check_status(&self, query: &StatusQuery) -> Result<Option<CitizenStatus>, ClientError> {
        let request = self.http().post(self.url("/status-checks")).json(query);
        match self.send(request, "check_status").await {
            Ok((status, _, body)) => {
                let found: CitizenStatus = parse_json(status, &body)?;
                if !found.reference.eq_ignore_ascii_case(query.reference.trim()) {
                    return Err(ClientError::MalformedResponse {
                        status: status.as_u16(),
                        detail: "the answer names another application".into(),
                    });
                }
                Ok(Some(found))
            }
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every application of a citizen whose identity this kiosk has checked, newest first.
    pub async fn check_holder(&self, query: &HolderQuery) -> Result<Vec<CitizenStatus>, ClientError> {
        let request = self.http().post(self.url("/status-checks/holder")).json(query);
        let (status, _, body) = self.send(request, "check_holder").await?;
        let found: HolderStatuses = parse_json(status, &body)?;
        Ok(found.applications)
    }

    /// The days and slots `service_id` can be booked at this kiosk's centre, from today.
    pub async fn appointment_slots(&self, service_id: &str, days: u16) -> Result<AppointmentDays, ClientError> {
        let days = days.to_string();
        let request = self.http().get(self.url("/appointments/slots")).query(&[("service_id", service_id), ("days", days.as_str())]);
        let (status, _, body) = self.send(request, "appointment_slots").await?;
        let found: AppointmentDays = parse_json(status, &body)?;
        if found.service_id != service_id {
            return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: "the answer names another service".into() });
        }
        Ok(found)
    }

    /// Holds a place for the citizen while they confirm. Safe to repeat: the hold id is the
    /// idempotency key. `Ok(None)`: every place of the slot is taken.
    pub async fn hold_appointment(&self, hold: &HoldRequest) -> Result<Option<AppointmentHold>, ClientError> {
        let request = self.http().post(self.url("/appointments/holds")).header(IDEMPOTENCY_KEY, hold.hold_id.to_string()).json(hold);
        match self.send(request, "hold_appointment").await {
            Ok((status, _, body)) => {
                let held: AppointmentHold = parse_json(status, &body)?;
                if held.hold_id != hold.hold_id {
                    return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: "the answer names another hold".into() });
                }
                Ok(Some(held))
            }
            Err(ClientError::Refused { status: 409, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Books the place held under `hold_id`. Safe to repeat. A hold that ran out is
    /// [`ClientError::Refused`] with status 410.
    pub async fn confirm_appointment(&self, hold_id: Uuid, confirmation: &AppointmentConfirmation) -> Result<Appointment, ClientError> {
        let request = self.http().post(self.url(&format!("/appointments/holds/{hold_id}/confirmation"))).json(confirmation);
        let (status, _, body) = self.send(request, "confirm_appointment").await?;
        parse_json(status, &body)
    }

    /// Lets a held place go. Safe to repeat.
    pub async fn release_appointment(&self, hold_id: Uuid) -> Result<(), ClientError> {
        let request = self.http().delete(self.url(&format!("/appointments/holds/{hold_id}")));
        self.send(request, "release_appointment").await.map(|_| ())
    }

    /// Cancels an appointment: `Ok(None)` when central has none with this number and date of
    /// birth (it does not say which is wrong). Too many wrong tries: [`ClientError::Throttled`].
    pub async fn cancel_appointment(&self, cancellation: &AppointmentCancellation) -> Result<Option<Appointment>, ClientError> {
        let request = self.http().post(self.url("/appointments/cancellations")).json(cancellation);
        match self.send(request, "cancel_appointment").await {
            Ok((status, _, body)) => parse_json(status, &body).map(Some),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reports a pickup. Safe to repeat: the pickup id is the idempotency key.
    pub async fn submit_pickup(&self, pickup: &PickupRecord) -> Result<PickupReceipt, ClientError> {
        let request = self.http().post(self.url("/pickups")).header(IDEMPOTENCY_KEY, pickup.pickup_id.to_string()).json(pickup);
        let (status, _, body) = self.send(request, "submit_pickup").await?;
        let receipt: PickupReceipt = parse_json(status, &body)?;
        if receipt.pickup_id != pickup.pickup_id {
            return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: "the answer names another pickup".into() });
        }
        Ok(receipt)
    }

    /// Reports a queue ticket a kiosk issued. Safe to repeat: the ticket id is the idempotency
    /// key.
    pub async fn submit_queue_ticket(&self, ticket: &QueueTicket) -> Result<TicketReceipt, ClientError> {
        let request = self.http().post(self.url("/queue-tickets")).header(IDEMPOTENCY_KEY, ticket.ticket_id.to_string()).json(ticket);
        let (status, _, body) = self.send(request, "submit_queue_ticket").await?;
        let receipt: TicketReceipt = parse_json(status, &body)?;
        if receipt.ticket_id != ticket.ticket_id {
            return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: "the answer names another ticket".into() });
        }
        Ok(receipt)
    }

    /// Submits an application. Safe to repeat: the application id is the idempotency key, and
    /// central answers a repeat with its first answer.
    pub async fn submit_application(&self, submission: &ApplicationSubmission) -> Result<ApplicationReceipt, ClientError> {
        let request =
            self.http().post(self.url("/applications")).header(IDEMPOTENCY_KEY, submission.application_id.to_string()).json(submission);
        let (status, _, body) = self.send(request, "submit_application").await?;
        let receipt: ApplicationReceipt = parse_json(status, &body)?;
        if receipt.application_id != submission.application_id {
            return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: "the receipt names another application".into() });
        }
        Ok(receipt)
    }

    /// Submits several queued applications in one request, each given as its id and the exact
    /// JSON body it was queued with (sent unchanged). Safe to repeat, like
    /// [`submit_application`](Self::submit_application). Each application gets the result it
    /// would have had alone, in the batch's order; the results may stop short of the batch's
    /// end, and what has no result is to be sent again.
    pub async fn submit_applications(&self, batch: &[(Uuid, &str)]) -> Result<Vec<Result<ApplicationReceipt, ClientError>>, ClientError> {
        if batch.is_empty() || batch.len() > MAX_BATCH {
            return Err(ClientError::Config(format!("a batch holds 1 to {MAX_BATCH} applications, not {}", batch.len())));
        }
        // The queued bodies are spliced in as they are, not parsed and written again.
        let mut body = String::from(r#"{"applications":["#);
        for (i, (_, json)) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(json);
        }
        body.push_str("]}");
        let request = self.http().post(self.url("/applications/batch")).header(CONTENT_TYPE, "application/json").body(body);
        let (status, _, answer) = self.send(request, "submit_applications").await?;
        let BatchResults { results } = parse_json(status, &answer)?;
        let malformed = |detail: String| ClientError::MalformedResponse { status: status.as_u16(), detail };
        if results.len() > batch.len() {
            return Err(malformed(format!("{} results for {} applications", results.len(), batch.len())));
        }
        results
            .into_iter()
            .zip(batch)
            .map(|(result, (id, _))| {
                let named = result.receipt.as_ref().map(|r| r.application_id).or(result.application_id);
                if named.is_some_and(|named| named != *id) {
                    return Err(malformed(format!("the result for application {id} does not match it")));
                }
                let item_status = StatusCode::from_u16(result.status).map_err(|_| malformed(format!("status {}", result.status)))?;
                Ok(match result.receipt {
                    Some(receipt) if item_status.is_success() => Ok(receipt),
                    None if item_status.is_success() => return Err(malformed(format!("no receipt for application {id}"))),
                    _ => Err(classify(item_status, result.problem, None)),
                })
            })
            .collect()
    }

    /// Central's clock, from the `Date` of an authenticated answer (the catalog's): proves
    /// mutual TLS works and lets a technician see the kiosk's clock skew.
    pub async fn clock(&self) -> Result<jiff::Timestamp, ClientError> {
        let (status, headers, _) = self.send(self.http().get(self.url("/catalog")), "clock").await?;
        let date = headers.get(reqwest::header::DATE).and_then(|v| v.to_str().ok()).and_then(|v| jiff::fmt::rfc2822::parse(v).ok());
        date.map(|zoned| zoned.timestamp())
            .ok_or_else(|| ClientError::MalformedResponse { status: status.as_u16(), detail: "no Date header".into() })
    }

    /// Trades a one-time enrollment token and a signing request for the kiosk's first
    /// certificate (this client needs no identity for it).
    pub async fn enroll(&self, request: &EnrollmentRequest) -> Result<IssuedCertificate, ClientError> {
        let (status, _, body) = self.send(self.http().post(self.url("/enrollments")).json(request), "enroll").await?;
        parse_json(status, &body)
    }

    /// Asks for the kiosk's next certificate, over mutual TLS with the current one.
    pub async fn renew_certificate(&self, request: &RenewalRequest) -> Result<IssuedCertificate, ClientError> {
        let (status, _, body) = self.send(self.http().post(self.url("/certificates/renewal")).json(request), "renew_certificate").await?;
        parse_json(status, &body)
    }

    /// Tells central this kiosk is being decommissioned (its last request with its certificate).
    pub async fn retire(&self, retirement: &Retirement) -> Result<(), ClientError> {
        self.send(self.http().post(self.url("/retirement")).json(retirement), "retire").await.map(drop)
    }

    /// Hands central a technician's readiness report, for the kiosk's console page.
    pub async fn send_diagnosis(&self, diagnosis: &Diagnosis) -> Result<(), ClientError> {
        self.send(self.http().post(self.url("/diagnoses")).json(diagnosis), "send_diagnosis").await.map(drop)
    }

    /// Reports an event to the fleet's monitoring. Safe to repeat: the event id is the
    /// idempotency key.
    pub async fn submit_event(&self, event: &KioskEvent) -> Result<(), ClientError> {
        let request = self.http().post(self.url("/events")).header(IDEMPOTENCY_KEY, event.event_id.to_string()).json(event);
        self.send(request, "submit_event").await.map(|_| ())
    }

    /// Tells central how the kiosk is; the answer holds the commands waiting for it.
    pub async fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatAnswer, ClientError> {
        let request = self.http().post(self.url("/heartbeats")).json(heartbeat);
        let (status, _, body) = self.send(request, "heartbeat").await?;
        parse_json(status, &body)
    }

    /// Reports what came of a command. Safe to repeat.
    pub async fn report_command(&self, command_id: Uuid, report: &CommandReport) -> Result<(), ClientError> {
        let request = self.http().post(self.url(&format!("/commands/{command_id}/report"))).json(report);
        self.send(request, "report_command").await.map(|_| ())
    }

    /// Sends the file a command asked for: a PNG (`image/png`) or logs (`text/plain`). Safe
    /// to repeat.
    pub async fn upload(&self, command_id: Uuid, content_type: &'static str, body: Vec<u8>) -> Result<(), ClientError> {
        let request = self.http().post(self.url(&format!("/commands/{command_id}/upload"))).header(CONTENT_TYPE, content_type).body(body);
        self.send(request, "upload").await.map(|_| ())
    }

    /// Asks for an attendant at this kiosk. Safe to repeat (the call's id makes it one call).
    pub async fn call_attendant(&self, call: &AttendantCall) -> Result<AttendantCallStatus, ClientError> {
        let request = self.http().post(self.url("/attendant-calls")).json(call);
        let (status, _, body) = self.send(request, "call_attendant").await?;
        parse_json(status, &body)
    }

    /// Where this kiosk's call stands.
    pub async fn attendant_call(&self, call_id: Uuid) -> Result<AttendantCallStatus, ClientError> {
        let request = self.http().get(self.url(&format!("/attendant-calls/{call_id}")));
        let (status, _, body) = self.send(request, "attendant_call").await?;
        parse_json(status, &body)
    }

    /// Ends this kiosk's call: the citizen was helped, cancelled or left. Safe to repeat.
    pub async fn end_attendant_call(&self, call_id: Uuid) -> Result<(), ClientError> {
        let request = self.http().post(self.url(&format!("/attendant-calls/{call_id}/end")));
        self.send(request, "end_attendant_call").await.map(|_| ())
    }

    pub async fn application_status(&self, application_id: Uuid) -> Result<ApplicationStatus, ClientError> {
        let request = self.http().get(self.url(&format!("/applications/{application_id}")));
        let (status, _, body) = self.send(request, "application_status").await?;
        parse_json(status, &body)
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            // Keep the head: enough to report the problem; the rest is not worth memory.
            body.truncate(MAX_BODY + 1);
            break;
        }
    }
    Ok(body)
}

fn parse_json<T: serde::de::DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, ClientError> {
    if body.len() > MAX_BODY {
        return Err(ClientError::MalformedResponse { status: status.as_u16(), detail: format!("answer larger than {MAX_BODY} bytes") });
    }
    serde_json::from_slice(body).map_err(|e| ClientError::MalformedResponse { status: status.as_u16(), detail: e.to_string() })
}

fn parse_problem(headers: &reqwest::header::HeaderMap, body: &[u8], status: StatusCode) -> Option<Problem> {
    let is_json = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));
    let problem: Problem = if is_json { serde_json::from_slice(body).ok()? } else { return None };
    (problem.status == status.as_u16()).then_some(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_of_errors() {
        let refused = ClientError::Refused { status: 422, problem: Problem::new(422, "idempotency-key-reused", "t") };
        assert!(!refused.is_retryable());
        assert!(!ClientError::Config("x".into()).is_retryable());
        for retryable in [
            ClientError::Timeout(Duration::from_secs(1)),
            ClientError::InFlight { retry_after: Some(Duration::from_secs(2)) },
            ClientError::Throttled { status: 429, retry_after: None },
            ClientError::Server { status: 500, problem: None },
            ClientError::MalformedResponse { status: 201, detail: "x".into() },
        ] {
            assert!(retryable.is_retryable(), "{retryable}");
        }
        assert_eq!(ClientError::InFlight { retry_after: Some(Duration::from_secs(2)) }.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date in the past means now");
        headers.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn config_needs_https_and_a_ca() {
        let config =
            ClientConfig { base_url: "http://central".into(), ca_pem: Vec::new(), identity_pem: None, timeouts: Timeouts::default() };
        assert!(matches!(CentralClient::new(&config), Err(ClientError::Config(m)) if m.contains("https")));
        let config = ClientConfig { base_url: "https://central".into(), ..config };
        assert!(matches!(CentralClient::new(&config), Err(ClientError::Config(m)) if m.contains("CA")));
    }
}
