//! Every log line of the process, captured at the most verbose levels, for the tests that
//! search the logs for what must never be there (personal data, card data).

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The captured log output; clones share it.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Makes this process log everything — the project's own crates at `trace`, every library
    /// at `debug` — into the returned capture. Once per test binary.
    pub fn install() -> Self {
        let logs = Self::default();
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug,balcao_kiosk=trace,balcao_central=trace,balcao_backend_client=trace,balcao_drivers=trace")
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .init();
        logs
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
