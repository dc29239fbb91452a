//! The technician's way into the running kiosk: a Unix socket beside its database
//! (`maintenance.sock`, owner-only), answered only for the kiosk's own user or root — the
//! kernel's word on who connected, not a secret. `kiosk-provision diagnose` asks through it for
//! the tests only the kiosk can make, since it alone holds its devices: a receipt printed and
//! confirmed, an A4 test page, the scanner reading the receipt's code, a card laid on the
//! reader, the payment terminal's own diagnosis; and for the report printed on the receipt
//! printer.
//!
//! One request, one answer, each a line of JSON: the socket is local and the protocol ours, so
//! HTTP would add a client and a server for nothing.
//!
//! A test takes the kiosk out of service only while nobody is at it, shows citizens that it is
//! under maintenance, and brings it back after (unless central's staff closed it meanwhile).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use balcao_backend_client::api::{DeviceClass, LocalizedText};
use balcao_drivers::document_printer::{PrintJob, test_page::test_page};
use balcao_drivers::identity_reader::IdentityReaderStatus;
use balcao_drivers::payment_terminal::TerminalStatus;
use balcao_drivers::receipt_printer::Receipt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, broadcast, mpsc, watch};

use super::devices::Devices;
use super::fleet::CoreStatus;
use crate::session::Event;

/// The socket's name in the kiosk's data folder.
pub const SOCKET: &str = "maintenance.sock";

/// The longest a request line may be.
const MAX_REQUEST: u64 = 64 * 1024;

/// What the technician's tool asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "run", rename_all = "kebab-case")]
pub enum Request {
    /// Every device's active test. A wait of 0 leaves that test out.
    SelfTest {
        /// How long to wait for a document laid on the reader.
        card_wait_secs: u16,
        /// How long to wait for the test receipt's code held under the scanner.
        scan_wait_secs: u16,
    },
    /// Prints these lines (a readiness report) on the receipt printer.
    PrintReport { title: String, lines: Vec<String> },
}

/// One device's test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTest {
    pub device: DeviceClass,
    /// `None`: not tried (no wait given, or the test before it failed).
    pub passed: Option<bool>,
    pub detail: String,
    pub remedy: Option<String>,
}

/// What the kiosk answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    Tested {
        tests: Vec<DeviceTest>,
    },
    Printed,
    /// Not now, or not allowed; the reason in the technician's words.
    Refused {
        reason: String,
    },
}

/// Asks the kiosk whose socket is at `socket`, waiting at most `wait` for its answer.
pub async fn ask(socket: &Path, request: &Request, wait: Duration) -> Result<Answer, String> {
    let exchange = async {
        let stream = UnixStream::connect(socket).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                format!("the kiosk is not running (no answer at {})", socket.display())
            }
            std::io::ErrorKind::PermissionDenied => {
                format!("not allowed to reach the kiosk at {}: run as the kiosk's user or root", socket.display())
            }
            _ => format!("cannot reach the kiosk at {}: {e}", socket.display()),
        })?;
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        line.push(b'\n');
        write.write_all(&line).await.map_err(|e| format!("the kiosk hung up: {e}"))?;
        let mut answer = String::new();
        BufReader::new(read).take(MAX_REQUEST).read_line(&mut answer).await.map_err(|e| format!("the kiosk hung up: {e}"))?;
        if answer.is_empty() {
            return Err("the kiosk closed the connection without answering (not its user or root?)".to_string());
        }
        serde_json::from_str(&answer).map_err(|e| format!("the kiosk's answer does not read: {e}"))
    };
    tokio::time::timeout(wait, exchange).await.map_err(|_| format!("the kiosk did not answer within {} s", wait.as_secs()))?
}

/// What the door needs of the running kiosk.
#[derive(Debug)]
pub struct Maintenance {
    pub kiosk_id: String,
    pub devices: Devices,
    pub events: mpsc::UnboundedSender<Event>,
    /// Whether nobody is at the kiosk.
    pub at_rest: Arc<AtomicBool>,
    pub status: watch::Receiver<CoreStatus>,
    /// Every code the scanner reads, as it reads it.
    pub scans: broadcast::Sender<String>,
    /// Where central's staff's closing of the kiosk is kept, if the kiosk has its store.
    pub store: Option<super::SharedStore>,
}

impl Maintenance {
    /// Serves the socket at `path` until `stopped`. A socket left by an earlier run is replaced.
    pub async fn serve(self, path: PathBuf, mut stopped: watch::Receiver<bool>) {
        let _ = std::fs::remove_file(&path);
        let listener = match UnixListener::bind(&path) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the maintenance socket cannot be opened: diagnose's device tests are unavailable");
                return;
            }
        };
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(error = %e, "the maintenance socket's mode cannot be set; it is closed");
            return;
        }
        let Ok(owner) = std::fs::metadata(&path).map(|m| m.uid()) else { return };
        // One test at a time: the devices are shared with the citizen's journeys.
        let this = Arc::new((self, Mutex::new(())));
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "maintenance socket");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let allowed = stream.peer_cred().is_ok_and(|peer| peer.uid() == owner || peer.uid() == 0);
            if !allowed {
                tracing::warn!("a process of another user knocked at the maintenance socket; refused");
                continue;
            }
            let this = this.clone();
            tokio::spawn(async move {
                let (maintenance, one_at_a_time) = &*this;
                if let Err(e) = maintenance.answer(stream, one_at_a_time).await {
                    tracing::info!(error = %e, "maintenance request");
                }
            });
        }
        let _ = std::fs::remove_file(&path);
    }

    async fn answer(&self, stream: UnixStream, one_at_a_time: &Mutex<()>) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), BufReader::new(read).take(MAX_REQUEST).read_line(&mut line)).await;
        let answer = match read {
            Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
                Ok(request) => match one_at_a_time.try_lock() {
                    Ok(_guard) => self.carry_out(request).await,
                    Err(_) => Answer::Refused { reason: "another test is running on this kiosk".into() },
                },
                Err(e) => Answer::Refused { reason: format!("not a request this kiosk knows: {e}") },
            },
            Ok(Err(e)) => return Err(e),
            Err(_) => Answer::Refused { reason: "no request within 10 s".into() },
        };
        let mut bytes = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        write.write_all(&bytes).await
    }

    async fn carry_out(&self, request: Request) -> Answer {
        match request {
            Request::PrintReport { title, lines } => {
                let mut receipt = Receipt::new().title(title).rule();
                for line in lines {
                    receipt = receipt.text(line);
                }
                match self.devices.receipt_printer.call(move |p| p.print(&receipt.feed(2))).await {
                    Ok(Ok(_)) => Answer::Printed,
                    Ok(Err(e)) => Answer::Refused { reason: format!("the receipt printer did not print it: {e}") },
                    Err(gone) => Answer::Refused { reason: format!("{gone}: {}", gone.remedy()) },
                }
            }
            Request::SelfTest { card_wait_secs, scan_wait_secs } => {
                if !self.at_rest.load(Ordering::SeqCst) {
                    return Answer::Refused { reason: "a citizen is using the kiosk: try again when it shows its welcome screen".into() };
                }
                let closed_before = self.status.borrow().closed_by_central;
                if !closed_before {
                    let _ = self.events.send(Event::ClosedByCentral(Some(under_maintenance())));
                    // A citizen who touched the screen just now goes first: the test starts
                    // only once the kiosk shows it is out of service.
                    let mut status = self.status.clone();
                    let shown = tokio::time::timeout(Duration::from_secs(3), status.wait_for(|s| s.screen == "out-of-service")).await;
                    if !matches!(shown, Ok(Ok(_))) {
                        let _ = self.events.send(Event::ClosedByCentral(None));
                        return Answer::Refused {
                            reason: "a citizen is using the kiosk: try again when it shows its welcome screen".into(),
                        };
                    }
                }
                let tests = self.self_test(Duration::from_secs(card_wait_secs.into()), Duration::from_secs(scan_wait_secs.into())).await;
                // Back in service, unless central's staff closed the kiosk meanwhile (their
                // closing is kept in the store; the test's own is not).
                let closed_by_staff = match &self.store {
                    Some(store) => super::with_store(store, |s| s.closed_by_central()).await.ok().flatten().is_some(),
                    None => false,
                };
                if !closed_before && !closed_by_staff {
                    let _ = self.events.send(Event::ClosedByCentral(None));
                }
                Answer::Tested { tests }
            }
        }
    }

    async fn self_test(&self, card_wait: Duration, scan_wait: Duration) -> Vec<DeviceTest> {
        let mut scans = self.scans.subscribe();
        let code = format!("BALCAO-TEST-{}-{:08X}", self.kiosk_id, rand::random::<u32>());
        let mut tests = vec![self.test_receipt(&code).await, self.test_page().await];
        let printed = tests[0].passed == Some(true);
        tests.push(self.test_terminal().await);
        tests.push(if scan_wait.is_zero() || !printed {
            untried(
                DeviceClass::CodeScanner,
                if printed { "not tried (no wait for a scan given)" } else { "not tried: no test receipt to scan" },
            )
        } else {
            wait_for_code(&mut scans, &code, scan_wait).await
        });
        tests.push(if card_wait.is_zero() {
            untried(DeviceClass::IdentityReader, "not tried (no wait for a card given)")
        } else {
            self.test_card(card_wait).await
        });
        tests
    }

    async fn test_receipt(&self, code: &str) -> DeviceTest {
        let receipt = Receipt::new()
            .title("Balcao test print")
            .rule()
            .row("Kiosk", self.kiosk_id.clone())
            .row("At", jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string())
            .text("Scan this code with the kiosk's scanner:")
            .qr(code)
            .centered(code)
            .feed(2);
        let name = DeviceClass::ReceiptPrinter;
        match self.devices.receipt_printer.call(move |p| p.print(&receipt)).await {
            Ok(Ok(done)) => passed(name, format!("test receipt printed, confirmed by the printer (job {})", done.job)),
            Ok(Err(e)) => {
                use balcao_drivers::receipt_printer::ErrorKind;
                let remedy = match e.kind() {
                    ErrorKind::PaperOut => "load paper",
                    ErrorKind::CoverOpen => "close the cover",
                    ErrorKind::MechanismFault => "clear the paper path and the cutter; power-cycle the printer",
                    ErrorKind::NoAnswer => "check its power and cable (or network), then kiosk-provision devices",
                    ErrorKind::Protocol | ErrorKind::InvalidReceipt | ErrorKind::Other => {
                        "check the configured printer is an ESC/POS receipt printer; see the kiosk's log"
                    }
                };
                failed(name, format!("no test receipt: {e}"), remedy)
            }
            Err(gone) => failed(name, gone.to_string(), gone.remedy()),
        }
    }

    async fn test_page(&self) -> DeviceTest {
        let lines = vec![
            format!("Kiosk {}", self.kiosk_id),
            format!("Printed at {}", jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S")),
            "The frame should be whole, 15 mm from each edge.".to_string(),
        ];
        let job = PrintJob { name: format!("test-page-{}", self.kiosk_id), pdf: test_page("Balcao A4 test page", &lines), copies: 1 };
        let name = DeviceClass::DocumentPrinter;
        match self.devices.document_printer.call(move |p| p.print(&job)).await {
            Ok(Ok(done)) => passed(name, format!("test page printed: job {} completed, {} sheet(s)", done.job_id, done.sheets)),
            Ok(Err(e)) => {
                // The driver's own advice, where it has one for the fault.
                let remedy = balcao_drivers::document_printer::advice(e.kind())
                    .unwrap_or("check the configured URI is an IPP printer that takes PDF (kiosk-provision devices lists them)");
                failed(name, format!("no test page: {e}"), remedy)
            }
            Err(gone) => failed(name, gone.to_string(), gone.remedy()),
        }
    }

    async fn test_terminal(&self) -> DeviceTest {
        let name = DeviceClass::PaymentTerminal;
        let answer = tokio::time::timeout(Duration::from_secs(90), self.devices.payment_terminal.call(|t| t.diagnose())).await;
        match answer {
            Ok(Ok(Ok(TerminalStatus::Ready))) => passed(name, "registered; its diagnosis reached its host (no money moved)".into()),
            Ok(Ok(Ok(TerminalStatus::Busy))) => {
                failed(name, "busy with another transaction".into(), "wait for it to finish, then run diagnose again")
            }
            Ok(Ok(Ok(TerminalStatus::OutOfOrder))) => failed(
                name,
                "answers, but cannot reach its host".into(),
                "check the terminal's network to its acquirer; call the acquirer's helpdesk",
            ),
            Ok(Ok(Ok(TerminalStatus::Offline))) => failed(name, "does not answer".into(), "check its power and cable (or network)"),
            Ok(Ok(Err(e))) => failed(name, e.to_string(), "check its power and cable (or network), and the kiosk's ZVT password"),
            Ok(Err(gone)) => failed(name, gone.to_string(), gone.remedy()),
            Err(_) => failed(name, "no answer to its diagnosis within 90 s".into(), "power-cycle the terminal"),
        }
    }

    async fn test_card(&self, wait: Duration) -> DeviceTest {
        let name = DeviceClass::IdentityReader;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Only whether a document is there and its chip answers: nothing of it is read.
            match self.devices.identity_reader.call(|r| r.status()).await {
                Ok(Ok(IdentityReaderStatus::DocumentPresent)) => {
                    return passed(name, "a document laid on it was seen, its chip answers".into());
                }
                Ok(Ok(IdentityReaderStatus::DocumentError)) => {
                    return failed(
                        name,
                        "a document is on it, but its chip does not answer".into(),
                        "try another document; clean the reader's surface",
                    );
                }
                Ok(Ok(IdentityReaderStatus::NoReader)) => {
                    return failed(name, "no reader connected".into(), "check its USB cable; kiosk-provision devices shows what is seen");
                }
                Ok(Ok(IdentityReaderStatus::NoDocument)) => {}
                Ok(Err(e)) => return failed(name, e.to_string(), "check its USB cable and that pcscd runs"),
                Err(gone) => return failed(name, gone.to_string(), gone.remedy()),
            }
            if tokio::time::Instant::now() >= deadline {
                return failed(
                    name,
                    format!("no document laid on it within {} s", wait.as_secs()),
                    "lay an identity card on the reader when asked",
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn wait_for_code(scans: &mut broadcast::Receiver<String>, code: &str, wait: Duration) -> DeviceTest {
    let name = DeviceClass::CodeScanner;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, scans.recv()).await {
            Ok(Ok(scanned)) if scanned == code => return passed(name, "read the test receipt's code".into()),
            // Anything else held under it meanwhile: keep waiting for the receipt.
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                return failed(name, "the scanner's reader stopped".into(), "restart the kiosk");
            }
            Err(_) => {
                return failed(
                    name,
                    format!("the test receipt's code was not read within {} s", wait.as_secs()),
                    "hold the test receipt's code under the scanner; check its cable and its suffix setting (CR)",
                );
            }
        }
    }
}

/// What citizens see while a technician tests the kiosk.
fn under_maintenance() -> LocalizedText {
    LocalizedText::new(
        "技術人員正在檢查本機，請稍候或前往櫃檯。",
        "Um técnico está a verificar este quiosque. Aguarde ou dirija-se ao balcão.",
        "A technician is checking this kiosk. Please wait or go to the counter.",
    )
}

fn passed(device: DeviceClass, detail: String) -> DeviceTest {
    DeviceTest { device, passed: Some(true), detail, remedy: None }
}

fn failed(device: DeviceClass, detail: String, remedy: &str) -> DeviceTest {
    DeviceTest { device, passed: Some(false), detail, remedy: Some(remedy.into()) }
}

fn untried(device: DeviceClass, detail: &str) -> DeviceTest {
    DeviceTest { device, passed: None, detail: detail.into(), remedy: None }
}
