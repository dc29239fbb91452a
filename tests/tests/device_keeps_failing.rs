//! A device that keeps failing (issue 22, item 6): its services are hidden, its worker is
//! restarted with the driver made anew, then — if that did not help — the program, once nobody
//! is being served, and not again within the hour for the same device; a job that hangs is
//! ended by the worker's restart, so the citizen's screen moves on. Each step is reported to
//! central as a device fault.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use balcao_backend_client::api::{KioskEvent, KioskEventKind, Severity};
use balcao_drivers::receipt_printer::escpos::TcpConnector;
use balcao_drivers::receipt_printer::{ErrorKind, PrintConfirmation, Receipt, ReceiptPrinter, ReceiptPrinterStatus};
use balcao_kiosk::runtime;
use balcao_kiosk::runtime::devices::{self, DeviceWorker, Devices, SimulatorPace};
use balcao_tests::{RecordingView, TestKiosk, citizen, eventually, loopback_central, test_settings};
use balcao_ui::view::{Language, Screen, UserAction};

/// How a receipt printer's driver behaves, by the order it was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Every answer garbled: the driver cannot get a status or print.
    Garbled,
    /// A print never comes back (a USB transfer that never ends), until the test lets it.
    HangsPrinting,
    /// The real ESC/POS driver, to the virtual printer.
    Works,
}

/// A receipt printer driver misbehaving as told.
struct Flaky {
    behaviour: Behaviour,
    real: Box<dyn ReceiptPrinter>,
    hold: Arc<Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl ReceiptPrinter for Flaky {
    fn status(&mut self) -> Result<ReceiptPrinterStatus, balcao_drivers::receipt_printer::Error> {
        match self.behaviour {
            Behaviour::Garbled => Err(balcao_drivers::DeviceError::new(ErrorKind::Protocol, "the printer's status byte makes no sense")),
            // Without a connection of its own: the virtual printer, like a network printer on
            // port 9100, serves one connection at a time, and a hung driver's connection would
            // keep the new one waiting until the program restarts (the ladder's next rung).
            Behaviour::HangsPrinting => Ok(ReceiptPrinterStatus::Ready),
            Behaviour::Works => self.real.status(),
        }
    }
    fn print(&mut self, receipt: &Receipt) -> Result<PrintConfirmation, balcao_drivers::receipt_printer::Error> {
        match self.behaviour {
            Behaviour::Garbled => Err(balcao_drivers::DeviceError::new(ErrorKind::Protocol, "garbled")),
            Behaviour::HangsPrinting => {
                let _ = self.hold.lock().map(|hold| hold.recv());
                Err(balcao_drivers::DeviceError::new(ErrorKind::NoAnswer, "came back late"))
            }
            Behaviour::Works => self.real.print(receipt),
        }
    }
}

/// A test kiosk whose receipt printer's drivers behave as `plan` says, one after the other
/// (the last for every driver after), a job counting as hung after `limit`. Returns the kiosk,
/// how many drivers were made, and what lets a hung print go.
async fn kiosk_with_printer(
    settings: balcao_kiosk::runtime::KioskSettings,
    data: &std::path::Path,
    client: Option<balcao_backend_client::CentralClient>,
    plan: &'static [Behaviour],
    limit: Duration,
) -> (TestKiosk, Arc<AtomicU32>, std::sync::mpsc::Sender<()>) {
    let (mut devices, simulators): (Devices, _) = Devices::simulated(data, SimulatorPace::INSTANT).expect("devices");
    let address = simulators.virtual_receipt_printer.address().expect("virtual printer address");
    let connector = TcpConnector { address, connect_timeout: Duration::from_millis(500), write_timeout: Duration::from_secs(5) };
    let made = Arc::new(AtomicU32::new(0));
    let (release, hold) = std::sync::mpsc::channel();
    let hold = Arc::new(Mutex::new(hold));
    let counter = made.clone();
    devices.receipt_printer = DeviceWorker::with_limit("receipt-printer", limit, move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) as usize;
        let behaviour = plan[n.min(plan.len() - 1)];
        let driver: Box<dyn ReceiptPrinter> = Box::new(Flaky { behaviour, real: devices::escpos_printer(&connector), hold: hold.clone() });
        Ok(driver)
    })
    .expect("receipt printer worker");
    let view = Arc::new(RecordingView::default());
    let handle = runtime::start(settings.clone(), view.clone(), devices, client, runtime::event_channel()).await;
    (TestKiosk { handle, view, simulators, settings }, made, release)
}

/// The device faults the kiosk queued for central.
fn device_faults(kiosk: &TestKiosk) -> Vec<KioskEvent> {
    let due = kiosk.store().due_outbox(jiff::Timestamp::now(), 1000).expect("outbox");
    due.iter()
        .filter(|item| item.kind == "event")
        .map(|item| serde_json::from_str::<KioskEvent>(&item.body).expect("event body"))
        .filter(|event| event.kind == KioskEventKind::DeviceFault)
        .collect()
}

/// The device faults central received.
fn central_faults(central: &balcao_central::LoopbackCentral) -> Vec<KioskEvent> {
    let events = central.central.store().recent_events(100).expect("events");
    events.into_iter().filter(|e| e.kind == KioskEventKind::DeviceFault).collect()
}

/// Whether the program's restart was asked for within `wait`.
async fn restart_asked(kiosk: &TestKiosk, wait: Duration) -> bool {
    tokio::time::timeout(wait, kiosk.handle.restart_requested()).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_that_keeps_failing_is_restarted_then_the_program_once_and_its_services_stay_hidden() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("kiosk");
    // A citizen who leaves is gone after three seconds.
    let mut settings = test_settings(&data);
    settings.session.idle_timeout = Duration::from_secs(3);
    settings.session.idle_warning = Duration::from_secs(1);
    let (kiosk, made, _release) = kiosk_with_printer(settings, &data, None, &[Behaviour::Garbled], devices::STUCK_AFTER).await;

    // A citizen is at the kiosk: the ticket is not offered (it needs the printer), the
    // rest is.
    citizen::act(&kiosk, UserAction::Start);
    citizen::act(&kiosk, UserAction::ChooseLanguage(Language::En));
    let home = kiosk
        .view
        .wait_for("the home screen, the devices surveyed", Duration::from_secs(10), |v| {
            v.screen == Screen::Home && v.collect_unavailable.is_none()
        })
        .await;
    assert!(home.ticket_unavailable.is_some(), "a failing printer's services are not offered");

    // The citizen looks at the screen, touching it now and then, while the printer fails.
    let touching = tokio::spawn({
        let events = kiosk.handle.events.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if events.send(balcao_kiosk::session::Event::Ui(UserAction::StillHere)).is_err() {
                    return;
                }
            }
        }
    });
    // Three failures in a row: the worker is restarted with a new driver (which fails too).
    eventually("the worker restarted", Duration::from_secs(10), || made.load(Ordering::SeqCst) >= 2).await;
    // Three more: the program must restart — but not under the citizen.
    eventually("the program's restart reported", Duration::from_secs(10), || {
        device_faults(&kiosk).iter().any(|e| e.severity == Severity::Critical)
    })
    .await;
    assert!(!restart_asked(&kiosk, Duration::from_secs(1)).await, "a citizen is being served: the restart waits");
    let faults = device_faults(&kiosk);
    assert!(
        faults.iter().any(|e| e.severity == Severity::Warning && e.detail.contains("receipt-printer") && e.detail.contains("restarted")),
        "{faults:?}"
    );
    let screen = kiosk.view.current();
    assert_eq!(screen.screen, Screen::Home, "the screen never froze or changed under the citizen");
    assert!(screen.ticket_unavailable.is_some());

    // The citizen walks away: once the session has timed out, the program restarts.
    touching.abort();
    assert!(restart_asked(&kiosk, Duration::from_secs(15)).await, "at rest, the restart goes ahead");
    assert_eq!(kiosk.view.current().screen, Screen::Attract);
    kiosk.stop().await;

    // The program came back and the printer still fails: no second restart within the hour —
    // the printer's services stay hidden, for a technician, and central is told.
    let (again, _, _release) = kiosk_with_printer(test_settings(&data), &data, None, &[Behaviour::Garbled], devices::STUCK_AFTER).await;
    eventually("giving up reported", Duration::from_secs(15), || {
        device_faults(&again).iter().any(|e| e.severity == Severity::Critical && e.detail.contains("technician"))
    })
    .await;
    assert!(!restart_asked(&again, Duration::from_secs(1)).await, "no restart loop");
    assert!(again.view.current().ticket_unavailable.is_some());
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_restart_that_helps_brings_the_services_back_without_restarting_the_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let data = dir.path().join("kiosk");
    let client = balcao_tests::enrolled_client(&central);
    let (kiosk, made, _release) =
        kiosk_with_printer(test_settings(&data), &data, Some(client), &[Behaviour::Garbled, Behaviour::Works], devices::STUCK_AFTER).await;
    eventually("the worker restarted", Duration::from_secs(10), || made.load(Ordering::SeqCst) == 2).await;
    let ticket = citizen::take_queue_ticket(&kiosk, Language::Pt, "civil-registry").await;
    assert_eq!(ticket.screen, Screen::Ticket, "{:?}", ticket.error);
    assert!(!kiosk.simulators.receipt_printer.printed().is_empty(), "the ticket came out of the new driver");
    assert!(!restart_asked(&kiosk, Duration::from_secs(1)).await, "the worker's restart was enough");
    eventually("the worker's restart reported to central", Duration::from_secs(10), || !central_faults(&central).is_empty()).await;
    let faults = central_faults(&central);
    assert!(faults.iter().all(|e| e.severity == Severity::Warning && e.detail.contains("failures in a row")), "{faults:?}");
    kiosk.stop().await;
    central.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_that_hangs_ends_with_the_workers_restart_and_the_citizen_is_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let data = dir.path().join("kiosk");
    let client = balcao_tests::enrolled_client(&central);
    let (kiosk, made, release) = kiosk_with_printer(
        test_settings(&data),
        &data,
        Some(client),
        &[Behaviour::HangsPrinting, Behaviour::Works],
        Duration::from_secs(2),
    )
    .await;
    // The ticket's print hangs; past the worker's limit the supervisor restarts it and the
    // citizen's screen moves on (the ticket may or may not have come out: the citizen is told).
    let ended = citizen::take_queue_ticket(&kiosk, Language::ZhHant, "civil-registry").await;
    assert!(matches!(ended.screen, Screen::Ticket | Screen::Error), "{ended:?}");
    assert_eq!(made.load(Ordering::SeqCst), 2, "the hung worker was restarted");
    citizen::finish(&kiosk);
    // The next citizen's ticket prints on the new driver.
    let next = citizen::take_queue_ticket(&kiosk, Language::En, "civil-registry").await;
    assert_eq!(next.screen, Screen::Ticket, "{:?}", next.error);
    assert!(!kiosk.simulators.receipt_printer.printed().is_empty());
    // Reported to central (the kiosk's outbox has sent it).
    eventually("the restart reported to central", Duration::from_secs(10), || {
        central_faults(&central).iter().any(|e| e.detail.contains("receipt-printer") && e.detail.contains("hung"))
    })
    .await;
    // The hung call comes back at last: nothing more happens on its thread.
    release.send(()).expect("released");
    assert!(!restart_asked(&kiosk, Duration::from_secs(1)).await);
    kiosk.stop().await;
    central.stop().await.expect("stop");
}
