//! The kiosk's recent log lines, kept in memory for staff who ask for them ("upload the last N
//! minutes of logs"): a `tracing` layer beside the one that writes to the journal, keeping at
//! most [`KEPT_BYTES`] of the newest lines. The logs hold no personal data (the kiosk never
//! logs what a citizen typed, scanned or read), so they can leave the kiosk as they are.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// How much of the newest logs is kept.
pub const KEPT_BYTES: usize = 4 << 20;

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<(Timestamp, String)>,
    bytes: usize,
    /// When the newest line dropped for room was written.
    dropped_until: Option<Timestamp>,
}

fn ring() -> &'static Arc<Mutex<Ring>> {
    static RING: OnceLock<Arc<Mutex<Ring>>> = OnceLock::new();
    RING.get_or_init(Arc::default)
}

/// The layer that keeps log lines for [`recent`]; add it to the program's subscriber.
pub fn layer() -> Keeper {
    Keeper
}

/// Keeps every event it sees as a line (see [`layer`]).
#[derive(Clone, Copy, Debug)]
pub struct Keeper;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Keeper {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let at = Timestamp::now();
        let metadata = event.metadata();
        let mut line = Line(format!("{at} {} {}:", metadata.level(), metadata.target()));
        event.record(&mut line);
        keep(at, line.0);
    }
}

fn keep(at: Timestamp, line: String) {
    let mut ring = ring().lock().unwrap_or_else(|e| e.into_inner());
    ring.bytes += line.len() + 1;
    ring.lines.push_back((at, line));
    while ring.bytes > KEPT_BYTES {
        let Some((at, old)) = ring.lines.pop_front() else { break };
        ring.bytes -= old.len() + 1;
        ring.dropped_until = Some(at);
    }
}

/// The lines of the last `minutes`, oldest first, at most `max_bytes` of them (the newest):
/// and whether older lines of that time were left out (for the size, or because the kiosk
/// keeps no more).
pub fn recent(minutes: u32, max_bytes: usize) -> (String, bool) {
    let since = Timestamp::now() - jiff::SignedDuration::from_mins(i64::from(minutes));
    let ring = ring().lock().unwrap_or_else(|e| e.into_inner());
    let mut taken: Vec<&str> = Vec::new();
    let mut bytes = 0;
    let mut cut = false;
    for (at, line) in ring.lines.iter().rev() {
        if *at < since {
            break;
        }
        if bytes + line.len() + 1 > max_bytes {
            cut = true;
            break;
        }
        bytes += line.len() + 1;
        taken.push(line);
    }
    // Lines of that time dropped for room: said, not hidden.
    cut |= ring.dropped_until.is_some_and(|at| at >= since);
    let mut text = String::with_capacity(bytes);
    for line in taken.iter().rev() {
        text.push_str(line);
        text.push('\n');
    }
    (text, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_lines_of_the_asked_minutes_come_back_in_order_within_the_size() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(kiosk = "K01", "first line of the logs test");
            tracing::warn!("second line of the logs test");
        });
        let (text, _) = recent(5, 1 << 20);
        let first = text.find("first line of the logs test").expect("kept");
        let second = text.find("second line of the logs test").expect("kept");
        assert!(first < second, "oldest first:\n{text}");
        assert!(text.contains("kiosk=\"K01\"") && text.contains(" WARN "), "{text}");
        // Too little room: the newest line only, and the cut is said.
        let (text, cut) = recent(5, 200);
        assert!(text.len() <= 200 && cut);
        assert!(!text.contains("first line of the logs test") || !text.contains("second line"), "{text}");
    }
}
