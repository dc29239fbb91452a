//! `kiosk-provision diagnose`: is this kiosk ready to serve? Every check says ok, a warning, or
//! a failure with what to do: the configuration, the disk, the database and its outbox, central
//! over mutual TLS (the certificate's expiry, the clocks' difference), and each device as the
//! running kiosk itself sees it (its survey, read from its metrics on loopback — so simulated
//! and real devices are judged alike, and a device is never opened twice).

use std::path::Path;

use balcao_backend_client::api::DeviceCondition;
use balcao_backend_client::{CentralClient, ClientConfig, Timeouts, identity_validity};
use balcao_kiosk::config::KioskConfig;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    Warning,
    Failed,
}

/// One check of the readiness report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do when it is not ok.
    pub remedy: Option<String>,
}

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
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let said = if self.ready { "READY" } else { "NOT READY" };
        writeln!(f, "kiosk {} at centre {}: {said} ({})", self.kiosk_id, self.centre_id, self.at)?;
        for c in &self.checks {
            let mark = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warning => "warn",
                Verdict::Failed => "FAIL",
            };
            write!(f, "  {mark} {}: {}", c.name, c.detail)?;
            if let Some(remedy) = &c.remedy {
                write!(f, "\n         → {remedy}")?;
            }
            writeln!(f)?;
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

async fn central(config: &KioskConfig) -> Vec<Check> {
    let (Some(ca_file), Some(identity_file)) = (&config.central.ca_file, &config.central.identity_file) else {
        return vec![check("central", Verdict::Warning, "no central configured: applications stay queued", Some("kiosk-provision enroll"))];
    };
    let read = |file: &Path| std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()));
    let (ca, identity) = match (read(ca_file), read(identity_file)) {
        (Ok(ca), Ok(identity)) => (ca, identity),
        (Err(e), _) | (_, Err(e)) => return vec![check("central", Verdict::Failed, e, Some("kiosk-provision enroll"))],
    };
    let mut checks = Vec::new();
    let now = jiff::Timestamp::now();
    match identity_validity(&identity) {
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
    let client = CentralClient::new(&ClientConfig {
        base_url: config.central.url.clone(),
        ca_pem: ca,
        identity_pem: Some(identity),
        timeouts: Timeouts::default(),
    });
    let clock = match client {
        Ok(client) => client.clock().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
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

/// Runs every check for the kiosk the configuration describes.
pub async fn diagnose(config_file: &Path) -> Result<Report, String> {
    let config = KioskConfig::load(config_file).map_err(|e| e.to_string())?;
    let mut checks = vec![check("configuration", Verdict::Ok, format!("{} checks", config_file.display()), None)];
    checks.push(disk(&config.store.data_dir));
    let for_database = config.clone();
    checks.push(tokio::task::spawn_blocking(move || database(&for_database)).await.map_err(|e| e.to_string())?);
    checks.extend(central(&config).await);
    match config.logging.metrics_listen.as_str() {
        "" => checks.push(check(
            "devices",
            Verdict::Warning,
            "not checked: logging.metrics_listen is off",
            Some("set logging.metrics_listen to read the kiosk's survey"),
        )),
        address => checks.extend(devices(address).await),
    }
    let ready = checks.iter().all(|c| c.verdict != Verdict::Failed);
    Ok(Report {
        kiosk_id: config.kiosk.id.clone(),
        centre_id: config.kiosk.centre_id.clone(),
        at: jiff::Timestamp::now().to_string(),
        ready,
        checks,
    })
}
