//! Printing a typical receipt over a serial line at 115200 baud, against the time its bytes
//! alone need on the wire (10 bits a byte, 8N1) — the physical limit. The printer is the virtual
//! one at the other end of a pty pair, taking bytes at the line's rate and printing instantly,
//! so what is left over the limit is the driver's own: status round trips, chunking, waiting for
//! the print-done answer. Goal: within 10 %.
//!
//! `cargo bench -p balcao-drivers --bench escpos_serial`

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use balcao_drivers::pty::PtyPair;
use balcao_drivers::receipt_printer::escpos::encode::encode;
use balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter;
use balcao_drivers::receipt_printer::escpos::{EscPosPrinter, SerialConnector, Timeouts};
use balcao_drivers::receipt_printer::raster::LazyRenderer;
use balcao_drivers::receipt_printer::{Receipt, ReceiptPrinter};

const BAUD: u32 = 115_200;
const RUNS: usize = 5;

fn receipt(chinese: bool) -> Receipt {
    let (title, service) =
        if chinese { ("申請收據", "刑事紀錄證明書") } else { ("Application receipt", "Certificate of Criminal Record") };
    let mut r = Receipt::new()
        .heading("Government Service Centre")
        .centered("Identification Services Bureau")
        .rule()
        .title(title)
        .bold_row("Application number", "K01-261123-0001")
        .text(service)
        .row("Date", "2026-11-23 10:15")
        .row("Kiosk", "K01")
        .rule()
        .bold_row("Fee paid", "MOP 30.00")
        .row("Card", "VISA **** 4242")
        .rule();
    for line in ["TERMINAL 0001", "PRE-AUTHORISATION", "VISA **** 4242", "AMOUNT MOP 30.00", "RECEIPT 0001 TRACE 000101"] {
        r = r.centered(line);
    }
    r.text("Expected within 3 working days.").qr("https://status.balcao.example/a/K01-261123-0001").centered("Please keep this receipt.")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pair = PtyPair::new()?;
    let virtual_printer = VirtualPrinter::open_serial(pair.device(), None)?;
    virtual_printer.control().set_line_baud(Some(BAUD));
    let connector = SerialConnector { path: pair.host().to_string_lossy().into_owned(), baud_rate: BAUD };
    let mut printer =
        EscPosPrinter::new(Box::new(connector), Timeouts { answer: Duration::from_secs(1), print_done: Duration::from_secs(30) });
    printer.status()?;
    println!("receipt over serial at {BAUD} baud, median of {RUNS} (release build: cargo bench)");
    println!("{:<28} {:>8} {:>12} {:>12} {:>9}", "receipt", "bytes", "wire limit", "printed in", "overhead");
    for (name, chinese) in [("English (text, QR)", false), ("Chinese (raster lines)", true)] {
        let r = receipt(chinese);
        let bytes = encode(&r, 1, &mut LazyRenderer::default())?.len();
        let limit = Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(BAUD));
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            printer.print(&r)?;
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[RUNS / 2];
        let overhead = (median.as_secs_f64() / limit.as_secs_f64() - 1.0) * 100.0;
        println!("{name:<28} {bytes:>8} {:>10.0}ms {:>10.0}ms {overhead:>8.1}%", limit.as_secs_f64() * 1e3, median.as_secs_f64() * 1e3);
    }
    Ok(())
}
