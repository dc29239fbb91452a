//! The kiosk's one event loop: it feeds the session every event (touches, ticks, device and
//! network results), carries out the effects the session returns, and shows its view.
//!
//! Each journey's effects are carried out in a file of its own:
//! - `apply.rs` — the fee reserved, the application saved, the fee booked or released, paper;
//! - `pickup.rs` — a certificate found and collected, a queue ticket issued (`printouts.rs`:
//!   recorded around their printing);
//! - `status.rs` — a citizen's status check: central, or the kiosk's own copy offline;
//! - `identify.rs` — the app's sign-in code, a document's chip.
//!
//! And around them: `devices.rs` (a thread per device, the readiness poll), `outbox.rs`
//! (delivery of queued writes to central), `sync.rs` (the reference data poll: catalog, issuer
//! keys, certificates ready for pickup), `payments.rs` (reconciliation), `fleet.rs`
//! (heartbeats, commands).
//!
//! Background work reports back only as session events on one channel, so the session sees
//! one ordered stream and needs no locks.

mod apply;
mod appointment;
mod attendant;
pub mod devices;
pub mod fleet;
mod identify;
pub(crate) mod ime;
pub mod logs;
pub mod maintenance;
pub mod metrics;
pub mod outbox;
pub mod payments;
mod pickup;
mod printouts;
pub mod renewal;
mod status;
pub mod supervisor;
pub mod sync;
pub mod training;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_backend_client::CentralClient;
use balcao_backend_client::api::{DayTotals, KioskEvent, KioskEventKind, Severity};
use balcao_drivers::CancelToken;
use balcao_ui::view::{Problem, Screen, View};
use tokio::sync::{Notify, mpsc, watch};

use crate::session::{Effect, Event, ScannedCode, Session, SessionConfig};
use crate::store::{Approval, KioskPlace, PaymentState, Store, StoreError};
use devices::Devices;
use outbox::{OutboxSender, RetryPolicy};
use sync::ReferenceSync;

pub type SharedStore = Arc<Mutex<Store>>;

/// Runs `job` on the store from async code, on a blocking thread.
pub async fn with_store<R: Send + 'static>(store: &SharedStore, job: impl FnOnce(&mut Store) -> R + Send + 'static) -> R {
    let store = store.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
        job(&mut store)
    });
    match task.await {
        Ok(result) => result,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Where the session's view goes: the Slint window, or a test's recorder.
pub trait ViewSink: Send + Sync {
    fn show(&self, view: View);

    /// Draws `view` (a masked one, for staff: see [`View::masked`]) as the screen would,
    /// without showing it, and hands `reply` the PNG; `None` where this sink draws nothing.
    fn render(&self, view: View, reply: Box<dyn FnOnce(Option<Vec<u8>>) + Send>) {
        drop(view);
        reply(None);
    }
}

impl ViewSink for balcao_ui::UiHandle {
    fn show(&self, view: View) {
        balcao_ui::UiHandle::show(self, view);
    }

    fn render(&self, view: View, reply: Box<dyn FnOnce(Option<Vec<u8>>) + Send>) {
        balcao_ui::UiHandle::render(self, view, reply);
    }
}

/// What the loop needs to know about this kiosk.
#[derive(Clone, Debug)]
pub struct KioskSettings {
    pub kiosk_id: String,
    pub centre_id: String,
    /// This kiosk's letter or digit in queue ticket numbers.
    pub ticket_series: char,
    pub status_url: String,
    pub session: SessionConfig,
    pub retry: RetryPolicy,
    pub catalog_poll: Duration,
    pub health_poll: Duration,
    /// Between heartbeats to central.
    pub heartbeat: Duration,
    /// Where the kiosk's metrics are served (a loopback address); `None`: not served.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub database: PathBuf,
    /// The file holding the key that seals personal data in the database.
    pub data_key: PathBuf,
    /// How long records stay on the kiosk after central acknowledged them.
    pub retention: Duration,
    /// The longest the payment terminal goes without closing its day: at that age the kiosk
    /// holds its paid services and closes the day as soon as no payment is under way.
    pub end_of_day: Duration,
    /// From this age on, the day closes at the first moment nobody is at the kiosk.
    pub end_of_day_when_idle: Duration,
    /// Where the kiosk keeps the certificate it renews itself; `None`: it renews none (its
    /// certificate is made by hand, or it has no central).
    pub renewal: Option<renewal::Renewal>,
    /// Where the technician's tool reaches the running kiosk (see [`maintenance`]); `None`:
    /// nowhere.
    pub maintenance_socket: Option<PathBuf>,
    /// What is done with a device that keeps failing.
    pub supervision: supervisor::Supervision,
}

impl KioskSettings {
    pub fn open_store(&self) -> Result<Store, StoreError> {
        Store::open(&self.database, &self.data_key)
    }
}

/// A running kiosk core: send it events, stop it.
#[derive(Debug)]
pub struct KioskHandle {
    pub events: mpsc::UnboundedSender<Event>,
    shutdown: watch::Sender<bool>,
    failure: watch::Receiver<Option<String>>,
    restart: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl KioskHandle {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Completes when central's staff asked for a restart and nobody is being served: the
    /// process must then start itself again.
    pub async fn restart_requested(&self) {
        let mut restart = self.restart.clone();
        if restart.wait_for(|wanted| *wanted).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Completes when the core stopped because its store failed under a write; the process
    /// must then exit so its supervisor restarts it and the store is checked afresh.
    pub async fn failed(&self) -> String {
        let mut failure = self.failure.clone();
        match failure.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }
}

/// Raised when a write to the store fails in a way that leaves its state unknown (I/O error,
/// disk full, damaged file). Never ignored: the kiosk finishes what is in hand, goes out of
/// service and stops, to be restarted.
#[derive(Clone, Debug)]
pub struct Fatal(Arc<watch::Sender<Option<String>>>);

impl Fatal {
    pub fn fail(&self, error: &dyn std::error::Error) {
        let reason = error_chain(error);
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            tracing::error!(error = %reason, "the store failed under a write: the kiosk stops to be restarted");
            *current = Some(reason);
            true
        });
    }
}

/// Who this kiosk is, for what it reports.
#[derive(Clone, Debug)]
pub struct KioskIdentity {
    pub kiosk_id: String,
    pub centre_id: String,
}

impl KioskIdentity {
    pub fn event(&self, kind: KioskEventKind, severity: Severity, detail: String) -> KioskEvent {
        KioskEvent {
            event_id: uuid::Uuid::now_v7(),
            kiosk_id: self.kiosk_id.clone(),
            centre_id: self.centre_id.clone(),
            kind,
            severity,
            detail,
            at: jiff::Timestamp::now(),
            day_totals: None,
        }
    }
}

/// Tells central at once, without the store (which failed), retrying until it is heard.
fn alert_without_store(client: CentralClient, event: KioskEvent, policy: RetryPolicy, mut stopped: watch::Receiver<bool>) {
    tokio::spawn(async move {
        for attempt in 0u32.. {
            let delay = match client.submit_event(&event).await {
                Ok(()) => return tracing::info!(kind = ?event.kind, "alert delivered to central"),
                Err(e) if e.is_retryable() => policy.delay(attempt, e.retry_after(), &mut rand::rng()),
                Err(e) => return tracing::error!(error = %e, "central refused the alert"),
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stopped.changed() => return,
            }
        }
    });
}

struct Kiosk {
    session: Session,
    settings: KioskSettings,
    view: Arc<dyn ViewSink>,
    last_view: Option<View>,
    store: Option<SharedStore>,
    devices: Devices,
    events: mpsc::UnboundedSender<Event>,
    outbox_wake: Arc<Notify>,
    payment_cancel: Option<CancelToken>,
    /// The journal's id of the payment the citizen is making.
    in_flight: payments::InFlight,
    /// Wakes the reconciliation of unfinished payments.
    reconcile_wake: Arc<Notify>,
    /// Nobody is at the kiosk (the welcome screen): the terminal may close its day.
    at_rest: Arc<AtomicBool>,
    /// The terminal's day is overdue: paid services are held until it closes.
    closing_day: Arc<AtomicBool>,
    fatal: Fatal,
    /// What the health poll last found of every device.
    surveyed: Arc<watch::Sender<devices::Survey>>,
    /// What the monitoring agent reports of the core: the screen's name, sessions today.
    status: watch::Sender<fleet::CoreStatus>,
    /// Wakes the reference data sync at once.
    sync_wake: Arc<Notify>,
    /// When reference data last came from central.
    synced_at: Arc<Mutex<Option<jiff::Timestamp>>>,
    started: Instant,
    /// Asks the end-of-day task to close the terminal's day now (staff's command); each asker is
    /// told what came of it.
    close_day_now: mpsc::UnboundedSender<fleet::CloseDayReply>,
    close_day_requests: Option<mpsc::UnboundedReceiver<fleet::CloseDayReply>>,
    /// Staff asked for a restart: made once nobody is being served.
    restart_wanted: Arc<AtomicBool>,
    restart: watch::Sender<bool>,
    /// A citizen's call for an attendant.
    attendant: attendant::Caller,
    /// The view shown now, for a staff member's (masked) screenshot.
    shown: watch::Sender<View>,
    /// Every code the scanner reads, for a technician's test (see [`maintenance`]).
    scans: tokio::sync::broadcast::Sender<String>,
    /// The feed of certificates ready here, once central is configured.
    certificates: Option<Arc<sync::CertificateFeed>>,
    /// Central, for what a citizen waits for at the screen (a status check).
    central: Option<CentralClient>,
    /// Wrong status tries answered from the kiosk's own copy while offline.
    status_tries: Arc<status::OfflineTries>,
}

/// On the screen that says the receipt did not print: the application's status page, the
/// link the receipt's QR code would have carried, for the screen to show as one. The session
/// knows the number; where the status page is, the kiosk's settings say.
pub(crate) fn link_status_page(view: &mut View, status_url: &str) {
    if view.screen == Screen::Error && view.error.problem == Problem::ReceiptNotPrinted && !view.error.reference.is_empty() {
        view.error.status_link = format!("{status_url}{}", view.error.reference);
    }
}

/// A device job's result, with its failure logged for the technician (kind and message; a
/// device error never carries personal data).
fn settled<T, K: std::fmt::Debug + Copy>(
    result: Result<Result<T, balcao_drivers::DeviceError<K>>, devices::DeviceGone>,
    failure: &str,
) -> Option<T> {
    match result {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::error!(kind = ?e.kind(), error = %e, "{failure}");
            None
        }
        Err(gone) => {
            tracing::error!(error = %gone, "{failure}");
            None
        }
    }
}

/// An error and its causes on one line, for logs and alerts (store errors carry no personal
/// data), and for the technician's tool.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn local_now() -> jiff::Zoned {
    jiff::Zoned::now()
}

/// The channel every event reaches the session through; the UI holds a sender.
pub fn event_channel() -> (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>) {
    mpsc::unbounded_channel()
}

/// Connects a window to a core yet to start: the citizen's actions become session events,
/// and the returned sink puts the session's views on the window. Pass both to [`start`].
pub fn connect_ui(ui: &balcao_ui::KioskUi) -> (Arc<dyn ViewSink>, (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>)) {
    let (events, inbox) = event_channel();
    let actions = events.clone();
    ui.on_action(move |action| {
        let _ = actions.send(Event::Ui(action));
    });
    (Arc::new(ui.handle()), (events, inbox))
}

/// Starts the kiosk's core: opens the store, loads the cached catalog, starts the outbox,
/// the catalog poll and the device poll, and runs the loop until stopped. The first view is
/// shown before the store is opened.
pub async fn start(
    settings: KioskSettings,
    view: Arc<dyn ViewSink>,
    devices: Devices,
    client: Option<CentralClient>,
    (events, mut inbox): (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>),
) -> KioskHandle {
    let (shutdown, stopped) = watch::channel(false);
    let (failure_tx, failure) = watch::channel(None);
    let (restart_tx, restart) = watch::channel(false);
    let session = Session::new(settings.session, Instant::now());
    let close_day = mpsc::unbounded_channel();
    let (settings_kiosk_id, settings_centre_id) = (settings.kiosk_id.clone(), settings.centre_id.clone());
    let mut kiosk = Kiosk {
        session,
        settings,
        view,
        last_view: None,
        store: None,
        devices,
        events: events.clone(),
        outbox_wake: Arc::new(Notify::new()),
        payment_cancel: None,
        in_flight: payments::InFlight::default(),
        reconcile_wake: Arc::new(Notify::new()),
        at_rest: Arc::new(AtomicBool::new(true)),
        closing_day: Arc::new(AtomicBool::new(false)),
        fatal: Fatal(Arc::new(failure_tx)),
        surveyed: Arc::new(watch::channel(devices::Survey::default()).0),
        status: watch::channel(fleet::CoreStatus::default()).0,
        sync_wake: Arc::new(Notify::new()),
        synced_at: Arc::default(),
        started: Instant::now(),
        close_day_now: close_day.0,
        close_day_requests: Some(close_day.1),
        restart_wanted: Arc::new(AtomicBool::new(false)),
        restart: restart_tx,
        attendant: attendant::Caller::new(client.clone(), settings_kiosk_id, settings_centre_id, events.clone()),
        shown: watch::channel(View::default()).0,
        scans: tokio::sync::broadcast::channel(16).0,
        certificates: None,
        central: client.clone(),
        status_tries: Arc::default(),
    };
    kiosk.dispatch(kiosk.tick());
    let task = tokio::spawn(async move {
        let online = Arc::new(AtomicBool::new(client.is_some()));
        match kiosk.open_store().await {
            Ok(etag) => {
                if let Some(store) = kiosk.store.clone() {
                    kiosk.start_reconciler(store.clone(), stopped.clone());
                    kiosk.start_fault_reports(store.clone(), stopped.clone());
                    kiosk.start_end_of_day(store.clone(), stopped.clone());
                    kiosk.start_background(store, client, etag, online.clone(), stopped.clone());
                }
            }
            Err(detail) => {
                if let Some(client) = client {
                    let event = kiosk.identity().event(
                        KioskEventKind::StorageIntegrityFailed,
                        Severity::Critical,
                        format!("the kiosk refuses service: {detail}"),
                    );
                    alert_without_store(client, event, kiosk.settings.retry, stopped.clone());
                }
            }
        }
        kiosk.start_health_poll(online, stopped.clone());
        kiosk.start_scanner(stopped.clone());
        kiosk.start_zone_reader(stopped.clone());
        kiosk.start_maintenance(stopped.clone());
        kiosk.run(&mut inbox, stopped).await;
    });
    KioskHandle { events, shutdown, failure, restart, task }
}

/// How long a citizen collecting a certificate waits for central's latest list of ready
/// certificates, when the kiosk's own does not have the number.
const FRESH_LOOKUP: Duration = Duration::from_secs(6);

/// What the terminal's answer to a reservation writes in the journal.
enum Outcome {
    Approved(Approval),
    Step(PaymentState),
    /// The answer was lost: the payment stays `preauth_sent` for the reconciliation.
    Unknown,
}

impl Kiosk {
    fn tick(&self) -> Event {
        let now = local_now();
        Event::Tick { clock: now.strftime("%H:%M").to_string(), today: now.date().to_string() }
    }

    /// The store and the journal's id of the payment in flight.
    fn journal(&self) -> Option<(SharedStore, uuid::Uuid)> {
        Some((self.store.clone()?, self.in_flight.get()?))
    }

    /// Closes the terminal's day: once `settings.end_of_day_when_idle` has passed since the
    /// last close, at the first moment nobody is at the kiosk; at `settings.end_of_day` at the
    /// latest, holding paid services until it is done (the close waits only for a payment under
    /// way). Reports the terminal's total beside the journal's to central (critical when they
    /// differ). A close the terminal cannot make releases the hold, is reported once and is
    /// tried again every few minutes.
    fn start_end_of_day(&mut self, store: SharedStore, mut stopped: watch::Receiver<bool>) {
        let (terminal, in_flight, at_rest) = (self.devices.payment_terminal.clone(), self.in_flight.clone(), self.at_rest.clone());
        let Some(mut asked) = self.close_day_requests.take() else { return };
        let (identity, outbox, closing_day) = (self.identity(), self.outbox_wake.clone(), self.closing_day.clone());
        let latest = self.settings.end_of_day;
        let when_idle = self.settings.end_of_day_when_idle.min(latest);
        tokio::spawn(async move {
            // Once the close is due, an idle moment is looked for every second.
            let due_poll = Duration::from_secs(1).min(when_idle.max(Duration::from_millis(100)));
            let mut wait = Duration::from_secs(60).min(when_idle).max(Duration::from_millis(100));
            // After a failed close: the terminal is asked again after a while, not every second,
            // and central hears of it once until a close succeeds.
            let retry_after = Duration::from_secs(300).min(latest).max(Duration::from_millis(100));
            let mut failures_reported = false;
            // Staff asked for a close now: made as soon as no payment is under way, whatever the
            // day's age, and each asker told what came of it.
            let mut now_asked: Vec<fleet::CloseDayReply> = Vec::new();
            let answer = |asked: &mut Vec<fleet::CloseDayReply>, result: Result<String, String>| {
                for reply in asked.drain(..) {
                    let _ = reply.send(result.clone());
                }
            };
            loop {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    Some(reply) = asked.recv() => now_asked.push(reply),
                    _ = stopped.changed() => return,
                }
                wait = due_poll;
                let forced = !now_asked.is_empty();
                // Since the last close; before the first, since the first payment captured.
                let since = with_store(&store, |s| match s.last_day_close()? {
                    Some(at) => Ok(Some(at)),
                    None => s.first_capture().map(|first| first.map(|at| at - 1)),
                })
                .await;
                let since = match since {
                    Ok(Some(since)) => since,
                    // Nothing paid yet: a close asked for now closes an empty day.
                    Ok(None) if forced => jiff::Timestamp::now().as_millisecond() - 1,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "end of day: the journal cannot be read");
                        answer(&mut now_asked, Err(format!("the payment journal cannot be read: {e}")));
                        continue;
                    }
                };
                let age = Duration::from_millis((jiff::Timestamp::now().as_millisecond() - since).max(0) as u64);
                if age < when_idle && !forced {
                    wait = (when_idle - age).clamp(Duration::from_millis(100), Duration::from_secs(60));
                    continue;
                }
                let overdue = age >= latest;
                if overdue && !closing_day.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        hours = latest.as_secs() / 3600,
                        "the terminal's day is overdue: paid services are held until it closes"
                    );
                }
                // Staff's close waits only for a payment under way; the regular one for nobody
                // at the kiosk, unless it is overdue.
                if in_flight.get().is_some() || (!overdue && !forced && !at_rest.load(Ordering::SeqCst)) {
                    continue;
                }
                let busy = in_flight.clone();
                let closed = terminal.call(move |t| (busy.get().is_none()).then(|| t.end_of_day())).await;
                let day = match closed {
                    Ok(Some(Ok(day))) => day,
                    Ok(Some(Err(e))) => {
                        tracing::warn!(kind = ?e.kind(), error = %e, "the terminal did not close its day: trying again later");
                        answer(&mut now_asked, Err(format!("the payment terminal did not close its day: {e}")));
                        // A terminal that cannot close still takes payments (they wait in its
                        // batch): the citizens are not made to wait for its host.
                        closing_day.store(false, Ordering::SeqCst);
                        wait = retry_after;
                        if !failures_reported {
                            let detail = format!(
                                "the payment terminal did not close its day ({e}); {} hours since the last close, tried again every {} minutes",
                                age.as_secs() / 3600,
                                retry_after.as_secs().div_ceil(60)
                            );
                            let severity = if overdue { Severity::Critical } else { Severity::Warning };
                            let event = identity.event(KioskEventKind::DayCloseFailed, severity, detail);
                            if with_store(&store, move |s| s.queue_event(&event)).await.is_ok() {
                                failures_reported = true;
                                outbox.notify_one();
                            }
                        }
                        continue;
                    }
                    Ok(None) => continue,
                    Err(gone) => {
                        tracing::error!(error = %gone, "payment terminal worker gone");
                        return;
                    }
                };
                let closed_at = jiff::Timestamp::now().as_millisecond();
                let identity = identity.clone();
                let recorded = with_store(&store, move |s| {
                    let journal = s.captured_between(since, closed_at)?;
                    let totals = DayTotals { terminal_avos: day.total, journal_avos: journal.total_avos, payments: journal.payments };
                    let agree = totals.agree();
                    let detail = format!(
                        "end of day: the terminal booked {}, the kiosk's journal {} over {} payment(s){}",
                        balcao_backend_client::api::Language::En.money(day.total),
                        balcao_backend_client::api::Language::En.money(journal.total_avos),
                        journal.payments,
                        if agree { "" } else { "; they differ: compare the terminal's report with the kiosk's journal" }
                    );
                    let mut report = identity.event(KioskEventKind::DayClosed, totals.severity(), detail);
                    report.day_totals = Some(totals);
                    s.record_day_close(closed_at, day.total, journal, &report)?;
                    Ok::<_, StoreError>(agree)
                })
                .await;
                closing_day.store(false, Ordering::SeqCst);
                failures_reported = false;
                match recorded {
                    Ok(agree) => {
                        tracing::info!(agree, "the terminal closed its day");
                        outbox.notify_one();
                        let said = if agree {
                            "the terminal's total and the kiosk's journal agree"
                        } else {
                            "the terminal's total and the kiosk's journal differ"
                        };
                        answer(&mut now_asked, Ok(format!("the payment day is closed; {said}")));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the day's close was not recorded");
                        answer(&mut now_asked, Err(format!("the terminal closed its day, but the close was not recorded: {e}")));
                    }
                }
            }
        });
    }

    /// Resolves unfinished payments with the terminal: at start (with the terminal's whole
    /// list of open reservations), then whenever a payment ends and every minute while any
    /// is unfinished — never while a citizen is paying.
    fn start_reconciler(&self, store: SharedStore, mut stopped: watch::Receiver<bool>) {
        let (terminal, in_flight, wake) = (self.devices.payment_terminal.clone(), self.in_flight.clone(), self.reconcile_wake.clone());
        let (identity, outbox) = (self.identity(), self.outbox_wake.clone());
        tokio::spawn(async move {
            let mut swept = false;
            loop {
                let unfinished = with_store(&store, |s| s.unfinished_payments().map(|p| !p.is_empty())).await.unwrap_or(true);
                if (unfinished || !swept) && in_flight.get().is_none() {
                    let (journal, live) = (store.clone(), in_flight.clone());
                    let result = terminal
                        .call(move |t| {
                            // Checked again on the terminal's own thread: a payment that began
                            // since waits behind this, but its journal is not touched.
                            if live.get().is_some() {
                                return Ok(None);
                            }
                            payments::reconcile(&journal, t, &live).map(Some)
                        })
                        .await;
                    match result {
                        Ok(Ok(Some(done))) => {
                            swept = true;
                            if done.lapsed > 0 {
                                let detail = format!(
                                    "{} delivered service(s) could not be charged: the card reservation lapsed before the kiosk booked it",
                                    done.lapsed
                                );
                                let event = identity.event(KioskEventKind::PaymentLapsed, Severity::Critical, detail);
                                if with_store(&store, move |s| s.queue_event(&event)).await.is_ok() {
                                    outbox.notify_one();
                                }
                            }
                        }
                        Ok(Ok(None)) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "payments not reconciled yet: trying again"),
                        Err(gone) => tracing::error!(error = %gone, "payment terminal worker gone"),
                    }
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    /// Reports each driver panic the device workers caught to central, as a device fault.
    fn start_fault_reports(&self, store: SharedStore, stopped: watch::Receiver<bool>) {
        let d = &self.devices;
        let mut receivers = vec![
            d.receipt_printer.faults(),
            d.document_printer.faults(),
            d.identity_reader.faults(),
            d.code_scanner.faults(),
            d.payment_terminal.faults(),
        ];
        receivers.extend(d.mrz_reader.as_ref().map(|r| r.faults()));
        for mut faults in receivers {
            let (store, identity, outbox, mut stopped) = (store.clone(), self.identity(), self.outbox_wake.clone(), stopped.clone());
            tokio::spawn(async move {
                loop {
                    let fault = tokio::select! {
                        fault = faults.recv() => fault,
                        _ = stopped.changed() => return,
                    };
                    let fault = match fault {
                        Ok(fault) => fault,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "device faults came faster than they were reported");
                            continue;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    };
                    let detail = format!("the {} driver failed and was made anew: {}", fault.device, fault.message);
                    let event = identity.event(KioskEventKind::DeviceFault, Severity::Warning, detail);
                    if with_store(&store, move |s| s.queue_event(&event)).await.is_ok() {
                        outbox.notify_one();
                    }
                }
            });
        }
    }

    fn identity(&self) -> KioskIdentity {
        KioskIdentity { kiosk_id: self.settings.kiosk_id.clone(), centre_id: self.settings.centre_id.clone() }
    }

    /// What a printout job needs to record itself; none without a store.
    fn recorder(&self) -> Option<printouts::Recorder> {
        Some(printouts::Recorder {
            store: self.store.clone()?,
            identity: self.identity(),
            wake: self.outbox_wake.clone(),
            fatal: self.fatal.clone(),
        })
    }

    /// Opens the store and hands the cached catalog to the session; returns the catalog's
    /// `ETag` for the first conditional poll. If the store cannot be opened or fails its
    /// checks, the kiosk refuses service and the error says why.
    async fn open_store(&mut self) -> Result<Option<String>, String> {
        let settings = self.settings.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let mut store = settings.open_store()?;
            // A pickup cut short mid-print (a crash, a power cut): the certificate may have
            // come out, so it is reported as uncertain and not handed out here again.
            let place = KioskPlace { kiosk_id: &settings.kiosk_id, centre_id: &settings.centre_id };
            for pickup in store.interrupted_pickups()? {
                tracing::warn!(%pickup, "a pickup was cut short while printing; reporting it as uncertain");
                store.finish_pickup(pickup, balcao_backend_client::api::PickupOutcome::Uncertain, place)?;
            }
            // Likewise a queue ticket: the citizen may hold it, so its number must be called.
            for ticket in store.interrupted_tickets()? {
                tracing::warn!(%ticket, "a queue ticket was cut short while printing; reporting it as uncertain");
                store.finish_ticket(ticket, balcao_backend_client::api::TicketOutcome::Uncertain, place)?;
            }
            let catalog = store.cached_catalog()?;
            let closed = store.closed_by_central()?;
            Ok((store, catalog, closed))
        })
        .await;
        match opened {
            Ok(Ok((store, catalog, closed))) => {
                self.store = Some(Arc::new(Mutex::new(store)));
                // Closed by central's staff before a restart: still closed.
                if closed.is_some() {
                    self.dispatch(Event::ClosedByCentral(closed));
                }
                // The Chinese input methods' tables: read once, off the loop.
                if let Ok(tables) = tokio::task::spawn_blocking(|| ime::load(std::path::Path::new(ime::TABLES))).await {
                    self.dispatch(Event::InputTables(Arc::new(tables)));
                }
                let Some((etag, catalog)) = catalog else { return Ok(None) };
                self.dispatch(Event::Catalog(Arc::new(catalog)));
                Ok(etag)
            }
            Ok(Err(e)) => {
                let detail = error_chain(&e);
                tracing::error!(error = %detail, database = %self.settings.database.display(), "the store cannot be opened: out of service");
                self.dispatch(Event::StorageFault);
                Err(detail)
            }
            Err(e) => {
                tracing::error!(error = %e, "opening the store failed");
                self.dispatch(Event::StorageFault);
                Err(e.to_string())
            }
        }
    }

    fn start_background(
        &mut self,
        store: SharedStore,
        client: Option<CentralClient>,
        etag: Option<String>,
        online: Arc<AtomicBool>,
        stopped: watch::Receiver<bool>,
    ) {
        let Some(client) = client else {
            tracing::warn!("no central platform configured: applications stay queued");
            return;
        };
        let outbox = OutboxSender {
            store: store.clone(),
            client: client.clone(),
            policy: self.settings.retry,
            wake: self.outbox_wake.clone(),
            online: online.clone(),
            events: self.events.clone(),
            retention: self.settings.retention,
            identity: self.identity(),
            fatal: self.fatal.clone(),
            batches_refused: Default::default(),
        };
        tokio::spawn(outbox.run(stopped.clone()));
        let monitor = fleet::Monitor {
            client: client.clone(),
            store: store.clone(),
            kiosk_id: self.settings.kiosk_id.clone(),
            centre_id: self.settings.centre_id.clone(),
            interval: self.settings.heartbeat,
            database: self.settings.database.clone(),
            started: self.started,
            surveyed: self.surveyed.subscribe(),
            status: self.status.subscribe(),
            synced_at: self.synced_at.clone(),
            events: self.events.clone(),
            sync_wake: self.sync_wake.clone(),
            close_day_now: self.close_day_now.clone(),
            in_progress: Arc::default(),
            restart: self.restart_wanted.clone(),
            shown: self.shown.subscribe(),
            screen: self.view.clone(),
            counts: metrics::BeatCounts::default(),
        };
        let monitor = Arc::new(monitor);
        if let Some(address) = self.settings.metrics_listen {
            tokio::spawn(metrics::serve(monitor.clone(), address, stopped.clone()));
        }
        tokio::spawn(monitor.run(stopped.clone()));
        if let Some(renewal) = self.settings.renewal.clone() {
            let renewer = renewal::Renewer {
                client: client.clone(),
                kiosk_id: self.settings.kiosk_id.clone(),
                centre_id: self.settings.centre_id.clone(),
                renewal,
            };
            tokio::spawn(renewer.run(stopped.clone()));
        }
        let certificates = Arc::new(sync::CertificateFeed {
            store: store.clone(),
            client: client.clone(),
            centre_id: self.settings.centre_id.clone(),
            online: online.clone(),
            following: tokio::sync::Mutex::default(),
        });
        self.certificates = Some(certificates.clone());
        let sync = ReferenceSync {
            store,
            client,
            certificates,
            catalog_etag: etag,
            interval: self.settings.catalog_poll,
            online,
            events: self.events.clone(),
            fatal: self.fatal.clone(),
            wake: self.sync_wake.clone(),
            synced_at: self.synced_at.clone(),
        };
        tokio::spawn(sync.run(stopped));
    }

    /// Asks every device how it is, each poll; offers the session what works, and has the
    /// supervisor restart what keeps failing (see [`supervisor`]).
    fn start_health_poll(&self, online: Arc<AtomicBool>, mut stopped: watch::Receiver<bool>) {
        let (devices, closing_day) = (self.devices.clone(), self.closing_day.clone());
        let events = self.events.clone();
        let every = self.settings.health_poll;
        let surveyed = self.surveyed.clone();
        let mut supervisor = supervisor::Supervisor::new(self.settings.supervision.clone());
        let (store, identity, outbox, restart) =
            (self.store.clone(), self.identity(), self.outbox_wake.clone(), self.restart_wanted.clone());
        tokio::spawn(async move {
            let mut survey = devices::Survey::default();
            let workers = devices.watched();
            loop {
                survey = devices.survey(Duration::from_secs(2), &survey).await;
                survey.readiness.online = online.load(Ordering::Relaxed);
                surveyed.send_replace(survey.clone());
                let looked = supervisor.look(&workers).await;
                for report in looked.reports {
                    let event = identity.event(KioskEventKind::DeviceFault, report.severity, report.detail);
                    if let Some(store) = &store
                        && with_store(store, move |s| s.queue_event(&event)).await.is_ok()
                    {
                        outbox.notify_one();
                    }
                }
                if looked.restart_program {
                    restart.store(true, Ordering::SeqCst);
                }
                // While the terminal's overdue day closes, nothing new is paid for; a device
                // that keeps failing offers nothing until it answers well again.
                let mut offered = survey.readiness;
                supervisor.hide(&mut offered);
                offered.payment_terminal &= !closing_day.load(Ordering::SeqCst);
                if events.send(Event::Readiness(offered)).is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
    }

    /// Reads the code scanner all the time; each code goes to the session, which knows what
    /// a scan means on the screen shown. Scanned text is never logged.
    /// Reads the OCR document reader, where there is one, all the time; each zone goes to the
    /// session as the key to the document's chip (nothing else of it). Zones are never logged.
    fn start_zone_reader(&self, mut stopped: watch::Receiver<bool>) {
        use balcao_drivers::identity_reader::ErrorKind;
        let Some(reader) = self.devices.mrz_reader.clone() else { return };
        let events = self.events.clone();
        tokio::spawn(async move {
            loop {
                let read = reader.call(|r| r.next_zone(Duration::from_millis(250)));
                let key = tokio::select! {
                    result = read => match result {
                        // The supervisor restarted the worker: read on the new one.
                        Err(devices::DeviceGone::Restarted(_)) => continue,
                        Err(_gone) => return,
                        Ok(Ok(None)) => continue,
                        Ok(Ok(Some(zone))) => Some(zone.access_key()),
                        Ok(Err(e)) if matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Unsupported) => {
                            tracing::info!(kind = ?e.kind(), "the document reader could not read a zone");
                            None
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(kind = ?e.kind(), "document reader unavailable");
                            tokio::select! {
                                () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                                _ = stopped.changed() => return,
                            }
                        }
                    },
                    _ = stopped.changed() => return,
                };
                if events.send(Event::ZoneRead(key)).is_err() {
                    return;
                }
            }
        });
    }

    /// The technician's door (see [`maintenance`]), where the settings name one.
    fn start_maintenance(&self, stopped: watch::Receiver<bool>) {
        let Some(path) = self.settings.maintenance_socket.clone() else { return };
        let door = maintenance::Maintenance {
            kiosk_id: self.settings.kiosk_id.clone(),
            devices: self.devices.clone(),
            events: self.events.clone(),
            at_rest: self.at_rest.clone(),
            status: self.status.subscribe(),
            scans: self.scans.clone(),
            store: self.store.clone(),
        };
        tokio::spawn(door.serve(path, stopped));
    }

    fn start_scanner(&self, mut stopped: watch::Receiver<bool>) {
        use balcao_drivers::code_scanner::ErrorKind;
        let scanner = self.devices.code_scanner.clone();
        let (events, scans) = (self.events.clone(), self.scans.clone());
        let status_url = self.settings.status_url.clone();
        tokio::spawn(async move {
            loop {
                // Short reads: the health poll's status request waits behind one at most this long.
                let read = scanner.call(|s| s.next_scan(Duration::from_millis(250)));
                let code = tokio::select! {
                    result = read => match result {
                        // The supervisor restarted the worker: read on the new one.
                        Err(devices::DeviceGone::Restarted(_)) => continue,
                        Err(_gone) => return,
                        Ok(Ok(None)) => continue,
                        Ok(Ok(Some(scan))) => {
                            // For a technician's test waiting for its receipt's code, if any.
                            let _ = scans.send(scan.text().to_owned());
                            ScannedCode::parse(scan.text(), &status_url)
                        }
                        Ok(Err(e)) if e.kind() == ErrorKind::Malformed => {
                            tracing::info!(error = %e, "the code scanner delivered an unreadable code");
                            ScannedCode::Unknown
                        }
                        Ok(Err(e)) => {
                            // Unplugged: the health poll shows it; look again in a while.
                            tracing::debug!(error = %e, "code scanner unavailable");
                            tokio::select! {
                                () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                                _ = stopped.changed() => return,
                            }
                        }
                    },
                    _ = stopped.changed() => return,
                };
                if events.send(Event::Scanned(code)).is_err() {
                    return;
                }
            }
        });
    }

    async fn run(&mut self, inbox: &mut mpsc::UnboundedReceiver<Event>, mut stopped: watch::Receiver<bool>) {
        // Four ticks a second keep the countdown and the welcome screen's language turns on time.
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failure = self.fatal.0.subscribe();
        let mut failing_since: Option<Instant> = None;
        loop {
            let event = tokio::select! {
                Some(event) = inbox.recv() => event,
                _ = ticker.tick() => self.tick(),
                _ = stopped.changed() => break,
                Ok(()) = failure.changed(), if failing_since.is_none() => {
                    failing_since = Some(Instant::now());
                    self.tick()
                }
            };
            self.dispatch(event);
            // A restart staff (or the supervisor, for a failing device) asked for, once nobody
            // is at the kiosk and no payment is open.
            if self.restart_wanted.load(Ordering::SeqCst)
                && self.session.at_rest()
                && self.in_flight.get().is_none()
                && !*self.restart.borrow()
            {
                tracing::info!("restarting, as central's staff or the device supervisor asked");
                self.restart.send_replace(true);
            }
            // After a failed write, finish what the citizen is in the middle of (a reversal
            // of their payment, say) — for at most a minute — then stop serving.
            if failing_since.is_some_and(|since| !self.session.busy() || since.elapsed() > Duration::from_secs(60)) {
                self.dispatch(Event::StorageFault);
                break;
            }
        }
        if let Some(cancel) = self.payment_cancel.take() {
            cancel.cancel();
        }
    }

    fn dispatch(&mut self, event: Event) {
        let now = tokio::time::Instant::now().into_std();
        for effect in self.session.handle(event, now) {
            self.execute(effect);
        }
        if !self.session.busy() && self.in_flight.get().is_some() {
            // The citizen's payment is over, however it ended: whatever it left unfinished is
            // the reconciliation's now.
            self.in_flight.set(None);
            self.reconcile_wake.notify_one();
        }
        self.at_rest.store(self.session.at_rest(), Ordering::SeqCst);
        let mut view = self.session.view();
        let status = fleet::CoreStatus {
            screen: view.screen.name(),
            sessions_today: self.session.sessions_today(),
            closed_by_central: self.session.closed_by_central(),
        };
        self.status.send_if_modified(|current| std::mem::replace(current, status) != status);
        link_status_page(&mut view, &self.settings.status_url);
        if self.last_view.as_ref() != Some(&view) {
            self.view.show(view.clone());
            self.shown.send_replace(view.clone());
            self.last_view = Some(view);
        }
    }

    fn send_later(&self, future: impl std::future::Future<Output = Event> + Send + 'static) {
        let events = self.events.clone();
        tokio::spawn(async move {
            let _ = events.send(future.await);
        });
    }

    /// Carries out what the session asked, each journey's effects in its own file.
    fn execute(&mut self, effect: Effect) {
        match effect {
            // Applying and paying: apply.rs.
            Effect::Authorize { amount_avos, reference } => self.authorize(amount_avos, reference),
            Effect::CancelPayment => self.cancel_payment(),
            Effect::SaveApplication(draft) => self.save_application(draft),
            Effect::Capture(authorization) => self.capture(authorization),
            Effect::Reverse(authorization) => self.reverse(authorization),
            Effect::PrintNotCharged(content) => self.print_not_charged(content),
            Effect::PrintReceipt(content) => self.print_receipt(content),
            // Collecting a certificate, taking a ticket: pickup.rs.
            Effect::FindCertificate { reference, document_number } => self.find_certificate(reference, document_number),
            Effect::CollectCertificate { application_id, offline } => self.collect_certificate(application_id, offline),
            Effect::IssueTicket(content) => self.issue_ticket(*content),
            // Checking a status: status.rs.
            // Appointments: appointment.rs.
            Effect::FetchSlots { service_id } => self.fetch_slots(service_id),
            Effect::HoldSlot { service_id, date, time } => self.hold_slot(service_id, date, time),
            Effect::ConfirmBooking { hold_id, date_of_birth, language } => self.confirm_booking(hold_id, date_of_birth, language),
            Effect::ReleaseHold { hold_id } => self.release_hold(hold_id),
            Effect::PrintBooking(content) => self.print_booking(content),
            Effect::CancelBooking { number, date_of_birth } => self.cancel_booking(number, date_of_birth),
            Effect::CheckStatus { reference, date_of_birth } => self.check_status(reference, date_of_birth),
            Effect::CheckHolderStatus { document_number, date_of_birth } => self.check_holder_status(document_number, date_of_birth),
            // Knowing who applies: identify.rs.
            Effect::CheckSignIn(code) => self.check_sign_in(code),
            Effect::ReadIdentity(key) => self.read_identity(key),
            // A citizen's call for an attendant: attendant.rs.
            Effect::CallAttendant { screen, language } => self.attendant.call(screen, language),
            Effect::EndAttendantCall => self.attendant.end(),
            Effect::SessionEnded => {
                self.payment_cancel = None;
                tracing::info!("session ended; its data is gone");
            }
        }
    }
}
