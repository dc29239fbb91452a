//! What the ESC/POS driver's tests share, whatever link they print over: a receipt with
//! Chinese, a barcode and a QR code, and ways to read a printout back.

// Each test file uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use balcao_drivers::receipt_printer::escpos::EscPosPrinter;
use balcao_drivers::receipt_printer::{Receipt, ReceiptPrinter, ReceiptPrinterStatus};

pub const PAYLOAD: &str = "https://status.balcao.example/a/SJ01-261123-0042";

pub fn receipt() -> Receipt {
    Receipt::new()
        .title("Recibo do pedido")
        .heading("申請收據")
        .rule()
        .row("Pedido", "SJ01-261123-0042")
        .bold_row("Taxa paga", "MOP 120.00")
        .text("Certidão de Registo Criminal")
        .barcode("SJ01-261123-0042")
        .qr(PAYLOAD)
}

/// Asks for the status until the printer is ready, failing with `what` after `within`.
pub fn wait_until_ready(printer: &mut EscPosPrinter, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while printer.status().expect("status") != ReceiptPrinterStatus::Ready {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("png file")));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png data");
    (info.width, info.height, pixels)
}

/// What a barcode reader takes off a printout (see `sim::read_codes`).
pub fn codes_read_by_zbar(path: &Path) -> Vec<String> {
    balcao_drivers::receipt_printer::escpos::sim::read_codes(path).expect("zbarimg reads the printout")
}

pub fn qr_codes_on(path: &Path) -> Vec<String> {
    let (w, h, pixels) = read_png(path);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| pixels[y * w as usize + x]);
    image.detect_grids().into_iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
}
