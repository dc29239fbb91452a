//! Alerts leave central two ways: on the console, and to a webhook a territory's own alerting
//! (a pager, a chat, a ticket system) listens on. This is the webhook's side: every change of
//! an alert (raised, acknowledged, cleared) was queued in the store in the same transaction as
//! the change (`store/alerts.rs`); a task on each central instance takes the due deliveries,
//! POSTs each as JSON signed with HMAC-SHA256, and retries a failure with growing pauses for a
//! day. The sweep that finds silent kiosks runs here too.
//!
//! The signature (header `Balcao-Signature: t=<unix seconds>,v1=<hex>`) is the HMAC-SHA256,
//! with the shared secret, of `<t>.<body>`: the receiver recomputes it, and refuses an old `t`
//! to stop replays. HMAC is `ring`'s (already central's TLS provider).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::Central;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "balcao-signature";
/// How long a delivery is retried before it is given up (kept in the store, with its error).
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(24);
/// How long a delivery taken by an instance is its alone (then another may take it).
const LEASE: SignedDuration = SignedDuration::from_secs(60);
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where alerts are delivered.
#[derive(Clone)]
pub struct Webhook {
    pub url: reqwest::Url,
    secret: ring::hmac::Key,
    http: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the alert webhook's address {0:?} is not an http or https URL")]
    Url(String),
    #[error("the alert webhook's secret must be at least 32 bytes (it is {0})")]
    ShortSecret(usize),
    #[error("the alert webhook's CA file: {0}")]
    Ca(String),
    #[error("the alert webhook's client: {0}")]
    Client(String),
}

impl Webhook {
    /// A webhook at `url` signing with `secret`, trusting the system's certificate authorities
    /// and those in `ca_pem` (a territory's own CA).
    pub fn new(url: &str, secret: &[u8], ca_pem: Option<&[u8]>) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(url).map_err(|_| WebhookError::Url(url.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(WebhookError::Url(url.to_string()));
        }
        if secret.len() < 32 {
            return Err(WebhookError::ShortSecret(secret.len()));
        }
        let mut roots = rustls::RootCertStore::empty();
        // The system's store as Debian keeps it; a certificate it cannot read is skipped.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(pem) = ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                roots.add(cert.map_err(|e| WebhookError::Ca(e.to_string()))?).map_err(|e| WebhookError::Ca(e.to_string()))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| WebhookError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Self { url, secret: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret), http })
    }

    /// The signature header's value for `body` sent at `at` (Unix seconds).
    pub fn signature(&self, at: i64, body: &str) -> String {
        signature(&self.secret, at, body)
    }

    /// Sends one delivery; `Err` says why it did not arrive.
    async fn deliver(&self, body: &str) -> Result<(), String> {
        let at = Timestamp::now().as_second();
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, self.signature(at, body))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("not delivered: {e}"))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
    }
}

/// `t=<at>,v1=<hex of HMAC-SHA256(key, "<at>.<body>")>`.
pub fn signature(key: &ring::hmac::Key, at: i64, body: &str) -> String {
    let tag = ring::hmac::sign(key, format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(tag.as_ref()))
}

/// Whether `header` is a signature of `body` with `secret` made within `tolerance` of `now`
/// (what a receiver checks; the tests use it as the receiver).
pub fn verify(secret: &[u8], header: &str, body: &str, now: Timestamp, tolerance: SignedDuration) -> bool {
    let mut at = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => at = value.parse::<i64>().ok(),
            Some(("v1", value)) => tag = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(at), Some(tag)) = (at, tag) else { return false };
    if (now.as_second() - at).abs() > tolerance.as_secs() {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, format!("{at}.{body}").as_bytes(), &tag).is_ok()
}

/// The pause before attempt `attempts + 1`: 2 s, doubling, at most 10 minutes.
fn pause(attempts: u32) -> SignedDuration {
    SignedDuration::from_secs(2i64.saturating_mul(1 << attempts.min(9)).min(600))
}

/// Makes the deliveries that are due now; returns how many arrived.
pub async fn deliver_due(central: &Central, webhook: &Webhook) -> usize {
    let taken = {
        let central = central.clone();
        tokio::task::spawn_blocking(move || central.store().take_deliveries(Timestamp::now(), LEASE, 50)).await
    };
    let deliveries = match taken {
        Ok(Ok(deliveries)) => deliveries,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "alert deliveries could not be read");
            return 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "alert delivery task failed");
            return 0;
        }
    };
    let mut arrived = 0;
    for delivery in deliveries {
        let result = webhook.deliver(&delivery.body).await;
        let filed = match result {
            Ok(()) => {
                arrived += 1;
                Ok(())
            }
            Err(error) => {
                // Counted from the delivery's making: its id is a v7 UUID, which holds it.
                let made = delivery
                    .delivery_id
                    .get_timestamp()
                    .and_then(|t| Timestamp::from_millisecond(i64::try_from(t.to_unix().0 * 1000).ok()?).ok())
                    .unwrap_or_else(Timestamp::now);
                let retry_at = Timestamp::now() + pause(delivery.attempts);
                let retry_at = (retry_at < made + GIVE_UP_AFTER).then_some(retry_at);
                tracing::warn!(delivery = %delivery.delivery_id, attempts = delivery.attempts + 1, given_up = retry_at.is_none(), %error, "alert webhook delivery failed");
                Err((error, retry_at))
            }
        };
        let (central, id) = (central.clone(), delivery.delivery_id);
        match tokio::task::spawn_blocking(move || central.store().delivery_done(id, filed)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "an alert delivery's outcome could not be filed"),
            Err(e) => tracing::warn!(error = %e, "an alert delivery's outcome could not be filed"),
        }
    }
    arrived
}

/// Runs the alert sweep every `every`, and the webhook's deliveries (if any) every second,
/// until dropped.
pub async fn run(central: Central, webhook: Option<Webhook>, every: Duration) {
    let mut sweep = tokio::time::interval(every);
    let mut deliver = tokio::time::interval(Duration::from_secs(1));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    deliver.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                let central = central.clone();
                match tokio::task::spawn_blocking(move || central.store().sweep_alerts(Timestamp::now())).await {
                    Ok(Ok(raised)) if raised > 0 => tracing::info!(raised, "kiosks gone silent"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "the alert sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "the alert sweep task failed"),
                }
            }
            _ = deliver.tick(), if webhook.is_some() => {
                if let Some(webhook) = &webhook {
                    deliver_due(&central, webhook).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let secret = [7u8; 32];
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let now = Timestamp::now();
        let header = signature(&key, now.as_second(), "{\"a\":1}");
        let tolerance = SignedDuration::from_mins(5);
        assert!(verify(&secret, &header, "{\"a\":1}", now, tolerance));
        assert!(!verify(&secret, &header, "{\"a\":2}", now, tolerance), "another body");
        assert!(!verify(&[8u8; 32], &header, "{\"a\":1}", now, tolerance), "another secret");
        assert!(!verify(&secret, &header, "{\"a\":1}", now + SignedDuration::from_mins(6), tolerance), "a replay later");
        assert!(!verify(&secret, "t=1,v1=zz", "{\"a\":1}", now, tolerance), "garbage");
    }

    #[test]
    fn pauses_grow_and_stop_growing() {
        assert_eq!(pause(0), SignedDuration::from_secs(2));
        assert_eq!(pause(1), SignedDuration::from_secs(4));
        assert_eq!(pause(30), SignedDuration::from_secs(600));
    }

    #[test]
    fn a_webhook_needs_a_url_and_a_long_secret() {
        assert!(matches!(Webhook::new("ftp://x", &[0; 32], None), Err(WebhookError::Url(_))));
        assert!(matches!(Webhook::new("https://alerts.example", &[0; 8], None), Err(WebhookError::ShortSecret(8))));
        assert!(Webhook::new("https://alerts.example/hook", &[0; 32], None).is_ok());
    }
}
