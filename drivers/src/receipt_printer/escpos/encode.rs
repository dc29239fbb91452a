//! A [`Receipt`] turned into the bytes of one ESC/POS job.
//!
//! Text the printer's code page can carry (Portuguese and English: PC860) is sent as text with
//! the printer's own fonts, sizes, emphasis and alignment; a block with a character the code
//! page lacks (Chinese) is drawn by [`RasterRenderer`] and sent as a raster image (`GS v 0`),
//! so receipts print the same on printers with no CJK font. QR codes and Code 128 barcodes are
//! the printer's own (`GS ( k`, model 2; `GS k 73` with its text below), the paper is cut
//! (`GS V`), and the job ends with a process-ID request (`GS ( H`) that the printer answers
//! only once everything before it has printed.
//!
//! The `escpos` crate builds the text, style, QR and cut commands; raster bands, the rule,
//! Code 128 (its barcode helper has no Code 128) and the process-ID request go through its
//! `custom()`.

use std::cell::RefCell;
use std::rc::Rc;

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::printer_options::PrinterOptions;
use escpos::utils::{JustifyMode, PageCode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};

use super::super::raster::{
    BARCODE_HEIGHT_DOTS, BARCODE_MODULE_DOTS, Bitmap, LazyRenderer, PAPER_WIDTH_DOTS, RasterError, code128_modules,
};
use super::super::{Align, Block, Receipt, TextSize};
use super::status::process_id_request;

/// Characters per line in font A (12 × 24 dots) on 80 mm paper.
pub const COLUMNS: usize = 48;

/// Rows of one `GS v 0` command: printers buffer a whole band before printing it, so bands
/// stay well under the smallest receive buffers (4 KiB) of common 80 mm printers.
const BAND_ROWS: u32 = 48;

/// QR module size in dots (0.75 mm at 203 dpi), as the raster renderer draws them.
const QR_MODULE_DOTS: u8 = 6;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("QR payload of {len} bytes does not fit in a QR code")]
    QrTooLong { len: usize },
    #[error("{0}")]
    Barcode(RasterError),
    #[error("process id {0} is outside 0..=9999")]
    JobNumber(u16),
    #[error("a block needs a raster image but no font is available: {0}")]
    Raster(#[from] RasterError),
    #[error("the ESC/POS command builder refused the receipt: {0}")]
    Builder(String),
}

impl From<escpos::errors::PrinterError> for EncodeError {
    fn from(e: escpos::errors::PrinterError) -> Self {
        Self::Builder(e.to_string())
    }
}

/// Collects what the `escpos` crate would send, so the driver can send it over any link and
/// watch the printer's answers while it does.
#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// Width and height multipliers (`GS !`) and emphasis for each size.
fn magnification(size: TextSize) -> (u8, u8) {
    match size {
        TextSize::Normal => (1, 1),
        TextSize::Large => (1, 2),
        TextSize::Title => (2, 2),
        TextSize::Display => (4, 4),
    }
}

/// Whether PC860 has every character of `text` (line breaks aside).
fn code_page_carries(text: &str) -> bool {
    text.chars().all(|c| c == '\n' || (' '..='~').contains(&c) || PC860_80_TO_AF.contains(&c))
}

/// Bytes 0x80–0xAF of code page 860 (Portuguese): its letters and signs. The rest of its
/// upper half is box drawing and Greek, which no receipt prints as text.
pub const PC860_80_TO_AF: [char; 48] = [
    'Ç', 'ü', 'é', 'â', 'ã', 'à', 'Á', 'ç', 'ê', 'Ê', 'è', 'Í', 'Ô', 'ì', 'Ã', 'Â', //
    'É', 'À', 'È', 'ô', 'õ', 'ò', 'Ú', 'ù', 'Ì', 'Õ', 'Ü', '¢', '£', 'Ù', '₧', 'Ó', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', 'Ò', '¬', '½', '¼', '¡', '«', '»',
];

/// Breaks `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word: Vec<char> = word.chars().collect();
            let used = line.chars().count();
            if used > 0 && used + 1 + word.len() <= width {
                line.push(' ');
                line.extend(word.iter());
                continue;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
            }
            while word.len() > width {
                lines.push(word.drain(..width).collect());
            }
            line = word.into_iter().collect();
        }
        lines.push(line);
    }
    lines
}

/// `GS v 0` commands for a bitmap, band by band.
pub fn raster_commands(bitmap: &Bitmap) -> Vec<u8> {
    let bytes_per_row = bitmap.width().div_ceil(8);
    let mut out = Vec::new();
    let mut top = 0;
    while top < bitmap.height() {
        let rows = BAND_ROWS.min(bitmap.height() - top);
        out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00]);
        out.extend_from_slice(&(bytes_per_row as u16).to_le_bytes());
        out.extend_from_slice(&(rows as u16).to_le_bytes());
        for y in top..top + rows {
            for byte in 0..bytes_per_row {
                let mut b = 0u8;
                for bit in 0..8 {
                    if bitmap.is_black(byte * 8 + bit, y) {
                        b |= 0x80 >> bit;
                    }
                }
                out.push(b);
            }
        }
        top += rows;
    }
    out
}

/// Builds one job; `raster` draws the blocks the code page cannot carry.
pub fn encode(receipt: &Receipt, job: u16, raster: &mut LazyRenderer) -> Result<Vec<u8>, EncodeError> {
    let process_id = process_id_request(job).map_err(|_| EncodeError::JobNumber(job))?;
    let capture = Capture::default();
    let options = PrinterOptions::new(Some(PageCode::PC860), None, COLUMNS as u8);
    let mut p = Printer::new(capture.clone(), Protocol::default(), Some(options));
    p.init()?;
    for block in &receipt.blocks {
        match block {
            Block::Text { text, align, size, bold } if code_page_carries(text) => {
                let (w, h) = magnification(*size);
                p.justify(justify(*align))?.size(w, h)?.bold(*bold)?;
                for line in wrap(text, COLUMNS / usize::from(w)) {
                    p.write(&line)?.feed()?;
                }
                p.reset_size()?.bold(false)?.justify(JustifyMode::LEFT)?;
            }
            Block::Row { label, value, bold } if code_page_carries(label) && code_page_carries(value) => {
                p.bold(*bold)?;
                let (l, v) = (label.chars().count(), value.chars().count());
                if l + 1 + v <= COLUMNS {
                    p.write(&format!("{label}{}{value}", " ".repeat(COLUMNS - l - v)))?.feed()?;
                } else {
                    for line in wrap(label, COLUMNS) {
                        p.write(&line)?.feed()?;
                    }
                    p.justify(JustifyMode::RIGHT)?;
                    for line in wrap(value, COLUMNS) {
                        p.write(&line)?.feed()?;
                    }
                    p.justify(JustifyMode::LEFT)?;
                }
                p.bold(false)?;
            }
            Block::Rule => {
                // Two dot rows of black with 10 and 12 dots of paper fed around them (ESC J n).
                let mut rule = Bitmap::new(PAPER_WIDTH_DOTS);
                rule.fill(0, 0, PAPER_WIDTH_DOTS, 2);
                p.custom(&[0x1B, 0x4A, 10])?.custom(&raster_commands(&rule))?.custom(&[0x1B, 0x4A, 12])?;
            }
            Block::Qr { payload } => {
                // The printer refuses a symbol it cannot build without saying so; check first.
                qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
                    .map_err(|_| EncodeError::QrTooLong { len: payload.len() })?;
                p.justify(JustifyMode::CENTER)?
                    .qrcode_option(payload, QRCodeOption::new(QRCodeModel::Model2, QR_MODULE_DOTS, QRCodeCorrectionLevel::M))?
                    .feed()?
                    .justify(JustifyMode::LEFT)?;
            }
            Block::Barcode { payload } => {
                p.justify(JustifyMode::CENTER)?.custom(&code128_commands(payload)?)?.feed()?.justify(JustifyMode::LEFT)?;
            }
            Block::Feed(lines) => {
                p.feeds(*lines)?;
            }
            // Text the code page cannot carry: drawn here, sent as an image.
            Block::Text { .. } | Block::Row { .. } => {
                let bitmap = raster.get()?.render_blocks(std::slice::from_ref(block))?;
                p.custom(&raster_commands(&bitmap))?;
            }
        }
    }
    p.feeds(2)?.cut()?.custom(&process_id)?.print()?;
    let bytes = capture.0.take();
    Ok(bytes)
}

/// A Code 128 symbol in character set B with its text below: height (`GS h`), bar width
/// (`GS w`), text position and font (`GS H`, `GS f`), then `GS k 73 n {B data`. The payload is
/// checked first (printable ASCII, fits the paper): a printer prints nothing for a symbol it
/// cannot build, and says nothing about it.
fn code128_commands(payload: &str) -> Result<Vec<u8>, EncodeError> {
    code128_modules(payload).map_err(EncodeError::Barcode)?;
    // In ESC/POS Code 128 data, '{' starts a code-set or function code: a literal one is "{{".
    let mut data = b"{B".to_vec();
    for b in payload.bytes() {
        data.push(b);
        if b == b'{' {
            data.push(b'{');
        }
    }
    let len = u8::try_from(data.len())
        .map_err(|_| EncodeError::Barcode(RasterError::Barcode { payload: payload.into(), reason: "too long".into() }))?;
    let mut out = vec![0x1D, 0x68, BARCODE_HEIGHT_DOTS as u8, 0x1D, 0x77, BARCODE_MODULE_DOTS as u8, 0x1D, 0x48, 2, 0x1D, 0x66, 0];
    out.extend_from_slice(&[0x1D, 0x6B, 73, len]);
    out.extend_from_slice(&data);
    Ok(out)
}

fn justify(align: Align) -> JustifyMode {
    match align {
        Align::Left => JustifyMode::LEFT,
        Align::Center => JustifyMode::CENTER,
        Align::Right => JustifyMode::RIGHT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_raster() -> LazyRenderer {
        LazyRenderer::default()
    }

    #[test]
    fn a_latin_receipt_is_text_in_pc860_with_a_qr_code_a_cut_and_a_process_id_request() {
        let receipt = Receipt::new().title("Recibo").row("Taxa paga", "MOP 120.00").text("Certidão").qr("SJ01-0007");
        let bytes = encode(&receipt, 42, &mut no_raster()).expect("encodes");
        // ESC @, then ESC t 3 (PC860, Portuguese).
        assert_eq!(&bytes[..5], &[0x1B, 0x40, 0x1B, 0x74, 0x03]);
        // Title: centred, double width and height (GS ! 0x11), bold.
        let title = [0x1B, 0x61, 0x01, 0x1D, 0x21, 0x11, 0x1B, 0x45, 0x01, b'R', b'e', b'c', b'i', b'b', b'o'];
        assert!(bytes.windows(title.len()).any(|w| w == title), "{bytes:02X?}");
        // The row fills the 48 columns: label, spaces, value.
        let row = format!("Taxa paga{}MOP 120.00", " ".repeat(48 - 9 - 10));
        assert!(bytes.windows(48).any(|w| w == row.as_bytes()));
        // "ã" is 0x84 in PC860.
        assert!(bytes.windows(8).any(|w| w == b"Certid\x84o"));
        // QR: model 2, module 6, level M, the payload stored, then printed.
        let store = [&[0x1D, 0x28, 0x6B, 12, 0, 0x31, 0x50, 0x30][..], b"SJ01-0007"].concat();
        for command in [
            &[0x1D, 0x28, 0x6B, 4, 0, 0x31, 0x41, 50, 0][..],
            &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x43, 6],
            &store,
            &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30],
        ] {
            assert!(bytes.windows(command.len()).any(|w| w == command), "missing {command:02X?}");
        }
        // Feed to the cutter and cut, then ask for process id 0042.
        let end = [0x1D, 0x56, 0x41, 0x00, 0x1D, 0x28, 0x48, 0x06, 0x00, 0x30, 0x30, b'0', b'0', b'4', b'2'];
        assert!(bytes.ends_with(&end), "{:02X?}", &bytes[bytes.len() - 20..]);
        // Latin text only: no raster image.
        assert!(!bytes.windows(3).any(|w| w == [0x1D, 0x76, 0x30]));
    }

    #[test]
    fn chinese_text_is_sent_as_a_raster_image_of_the_full_paper_width() {
        let receipt = Receipt::new().heading("申請收據").text("Recibo");
        let bytes = encode(&receipt, 1, &mut LazyRenderer::default()).expect("encodes");
        let at = bytes.windows(4).position(|w| w == [0x1D, 0x76, 0x30, 0x00]).expect("a raster image");
        let (x, y) = (u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]), u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]));
        assert_eq!(x, 72, "576 dots = 72 bytes a row");
        assert!(y > 0 && u32::from(y) <= BAND_ROWS);
        let image = &bytes[at + 8..at + 8 + usize::from(x) * usize::from(y)];
        assert!(image.iter().any(|&b| b != 0), "the glyphs left ink");
        // The Latin line after it is still text.
        assert!(bytes.windows(6).any(|w| w == b"Recibo"));
    }

    #[test]
    fn the_escpos_crate_encodes_every_pc860_letter_where_the_code_page_has_it() {
        let text: String = PC860_80_TO_AF.iter().collect();
        let bytes = encode(&Receipt::new().text(text), 1, &mut no_raster()).expect("encodes");
        let expected: Vec<u8> = (0x80..=0xAF).collect();
        assert!(bytes.windows(48).any(|w| w == expected), "{bytes:02X?}");
    }

    #[test]
    fn long_text_wraps_at_words_within_the_columns_of_its_size() {
        assert_eq!(wrap("Certidão de registo de nascimento", 16), ["Certidão de", "registo de", "nascimento"]);
        assert_eq!(wrap("SJ01-261122-0007-LONG", 8), ["SJ01-261", "122-0007", "-LONG"]);
        assert_eq!(wrap("a\nb", 10), ["a", "b"]);
        let receipt = Receipt::new().display("B1-023");
        let bytes = encode(&receipt, 1, &mut no_raster()).expect("encodes");
        assert!(bytes.windows(3).any(|w| w == [0x1D, 0x21, 0x33]), "display size is 4 × 4");
    }

    #[test]
    fn a_barcode_is_code_128_in_set_b_with_its_text_below_and_a_literal_brace_doubled() {
        let bytes = encode(&Receipt::new().barcode("SJ01-261123-0042"), 1, &mut no_raster()).expect("encodes");
        // Centred; 80 dots high, 2-dot bars, text below in font A; then GS k 73 n {B data.
        let settings = [0x1B, 0x61, 0x01, 0x1D, 0x68, 80, 0x1D, 0x77, 2, 0x1D, 0x48, 2, 0x1D, 0x66, 0];
        assert!(bytes.windows(settings.len()).any(|w| w == settings), "{bytes:02X?}");
        let symbol = [&[0x1D, 0x6B, 73, 18, b'{', b'B'][..], b"SJ01-261123-0042"].concat();
        assert!(bytes.windows(symbol.len()).any(|w| w == symbol), "{bytes:02X?}");

        let bytes = encode(&Receipt::new().barcode("A{1"), 1, &mut no_raster()).expect("encodes");
        let symbol = [0x1D, 0x6B, 73, 6, b'{', b'B', b'A', b'{', b'{', b'1'];
        assert!(bytes.windows(symbol.len()).any(|w| w == symbol), "{bytes:02X?}");
    }

    #[test]
    fn a_barcode_that_is_not_ascii_or_wider_than_the_paper_is_refused_before_printing() {
        for payload in ["", "申請", "SJ01\n0042", &"7".repeat(22)] {
            let err = encode(&Receipt::new().barcode(payload), 1, &mut no_raster()).expect_err(payload);
            assert!(matches!(err, EncodeError::Barcode(RasterError::Barcode { .. })), "{payload:?}: {err}");
        }
        // 21 characters still fit across 576 dots with their quiet zones.
        encode(&Receipt::new().barcode("7".repeat(21)), 1, &mut no_raster()).expect("fits");
    }

    #[test]
    fn a_qr_payload_too_long_and_a_job_number_out_of_range_are_errors() {
        let err = encode(&Receipt::new().qr("x".repeat(4000)), 1, &mut no_raster()).expect_err("too long");
        assert!(matches!(err, EncodeError::QrTooLong { len: 4000 }), "{err}");
        let err = encode(&Receipt::new(), 10_000, &mut no_raster()).expect_err("5 digits");
        assert!(matches!(err, EncodeError::JobNumber(10_000)), "{err}");
    }
}
