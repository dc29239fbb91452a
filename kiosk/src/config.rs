//! The kiosk's configuration: a TOML file whose every key has a documented default (see
//! `kiosk/kiosk.example.toml`). A wrong value is an error that names the file, the key and,
//! where it can, the line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}{}: `{key}`: {message}", path.display(), line.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid { path: PathBuf, key: String, line: Option<(usize, usize)>, message: String },
}

impl ConfigError {
    fn value(path: &Path, key: &str, message: impl Into<String>) -> Self {
        Self::Invalid { path: path.to_path_buf(), key: key.into(), line: None, message: message.into() }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KioskSection {
    /// This kiosk's id, printed in application numbers (letters, digits, `-`).
    pub id: String,
    /// The service centre the kiosk stands in.
    pub centre_id: String,
    /// Language a new session starts in: `zh-Hant`, `pt` or `en`.
    pub default_language: String,
    /// One letter or digit in this kiosk's queue ticket numbers (`A1-023`), different for
    /// every kiosk of the centre so two kiosks never print the same number.
    pub ticket_series: String,
}

impl Default for KioskSection {
    fn default() -> Self {
        Self { id: "K01".into(), centre_id: "GSC-01".into(), default_language: "zh-Hant".into(), ticket_series: "1".into() }
    }
}

impl KioskSection {
    /// The ticket series as a character (checked when the file is read).
    pub fn ticket_series(&self) -> char {
        self.ticket_series.chars().next().unwrap_or('1')
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CentralSection {
    /// Central's base URL (`https://…`). Empty: the kiosk runs without a central platform
    /// (everything is queued).
    pub url: String,
    /// PEM file of the CA that signs central's server certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM file of this kiosk's certificate and private key (from enrolment): the kiosk
    /// authenticates to central with it (mutual TLS); it names the kiosk id (common name) and
    /// the centre (organisational unit), which must be this configuration's.
    pub identity_file: Option<PathBuf>,
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    /// How often the catalog is checked for changes.
    pub catalog_poll_secs: u64,
    /// How often the kiosk tells central how it is (each beat jittered by ±20 %); staff's
    /// commands arrive with the answers, so this is also how soon they reach the kiosk.
    pub heartbeat_secs: u64,
    /// Base of the address printed as a QR on receipts; the application number is appended.
    pub status_url: String,
}

impl Default for CentralSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            identity_file: None,
            connect_timeout_secs: 5,
            request_timeout_secs: 15,
            catalog_poll_secs: 300,
            heartbeat_secs: 60,
            status_url: "https://www.gov.mo/balcao/status/".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSection {
    /// Seconds without a touch before the session is wiped.
    pub idle_timeout_secs: u64,
    /// Of those, the last seconds during which a countdown is shown.
    pub idle_warning_secs: u64,
    /// Seconds the "submitted" screen stays before the kiosk returns to its welcome screen.
    pub done_timeout_secs: u64,
}

impl Default for SessionSection {
    fn default() -> Self {
        Self { idle_timeout_secs: 90, idle_warning_secs: 20, done_timeout_secs: 45 }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// Folder for the kiosk's database and printouts of simulated printers.
    pub data_dir: PathBuf,
    /// The file with the key that seals personal data in the database; by default
    /// `<data_dir>/keys/data.key`. Put it where the database's backups do not go.
    pub key_file: Option<PathBuf>,
    /// Days a record stays on the kiosk after central acknowledged it (0: purge at once).
    pub retention_days: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("/var/lib/balcao"), key_file: None, retention_days: 7 }
    }
}

impl StoreSection {
    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("keys/data.key"))
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSection {
    /// Upper bound of the first retry's random delay, in milliseconds; it doubles per attempt.
    pub first_retry_ms: u64,
    /// The longest delay between two attempts, in seconds.
    pub max_retry_secs: u64,
}

impl Default for OutboxSection {
    fn default() -> Self {
        Self { first_retry_ms: 1000, max_retry_secs: 300 }
    }
}

/// Which driver the payment terminal uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentTerminalKind {
    /// A terminal simulated in process.
    #[default]
    Simulated,
    /// A virtual ZVT terminal on loopback, driven by the real ZVT driver: the bytes a real
    /// terminal exchanges.
    VirtualZvt,
    /// A ZVT terminal on the network (`address`) or on a serial line (`serial`).
    Zvt,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentTerminalSection {
    pub kind: PaymentTerminalKind,
    /// The ZVT terminal's `host:port` (port 20007 on most terminals).
    pub address: Option<String>,
    /// Or the serial port of a terminal on RS-232 or USB CDC, e.g. `/dev/ttyACM0`.
    pub serial: Option<PathBuf>,
    /// The serial line's speed (9600 unless the terminal is set faster).
    pub baud_rate: u32,
    /// The terminal's six-digit password (registration and end-of-day).
    pub password: u32,
    /// How long the citizen may take at the terminal before the kiosk gives up waiting.
    pub transaction_timeout_secs: u64,
    /// The longest the terminal goes without closing its day (1 to 24 hours). From half that
    /// on, it closes at the first moment nobody is at the kiosk; at the longest, paid services
    /// are held until it has closed.
    pub end_of_day_hours: u64,
}

impl Default for PaymentTerminalSection {
    fn default() -> Self {
        Self {
            kind: PaymentTerminalKind::default(),
            address: None,
            serial: None,
            baud_rate: 9600,
            password: 0,
            transaction_timeout_secs: 180,
            end_of_day_hours: 24,
        }
    }
}

impl PaymentTerminalSection {
    /// The ZVT driver's settings, for `kind = "zvt"`.
    pub fn zvt(&self, path: &Path) -> Result<Option<balcao_drivers::payment_terminal::zvt::ecr::ZvtConfig>, ConfigError> {
        use std::net::ToSocketAddrs as _;
        let key = |k: &str| format!("devices.payment_terminal.{k}");
        if self.password > 999_999 {
            return Err(ConfigError::value(path, &key("password"), "a terminal password has six digits"));
        }
        if !(1..=24).contains(&self.end_of_day_hours) {
            return Err(ConfigError::value(
                path,
                &key("end_of_day_hours"),
                format!("{} must be between 1 and 24: the terminal's host expects a close at least daily", self.end_of_day_hours),
            ));
        }
        if !(30..=600).contains(&self.transaction_timeout_secs) {
            return Err(ConfigError::value(
                path,
                &key("transaction_timeout_secs"),
                format!(
                    "{} must be between 30 and 600: time for the citizen to present a card and type the PIN",
                    self.transaction_timeout_secs
                ),
            ));
        }
        if !BAUD_RATES.contains(&self.baud_rate) {
            return Err(ConfigError::value(path, &key("baud_rate"), format!("{} is not one of {BAUD_RATES:?}", self.baud_rate)));
        }
        use balcao_drivers::payment_terminal::zvt::ecr::ZvtConfig;
        let mut config = match (self.kind, &self.address, &self.serial) {
            (PaymentTerminalKind::Zvt, None, None) => {
                return Err(ConfigError::value(
                    path,
                    &key("address"),
                    "is required for kind = \"zvt\" (host:port), unless the terminal is on `serial`",
                ));
            }
            (PaymentTerminalKind::Zvt, Some(_), Some(_)) => {
                return Err(ConfigError::value(path, &key("serial"), "a terminal is on the network (`address`) or on `serial`, not both"));
            }
            (PaymentTerminalKind::Zvt, Some(address), None) => {
                let resolved = address.to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(|| {
                    ConfigError::value(path, &key("address"), format!("{address:?} is not a host:port the kiosk can resolve"))
                })?;
                ZvtConfig::new(resolved)
            }
            (PaymentTerminalKind::Zvt, None, Some(serial)) => ZvtConfig::serial(serial, self.baud_rate),
            (_, Some(_), _) => {
                return Err(ConfigError::value(path, &key("kind"), "is not \"zvt\": `address` is only for a ZVT terminal"));
            }
            (_, _, Some(_)) => {
                return Err(ConfigError::value(path, &key("kind"), "is not \"zvt\": `serial` is only for a ZVT terminal"));
            }
            (_, None, None) => return Ok(None),
        };
        config.password = self.password;
        config.transaction_timeout = Duration::from_secs(self.transaction_timeout_secs);
        Ok(Some(config))
    }
}

/// Which driver the receipt printer uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptPrinterKind {
    /// A virtual ESC/POS printer on loopback, driven by the real driver.
    #[default]
    Simulated,
    /// An ESC/POS printer on the network (`tcp`), a serial / USB CDC port (`serial`) or USB
    /// with bulk endpoints (`usb`).
    Escpos,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptPrinterSection {
    pub kind: ReceiptPrinterKind,
    /// `address:port` of a network printer (raw TCP, usually port 9100).
    pub tcp: Option<String>,
    /// Device path of a serial or USB CDC printer, e.g. `/dev/ttyUSB0`.
    pub serial: Option<PathBuf>,
    /// A USB printer by vendor and product id, `VID:PID` in hex, optionally `/SERIAL`.
    pub usb: Option<String>,
    /// The serial line's speed; the printer's DIP switches or setup utility set the same.
    pub baud_rate: u32,
}

impl Default for ReceiptPrinterSection {
    fn default() -> Self {
        Self { kind: ReceiptPrinterKind::Simulated, tcp: None, serial: None, usb: None, baud_rate: 115_200 }
    }
}

/// Where an ESC/POS receipt printer is connected, as the configuration says.
#[derive(Clone, Debug, PartialEq)]
pub enum ReceiptPrinterLink {
    Tcp(std::net::SocketAddr),
    Serial { path: PathBuf, baud_rate: u32 },
    Usb(balcao_drivers::usb::UsbSelector),
}

/// Serial speeds printers offer.
const BAUD_RATES: [u32; 6] = [9600, 19_200, 38_400, 57_600, 115_200, 230_400];

impl ReceiptPrinterSection {
    /// The printer's link, checked: `None` for the simulated printer.
    pub fn link(&self, path: &Path) -> Result<Option<ReceiptPrinterLink>, ConfigError> {
        let key = |k: &str| format!("devices.receipt_printer.{k}");
        if !BAUD_RATES.contains(&self.baud_rate) {
            return Err(ConfigError::value(path, &key("baud_rate"), format!("{} is not one of {BAUD_RATES:?}", self.baud_rate)));
        }
        let tcp = self.tcp.as_ref().map(|tcp| {
            tcp.parse::<std::net::SocketAddr>().map(ReceiptPrinterLink::Tcp).map_err(|_| {
                ConfigError::value(path, &key("tcp"), format!("{tcp:?} must be an IP address and port, e.g. \"10.0.0.5:9100\""))
            })
        });
        let serial = self.serial.as_ref().map(|serial| Ok(ReceiptPrinterLink::Serial { path: serial.clone(), baud_rate: self.baud_rate }));
        let usb = self
            .usb
            .as_ref()
            .map(|usb| usb.parse().map(ReceiptPrinterLink::Usb).map_err(|e| ConfigError::value(path, &key("usb"), e.to_string())));
        let mut links: Vec<_> = [tcp, serial, usb].into_iter().flatten().collect::<Result<_, _>>()?;
        match (self.kind, links.len()) {
            (ReceiptPrinterKind::Simulated, 0) => Ok(None),
            (ReceiptPrinterKind::Simulated, _) => Err(ConfigError::value(
                path,
                &key("kind"),
                "is \"simulated\": set kind = \"escpos\" to use the printer at `tcp` / `serial` / `usb`",
            )),
            (ReceiptPrinterKind::Escpos, 0) => Err(ConfigError::value(
                path,
                &key("kind"),
                "\"escpos\" needs `tcp` (network printer), `serial` (serial or USB CDC port) or `usb` (USB printer)",
            )),
            (ReceiptPrinterKind::Escpos, 1) => Ok(links.pop()),
            (ReceiptPrinterKind::Escpos, _) => {
                Err(ConfigError::value(path, &key("kind"), "give one of `tcp`, `serial` or `usb`, not several"))
            }
        }
    }
}

/// Which driver the A4 printer uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentPrinterKind {
    /// A simulated printer in the kiosk process that spools to the data folder.
    #[default]
    Simulated,
    /// A CUPS queue or an IPP Everywhere printer at `uri`.
    Ipp,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentPrinterSection {
    pub kind: DocumentPrinterKind,
    /// `ipp://host:631/printers/queue` (CUPS) or `ipp://printer/ipp/print` (IPP Everywhere).
    pub uri: Option<String>,
    /// How long a certificate may take from submission to "completed" before the job is
    /// cancelled at the printer and the citizen told.
    pub job_timeout_secs: u64,
}

impl Default for DocumentPrinterSection {
    fn default() -> Self {
        Self { kind: DocumentPrinterKind::Simulated, uri: None, job_timeout_secs: 120 }
    }
}

impl DocumentPrinterSection {
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let key = |k: &str| format!("devices.document_printer.{k}");
        if !(10..=900).contains(&self.job_timeout_secs) {
            return Err(ConfigError::value(path, &key("job_timeout_secs"), format!("{} is not between 10 and 900", self.job_timeout_secs)));
        }
        match (self.kind, &self.uri) {
            (DocumentPrinterKind::Ipp, None) => {
                Err(ConfigError::value(path, &key("kind"), "\"ipp\" needs `uri`, e.g. \"ipp://127.0.0.1:631/printers/a4\""))
            }
            (DocumentPrinterKind::Ipp, Some(uri)) => {
                balcao_drivers::document_printer::ipp::IppDocumentPrinter::new(uri, Default::default())
                    .map(drop)
                    .map_err(|e| ConfigError::value(path, &key("uri"), e.message().to_owned()))
            }
            (DocumentPrinterKind::Simulated, Some(_)) => {
                Err(ConfigError::value(path, &key("kind"), "is \"simulated\": set kind = \"ipp\" to use the printer at `uri`"))
            }
            (DocumentPrinterKind::Simulated, None) => Ok(()),
        }
    }
}

/// Which driver the code scanner uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CodeScannerKind {
    /// A virtual scanner across a pty pair, read by the real serial driver.
    #[default]
    Simulated,
    /// An RS-232 scanner or a USB scanner in CDC-ACM mode at `serial`.
    Serial,
    /// A USB scanner in HID POS mode, by vendor and product id at `usb`.
    HidPos,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CodeScannerSection {
    pub kind: CodeScannerKind,
    /// e.g. `/dev/ttyACM0`; a udev rule can give the scanner a stable name.
    pub serial: Option<PathBuf>,
    /// A HID POS scanner by vendor and product id, `VID:PID` in hex, optionally `/SERIAL`.
    pub usb: Option<String>,
    pub baud_rate: u32,
    /// What the scanner is configured to send before and after each code (ASCII; TOML
    /// escapes such as "\r\n" work).
    pub prefix: String,
    pub suffix: String,
    /// Silence that ends a code (or, with a suffix, shows it was cut short).
    pub inter_byte_timeout_ms: u64,
}

impl Default for CodeScannerSection {
    fn default() -> Self {
        Self {
            kind: CodeScannerKind::Simulated,
            serial: None,
            usb: None,
            baud_rate: 9600,
            prefix: String::new(),
            suffix: "\r".into(),
            inter_byte_timeout_ms: 50,
        }
    }
}

impl CodeScannerSection {
    pub fn framing(&self) -> balcao_drivers::code_scanner::serial::Framing {
        balcao_drivers::code_scanner::serial::Framing {
            prefix: self.prefix.as_bytes().to_vec(),
            suffix: self.suffix.as_bytes().to_vec(),
            inter_byte_timeout: Duration::from_millis(self.inter_byte_timeout_ms),
        }
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let key = |k: &str| format!("devices.code_scanner.{k}");
        if !BAUD_RATES.contains(&self.baud_rate) {
            return Err(ConfigError::value(path, &key("baud_rate"), format!("{} is not one of {BAUD_RATES:?}", self.baud_rate)));
        }
        for (name, affix) in [("prefix", &self.prefix), ("suffix", &self.suffix)] {
            if !affix.is_ascii() {
                return Err(ConfigError::value(path, &key(name), format!("{affix:?} must be ASCII, as scanners send it")));
            }
        }
        let bounds = balcao_drivers::code_scanner::serial::Framing::INTER_BYTE_TIMEOUT;
        if !bounds.contains(&Duration::from_millis(self.inter_byte_timeout_ms)) {
            let (min, max) = (bounds.start().as_millis(), bounds.end().as_millis());
            return Err(ConfigError::value(
                path,
                &key("inter_byte_timeout_ms"),
                format!("{} is not between {min} and {max}", self.inter_byte_timeout_ms),
            ));
        }
        self.framing().check().map_err(|e| ConfigError::value(path, &key("prefix"), e))?;
        self.usb_device(path)?;
        match (self.kind, &self.serial, &self.usb) {
            (CodeScannerKind::Serial, None, _) => {
                Err(ConfigError::value(path, &key("kind"), "\"serial\" needs `serial`, e.g. \"/dev/ttyACM0\""))
            }
            (CodeScannerKind::HidPos, _, None) => {
                Err(ConfigError::value(path, &key("kind"), "\"hid-pos\" needs `usb`, the scanner's VID:PID, e.g. \"0c2e:0b61\""))
            }
            (CodeScannerKind::Serial, _, Some(_)) | (CodeScannerKind::HidPos, Some(_), _) => Err(ConfigError::value(
                path,
                &key("kind"),
                "give `serial` for a \"serial\" scanner or `usb` for a \"hid-pos\" one, not both",
            )),
            (CodeScannerKind::Simulated, Some(_), _) | (CodeScannerKind::Simulated, _, Some(_)) => Err(ConfigError::value(
                path,
                &key("kind"),
                "is \"simulated\": set kind = \"serial\" or \"hid-pos\" to use the scanner at `serial` / `usb`",
            )),
            _ => Ok(()),
        }
    }

    /// The HID POS scanner's USB device, checked.
    pub fn usb_device(&self, path: &Path) -> Result<Option<balcao_drivers::usb::UsbSelector>, ConfigError> {
        self.usb
            .as_ref()
            .map(|usb| {
                usb.parse()
                    .map_err(|e: balcao_drivers::usb::BadUsbSelector| ConfigError::value(path, "devices.code_scanner.usb", e.to_string()))
            })
            .transpose()
    }
}

/// Which driver the identity reader uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityReaderKind {
    /// A virtual chip read by the real ICAO 9303 reader, in process.
    #[default]
    Simulated,
    /// Chip documents on PC/SC readers (pcscd).
    Pcsc,
}

/// How strictly secure messaging is checked.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SecureMessaging {
    /// Every answer must carry its status word under the MAC, as real chips do.
    #[default]
    Strict,
    /// Answers without it are accepted: only for card emulators in a test lab.
    Lenient,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityReaderSection {
    pub kind: IdentityReaderKind,
    /// Only PC/SC readers whose name contains this are used (e.g. the model); all if empty.
    pub reader: String,
    pub secure_messaging: SecureMessaging,
    /// The country signing CA certificates (PEM or DER files) documents are verified against;
    /// without it no document reads as verified.
    pub csca_dir: Option<PathBuf>,
    /// An OCR reader of documents' machine-readable zones on this serial port (each line
    /// ended by CR), e.g. `/dev/ttyUSB1`: it reads the details that open the chip, so the
    /// citizen need not type them. Leave out if the kiosk has none.
    pub ocr_serial: Option<PathBuf>,
    pub ocr_baud_rate: u32,
}

impl Default for IdentityReaderSection {
    fn default() -> Self {
        Self {
            kind: IdentityReaderKind::default(),
            reader: String::new(),
            secure_messaging: SecureMessaging::default(),
            csca_dir: None,
            ocr_serial: None,
            ocr_baud_rate: 9600,
        }
    }
}

impl IdentityReaderSection {
    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let key = |k: &str| format!("devices.identity_reader.{k}");
        if self.kind == IdentityReaderKind::Simulated && (!self.reader.is_empty() || self.csca_dir.is_some() || self.ocr_serial.is_some()) {
            return Err(ConfigError::value(
                path,
                &key("kind"),
                "is \"simulated\" (its documents carry their own test country, and it has its own OCR reader): set kind = \"pcsc\" to use `reader`, `csca_dir` and `ocr_serial`",
            ));
        }
        if !BAUD_RATES.contains(&self.ocr_baud_rate) {
            return Err(ConfigError::value(path, &key("ocr_baud_rate"), format!("{} is not one of {BAUD_RATES:?}", self.ocr_baud_rate)));
        }
        if let Some(dir) = &self.csca_dir
            && !dir.is_dir()
        {
            return Err(ConfigError::value(path, &key("csca_dir"), format!("{} is not a folder", dir.display())));
        }
        if self.reader.chars().any(char::is_control) {
            return Err(ConfigError::value(path, &key("reader"), "a reader name has no control characters"));
        }
        Ok(())
    }

    pub fn read_options(&self) -> balcao_drivers::identity_reader::icao::chip::ReadOptions {
        use balcao_drivers::identity_reader::icao::sm::Strictness;
        balcao_drivers::identity_reader::icao::chip::ReadOptions {
            strictness: match self.secure_messaging {
                SecureMessaging::Strict => Strictness::Strict,
                SecureMessaging::Lenient => Strictness::Lenient,
            },
            face_image: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesSection {
    /// How often every device's status is read.
    pub health_poll_secs: u64,
    /// Where a trainer drives the simulated devices from (`kiosk-provision simulate`): a
    /// loopback address and port; "" (the default) serves nothing.
    pub training_listen: String,
    pub receipt_printer: ReceiptPrinterSection,
    pub document_printer: DocumentPrinterSection,
    pub identity_reader: IdentityReaderSection,
    pub code_scanner: CodeScannerSection,
    pub payment_terminal: PaymentTerminalSection,
}

impl Default for DevicesSection {
    fn default() -> Self {
        Self {
            health_poll_secs: 5,
            training_listen: String::new(),
            receipt_printer: ReceiptPrinterSection::default(),
            document_printer: DocumentPrinterSection::default(),
            identity_reader: IdentityReaderSection::default(),
            code_scanner: CodeScannerSection::default(),
            payment_terminal: PaymentTerminalSection::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DisplaySection {
    /// Full screen on the kiosk; a 1080×1920 window otherwise.
    pub fullscreen: bool,
    /// Scale of the UI; 0.5 fits the portrait screen on a desktop monitor.
    pub scale: f32,
}

impl Default for DisplaySection {
    fn default() -> Self {
        Self { fullscreen: true, scale: 1.0 }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSection {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a tracing filter such as
    /// `info,balcao_kiosk=debug`.
    pub level: String,
    /// One JSON object per line, for log collectors.
    pub json: bool,
    /// Where the kiosk's metrics are served for the site's monitoring (Prometheus format at
    /// `/metrics`): a loopback address and port; empty: not served.
    pub metrics_listen: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self { level: "info".into(), json: false, metrics_listen: "127.0.0.1:9464".into() }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KioskConfig {
    pub kiosk: KioskSection,
    pub central: CentralSection,
    pub session: SessionSection,
    pub store: StoreSection,
    pub outbox: OutboxSection,
    pub devices: DevicesSection,
    pub display: DisplaySection,
    pub logging: LoggingSection,
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl KioskConfig {
    /// Reads, parses and checks the file, including that the files it names can be read.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let config = Self::parse(&text, path)?;
        let read = |key: &str, file: &Path| {
            std::fs::read(file).map_err(|e| ConfigError::value(path, key, format!("cannot read {}: {e}", file.display())))
        };
        if let Some(file) = &config.central.ca_file {
            read("central.ca_file", file)?;
        }
        if let Some(file) = &config.central.identity_file {
            config.check_identity(path, file, &read("central.identity_file", file)?)?;
        }
        Ok(config)
    }

    /// The enrolment certificate must be this kiosk's, at this centre: central refuses
    /// everything a kiosk sends in another name, so a mismatch would strand every record.
    fn check_identity(&self, path: &Path, file: &Path, pem: &[u8]) -> Result<(), ConfigError> {
        let key = "central.identity_file";
        let (kiosk_id, centre_id) =
            balcao_backend_client::identity_names(pem).map_err(|e| ConfigError::value(path, key, format!("{}: {e}", file.display())))?;
        if kiosk_id != self.kiosk.id || centre_id != self.kiosk.centre_id {
            return Err(ConfigError::value(
                path,
                key,
                format!(
                    "{} is the certificate of kiosk {kiosk_id:?} at centre {centre_id:?}, but this is kiosk {:?} at centre {:?}",
                    file.display(),
                    self.kiosk.id,
                    self.kiosk.centre_id
                ),
            ));
        }
        Ok(())
    }

    /// Parses and checks a configuration; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |key: String, error: &toml::de::Error| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            line: error.span().map(|s| line_column(text, s.start)),
            message: error.message().trim().to_string(),
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid("(syntax)".into(), &e))?;
        let config: Self = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            invalid(if key == "." { "(top level)".into() } else { key }, e.inner())
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let id = &self.kiosk.id;
        if id.is_empty() || id.len() > 12 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::value(path, "kiosk.id", format!("{id:?} must be 1 to 12 letters, digits or '-'")));
        }
        let centre = &self.kiosk.centre_id;
        if centre.is_empty() || centre.len() > 32 || !centre.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::value(path, "kiosk.centre_id", format!("{centre:?} must be 1 to 32 letters, digits or '-'")));
        }
        if balcao_ui::view::Language::from_tag(&self.kiosk.default_language).is_none() {
            return Err(ConfigError::value(
                path,
                "kiosk.default_language",
                format!("{:?} is not one of \"zh-Hant\", \"pt\", \"en\"", self.kiosk.default_language),
            ));
        }
        let series = &self.kiosk.ticket_series;
        if series.chars().count() != 1 || !series.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return Err(ConfigError::value(
                path,
                "kiosk.ticket_series",
                format!("{series:?} must be one capital letter or digit, different for each kiosk of the centre"),
            ));
        }
        let central = &self.central;
        if !central.url.is_empty() {
            if !central.url.starts_with("https://") {
                return Err(ConfigError::value(path, "central.url", format!("{:?} must start with https://", central.url)));
            }
            if central.ca_file.is_none() {
                return Err(ConfigError::value(path, "central.ca_file", "is required when central.url is set"));
            }
            if central.identity_file.is_none() {
                return Err(ConfigError::value(
                    path,
                    "central.identity_file",
                    "is required when central.url is set (central only talks to enrolled kiosks)",
                ));
            }
        }
        for (key, value) in [
            ("central.connect_timeout_secs", central.connect_timeout_secs),
            ("central.request_timeout_secs", central.request_timeout_secs),
            ("central.catalog_poll_secs", central.catalog_poll_secs),
            ("central.heartbeat_secs", central.heartbeat_secs),
            ("session.idle_timeout_secs", self.session.idle_timeout_secs),
            ("session.done_timeout_secs", self.session.done_timeout_secs),
            ("outbox.first_retry_ms", self.outbox.first_retry_ms),
            ("outbox.max_retry_secs", self.outbox.max_retry_secs),
            ("devices.health_poll_secs", self.devices.health_poll_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::value(path, key, "must be greater than 0"));
            }
        }
        self.devices.receipt_printer.link(path)?;
        self.devices.document_printer.check(path)?;
        self.devices.code_scanner.check(path)?;
        self.devices.identity_reader.check(path)?;
        self.devices.payment_terminal.zvt(path)?;
        if self.session.idle_warning_secs >= self.session.idle_timeout_secs {
            return Err(ConfigError::value(
                path,
                "session.idle_warning_secs",
                format!(
                    "{} must be less than session.idle_timeout_secs ({})",
                    self.session.idle_warning_secs, self.session.idle_timeout_secs
                ),
            ));
        }
        if self.store.retention_days > 365 {
            return Err(ConfigError::value(
                path,
                "store.retention_days",
                format!("{} is more than 365: personal data must not stay on a kiosk that long", self.store.retention_days),
            ));
        }
        if !(0.25..=4.0).contains(&self.display.scale) {
            return Err(ConfigError::value(path, "display.scale", format!("{} must be between 0.25 and 4", self.display.scale)));
        }
        // tracing-subscriber panics on some filters with non-ASCII characters (it slices inside a
        // character; found by the `kiosk_config` fuzzer): a filter is ASCII, checked first.
        for (key, value, what) in [
            ("logging.metrics_listen", &self.logging.metrics_listen, "the metrics are"),
            ("devices.training_listen", &self.devices.training_listen, "the training controls are"),
        ] {
            loopback_or_empty(path, key, value, what)?;
        }
        if !self.logging.level.is_ascii() || tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return Err(ConfigError::value(path, "logging.level", format!("{:?} is not a log level or filter", self.logging.level)));
        }
        Ok(())
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.session.idle_timeout_secs)
    }

    pub fn idle_warning(&self) -> Duration {
        Duration::from_secs(self.session.idle_warning_secs)
    }
}

/// Entry point for fuzzing the configuration's reading: arbitrary bytes as a configuration file
/// a technician (or a corrupted disk) could leave, parsed and every derived setting asked for,
/// as the kiosk does at start. Must return (an error, mostly) without panicking. The libFuzzer
/// target in `tests/fuzz` calls it.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("kiosk.toml");
    let Ok(config) = KioskConfig::parse(&text, path) else { return };
    let _ = (config.kiosk.ticket_series(), config.store.key_file(), config.idle_timeout(), config.idle_warning());
    let _ = config.devices.payment_terminal.zvt(path);
    let _ = config.devices.receipt_printer.link(path);
    let _ = config.devices.code_scanner.usb_device(path);
    let _ = config.devices.code_scanner.framing().check();
    let _ = config.devices.identity_reader.read_options();
}

/// An address a kiosk serves something on for this machine only: empty (not served) or a
/// loopback address and port.
fn loopback_or_empty(path: &Path, key: &str, value: &str, what: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Ok(());
    }
    match value.parse::<std::net::SocketAddr>() {
        Ok(address) if address.ip().is_loopback() => Ok(()),
        Ok(address) => {
            Err(ConfigError::value(path, key, format!("{address} is not a loopback address: {what} for this machine (127.0.0.1 or [::1])")))
        }
        Err(_) => Err(ConfigError::value(
            path,
            key,
            format!("{value:?} is not an address and port such as \"127.0.0.1:9464\" (empty: not served)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KioskConfig, ConfigError> {
        KioskConfig::parse(text, Path::new("/etc/balcao/kiosk.toml"))
    }

    #[test]
    fn the_example_file_documents_exactly_the_defaults() {
        let example = include_str!("../kiosk.example.toml");
        assert_eq!(parse(example).expect("example parses"), KioskConfig::default());
    }

    #[test]
    fn a_log_filter_that_is_not_ascii_is_refused_not_a_panic() {
        // What the `kiosk_config` fuzzer found: tracing-subscriber slices this inside a character.
        let filter = "   t\u{FFFD}\u{FFFD}\u{FFFD}=============\u{FFFD}====================FFFFFFtatusatus_1}o\u{FFFD}\u{FFFD}il it nfo";
        let found = std::panic::catch_unwind(|| tracing_subscriber::EnvFilter::try_new(filter).map(drop));
        assert!(found.is_err(), "tracing-subscriber still panics on it (if it no longer does, the guard may go)");
        for (listen, says) in [("0.0.0.0:9464", "not a loopback address"), ("localhost", "not an address and port")] {
            let e = parse(&format!("[logging]\nmetrics_listen = {listen:?}\n")).expect_err("refused");
            assert!(e.to_string().contains("logging.metrics_listen") && e.to_string().contains(says), "{e}");
            let e = parse(&format!("[devices]\ntraining_listen = {listen:?}\n")).expect_err("refused");
            assert!(e.to_string().contains("devices.training_listen") && e.to_string().contains(says), "{e}");
        }
        let e = parse(&format!("[logging]\nlevel = {filter:?}\n")).expect_err("refused");
        assert!(e.to_string().contains("logging.level"), "{e}");
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(parse("").expect("empty"), KioskConfig::default());
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_line() {
        let cases = [
            ("[session]\nidle_timeout_secs = \"ninety\"\n", "/etc/balcao/kiosk.toml:2:21: `session.idle_timeout_secs`: invalid type"),
            ("[kiosk]\nid = \"K01\"\ncolour = \"blue\"\n", "/etc/balcao/kiosk.toml:3:1: `kiosk.colour`: unknown field"),
            ("[devices.receipt_printer]\nkind = \"laser\"\n", "`devices.receipt_printer.kind`: unknown variant `laser`"),
            ("[session]\nidle_timeout_secs = 30\nidle_warning_secs = 30\n", "`session.idle_warning_secs`: 30 must be less than"),
            ("[central]\nurl = \"http://central\"\n", "`central.url`: \"http://central\" must start with https://"),
            ("[central]\nurl = \"https://central\"\n", "`central.ca_file`: is required"),
            ("[central]\nurl = \"https://central\"\nca_file = \"ca.pem\"\n", "`central.identity_file`: is required"),
            ("[kiosk]\nid = \"kiosk one\"\n", "`kiosk.id`: \"kiosk one\" must be"),
            ("[kiosk]\ndefault_language = \"fr\"\n", "`kiosk.default_language`: \"fr\" is not one of"),
            ("[kiosk]\ncentre_id = \"GSC 01\"\n", "`kiosk.centre_id`: \"GSC 01\" must be 1 to 32"),
            ("[kiosk]\nticket_series = \"12\"\n", "`kiosk.ticket_series`: \"12\" must be one capital letter or digit"),
            ("[kiosk]\nticket_series = \"a\"\n", "`kiosk.ticket_series`: \"a\" must be one"),
            ("[kiosk]\nticket_series = \"\"\n", "`kiosk.ticket_series`: \"\" must be one"),
            ("[outbox]\nmax_retry_secs = 0\n", "`outbox.max_retry_secs`: must be greater than 0"),
            ("[store]\nretention_days = 400\n", "`store.retention_days`: 400 is more than 365"),
            ("[kiosk\n", "/etc/balcao/kiosk.toml:1:"),
            ("[devices.receipt_printer]\nkind = \"escpos\"\n", "`devices.receipt_printer.kind`: \"escpos\" needs `tcp`"),
            (
                "[devices.receipt_printer]\nkind = \"escpos\"\ntcp = \"printer:9100\"\n",
                "`devices.receipt_printer.tcp`: \"printer:9100\" must be an IP",
            ),
            (
                "[devices.receipt_printer]\nkind = \"escpos\"\ntcp = \"10.0.0.5:9100\"\nserial = \"/dev/ttyUSB0\"\n",
                "`devices.receipt_printer.kind`: give one of `tcp`, `serial` or `usb`, not several",
            ),
            (
                "[devices.receipt_printer]\nkind = \"escpos\"\nusb = \"04b8\"\n",
                "`devices.receipt_printer.usb`: \"04b8\" is not a USB device: write the vendor and product id in hex as VID:PID",
            ),
            ("[devices.receipt_printer]\nusb = \"04b8:0e28\"\n", "`devices.receipt_printer.kind`: is \"simulated\""),
            ("[devices.receipt_printer]\nserial = \"/dev/ttyUSB0\"\n", "`devices.receipt_printer.kind`: is \"simulated\""),
            ("[devices.document_printer]\nkind = \"ipp\"\n", "`devices.document_printer.kind`: \"ipp\" needs `uri`"),
            (
                "[devices.document_printer]\nkind = \"ipp\"\nuri = \"http://10.0.0.7/ipp/print\"\n",
                "`devices.document_printer.uri`: http://10.0.0.7/ipp/print is not an ipp://host/",
            ),
            ("[devices.document_printer]\nuri = \"ipp://10.0.0.7/ipp/print\"\n", "`devices.document_printer.kind`: is \"simulated\""),
            ("[devices.code_scanner]\nkind = \"serial\"\n", "`devices.code_scanner.kind`: \"serial\" needs `serial`"),
            ("[devices.code_scanner]\nkind = \"hid-pos\"\n", "`devices.code_scanner.kind`: \"hid-pos\" needs `usb`"),
            ("[devices.identity_reader]\nreader = \"ACS\"\n", "`devices.identity_reader.kind`: is \"simulated\""),
            ("[devices.identity_reader]\nocr_serial = \"/dev/ttyUSB1\"\n", "`devices.identity_reader.kind`: is \"simulated\""),
            (
                "[devices.identity_reader]\nkind = \"pcsc\"\nocr_baud_rate = 1234\n",
                "`devices.identity_reader.ocr_baud_rate`: 1234 is not one of",
            ),
            (
                "[devices.identity_reader]\nkind = \"pcsc\"\ncsca_dir = \"/nonexistent/csca\"\n",
                "`devices.identity_reader.csca_dir`: /nonexistent/csca is not a folder",
            ),
            ("[devices.identity_reader]\nkind = \"pcsc\"\nsecure_messaging = \"loose\"\n", "devices.identity_reader.secure_messaging"),
            (
                "[devices.code_scanner]\nkind = \"hid-pos\"\nusb = \"0c2e-0b61\"\n",
                "`devices.code_scanner.usb`: \"0c2e-0b61\" is not a USB device",
            ),
            (
                "[devices.code_scanner]\nkind = \"hid-pos\"\nusb = \"0c2e:0b61\"\nserial = \"/dev/ttyACM0\"\n",
                "`devices.code_scanner.kind`: give `serial` for a \"serial\" scanner or `usb` for a \"hid-pos\" one",
            ),
            ("[devices.code_scanner]\nusb = \"0c2e:0b61\"\n", "`devices.code_scanner.kind`: is \"simulated\""),
            (
                "[devices.code_scanner]\nsuffix = \"\\r\\n\\r\\n\\r\\n\\r\\n\\r\\n\"\n",
                "`devices.code_scanner.prefix`: prefix and suffix are at most 8",
            ),
            ("[devices.code_scanner]\nprefix = \"§\"\n", "`devices.code_scanner.prefix`: \"§\" must be ASCII"),
            ("[devices.code_scanner]\ninter_byte_timeout_ms = 0\n", "`devices.code_scanner.inter_byte_timeout_ms`: 0 is not between"),
            ("[devices.document_printer]\njob_timeout_secs = 0\n", "`devices.document_printer.job_timeout_secs`: 0 is not between"),
            (
                "[devices.receipt_printer]\nkind = \"escpos\"\nserial = \"/dev/ttyS0\"\nbaud_rate = 1200\n",
                "`devices.receipt_printer.baud_rate`: 1200 is not one of",
            ),
            ("[devices.payment_terminal]\nkind = \"zvt\"\n", "`devices.payment_terminal.address`: is required for kind = \"zvt\""),
            (
                "[devices.payment_terminal]\nkind = \"zvt\"\naddress = \"terminal\"\n",
                "`devices.payment_terminal.address`: \"terminal\" is not a host:port",
            ),
            ("[devices.payment_terminal]\naddress = \"10.0.0.20:20007\"\n", "`devices.payment_terminal.kind`: is not \"zvt\""),
            (
                "[devices.payment_terminal]\nkind = \"zvt\"\naddress = \"10.0.0.20:20007\"\nserial = \"/dev/ttyACM0\"\n",
                "`devices.payment_terminal.serial`: a terminal is on the network (`address`) or on `serial`, not both",
            ),
            (
                "[devices.payment_terminal]\nkind = \"zvt\"\nserial = \"/dev/ttyACM0\"\nbaud_rate = 9601000\n",
                "`devices.payment_terminal.baud_rate`: 9601000 is not one of",
            ),
            ("[devices.payment_terminal]\nserial = \"/dev/ttyACM0\"\n", "`devices.payment_terminal.kind`: is not \"zvt\": `serial`"),
            ("[devices.payment_terminal]\npassword = 1234567\n", "`devices.payment_terminal.password`: a terminal password has six digits"),
            (
                "[devices.payment_terminal]\nend_of_day_hours = 36\n",
                "`devices.payment_terminal.end_of_day_hours`: 36 must be between 1 and 24",
            ),
            (
                "[devices.payment_terminal]\ntransaction_timeout_secs = 5\n",
                "`devices.payment_terminal.transaction_timeout_secs`: 5 must be between 30 and 600",
            ),
            ("[devices.payment_terminal]\nkind = \"ingenico\"\n", "devices.payment_terminal.kind"),
        ];
        for (text, expected) in cases {
            let message = parse(text).expect_err(text).to_string();
            assert!(message.contains(expected), "{text:?} gave {message:?}, expected {expected:?}");
            assert!(message.starts_with("/etc/balcao/kiosk.toml"), "{message}");
        }
    }

    #[test]
    fn the_enrolment_certificate_must_name_this_kiosk_and_centre() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = balcao_central::tls::DevPki::generate().expect("pki");
        std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("ca");
        let load = |kiosk: &str, centre: &str| {
            std::fs::write(dir.path().join("id.pem"), pki.issue_kiosk(kiosk, centre).expect("identity")).expect("identity");
            let file = dir.path().join("kiosk.toml");
            let text = format!(
                "[kiosk]\nid = \"K01\"\ncentre_id = \"GSC-01\"\n[central]\nurl = \"https://central\"\nca_file = {:?}\nidentity_file = {:?}\n",
                dir.path().join("ca.pem"),
                dir.path().join("id.pem")
            );
            std::fs::write(&file, text).expect("config");
            KioskConfig::load(&file)
        };
        assert!(load("K01", "GSC-01").is_ok());
        let message = load("K02", "GSC-01").expect_err("another kiosk's").to_string();
        assert!(message.contains("`central.identity_file`") && message.contains("kiosk \"K02\" at centre \"GSC-01\""), "{message}");
        let message = load("K01", "GSC-02").expect_err("another centre's").to_string();
        assert!(message.contains("centre \"GSC-02\", but this is kiosk \"K01\" at centre \"GSC-01\""), "{message}");
        std::fs::write(dir.path().join("id.pem"), "not a certificate").expect("garbage");
        let file = dir.path().join("kiosk.toml");
        let message = KioskConfig::load(&file).expect_err("garbage").to_string();
        assert!(message.contains("no certificate in the kiosk identity"), "{message}");
    }

    #[test]
    fn a_zvt_terminal_is_on_the_network_or_on_a_serial_line() {
        use balcao_drivers::payment_terminal::zvt::ecr::ZvtLink;
        let link = |text: &str| {
            let config = parse(text).expect("parses");
            config.devices.payment_terminal.zvt(Path::new("kiosk.toml")).expect("checked").map(|zvt| zvt.link)
        };
        assert_eq!(link(""), None, "the simulated terminal needs no link");
        assert_eq!(
            link("[devices.payment_terminal]\nkind = \"zvt\"\naddress = \"127.0.0.1:20007\"\n"),
            Some(ZvtLink::Tcp(([127, 0, 0, 1], 20007).into()))
        );
        assert_eq!(
            link("[devices.payment_terminal]\nkind = \"zvt\"\nserial = \"/dev/ttyACM0\"\nbaud_rate = 115200\n"),
            Some(ZvtLink::Serial { path: "/dev/ttyACM0".into(), baud_rate: 115_200 })
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let message = KioskConfig::load(Path::new("/nonexistent/kiosk.toml")).expect_err("missing").to_string();
        assert!(message.contains("/nonexistent/kiosk.toml"), "{message}");
    }
}
