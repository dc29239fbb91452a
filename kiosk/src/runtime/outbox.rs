//! Sends queued writes to central: oldest first, each with its own id as `Idempotency-Key`,
//! retried with exponential backoff and full jitter, never sooner than central's
//! `Retry-After`. A permanent refusal moves the entry to the dead letters, kept for a
//! technician; nothing is ever dropped.
//!
//! A backlog of applications (after an outage, say) goes in batches of up to
//! [`MAX_BATCH`]: one request and one commit on each side per batch instead of per
//! application, in the same order, each application still its own idempotent write. A
//! central that does not know batches gets them one by one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use balcao_backend_client::api::{
    ApplicationSubmission, KioskEvent, KioskEventKind, MAX_BATCH, PickupRecord, PickupVerdict, QueueTicket, Severity, TicketVerdict,
};
use balcao_backend_client::{CentralClient, ClientError};
use jiff::Timestamp;
use rand::Rng;
use tokio::sync::{Notify, mpsc, watch};

use super::{Fatal, KioskIdentity, SharedStore, with_store};
use crate::session::Event;
use crate::store::{OutboxItem, Settlement, StoreError};

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
    /// Set once central answered that it does not take batches.
    pub batches_refused: AtomicBool,
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
            let due = match with_store(&self.store, |s| s.due_outbox(Timestamp::now(), MAX_BATCH as u32)).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    return;
                }
            };
            if due.is_empty() {
                break;
            }
            let mut rest = due.as_slice();
            while !rest.is_empty() {
                let run = rest.iter().take_while(|item| item.kind == "application").count();
                let (attempt, sent) = if run >= 2 && !self.batches_refused.load(Ordering::Relaxed) {
                    (self.attempt_batch(&rest[..run]).await, run)
                } else {
                    (self.attempt(&rest[0]).await, 1)
                };
                if attempt == Attempt::RetryLater {
                    self.report().await;
                    return;
                }
                rest = &rest[sent..];
            }
        }
        self.report().await;
    }

    /// Sends a run of queued applications as one batch and records every outcome in one
    /// transaction. Those central did not get to are retried, with everything after them.
    async fn attempt_batch(&self, items: &[OutboxItem]) -> Attempt {
        let batch: Vec<(uuid::Uuid, &str)> = items.iter().map(|item| (item.id, item.body.as_str())).collect();
        let result = self.client.submit_applications(&batch).await;
        self.note_reachability(&result);
        let results = match result {
            Ok(results) => results,
            Err(ClientError::Refused { status: 404 | 405, .. }) => {
                tracing::warn!("central does not take batches; sending one by one");
                self.batches_refused.store(true, Ordering::Relaxed);
                return self.attempt(&items[0]).await;
            }
            // The whole batch waits for the same moment, so it leaves again as one.
            Err(e) if e.is_retryable() => {
                let (delay, next) = self.next_attempt(&items[0], &e);
                tracing::warn!(entries = items.len(), retry_in_ms = delay.as_millis() as u64, error = %e, "central did not take the batch; will retry");
                let outcomes = items.iter().map(|item| (item.id, Settlement::Retry { next, error: e.to_string() })).collect();
                return self.settle(outcomes, Attempt::RetryLater).await;
            }
            // Refused as a whole although each entry is well formed: let each get its own
            // verdict alone.
            Err(e) => {
                tracing::warn!(error = %e, "central refused the batch; sending its first entry alone");
                return self.attempt(&items[0]).await;
            }
        };
        let delivered = results.iter().filter(|r| r.is_ok()).count();
        // An application without a result was in another request's hands: as a 409 alone.
        let unprocessed = || Err(ClientError::InFlight { retry_after: Some(Duration::from_secs(1)) });
        let mut then = Attempt::Delivered;
        let outcomes = items
            .iter()
            .zip(results.into_iter().chain(std::iter::repeat_with(unprocessed)))
            .map(|(item, result)| {
                let (settlement, attempt) = self.outcome(item, result.map(|receipt| Some(receipt.state.as_str().to_string())));
                if attempt == Attempt::RetryLater {
                    then = Attempt::RetryLater;
                }
                (item.id, settlement)
            })
            .collect();
        tracing::info!(delivered, of = items.len(), kind = "application", "batch delivered to central");
        self.settle(outcomes, then).await
    }

    async fn settle(&self, outcomes: Vec<(uuid::Uuid, Settlement)>, then: Attempt) -> Attempt {
        let first = outcomes.first().map(|(id, _)| *id).unwrap_or_default();
        match with_store(&self.store, move |s| s.outbox_settle(&outcomes)).await {
            Ok(()) => then,
            Err(e) => self.store_failed(first, &e),
        }
    }

    /// Remembers whether central could be reached, for the screen's sync state.
    fn note_reachability<T>(&self, result: &Result<T, ClientError>) {
        self.online.store(!matches!(result, Err(ClientError::Unreachable { .. } | ClientError::Timeout(_))), Ordering::Relaxed);
    }

    /// When to try `item` again after `error`: full jitter, never sooner than central asked.
    fn next_attempt(&self, item: &OutboxItem, error: &ClientError) -> (Duration, Timestamp) {
        let delay = self.policy.delay(item.attempts, error.retry_after(), &mut rand::rng());
        (delay, Timestamp::now() + jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::MAX))
    }

    /// What central's answer to `item` means: what to record, and whether the queue may go on.
    /// `Ok` carries the state central gave an application.
    fn outcome(&self, item: &OutboxItem, result: Result<Option<String>, ClientError>) -> (Settlement, Attempt) {
        let (id, kind) = (item.id, &item.kind);
        match result {
            Ok(central_state) => (Settlement::Delivered { central_state }, Attempt::Delivered),
            Err(e) if e.is_retryable() => {
                let (delay, next) = self.next_attempt(item, &e);
                tracing::warn!(record = %id, %kind, attempts = item.attempts + 1, retry_in_ms = delay.as_millis() as u64, error = %e, "central did not take it; will retry");
                (Settlement::Retry { next, error: e.to_string() }, Attempt::RetryLater)
            }
            Err(e) => {
                tracing::error!(record = %id, %kind, error = %e, "central refused it for good; kept as a dead letter");
                (self.dead_letter(item, e.to_string()), Attempt::Refused)
            }
        }
    }

    /// Keeps the entry aside for a technician and tells the fleet's monitoring (unless the
    /// entry was itself such a report).
    fn dead_letter(&self, item: &OutboxItem, reason: String) -> Settlement {
        let alert = (item.kind != "event").then(|| {
            self.identity.event(
                KioskEventKind::DeadLetter,
                Severity::Critical,
                format!("outbox entry {} ({}) refused by central and kept on the kiosk: {reason}", item.id, item.kind),
            )
        });
        Settlement::Dead { error: reason, alert }
    }

    /// Sends one entry as its kind says. `Ok` carries the state central gave an application.
    async fn send(&self, item: &OutboxItem) -> Result<Result<Option<String>, ClientError>, String> {
        let malformed = |e: serde_json::Error| format!("the queued {} does not parse: {e}", item.kind);
        match item.kind.as_str() {
            "application" => {
                let submission: ApplicationSubmission = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_application(&submission).await.map(|receipt| Some(receipt.state.as_str().to_string())))
            }
            "pickup" => {
                let pickup: PickupRecord = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_pickup(&pickup).await.map(|receipt| {
                    if receipt.verdict == PickupVerdict::Duplicate {
                        tracing::warn!(pickup = %pickup.pickup_id, "central says another kiosk handed this certificate out too; staff will follow up");
                    }
                    None
                }))
            }
            "queue-ticket" => {
                let ticket: QueueTicket = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_queue_ticket(&ticket).await.map(|receipt| {
                    if receipt.verdict == TicketVerdict::NumberReused {
                        tracing::warn!(ticket = %ticket.ticket_id, number = %ticket.number, "central says another kiosk of this centre issued the same number today: check the ticket series");
                    }
                    None
                }))
            }
            "event" => {
                let event: KioskEvent = serde_json::from_str(&item.body).map_err(malformed)?;
                Ok(self.client.submit_event(&event).await.map(|()| None))
            }
            other => Err(format!("no way to send an outbox entry of kind {other:?}")),
        }
    }

    async fn attempt(&self, item: &OutboxItem) -> Attempt {
        let result = match self.send(item).await {
            Ok(result) => result,
            Err(reason) => {
                tracing::error!(record = %item.id, kind = %item.kind, %reason, "outbox entry moved to dead letters");
                return self.settle(vec![(item.id, self.dead_letter(item, reason))], Attempt::Refused).await;
            }
        };
        self.note_reachability(&result);
        if result.is_ok() {
            tracing::info!(record = %item.id, kind = %item.kind, attempts = item.attempts + 1, "delivered to central");
        }
        let (settlement, attempt) = self.outcome(item, result);
        self.settle(vec![(item.id, settlement)], attempt).await
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
