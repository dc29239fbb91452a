//! `kiosk-provision decommission`: a kiosk leaves service leaving nothing of its citizens
//! behind.
//!
//! 1. The kiosk must be stopped (no other process has its database open).
//! 2. Records central has not acknowledged stop it, unless `--force`, which first exports them
//!    (opened, as JSON lines, readable by their owner only) to the file the technician hands in.
//! 3. Central is told with the kiosk's own certificate, for the last time: it marks the kiosk
//!    retired and revokes its certificates. Central unreachable stops it (nothing removed),
//!    unless `--offline`: then the administrator must revoke the kiosk in the console.
//! 4. The sealing key is overwritten and removed first — from then on nothing sealed, wherever
//!    a copy of the database went, can be opened — then the kiosk's private key likewise, and
//!    the data folder (database, printouts, logs), central's CA and the identity.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use balcao_backend_client::api::Retirement;
use balcao_backend_client::{CentralClient, ClientConfig, ClientError, Timeouts};
use balcao_kiosk::config::KioskConfig;

/// What the technician asked for.
#[derive(Clone, Debug)]
pub struct DecommissionOptions {
    pub config: PathBuf,
    /// Go on although central has not acknowledged every record, exporting them to `export`.
    pub force: bool,
    pub export: Option<PathBuf>,
    /// Go on without telling central (unreachable): the administrator revokes the kiosk.
    pub offline: bool,
}

/// Why decommissioning stopped; each kind has its exit code (see [`EXIT_CODES`]).
#[derive(Debug, thiserror::Error)]
pub enum DecommissionError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Local(String),
    #[error("{0}")]
    Unacknowledged(String),
    #[error("{0}")]
    Running(String),
}

/// The exit codes of `decommission`, as `--help` lists them.
pub const EXIT_CODES: &str = "Exit codes: 0 decommissioned; 2 a wrong argument or configuration; 3 central unreachable (nothing \
                              removed; --offline goes on without it); 4 central refused; 6 a file could not be read, written or \
                              removed; 7 records central has not acknowledged (nothing removed; --force --export FILE hands them \
                              in); 8 the kiosk is running (stop it first).";

impl DecommissionError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Unreachable(_) => 3,
            Self::Refused(_) => 4,
            Self::Local(_) => 6,
            Self::Unacknowledged(_) => 7,
            Self::Running(_) => 8,
        }
    }
}

/// What decommissioning did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Decommissioned {
    pub kiosk_id: String,
    pub centre_id: String,
    /// Whether central was told (it retired and revoked the kiosk).
    pub central_told: bool,
    /// Where the records central had not acknowledged went, and how many.
    pub exported: Option<(PathBuf, usize)>,
    /// Every file and folder removed, the keys first.
    pub removed: Vec<PathBuf>,
}

impl std::fmt::Display for Decommissioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "decommissioned: kiosk {} at centre {}", self.kiosk_id, self.centre_id)?;
        match self.central_told {
            true => writeln!(f, "  central retired it and revoked its certificates")?,
            false => writeln!(f, "  central was NOT told: ask the administrator to revoke kiosk {} in the console", self.kiosk_id)?,
        }
        if let Some((file, n)) = &self.exported {
            writeln!(f, "  {n} records central had not acknowledged: {} (hand this file in)", file.display())?;
        }
        write!(f, "  removed:")?;
        for path in &self.removed {
            write!(f, "\n    {}", path.display())?;
        }
        Ok(())
    }
}

/// The processes other than this one that have `file` open (the kiosk, if it runs).
fn holders_of(file: &Path) -> Vec<u32> {
    let Ok(file) = file.canonicalize() else { return Vec::new() };
    let me = std::process::id();
    let Ok(processes) = std::fs::read_dir("/proc") else { return Vec::new() };
    processes
        .flatten()
        .filter_map(|p| p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|fds| fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file)))
                .unwrap_or(false)
        })
        .collect()
}

/// Overwrites a secret file with random bytes, syncs it and removes it. (On flash storage an
/// overwrite is not guaranteed to reach the same cells; the key is also what a TPM would hold.)
fn destroy(path: &Path, removed: &mut Vec<PathBuf>) -> Result<(), DecommissionError> {
    let failed = |e: std::io::Error| DecommissionError::Local(format!("cannot destroy {}: {e}", path.display()));
    let length = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(failed(e)),
    };
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(failed)?;
    let noise: Vec<u8> = (0..length.max(64)).map(|_| rand::random::<u8>()).collect();
    file.write_all(&noise).and_then(|()| file.sync_all()).map_err(failed)?;
    drop(file);
    std::fs::remove_file(path).map_err(failed)?;
    removed.push(path.to_path_buf());
    Ok(())
}

fn remove_tree(path: &Path, removed: &mut Vec<PathBuf>) -> Result<(), DecommissionError> {
    let result = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match result {
        Ok(()) => {
            removed.push(path.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DecommissionError::Local(format!("cannot remove {}: {e}", path.display()))),
    }
}

/// Decommissions the kiosk the configuration describes.
pub async fn decommission(options: &DecommissionOptions) -> Result<Decommissioned, DecommissionError> {
    if options.force && options.export.is_none() {
        return Err(DecommissionError::Usage("--force needs --export FILE: the records central has not acknowledged go there".into()));
    }
    let config = KioskConfig::load(&options.config).map_err(|e| DecommissionError::Usage(e.to_string()))?;
    let data_dir = config.store.data_dir.clone();
    let database = data_dir.join("kiosk.db");
    let key_file = config.store.key_file();
    let holders = holders_of(&database);
    if !holders.is_empty() {
        return Err(DecommissionError::Running(format!(
            "the kiosk is running (process {}): stop it first (systemctl stop balcao-kiosk)",
            holders.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut done = Decommissioned { kiosk_id: config.kiosk.id.clone(), centre_id: config.kiosk.centre_id.clone(), ..Default::default() };

    // What central has not acknowledged: nothing is removed while it would be lost.
    let unacknowledged = match database.exists() {
        true => balcao_kiosk::store::Store::open(&database, &key_file)
            .and_then(|store| store.unacknowledged())
            .map_err(|e| DecommissionError::Local(format!("cannot read the kiosk's records: {e}")))?,
        false => Vec::new(),
    };
    if !unacknowledged.is_empty() {
        let Some(export) = options.export.as_ref().filter(|_| options.force) else {
            return Err(DecommissionError::Unacknowledged(format!(
                "{} records central has not acknowledged are on this kiosk; nothing was removed: let the kiosk send them, or \
                 run again with --force --export FILE and hand the file in",
                unacknowledged.len()
            )));
        };
        let mut lines = String::new();
        for (record, body) in &unacknowledged {
            let line = serde_json::json!({
                "id": record.id, "kind": record.kind, "state": record.state, "attempts": record.attempts,
                "last_error": record.last_error, "body": serde_json::from_str::<serde_json::Value>(body).unwrap_or(serde_json::Value::String(body.clone())),
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        balcao_kiosk::identity::write_private(export, &lines).map_err(|e| DecommissionError::Local(e.to_string()))?;
        done.exported = Some((export.clone(), unacknowledged.len()));
    }

    // Central, told with the kiosk's own certificate.
    match (&config.central.ca_file, &config.central.identity_file) {
        (Some(ca_file), Some(identity_file)) if !config.central.url.is_empty() && !options.offline => {
            let read =
                |file: &PathBuf| std::fs::read(file).map_err(|e| DecommissionError::Local(format!("cannot read {}: {e}", file.display())));
            let client = CentralClient::new(&ClientConfig {
                base_url: config.central.url.clone(),
                ca_pem: read(ca_file)?,
                identity_pem: Some(read(identity_file)?),
                timeouts: Timeouts::default(),
            })
            .map_err(|e| DecommissionError::Usage(e.to_string()))?;
            let exported_records = u32::try_from(unacknowledged.len()).unwrap_or(u32::MAX);
            let retirement = Retirement { kiosk_id: done.kiosk_id.clone(), centre_id: done.centre_id.clone(), exported_records };
            match client.retire(&retirement).await {
                Ok(()) => done.central_told = true,
                // Refused already (revoked or expired): central serves it no more anyway.
                Err(ClientError::NotEnrolled { .. }) => {}
                Err(e @ ClientError::Refused { .. }) => return Err(DecommissionError::Refused(format!("central refused: {e}"))),
                Err(e) => {
                    return Err(DecommissionError::Unreachable(format!(
                        "central could not be told ({e}); nothing was removed: run again when it is reachable, or with --offline \
                         and ask the administrator to revoke kiosk {}",
                        done.kiosk_id
                    )));
                }
            }
        }
        _ => {}
    }

    // The keys first: from here on nothing sealed can be opened, wherever a copy went.
    destroy(&key_file, &mut done.removed)?;
    if let Some(identity) = &config.central.identity_file {
        destroy(identity, &mut done.removed)?;
    }
    if let Some(ca) = &config.central.ca_file {
        remove_tree(ca, &mut done.removed)?;
    }
    remove_tree(&data_dir, &mut done.removed)?;
    Ok(done)
}
