//! The kiosk's monitoring agent: every minute or so (jittered, so a fleet back from an outage
//! does not beat in step) it tells central how the kiosk is, and carries out the commands that
//! come back in the answer — the kiosk opens no port of its own. Each command is carried out
//! once: its outcome is kept, and a command delivered again is reported again, not redone.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_backend_client::CentralClient;
use balcao_backend_client::api::{CommandAction, CommandOutcome, CommandReport, Heartbeat, KioskCommand, OutboxReport};
use jiff::Timestamp;
use rand::Rng;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use uuid::Uuid;

use super::devices::Survey;
use super::{SharedStore, with_store};
use crate::session::Event;
use crate::store::{CommandDone, StoreError};

/// What the core loop tells the agent after every event: names and counts, nothing a citizen
/// gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreStatus {
    pub screen: &'static str,
    pub sessions_today: u32,
    pub closed_by_central: bool,
}

pub struct Monitor {
    pub client: CentralClient,
    pub store: SharedStore,
    pub kiosk_id: String,
    pub centre_id: String,
    /// Between heartbeats (each one jittered by ±20 %).
    pub interval: Duration,
    pub database: PathBuf,
    pub started: Instant,
    pub surveyed: watch::Receiver<Survey>,
    pub status: watch::Receiver<CoreStatus>,
    /// When the reference data last came from central.
    pub synced_at: Arc<Mutex<Option<Timestamp>>>,
    pub events: mpsc::UnboundedSender<Event>,
    /// Wakes the reference data sync (a "refresh the catalog now" command).
    pub sync_wake: Arc<Notify>,
    /// Asks the end-of-day task to close the payment terminal's day now.
    pub close_day_now: mpsc::UnboundedSender<CloseDayReply>,
    /// Commands being carried out that take a while (a day's close): a repeated delivery
    /// meanwhile is left alone, not started again.
    pub in_progress: Arc<Mutex<HashSet<Uuid>>>,
    /// Asks the core to restart the program once nobody is being served.
    pub restart: Arc<std::sync::atomic::AtomicBool>,
    /// The view shown now, and what draws views: for a masked screenshot.
    pub shown: watch::Receiver<balcao_ui::view::View>,
    pub screen: Arc<dyn super::ViewSink>,
    /// Heartbeats sent and failed, for the kiosk's metrics.
    pub counts: super::metrics::BeatCounts,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("kiosk_id", &self.kiosk_id).field("interval", &self.interval).finish_non_exhaustive()
    }
}

/// Where the end-of-day task says what came of a close staff asked for.
pub type CloseDayReply = oneshot::Sender<Result<String, String>>;

/// The longest a close asked for by staff is waited for (a payment under way finishes first).
const CLOSE_DAY_WAIT: Duration = Duration::from_secs(300);

impl Monitor {
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let this = self;
        // The first heartbeat soon after start (a restarted kiosk shows up at once), spread over
        // a few seconds across a fleet.
        let mut pause = Duration::from_secs(2).mul_f64(rand::rng().random_range(0.5..=1.5)).min(this.interval);
        loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
            this.counts.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = this.beat().await {
                this.counts.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(error = %e, "heartbeat not delivered");
            }
            pause = this.interval.mul_f64(rand::rng().random_range(0.8..=1.2));
        }
    }

    async fn beat(self: &Arc<Self>) -> Result<(), BeatError> {
        let heartbeat = self.heartbeat().await?;
        let answer = self.client.heartbeat(&heartbeat).await?;
        for command in answer.commands {
            if self.in_progress.lock().unwrap_or_else(|e| e.into_inner()).contains(&command.command_id) {
                continue;
            }
            if matches!(command.action, CommandAction::CloseDay) {
                // A close waits for a payment under way: carried out beside the heartbeats.
                let (monitor, id) = (self.clone(), command.command_id);
                self.in_progress.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
                tokio::spawn(async move {
                    if let Err(e) = monitor.carry_out(command).await {
                        tracing::info!(error = %e, "the day's close not reported yet");
                    }
                    monitor.in_progress.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                });
                continue;
            }
            self.carry_out(command).await?;
        }
        Ok(())
    }

    /// The heartbeat as of now.
    pub async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        let (counts, oldest, open_payments) =
            with_store(&self.store, |s| Ok::<_, StoreError>((s.outbox_counts()?, s.oldest_pending_age()?, s.unfinished_payments()?.len())))
                .await?;
        let status = *self.status.borrow();
        let devices = self.surveyed.borrow().devices.clone();
        let database_bytes = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut path = self.database.clone().into_os_string();
                path.push(suffix);
                std::fs::metadata(path).ok().map(|m| m.len())
            })
            .sum();
        let folder = self.database.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let disk_free_bytes = rustix::fs::statvfs(folder).map_or(0, |s| s.f_bavail.saturating_mul(s.f_frsize));
        Ok(Heartbeat {
            kiosk_id: self.kiosk_id.clone(),
            centre_id: self.centre_id.clone(),
            sent_at: Timestamp::now(),
            software_version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: self.started.elapsed().as_secs(),
            devices,
            outbox: OutboxReport {
                pending: counts.pending,
                // Given exactly when something waits (a record written this instant is 0 s old).
                oldest_age_seconds: (counts.pending > 0).then(|| oldest.unwrap_or(0)),
                dead_letters: counts.dead,
            },
            last_sync_at: *self.synced_at.lock().unwrap_or_else(|e| e.into_inner()),
            database_bytes,
            disk_free_bytes,
            open_payments: u32::try_from(open_payments).unwrap_or(u32::MAX),
            screen: status.screen.into(),
            sessions_today: status.sessions_today,
            out_of_service: status.closed_by_central,
        })
    }

    /// Carries out `command` unless it was before, keeps what came of it, and reports that.
    async fn carry_out(&self, command: KioskCommand) -> Result<(), BeatError> {
        let id = command.command_id;
        let done = match with_store(&self.store, move |s| s.command_done(id)).await? {
            Some(done) => done,
            None => {
                let done = if Timestamp::now() > command.expires_at {
                    CommandDone {
                        outcome: CommandOutcome::Expired,
                        detail: "it reached the kiosk after its expiry".into(),
                        at: Timestamp::now(),
                    }
                } else {
                    self.act(&command).await
                };
                tracing::info!(command = %id, kind = command.action.name(), outcome = ?done.outcome, "command from central");
                let (kind, kept) = (command.action.name(), done.clone());
                with_store(&self.store, move |s| s.record_command(id, kind, &kept)).await?;
                // Only once it is kept: after the restart, the command delivered again is
                // reported, not carried out again.
                if matches!(command.action, CommandAction::Restart) && done.outcome == CommandOutcome::Done {
                    self.restart.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                done
            }
        };
        let report = CommandReport { kiosk_id: self.kiosk_id.clone(), outcome: done.outcome, detail: done.detail, at: done.at };
        self.client.report_command(id, &report).await?;
        Ok(())
    }

    async fn act(&self, command: &KioskCommand) -> CommandDone {
        let action = &command.action;
        let result: Result<String, String> = match action {
            CommandAction::OutOfService { message } => self.close(Some(message.clone())).await,
            CommandAction::BackInService => self.close(None).await,
            CommandAction::RefreshCatalog => {
                self.sync_wake.notify_one();
                Ok("the reference data is being fetched now".into())
            }
            CommandAction::CloseDay => {
                let (reply, outcome) = oneshot::channel();
                match self.close_day_now.send(reply) {
                    Err(_) => Err("this kiosk has no payment journal open (its store failed)".to_string()),
                    Ok(()) => match tokio::time::timeout(CLOSE_DAY_WAIT, outcome).await {
                        Ok(Ok(result)) => result,
                        Ok(Err(_)) => Err("the kiosk is stopping".to_string()),
                        Err(_) => Err(format!("the terminal's day was not closed within {} minutes", CLOSE_DAY_WAIT.as_secs() / 60)),
                    },
                }
            }
            CommandAction::Restart => Ok("the program restarts as soon as no citizen is being served".into()),
            CommandAction::Screenshot => self.screenshot(command.command_id).await,
            CommandAction::UploadLogs { minutes } => self.upload_logs(command.command_id, *minutes).await,
        };
        let (outcome, detail) = match result {
            Ok(detail) => (CommandOutcome::Done, detail),
            Err(detail) => (CommandOutcome::Failed, detail),
        };
        CommandDone { outcome, detail, at: Timestamp::now() }
    }

    /// Draws the screen shown now with every value a citizen gave masked, and sends it.
    async fn screenshot(&self, command_id: Uuid) -> Result<String, String> {
        let masked = self.shown.borrow().masked();
        let screen = masked.screen.name();
        let (reply, drawn) = oneshot::channel();
        self.screen.render(
            masked,
            Box::new(move |png| {
                let _ = reply.send(png);
            }),
        );
        let png = match tokio::time::timeout(Duration::from_secs(10), drawn).await {
            Ok(Ok(Some(png))) => png,
            Ok(Ok(None)) => return Err("this kiosk's screen cannot be drawn off-screen".into()),
            Ok(Err(_)) | Err(_) => return Err("the screen was not drawn (the window is gone or busy)".into()),
        };
        let size = png.len();
        self.client.upload(command_id, "image/png", png).await.map_err(|e| format!("not sent: {e}"))?;
        Ok(format!("screenshot of the {screen} screen sent, personal data masked ({} KiB)", size.div_ceil(1024)))
    }

    /// Sends the log lines of the last `minutes` (as many of the newest as a request carries).
    async fn upload_logs(&self, command_id: Uuid, minutes: u32) -> Result<String, String> {
        const MOST: usize = 1_000_000;
        let (text, cut) = super::logs::recent(minutes, MOST);
        let lines = text.lines().count();
        self.client.upload(command_id, "text/plain; charset=utf-8", text.into_bytes()).await.map_err(|e| format!("not sent: {e}"))?;
        let note = if cut { " (the oldest of that time left out: more than the kiosk keeps or a request carries)" } else { "" };
        Ok(format!("{lines} log lines of the last {minutes} minutes sent{note}"))
    }

    /// Closes the kiosk with staff's message (kept across restarts), or opens it again.
    async fn close(&self, message: Option<balcao_backend_client::api::LocalizedText>) -> Result<String, String> {
        let kept = message.clone();
        with_store(&self.store, move |s| s.set_closed_by_central(kept.as_ref())).await.map_err(|e| format!("not kept: {e}"))?;
        let serving = self.status.borrow().screen != "attract";
        let closing = message.is_some();
        self.events.send(Event::ClosedByCentral(message)).map_err(|_| "the kiosk is stopping".to_string())?;
        Ok(match (closing, serving) {
            (true, true) => "out of service once the citizen being served finishes".into(),
            (true, false) => "out of service".into(),
            (false, _) => "back in service".into(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum BeatError {
    #[error(transparent)]
    Central(#[from] balcao_backend_client::ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
