//! Each device runs on its own thread, owned by a [`DeviceWorker`]; async code sends it jobs
//! and awaits the answers. A slow or dead device blocks only its own thread, and a driver that
//! panics (a bug, or a crate that panics on what a device sent) fails only the job it was
//! doing: the worker catches the panic, reports it as a device fault, makes the driver anew
//! (when it was given a way to: [`DeviceWorker::restartable`]; the kiosk's workers are
//! [`DeviceWorker::spawn`]ed and go on with the driver they have) and takes the next job.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
/// restarted the driver), or the worker's thread is gone. Either way the job's outcome is
/// unknown: a payment's is the payment journal's to settle, a print job may have printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceGone {
    #[error("the {0} driver failed during the job; its worker restarted it")]
    Panicked(&'static str),
    #[error("the {0} worker thread has stopped")]
    Stopped(&'static str),
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

/// Makes the device's driver, at start and after a panic.
type Make<D> = Box<dyn FnMut() -> std::io::Result<Box<D>> + Send>;

/// Owns one device on a thread of its own.
pub struct DeviceWorker<D: ?Sized> {
    jobs: std::sync::mpsc::Sender<Job<D>>,
    name: &'static str,
    faults: tokio::sync::broadcast::Sender<DeviceFault>,
}

impl<D: ?Sized> Clone for DeviceWorker<D> {
    fn clone(&self) -> Self {
        Self { jobs: self.jobs.clone(), name: self.name, faults: self.faults.clone() }
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

impl<D: ?Sized> std::fmt::Debug for DeviceWorker<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceWorker({})", self.name)
    }
}

impl<D: ?Sized + Send + 'static> DeviceWorker<D> {
    /// A worker for `device`, which cannot be made again: after a panic the worker goes on with
    /// it as it is (a simulator, say).
    pub fn spawn(name: &'static str, device: Box<D>) -> std::io::Result<Self> {
        let mut once = Some(device);
        Self::restartable(name, move || once.take().ok_or_else(|| std::io::Error::other("this driver cannot be made again")))
    }

    /// A worker for the driver `make` makes, now and again after each panic of it (a driver's
    /// state after a panic cannot be trusted: a half-read message, a link in an unknown state).
    pub fn restartable(name: &'static str, make: impl FnMut() -> std::io::Result<Box<D>> + Send + 'static) -> std::io::Result<Self> {
        let mut make: Make<D> = Box::new(make);
        let mut device = make()?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job<D>>();
        let (faults, _) = tokio::sync::broadcast::channel(16);
        let report = faults.clone();
        std::thread::Builder::new().name(format!("device-{name}")).spawn(move || {
            // Ends when every handle is dropped.
            for job in queue {
                let Err(message) = job(&mut device) else { continue };
                tracing::error!(device = name, panic = %message, "the device's driver panicked: the job failed, the driver is made anew");
                let _ = report.send(DeviceFault { device: name, message });
                match make() {
                    Ok(fresh) => device = fresh,
                    Err(e) => tracing::warn!(device = name, error = %e, "the driver cannot be made anew: going on with it as it is"),
                }
            }
        })?;
        Ok(Self { jobs, name, faults })
    }

    /// Runs `job` on the device's thread and returns its result.
    pub async fn call<R: Send + 'static>(&self, job: impl FnOnce(&mut D) -> R + Send + 'static) -> Result<R, DeviceGone> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job<D> = Box::new(move |device| {
            // The driver's panic is this job's failure, not the worker's: caught here, the
            // caller told, the worker restarts the driver.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(device))) {
                Ok(result) => {
                    let _ = reply.send(Ok(result));
                    Ok(())
                }
                Err(panic) => {
                    let _ = reply.send(Err(()));
                    Err(panic_message(panic.as_ref()))
                }
            }
        });
        self.jobs.send(job).map_err(|_| DeviceGone::Stopped(self.name))?;
        match answer.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(())) => Err(DeviceGone::Panicked(self.name)),
            Err(_) => Err(DeviceGone::Stopped(self.name)),
        }
    }

    /// The driver's panics from now on, as they happen.
    pub fn faults(&self) -> tokio::sync::broadcast::Receiver<DeviceFault> {
        self.faults.subscribe()
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
            document_printer: DeviceWorker::spawn("document-printer", document_printer)?,
            identity_reader: DeviceWorker::spawn("identity-reader", identity_reader)?,
            code_scanner: DeviceWorker::spawn("code-scanner", code_scanner)?,
            payment_terminal: DeviceWorker::spawn("payment-terminal", payment_terminal)?,
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
        self.payment_terminal = DeviceWorker::spawn("payment-terminal", terminal)?;
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
            ask(wait, self.receipt_printer.call(|d| d.status())),
            ask(wait, self.document_printer.call(|d| d.status())),
            ask(wait, self.identity_reader.call(|d| d.status())),
            ask(wait, self.code_scanner.call(|d| d.status())),
            ask(wait, self.payment_terminal.call(|d| d.status())),
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
            Some(reader) => match ask(wait, reader.call(|d| d.status())).await {
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

/// A device's status within `wait`: `None` while it is busy with a long job; an error's text when
/// it failed to answer or its worker lost the job.
async fn ask<T, E: std::fmt::Display>(
    wait: Duration,
    call: impl std::future::Future<Output = Result<Result<T, E>, DeviceGone>>,
) -> Option<Result<T, String>> {
    match tokio::time::timeout(wait, call).await {
        Ok(Ok(Ok(status))) => Some(Ok(status)),
        Ok(Ok(Err(e))) => Some(Err(e.to_string())),
        Ok(Err(gone)) => Some(Err(gone.to_string())),
        Err(_busy) => None,
    }
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
