//! The ESC/POS driver against the virtual printer over the real links: loopback TCP and a
//! serial line made of a socat pty pair.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use balcao_drivers::pty::PtyPair;
use balcao_drivers::receipt_printer::escpos::sim::{VirtualPrinter, VirtualPrinterControl};
use balcao_drivers::receipt_printer::escpos::{EscPosPrinter, SerialConnector, TcpConnector, Timeouts};
use balcao_drivers::receipt_printer::{ErrorKind, Receipt, ReceiptPrinter, ReceiptPrinterStatus};
use common::{PAYLOAD, codes_read_by_zbar, qr_codes_on, read_png, receipt, wait_until_ready};

mod common;

fn timeouts() -> Timeouts {
    Timeouts { answer: Duration::from_millis(300), print_done: Duration::from_secs(5) }
}

fn tcp_printer(dir: Option<&Path>) -> (VirtualPrinter, EscPosPrinter) {
    let virtual_printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), dir).expect("listens");
    let address = virtual_printer.address().expect("tcp");
    let connector = TcpConnector { address, connect_timeout: Duration::from_millis(500), write_timeout: Duration::from_secs(2) };
    (virtual_printer, EscPosPrinter::new(Box::new(connector), timeouts()))
}

#[test]
fn a_receipt_prints_over_tcp_with_its_text_chinese_raster_and_a_qr_code_that_decodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (virtual_printer, mut printer) = tcp_printer(Some(dir.path()));
    let control = virtual_printer.control();
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);
    let done = printer.print(&receipt()).expect("prints");
    assert_eq!(done.job, 1);

    let printed = control.printed();
    assert_eq!(printed.len(), 1);
    let paper = &printed[0];
    assert!(!paper.incomplete);
    for line in ["Recibo do pedido", "Taxa paga", "MOP 120.00", "Certidão de Registo Criminal"] {
        assert!(paper.text.contains(line), "missing {line:?} in\n{}", paper.text);
    }
    // The Chinese heading came as an image (and the rule): the printer has no CJK font.
    assert!(paper.raster_rows > 30, "{} raster rows", paper.raster_rows);
    assert!(!paper.text.contains("申"));
    let png = paper.png.as_ref().expect("saved");
    assert_eq!(qr_codes_on(png), vec![PAYLOAD.to_string()]);
    // The barcode the printer drew from GS k reads back, with its text printed below it.
    assert_eq!(codes_read_by_zbar(png), ["CODE-128:SJ01-261123-0042".to_string(), format!("QR-Code:{PAYLOAD}")]);
    assert!(paper.text.lines().any(|l| l.trim() == "SJ01-261123-0042"), "{}", paper.text);
    let (width, height, pixels) = read_png(png);
    assert_eq!(width, 576);
    assert!(height > 400, "{height} dots long");
    assert!(pixels.iter().filter(|&&p| p == 0).count() > 5000, "ink on the paper");
    assert_eq!(control.unknown_commands(), Vec::<String>::new());

    // Job numbers go up; a second receipt is a second picture.
    assert_eq!(printer.print(&Receipt::new().text("Obrigado")).expect("prints").job, 2);
    assert_eq!(control.printed().len(), 2);
}

#[test]
fn paper_running_out_mid_receipt_fails_the_job_as_paper_out_and_a_new_roll_brings_it_back() {
    let (virtual_printer, mut printer) = tcp_printer(None);
    let control = virtual_printer.control();
    control.set_paper_left_mm(Some(20));
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::PaperLow, "20 mm left is below the near-end sensor");
    let err = printer.print(&receipt()).expect_err("runs out");
    assert_eq!(err.kind(), ErrorKind::PaperOut, "{err}");
    assert!(err.to_string().contains("while printing"), "{err}");
    assert!(control.printed()[0].incomplete);
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::PaperOut);
    assert_eq!(printer.print(&receipt()).expect_err("still out").kind(), ErrorKind::PaperOut);

    control.set_paper_left_mm(None);
    wait_until_ready(&mut printer, Duration::from_secs(2), "the printer never came back after a new roll");
    printer.print(&receipt()).expect("prints again");
    assert!(!control.printed().last().expect("printed").incomplete);
}

#[test]
fn a_printer_without_automatic_status_back_that_runs_out_mid_job_is_still_paper_out() {
    let (virtual_printer, mut printer) = tcp_printer(None);
    let control = virtual_printer.control();
    control.set_asb_supported(false);
    control.set_paper_left_mm(Some(20));
    let err = printer.print(&receipt()).expect_err("runs out");
    // Found by asking once the print-done answer did not come.
    assert_eq!(err.kind(), ErrorKind::PaperOut, "{err}");
    assert!(err.to_string().contains("never confirmed"), "{err}");
    assert!(control.printed()[0].incomplete);
}

#[test]
fn cover_open_and_a_jammed_cutter_are_their_own_statuses_and_nothing_prints() {
    let (virtual_printer, mut printer) = tcp_printer(None);
    let control = virtual_printer.control();
    type Case = (fn(&VirtualPrinterControl, bool), ReceiptPrinterStatus, ErrorKind);
    let cases: [Case; 2] = [
        (|c, on| c.set_cover_open(on), ReceiptPrinterStatus::CoverOpen, ErrorKind::CoverOpen),
        (|c, on| c.set_mechanism_fault(on), ReceiptPrinterStatus::MechanismFault, ErrorKind::MechanismFault),
    ];
    for (set, status, kind) in cases {
        set(&control, true);
        assert_eq!(printer.status().expect("status"), status);
        assert_eq!(printer.print(&receipt()).expect_err("refused").kind(), kind);
        set(&control, false);
        assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);
    }
    assert!(control.printed().is_empty());
}

#[test]
fn a_printer_that_stops_answering_mid_job_is_no_answer_within_the_timeout_and_recovers_after_a_power_cycle() {
    let (virtual_printer, mut printer) = tcp_printer(None);
    let control = virtual_printer.control();
    printer.status().expect("connects");
    control.go_silent_after(Some(400));
    let started = Instant::now();
    let err = printer.print(&receipt()).expect_err("no confirmation");
    assert_eq!(err.kind(), ErrorKind::NoAnswer, "{err}");
    assert!(started.elapsed() < timeouts().print_done + Duration::from_secs(2), "bounded: {:?}", started.elapsed());
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Offline);

    // Power off and on: connections drop, the printer resets, the driver reconnects.
    control.set_offline(true);
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Offline);
    control.go_silent_after(None);
    control.set_offline(false);
    wait_until_ready(&mut printer, Duration::from_secs(3), "never reconnected");
    printer.print(&receipt()).expect("prints after the power cycle");
}

#[test]
fn nobody_listening_is_offline_not_a_hang() {
    // A port nothing listens on: bind, note, close.
    let address: SocketAddr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port");
    let connector = TcpConnector { address, connect_timeout: Duration::from_millis(300), write_timeout: Duration::from_secs(1) };
    let mut printer = EscPosPrinter::new(Box::new(connector), timeouts());
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Offline);
    let err = printer.print(&receipt()).expect_err("offline");
    assert_eq!(err.kind(), ErrorKind::NoAnswer);
    assert!(err.to_string().contains(&address.to_string()), "the technician is told where: {err}");
}

#[test]
fn garbage_from_the_printer_is_skipped_and_answers_after_it_still_count() {
    use std::io::{Read, Write};
    // A hand-made printer: every DLE EOT n is answered with line noise first, then a correct
    // "all fine" byte.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut buf = [0u8; 64];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                return;
            }
            for w in buf[..n].windows(2) {
                if w == [0x10, 0x04] {
                    let _ = stream.write_all(&[0xFF, 0x81, 0x12]);
                }
            }
        }
    });
    let connector = TcpConnector { address, connect_timeout: Duration::from_millis(300), write_timeout: Duration::from_secs(1) };
    let mut printer = EscPosPrinter::new(Box::new(connector), timeouts());
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);
}

#[test]
fn a_receipt_prints_over_a_serial_line_and_paper_out_mid_job_is_reported() {
    let pair = PtyPair::new().expect("a pty pair");
    let dir = tempfile::tempdir().expect("tempdir");
    let virtual_printer = VirtualPrinter::open_serial(pair.device(), Some(dir.path())).expect("opens its end");
    let control = virtual_printer.control();
    let connector = SerialConnector { path: pair.host().to_string_lossy().into_owned(), baud_rate: 115_200 };
    let mut printer = EscPosPrinter::new(Box::new(connector), timeouts());
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);
    printer.print(&receipt()).expect("prints");
    let printed = control.printed();
    assert_eq!(qr_codes_on(printed[0].png.as_ref().expect("saved")), vec![PAYLOAD.to_string()]);

    control.set_paper_left_mm(Some(15));
    let err = printer.print(&receipt()).expect_err("runs out");
    assert_eq!(err.kind(), ErrorKind::PaperOut, "{err}");
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::PaperOut);
}
