//! The IPP driver against the virtual A4 printer (`document_printer::sim`), over HTTP on
//! loopback: the printer the demo and the kiosk's tests print certificates on. Each fault it
//! can be given must reach the driver as the kind a real printer's reasons give.

use std::time::{Duration, Instant};

use balcao_drivers::document_printer::ipp::{IppDocumentPrinter, IppTimeouts};
use balcao_drivers::document_printer::sim::{SimFault, VirtualA4Printer};
use balcao_drivers::document_printer::{DocumentPrinter, DocumentPrinterStatus, ErrorKind, PrintJob};

/// A two-page PDF, as far as page counting goes.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type /Page >>\n%%EOF";

fn job(copies: u16) -> PrintJob {
    PrintJob { name: "certificate 0193f2".into(), pdf: PDF.to_vec(), copies }
}

fn printer(per_sheet: Duration, job_timeout: Duration) -> (tempfile::TempDir, VirtualA4Printer, IppDocumentPrinter) {
    let dir = tempfile::tempdir().expect("tempdir");
    let virtual_printer = VirtualA4Printer::listen("127.0.0.1:0".parse().expect("address"), dir.path(), per_sheet).expect("listens");
    let timeouts = IppTimeouts { request: Duration::from_secs(2), job: job_timeout, poll: Duration::from_millis(20) };
    let driver = IppDocumentPrinter::new(&virtual_printer.uri(), timeouts).expect("an ipp:// uri");
    (dir, virtual_printer, driver)
}

#[test]
fn a_pdf_prints_over_ipp_and_completes_once_its_sheets_are_out() {
    let (_dir, virtual_printer, mut driver) = printer(Duration::from_millis(50), Duration::from_secs(5));
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::Ready);
    let started = Instant::now();
    let done = driver.print(&job(2)).expect("prints");
    // Two pages, two copies: four sheets at 50 ms each before the printer says "completed".
    assert!(started.elapsed() >= Duration::from_millis(200), "completed after {:?}", started.elapsed());
    assert_eq!((done.job_id, done.sheets), (1, 4));
    let spooled = virtual_printer.control().completed();
    assert_eq!(spooled.len(), 1);
    assert_eq!(std::fs::read(&spooled[0]).expect("spool file"), PDF);
    assert_eq!(driver.print(&job(1)).expect("prints again").job_id, 2);
}

#[test]
fn a_printer_with_a_fault_is_that_status_and_refuses_the_job_with_that_kind() {
    for (fault, status, kind) in [
        (SimFault::MediaEmpty, DocumentPrinterStatus::MediaEmpty, ErrorKind::MediaEmpty),
        (SimFault::MediaJam, DocumentPrinterStatus::MediaJam, ErrorKind::MediaJam),
        (SimFault::DoorOpen, DocumentPrinterStatus::DoorOpen, ErrorKind::DoorOpen),
        (SimFault::Offline, DocumentPrinterStatus::Offline, ErrorKind::NoAnswer),
    ] {
        let (_dir, virtual_printer, mut driver) = printer(Duration::ZERO, Duration::from_secs(5));
        virtual_printer.control().set_fault(fault);
        assert_eq!(driver.status().expect("status"), status, "{fault:?}");
        assert_eq!(driver.print(&job(1)).expect_err("refused").kind(), kind, "{fault:?}");
        assert!(virtual_printer.control().completed().is_empty());
        // Fixed, it prints.
        virtual_printer.control().set_fault(SimFault::None);
        driver.print(&job(1)).expect("prints once fixed");
    }
}

#[test]
fn a_jam_during_a_job_fails_it_cancels_it_and_the_printer_stays_jammed() {
    let (_dir, virtual_printer, mut driver) = printer(Duration::from_millis(20), Duration::from_secs(5));
    virtual_printer.control().set_fault(SimFault::JamDuringNextJob);
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::Ready);
    let error = driver.print(&job(2)).expect_err("jams");
    assert_eq!(error.kind(), ErrorKind::MediaJam, "{error}");
    assert!(error.to_string().contains("was cancelled"), "{error}");
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::MediaJam);
    // The job was cancelled: clearing the jam does not bring it out unattended.
    virtual_printer.control().set_fault(SimFault::None);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::Ready);
    assert!(virtual_printer.control().completed().is_empty());
}

#[test]
fn the_tray_running_out_mid_job_fails_it_as_media_empty_and_low_paper_is_a_warning() {
    let (_dir, virtual_printer, mut driver) = printer(Duration::from_millis(10), Duration::from_secs(5));
    virtual_printer.control().set_sheets_left(Some(3));
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::SuppliesLow);
    let error = driver.print(&job(2)).expect_err("four sheets, three in the tray");
    assert_eq!(error.kind(), ErrorKind::MediaEmpty, "{error}");
    assert_eq!(driver.status().expect("status"), DocumentPrinterStatus::MediaEmpty);
    virtual_printer.control().set_sheets_left(Some(500));
    std::thread::sleep(Duration::from_millis(100));
    assert!(virtual_printer.control().completed().is_empty(), "the cancelled job stays cancelled after a refill");
    driver.print(&job(1)).expect("prints after a refill");
}

#[test]
fn a_job_slower_than_the_job_timeout_is_cancelled_at_the_printer() {
    let (_dir, virtual_printer, mut driver) = printer(Duration::from_secs(2), Duration::from_millis(300));
    let started = Instant::now();
    let error = driver.print(&job(1)).expect_err("too slow");
    assert_eq!(error.kind(), ErrorKind::NoAnswer, "{error}");
    assert!(error.to_string().contains("was cancelled"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    std::thread::sleep(Duration::from_millis(100));
    assert!(virtual_printer.control().completed().is_empty());
}

#[test]
fn the_printer_itself_refuses_what_is_not_a_pdf() {
    use ipp::operation::IppOperation as _;
    use ipp::prelude::*;
    let (_dir, virtual_printer, _driver) = printer(Duration::ZERO, Duration::from_secs(5));
    let uri: Uri = virtual_printer.uri().parse().expect("uri");
    let client = IppClient::new(uri.clone());
    let request = IppOperationBuilder::print_job(uri, IppPayload::new(std::io::Cursor::new(b"hello".to_vec())))
        .document_format("text/plain")
        .build()
        .expect("request");
    let response = client.send(request.into_ipp_request()).expect("an answer");
    assert_eq!(response.header().status_code(), StatusCode::ClientErrorDocumentFormatNotSupported);
    assert!(virtual_printer.control().completed().is_empty());
}
