//! A receipt printer simulated in-process: it lays the receipt out as the real printer would,
//! saves what came out of it as a PNG, and can run out of paper, open its cover, jam its cutter
//! or stop answering, as the knobs on its [`SimReceiptControl`] say.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::raster::{RasterRenderer, ReceiptFonts};
use super::{Error, ErrorKind, PrintConfirmation, Receipt, ReceiptPrinter, ReceiptPrinterStatus};

/// How long the simulator takes, mirroring a real printer.
#[derive(Clone, Copy, Debug)]
pub struct SimTimings {
    /// Time to print one receipt.
    pub print: Duration,
    /// How long a driver would wait for an answer before calling the printer offline.
    pub no_answer: Duration,
}

impl Default for SimTimings {
    fn default() -> Self {
        Self { print: Duration::from_millis(600), no_answer: Duration::from_millis(1500) }
    }
}

/// A receipt that came out of the simulated printer.
#[derive(Clone, Debug)]
pub struct PrintedReceipt {
    pub job: u32,
    /// The layout's text, for tests to compare.
    pub text: String,
    /// Where the picture of the printed paper was saved, if the printer has an output folder.
    pub png: Option<PathBuf>,
    /// Whether the paper ran out before the receipt was complete.
    pub incomplete: bool,
}

#[derive(Debug)]
struct Knobs {
    paper_left_mm: Option<u32>,
    near_end_mm: u32,
    cover_open: bool,
    mechanism_fault: bool,
    offline: bool,
    printed: Vec<PrintedReceipt>,
}

/// The knobs of a simulated receipt printer; clones control the same printer.
#[derive(Clone, Debug)]
pub struct SimReceiptControl(Arc<Mutex<Knobs>>);

impl SimReceiptControl {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        // A panic while holding this lock cannot leave the knobs inconsistent: keep going.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Paper left on the roll, in millimetres; `None` is an endless roll.
    pub fn set_paper_left_mm(&self, mm: Option<u32>) {
        self.knobs().paper_left_mm = mm;
    }

    pub fn paper_left_mm(&self) -> Option<u32> {
        self.knobs().paper_left_mm
    }

    pub fn set_cover_open(&self, open: bool) {
        self.knobs().cover_open = open;
    }

    pub fn set_mechanism_fault(&self, fault: bool) {
        self.knobs().mechanism_fault = fault;
    }

    /// An offline printer answers nothing, as one unplugged or powered off.
    pub fn set_offline(&self, offline: bool) {
        self.knobs().offline = offline;
    }

    /// Everything printed so far, oldest first.
    pub fn printed(&self) -> Vec<PrintedReceipt> {
        self.knobs().printed.clone()
    }
}

/// The simulated printer itself; give it to the kiosk like any other [`ReceiptPrinter`].
#[derive(Debug)]
pub struct SimulatedReceiptPrinter {
    control: SimReceiptControl,
    timings: SimTimings,
    output_dir: Option<PathBuf>,
    renderer: Option<RasterRenderer>,
    next_job: u32,
}

impl SimulatedReceiptPrinter {
    /// A ready printer with an endless roll. With an output folder, every receipt is saved
    /// there as `receipt-NNNN.png`.
    pub fn new(output_dir: Option<&Path>, timings: SimTimings) -> Self {
        let knobs =
            Knobs { paper_left_mm: None, near_end_mm: 300, cover_open: false, mechanism_fault: false, offline: false, printed: Vec::new() };
        Self {
            control: SimReceiptControl(Arc::new(Mutex::new(knobs))),
            timings,
            output_dir: output_dir.map(Path::to_path_buf),
            renderer: None,
            next_job: 1,
        }
    }

    pub fn control(&self) -> SimReceiptControl {
        self.control.clone()
    }

    fn renderer(&mut self) -> Result<&RasterRenderer, Error> {
        if self.renderer.is_none() {
            let fonts = ReceiptFonts::system()
                .map_err(|e| Error::new(ErrorKind::Other, "the simulated printer has no font to print with").with_source(e))?;
            self.renderer = Some(RasterRenderer::new(fonts));
        }
        Ok(self.renderer.as_ref().expect("set above"))
    }

    fn save(&self, job: u32, png: &[u8]) -> Result<Option<PathBuf>, Error> {
        let Some(dir) = &self.output_dir else { return Ok(None) };
        let path = dir.join(format!("receipt-{job:04}.png"));
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, png))
            .map_err(|e| Error::new(ErrorKind::Other, format!("could not save the printout to {}", path.display())).with_source(e))?;
        Ok(Some(path))
    }
}

fn status_of(knobs: &Knobs) -> ReceiptPrinterStatus {
    if knobs.offline {
        ReceiptPrinterStatus::Offline
    } else if knobs.cover_open {
        ReceiptPrinterStatus::CoverOpen
    } else if knobs.mechanism_fault {
        ReceiptPrinterStatus::MechanismFault
    } else {
        match knobs.paper_left_mm {
            Some(0) => ReceiptPrinterStatus::PaperOut,
            Some(mm) if mm <= knobs.near_end_mm => ReceiptPrinterStatus::PaperLow,
            _ => ReceiptPrinterStatus::Ready,
        }
    }
}

fn refusal(status: ReceiptPrinterStatus) -> Option<Error> {
    let (kind, message) = match status {
        ReceiptPrinterStatus::Ready | ReceiptPrinterStatus::PaperLow => return None,
        ReceiptPrinterStatus::PaperOut => (ErrorKind::PaperOut, "the receipt printer is out of paper: load a new roll"),
        ReceiptPrinterStatus::CoverOpen => (ErrorKind::CoverOpen, "the receipt printer's cover is open: close it"),
        ReceiptPrinterStatus::MechanismFault => {
            (ErrorKind::MechanismFault, "the receipt printer reports a cutter or mechanism fault: check the cutter for jammed paper")
        }
        ReceiptPrinterStatus::Offline => (ErrorKind::NoAnswer, "the receipt printer does not answer: check its power and cable"),
    };
    Some(Error::new(kind, message))
}

impl ReceiptPrinter for SimulatedReceiptPrinter {
    fn status(&mut self) -> Result<ReceiptPrinterStatus, Error> {
        Ok(status_of(&self.control.knobs()))
    }

    fn print(&mut self, receipt: &Receipt) -> Result<PrintConfirmation, Error> {
        let status = status_of(&self.control.knobs());
        if let Some(error) = refusal(status) {
            if status == ReceiptPrinterStatus::Offline {
                // A real driver only learns the printer is gone when its wait runs out.
                std::thread::sleep(self.timings.no_answer);
            }
            return Err(error);
        }
        let bitmap = self
            .renderer()?
            .render(receipt)
            .map_err(|e| Error::new(ErrorKind::InvalidReceipt, "the receipt could not be laid out").with_source(e))?;
        std::thread::sleep(self.timings.print);

        let job = self.next_job;
        self.next_job += 1;
        let length_mm = bitmap.length_mm();
        let left = self.control.knobs().paper_left_mm;
        let (printed, incomplete) = match left {
            Some(mm) if mm < length_mm => (bitmap.truncated(mm * super::raster::DOTS_PER_MM), true),
            _ => (bitmap, false),
        };
        let png = self.save(job, &printed.to_png())?;
        let mut knobs = self.control.knobs();
        knobs.paper_left_mm = left.map(|mm| mm.saturating_sub(length_mm));
        knobs.printed.push(PrintedReceipt { job, text: receipt.plain_text(), png, incomplete });
        if incomplete {
            return Err(Error::new(
                ErrorKind::PaperOut,
                format!("the receipt printer ran out of paper {} mm into a {length_mm} mm receipt (job {job})", left.unwrap_or(0)),
            ));
        }
        Ok(PrintConfirmation { job, length_mm })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(dir: Option<&Path>) -> SimulatedReceiptPrinter {
        SimulatedReceiptPrinter::new(dir, SimTimings { print: Duration::ZERO, no_answer: Duration::from_millis(5) })
    }

    fn receipt() -> Receipt {
        Receipt::new().title("身份證明局").text("Certidão de Registo Criminal").qr("SJ01-261122-0001")
    }

    #[test]
    fn a_printed_receipt_is_saved_as_a_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut p = printer(Some(dir.path()));
        let done = p.print(&receipt()).expect("prints");
        assert_eq!(done.job, 1);
        let printed = p.control().printed();
        let png = printed[0].png.as_ref().expect("saved");
        assert!(std::fs::read(png).expect("file").starts_with(b"\x89PNG"));
        assert!(printed[0].text.contains("Certidão de Registo Criminal"));
    }

    #[test]
    fn paper_running_out_mid_receipt_fails_the_job_and_keeps_what_came_out() {
        let mut p = printer(None);
        p.control().set_paper_left_mm(Some(20));
        let err = p.print(&receipt()).expect_err("runs out");
        assert_eq!(err.kind(), ErrorKind::PaperOut);
        assert_eq!(p.status().expect("status"), ReceiptPrinterStatus::PaperOut);
        assert!(p.control().printed()[0].incomplete);
        // Nothing more prints until a roll is loaded.
        assert_eq!(p.print(&receipt()).expect_err("no paper").kind(), ErrorKind::PaperOut);
    }

    #[test]
    fn near_end_of_roll_warns_but_still_prints() {
        let mut p = printer(None);
        p.control().set_paper_left_mm(Some(2000));
        assert_eq!(p.status().expect("status"), ReceiptPrinterStatus::Ready);
        p.control().set_paper_left_mm(Some(250));
        assert_eq!(p.status().expect("status"), ReceiptPrinterStatus::PaperLow);
        p.print(&receipt()).expect("still prints");
    }

    #[test]
    fn each_fault_is_reported_as_its_own_status_and_error() {
        type Case = (fn(&SimReceiptControl), ReceiptPrinterStatus, ErrorKind);
        let cases: [Case; 3] = [
            (|c| c.set_cover_open(true), ReceiptPrinterStatus::CoverOpen, ErrorKind::CoverOpen),
            (|c| c.set_mechanism_fault(true), ReceiptPrinterStatus::MechanismFault, ErrorKind::MechanismFault),
            (|c| c.set_offline(true), ReceiptPrinterStatus::Offline, ErrorKind::NoAnswer),
        ];
        for (set, status, kind) in cases {
            let mut p = printer(None);
            set(&p.control());
            assert_eq!(p.status().expect("status"), status);
            assert!(!status.can_print());
            assert_eq!(p.print(&receipt()).expect_err("refused").kind(), kind);
            assert!(p.control().printed().is_empty());
        }
    }
}
