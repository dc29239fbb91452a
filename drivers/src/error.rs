use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A read with a timeout that ended without bytes: nothing came in time, the link is fine.
/// (Sockets say `WouldBlock` or `TimedOut`, serial ports `TimedOut`; a signal, `Interrupted`.)
pub(crate) fn read_timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted)
}

/// A device failure: a small `kind` that generic code matches on, and a message for the
/// technician saying what happened and what to check.
///
/// Each device class instantiates it with its own kind (`receipt_printer::Error` is
/// `DeviceError<receipt_printer::ErrorKind>`), which keeps the traits object-safe while drivers
/// keep their detailed `thiserror` enums as the `source`.
pub struct DeviceError<K> {
    kind: K,
    message: String,
    source: Option<Source>,
}

impl<K: Copy> DeviceError<K> {
    pub fn new(kind: K, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    /// Keeps the driver's own error as the cause, for logs and the technician.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> K {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<K: fmt::Debug> fmt::Debug for DeviceError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceError").field("kind", &self.kind).field("message", &self.message).field("source", &self.source).finish()
    }
}

impl<K: fmt::Debug> fmt::Display for DeviceError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl<K: fmt::Debug> std::error::Error for DeviceError<K> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Lets another thread ask a long device operation (waiting for a card, a scan) to stop.
///
/// Drivers check it at every point where they would otherwise keep waiting, and end the
/// operation with their class's `Cancelled` outcome or error.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Kind {
        Jam,
    }

    #[test]
    fn display_names_the_cause_after_the_message() {
        let io = std::io::Error::other("port vanished");
        let err = DeviceError::new(Kind::Jam, "printer on /dev/ttyS0 stopped").with_source(io);
        assert_eq!(err.kind(), Kind::Jam);
        assert_eq!(err.to_string(), "printer on /dev/ttyS0 stopped: port vanished");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn cancel_token_is_shared_between_clones() {
        let token = CancelToken::new();
        let other = token.clone();
        assert!(!other.is_cancelled());
        token.cancel();
        assert!(other.is_cancelled());
    }
}
