//! The kiosk's metrics for a site's own monitoring, in the Prometheus / OpenMetrics text
//! format (`prometheus-client`), on a loopback address only (`logging.metrics_listen`, by
//! default `127.0.0.1:9464`): what the heartbeat tells central — devices, outbox, dead
//! letters, open payments, sessions, disk — read afresh at each scrape, and the heartbeats
//! sent and failed. Names and counts only, like the heartbeat: nothing a citizen gave.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use balcao_backend_client::api::{DeviceCondition, Heartbeat};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use super::fleet::Monitor;

/// Heartbeats sent, and how many central did not take.
#[derive(Debug, Default)]
pub struct BeatCounts {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
    condition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

fn name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The exposition text of `heartbeat` and the counts.
pub fn exposition(heartbeat: &Heartbeat, counts: &BeatCounts) -> String {
    let mut registry = Registry::with_prefix("balcao_kiosk");
    let gauge = |registry: &mut Registry, metric: &str, help: &str, value: i64| {
        let gauge = Gauge::<i64>::default();
        gauge.set(value);
        registry.register(metric, help, gauge);
    };
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    gauge(&mut registry, "uptime_seconds", "Seconds since the program started", int(heartbeat.uptime_seconds));
    gauge(&mut registry, "outbox_pending", "Records waiting to be sent to central", i64::from(heartbeat.outbox.pending));
    gauge(
        &mut registry,
        "outbox_oldest_age_seconds",
        "Age of the oldest record waiting (0: none)",
        int(heartbeat.outbox.oldest_age_seconds.unwrap_or(0)),
    );
    gauge(
        &mut registry,
        "dead_letters",
        "Records central refused for good, kept for a technician",
        i64::from(heartbeat.outbox.dead_letters),
    );
    gauge(&mut registry, "open_payments", "Payments not yet settled with the terminal", i64::from(heartbeat.open_payments));
    gauge(&mut registry, "sessions_today", "Citizens served since midnight", i64::from(heartbeat.sessions_today));
    gauge(&mut registry, "out_of_service", "1 when central's staff put the kiosk out of service", i64::from(heartbeat.out_of_service));
    gauge(&mut registry, "database_bytes", "Size of the kiosk's database files", int(heartbeat.database_bytes));
    gauge(&mut registry, "disk_free_bytes", "Free space where the database is", int(heartbeat.disk_free_bytes));
    gauge(
        &mut registry,
        "last_sync_timestamp_seconds",
        "When reference data last came from central (0: never)",
        heartbeat.last_sync_at.map_or(0, |t| t.as_second()),
    );
    let devices = Family::<DeviceLabels, Gauge<i64>>::default();
    for device in &heartbeat.devices {
        devices.get_or_create(&DeviceLabels { device: name(&device.device), condition: name(&device.condition) }).set(1);
    }
    registry.register("device_condition", "Each device's condition (1 for the one it is in)", devices);
    let ready = Family::<DeviceLabel, Gauge<i64>>::default();
    for device in &heartbeat.devices {
        let up = matches!(device.condition, DeviceCondition::Ok | DeviceCondition::PaperNearEnd);
        ready.get_or_create(&DeviceLabel { device: name(&device.device) }).set(i64::from(up));
    }
    registry.register("device_ready", "1 when the device can serve", ready);
    let counter = |registry: &mut Registry, metric: &str, help: &str, value: u64| {
        let counter = Counter::<u64>::default();
        counter.inc_by(value);
        registry.register(metric, help, counter);
    };
    counter(&mut registry, "heartbeats_sent", "Heartbeats sent to central", counts.sent.load(Ordering::Relaxed));
    counter(&mut registry, "heartbeats_failed", "Heartbeats central did not take", counts.failed.load(Ordering::Relaxed));
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

async fn scrape(State(monitor): State<Arc<Monitor>>) -> Response {
    match monitor.heartbeat().await {
        Ok(heartbeat) => (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            exposition(&heartbeat, &monitor.counts),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics not read");
            (StatusCode::SERVICE_UNAVAILABLE, "the kiosk's store did not answer\n").into_response()
        }
    }
}

/// Serves `/metrics` on `address` (a loopback address: the configuration refuses others)
/// until `shutdown`.
pub async fn serve(monitor: Arc<Monitor>, address: SocketAddr, mut shutdown: watch::Receiver<bool>) {
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) => return tracing::warn!(%address, error = %e, "the metrics cannot be served"),
    };
    tracing::info!(%address, "metrics served at /metrics");
    let app = Router::new().route("/metrics", axum::routing::get(scrape)).with_state(monitor);
    let stopped = async move {
        let _ = shutdown.changed().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
        tracing::warn!(error = %e, "the metrics server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balcao_backend_client::api::{DeviceClass, DeviceReport, OutboxReport};

    #[test]
    fn the_exposition_says_what_the_heartbeat_says() {
        let heartbeat = Heartbeat {
            kiosk_id: "K01".into(),
            centre_id: "GSC-01".into(),
            sent_at: jiff::Timestamp::now(),
            software_version: "0.1.0".into(),
            uptime_seconds: 3600,
            devices: vec![DeviceReport {
                device: DeviceClass::ReceiptPrinter,
                condition: DeviceCondition::PaperOut,
                detail: String::new(),
            }],
            outbox: OutboxReport { pending: 3, oldest_age_seconds: Some(120), dead_letters: 1 },
            last_sync_at: None,
            database_bytes: 1 << 20,
            disk_free_bytes: 1 << 30,
            open_payments: 0,
            screen: "attract".into(),
            sessions_today: 12,
            out_of_service: false,
        };
        let counts = BeatCounts { sent: AtomicU64::new(7), failed: AtomicU64::new(2) };
        let text = exposition(&heartbeat, &counts);
        for line in [
            "balcao_kiosk_outbox_pending 3",
            "balcao_kiosk_outbox_oldest_age_seconds 120",
            "balcao_kiosk_dead_letters 1",
            "balcao_kiosk_sessions_today 12",
            "balcao_kiosk_device_condition{device=\"receipt-printer\",condition=\"paper-out\"} 1",
            "balcao_kiosk_device_ready{device=\"receipt-printer\"} 0",
            "balcao_kiosk_heartbeats_sent_total 7",
            "balcao_kiosk_heartbeats_failed_total 2",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
