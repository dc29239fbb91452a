//! Sends queued writes to central: oldest first, each with its own id as `Idempotency-Key`,
//! retried with exponential backoff and full jitter, never sooner than central's
//! `Retry-After`. A permanent refusal moves the entry to the dead letters, kept for a
//! technician; nothing is ever dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use balcao_backend_client::api::{ApplicationSubmission, KioskEvent, KioskEventKind, Severity};
use balcao_backend_client::{CentralClient, ClientError};
use jiff::Timestamp;
use rand::Rng;
use tokio::sync::{Notify, mpsc, watch};

use super::{Fatal, KioskIdentity, SharedStore, with_store};
use crate::session::Event;
use crate::store::StoreError;

/// When to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upper bound of the first retry's random delay.
    pub first: Duration,
    /// The bound never grows past this.
    pub max: Duration,
}

impl RetryPolicy {
    /// Upper bound of the delay after `attempt` failed attempts: `first · 2^attempt`, capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(2u32.saturating_pow(attempt.min(31))).min(self.max)
    }

    /// Full jitter: uniformly random in `[0, ceiling]`, so a fleet coming back from an outage
    /// spreads out instead of stampeding; never shorter than what central asked for.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        let jitter = Duration::from_millis(rng.random_range(0..=ceiling));
        jitter.max(retry_after.unwrap_or(Duration::ZERO))
    }
}

/// What became of one attempt.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Delivered,
    RetryLater,
    Refused,
}

/// The task that drains the outbox.
#[derive(Debug)]
pub struct OutboxSender {
    pub store: SharedStore,
    pub client: CentralClient,
    pub policy: RetryPolicy,
    /// Notified when something is queued, to send it at once.
    pub wake: Arc<Notify>,
    /// Whether central answered the last request.
    pub online: Arc<AtomicBool>,
    pub events: mpsc::UnboundedSender<Event>,
    /// How long acknowledged records stay on the kiosk.
    pub retention: Duration,
    /// Who this kiosk is, for the events it reports.
    pub identity: KioskIdentity,
    /// Raised when the store fails under a write.
    pub fatal: Fatal,
}

/// How often acknowledged records past their retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

impl OutboxSender {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                self.purge().await;
                last_purge = Some(std::time::Instant::now());
            }
            self.drain().await;
            let next = with_store(&self.store, |s| s.next_outbox_due()).await.ok().flatten();
            let pause = next.map_or(Duration::from_secs(60), |due| {
                Duration::try_from(due.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO).min(Duration::from_secs(60))
            });
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Forgets acknowledged records older than the retention period.
    async fn purge(&self) {
        let before = Timestamp::now() - jiff::SignedDuration::try_from(self.retention).unwrap_or(jiff::SignedDuration::MAX);
        match with_store(&self.store, move |s| s.purge_acknowledged(before)).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "acknowledged records past their retention purged"),
            Err(e) => tracing::error!(error = %e, "purging acknowledged records failed"),
        }
    }

    async fn report(&self) {
        if let Ok(counts) = with_store(&self.store, |s| s.outbox_counts()).await {
            let _ = self.events.send(Event::Uploads { pending: counts.pending });
        }
    }

    /// Sends everything due, oldest first; stops at the first entry that must wait, so later
    /// entries never overtake it.
    async fn drain(&self) {
        loop {
            let due = match with_store(&self.store, |s| s.due_outbox(Timestamp::now(), 16)).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    return;
                }
            };
            if due.is_empty() {
                break;
            }
            for item in due {
                let attempt = self.attempt(&item).await;
                if attempt == Attempt::RetryLater {
                    self.report().await;
                    return;
                }
            }
        }
        self.report().await;
    }

    /// Sends one entry as its kind says. `Ok` carries the state central gave an application.
    async fn send(&self, item: &crate::store::OutboxItem) -> Result<Result<Option<String>, ClientError>, String> {
        let malformed = |e: serde_json::Error| format!("the queued {} does not parse: {e}", item.kind);
        match item.kind.as_str() {
            "application" => {
                let submission: ApplicationSubmission = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_application(&submission).await.map(|receipt| Some(receipt.state.as_str().to_string())))
            }
            "event" => {
                let event: KioskEvent = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_event(&event).await.map(|()| None))
            }
            other => Err(format!("no way to send an outbox entry of kind {other:?}")),
        }
    }

    async fn attempt(&self, item: &crate::store::OutboxItem) -> Attempt {
        let (id, kind) = (item.id, item.kind.clone());
        let result = match self.send(item).await {
            Ok(result) => result,
            Err(reason) => {
                tracing::error!(record = %id, %kind, %reason, "outbox entry moved to dead letters");
                return self.dead(item, reason).await;
            }
        };
        self.online.store(!matches!(result, Err(ClientError::Unreachable { .. } | ClientError::Timeout(_))), Ordering::Relaxed);
        let stored = match result {
            Ok(central_state) => {
                tracing::info!(record = %id, %kind, attempts = item.attempts + 1, "delivered to central");
                with_store(&self.store, move |s| s.outbox_delivered(id, central_state.as_deref())).await.map(|()| Attempt::Delivered)
            }
            Err(e) if e.is_retryable() => {
                let delay = self.policy.delay(item.attempts, e.retry_after(), &mut rand::rng());
                tracing::warn!(record = %id, %kind, attempts = item.attempts + 1, retry_in_ms = delay.as_millis() as u64, error = %e, "central did not take it; will retry");
                let next = Timestamp::now() + jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX);
                let error = e.to_string();
                with_store(&self.store, move |s| s.outbox_retry(id, next, &error)).await.map(|()| Attempt::RetryLater)
            }
            Err(e) => {
                tracing::error!(record = %id, %kind, error = %e, "central refused it for good; kept as a dead letter");
                return self.dead(item, e.to_string()).await;
            }
        };
        stored.unwrap_or_else(|e| self.store_failed(id, &e))
    }

    /// Keeps the entry aside for a technician and tells the fleet's monitoring (unless the
    /// entry was itself such a report).
    async fn dead(&self, item: &crate::store::OutboxItem, reason: String) -> Attempt {
        let (id, is_event) = (item.id, item.kind == "event");
        let alert = (!is_event).then(|| {
            self.identity.event(
                KioskEventKind::DeadLetter,
                Severity::Critical,
                format!("outbox entry {id} ({}) refused by central and kept on the kiosk: {reason}", item.kind),
            )
        });
        let stored = with_store(&self.store, move |s| {
            s.outbox_dead(id, &reason)?;
            alert.map_or(Ok(()), |alert| s.queue_event(&alert))
        })
        .await;
        stored.map(|()| Attempt::Refused).unwrap_or_else(|e| self.store_failed(id, &e))
    }

    fn store_failed(&self, id: uuid::Uuid, e: &StoreError) -> Attempt {
        tracing::error!(record = %id, error = %e, "cannot record the outcome of a delivery; it will be repeated");
        if e.is_fatal() {
            self.fatal.fail(e);
        }
        Attempt::RetryLater
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn delays_are_full_jitter_under_a_doubling_capped_ceiling() {
        let policy = RetryPolicy { first: Duration::from_secs(1), max: Duration::from_secs(300) };
        assert_eq!(policy.ceiling(0), Duration::from_secs(1));
        assert_eq!(policy.ceiling(3), Duration::from_secs(8));
        assert_eq!(policy.ceiling(20), Duration::from_secs(300));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(300));

        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..2000).map(|_| policy.delay(4, None, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(16)));
        // Spread over the whole range, not bunched at the ceiling.
        let below_half = delays.iter().filter(|d| **d < Duration::from_secs(8)).count();
        assert!((800..1200).contains(&below_half), "{below_half} of 2000 below half the ceiling");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let policy = RetryPolicy { first: Duration::from_millis(100), max: Duration::from_secs(1) };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..100 {
            assert!(policy.delay(0, Some(Duration::from_secs(30)), &mut rng) >= Duration::from_secs(30));
        }
    }
}
