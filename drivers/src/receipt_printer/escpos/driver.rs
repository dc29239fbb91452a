//! The ESC/POS receipt printer driver: a [`ReceiptPrinter`] over any byte link (raw TCP,
//! serial, USB bulk endpoints).
//!
//! A reader thread listens to the printer all the time and decodes what it says
//! ([`Decoder`]): Automatic Status Back blocks (enabled on every connection), answers to
//! real-time status requests and process-ID answers. A job is sent in small chunks; between
//! chunks and while waiting for the job's process-ID answer the driver looks at what the
//! printer last reported, so paper running out, the cover opening or the cutter jamming
//! mid-receipt fails the job with that kind at once. A link that breaks or a printer that stops
//! answering is `NoAnswer` (from `print`) or `Offline` (from `status`), after bounded waits;
//! the next call connects again, so a printer unplugged and plugged back in, or power-cycled,
//! comes back by itself.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::super::raster::LazyRenderer;
use super::super::{Error, ErrorKind, PrintConfirmation, Receipt, ReceiptPrinter, ReceiptPrinterStatus};
use super::encode::{EncodeError, encode};
use super::status::{Decoder, ENABLE_ASB, Incoming, PrinterState, StatusQuery};

/// The two halves of a connection to a printer. Reads must return within a short timeout
/// (`TimedOut`/`WouldBlock` are not errors), so the reader thread can notice it should stop.
pub struct Link {
    pub reader: Box<dyn Read + Send>,
    pub writer: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

/// Opens links to one printer: each transport is one of these.
pub trait Connector: Send {
    /// Where the printer is, for the technician: `tcp 10.0.0.5:9100`, `serial /dev/ttyUSB0`.
    fn describe(&self) -> String;
    fn connect(&mut self) -> std::io::Result<Link>;
}

/// Raw TCP, port 9100 on network printers.
#[derive(Clone, Debug)]
pub struct TcpConnector {
    pub address: std::net::SocketAddr,
    pub connect_timeout: Duration,
    /// How long a write may block (a printer that stopped reading fills the socket).
    pub write_timeout: Duration,
}

impl Connector for TcpConnector {
    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }

    fn connect(&mut self) -> std::io::Result<Link> {
        let stream = std::net::TcpStream::connect_timeout(&self.address, self.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TICK))?;
        stream.set_write_timeout(Some(self.write_timeout))?;
        Ok(Link { reader: Box::new(stream.try_clone()?), writer: Box::new(stream) })
    }
}

/// A serial line or USB CDC-ACM port.
#[derive(Clone, Debug)]
pub struct SerialConnector {
    pub path: String,
    pub baud_rate: u32,
}

impl Connector for SerialConnector {
    fn describe(&self) -> String {
        format!("serial {} at {} baud", self.path, self.baud_rate)
    }

    fn connect(&mut self) -> std::io::Result<Link> {
        use serialport::SerialPort as _;
        let port = serialport::new(&self.path, self.baud_rate)
            .flow_control(serialport::FlowControl::None)
            .timeout(READ_TICK)
            .open_native()
            .map_err(std::io::Error::other)?;
        // Whatever sat in the buffers belongs to an earlier connection.
        let _ = port.clear(serialport::ClearBuffer::All);
        let reader = port.try_clone_native().map_err(std::io::Error::other)?;
        Ok(Link { reader: Box::new(reader), writer: Box::new(port) })
    }
}

/// A USB printer: the printer-class (or vendor-specific) interface's bulk endpoints, found by
/// vendor and product id. Written here rather than taken from the `escpos` crate's `UsbDriver`,
/// which guards the device with one lock and one timeout for both directions: its reads (which
/// this driver's reader thread makes all the time) would hold writes up, and it reports every
/// failure as a string, where the kiosk needs to tell "unplugged" from "no answer".
#[derive(Clone, Debug)]
pub struct UsbConnector {
    device: crate::usb::UsbSelector,
    write_timeout: Duration,
}

impl UsbConnector {
    pub fn new(device: crate::usb::UsbSelector, write_timeout: Duration) -> Self {
        Self { device, write_timeout }
    }
}

/// The USB class code of printers.
const PRINTER_CLASS: u8 = 7;

impl Connector for UsbConnector {
    fn describe(&self) -> String {
        format!("usb {}", self.device)
    }

    fn connect(&mut self) -> std::io::Result<Link> {
        // A fresh libusb context for each connection: an old context's device list follows
        // hot-plug events only while something handles its events, which nothing does between
        // two connections, so it may never see a printer switched back on.
        let context = rusb::Context::new().map_err(std::io::Error::other)?;
        let device = crate::usb::open_bulk(&context, &self.device, PRINTER_CLASS)?;
        let (reader, writer) = crate::usb::bulk_streams(device, READ_TICK, self.write_timeout);
        Ok(Link { reader, writer })
    }
}

/// How long the driver waits for each thing.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For the answer to a real-time status request.
    pub answer: Duration,
    /// For a job's process-ID answer after its last byte was sent: printing a long receipt
    /// with images takes seconds.
    pub print_done: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { answer: Duration::from_millis(700), print_done: Duration::from_secs(20) }
    }
}

/// Reads block at most this long, so the reader thread notices it should stop.
const READ_TICK: Duration = Duration::from_millis(50);
/// Bytes written between two looks at the printer's status.
const CHUNK: usize = 512;

/// What the reader thread has heard.
#[derive(Default)]
struct Heard {
    /// Last Automatic Status Back, if any came.
    asb: Option<PrinterState>,
    real_time: Vec<u8>,
    printed: Vec<u16>,
    /// The link is gone (EOF or error): why.
    closed: Option<String>,
}

struct Inbox {
    heard: Mutex<Heard>,
    changed: Condvar,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `ready` says yes or `deadline` passes; returns what `ready` said last.
    fn wait_for<T>(&self, deadline: Instant, mut ready: impl FnMut(&mut Heard) -> Option<T>) -> Option<T> {
        let mut heard = self.lock();
        loop {
            if let Some(t) = ready(&mut heard) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline || heard.closed.is_some() {
                return None;
            }
            heard = self.changed.wait_timeout(heard, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

struct Connection {
    writer: Box<dyn Write + Send>,
    inbox: Arc<Inbox>,
    stop: Arc<AtomicBool>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn listen(mut reader: Box<dyn Read + Send>, inbox: Arc<Inbox>, stop: Arc<AtomicBool>, printer: String) {
    let mut decoder = Decoder::new();
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::SeqCst) {
        let closed = match reader.read(&mut buf) {
            Ok(0) => Some("the printer closed the connection".to_string()),
            Ok(n) => {
                let mut heard = inbox.lock();
                for incoming in decoder.push(&buf[..n]) {
                    match incoming {
                        Incoming::Asb(state) => heard.asb = Some(state),
                        Incoming::RealTime(byte) => heard.real_time.push(byte),
                        Incoming::Printed(id) => heard.printed.push(id),
                        Incoming::Garbage(bytes) => tracing::warn!(%printer, ?bytes, "receipt printer sent bytes that mean nothing"),
                    }
                }
                inbox.changed.notify_all();
                None
            }
            Err(e) if crate::error::read_timed_out(&e) => None,
            Err(e) => Some(format!("reading from the printer failed: {e}")),
        };
        if let Some(why) = closed {
            inbox.lock().closed = Some(why);
            inbox.changed.notify_all();
            return;
        }
    }
}

/// An ESC/POS receipt printer.
pub struct EscPosPrinter {
    connector: Box<dyn Connector>,
    timeouts: Timeouts,
    connection: Option<Connection>,
    next_job: u16,
    raster: LazyRenderer,
}

impl std::fmt::Debug for EscPosPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscPosPrinter").field("printer", &self.connector.describe()).finish_non_exhaustive()
    }
}

fn no_answer(message: String) -> Error {
    Error::new(ErrorKind::NoAnswer, message)
}

impl EscPosPrinter {
    pub fn new(connector: Box<dyn Connector>, timeouts: Timeouts) -> Self {
        Self { connector, timeouts, connection: None, next_job: 1, raster: LazyRenderer::default() }
    }

    fn printer(&self) -> String {
        self.connector.describe()
    }

    /// The live connection, opened (and Automatic Status Back enabled) if there is none.
    fn connection(&mut self) -> Result<&mut Connection, Error> {
        let stale = self.connection.as_ref().is_some_and(|c| c.inbox.lock().closed.is_some());
        if stale {
            self.connection = None;
        }
        if self.connection.is_none() {
            let printer = self.printer();
            let link =
                self.connector.connect().map_err(|e| no_answer(format!("cannot reach the receipt printer ({printer})")).with_source(e))?;
            let inbox = Arc::new(Inbox { heard: Mutex::new(Heard::default()), changed: Condvar::new() });
            let stop = Arc::new(AtomicBool::new(false));
            let (thread_inbox, thread_stop, name) = (inbox.clone(), stop.clone(), printer.clone());
            std::thread::Builder::new()
                .name("escpos-reader".into())
                .spawn(move || listen(link.reader, thread_inbox, thread_stop, name))
                .map_err(|e| Error::new(ErrorKind::Other, "cannot start the printer's reader thread").with_source(e))?;
            let mut connection = Connection { writer: link.writer, inbox, stop };
            connection
                .writer
                .write_all(&ENABLE_ASB)
                .and_then(|()| connection.writer.flush())
                .map_err(|e| no_answer(format!("the receipt printer ({printer}) does not take data")).with_source(e))?;
            tracing::info!(%printer, "receipt printer connected");
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("set above"))
    }

    /// Forgets the connection; the next call opens a new one.
    fn drop_connection(&mut self, why: &str) {
        if self.connection.take().is_some() {
            tracing::warn!(printer = %self.printer(), why, "receipt printer connection dropped");
        }
    }

    /// Asks the four real-time statuses, one after the other.
    fn ask_status(&mut self) -> Result<PrinterState, Error> {
        let answer = self.timeouts.answer;
        let printer = self.printer();
        let connection = self.connection()?;
        let mut state = PrinterState::default();
        for query in StatusQuery::ALL {
            connection.inbox.lock().real_time.clear();
            connection
                .writer
                .write_all(&query.request())
                .and_then(|()| connection.writer.flush())
                .map_err(|e| no_answer(format!("the receipt printer ({printer}) does not take data")).with_source(e))?;
            let byte = connection
                .inbox
                .wait_for(Instant::now() + answer, |heard| (!heard.real_time.is_empty()).then(|| heard.real_time.remove(0)));
            let Some(byte) = byte else {
                let why = connection
                    .inbox
                    .lock()
                    .closed
                    .clone()
                    .unwrap_or_else(|| format!("no answer to DLE EOT {} within {answer:?}", query as u8));
                return Err(no_answer(format!("the receipt printer ({printer}) does not answer: {why}")));
            };
            state.apply(query, byte).map_err(|e| {
                Error::new(ErrorKind::Protocol, format!("the receipt printer ({printer}) answered nonsense")).with_source(e)
            })?;
        }
        Ok(state)
    }

    fn status_or_drop(&mut self) -> Result<PrinterState, Error> {
        let state = self.ask_status();
        if state.as_ref().is_err_and(|e| e.kind() == ErrorKind::NoAnswer) {
            self.drop_connection("no answer to a status request");
        }
        state
    }
}

/// The error for a printer that cannot print now, or `None` if it can.
fn refusal(status: ReceiptPrinterStatus, during: &str) -> Option<Error> {
    let (kind, message) = match status {
        ReceiptPrinterStatus::Ready | ReceiptPrinterStatus::PaperLow => return None,
        ReceiptPrinterStatus::PaperOut => (ErrorKind::PaperOut, "the receipt printer is out of paper: load a new roll"),
        ReceiptPrinterStatus::CoverOpen => (ErrorKind::CoverOpen, "the receipt printer's cover is open: close it"),
        ReceiptPrinterStatus::MechanismFault => {
            (ErrorKind::MechanismFault, "the receipt printer reports a cutter or mechanism fault: check the cutter for jammed paper")
        }
        ReceiptPrinterStatus::Offline => (ErrorKind::NoAnswer, "the receipt printer is offline"),
    };
    Some(Error::new(kind, format!("{message} ({during})")))
}

impl ReceiptPrinter for EscPosPrinter {
    fn status(&mut self) -> Result<ReceiptPrinterStatus, Error> {
        match self.status_or_drop() {
            Ok(state) => Ok(state.status()),
            Err(e) if e.kind() == ErrorKind::NoAnswer => {
                tracing::debug!(error = %e, "receipt printer offline");
                Ok(ReceiptPrinterStatus::Offline)
            }
            Err(e) => Err(e),
        }
    }

    fn print(&mut self, receipt: &Receipt) -> Result<PrintConfirmation, Error> {
        let job = self.next_job;
        self.next_job = if job >= 9999 { 1 } else { job + 1 };
        let bytes = encode(receipt, job, &mut self.raster).map_err(|e| {
            let kind = if matches!(e, EncodeError::Raster(super::super::raster::RasterError::NoFont { .. })) {
                ErrorKind::Other
            } else {
                ErrorKind::InvalidReceipt
            };
            Error::new(kind, "the receipt cannot be printed as laid out").with_source(e)
        })?;
        let state = self.status_or_drop()?;
        if let Some(error) = refusal(state.status(), "before printing") {
            return Err(error);
        }
        let printer = self.printer();
        let print_done = self.timeouts.print_done;
        let connection = self.connection()?;
        let fault = |heard: &Heard| heard.asb.and_then(|s| refusal(s.status(), "while printing"));
        connection.inbox.lock().printed.clear();

        for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
            if let Some(error) = fault(&connection.inbox.lock()) {
                let sent = i * CHUNK;
                return Err(Error::new(error.kind(), format!("{} after {sent} of {} bytes of job {job}", error.message(), bytes.len())));
            }
            if let Err(e) = connection.writer.write_all(chunk).and_then(|()| connection.writer.flush()) {
                let heard = connection.inbox.lock();
                let error = fault(&heard)
                    .unwrap_or_else(|| no_answer(format!("the receipt printer ({printer}) stopped taking data mid-job")).with_source(e));
                drop(heard);
                self.drop_connection("a write failed mid-job");
                return Err(error);
            }
        }

        let outcome = connection
            .inbox
            .wait_for(Instant::now() + print_done, |heard| if heard.printed.contains(&job) { Some(Ok(())) } else { fault(heard).map(Err) });
        match outcome {
            Some(Ok(())) => Ok(PrintConfirmation { job: u32::from(job), length_mm: None }),
            Some(Err(error)) => Err(error),
            None => {
                let closed = connection.inbox.lock().closed.clone();
                // A printer without Automatic Status Back says nothing when it stops: ask it
                // why (real-time requests are answered even while it is stopped).
                if closed.is_none()
                    && let Ok(state) = self.ask_status()
                    && let Some(error) = refusal(state.status(), "while printing")
                {
                    return Err(Error::new(error.kind(), format!("{} (job {job} never confirmed)", error.message())));
                }
                self.drop_connection("no print-done answer");
                Err(no_answer(format!(
                    "the receipt printer ({printer}) did not confirm job {job} within {print_done:?}: {}",
                    closed.unwrap_or_else(|| "it stopped answering".into())
                )))
            }
        }
    }
}
