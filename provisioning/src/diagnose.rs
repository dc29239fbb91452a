//! `kiosk-provision diagnose`: is this kiosk ready to serve? Every check says ok, a warning, or
//! a failure with what to do: the configuration, the disk, the database and its outbox, central
//! over mutual TLS (the certificate's expiry, the clocks' difference), and each device as the
//! running kiosk itself sees it (its survey, read from its metrics on loopback — so simulated
//! and real devices are judged alike, and a device is never opened twice); then each device's
//! active test, made by the running kiosk on the technician's request (a test receipt, an A4
//! test page, the scanner reading the receipt's code, a card on the reader, the terminal's
//! diagnosis); the fonts and the screen.

use std::path::Path;

use balcao_backend_client::api::DeviceCondition;
use balcao_backend_client::{CentralClient, ClientConfig, Timeouts, identity_validity};
use balcao_kiosk::config::KioskConfig;

/// How a check came out, and one check: the API's own types, since the report goes to central
/// as it is.
pub use balcao_backend_client::api::{CheckVerdict as Verdict, DiagnosisCheck as Check};

fn check(name: &str, verdict: Verdict, detail: impl Into<String>, remedy: Option<&str>) -> Check {
    Check { name: name.into(), verdict, detail: detail.into(), remedy: remedy.map(str::to_owned) }
}

/// The readiness report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub kiosk_id: String,
    pub centre_id: String,
    pub at: String,
    pub ready: bool,
    pub checks: Vec<Check>,
    /// Where the report was kept.
    pub saved_to: Option<String>,
    /// Whether central has it (for the kiosk's console page), and if not, why.
    pub sent_to_central: bool,
    pub not_sent: Option<String>,
    /// Whether it was printed on the receipt printer (with `--print`), and if not, why.
    pub printed: bool,
    pub not_printed: Option<String>,
}

impl Report {
    /// What central keeps of the report.
    pub fn diagnosis(&self) -> Result<balcao_backend_client::api::Diagnosis, String> {
        Ok(balcao_backend_client::api::Diagnosis {
            kiosk_id: self.kiosk_id.clone(),
            centre_id: self.centre_id.clone(),
            at: self.at.parse().map_err(|e| format!("the report's time: {e}"))?,
            ready: self.ready,
            checks: self
                .checks
                .iter()
                .take(balcao_backend_client::api::MAX_CHECKS)
                .map(|c| {
                    let clip =
                        |text: &str| text.chars().filter(|c| !c.is_control()).take(balcao_backend_client::api::MAX_CHECK_TEXT).collect();
                    Check { name: c.name.clone(), verdict: c.verdict, detail: clip(&c.detail), remedy: c.remedy.as_deref().map(clip) }
                })
                .collect(),
        })
    }

    /// The report as lines of a receipt.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("Kiosk {} ({})", self.kiosk_id, self.centre_id), self.at.clone()];
        lines.push(if self.ready { "READY".into() } else { "NOT READY".into() });
        for c in &self.checks {
            lines.push(format!("{} {}: {}", mark(c.verdict), c.name, c.detail));
            if let Some(remedy) = &c.remedy {
                lines.push(format!("  -> {remedy}"));
            }
        }
        lines
    }
}

fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok  ",
        Verdict::Warning => "warn",
        Verdict::Failed => "FAIL",
    }
}

/// The report for a person; `{:#}` colours the verdicts (for a terminal).
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let colour = f.alternate();
        let paint = |text: &str, code: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
        let said = if self.ready { paint("READY", "1;32") } else { paint("NOT READY", "1;31") };
        writeln!(f, "kiosk {} at centre {}: {said} ({})", self.kiosk_id, self.centre_id, self.at)?;
        for c in &self.checks {
            let code = match c.verdict {
                Verdict::Ok => "32",
                Verdict::Warning => "33",
                Verdict::Failed => "1;31",
            };
            write!(f, "  {} {}: {}", paint(mark(c.verdict), code), c.name, c.detail)?;
            if let Some(remedy) = &c.remedy {
                write!(f, "\n         → {remedy}")?;
            }
            writeln!(f)?;
        }
        if let Some(file) = &self.saved_to {
            writeln!(f, "report kept in {file}")?;
        }
        match &self.not_sent {
            None if self.sent_to_central => writeln!(f, "report sent to central (the kiosk's console page)")?,
            None => {}
            Some(why) => writeln!(f, "report not sent to central: {why}")?,
        }
        if self.printed {
            writeln!(f, "report printed on the receipt printer")?;
        }
        if let Some(why) = &self.not_printed {
            writeln!(f, "report not printed: {why}")?;
        }
        Ok(())
    }
}

const MIB: u64 = 1 << 20;

fn disk(data_dir: &Path) -> Check {
    let at = if data_dir.exists() { data_dir } else { data_dir.parent().unwrap_or(Path::new("/")) };
    match rustix::fs::statvfs(at) {
        Ok(stats) => {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            let detail = format!("{} MiB free at {}", free / MIB, at.display());
            match free {
                f if f < 256 * MIB => check(
                    "disk",
                    Verdict::Failed,
                    detail,
                    Some("free disk space: the kiosk stops taking applications when it cannot write"),
                ),
                f if f < 2048 * MIB => check("disk", Verdict::Warning, detail, Some("free disk space soon")),
                _ => check("disk", Verdict::Ok, detail, None),
            }
        }
        Err(e) => check("disk", Verdict::Failed, format!("cannot measure {}: {e}", at.display()), Some("check the data folder exists")),
    }
}

fn database(config: &KioskConfig) -> Check {
    let file = config.store.data_dir.join("kiosk.db");
    if !file.exists() {
        return check(
            "database",
            Verdict::Warning,
            format!("{} does not exist yet", file.display()),
            Some("start the kiosk once: it makes its database"),
        );
    }
    // Read only: the kiosk may be running, and its database is its own.
    match balcao_kiosk::store::Store::inspect(&file) {
        Ok(counts) if counts.dead > 0 => check(
            "database",
            Verdict::Warning,
            format!("intact; {} records waiting, {} refused by central", counts.pending, counts.dead),
            Some("the refused records are on the kiosk's console page: have central's staff look at them"),
        ),
        Ok(counts) => check("database", Verdict::Ok, format!("intact; {} records waiting for central", counts.pending), None),
        Err(e) => check(
            "database",
            Verdict::Failed,
            e.to_string(),
            Some("restore the kiosk's database from its last good copy, or decommission and enroll it again"),
        ),
    }
}

async fn central(config: &KioskConfig, link: Option<&Result<Link, String>>) -> Vec<Check> {
    let link = match link {
        None => {
            return vec![check(
                "central",
                Verdict::Warning,
                "no central configured: applications stay queued",
                Some("kiosk-provision enroll"),
            )];
        }
        Some(Err(e)) => return vec![check("central", Verdict::Failed, e.clone(), Some("kiosk-provision enroll"))],
        Some(Ok(link)) => link,
    };
    let mut checks = Vec::new();
    let now = jiff::Timestamp::now();
    match identity_validity(&link.identity) {
        Ok((_, until)) if until <= now => {
            checks.push(check(
                "certificate",
                Verdict::Failed,
                format!("expired at {until}"),
                Some("kiosk-provision enroll with a new token"),
            ));
        }
        Ok((_, until)) if until - jiff::SignedDuration::from_hours(30 * 24) <= now => checks.push(check(
            "certificate",
            Verdict::Warning,
            format!("expires at {until}"),
            Some("the kiosk renews it while it runs and reaches central: check it does"),
        )),
        Ok((_, until)) => checks.push(check("certificate", Verdict::Ok, format!("valid until {until}"), None)),
        Err(e) => checks.push(check("certificate", Verdict::Failed, e.to_string(), Some("kiosk-provision enroll"))),
    }
    let clock = match &link.client {
        Ok(client) => client.clock().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    match clock {
        Ok(theirs) => {
            checks.push(check("central", Verdict::Ok, format!("{} answers over mutual TLS", config.central.url), None));
            let skew = (theirs.as_second() - jiff::Timestamp::now().as_second()).abs();
            let detail = format!("{skew} s from central's");
            checks.push(match skew {
                s if s > 300 => check(
                    "clock",
                    Verdict::Failed,
                    detail,
                    Some("set the kiosk's clock (timedatectl set-ntp true): records would be refused as dated wrongly"),
                ),
                s if s > 30 => check("clock", Verdict::Warning, detail, Some("enable time synchronisation (timedatectl set-ntp true)")),
                _ => check("clock", Verdict::Ok, detail, None),
            });
        }
        Err(e) => checks.push(check(
            "central",
            Verdict::Failed,
            e,
            Some("check the network to central, and that the kiosk is enrolled (kiosk-provision enroll)"),
        )),
    }
    checks
}

/// The kiosk's link to central as its configuration names it, its files read once for every
/// check that needs them: its certificate (PEM), and a client with it.
struct Link {
    identity: Vec<u8>,
    client: Result<CentralClient, String>,
}

/// `None` when the configuration names no central; an error when its files cannot be read.
fn link_of(config: &KioskConfig) -> Option<Result<Link, String>> {
    let (Some(ca_file), Some(identity_file)) = (&config.central.ca_file, &config.central.identity_file) else { return None };
    let read = |file: &Path| std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()));
    Some(read(ca_file).and_then(|ca| {
        let identity = read(identity_file)?;
        let client = CentralClient::new(&ClientConfig {
            base_url: config.central.url.clone(),
            ca_pem: ca,
            identity_pem: Some(identity.clone()),
            timeouts: Timeouts::default(),
        })
        .map_err(|e| e.to_string());
        Ok(Link { identity, client })
    }))
}

/// Hands the report to central.
async fn send(link: Option<&Result<Link, String>>, report: &Report) -> Result<(), String> {
    let client = match link {
        None => return Err("no central configured".into()),
        Some(Err(e)) => return Err(e.clone()),
        Some(Ok(link)) => link.client.as_ref().map_err(Clone::clone)?,
    };
    client.send_diagnosis(&report.diagnosis()?).await.map_err(|e| balcao_kiosk::runtime::error_chain(&e))
}

/// What to do about a device in `condition`.
fn remedy(condition: DeviceCondition) -> Option<&'static str> {
    match condition {
        DeviceCondition::Ok | DeviceCondition::NotFitted => None,
        DeviceCondition::PaperNearEnd => Some("load paper soon"),
        DeviceCondition::PaperOut => Some("load paper"),
        DeviceCondition::CoverOpen => Some("close the cover"),
        DeviceCondition::Offline => Some("check its power and cable (or network), then kiosk-provision devices"),
        DeviceCondition::Fault => Some("see the kiosk's log for the fault; power-cycle the device"),
    }
}

/// Each device as the running kiosk's survey sees it, from its metrics at `address`. The
/// exposition's device lines (`balcao_kiosk_device_condition{device="…",condition="…"} 1`) are
/// read here by hand: two labels from a format the kiosk itself writes.
async fn devices(address: &str) -> Vec<Check> {
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth());
    let http = tls
        .ok()
        .and_then(|tls| reqwest::Client::builder().tls_backend_preconfigured(tls).timeout(std::time::Duration::from_secs(10)).build().ok());
    let text = match http {
        Some(http) => match http.get(format!("http://{address}/metrics")).send().await {
            Ok(response) if response.status().is_success() => response.text().await.unwrap_or_default(),
            Ok(response) => format!("status {}", response.status()),
            Err(e) => format!("no answer: {}", balcao_kiosk::runtime::error_chain(&e)),
        },
        None => "no HTTP client".into(),
    };
    let mut checks = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("balcao_kiosk_device_condition{")) {
        let label = |name: &str| line.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned);
        let (Some(device), Some(condition)) = (label("device"), label("condition")) else { continue };
        if !line.trim_end().ends_with(" 1") {
            continue;
        }
        let Ok(parsed) = serde_json::from_value::<DeviceCondition>(serde_json::Value::String(condition.clone())) else { continue };
        let verdict = match parsed {
            DeviceCondition::Ok | DeviceCondition::NotFitted => Verdict::Ok,
            DeviceCondition::PaperNearEnd => Verdict::Warning,
            _ => Verdict::Failed,
        };
        checks.push(check(&device, verdict, condition, remedy(parsed)));
    }
    if checks.is_empty() {
        checks.push(check(
            "devices",
            Verdict::Failed,
            format!("the running kiosk's survey could not be read at {address} ({})", text.lines().next().unwrap_or_default()),
            Some("start the kiosk (with logging.metrics_listen and a central) to check its devices"),
        ));
    }
    checks
}

/// What `diagnose` tries beyond looking.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Asks the running kiosk to test its devices (prints a test receipt and an A4 page).
    pub device_tests: bool,
    /// How long the kiosk waits for a card laid on the reader; 0 leaves that test out.
    pub card_wait_secs: u16,
    /// How long it waits for the test receipt's code held under the scanner; 0: left out.
    pub scan_wait_secs: u16,
    /// Hands the report to central, for the kiosk's console page.
    pub send: bool,
    /// Prints the report on the kiosk's receipt printer.
    pub print: bool,
}

/// The fonts the kiosk draws with carry each of its three languages.
fn fonts() -> Check {
    let samples = [("zh-Hant", "請選擇服務 證明書"), ("pt", "Certidão, Emissão, Informações"), ("en", "Certificate of record")];
    let fonts = match balcao_drivers::receipt_printer::raster::ReceiptFonts::system() {
        Ok(fonts) => fonts,
        Err(e) => return check("fonts", Verdict::Failed, e.to_string(), Some("install fonts-noto-cjk (apt install fonts-noto-cjk)")),
    };
    let mut missing = Vec::new();
    let mut face = String::new();
    for (language, sample) in samples {
        match fonts.covers(sample) {
            Ok((name, true)) => face = name,
            Ok((_, false)) => missing.push(language),
            Err(e) => return check("fonts", Verdict::Failed, e.to_string(), Some("reinstall fonts-noto-cjk")),
        }
    }
    match missing.as_slice() {
        [] => check("fonts", Verdict::Ok, format!("{face} draws zh-Hant, pt and en"), None),
        missing => check(
            "fonts",
            Verdict::Failed,
            format!("no installed font draws {}", missing.join(", ")),
            Some("install fonts-noto-cjk (apt install fonts-noto-cjk)"),
        ),
    }
}

/// The screens the kernel sees connected, with their preferred mode (`/sys/class/drm`).
fn display(drm: &Path) -> Check {
    let mut connected = Vec::new();
    for entry in std::fs::read_dir(drm).into_iter().flatten().flatten() {
        let path = entry.path();
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        if status.trim() != "connected" {
            continue;
        }
        let mode = std::fs::read_to_string(path.join("modes")).unwrap_or_default().lines().next().unwrap_or("no mode").to_string();
        connected.push(format!("{} {mode}", entry.file_name().to_string_lossy()));
    }
    connected.sort();
    match connected.as_slice() {
        [] => check(
            "display",
            Verdict::Warning,
            format!("no connected screen found in {}", drm.display()),
            Some("connect the kiosk's screen and check its cable; a machine without one can only run the kiosk under X or Wayland"),
        ),
        screens => check("display", Verdict::Ok, screens.join("; "), None),
    }
}

/// The running kiosk's own tests of its devices, through its maintenance socket.
async fn device_tests(config: &KioskConfig, options: &Options) -> Vec<Check> {
    use balcao_kiosk::runtime::maintenance::{Answer, Request, SOCKET, ask};
    let socket = config.store.data_dir.join(SOCKET);
    let request = Request::SelfTest { card_wait_secs: options.card_wait_secs, scan_wait_secs: options.scan_wait_secs };
    // The terminal's diagnosis may take a minute and a half; the waits come on top.
    let wait = std::time::Duration::from_secs(150 + u64::from(options.card_wait_secs) + u64::from(options.scan_wait_secs));
    match ask(&socket, &request, wait).await {
        Ok(Answer::Tested { tests }) => tests
            .into_iter()
            .map(|test| {
                let name = serde_json::to_value(test.device).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                let verdict = match test.passed {
                    Some(true) => Verdict::Ok,
                    Some(false) => Verdict::Failed,
                    None => Verdict::Warning,
                };
                Check { name, verdict, detail: test.detail, remedy: test.remedy }
            })
            .collect(),
        Ok(Answer::Refused { reason }) => vec![check("device-tests", Verdict::Failed, reason, Some("run diagnose again in a moment"))],
        Ok(Answer::Printed) => vec![check("device-tests", Verdict::Failed, "the kiosk answered something else", None)],
        Err(e) => vec![check(
            "device-tests",
            Verdict::Failed,
            e,
            Some("start the kiosk (systemctl start balcao-kiosk) and run diagnose as its user or root; --no-device-tests only looks"),
        )],
    }
}

/// Adds a device's test to what its survey said: one line per device, as bad as the worse of
/// the two, with the survey's remedy first (it names the cause the test ran into).
fn merge(checks: &mut Vec<Check>, test: Check) {
    let Some(seen) = checks.iter_mut().find(|c| c.name == test.name) else {
        checks.push(test);
        return;
    };
    let rank = |verdict: Verdict| match verdict {
        Verdict::Ok => 0,
        Verdict::Warning => 1,
        Verdict::Failed => 2,
    };
    seen.detail = format!("{}; {}", seen.detail, test.detail);
    if rank(test.verdict) > rank(seen.verdict) {
        seen.verdict = test.verdict;
    }
    if seen.remedy.is_none() {
        seen.remedy = test.remedy;
    }
}

/// Runs every check for the kiosk the configuration describes.
pub async fn diagnose(config_file: &Path, options: &Options) -> Result<Report, String> {
    let config = KioskConfig::load(config_file).map_err(|e| e.to_string())?;
    let mut checks = vec![check("configuration", Verdict::Ok, format!("{} checks", config_file.display()), None)];
    checks.push(disk(&config.store.data_dir));
    let for_database = config.clone();
    checks.push(tokio::task::spawn_blocking(move || database(&for_database)).await.map_err(|e| e.to_string())?);
    let link = link_of(&config);
    checks.extend(central(&config, link.as_ref()).await);
    match config.logging.metrics_listen.as_str() {
        "" => checks.push(check(
            "devices",
            Verdict::Warning,
            "not checked: logging.metrics_listen is off",
            Some("set logging.metrics_listen to read the kiosk's survey"),
        )),
        address => checks.extend(devices(address).await),
    }
    if options.device_tests {
        for test in device_tests(&config, options).await {
            merge(&mut checks, test);
        }
    }
    checks.push(tokio::task::spawn_blocking(fonts).await.map_err(|e| e.to_string())?);
    checks.push(display(Path::new("/sys/class/drm")));
    let ready = checks.iter().all(|c| c.verdict != Verdict::Failed);
    let mut report = Report {
        kiosk_id: config.kiosk.id.clone(),
        centre_id: config.kiosk.centre_id.clone(),
        at: jiff::Timestamp::now().to_string(),
        ready,
        checks,
        saved_to: None,
        sent_to_central: false,
        not_sent: None,
        printed: false,
        not_printed: None,
    };
    if options.send {
        match send(link.as_ref(), &report).await {
            Ok(()) => report.sent_to_central = true,
            Err(why) => report.not_sent = Some(why),
        }
    }
    if options.print {
        use balcao_kiosk::runtime::maintenance::{Answer, Request, SOCKET, ask};
        let request = Request::PrintReport { title: "Balcao readiness report".into(), lines: report.lines() };
        let socket = config.store.data_dir.join(SOCKET);
        match ask(&socket, &request, std::time::Duration::from_secs(60)).await {
            Ok(Answer::Printed) => report.printed = true,
            Ok(Answer::Refused { reason }) => report.not_printed = Some(reason),
            Ok(_) => report.not_printed = Some("the kiosk answered something else".into()),
            Err(e) => report.not_printed = Some(e),
        }
    }
    // Kept beside the kiosk's data, for the technician's records and the next visit.
    let file = config.store.data_dir.join(REPORT_FILE);
    if config.store.data_dir.is_dir() {
        match serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| balcao_kiosk::identity::write_private(&file, &json).map_err(|e| e.to_string()))
        {
            Ok(()) => report.saved_to = Some(file.display().to_string()),
            Err(e) => eprintln!("kiosk-provision: the report could not be kept in {}: {e}", file.display()),
        }
    }
    Ok(report)
}

/// The last report's file in the kiosk's data folder.
pub const REPORT_FILE: &str = "diagnose-report.json";

#[cfg(test)]
mod tests {
    use super::*;

    fn report(checks: Vec<Check>) -> Report {
        Report {
            kiosk_id: "K01".into(),
            centre_id: "GSC-01".into(),
            at: "2026-12-07T03:00:00Z".into(),
            ready: checks.iter().all(|c| c.verdict != Verdict::Failed),
            checks,
            saved_to: None,
            sent_to_central: false,
            not_sent: Some("no central configured".into()),
            printed: false,
            not_printed: None,
        }
    }

    #[test]
    fn a_devices_test_joins_its_survey_line_as_the_worse_of_the_two_keeping_the_surveys_remedy() {
        let mut checks = vec![check("receipt-printer", Verdict::Failed, "paper-out", Some("load paper"))];
        merge(&mut checks, check("receipt-printer", Verdict::Failed, "no test receipt: out of paper", Some("load paper, close the cover")));
        merge(&mut checks, check("code-scanner", Verdict::Warning, "not tried", None));
        assert_eq!(checks.len(), 2);
        assert_eq!((checks[0].verdict, checks[0].remedy.as_deref()), (Verdict::Failed, Some("load paper")));
        assert_eq!(checks[0].detail, "paper-out; no test receipt: out of paper");
        let mut ok = vec![check("code-scanner", Verdict::Ok, "ok", None)];
        merge(&mut ok, check("code-scanner", Verdict::Failed, "not read within 60 s", Some("hold the code under it")));
        assert_eq!((ok[0].verdict, ok[0].remedy.as_deref()), (Verdict::Failed, Some("hold the code under it")));
    }

    #[test]
    fn the_report_is_coloured_for_a_terminal_only_and_fits_a_receipt_and_centrals_limits() {
        let long = "x".repeat(2000);
        let r =
            report(vec![check("disk", Verdict::Ok, "5000 MiB free", None), check("fonts", Verdict::Failed, &long, Some("install fonts"))]);
        let plain = r.to_string();
        assert!(plain.contains("NOT READY") && plain.contains("FAIL fonts") && !plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("report not sent to central: no central configured"));
        let coloured = format!("{r:#}");
        assert!(coloured.contains("\x1b[1;31mNOT READY\x1b[0m") && coloured.contains("\x1b[32mok  \x1b[0m disk"), "{coloured}");
        let diagnosis = r.diagnosis().expect("for central");
        assert!(diagnosis.problems().is_empty(), "{:?}", diagnosis.problems());
        assert_eq!(diagnosis.checks[1].detail.chars().count(), balcao_backend_client::api::MAX_CHECK_TEXT, "clipped");
        assert!(r.lines().iter().any(|l| l == "  -> install fonts"));
    }
}
