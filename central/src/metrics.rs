//! Central's own metrics in the Prometheus / OpenMetrics text format (`prometheus-client`):
//! requests and their latency per route, heartbeats taken, and at each scrape the fleet's
//! kiosks per state and the records waiting in their outboxes. Served at `/metrics` to a
//! scraper that shows the bearer token central was given (`--metrics-token-file`); without one
//! configured, `/metrics` is not served.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::AppState;
use crate::store::fleet::KioskState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// What central counts; cheap to update from any request.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    heartbeats: Counter,
    kiosks: Family<StateLabels, Gauge>,
    outbox_pending: Gauge,
    /// The token a scraper must show; `None`: `/metrics` is not served.
    token: Option<String>,
}

impl Metrics {
    pub fn new(token: Option<String>) -> Self {
        let mut registry = Registry::with_prefix("balcao_central");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "Requests answered, by route, method and status", requests.clone());
        // 1 ms to about 16 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 15)));
        registry.register("http_request_duration_seconds", "Time to answer a request, by route", latency.clone());
        let heartbeats = Counter::default();
        registry.register("heartbeats", "Kiosk heartbeats taken", heartbeats.clone());
        let kiosks = Family::<StateLabels, Gauge>::default();
        registry.register("kiosks", "Kiosks by state, as of the scrape", kiosks.clone());
        let outbox_pending = Gauge::default();
        registry.register(
            "fleet_outbox_pending",
            "Records waiting in the kiosks' outboxes, as their last heartbeats say",
            outbox_pending.clone(),
        );
        Self { registry, requests, latency, heartbeats, kiosks, outbox_pending, token }
    }

    fn observe(&self, route: String, method: String, status: u16, took: Duration) {
        self.latency.get_or_create(&RouteLabels { route: route.clone() }).observe(took.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    }

    pub fn heartbeat_taken(&self) {
        self.heartbeats.inc();
    }
}

/// Counts every request that reached a route, with its time.
pub async fn measure(State(state): State<Arc<AppState>>, matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The metrics, to a scraper with the token.
pub async fn scrape(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = &state.metrics.token else { return StatusCode::NOT_FOUND.into_response() };
    let shown = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !shown.is_some_and(|shown| crate::console::same(shown, token)) {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    }
    let fleet = match crate::console::from_store(&state, |store| store.fleet(None)).await {
        Ok(fleet) => fleet,
        Err(response) => return response,
    };
    for kiosk_state in [KioskState::Offline, KioskState::Alarm, KioskState::OutOfService, KioskState::Warning, KioskState::Ok] {
        let count = fleet.iter().filter(|k| k.state == kiosk_state).count();
        state.metrics.kiosks.get_or_create(&StateLabels { state: kiosk_state.name() }).set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    let pending: u64 = fleet.iter().map(|k| u64::from(k.heartbeat.outbox.pending)).sum();
    state.metrics.outbox_pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
