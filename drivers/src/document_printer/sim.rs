//! An A4 printer simulated in-process: it checks it was given a PDF, "prints" it by saving it
//! to a spool folder, and can run out of paper, jam, open its door or go offline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{DocumentPrinter, DocumentPrinterStatus, Error, ErrorKind, JobCompleted, PrintJob, refusal};

/// Faults the simulated printer can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SimFault {
    #[default]
    None,
    MediaEmpty,
    MediaJam,
    DoorOpen,
    Offline,
    /// The next job jams halfway; the printer then stays jammed.
    JamDuringNextJob,
}

#[derive(Debug, Default)]
struct Knobs {
    fault: SimFault,
    sheets_left: Option<u32>,
    completed: Vec<PathBuf>,
}

/// The knobs of a simulated A4 printer; clones control the same printer.
#[derive(Clone, Debug, Default)]
pub struct SimDocumentControl(Arc<Mutex<Knobs>>);

impl SimDocumentControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_fault(&self, fault: SimFault) {
        self.knobs().fault = fault;
    }

    /// Sheets left in the tray; `None` is a tray that never empties.
    pub fn set_sheets_left(&self, sheets: Option<u32>) {
        self.knobs().sheets_left = sheets;
    }

    /// The spool files of completed jobs, oldest first.
    pub fn completed(&self) -> Vec<PathBuf> {
        self.knobs().completed.clone()
    }
}

#[derive(Debug)]
pub struct SimulatedDocumentPrinter {
    control: SimDocumentControl,
    spool: PathBuf,
    time_per_sheet: Duration,
    next_job: u32,
}

impl SimulatedDocumentPrinter {
    pub fn new(spool: &Path, time_per_sheet: Duration) -> Self {
        Self { control: SimDocumentControl::default(), spool: spool.to_path_buf(), time_per_sheet, next_job: 1 }
    }

    pub fn control(&self) -> SimDocumentControl {
        self.control.clone()
    }
}

fn status_of(knobs: &Knobs) -> DocumentPrinterStatus {
    match knobs.fault {
        SimFault::MediaEmpty => DocumentPrinterStatus::MediaEmpty,
        SimFault::MediaJam => DocumentPrinterStatus::MediaJam,
        SimFault::DoorOpen => DocumentPrinterStatus::DoorOpen,
        SimFault::Offline => DocumentPrinterStatus::Offline,
        SimFault::None | SimFault::JamDuringNextJob => match knobs.sheets_left {
            Some(0) => DocumentPrinterStatus::MediaEmpty,
            Some(n) if n < 20 => DocumentPrinterStatus::SuppliesLow,
            _ => DocumentPrinterStatus::Ready,
        },
    }
}

/// Sheets a PDF needs: one per page object. Enough for a simulator; the real driver asks the
/// printer (`job-media-sheets-completed`).
fn page_count(pdf: &[u8]) -> u32 {
    let needle = b"/Type /Page";
    let compact = b"/Type/Page";
    let count = |n: &[u8]| pdf.windows(n.len()).enumerate().filter(|(i, w)| *w == n && pdf.get(i + n.len()) != Some(&b's')).count();
    (count(needle) + count(compact)).max(1) as u32
}

impl DocumentPrinter for SimulatedDocumentPrinter {
    fn status(&mut self) -> Result<DocumentPrinterStatus, Error> {
        Ok(status_of(&self.control.knobs()))
    }

    fn print(&mut self, job: &PrintJob) -> Result<JobCompleted, Error> {
        if !job.pdf.starts_with(b"%PDF-") {
            return Err(Error::new(ErrorKind::DocumentRejected, format!("job {:?} is not a PDF", job.name)));
        }
        if let Some(e) = refusal(status_of(&self.control.knobs())) {
            return Err(e);
        }
        let sheets = page_count(&job.pdf) * u32::from(job.copies.max(1));
        std::thread::sleep(self.time_per_sheet * sheets);
        let job_id = self.next_job;
        self.next_job += 1;

        let mut knobs = self.control.knobs();
        if knobs.fault == SimFault::JamDuringNextJob {
            knobs.fault = SimFault::MediaJam;
            return Err(Error::new(ErrorKind::MediaJam, format!("the A4 printer jammed during job {job_id}; the job was cancelled")));
        }
        if let Some(left) = knobs.sheets_left {
            if left < sheets {
                knobs.sheets_left = Some(0);
                return Err(Error::new(
                    ErrorKind::MediaEmpty,
                    format!("the A4 printer ran out of paper during job {job_id}; the job was cancelled"),
                ));
            }
            knobs.sheets_left = Some(left - sheets);
        }
        let path = self.spool.join(format!("job-{job_id:04}.pdf"));
        std::fs::create_dir_all(&self.spool)
            .and_then(|()| std::fs::write(&path, &job.pdf))
            .map_err(|e| Error::new(ErrorKind::Other, format!("could not spool to {}", path.display())).with_source(e))?;
        knobs.completed.push(path);
        Ok(JobCompleted { job_id, sheets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R] >>\n2 0 obj << /Type /Page >>\n%%EOF";

    fn job() -> PrintJob {
        PrintJob { name: "certificate 42".into(), pdf: PDF.to_vec(), copies: 1 }
    }

    #[test]
    fn a_completed_job_is_spooled_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = SimulatedDocumentPrinter::new(dir.path(), Duration::ZERO);
        let done = p.print(&job()).expect("prints");
        assert_eq!(done.sheets, 1);
        assert_eq!(std::fs::read(&p.control().completed()[0]).expect("spooled"), PDF);
    }

    #[test]
    fn not_a_pdf_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = SimulatedDocumentPrinter::new(dir.path(), Duration::ZERO);
        let err = p.print(&PrintJob { pdf: b"hello".to_vec(), ..job() }).expect_err("rejected");
        assert_eq!(err.kind(), ErrorKind::DocumentRejected);
    }

    #[test]
    fn faults_are_statuses_and_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (fault, status, kind) in [
            (SimFault::MediaEmpty, DocumentPrinterStatus::MediaEmpty, ErrorKind::MediaEmpty),
            (SimFault::MediaJam, DocumentPrinterStatus::MediaJam, ErrorKind::MediaJam),
            (SimFault::DoorOpen, DocumentPrinterStatus::DoorOpen, ErrorKind::DoorOpen),
            (SimFault::Offline, DocumentPrinterStatus::Offline, ErrorKind::NoAnswer),
        ] {
            let mut p = SimulatedDocumentPrinter::new(dir.path(), Duration::ZERO);
            p.control().set_fault(fault);
            assert_eq!(p.status().expect("status"), status);
            assert_eq!(p.print(&job()).expect_err("refused").kind(), kind);
            assert!(p.control().completed().is_empty());
        }
    }

    #[test]
    fn a_jam_during_a_job_fails_it_and_the_printer_stays_jammed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = SimulatedDocumentPrinter::new(dir.path(), Duration::ZERO);
        p.control().set_fault(SimFault::JamDuringNextJob);
        assert_eq!(p.status().expect("status"), DocumentPrinterStatus::Ready);
        assert_eq!(p.print(&job()).expect_err("jams").kind(), ErrorKind::MediaJam);
        assert_eq!(p.status().expect("status"), DocumentPrinterStatus::MediaJam);
        assert!(p.control().completed().is_empty());
    }

    #[test]
    fn running_out_of_sheets_mid_job_fails_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = SimulatedDocumentPrinter::new(dir.path(), Duration::ZERO);
        p.control().set_sheets_left(Some(1));
        let err = p.print(&PrintJob { copies: 2, ..job() }).expect_err("not enough paper");
        assert_eq!(err.kind(), ErrorKind::MediaEmpty);
        assert_eq!(p.status().expect("status"), DocumentPrinterStatus::MediaEmpty);
    }
}
