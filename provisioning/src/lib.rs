//! The technician's tool for setting up a Balcão kiosk.
//!
//! So far it checks a kiosk's configuration file and prints the documented default one;
//! enrolment with central and device tests come with later work.

use std::path::Path;

use balcao_kiosk::config::{ConfigError, KioskConfig};

/// The documented configuration, every key at its default.
pub const EXAMPLE_CONFIG: &str = include_str!("../../kiosk/kiosk.example.toml");

/// Checks a configuration file as the kiosk would at start; on success, a summary for the
/// technician.
pub fn check_config(path: &Path) -> Result<String, ConfigError> {
    let config = KioskConfig::load(path)?;
    let central = if config.central.url.is_empty() { "none (applications stay queued)".to_string() } else { config.central.url.clone() };
    Ok(format!(
        "{} is valid\n  kiosk {} in centre {}, starting in {}\n  central: {}\n  data folder: {}\n  idle timeout: {} s (countdown for the last {} s)",
        path.display(),
        config.kiosk.id,
        config.kiosk.centre_id,
        config.kiosk.default_language,
        central,
        config.store.data_dir.display(),
        config.session.idle_timeout_secs,
        config.session.idle_warning_secs,
    ))
}
