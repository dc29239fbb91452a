//! Each device runs on its own thread, owned by a [`DeviceWorker`]; async code sends it jobs
//! and awaits the answers. A slow or dead device blocks only its own thread, and a driver that
//! panics (a bug, or a crate that panics on what a device sent) fails only the job it was
//! doing: the worker catches the panic, reports it as a device fault, makes the driver anew
//! (when it was given a way to: [`DeviceWorker::restartable`]; a worker [`DeviceWorker::spawn`]ed
//! with a driver goes on with the driver it has) and takes the next job.
//!
//! A device that keeps failing is the [`supervisor`](super::supervisor)'s: it counts the
//! failures in a row each worker records, and restarts the worker — a new thread, a new
//! driver — when they reach its limit or when a job hangs past its worker's limit. The old
//! thread is left to its hung call: every job queued on it is answered
//! [`DeviceGone::Restarted`] at once, and it runs none of them when (if ever) the call returns.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_drivers::code_scanner::CodeScanner;
use balcao_drivers::code_scanner::ScannerStatus;
use balcao_drivers::document_printer::DocumentPrinter;
use balcao_drivers::identity_reader::ocr::MrzReader;
use balcao_drivers::identity_reader::{IdentityReader, IdentityReaderStatus};
use balcao_drivers::payment_terminal::PaymentTerminal;
use balcao_drivers::receipt_printer::ReceiptPrinter;

use balcao_backend_client::api::{DeviceClass, DeviceCondition, DeviceReport};

use crate::session::Readiness;

/// A job the device's worker could not carry out: the driver panicked during it (the worker
/// made it anew), the worker was restarted under it, or the worker's thread is gone. Either way
/// the job's outcome is unknown: a payment's is the payment journal's to settle, a print job may
/// have printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceGone {
    #[error("the {0} driver failed during the job; its worker made it anew")]
    Panicked(&'static str),
    #[error("the {0} worker was restarted while the job waited or ran")]
    Restarted(&'static str),
    #[error("the {0} worker thread has stopped")]
    Stopped(&'static str),
}

impl DeviceGone {
    /// What a technician should do about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            Self::Panicked(_) => "run the test again; if it fails the same way, send the kiosk's log to the developers",
            Self::Restarted(_) => "run the test again: the kiosk restarted the device's worker after repeated failures",
            Self::Stopped(_) => "restart the kiosk",
        }
    }
}

/// A driver's panic, as the worker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFault {
    pub device: &'static str,
    /// The panic's message (a driver's or a crate's; it carries no personal data, which
    /// drivers never put in messages).
    pub message: String,
}

/// A job on the device; `Err` with the panic's message when the driver panicked.
type Job<D> = Box<dyn FnOnce(&mut D) -> Result<(), String> + Send>;

/// Makes the device's driver, at start, after a panic and when the worker is restarted.
type Make<D> = Box<dyn FnMut() -> std::io::Result<Box<D>> + Send>;

/// One thread of a worker: where its jobs go, and what the thread is doing.
struct Generation<D: ?Sized> {
    jobs: std::sync::mpsc::Sender<Job<D>>,
    /// When the job the thread runs now started.
    running_since: Arc<Mutex<Option<Instant>>>,
    /// Set when the worker is restarted: the thread runs no further job, and whoever waits on it
    /// is answered at once.
    retired: tokio::sync::watch::Sender<bool>,
}

/// What every copy of a worker shares.
struct Shared<D: ?Sized> {
    name: &'static str,
    make: Arc<Mutex<Make<D>>>,
    current: Mutex<Generation<D>>,
    faults: tokio::sync::broadcast::Sender<DeviceFault>,
    /// Failures in a row (a panic, a status the driver could not get): reset by a success.
    failures: Arc<AtomicU32>,
    /// How long one job may run before the worker counts as hung.
    stuck_after: Duration,
}

/// Owns one device on a thread of its own.
pub struct DeviceWorker<D: ?Sized> {
    shared: Arc<Shared<D>>,
}

impl<D: ?Sized> Clone for DeviceWorker<D> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

/// A panic's message, as far as it is text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_string(),
        (_, Some(text)) => text.clone(),
        _ => "a panic without a message".into(),
    }
}

/// Locks `mutex`, also after a panic while it was held (what it guards stays usable: an
/// instant, a sender, the driver's maker).
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<D: ?Sized> std::fmt::Debug for DeviceWorker<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceWorker({})", self.shared.name)
    }
}

/// How long a job may run, unless the worker is told otherwise: longer than any the kiosk gives
/// a device but a payment and an A4 job (whose workers are given their own limits).
pub const STUCK_AFTER: Duration = Duration::from_secs(120);

/// How long a payment terminal's job may run: the longest payment the configuration allows
/// (ten minutes), then two minutes for an abort and its answer.
pub const PAYMENT_STUCK_AFTER: Duration = Duration::from_secs(12 * 60);

/// How long an A4 job may run beyond the driver's own limit for it.
pub const DOCUMENT_MARGIN: Duration = Duration::from_secs(60);

impl<D: ?Sized + Send + 'static> DeviceWorker<D> {
    /// A worker for `device`, which cannot be made again: after a panic the worker goes on with
    /// it as it is (a simulator, say), and it cannot be restarted.
    pub fn spawn(name: &'static str, device: Box<D>) -> std::io::Result<Self> {
        Self::spawn_with_limit(name, STUCK_AFTER, device)
    }

    /// As [`spawn`](Self::spawn), a job counting as hung after `stuck_after`.
    pub fn spawn_with_limit(name: &'static str, stuck_after: Duration, device: Box<D>) -> std::io::Result<Self> {
        let mut once = Some(device);
        Self::with_limit(name, stuck_after, move || once.take().ok_or_else(|| std::io::Error::other("this driver cannot be made again")))
    }

    /// A worker for the driver `make` makes, now and again after each panic of it (a driver's
    /// state after a panic cannot be trusted: a half-read message, a link in an unknown state)
    /// and when the worker is restarted.
    pub fn restartable(name: &'static str, make: impl FnMut() -> std::io::Result<Box<D>> + Send + 'static) -> std::io::Result<Self> {
        Self::with_limit(name, STUCK_AFTER, make)
    }

    /// As [`restartable`](Self::restartable), a job counting as hung after `stuck_after`.
    pub fn with_limit(
        name: &'static str,
        stuck_after: Duration,
        make: impl FnMut() -> std::io::Result<Box<D>> + Send + 'static,
    ) -> std::io::Result<Self> {
        let make: Arc<Mutex<Make<D>>> = Arc::new(Mutex::new(Box::new(make)));
        let device = (lock(&make))()?;
        let (faults, _) = tokio::sync::broadcast::channel(16);
        let failures = Arc::new(AtomicU32::new(0));
        let current = Mutex::new(Self::start(name, device, make.clone(), faults.clone())?);
        Ok(Self { shared: Arc::new(Shared { name, make, current, faults, failures, stuck_after }) })
    }

    /// A thread serving `device`.
    fn start(
        name: &'static str,
        mut device: Box<D>,
        make: Arc<Mutex<Make<D>>>,
        report: tokio::sync::broadcast::Sender<DeviceFault>,
    ) -> std::io::Result<Generation<D>> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job<D>>();
        let (retired, retirement) = tokio::sync::watch::channel(false);
        let running_since = Arc::new(Mutex::new(None));
        let running = running_since.clone();
        std::thread::Builder::new().name(format!("device-{name}")).spawn(move || {
            // Ends when every handle is dropped, or when the worker is restarted.
            for job in queue {
                if *retirement.borrow() {
                    return;
                }
                *lock(&running) = Some(Instant::now());
                let outcome = job(&mut device);
                *lock(&running) = None;
                let Err(message) = outcome else { continue };
                tracing::error!(device = name, panic = %message, "the device's driver panicked: the job failed, the driver is made anew");
                let _ = report.send(DeviceFault { device: name, message });
                let fresh = (lock(&make))();
                match fresh {
                    Ok(fresh) => device = fresh,
                    Err(e) => tracing::warn!(device = name, error = %e, "the driver cannot be made anew: going on with it as it is"),
                }
            }
        })?;
        Ok(Generation { jobs, running_since, retired })
    }

    /// Runs `job` on the device's thread and returns its result.
    pub async fn call<R: Send + 'static>(&self, job: impl FnOnce(&mut D) -> R + Send + 'static) -> Result<R, DeviceGone> {
        let (name, failures) = (self.shared.name, self.shared.failures.clone());
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job<D> = Box::new(move |device| {
            // The driver's panic is this job's failure, not the worker's: caught here, the
            // caller told, the worker makes the driver anew.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(device))) {
                Ok(result) => {
                    let _ = reply.send(Ok(result));
                    Ok(())
                }
                Err(panic) => {
                    // Counted before the caller hears of it.
                    failures.fetch_add(1, Ordering::SeqCst);
                    let _ = reply.send(Err(()));
                    Err(panic_message(panic.as_ref()))
                }
            }
        });
        let mut retired = {
            let current = lock(&self.shared.current);
            current.jobs.send(job).map_err(|_| DeviceGone::Stopped(name))?;
            current.retired.subscribe()
        };
        let answer = tokio::select! {
            answer = answer => answer,
            Ok(_) = retired.wait_for(|retired| *retired) => return Err(DeviceGone::Restarted(name)),
        };
        match answer {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(())) => Err(DeviceGone::Panicked(name)),
            Err(_) if *retired.borrow() => Err(DeviceGone::Restarted(name)),
            Err(_) => Err(DeviceGone::Stopped(name)),
        }
    }

    /// The driver's panics from now on, as they happen.
    pub fn faults(&self) -> tokio::sync::broadcast::Receiver<DeviceFault> {
        self.shared.faults.subscribe()
    }

    /// Notes a job's outcome that says how the device is (a status asked): a success ends a
    /// run of failures, a failure adds to it.
    pub fn record(&self, succeeded: bool) {
        if succeeded {
            self.shared.failures.store(0, Ordering::SeqCst);
        } else {
            self.shared.failures.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// How many failures came in a row, up to now.
    pub fn failures_in_a_row(&self) -> u32 {
        self.shared.failures.load(Ordering::SeqCst)
    }

    /// Whether the job running now has run past the worker's limit.
    pub fn hung(&self) -> bool {
        let since = *lock(&lock(&self.shared.current).running_since);
        since.is_some_and(|since| since.elapsed() > self.shared.stuck_after)
    }

    /// Starts the worker again: a new thread with a driver made anew. The old thread is told to
    /// run nothing more; whoever waits on it is answered [`DeviceGone::Restarted`]. Blocks while
    /// the driver is made (call it off the async runtime's workers). When the driver cannot be
    /// made, the worker stays as it was and the error says why.
    pub fn restart(&self) -> std::io::Result<()> {
        let device = (lock(&self.shared.make))()?;
        let fresh = Self::start(self.shared.name, device, self.shared.make.clone(), self.shared.faults.clone())?;
        let old = std::mem::replace(&mut *lock(&self.shared.current), fresh);
        old.retired.send_replace(true);
        tracing::warn!(device = self.shared.name, "the device's worker was restarted with its driver made anew");
        Ok(())
    }

    /// The device's name, as its worker's thread and reports call it.
    pub fn name(&self) -> &'static str {
        self.shared.name
    }
}

/// The kiosk's devices, each behind its worker.
#[derive(Clone, Debug)]
pub struct Devices {
    pub receipt_printer: DeviceWorker<dyn ReceiptPrinter>,
    pub document_printer: DeviceWorker<dyn DocumentPrinter>,
    pub identity_reader: DeviceWorker<dyn IdentityReader>,
    pub code_scanner: DeviceWorker<dyn CodeScanner>,
    pub payment_terminal: DeviceWorker<dyn PaymentTerminal>,
    /// The OCR reader of documents' machine-readable zones, where the kiosk has one.
    pub mrz_reader: Option<DeviceWorker<dyn MrzReader>>,
}

/// The knobs of simulated devices, for the demo and the tests.
#[derive(Clone, Debug)]
pub struct SimulatorControls {
    /// The virtual ESC/POS printer the receipt printer driver talks to over loopback TCP.
    pub receipt_printer: balcao_drivers::receipt_printer::escpos::sim::VirtualPrinterControl,
    /// Keeps the virtual printer listening as long as any copy of the controls lives.
    pub virtual_receipt_printer: Arc<balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter>,
    /// The virtual A4 printer the IPP driver talks to over loopback HTTP.
    pub document_printer: balcao_drivers::document_printer::sim::SimDocumentControl,
    pub virtual_document_printer: Arc<balcao_drivers::document_printer::sim::VirtualA4Printer>,
    pub identity_reader: balcao_drivers::identity_reader::sim::SimIdentityControl,
    /// The virtual scanner on the far end of the pty the scanner driver reads.
    pub code_scanner: Arc<balcao_drivers::code_scanner::sim::VirtualScanner>,
    pub payment_terminal: balcao_drivers::payment_terminal::sim::SimTerminalControl,
    /// The virtual OCR reader on the far end of the pty the zone reader's driver reads.
    pub ocr_reader: Arc<balcao_drivers::identity_reader::sim::VirtualOcrReader>,
}

/// The simulators a kiosk runs, one for each device its configuration leaves simulated: they
/// live as long as this does.
#[derive(Clone, Debug, Default)]
pub struct Simulators {
    pub receipt_printer: Option<Arc<balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter>>,
    pub document_printer: Option<Arc<balcao_drivers::document_printer::sim::VirtualA4Printer>>,
    pub identity_reader: Option<balcao_drivers::identity_reader::sim::SimIdentityControl>,
    pub code_scanner: Option<Arc<balcao_drivers::code_scanner::sim::VirtualScanner>>,
    pub payment_terminal: Option<balcao_drivers::payment_terminal::sim::SimTerminalControl>,
    /// The virtual ZVT terminal the kiosk's ZVT driver talks to, when configured.
    pub zvt_terminal: Option<Arc<balcao_drivers::payment_terminal::zvt::sim::VirtualZvtTerminal>>,
    pub ocr_reader: Option<Arc<balcao_drivers::identity_reader::sim::VirtualOcrReader>>,
}

impl From<SimulatorControls> for Simulators {
    fn from(all: SimulatorControls) -> Self {
        Self {
            receipt_printer: Some(all.virtual_receipt_printer),
            document_printer: Some(all.virtual_document_printer),
            identity_reader: Some(all.identity_reader),
            code_scanner: Some(all.code_scanner),
            payment_terminal: Some(all.payment_terminal),
            zvt_terminal: None,
            ocr_reader: Some(all.ocr_reader),
        }
    }
}

/// How fast the simulated devices are: as real ones for the demo, instant for tests.
#[derive(Clone, Copy, Debug)]
pub struct SimulatorPace {
    /// The virtual receipt printer's speed; `None` prints instantly.
    pub receipt_mm_per_s: Option<u32>,
    pub terminal_step: Duration,
    pub sheet_print: Duration,
    pub document_read: Duration,
    /// Time per byte from the virtual scanner (a 9600-baud scanner: about 1 ms).
    pub scanner_byte: Duration,
}

impl SimulatorPace {
    pub const REALISTIC: Self = Self {
        receipt_mm_per_s: Some(150),
        terminal_step: Duration::from_millis(1500),
        sheet_print: Duration::from_secs(4),
        document_read: Duration::from_millis(1500),
        scanner_byte: Duration::from_millis(1),
    };
    pub const INSTANT: Self = Self {
        receipt_mm_per_s: None,
        terminal_step: Duration::ZERO,
        sheet_print: Duration::ZERO,
        document_read: Duration::ZERO,
        scanner_byte: Duration::ZERO,
    };
}

/// The receipt printer as simulated: the real ESC/POS driver talking to a virtual printer on
/// loopback TCP, whose printouts go to `output_dir` as PNG.
pub fn simulated_receipt_printer(
    output_dir: &Path,
    pace: SimulatorPace,
) -> std::io::Result<(Box<dyn ReceiptPrinter>, Arc<balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter>)> {
    use balcao_drivers::receipt_printer::escpos::TcpConnector;
    use balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter;
    let virtual_printer = VirtualPrinter::listen_tcp(([127, 0, 0, 1], 0).into(), Some(output_dir))?;
    virtual_printer.control().set_speed_mm_per_s(pace.receipt_mm_per_s);
    let address = virtual_printer.address().ok_or_else(|| std::io::Error::other("the virtual printer has no address"))?;
    let driver =
        escpos_printer(&TcpConnector { address, connect_timeout: Duration::from_millis(500), write_timeout: Duration::from_secs(5) });
    Ok((driver, Arc::new(virtual_printer)))
}

/// The A4 printer as simulated: the real IPP driver talking to a virtual IPP printer on
/// loopback, which spools what it printed to `spool`.
pub fn simulated_document_printer(
    spool: &Path,
    pace: SimulatorPace,
) -> std::io::Result<(Box<dyn DocumentPrinter>, Arc<balcao_drivers::document_printer::sim::VirtualA4Printer>)> {
    use balcao_drivers::document_printer::ipp::{IppDocumentPrinter, IppTimeouts};
    use balcao_drivers::document_printer::sim::VirtualA4Printer;
    let virtual_printer = VirtualA4Printer::listen(([127, 0, 0, 1], 0).into(), spool, pace.sheet_print)?;
    // An instant printer is asked often, so tests do not wait on the poll.
    let poll = if pace.sheet_print.is_zero() { Duration::from_millis(20) } else { IppTimeouts::default().poll };
    let driver = IppDocumentPrinter::new(&virtual_printer.uri(), IppTimeouts { poll, ..IppTimeouts::default() })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((Box::new(driver), Arc::new(virtual_printer)))
}

/// The code scanner as simulated: the serial driver reading a virtual scanner across a pty
/// pair (socat).
pub fn simulated_code_scanner(
    pace: SimulatorPace,
) -> std::io::Result<(Box<dyn CodeScanner>, Arc<balcao_drivers::code_scanner::sim::VirtualScanner>)> {
    use balcao_drivers::code_scanner::serial::{Framing, SerialScanner};
    use balcao_drivers::code_scanner::sim::VirtualScanner;
    let framing = Framing::default();
    let virtual_scanner = VirtualScanner::on_new_pty(&framing.prefix, &framing.suffix, pace.scanner_byte)?;
    let scanner = SerialScanner::new(virtual_scanner.port_path().to_string_lossy(), 9600, framing)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((Box::new(scanner), Arc::new(virtual_scanner)))
}

/// The identity reader as simulated (in process, until the PC/SC driver comes).
pub fn simulated_identity_reader(
    pace: SimulatorPace,
) -> (Box<dyn IdentityReader>, balcao_drivers::identity_reader::sim::SimIdentityControl) {
    let reader = balcao_drivers::identity_reader::sim::SimulatedIdentityReader::new(pace.document_read);
    let control = reader.control();
    (Box::new(reader), control)
}

/// The OCR zone reader as simulated: the serial driver reading a virtual OCR reader across a
/// pty pair, each line of the zone ended by CR.
pub fn simulated_mrz_reader(
    pace: SimulatorPace,
) -> std::io::Result<(Box<dyn MrzReader>, Arc<balcao_drivers::identity_reader::sim::VirtualOcrReader>)> {
    let reader = balcao_drivers::identity_reader::sim::VirtualOcrReader::on_new_pty(pace.scanner_byte)?;
    let driver = serial_mrz_reader(&reader.port_path().to_string_lossy(), 9600)?;
    Ok((driver, Arc::new(reader)))
}

/// An OCR reader of documents' zones on a serial line, each line ended by CR.
pub fn serial_mrz_reader(port: &str, baud_rate: u32) -> std::io::Result<Box<dyn MrzReader>> {
    use balcao_drivers::code_scanner::serial::{Framing, SerialScanner};
    use balcao_drivers::identity_reader::ocr::OcrMrzReader;
    let framing = Framing { prefix: Vec::new(), suffix: b"\r".to_vec(), inter_byte_timeout: Duration::from_millis(200) };
    let lines = SerialScanner::new(port, baud_rate, framing).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Box::new(OcrMrzReader::new(lines)))
}

/// The payment terminal as simulated in process.
pub fn simulated_payment_terminal(
    pace: SimulatorPace,
) -> (Box<dyn PaymentTerminal>, balcao_drivers::payment_terminal::sim::SimTerminalControl) {
    use balcao_drivers::payment_terminal::sim::{SimTimings, SimulatedPaymentTerminal};
    let terminal = SimulatedPaymentTerminal::new(SimTimings { step: pace.terminal_step, card_wait: Duration::from_secs(60) });
    let control = terminal.control();
    (Box::new(terminal), control)
}

impl Devices {
    /// Each device on its own worker.
    pub fn new(
        receipt_printer: Box<dyn ReceiptPrinter>,
        document_printer: Box<dyn DocumentPrinter>,
        identity_reader: Box<dyn IdentityReader>,
        code_scanner: Box<dyn CodeScanner>,
        payment_terminal: Box<dyn PaymentTerminal>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            receipt_printer: DeviceWorker::spawn("receipt-printer", receipt_printer)?,
            document_printer: DeviceWorker::spawn_with_limit(
                "document-printer",
                balcao_drivers::document_printer::ipp::IppTimeouts::default().job + DOCUMENT_MARGIN,
                document_printer,
            )?,
            identity_reader: DeviceWorker::spawn("identity-reader", identity_reader)?,
            code_scanner: DeviceWorker::spawn("code-scanner", code_scanner)?,
            payment_terminal: DeviceWorker::spawn_with_limit("payment-terminal", PAYMENT_STUCK_AFTER, payment_terminal)?,
            mrz_reader: None,
        })
    }

    /// With an OCR reader of documents' zones, on its own worker.
    pub fn with_mrz_reader(mut self, reader: Box<dyn MrzReader>) -> std::io::Result<Self> {
        self.mrz_reader = Some(DeviceWorker::spawn("mrz-reader", reader)?);
        Ok(self)
    }

    /// With this payment terminal in place of the one it had (a ZVT driver for a simulated
    /// kiosk, say).
    pub fn with_payment_terminal(mut self, terminal: Box<dyn PaymentTerminal>) -> std::io::Result<Self> {
        self.payment_terminal = DeviceWorker::spawn_with_limit("payment-terminal", PAYMENT_STUCK_AFTER, terminal)?;
        Ok(self)
    }

    /// Every device simulated; printouts go under `output_dir` (`receipts/`, `documents/`).
    /// The printers and the scanner are real drivers talking to virtual devices over real
    /// links (loopback TCP, loopback HTTP, a pty pair).
    pub fn simulated(output_dir: &Path, pace: SimulatorPace) -> std::io::Result<(Self, SimulatorControls)> {
        let (receipt, virtual_receipt_printer) = simulated_receipt_printer(&output_dir.join("receipts"), pace)?;
        let (document, virtual_document_printer) = simulated_document_printer(&output_dir.join("documents"), pace)?;
        let (identity, identity_reader) = simulated_identity_reader(pace);
        let (scanner, code_scanner) = simulated_code_scanner(pace)?;
        let (terminal, payment_terminal) = simulated_payment_terminal(pace);
        let (zone_reader, ocr_reader) = simulated_mrz_reader(pace)?;
        let controls = SimulatorControls {
            receipt_printer: virtual_receipt_printer.control(),
            virtual_receipt_printer,
            document_printer: virtual_document_printer.control(),
            virtual_document_printer,
            identity_reader,
            code_scanner,
            payment_terminal,
            ocr_reader,
        };
        Ok((Self::new(receipt, document, identity, scanner, terminal)?.with_mrz_reader(zone_reader)?, controls))
    }

    /// Asks every device for its status, each bounded by `wait`: what the session may use
    /// (readiness) and how each device is, in staff's words (for the heartbeat). A device busy
    /// with a long job (a payment in progress) keeps what it had in `previous`.
    pub async fn survey(&self, wait: Duration, previous: &Survey) -> Survey {
        use balcao_drivers::document_printer::DocumentPrinterStatus as Doc;
        use balcao_drivers::payment_terminal::TerminalStatus as Terminal;
        use balcao_drivers::receipt_printer::ReceiptPrinterStatus as Receipt;
        let (receipt, document, identity, scanner, terminal) = tokio::join!(
            ask(&self.receipt_printer, wait, |d| d.status()),
            ask(&self.document_printer, wait, |d| d.status()),
            ask(&self.identity_reader, wait, |d| d.status()),
            ask(&self.code_scanner, wait, |d| d.status()),
            ask(&self.payment_terminal, wait, |d| d.status()),
        );
        let mut survey = previous.clone();
        let mut note = |device: DeviceClass, answer: Option<Result<(bool, DeviceCondition), String>>| {
            let answer = answer?;
            let (ready, condition, detail) = match answer {
                Ok((ready, condition)) => (ready, condition, String::new()),
                Err(detail) => (false, DeviceCondition::Offline, detail),
            };
            survey.devices.retain(|d| d.device != device);
            survey.devices.push(DeviceReport { device, condition, detail });
            Some(ready)
        };
        let receipt = note(
            DeviceClass::ReceiptPrinter,
            receipt.map(|r| {
                r.map(|status| {
                    let condition = match status {
                        Receipt::Ready => DeviceCondition::Ok,
                        Receipt::PaperLow => DeviceCondition::PaperNearEnd,
                        Receipt::PaperOut => DeviceCondition::PaperOut,
                        Receipt::CoverOpen => DeviceCondition::CoverOpen,
                        Receipt::MechanismFault => DeviceCondition::Fault,
                        Receipt::Offline => DeviceCondition::Offline,
                    };
                    (status.can_print(), condition)
                })
            }),
        );
        let document = note(
            DeviceClass::DocumentPrinter,
            document.map(|r| {
                r.map(|status| {
                    let condition = match status {
                        Doc::Ready => DeviceCondition::Ok,
                        Doc::SuppliesLow => DeviceCondition::PaperNearEnd,
                        Doc::MediaEmpty => DeviceCondition::PaperOut,
                        Doc::MediaJam => DeviceCondition::Fault,
                        Doc::DoorOpen => DeviceCondition::CoverOpen,
                        Doc::Offline => DeviceCondition::Offline,
                    };
                    (status.can_print(), condition)
                })
            }),
        );
        let identity = note(
            DeviceClass::IdentityReader,
            identity.map(|r| {
                r.map(|status| match status {
                    IdentityReaderStatus::NoReader => (false, DeviceCondition::Offline),
                    _ => (true, DeviceCondition::Ok),
                })
            }),
        );
        let scanner = note(
            DeviceClass::CodeScanner,
            scanner.map(|r| {
                r.map(|status| {
                    (
                        status == ScannerStatus::Ready,
                        if status == ScannerStatus::Ready { DeviceCondition::Ok } else { DeviceCondition::Offline },
                    )
                })
            }),
        );
        let terminal = note(
            DeviceClass::PaymentTerminal,
            terminal.map(|r| {
                r.map(|status| {
                    let condition = match status {
                        Terminal::Ready | Terminal::Busy => DeviceCondition::Ok,
                        Terminal::Offline => DeviceCondition::Offline,
                        Terminal::OutOfOrder => DeviceCondition::Fault,
                    };
                    (status.can_pay(), condition)
                })
            }),
        );
        survey.devices.sort_by_key(|d| d.device);
        let readiness = &mut survey.readiness;
        readiness.receipt_printer = receipt.unwrap_or(readiness.receipt_printer);
        readiness.document_printer = document.unwrap_or(readiness.document_printer);
        readiness.identity_reader = identity.unwrap_or(readiness.identity_reader);
        readiness.code_scanner = scanner.unwrap_or(readiness.code_scanner);
        readiness.payment_terminal = terminal.unwrap_or(readiness.payment_terminal);
        readiness.mrz_reader = match &self.mrz_reader {
            Some(reader) => match ask(reader, wait, |d| d.status()).await {
                Some(answer) => answer.unwrap_or(false),
                None => readiness.mrz_reader,
            },
            None => false,
        };
        survey
    }
}

/// What every device is, as the health poll last found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    pub readiness: Readiness,
    /// One report per device class, in their order.
    pub devices: Vec<DeviceReport>,
}

/// A device's status within `wait`, recorded as the worker's success or failure: `None` while
/// it is busy with a long job; an error's text when it failed to answer, its worker lost the
/// job, or the job in front has hung.
async fn ask<D: ?Sized + Send + 'static, T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    worker: &DeviceWorker<D>,
    wait: Duration,
    status: impl FnOnce(&mut D) -> Result<T, E> + Send + 'static,
) -> Option<Result<T, String>> {
    let answer = match tokio::time::timeout(wait, worker.call(status)).await {
        Ok(Ok(Ok(status))) => Ok(status),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        // A restart under the question says nothing of the device.
        Ok(Err(DeviceGone::Restarted(_))) => return None,
        Ok(Err(gone)) => Err(gone.to_string()),
        Err(_busy) if worker.hung() => Err(format!("the {} driver has not come back from a job for longer than its limit", worker.name())),
        Err(_busy) => return None,
    };
    worker.record(answer.is_ok());
    Some(answer)
}

/// The ESC/POS driver with the kiosk's waits: a status answer within 700 ms, a receipt's
/// print-done within 20 s of its last byte.
pub fn escpos_printer(connector: &(impl balcao_drivers::receipt_printer::escpos::Connector + Clone + 'static)) -> Box<dyn ReceiptPrinter> {
    use balcao_drivers::receipt_printer::escpos::{EscPosPrinter, Timeouts};
    Box::new(EscPosPrinter::new(
        Box::new(connector.clone()),
        Timeouts { answer: Duration::from_millis(700), print_done: Duration::from_secs(20) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_follows_the_simulators_knobs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (devices, controls) = Devices::simulated(dir.path(), SimulatorPace::INSTANT).expect("devices");
        let wait = Duration::from_secs(2);
        let survey = devices.survey(wait, &Survey::default()).await;
        let ready = survey.readiness;
        assert!(ready.receipt_printer && ready.payment_terminal && ready.document_printer && ready.identity_reader && ready.code_scanner);
        assert_eq!(survey.devices.len(), 5, "{survey:?}");
        assert!(survey.devices.iter().all(|d| d.condition == DeviceCondition::Ok), "{survey:?}");
        controls.receipt_printer.set_cover_open(true);
        controls.payment_terminal.set_offline(true);
        let survey = devices.survey(wait, &survey).await;
        let ready = survey.readiness;
        assert!(!ready.receipt_printer && !ready.payment_terminal && ready.document_printer);
        let condition = |class| survey.devices.iter().find(|d| d.device == class).map(|d| d.condition);
        assert_eq!(condition(DeviceClass::ReceiptPrinter), Some(DeviceCondition::CoverOpen));
        assert_eq!(condition(DeviceClass::PaymentTerminal), Some(DeviceCondition::Offline));
        assert_eq!(condition(DeviceClass::DocumentPrinter), Some(DeviceCondition::Ok));
    }

    /// A terminal whose driver panics on its first payment, as a crate fed a malformed message
    /// would.
    #[derive(Debug)]
    struct PanicsOnce {
        made: usize,
    }

    impl PaymentTerminal for PanicsOnce {
        fn status(&mut self) -> Result<balcao_drivers::payment_terminal::TerminalStatus, balcao_drivers::payment_terminal::Error> {
            Ok(balcao_drivers::payment_terminal::TerminalStatus::Ready)
        }
        fn authorize(
            &mut self,
            _: &balcao_drivers::payment_terminal::AuthorizationRequest,
            _: &mut dyn FnMut(balcao_drivers::payment_terminal::TerminalPrompt),
        ) -> Result<balcao_drivers::payment_terminal::AuthorizationOutcome, balcao_drivers::payment_terminal::Error> {
            assert!(self.made > 1, "range end index 4 out of range for slice of length 2");
            Ok(balcao_drivers::payment_terminal::AuthorizationOutcome::Cancelled)
        }
        fn capture(
            &mut self,
            _: &balcao_drivers::payment_terminal::Authorization,
            _: u64,
        ) -> Result<balcao_drivers::payment_terminal::Capture, balcao_drivers::payment_terminal::Error> {
            unreachable!("not asked")
        }
        fn reverse(
            &mut self,
            _: &balcao_drivers::payment_terminal::Authorization,
        ) -> Result<balcao_drivers::payment_terminal::Reversal, balcao_drivers::payment_terminal::Error> {
            unreachable!("not asked")
        }
        fn open_reservation(&mut self) -> Result<Option<u32>, balcao_drivers::payment_terminal::Error> {
            Ok(None)
        }
        fn end_of_day(&mut self) -> Result<balcao_drivers::payment_terminal::DayClose, balcao_drivers::payment_terminal::Error> {
            unreachable!("not asked")
        }
    }

    #[tokio::test]
    async fn a_driver_that_panics_fails_its_job_only_and_is_made_anew() {
        let mut made = 0;
        let worker: DeviceWorker<dyn PaymentTerminal> = DeviceWorker::restartable("payment-terminal", move || {
            made += 1;
            let driver: Box<dyn PaymentTerminal> = Box::new(PanicsOnce { made });
            Ok(driver)
        })
        .expect("worker");
        let mut faults = worker.faults();
        let pay = |w: &DeviceWorker<dyn PaymentTerminal>| {
            let w = w.clone();
            async move {
                w.call(|t| {
                    let request = balcao_drivers::payment_terminal::AuthorizationRequest {
                        amount: 3_000,
                        reference: "p".into(),
                        cancel: balcao_drivers::CancelToken::new(),
                    };
                    t.authorize(&request, &mut |_| {}).map_err(|e| e.kind())
                })
                .await
            }
        };
        assert_eq!(pay(&worker).await, Err(DeviceGone::Panicked("payment-terminal")), "the job failed, the caller told");
        let fault = faults.recv().await.expect("reported");
        assert_eq!(fault.device, "payment-terminal");
        assert!(fault.message.contains("out of range"), "{fault:?}");
        // The worker lives on, with a driver made anew.
        assert_eq!(pay(&worker).await, Ok(Ok(balcao_drivers::payment_terminal::AuthorizationOutcome::Cancelled)));
        assert!(worker.call(|t| t.status()).await.is_ok());

        // A driver that cannot be made again goes on as it was.
        let driver: Box<dyn PaymentTerminal> = Box::new(PanicsOnce { made: 1 });
        let simulated = DeviceWorker::spawn("payment-terminal", driver).expect("worker");
        assert_eq!(pay(&simulated).await, Err(DeviceGone::Panicked("payment-terminal")));
        assert!(simulated.call(|t| t.status()).await.is_ok(), "still serving");
    }

    #[tokio::test]
    async fn a_hung_worker_is_restarted_its_waiting_jobs_answered_and_its_old_thread_runs_nothing_more() {
        use balcao_drivers::payment_terminal::TerminalStatus;
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let mut made = 0;
        let worker: DeviceWorker<dyn PaymentTerminal> =
            DeviceWorker::with_limit("payment-terminal", Duration::from_millis(100), move || {
                made += 1;
                let driver: Box<dyn PaymentTerminal> = Box::new(PanicsOnce { made });
                Ok(driver)
            })
            .expect("worker");
        // A job that hangs (a read that never ends), and one queued behind it.
        let blocked = hold.clone();
        let hung = tokio::spawn({
            let worker = worker.clone();
            async move { worker.call(move |_| blocked.lock().expect("hold").recv().is_ok()).await }
        });
        let ran_late = Arc::new(AtomicU32::new(0));
        let queued = tokio::spawn({
            let (worker, ran_late) = (worker.clone(), ran_late.clone());
            async move { worker.call(move |_| ran_late.fetch_add(1, Ordering::SeqCst)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!worker.hung(), "a job within its limit is not hung");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(worker.hung(), "past its limit");
        let restarting = worker.clone();
        tokio::task::spawn_blocking(move || restarting.restart()).await.expect("joined").expect("restarted");
        assert!(!worker.hung());
        assert_eq!(hung.await.expect("joined"), Err(DeviceGone::Restarted("payment-terminal")), "the hung caller is answered");
        assert_eq!(queued.await.expect("joined"), Err(DeviceGone::Restarted("payment-terminal")), "so is the one queued behind");
        // The new thread serves, with a driver made anew (the second: it does not panic).
        let paid = worker
            .call(|t| {
                let request = balcao_drivers::payment_terminal::AuthorizationRequest {
                    amount: 100,
                    reference: "r".into(),
                    cancel: balcao_drivers::CancelToken::new(),
                };
                t.authorize(&request, &mut |_| {}).is_ok()
            })
            .await;
        assert_eq!(paid, Ok(true));
        assert_eq!(worker.call(|t| t.status().ok()).await, Ok(Some(TerminalStatus::Ready)));
        // The old thread's call comes back at last: it runs nothing queued on it.
        release.send(()).expect("released");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(ran_late.load(Ordering::SeqCst), 0, "a job queued on the retired thread never runs");
    }

    #[tokio::test]
    async fn statuses_asked_count_failures_in_a_row_until_a_success() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (devices, controls) = Devices::simulated(dir.path(), SimulatorPace::INSTANT).expect("devices");
        let wait = Duration::from_secs(2);
        let survey = devices.survey(wait, &Survey::default()).await;
        assert_eq!(devices.receipt_printer.failures_in_a_row(), 0);
        // A printer that answers "offline" is a condition, not the driver failing.
        controls.receipt_printer.set_cover_open(true);
        let survey = devices.survey(wait, &survey).await;
        assert_eq!(devices.receipt_printer.failures_in_a_row(), 0, "{survey:?}");
        // A worker that cannot get a status (here: a panic) counts.
        let _ = devices.identity_reader.call(|_| panic!("bad frame")).await;
        let _ = devices.identity_reader.call(|_| panic!("bad frame")).await;
        assert_eq!(devices.identity_reader.failures_in_a_row(), 2);
        devices.survey(wait, &survey).await;
        assert_eq!(devices.identity_reader.failures_in_a_row(), 0, "a status got ends the run");
    }

    #[tokio::test]
    async fn a_busy_device_keeps_its_last_readiness() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (devices, _controls) = Devices::simulated(dir.path(), SimulatorPace::INSTANT).expect("devices");
        let busy = devices.payment_terminal.call(|_| std::thread::sleep(Duration::from_millis(500)));
        let previous = Survey { readiness: Readiness { payment_terminal: true, ..Readiness::default() }, devices: Vec::new() };
        let (_, survey) = tokio::join!(busy, devices.survey(Duration::from_millis(50), &previous));
        assert!(survey.readiness.payment_terminal);
        assert!(survey.devices.iter().all(|d| d.device != DeviceClass::PaymentTerminal), "nothing new said of a busy device");
    }
}
