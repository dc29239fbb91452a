//! `kiosk-provision simulate ACTION`: drives a simulated device of a demo or training kiosk
//! through the kiosk's training controls on loopback (`devices.training_listen`), so a trainer
//! shows every failure on a real screen: paper out, the cover open, a card on the reader, the
//! terminal declining or silent, a code scanned.

use std::time::Duration;

pub use balcao_kiosk::runtime::training::ACTIONS;

/// Why the action was not carried out; 3: the kiosk's controls do not answer, 4: refused.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
}

impl SimulateError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Unreachable(_) => 3,
            Self::Refused(_) => 4,
        }
    }
}

/// What the kiosk said it did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Simulated {
    pub action: String,
    pub done: String,
}

impl std::fmt::Display for Simulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.action, self.done)
    }
}

/// Asks the kiosk whose training controls listen at `kiosk` (`127.0.0.1:9465`) to carry out
/// `action`; `code` is what `scan` reads.
pub async fn simulate(kiosk: &str, action: &str, code: Option<&str>) -> Result<Simulated, SimulateError> {
    // Plain HTTP on loopback; reqwest is built on rustls here, so it is given a configuration
    // it never uses for this.
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| SimulateError::Refused(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SimulateError::Refused(e.to_string()))?;
    let url = format!("http://{kiosk}/simulators/{action}");
    let response = http.post(&url).body(code.unwrap_or_default().to_string()).send().await.map_err(|e| {
        SimulateError::Unreachable(format!(
            "the kiosk's training controls at {kiosk} do not answer ({e}): is the kiosk running, with devices.training_listen = \"{kiosk}\"?"
        ))
    })?;
    let status = response.status();
    let said = response.text().await.unwrap_or_default().trim().to_string();
    if !status.is_success() {
        return Err(SimulateError::Refused(said));
    }
    Ok(Simulated { action: action.to_string(), done: said })
}
