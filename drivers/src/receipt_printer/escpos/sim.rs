//! A virtual ESC/POS printer: it reads the byte stream a real 80 mm printer would read — over
//! TCP (port 9100 style) or a serial line (a pty) — interprets the commands, draws what the
//! printer would print (resident font A in PC860, `GS !` sizes, emphasis, alignment, `GS v 0`
//! raster images, `GS ( k` QR codes), saves each cut receipt as a PNG, and answers as a printer
//! does: real-time status (`DLE EOT n`), Automatic Status Back (`GS a`) on every change, and the
//! process-ID answer (`GS ( H`) once everything before it has printed.
//!
//! Its knobs ([`VirtualPrinterControl`]) run the roll out (also half-way through a receipt),
//! open the cover, jam the cutter, power it off, or make it stop answering after a number of
//! bytes — the failures a kiosk's driver must survive.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use qrcode::{EcLevel, QrCode};

use super::super::raster::{Bitmap, DOTS_PER_MM, Glyph, LazyRenderer, PAPER_WIDTH_DOTS, draw_barcode, draw_qr};
use super::encode::PC860_80_TO_AF;
use super::status::{PrinterState, StatusQuery};

/// A receipt that came out of the virtual printer (cut, or cut short by a fault).
#[derive(Clone, Debug)]
pub struct PrintedReceipt {
    /// Counts receipts since the printer was made, from 1.
    pub job: u32,
    /// The lines printed in the resident font, top to bottom; raster images carry no text.
    pub text: String,
    /// Rows of raster images on it (text the printer's code page could not carry, rules).
    pub raster_rows: u32,
    /// Where the picture of the paper was saved, if the printer has an output folder.
    pub png: Option<PathBuf>,
    /// The paper ran out, the cover opened or the printer died before the cut.
    pub incomplete: bool,
}

impl PrintedReceipt {
    /// The text with every run of spaces and line breaks made one space: what a reader takes
    /// in, whatever the columns and wrapping.
    pub fn flowing_text(&self) -> String {
        self.text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The barcodes and QR codes a reader takes off a printout's picture, as `SYMBOLOGY:payload`
/// (`CODE-128:…`, `QR-Code:…`), sorted: what a hand scanner at the counter would read. The
/// reader is zbar's `zbarimg` (zbar-tools), which nobody on this team wrote, so it checks the
/// printer's drawing and the driver's bytes from outside.
pub fn read_codes(png: &Path) -> std::io::Result<Vec<String>> {
    let output = std::process::Command::new("zbarimg")
        .arg("-q")
        .arg(png)
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run zbarimg (tools/setup installs zbar-tools): {e}")))?;
    let mut codes: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect();
    codes.sort();
    Ok(codes)
}

#[derive(Debug)]
struct Knobs {
    paper_left_mm: Option<u32>,
    near_end_mm: u32,
    cover_open: bool,
    mechanism_fault: bool,
    powered_off: bool,
    /// Stops answering (and printing) after this many more bytes.
    silent_after: Option<usize>,
    /// Print speed; `None` prints instantly.
    speed_mm_per_s: Option<u32>,
    /// Serial line speed the bytes are taken at (a pty has none); `None` takes them at once.
    line_baud: Option<u32>,
    /// Whether it has Automatic Status Back (some models do not).
    asb_supported: bool,
    printed: Vec<PrintedReceipt>,
    unknown: Vec<String>,
    received: usize,
}

/// The knobs of a virtual printer; clones control the same printer.
#[derive(Clone, Debug)]
pub struct VirtualPrinterControl(Arc<Mutex<Knobs>>);

impl VirtualPrinterControl {
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

    /// The autocutter is jammed: reported at once, nothing prints until it is cleared.
    pub fn set_mechanism_fault(&self, fault: bool) {
        self.knobs().mechanism_fault = fault;
    }

    /// A printer powered off or unplugged: connections drop and nothing answers.
    pub fn set_offline(&self, offline: bool) {
        self.knobs().powered_off = offline;
    }

    /// The printer stops answering and printing after `bytes` more bytes, as one whose
    /// firmware hung mid-job; `None` brings it back.
    pub fn go_silent_after(&self, bytes: Option<usize>) {
        let mut knobs = self.knobs();
        knobs.silent_after = bytes.map(|b| knobs.received + b);
    }

    /// Prints at this speed (a kiosk printer does 150–300 mm/s); `None` prints instantly.
    pub fn set_speed_mm_per_s(&self, speed: Option<u32>) {
        self.knobs().speed_mm_per_s = speed;
    }

    /// Takes bytes no faster than a serial line at `baud` (8N1: 10 bits a byte) would bring
    /// them — a pty has no speed of its own; `None` takes them at once.
    pub fn set_line_baud(&self, baud: Option<u32>) {
        self.knobs().line_baud = baud;
    }

    /// A model without Automatic Status Back ignores `GS a` and never reports by itself.
    pub fn set_asb_supported(&self, supported: bool) {
        self.knobs().asb_supported = supported;
    }

    /// Everything printed so far, oldest first.
    pub fn printed(&self) -> Vec<PrintedReceipt> {
        self.knobs().printed.clone()
    }

    /// Commands it did not know, for tests to assert there are none.
    pub fn unknown_commands(&self) -> Vec<String> {
        self.knobs().unknown.clone()
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> usize {
        self.knobs().received
    }
}

/// Why printing stopped before the cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    PaperEnd,
    CoverOpen,
    Cutter,
}

/// The printer's mind: parses bytes, prints, answers. Transport-free.
struct Engine {
    control: VirtualPrinterControl,
    renderer: LazyRenderer,
    output_dir: Option<PathBuf>,
    pending: Vec<u8>,
    // Print modes.
    align: u8,
    bold: bool,
    width: u32,
    height: u32,
    code_page: u8,
    // The receipt being printed.
    line: Vec<(char, u32, u32, bool)>,
    paper: Bitmap,
    glyphs: Vec<Glyph>,
    y: u32,
    text: Vec<String>,
    raster_rows: u32,
    dots_since_mm: u32,
    // QR symbol storage.
    qr_module: u32,
    qr_level: EcLevel,
    qr_data: Vec<u8>,
    // Barcode settings: bar height and width in dots, where its text goes (`GS H`).
    barcode_height: u32,
    barcode_module: u32,
    barcode_text: u8,
    // Status.
    asb: bool,
    last_asb: Option<[u8; 4]>,
    stopped: Option<Stop>,
    silent: bool,
    receipts: u32,
}

/// Font A: 12 × 24 dots; a line is 30 dots high with the default spacing.
const CELL_W: u32 = 12;
const CELL_H: u32 = 24;
const LINE_GAP: u32 = 6;

enum Parsed {
    /// A whole command or character of this many bytes.
    Command(usize),
    /// More bytes are needed.
    Incomplete,
}

impl Engine {
    fn new(control: VirtualPrinterControl, output_dir: Option<PathBuf>) -> Self {
        Self {
            control,
            renderer: LazyRenderer::default(),
            output_dir,
            pending: Vec::new(),
            align: 0,
            bold: false,
            width: 1,
            height: 1,
            code_page: 0,
            line: Vec::new(),
            paper: Bitmap::new(PAPER_WIDTH_DOTS),
            glyphs: Vec::new(),
            y: 0,
            text: Vec::new(),
            raster_rows: 0,
            dots_since_mm: 0,
            qr_module: 3,
            qr_level: EcLevel::L,
            qr_data: Vec::new(),
            barcode_height: 162,
            barcode_module: 3,
            barcode_text: 0,
            asb: false,
            last_asb: None,
            stopped: None,
            silent: false,
            receipts: 0,
        }
    }

    fn state(&self) -> PrinterState {
        let knobs = self.control.knobs();
        let paper_end = knobs.paper_left_mm == Some(0);
        let cutter = knobs.mechanism_fault;
        PrinterState {
            offline: paper_end || knobs.cover_open || cutter || self.stopped.is_some(),
            cover_open: knobs.cover_open,
            stopped_by_paper_end: self.stopped == Some(Stop::PaperEnd),
            error: cutter,
            autocutter_error: cutter,
            paper_near_end: knobs.paper_left_mm.is_some_and(|mm| mm <= knobs.near_end_mm),
            paper_end,
            ..PrinterState::default()
        }
    }

    /// Called between reads: picks up knob changes (a cover closed, a roll loaded) and sends
    /// ASB when something changed.
    fn tick(&mut self, out: &mut Vec<u8>) {
        if self.silent {
            return;
        }
        self.clear_resolved();
        self.check_faults();
        if self.asb {
            let block = self.state().asb();
            if self.last_asb != Some(block) {
                self.last_asb = Some(block);
                out.extend_from_slice(&block);
            }
        }
    }

    /// Resumes once what stopped printing is fixed (a roll loaded, the cover closed).
    fn clear_resolved(&mut self) {
        if let Some(stop) = self.stopped {
            let knobs = self.control.knobs();
            let cleared = match stop {
                Stop::PaperEnd => knobs.paper_left_mm != Some(0),
                Stop::CoverOpen => !knobs.cover_open,
                Stop::Cutter => !knobs.mechanism_fault,
            };
            drop(knobs);
            if cleared {
                self.stopped = None;
            }
        }
    }

    fn paper_is_blank(&self) -> bool {
        self.y == 0 && self.line.is_empty()
    }

    /// Stops printing when the roll is empty, the cover open or the cutter jammed.
    fn check_faults(&mut self) {
        if self.stopped.is_some() {
            return;
        }
        let knobs = self.control.knobs();
        let why = if knobs.mechanism_fault {
            Some(Stop::Cutter)
        } else if knobs.cover_open {
            Some(Stop::CoverOpen)
        } else if knobs.paper_left_mm == Some(0) {
            Some(Stop::PaperEnd)
        } else {
            None
        };
        drop(knobs);
        if let Some(why) = why {
            self.stop(why);
        }
    }

    /// Power off and on: modes, buffers and status reporting back to their defaults; a receipt
    /// half printed is cut short.
    fn power_cycle(&mut self) {
        if !self.paper_is_blank() {
            self.flush_line();
            self.finish(true);
        }
        let (control, output_dir, receipts) = (self.control.clone(), self.output_dir.take(), self.receipts);
        *self = Self::new(control, output_dir);
        self.receipts = receipts;
    }

    /// Takes in received bytes; answers go to `out`.
    fn receive(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut knobs = self.control.knobs();
        let start = knobs.received;
        knobs.received += bytes.len();
        let keep = match knobs.silent_after {
            Some(limit) if knobs.received > limit => limit.saturating_sub(start),
            _ => bytes.len(),
        };
        drop(knobs);
        if self.silent {
            return;
        }
        self.pending.extend_from_slice(&bytes[..keep.min(bytes.len())]);
        loop {
            match parse(&self.pending) {
                Parsed::Incomplete => break,
                Parsed::Command(n) => {
                    let command: Vec<u8> = self.pending.drain(..n).collect();
                    self.execute(&command, out);
                    self.tick(out);
                }
            }
        }
        if keep < bytes.len() {
            self.silent = true;
        }
    }

    fn execute(&mut self, c: &[u8], out: &mut Vec<u8>) {
        self.clear_resolved();
        // Real-time commands are obeyed whatever the printer is doing.
        if let [0x10, 0x04, n] = c {
            let query = match n {
                1 => StatusQuery::Printer,
                2 => StatusQuery::OfflineCause,
                3 => StatusQuery::ErrorCause,
                4 => StatusQuery::RollPaper,
                _ => return,
            };
            out.push(self.state().real_time_byte(query));
            return;
        }
        if let [0x1D, 0x61, n] = c {
            self.asb = *n != 0 && self.control.knobs().asb_supported;
            self.last_asb = None;
            return;
        }
        // A stopped printer keeps what it receives from printing (a real one waits with it
        // in its buffer; the job is lost either way).
        self.check_faults();
        if self.stopped.is_some() {
            return;
        }
        match c {
            [0x0A] => self.print_line(1),
            [0x0D] | [0x00] => {}
            [b] if *b >= 0x20 => {
                let ch = match b {
                    0x20..=0x7E => char::from(*b),
                    0x80..=0xAF if self.code_page == 3 => PC860_80_TO_AF[usize::from(b - 0x80)],
                    _ => '?',
                };
                self.line.push((ch, self.width, self.height, self.bold));
                if self.line.len() as u32 * CELL_W * self.width > PAPER_WIDTH_DOTS {
                    // The printer wraps a line longer than the paper at the edge.
                    let last = self.line.pop().expect("just pushed");
                    self.print_line(1);
                    self.line.push(last);
                }
            }
            [0x1B, 0x40] => {
                self.align = 0;
                self.bold = false;
                self.width = 1;
                self.height = 1;
                self.code_page = 0;
                self.line.clear();
                (self.barcode_height, self.barcode_module, self.barcode_text) = (162, 3, 0);
            }
            [0x1B, 0x74, n] => self.code_page = *n,
            [0x1B, 0x61, n] => self.align = n % 48,
            [0x1B, 0x45, n] => self.bold = n & 1 == 1,
            [0x1B, 0x64, n] => self.print_line(u32::from(*n).max(1)),
            [0x1B, 0x4A, n] => {
                self.flush_line();
                self.advance(u32::from(*n));
            }
            [0x1D, 0x21, n] => {
                self.width = u32::from(n >> 4) + 1;
                self.height = u32::from(n & 0x0F) + 1;
            }
            [0x1D, 0x76, 0x30, _, xl, xh, yl, yh, data @ ..] => {
                self.flush_line();
                let (x, y) = (u32::from(u16::from_le_bytes([*xl, *xh])), u32::from(u16::from_le_bytes([*yl, *yh])));
                let top = self.y;
                for row in 0..y {
                    for byte in 0..x {
                        let b = data[(row * x + byte) as usize];
                        for bit in 0..8 {
                            if b & (0x80 >> bit) != 0 {
                                self.paper.set((byte * 8 + bit) as i32, (top + row) as i32);
                            }
                        }
                    }
                }
                self.raster_rows += y;
                self.advance(y);
            }
            [0x1D, 0x28, 0x6B, _, _, 0x31, function, rest @ ..] => self.qr(*function, rest),
            [0x1D, 0x68, n] => self.barcode_height = u32::from(*n).max(1),
            [0x1D, 0x77, n] => self.barcode_module = u32::from(*n).clamp(1, 6),
            [0x1D, 0x48, n] => self.barcode_text = n % 48,
            [0x1D, 0x66, _] => {}
            [0x1D, 0x6B, 73, _, data @ ..] => self.code128(data),
            [0x1D, 0x28, 0x48, _, _, 0x30, 0x30, digits @ ..] => {
                // Everything before this has printed by now: answer with the id.
                out.extend_from_slice(&[0x37, 0x22]);
                out.extend_from_slice(digits);
                out.push(0x00);
            }
            [0x1D, 0x56, ..] => self.cut(),
            other => {
                let hex: Vec<String> = other.iter().take(8).map(|b| format!("{b:02X}")).collect();
                self.control.knobs().unknown.push(hex.join(" "));
            }
        }
    }

    fn qr(&mut self, function: u8, rest: &[u8]) {
        match (function, rest) {
            (0x43, [n]) => self.qr_module = u32::from(*n).clamp(1, 16),
            (0x45, [n]) => {
                self.qr_level = match n {
                    48 => EcLevel::L,
                    49 => EcLevel::M,
                    50 => EcLevel::Q,
                    _ => EcLevel::H,
                }
            }
            (0x50, [0x30, data @ ..]) => self.qr_data = data.to_vec(),
            (0x51, _) => {
                self.flush_line();
                // A symbol the printer cannot build prints nothing, as on a real printer.
                if let Ok(code) = QrCode::with_error_correction_level(&self.qr_data, self.qr_level) {
                    let size = code.width() as u32 * self.qr_module;
                    let left = match self.align {
                        1 => (PAPER_WIDTH_DOTS.saturating_sub(size)) / 2,
                        2 => PAPER_WIDTH_DOTS.saturating_sub(size),
                        _ => 0,
                    };
                    draw_qr(&mut self.paper, &code, left, self.y, self.qr_module);
                    self.advance(size);
                }
            }
            _ => {}
        }
    }

    /// `GS k 73`: Code 128. The data starts with a code set (`{A`, `{B`, `{C`); `{{` is a
    /// literal `{`; in code set C each byte is two digits. Data the printer cannot make a
    /// symbol of prints nothing, as on a real printer.
    fn code128(&mut self, data: &[u8]) {
        self.flush_line();
        let mut symbol = String::new();
        let mut text = String::new();
        let mut set = None;
        let mut bytes = data.iter();
        while let Some(&b) = bytes.next() {
            if b == b'{' {
                match bytes.next() {
                    Some(b'A') => (set, symbol) = (Some('A'), symbol + "\u{00C0}"),
                    Some(b'B') => (set, symbol) = (Some('B'), symbol + "\u{0181}"),
                    Some(b'C') => (set, symbol) = (Some('C'), symbol + "\u{0106}"),
                    Some(b'{') => {
                        symbol.push('{');
                        text.push('{');
                    }
                    _ => return, // FNC codes and shifts: not used by the kiosk
                }
                continue;
            }
            match set {
                Some('C') if b <= 99 => {
                    symbol.push_str(&format!("{b:02}"));
                    text.push_str(&format!("{b:02}"));
                }
                Some('A' | 'B') => {
                    symbol.push(char::from(b));
                    text.push(char::from(b));
                }
                _ => return,
            }
        }
        let Ok(modules) = barcoders::sym::code128::Code128::new(&symbol).map(|c| c.encode()) else { return };
        let width = modules.len() as u32 * self.barcode_module;
        if width > PAPER_WIDTH_DOTS {
            return;
        }
        let left = match self.align {
            1 => (PAPER_WIDTH_DOTS - width) / 2,
            2 => PAPER_WIDTH_DOTS - width,
            _ => 0,
        };
        if matches!(self.barcode_text, 1 | 3) {
            self.print_text_line(&text);
        }
        draw_barcode(&mut self.paper, &modules, left, self.y, self.barcode_module, self.barcode_height);
        self.advance(self.barcode_height);
        if matches!(self.barcode_text, 2 | 3) {
            self.print_text_line(&text);
        }
    }

    /// A line of font A at normal size, as a barcode's text is printed.
    fn print_text_line(&mut self, text: &str) {
        self.line.extend(text.chars().map(|c| (c, 1, 1, false)));
        self.print_line(1);
    }

    /// Prints the line buffer (an empty one feeds a blank line) and feeds `lines` lines.
    fn print_line(&mut self, lines: u32) {
        let height = self.line.iter().map(|&(_, _, h, _)| h).max().unwrap_or(1) * CELL_H;
        self.flush_line();
        self.advance(height + LINE_GAP + (lines - 1) * (CELL_H + LINE_GAP));
    }

    /// Lays out the buffered characters at the current position, without feeding.
    fn flush_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.line);
        let width: u32 = line.iter().map(|&(_, w, _, _)| w * CELL_W).sum();
        let tallest = line.iter().map(|&(_, _, h, _)| h).max().unwrap_or(1) * CELL_H;
        // Alignment is taken at the start of a line, as the printer does.
        let mut x = match self.align {
            1 => (PAPER_WIDTH_DOTS.saturating_sub(width)) / 2,
            2 => PAPER_WIDTH_DOTS.saturating_sub(width),
            _ => 0,
        };
        for (c, w, h, bold) in &line {
            let (cell_width, cell_height) = (w * CELL_W, h * CELL_H);
            // Characters of a line share its baseline.
            self.glyphs.push(Glyph { c: *c, x, y: self.y + tallest - cell_height, cell_width, cell_height, bold: *bold });
            x += cell_width;
        }
        self.text.push(line.iter().map(|&(c, ..)| c).collect::<String>().trim_end().to_string());
        self.paper.grow_to(self.y + tallest);
    }

    /// Moves the paper `dots` forward, running the roll out if it ends.
    fn advance(&mut self, dots: u32) {
        let speed = self.control.knobs().speed_mm_per_s;
        if let Some(speed) = speed.filter(|&s| s > 0) {
            std::thread::sleep(Duration::from_secs_f64(f64::from(dots) / f64::from(speed * DOTS_PER_MM)));
        }
        let mut remaining = dots;
        while remaining > 0 {
            let step = remaining.min(DOTS_PER_MM - self.dots_since_mm);
            self.y += step;
            self.dots_since_mm += step;
            remaining -= step;
            if self.dots_since_mm == DOTS_PER_MM {
                self.dots_since_mm = 0;
                let mut knobs = self.control.knobs();
                if let Some(mm) = knobs.paper_left_mm.as_mut() {
                    *mm = mm.saturating_sub(1);
                    if *mm == 0 {
                        drop(knobs);
                        self.stop(Stop::PaperEnd);
                        return;
                    }
                }
            }
        }
        self.paper.grow_to(self.y);
    }

    /// Printing stops: what came out so far, if anything, is a receipt cut short.
    fn stop(&mut self, why: Stop) {
        self.stopped = Some(why);
        if !self.paper_is_blank() {
            self.flush_line();
            self.finish(true);
        }
    }

    fn cut(&mut self) {
        self.flush_line();
        self.finish(false);
    }

    fn finish(&mut self, incomplete: bool) {
        self.receipts += 1;
        let job = self.receipts;
        let mut paper = std::mem::replace(&mut self.paper, Bitmap::new(PAPER_WIDTH_DOTS));
        paper.grow_to(self.y.max(1));
        let glyphs = std::mem::take(&mut self.glyphs);
        let mut png = None;
        if !glyphs.is_empty() {
            match self.renderer.get() {
                Ok(renderer) => {
                    if let Err(e) = renderer.draw_glyphs(&mut paper, &glyphs) {
                        tracing::warn!(error = %e, "the virtual printer could not draw its font");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the virtual printer has no font: text is left out of its pictures"),
            }
        }
        if let Some(dir) = &self.output_dir {
            let path = dir.join(format!("receipt-{job:04}.png"));
            match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, paper.to_png())) {
                Ok(()) => png = Some(path),
                Err(e) => tracing::warn!(error = %e, path = %path.display(), "the virtual printer could not save its printout"),
            }
        }
        let text = std::mem::take(&mut self.text).join("\n");
        let raster_rows = std::mem::take(&mut self.raster_rows);
        self.y = 0;
        self.control.knobs().printed.push(PrintedReceipt { job, text, raster_rows, png, incomplete });
    }
}

/// How many bytes the command at the start of `b` takes. Unknown commands are taken as their
/// two command bytes plus one parameter, the most common shape.
fn parse(b: &[u8]) -> Parsed {
    let need = |n: usize| if b.len() >= n { Parsed::Command(n) } else { Parsed::Incomplete };
    let le = |lo: u8, hi: u8| usize::from(lo) + 256 * usize::from(hi);
    match b {
        [] => Parsed::Incomplete,
        [0x10] | [0x1B] | [0x1D] => Parsed::Incomplete,
        [0x10, 0x04, ..] | [0x10, 0x05, ..] => need(3),
        [0x10, 0x14, ..] => need(5),
        [0x1B, 0x40, ..] | [0x1B, 0x32, ..] | [0x1B, 0x3C, ..] => need(2),
        [0x1B, ..] => need(3),
        [0x1D, 0x76, 0x30, _, xl, xh, yl, yh, ..] => need(8 + le(*xl, *xh) * le(*yl, *yh)),
        [0x1D, 0x76, ..] => Parsed::Incomplete,
        [0x1D, 0x28, _, pl, ph, ..] => need(5 + le(*pl, *ph)),
        [0x1D, 0x28, ..] => Parsed::Incomplete,
        [0x1D, 0x56, 0 | 1 | 48 | 49, ..] => need(3),
        [0x1D, 0x56, ..] => need(4),
        [0x1D, 0x6B, m, rest @ ..] if *m <= 6 => match rest.iter().position(|&x| x == 0) {
            Some(end) => Parsed::Command(4 + end),
            None => Parsed::Incomplete,
        },
        [0x1D, 0x6B, _, n, ..] => need(4 + usize::from(*n)),
        [0x1D, 0x6B, ..] => Parsed::Incomplete,
        [0x1D, ..] => need(3),
        _ => Parsed::Command(1),
    }
}

/// A virtual printer listening on a TCP port, as a network printer does on 9100. One client at
/// a time; it stops when dropped.
pub struct VirtualPrinter {
    control: VirtualPrinterControl,
    address: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for VirtualPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualPrinter").field("address", &self.address).finish_non_exhaustive()
    }
}

/// How often the printer looks at its knobs while no bytes arrive.
const TICK: Duration = Duration::from_millis(20);

impl VirtualPrinter {
    fn control_new() -> VirtualPrinterControl {
        VirtualPrinterControl(Arc::new(Mutex::new(Knobs {
            paper_left_mm: None,
            near_end_mm: 300,
            cover_open: false,
            mechanism_fault: false,
            powered_off: false,
            silent_after: None,
            speed_mm_per_s: None,
            line_baud: None,
            asb_supported: true,
            printed: Vec::new(),
            unknown: Vec::new(),
            received: 0,
        })))
    }

    /// Listens on `address` (use port 0 on 127.0.0.1 in tests). Receipts are saved under
    /// `output_dir` as `receipt-NNNN.png`.
    pub fn listen_tcp(address: SocketAddr, output_dir: Option<&Path>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let control = Self::control_new();
        let stop = Arc::new(AtomicBool::new(false));
        let printer = Self { control: control.clone(), address: Some(listener.local_addr()?), stop: stop.clone() };
        let mut engine = Engine::new(control.clone(), output_dir.map(Path::to_path_buf));
        std::thread::Builder::new().name("virtual-escpos-tcp".into()).spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if control.knobs().powered_off {
                            continue; // Dropped at once: the connection is refused in effect.
                        }
                        engine.pending.clear();
                        if let Err(e) = serve_tcp(stream, &mut engine, &stop) {
                            tracing::debug!(error = %e, "virtual printer connection ended");
                        }
                        if control.knobs().powered_off {
                            engine.power_cycle();
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(TICK),
                    Err(e) => {
                        tracing::warn!(error = %e, "virtual printer stopped listening");
                        return;
                    }
                }
            }
        })?;
        Ok(printer)
    }

    /// Serves a serial line: `path` is a tty (one end of a socat pty pair in tests).
    pub fn open_serial(path: &Path, output_dir: Option<&Path>) -> std::io::Result<Self> {
        use serialport::SerialPort as _;
        let port = serialport::new(path.to_string_lossy(), 115_200).timeout(TICK).open_native().map_err(std::io::Error::other)?;
        // Bytes written to a pty before it was opened arrive as stale data: start clean.
        let _ = port.clear(serialport::ClearBuffer::All);
        let control = Self::control_new();
        let stop = Arc::new(AtomicBool::new(false));
        let printer = Self { control: control.clone(), address: None, stop: stop.clone() };
        let mut engine = Engine::new(control, output_dir.map(Path::to_path_buf));
        std::thread::Builder::new().name("virtual-escpos-serial".into()).spawn(move || {
            let mut port = port;
            if let Err(e) = serve(&mut port, &mut engine, &stop, |_| false) {
                tracing::debug!(error = %e, "virtual printer serial line ended");
            }
        })?;
        Ok(printer)
    }

    pub fn control(&self) -> VirtualPrinterControl {
        self.control.clone()
    }

    /// The TCP address it listens on.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve_tcp(stream: TcpStream, engine: &mut Engine, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_nodelay(true)?;
    let mut stream = stream;
    // Powered off: the connection goes down with the printer.
    serve(&mut stream, engine, stop, |engine| engine.control.knobs().powered_off)
}

fn serve<S: Read + Write>(
    stream: &mut S,
    engine: &mut Engine,
    stop: &AtomicBool,
    hang_up: impl Fn(&Engine) -> bool,
) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    while !stop.load(Ordering::SeqCst) && !hang_up(engine) {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                let (powered_off, baud) = {
                    let knobs = engine.control.knobs();
                    (knobs.powered_off, knobs.line_baud)
                };
                if let Some(baud) = baud.filter(|&b| b > 0) {
                    std::thread::sleep(Duration::from_secs_f64(n as f64 * 10.0 / f64::from(baud)));
                }
                if !powered_off {
                    engine.receive(&buf[..n], &mut out);
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
        engine.tick(&mut out);
        if !out.is_empty() && !engine.silent {
            stream.write_all(&out)?;
            stream.flush()?;
        }
        out.clear();
    }
    Ok(())
}
