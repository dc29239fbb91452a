//! A device that keeps failing: after each health poll the supervisor looks at every device's
//! worker and climbs a ladder, one rung per run of failures.
//!
//! | what the worker shows                                  | what the supervisor does                  |
//! |--------------------------------------------------------|-------------------------------------------|
//! | `failures` in a row (errors, panics), or a hung job     | restarts the worker: new thread, new driver |
//! | as many again after that, or the worker cannot restart | restarts the program once nobody is served |
//! | the same after a program restart for it (`spacing`)    | gives up: a technician's job              |
//!
//! From the first rung until the device answers well again its services are hidden, whatever
//! its status says; each rung is reported to central. A success (a status the driver could get)
//! takes the device off the ladder.

use std::path::PathBuf;
use std::time::Duration;

use balcao_backend_client::api::Severity;

use crate::session::Readiness;

use super::devices::{DeviceWorker, Devices};

/// How patient the supervisor is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervision {
    /// Failures in a row that restart a device's worker (and as many again, the program).
    pub failures: u32,
    /// A program restart for a device is not repeated within this time: the device is then
    /// left hidden, for a technician.
    pub spacing: Duration,
    /// Where the last program restart for a device is remembered, across restarts.
    pub record: PathBuf,
}

impl Supervision {
    pub const FAILURES: u32 = 3;
    pub const SPACING: Duration = Duration::from_secs(3600);

    /// The kiosk's usual patience, its memory of restarts in `data_dir`.
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self { failures: Self::FAILURES, spacing: Self::SPACING, record: data_dir.join("device-restarts") }
    }
}

/// What one device's worker shows the supervisor, and what it can do to it.
pub trait Watched: Send + Sync {
    fn name(&self) -> &'static str;
    fn failures_in_a_row(&self) -> u32;
    fn hung(&self) -> bool;
    fn restart(&self) -> std::io::Result<()>;
}

impl<D: ?Sized + Send + 'static> Watched for DeviceWorker<D> {
    fn name(&self) -> &'static str {
        DeviceWorker::name(self)
    }
    fn failures_in_a_row(&self) -> u32 {
        DeviceWorker::failures_in_a_row(self)
    }
    fn hung(&self) -> bool {
        DeviceWorker::hung(self)
    }
    fn restart(&self) -> std::io::Result<()> {
        DeviceWorker::restart(self)
    }
}

impl Devices {
    /// Every device's worker, for the supervisor.
    pub fn watched(&self) -> Vec<std::sync::Arc<dyn Watched>> {
        let mut all: Vec<std::sync::Arc<dyn Watched>> = vec![
            std::sync::Arc::new(self.receipt_printer.clone()),
            std::sync::Arc::new(self.document_printer.clone()),
            std::sync::Arc::new(self.identity_reader.clone()),
            std::sync::Arc::new(self.code_scanner.clone()),
            std::sync::Arc::new(self.payment_terminal.clone()),
        ];
        all.extend(self.mrz_reader.clone().map(|reader| std::sync::Arc::new(reader) as std::sync::Arc<dyn Watched>));
        all
    }
}

/// The next rung for a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    RestartWorker,
    RestartProgram,
}

/// Where one device stands on the ladder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ladder {
    /// The failures in a row when its worker was restarted.
    worker_restarted_at: Option<u32>,
    /// The program's restart was asked for (or refused: given up).
    program: bool,
}

impl Ladder {
    /// The rung `in_a_row` failures (or a hung job) call for, if a new one.
    pub fn climb(&mut self, in_a_row: u32, hung: bool, limit: u32) -> Option<Step> {
        if in_a_row == 0 && !hung {
            *self = Self::default();
            return None;
        }
        match self.worker_restarted_at {
            None if hung || in_a_row >= limit => {
                self.worker_restarted_at = Some(in_a_row);
                Some(Step::RestartWorker)
            }
            Some(at) if !self.program && (hung || in_a_row >= at.saturating_add(limit)) => {
                self.program = true;
                Some(Step::RestartProgram)
            }
            _ => None,
        }
    }

    /// The worker could not be restarted: the next rung at once.
    fn worker_failed(&mut self) -> Option<Step> {
        (!std::mem::replace(&mut self.program, true)).then_some(Step::RestartProgram)
    }

    /// On the ladder: its services are hidden.
    pub fn troubled(&self) -> bool {
        self.worker_restarted_at.is_some()
    }
}

/// Something to tell central: a rung climbed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub severity: Severity,
    pub detail: String,
}

/// What one look at the devices came to.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reports: Vec<Report>,
    /// The program must restart once nobody is being served.
    pub restart_program: bool,
}

/// The ladders of every device.
#[derive(Debug)]
pub struct Supervisor {
    policy: Supervision,
    ladders: std::collections::HashMap<&'static str, Ladder>,
}

impl Supervisor {
    pub fn new(policy: Supervision) -> Self {
        Self { policy, ladders: std::collections::HashMap::new() }
    }

    /// Looks at every worker once and climbs what must be climbed. Worker restarts (which make
    /// drivers: blocking) run on the blocking pool.
    pub async fn look(&mut self, workers: &[std::sync::Arc<dyn Watched>]) -> Outcome {
        let mut outcome = Outcome::default();
        for worker in workers {
            let (name, in_a_row, hung) = (worker.name(), worker.failures_in_a_row(), worker.hung());
            let ladder = self.ladders.entry(name).or_default();
            let mut step = ladder.climb(in_a_row, hung, self.policy.failures);
            if step == Some(Step::RestartWorker) {
                let restarting = worker.clone();
                let restarted =
                    tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
                let why = if hung { "a job hung past its limit".to_string() } else { format!("{in_a_row} failures in a row") };
                match restarted {
                    Ok(()) => outcome.reports.push(Report {
                        severity: Severity::Warning,
                        detail: format!("the {name} failed ({why}): its worker was restarted with the driver made anew"),
                    }),
                    Err(e) => {
                        tracing::warn!(device = name, error = %e, "the device's worker cannot be restarted");
                        outcome.reports.push(Report {
                            severity: Severity::Warning,
                            detail: format!("the {name} failed ({why}) and its worker cannot be restarted: {e}"),
                        });
                        step = ladder.worker_failed();
                    }
                }
            }
            if step == Some(Step::RestartProgram) {
                match self.restarted_lately(name) {
                    Some(ago) => outcome.reports.push(Report {
                        severity: Severity::Critical,
                        detail: format!(
                            "the {name} keeps failing, also after the program restarted for it {} min ago: its services stay hidden until a technician sees to it",
                            ago.as_secs() / 60
                        ),
                    }),
                    None => {
                        self.remember_restart(name);
                        outcome.restart_program = true;
                        outcome.reports.push(Report {
                            severity: Severity::Critical,
                            detail: format!(
                                "the {name} keeps failing after its worker was restarted: the program restarts once nobody is being served"
                            ),
                        });
                    }
                }
            }
        }
        outcome
    }

    /// Takes every troubled device's services off what the session may offer.
    pub fn hide(&self, readiness: &mut Readiness) {
        for (name, ladder) in &self.ladders {
            if !ladder.troubled() {
                continue;
            }
            match *name {
                "receipt-printer" => readiness.receipt_printer = false,
                "document-printer" => readiness.document_printer = false,
                "identity-reader" => readiness.identity_reader = false,
                "code-scanner" => readiness.code_scanner = false,
                "payment-terminal" => readiness.payment_terminal = false,
                "mrz-reader" => readiness.mrz_reader = false,
                _ => {}
            }
        }
    }

    /// How long ago the program last restarted for `device`, if within the spacing.
    fn restarted_lately(&self, device: &str) -> Option<Duration> {
        let now = jiff::Timestamp::now();
        let record = std::fs::read_to_string(&self.policy.record).ok()?;
        record.lines().filter_map(|line| line.split_once(' ')).filter(|(name, _)| *name == device).find_map(|(_, at)| {
            let at: jiff::Timestamp = at.trim().parse().ok()?;
            let ago = Duration::try_from(now.duration_since(at)).ok()?;
            (ago < self.policy.spacing).then_some(ago)
        })
    }

    /// Writes down that the program restarts for `device` now (one line per device).
    fn remember_restart(&self, device: &str) {
        let kept = std::fs::read_to_string(&self.policy.record).unwrap_or_default();
        let mut lines: Vec<String> = kept.lines().filter(|line| line.split(' ').next() != Some(device)).map(str::to_owned).collect();
        lines.push(format!("{device} {}", jiff::Timestamp::now()));
        if let Err(e) = std::fs::write(&self.policy.record, lines.join("\n") + "\n") {
            tracing::warn!(error = %e, record = %self.policy.record.display(), "the device restart cannot be written down");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_restarts_the_worker_then_the_program_and_a_success_takes_it_off() {
        let mut ladder = Ladder::default();
        assert_eq!(ladder.climb(1, false, 3), None);
        assert_eq!(ladder.climb(2, false, 3), None);
        assert!(!ladder.troubled(), "two failures hide nothing yet");
        assert_eq!(ladder.climb(3, false, 3), Some(Step::RestartWorker));
        assert!(ladder.troubled());
        assert_eq!(ladder.climb(4, false, 3), None);
        assert_eq!(ladder.climb(5, false, 3), None);
        assert_eq!(ladder.climb(6, false, 3), Some(Step::RestartProgram), "three more after the worker's restart");
        assert_eq!(ladder.climb(9, false, 3), None, "asked once");
        assert!(ladder.troubled());
        assert_eq!(ladder.climb(0, false, 3), None);
        assert!(!ladder.troubled(), "a success takes the device off the ladder");
        assert_eq!(ladder.climb(3, false, 3), Some(Step::RestartWorker), "a new run climbs from the start");
    }

    #[test]
    fn a_hung_job_restarts_the_worker_at_once_and_the_program_if_it_hangs_again() {
        let mut ladder = Ladder::default();
        assert_eq!(ladder.climb(0, true, 3), Some(Step::RestartWorker));
        assert_eq!(ladder.climb(1, false, 3), None);
        assert_eq!(ladder.climb(1, true, 3), Some(Step::RestartProgram));
    }

    /// A worker as the supervisor sees it, its answers set by the test.
    #[derive(Default)]
    struct Fake {
        failures: std::sync::atomic::AtomicU32,
        restarts: std::sync::atomic::AtomicU32,
        cannot_restart: bool,
    }

    impl Watched for Fake {
        fn name(&self) -> &'static str {
            "receipt-printer"
        }
        fn failures_in_a_row(&self) -> u32 {
            self.failures.load(std::sync::atomic::Ordering::SeqCst)
        }
        fn hung(&self) -> bool {
            false
        }
        fn restart(&self) -> std::io::Result<()> {
            if self.cannot_restart {
                return Err(std::io::Error::other("this driver cannot be made again"));
            }
            self.restarts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_program_restarts_for_a_device_once_within_the_spacing_then_gives_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = Supervision::new(dir.path());
        let fake = std::sync::Arc::new(Fake::default());
        let workers: Vec<std::sync::Arc<dyn Watched>> = vec![fake.clone()];
        let mut supervisor = Supervisor::new(policy.clone());
        let set = |n| fake.failures.store(n, std::sync::atomic::Ordering::SeqCst);

        set(3);
        let outcome = supervisor.look(&workers).await;
        assert_eq!(fake.restarts.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(!outcome.restart_program);
        assert_eq!(outcome.reports.len(), 1, "{outcome:?}");
        let mut readiness = Readiness::ALL;
        supervisor.hide(&mut readiness);
        assert!(!readiness.receipt_printer && readiness.payment_terminal, "only the failing device's services are hidden");

        set(6);
        let outcome = supervisor.look(&workers).await;
        assert!(outcome.restart_program, "{outcome:?}");
        assert_eq!(outcome.reports[0].severity, Severity::Critical);
        assert!(supervisor.look(&workers).await.reports.is_empty(), "nothing new to say");

        // The program came back and the device still fails: no second restart within the hour.
        let mut after = Supervisor::new(policy.clone());
        set(3);
        after.look(&workers).await;
        set(6);
        let outcome = after.look(&workers).await;
        assert!(!outcome.restart_program, "{outcome:?}");
        assert!(outcome.reports[0].detail.contains("technician"), "{outcome:?}");
        let mut readiness = Readiness::ALL;
        after.hide(&mut readiness);
        assert!(!readiness.receipt_printer);

        // A worker that cannot be restarted goes to the program's rung at once (another
        // device, no restart of the program written down for it).
        let stuck = std::sync::Arc::new(Fake { cannot_restart: true, ..Fake::default() });
        stuck.failures.store(3, std::sync::atomic::Ordering::SeqCst);
        std::fs::remove_file(&policy.record).expect("record written");
        let outcome = Supervisor::new(policy).look(&[stuck as std::sync::Arc<dyn Watched>]).await;
        assert!(outcome.restart_program, "{outcome:?}");
    }
}
