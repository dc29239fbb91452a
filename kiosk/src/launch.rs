//! Puts a kiosk together from its configuration: the central client, the devices, and — for
//! the demo — a reference central on loopback and simulated devices in a fresh data folder.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use balcao_backend_client::{CentralClient, ClientConfig, Timeouts};
use balcao_drivers::payment_terminal::zvt::ecr::ZvtTerminal;
use balcao_ui::view::Language;

use crate::config::{CodeScannerKind, DocumentPrinterKind, IdentityReaderKind, KioskConfig, PaymentTerminalKind, ReceiptPrinterLink};
use crate::runtime::KioskSettings;
use crate::runtime::devices::{self, DeviceWorker, Devices, SimulatorPace, Simulators};
use crate::runtime::outbox::RetryPolicy;
use crate::session::SessionConfig;

impl KioskSettings {
    pub fn from_config(config: &KioskConfig) -> Self {
        Self {
            kiosk_id: config.kiosk.id.clone(),
            centre_id: config.kiosk.centre_id.clone(),
            ticket_series: config.kiosk.ticket_series(),
            status_url: config.central.status_url.clone(),
            session: SessionConfig {
                idle_timeout: config.idle_timeout(),
                idle_warning: config.idle_warning(),
                done_timeout: Duration::from_secs(config.session.done_timeout_secs),
                attract_cycle: Duration::from_secs(4),
                default_language: Language::from_tag(&config.kiosk.default_language).unwrap_or_default(),
            },
            retry: RetryPolicy {
                first: Duration::from_millis(config.outbox.first_retry_ms),
                max: Duration::from_secs(config.outbox.max_retry_secs),
            },
            catalog_poll: Duration::from_secs(config.central.catalog_poll_secs),
            health_poll: Duration::from_secs(config.devices.health_poll_secs),
            heartbeat: Duration::from_secs(config.central.heartbeat_secs),
            metrics_listen: config.logging.metrics_listen.parse().ok(),
            database: config.store.data_dir.join("kiosk.db"),
            data_key: config.store.key_file(),
            retention: Duration::from_secs(config.store.retention_days.saturating_mul(24 * 3600)),
            end_of_day: Duration::from_secs(config.devices.payment_terminal.end_of_day_hours * 3600),
            // From half the longest interval on, the day closes when nobody is at the kiosk (a
            // service centre's kiosk is idle at night and between visitors).
            end_of_day_when_idle: Duration::from_secs(config.devices.payment_terminal.end_of_day_hours * 1800),
            renewal: config
                .central
                .identity_file
                .clone()
                .filter(|_| !config.central.url.is_empty())
                .map(|identity_file| crate::runtime::renewal::Renewal { identity_file, check_every: crate::runtime::renewal::CHECK_EVERY }),
            maintenance_socket: Some(config.store.data_dir.join(crate::runtime::maintenance::SOCKET)),
            supervision: crate::runtime::supervisor::Supervision::new(&config.store.data_dir),
        }
    }
}

/// Everything a kiosk runs with.
#[derive(Debug)]
pub struct Launch {
    pub settings: KioskSettings,
    pub devices: Devices,
    /// The simulators of the devices the configuration leaves simulated.
    pub simulators: Simulators,
    pub client: Option<CentralClient>,
    /// The in-process central of the demo.
    #[cfg(feature = "demo")]
    pub central: Option<balcao_central::LoopbackCentral>,
    pub data_dir: PathBuf,
}

fn client(url: &str, ca_pem: Vec<u8>, identity_pem: Vec<u8>, config: &KioskConfig) -> anyhow::Result<CentralClient> {
    let timeouts = Timeouts {
        connect: Duration::from_secs(config.central.connect_timeout_secs),
        request: Duration::from_secs(config.central.request_timeout_secs),
    };
    Ok(CentralClient::new(&ClientConfig { base_url: url.to_string(), ca_pem, identity_pem: Some(identity_pem), timeouts })?)
}

/// A kiosk as its configuration says.
pub fn from_config(config: &KioskConfig) -> anyhow::Result<Launch> {
    let data_dir = config.store.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating the data folder {}", data_dir.display()))?;
    let client = match (&config.central.ca_file, &config.central.identity_file) {
        (Some(ca_file), Some(identity_file)) if !config.central.url.is_empty() => {
            let ca = std::fs::read(ca_file).with_context(|| format!("reading central.ca_file {}", ca_file.display()))?;
            let identity =
                std::fs::read(identity_file).with_context(|| format!("reading central.identity_file {}", identity_file.display()))?;
            Some(client(&config.central.url, ca, identity, config)?)
        }
        _ => None,
    };
    let (devices, simulators) = devices_from_config(config, &data_dir)?;
    Ok(Launch {
        settings: KioskSettings::from_config(config),
        devices,
        simulators,
        client,
        #[cfg(feature = "demo")]
        central: None,
        data_dir,
    })
}

/// Each device as the configuration says: its real driver, or its simulator (whose printouts
/// go under `data_dir`). Only the simulators of simulated devices are started. A real driver's
/// worker makes it anew after a panic, from the same configuration.
fn devices_from_config(config: &KioskConfig, data_dir: &std::path::Path) -> anyhow::Result<(Devices, Simulators)> {
    use balcao_drivers::code_scanner::CodeScanner;
    use balcao_drivers::document_printer::DocumentPrinter;
    use balcao_drivers::identity_reader::IdentityReader;
    use balcao_drivers::payment_terminal::PaymentTerminal;
    use balcao_drivers::receipt_printer::ReceiptPrinter;
    use balcao_drivers::receipt_printer::escpos::{SerialConnector, TcpConnector, UsbConnector};
    let pace = SimulatorPace::REALISTIC;
    let mut simulators = Simulators::default();
    let receipt_printer: DeviceWorker<dyn ReceiptPrinter> =
        match config.devices.receipt_printer.link(std::path::Path::new("configuration"))? {
            Some(ReceiptPrinterLink::Tcp(address)) => {
                let connector = TcpConnector { address, connect_timeout: Duration::from_secs(2), write_timeout: Duration::from_secs(5) };
                DeviceWorker::restartable("receipt-printer", move || Ok(devices::escpos_printer(&connector)))?
            }
            Some(ReceiptPrinterLink::Serial { path, baud_rate }) => {
                let connector = SerialConnector { path: path.to_string_lossy().into_owned(), baud_rate };
                DeviceWorker::restartable("receipt-printer", move || Ok(devices::escpos_printer(&connector)))?
            }
            Some(ReceiptPrinterLink::Usb(device)) => {
                let connector = UsbConnector::new(device, Duration::from_secs(5));
                DeviceWorker::restartable("receipt-printer", move || Ok(devices::escpos_printer(&connector)))?
            }
            None => {
                let (driver, virtual_printer) = devices::simulated_receipt_printer(&data_dir.join("receipts"), pace)?;
                simulators.receipt_printer = Some(virtual_printer);
                DeviceWorker::spawn("receipt-printer", driver)?
            }
        };
    let a4 = &config.devices.document_printer;
    use balcao_drivers::document_printer::ipp::IppTimeouts;
    let document_printer: DeviceWorker<dyn DocumentPrinter> = match (a4.kind, &a4.uri) {
        (DocumentPrinterKind::Ipp, Some(uri)) => {
            use balcao_drivers::document_printer::ipp::IppDocumentPrinter;
            let (uri, timeouts) = (uri.clone(), IppTimeouts { job: Duration::from_secs(a4.job_timeout_secs), ..IppTimeouts::default() });
            DeviceWorker::with_limit("document-printer", timeouts.job + devices::DOCUMENT_MARGIN, move || {
                let driver: Box<dyn DocumentPrinter> = Box::new(IppDocumentPrinter::new(&uri, timeouts).map_err(std::io::Error::other)?);
                Ok(driver)
            })
            .context("devices.document_printer.uri")?
        }
        _ => {
            let (driver, virtual_printer) = devices::simulated_document_printer(&data_dir.join("documents"), pace)?;
            simulators.document_printer = Some(virtual_printer);
            DeviceWorker::spawn_with_limit("document-printer", IppTimeouts::default().job + devices::DOCUMENT_MARGIN, driver)?
        }
    };
    let scanner = &config.devices.code_scanner;
    let hid_pos = scanner.usb_device(std::path::Path::new("configuration"))?;
    let code_scanner: DeviceWorker<dyn CodeScanner> = match (scanner.kind, &scanner.serial, hid_pos) {
        (CodeScannerKind::Serial, Some(path), _) => {
            use balcao_drivers::code_scanner::serial::SerialScanner;
            let (path, baud_rate, framing) = (path.to_string_lossy().into_owned(), scanner.baud_rate, scanner.framing());
            DeviceWorker::restartable("code-scanner", move || {
                let driver: Box<dyn CodeScanner> =
                    Box::new(SerialScanner::new(path.as_str(), baud_rate, framing.clone()).map_err(std::io::Error::other)?);
                Ok(driver)
            })
            .context("devices.code_scanner")?
        }
        (CodeScannerKind::HidPos, _, Some(device)) => DeviceWorker::restartable("code-scanner", move || {
            let driver: Box<dyn CodeScanner> = Box::new(balcao_drivers::code_scanner::hid_pos::HidPosScanner::new(device.clone()));
            Ok(driver)
        })?,
        _ => {
            let (driver, virtual_scanner) = devices::simulated_code_scanner(pace)?;
            simulators.code_scanner = Some(virtual_scanner);
            DeviceWorker::spawn("code-scanner", driver)?
        }
    };
    let identity = &config.devices.identity_reader;
    let identity_reader: DeviceWorker<dyn IdentityReader> = match identity.kind {
        IdentityReaderKind::Pcsc => {
            use balcao_drivers::identity_reader::icao::pa::TrustList;
            use balcao_drivers::identity_reader::{emrtd::EmrtdReader, pcsc::PcscSlot};
            let trust = match &identity.csca_dir {
                Some(dir) => TrustList::load_dir(dir).context("devices.identity_reader.csca_dir")?,
                None => {
                    tracing::warn!("no devices.identity_reader.csca_dir: no document can read as verified");
                    TrustList::default()
                }
            };
            tracing::info!(cscas = trust.len(), "identity reader trust list loaded");
            let (filter, options) = (identity.reader.clone(), identity.read_options());
            DeviceWorker::restartable("identity-reader", move || {
                let driver: Box<dyn IdentityReader> =
                    Box::new(EmrtdReader::new(PcscSlot::new(filter.clone()), options).with_trust_list(trust.clone()));
                Ok(driver)
            })?
        }
        IdentityReaderKind::Simulated => {
            let (driver, control) = devices::simulated_identity_reader(pace);
            simulators.identity_reader = Some(control);
            DeviceWorker::spawn("identity-reader", driver)?
        }
    };
    let mrz_reader = match (&identity.ocr_serial, identity.kind) {
        (Some(port), _) => {
            let (port, baud_rate) = (port.to_string_lossy().into_owned(), identity.ocr_baud_rate);
            Some(DeviceWorker::restartable("mrz-reader", move || devices::serial_mrz_reader(&port, baud_rate))?)
        }
        (None, IdentityReaderKind::Simulated) => {
            let (driver, virtual_reader) = devices::simulated_mrz_reader(pace)?;
            simulators.ocr_reader = Some(virtual_reader);
            Some(DeviceWorker::spawn("mrz-reader", driver)?)
        }
        (None, IdentityReaderKind::Pcsc) => None,
    };
    let payment = &config.devices.payment_terminal;
    // A payment may take its whole limit, then an abort and its answer.
    let payment_limit = Duration::from_secs(payment.transaction_timeout_secs) + Duration::from_secs(120);
    let payment_terminal: DeviceWorker<dyn PaymentTerminal> = match (payment.kind, payment.zvt(std::path::Path::new("configuration"))?) {
        (PaymentTerminalKind::Zvt, Some(zvt)) => DeviceWorker::with_limit("payment-terminal", payment_limit, move || {
            let driver: Box<dyn PaymentTerminal> = Box::new(ZvtTerminal::new(zvt.clone()));
            Ok(driver)
        })?,
        (PaymentTerminalKind::VirtualZvt, _) => {
            use balcao_drivers::payment_terminal::zvt::{ecr::ZvtConfig, sim::VirtualZvtTerminal};
            let virtual_terminal = Arc::new(VirtualZvtTerminal::listen().context("starting the virtual ZVT terminal")?);
            let mut zvt = ZvtConfig::new(virtual_terminal.address());
            zvt.transaction_timeout = Duration::from_secs(payment.transaction_timeout_secs);
            simulators.zvt_terminal = Some(virtual_terminal);
            DeviceWorker::with_limit("payment-terminal", payment_limit, move || {
                let driver: Box<dyn PaymentTerminal> = Box::new(ZvtTerminal::new(zvt.clone()));
                Ok(driver)
            })?
        }
        _ => {
            let (driver, terminal) = devices::simulated_payment_terminal(pace);
            simulators.payment_terminal = Some(terminal);
            DeviceWorker::spawn_with_limit("payment-terminal", payment_limit, driver)?
        }
    };
    let devices = Devices { receipt_printer, document_printer, identity_reader, code_scanner, payment_terminal, mrz_reader };
    Ok((devices, simulators))
}

/// The demo: a reference central on loopback with its own CA, simulated devices at a
/// realistic pace, everything under `data_dir`.
#[cfg(feature = "demo")]
pub async fn demo(config: &KioskConfig, data_dir: &std::path::Path) -> anyhow::Result<Launch> {
    use balcao_central::{CentralOptions, LoopbackCentral};

    std::fs::create_dir_all(data_dir).with_context(|| format!("creating the demo folder {}", data_dir.display()))?;
    let central =
        LoopbackCentral::start(&CentralOptions::new(data_dir.join("central.db"))).await.context("starting the reference central")?;
    // Enrolment, as the demo does it: the reference central's CA signs this kiosk's identity.
    let identity = central.kiosk_identity(&config.kiosk.id, &config.kiosk.centre_id).context("issuing the demo kiosk's certificate")?;
    let client = client(&central.url, central.ca_pem.clone().into_bytes(), identity.into_bytes(), config)?;
    let mut config = config.clone();
    config.store.data_dir = data_dir.to_path_buf();
    // The receipts' QR opens the reference central's own status page, not an address outside
    // the demo.
    config.central.status_url = format!("{}/status/", central.url);
    let (devices, simulators) = Devices::simulated(data_dir, SimulatorPace::REALISTIC)?;
    // The fee is paid over ZVT, to a virtual terminal on loopback that takes a citizen's time
    // at each step and asks for the PIN.
    let (devices, zvt_terminal) = {
        use balcao_drivers::payment_terminal::zvt::{ecr::ZvtConfig, sim::VirtualZvtTerminal};
        let virtual_terminal = Arc::new(VirtualZvtTerminal::listen().context("starting the virtual ZVT terminal")?);
        virtual_terminal.control().set_pace(SimulatorPace::REALISTIC.terminal_step);
        virtual_terminal.control().set_usual(balcao_drivers::payment_terminal::zvt::sim::Script::ApproveWithPin);
        let driver = ZvtTerminal::new(ZvtConfig::new(virtual_terminal.address()));
        (devices.with_payment_terminal(Box::new(driver))?, virtual_terminal)
    };
    // A specimen identity card lies on the reader, for the services given only to their
    // holder (its details are in the README).
    simulators.identity_reader.place(Some(balcao_drivers::identity_reader::sim::specimen_identity_card()));
    // The demo's agency works fast: a certificate is ready to collect a minute after applying.
    let agency = central.central.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            let agency = agency.clone();
            match tokio::task::spawn_blocking(move || agency.issue_due_certificates(std::time::Duration::from_secs(60))).await {
                Ok(Ok(0)) => {}
                Ok(Ok(issued)) => tracing::info!(issued, "demo: certificates ready for pickup"),
                Ok(Err(e)) => tracing::warn!(error = %e, "demo: issuing certificates failed"),
                Err(_) => return,
            }
        }
    });
    // A console account for the demo: user `demo`, its password in a file only the owner reads.
    let password_file = data_dir.join("console-password.txt");
    if central.central.store().staff().context("reading the console's staff")?.is_empty() {
        let password = balcao_central::store::staff::random_token();
        central
            .central
            .store()
            .add_staff("demo", "Demo administrator", balcao_central::store::staff::Role::Administrator, &[], &password)
            .context("adding the demo's console account")?;
        write_owner_only(&password_file, &password).with_context(|| format!("writing {}", password_file.display()))?;
    }
    tracing::info!(
        central = %central.url,
        console = %format!("{}/console/", central.url),
        console_password = %password_file.display(),
        data = %data_dir.display(),
        receipts = %data_dir.join("receipts").display(),
        status_page = %config.central.status_url,
        "demo: reference central on loopback, simulated devices; log in to the console as `demo` (password in console_password) to watch the kiosk and see applications arrive; a minute after applying, collect the certificate with the receipt's number and document number"
    );
    let mut simulators: Simulators = simulators.into();
    simulators.zvt_terminal = Some(zvt_terminal);
    Ok(Launch {
        settings: KioskSettings::from_config(&config),
        devices,
        simulators,
        client: Some(client),
        central: Some(central),
        data_dir: data_dir.to_path_buf(),
    })
}

/// Writes `contents` to a new file only its owner can read.
#[cfg(feature = "demo")]
fn write_owner_only(file: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)?
        .write_all(format!("{contents}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CodeScannerKind, ReceiptPrinterKind};

    #[test]
    fn only_the_devices_the_configuration_leaves_simulated_get_a_simulator() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = KioskConfig::default();
        config.store.data_dir = dir.path().to_path_buf();
        config.devices.receipt_printer.kind = ReceiptPrinterKind::Escpos;
        config.devices.receipt_printer.tcp = Some("127.0.0.1:9".into());
        config.devices.code_scanner.kind = CodeScannerKind::Serial;
        config.devices.code_scanner.serial = Some(dir.path().join("ttyACM-not-plugged-in"));
        let launch = from_config(&config).expect("launches");
        assert!(launch.simulators.receipt_printer.is_none(), "a real receipt printer is configured");
        assert!(launch.simulators.code_scanner.is_none(), "a real scanner is configured");
        assert!(launch.simulators.document_printer.is_some(), "the A4 printer is left simulated");

        let everything_simulated = from_config(&KioskConfig { store: config.store.clone(), ..KioskConfig::default() }).expect("launches");
        assert!(everything_simulated.simulators.receipt_printer.is_some() && everything_simulated.simulators.code_scanner.is_some());
    }
}
