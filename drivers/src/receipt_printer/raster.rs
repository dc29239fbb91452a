//! Draws a [`Receipt`] as a thermal printer prints it: 1 bit per dot, 576 dots across
//! (80 mm paper, 72 mm printable at 203 dpi).
//!
//! Written here rather than taken from a crate because no crate lays out receipt blocks; the
//! glyphs come from `ab_glyph`, the fonts are found with `fontdb`, the QR modules come from
//! `qrcode` and the Code 128 bars from `barcoders`. Text is drawn with a CJK font that also covers Latin, so Chinese, Portuguese and
//! English print alike on printers that have no CJK font of their own.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use qrcode::{Color, EcLevel, QrCode};

use super::{Align, Block, Receipt, TextSize};

/// Dots across the printable width of 80 mm paper at 203 dpi.
pub const PAPER_WIDTH_DOTS: u32 = 576;
/// Dots per millimetre at 203 dpi.
pub const DOTS_PER_MM: u32 = 8;
/// A barcode's narrowest bar: 2 dots (0.25 mm), which hand scanners read at arm's length.
pub const BARCODE_MODULE_DOTS: u32 = 2;
/// A barcode's height: 80 dots (10 mm).
pub const BARCODE_HEIGHT_DOTS: u32 = 80;
/// Blank modules each side of a barcode, which scanners need to find its ends.
const BARCODE_QUIET_MODULES: u32 = 10;

/// Families tried in order: Traditional Chinese first (Macao and Hong Kong forms of the
/// glyphs), then any Noto CJK face.
const FAMILIES: &[&str] = &["Noto Sans CJK TC", "Noto Sans CJK HK", "Noto Sans TC", "Noto Sans CJK SC", "Noto Sans CJK JP"];

#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// No font with Chinese glyphs is installed; on Debian install `fonts-noto-cjk`.
    #[error("no font with Chinese glyphs found (tried {tried}); install the Debian package fonts-noto-cjk")]
    NoFont { tried: String },
    /// The font file could not be read or parsed.
    #[error("the font file could not be used: {0}")]
    BadFont(String),
    /// The QR payload does not fit in a QR code.
    #[error("QR payload of {len} bytes cannot be encoded: {reason}")]
    Qr { len: usize, reason: String },
    /// The barcode payload is not printable ASCII, or too long for the paper.
    #[error("barcode payload {payload:?} cannot be printed: {reason}")]
    Barcode { payload: String, reason: String },
}

/// The bars of a Code 128 symbol (character set B) for `payload`, one entry per module
/// (1 = bar), checked to fit across the paper with its quiet zones.
pub fn code128_modules(payload: &str) -> Result<Vec<u8>, RasterError> {
    let refuse = |reason: &str| RasterError::Barcode { payload: payload.to_string(), reason: reason.to_string() };
    if payload.is_empty() || !payload.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
        return Err(refuse("only printable ASCII (letters, digits, punctuation) can be in a barcode"));
    }
    // 'Ɓ' selects character set B in `barcoders`' notation.
    let modules = barcoders::sym::code128::Code128::new(format!("\u{0181}{payload}")).map_err(|e| refuse(&e.to_string()))?.encode();
    let across = (modules.len() as u32 + 2 * BARCODE_QUIET_MODULES) * BARCODE_MODULE_DOTS;
    if across > PAPER_WIDTH_DOTS {
        return Err(refuse(&format!("{across} dots wide with its quiet zones, wider than the paper's {PAPER_WIDTH_DOTS}")));
    }
    Ok(modules)
}

/// Draws bars, `module` dots per module and `height` dots high, from (`left`, `top`).
pub fn draw_barcode(bitmap: &mut Bitmap, modules: &[u8], left: u32, top: u32, module: u32, height: u32) {
    for (i, bar) in modules.iter().enumerate() {
        if *bar == 1 {
            bitmap.fill(left + i as u32 * module, top, module, height);
        }
    }
}

/// A printed strip of paper: `true` is a black dot.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    dots: Vec<bool>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitmap({}x{})", self.width, self.height)
    }
}

impl Bitmap {
    /// An empty strip `width` dots across.
    pub fn new(width: u32) -> Self {
        Self { width, height: 0, dots: Vec::new() }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Paper length in millimetres.
    pub fn length_mm(&self) -> u32 {
        self.height.div_ceil(DOTS_PER_MM)
    }

    pub fn is_black(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.dots[(y * self.width + x) as usize]
    }

    /// Number of black dots in a rectangle (clipped to the bitmap).
    pub fn ink_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        (y0..y1.min(self.height)).flat_map(|y| (x0..x1.min(self.width)).map(move |x| (x, y))).filter(|&(x, y)| self.is_black(x, y)).count()
    }

    /// The top `height` dots of the strip: what came out before the paper ran out.
    pub fn truncated(&self, height: u32) -> Self {
        let height = height.min(self.height);
        Self { width: self.width, height, dots: self.dots[..(self.width * height) as usize].to_vec() }
    }

    /// Lengthens the strip to `height` dots of white paper.
    pub fn grow_to(&mut self, height: u32) {
        if height > self.height {
            self.height = height;
            self.dots.resize((self.width * height) as usize, false);
        }
    }

    /// Burns one dot; dots left of the paper or right of its edge are dropped.
    pub fn set(&mut self, x: i32, y: i32) {
        if x >= 0 && y >= 0 && (x as u32) < self.width {
            self.grow_to(y as u32 + 1);
            let i = (y as u32 * self.width + x as u32) as usize;
            self.dots[i] = true;
        }
    }

    pub fn fill(&mut self, x: u32, y: u32, w: u32, h: u32) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx as i32, yy as i32);
            }
        }
    }

    /// 8-bit greyscale PNG, white paper and black dots.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height.max(1));
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let pixels: Vec<u8> =
            if self.height == 0 { vec![255; self.width as usize] } else { self.dots.iter().map(|&b| if b { 0 } else { 255 }).collect() };
        // Writing to a Vec cannot fail for a well-formed header, which these sizes always give.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&pixels);
        }
        out
    }
}

/// The fonts a receipt is drawn with, found once among the installed fonts.
pub struct ReceiptFonts {
    db: fontdb::Database,
    regular: fontdb::ID,
    bold: fontdb::ID,
}

impl std::fmt::Debug for ReceiptFonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptFonts").finish_non_exhaustive()
    }
}

impl ReceiptFonts {
    /// Finds a CJK font (regular and bold) among the system's fonts.
    pub fn system() -> Result<Self, RasterError> {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        Self::from_database(db)
    }

    fn from_database(db: fontdb::Database) -> Result<Self, RasterError> {
        let find = |weight| {
            FAMILIES.iter().find_map(|family| {
                db.query(&fontdb::Query { families: &[fontdb::Family::Name(family)], weight, ..fontdb::Query::default() })
            })
        };
        let regular = find(fontdb::Weight::NORMAL).ok_or_else(|| RasterError::NoFont { tried: FAMILIES.join(", ") })?;
        let bold = find(fontdb::Weight::BOLD).unwrap_or(regular);
        Ok(Self { db, regular, bold })
    }

    /// The regular face's name and whether it draws every character of `text` (a
    /// technician's check that the kiosk's fonts carry each of its languages).
    pub fn covers(&self, text: &str) -> Result<(String, bool), RasterError> {
        let name = self.db.face(self.regular).and_then(|face| face.families.first().map(|(name, _)| name.clone())).unwrap_or_default();
        let covered = self.with_fonts(|regular, _| text.chars().filter(|c| !c.is_whitespace()).all(|c| regular.glyph_id(c).0 != 0))?;
        Ok((name, covered))
    }

    fn with_fonts<T>(&self, f: impl FnOnce(&FontRef<'_>, &FontRef<'_>) -> T) -> Result<T, RasterError> {
        fn parse(data: &[u8], index: u32) -> Result<FontRef<'_>, RasterError> {
            FontRef::try_from_slice_and_index(data, index).map_err(|e| RasterError::BadFont(e.to_string()))
        }
        // fontdb hands out the face data only inside a closure (it may be memory-mapped).
        let outer = self.db.with_face_data(self.regular, |regular, ri| {
            let regular = parse(regular, ri)?;
            let inner = self.db.with_face_data(self.bold, |bold, bi| {
                let bold = parse(bold, bi)?;
                Ok::<T, RasterError>(f(&regular, &bold))
            });
            inner.ok_or_else(|| RasterError::BadFont("bold face vanished".into()))?
        });
        outer.ok_or_else(|| RasterError::BadFont("regular face vanished".into()))?
    }
}

/// Lays receipts out and draws them.
#[derive(Debug)]
pub struct RasterRenderer {
    fonts: ReceiptFonts,
    width: u32,
}

impl RasterRenderer {
    pub fn new(fonts: ReceiptFonts) -> Self {
        Self { fonts, width: PAPER_WIDTH_DOTS }
    }

    /// The whole receipt as it comes out of the printer, margins included.
    pub fn render(&self, receipt: &Receipt) -> Result<Bitmap, RasterError> {
        // The paper starts a little above the first line and continues to the cutter, a
        // little below the last.
        self.draw(&receipt.blocks, 16, 48)
    }

    /// Blocks drawn edge to edge with no margin: a band an ESC/POS driver sends as a raster
    /// image when the printer's own fonts cannot print its text.
    pub fn render_blocks(&self, blocks: &[Block]) -> Result<Bitmap, RasterError> {
        self.draw(blocks, 0, 0)
    }

    fn draw(&self, blocks: &[Block], top: u32, bottom: u32) -> Result<Bitmap, RasterError> {
        self.fonts.with_fonts(|regular, bold| {
            let mut pen = Pen { bitmap: Bitmap::new(self.width), y: top, regular, bold };
            for block in blocks {
                pen.block(block)?;
            }
            let end = pen.y + bottom;
            pen.bitmap.grow_to(end);
            Ok(pen.bitmap)
        })?
    }
}

/// One character of a printer's own font, drawn in its cell: font A is 12 × 24 dots, and
/// `GS !` multiplies the cell's width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Glyph {
    pub c: char,
    /// Top-left corner of the cell, in dots.
    pub x: u32,
    pub y: u32,
    pub cell_width: u32,
    pub cell_height: u32,
    pub bold: bool,
}

impl RasterRenderer {
    /// Draws characters the way a printer's resident font prints them: one per cell, centred.
    pub fn draw_glyphs(&self, bitmap: &mut Bitmap, glyphs: &[Glyph]) -> Result<(), RasterError> {
        self.fonts.with_fonts(|regular, bold| {
            for g in glyphs {
                let font = if g.bold { bold } else { regular };
                // The resident font fills a cell half as wide as it is tall; a CJK face's Latin
                // glyphs are about half an em wide, so the em is about twice the cell's width.
                let scale = PxScale { x: g.cell_width as f32 * 1.9, y: g.cell_height as f32 * 1.05 };
                let scaled = font.as_scaled(scale);
                let id = scaled.glyph_id(g.c);
                let left = g.x as f32 + (g.cell_width as f32 - scaled.h_advance(id)).max(0.0) / 2.0;
                let baseline = g.y as f32 + scaled.ascent() + (g.cell_height as f32 - scaled.height()) / 2.0;
                if let Some(outline) = font.outline_glyph(id.with_scale_and_position(scale, point(left, baseline))) {
                    let bounds = outline.px_bounds();
                    outline.draw(|gx, gy, coverage| {
                        if coverage >= 0.5 {
                            bitmap.set(bounds.min.x as i32 + gx as i32, bounds.min.y as i32 + gy as i32);
                        }
                    });
                }
            }
        })
    }
}

/// A renderer that looks for its fonts the first time it is needed: a printer whose receipts
/// never need a raster image never needs a font.
#[derive(Debug, Default)]
pub struct LazyRenderer(Option<RasterRenderer>);

impl LazyRenderer {
    pub fn get(&mut self) -> Result<&RasterRenderer, RasterError> {
        if self.0.is_none() {
            self.0 = Some(RasterRenderer::new(ReceiptFonts::system()?));
        }
        Ok(self.0.as_ref().expect("set above"))
    }
}

fn pixel_size(size: TextSize) -> f32 {
    match size {
        TextSize::Normal => 26.0,
        TextSize::Large => 34.0,
        TextSize::Title => 44.0,
        TextSize::Display => 128.0,
    }
}

struct Pen<'f> {
    bitmap: Bitmap,
    y: u32,
    regular: &'f FontRef<'f>,
    bold: &'f FontRef<'f>,
}

impl Pen<'_> {
    fn block(&mut self, block: &Block) -> Result<(), RasterError> {
        match block {
            Block::Text { text, align, size, bold } => {
                let scale = PxScale::from(pixel_size(*size));
                for line in self.wrap(text, scale, *bold, self.bitmap.width) {
                    let width = self.measure(&line, scale, *bold);
                    let x = match align {
                        Align::Left => 0.0,
                        Align::Center => (self.bitmap.width as f32 - width).max(0.0) / 2.0,
                        Align::Right => (self.bitmap.width as f32 - width).max(0.0),
                    };
                    self.line(&line, x, scale, *bold);
                }
            }
            Block::Row { label, value, bold } => {
                let scale = PxScale::from(pixel_size(TextSize::Normal));
                let value_width = self.measure(value, scale, *bold);
                let gap = 16.0;
                let label_room = (self.bitmap.width as f32 - value_width - gap).max(0.0) as u32;
                let label_lines = self.wrap(label, scale, *bold, label_room.max(self.bitmap.width / 3));
                let fits = label_lines.len() == 1 && self.measure(&label_lines[0], scale, *bold) <= label_room as f32;
                if fits {
                    let top = self.y;
                    self.line(&label_lines[0], 0.0, scale, *bold);
                    self.y = top;
                    let x = self.bitmap.width as f32 - value_width;
                    self.line(value, x, scale, *bold);
                } else {
                    for line in self.wrap(label, scale, *bold, self.bitmap.width) {
                        self.line(&line, 0.0, scale, *bold);
                    }
                    for line in self.wrap(value, scale, *bold, self.bitmap.width) {
                        let x = self.bitmap.width as f32 - self.measure(&line, scale, *bold);
                        self.line(&line, x.max(0.0), scale, *bold);
                    }
                }
            }
            Block::Rule => {
                self.y += 10;
                self.bitmap.fill(0, self.y, self.bitmap.width, 2);
                self.y += 14;
            }
            Block::Qr { payload } => self.qr(payload)?,
            Block::Barcode { payload } => {
                let modules = code128_modules(payload)?;
                let width = modules.len() as u32 * BARCODE_MODULE_DOTS;
                self.y += 8;
                let left = (self.bitmap.width - width) / 2;
                draw_barcode(&mut self.bitmap, &modules, left, self.y, BARCODE_MODULE_DOTS, BARCODE_HEIGHT_DOTS);
                self.y += BARCODE_HEIGHT_DOTS + 4;
                let scale = PxScale::from(pixel_size(TextSize::Normal));
                let x = (self.bitmap.width as f32 - self.measure(payload, scale, false)).max(0.0) / 2.0;
                self.line(payload, x, scale, false);
            }
            Block::Feed(lines) => {
                self.y += u32::from(*lines) * line_height(PxScale::from(pixel_size(TextSize::Normal)));
                self.bitmap.grow_to(self.y);
            }
        }
        Ok(())
    }

    fn font(&self, bold: bool) -> &FontRef<'_> {
        if bold { self.bold } else { self.regular }
    }

    fn measure(&self, text: &str, scale: PxScale, bold: bool) -> f32 {
        let font = self.font(bold).as_scaled(scale);
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                width += font.kern(p, id);
            }
            width += font.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// Breaks text into lines no wider than `max`: at spaces in Latin text, between any two
    /// characters in Chinese text (which has no spaces), and at explicit newlines.
    fn wrap(&self, text: &str, scale: PxScale, bold: bool, max: u32) -> Vec<String> {
        let max = max as f32;
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for c in paragraph.chars() {
                line.push(c);
                if self.measure(&line, scale, bold) <= max {
                    continue;
                }
                line.pop();
                let break_at = line.rfind(' ').filter(|&i| i > 0 && !c.is_whitespace());
                match break_at {
                    Some(i) if !is_wide(c) => {
                        let rest = line[i + 1..].to_string();
                        line.truncate(i);
                        lines.push(std::mem::take(&mut line));
                        line = rest;
                    }
                    _ => lines.push(std::mem::take(&mut line)),
                }
                if !(c == ' ' && line.is_empty()) {
                    line.push(c);
                }
            }
            lines.push(line);
        }
        lines
    }

    fn line(&mut self, text: &str, x: f32, scale: PxScale, bold: bool) {
        let font = self.font(bold).as_scaled(scale);
        let baseline = self.y as f32 + font.ascent();
        let mut caret = x;
        let mut previous = None;
        let mut dots = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                caret += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += font.h_advance(id);
            previous = Some(id);
            if let Some(outline) = self.font(bold).outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    // A thermal head either burns a dot or not: threshold the coverage.
                    if coverage >= 0.5 {
                        dots.push((bounds.min.x as i32 + gx as i32, bounds.min.y as i32 + gy as i32));
                    }
                });
            }
        }
        for (x, y) in dots {
            self.bitmap.set(x, y);
        }
        self.y += line_height(scale);
        self.bitmap.grow_to(self.y);
    }

    fn qr(&mut self, payload: &str) -> Result<(), RasterError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
            .map_err(|e| RasterError::Qr { len: payload.len(), reason: e.to_string() })?;
        let modules = code.width() as u32;
        // Quiet zone of four modules each side; modules of at most 6 dots (0.75 mm), which
        // phone cameras and kiosk scanners read comfortably.
        let module = (self.bitmap.width / (modules + 8)).clamp(2, 6);
        let size = modules * module;
        let left = (self.bitmap.width - size) / 2;
        self.y += 4 * module;
        draw_qr(&mut self.bitmap, &code, left, self.y, module);
        self.y += size + 4 * module;
        self.bitmap.grow_to(self.y);
        Ok(())
    }
}

/// Draws a QR symbol, `module` dots per module, its top-left corner at (`left`, `top`).
pub fn draw_qr(bitmap: &mut Bitmap, code: &QrCode, left: u32, top: u32, module: u32) {
    let modules = code.width() as u32;
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (mx, my) = (i as u32 % modules, i as u32 / modules);
            bitmap.fill(left + mx * module, top + my * module, module, module);
        }
    }
}

fn line_height(scale: PxScale) -> u32 {
    (scale.y * 1.3).ceil() as u32
}

/// Characters that take a full em and may be broken between (CJK ideographs, kana, fullwidth
/// forms).
fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> RasterRenderer {
        RasterRenderer::new(ReceiptFonts::system().expect("fonts-noto-cjk is installed by tools/setup"))
    }

    fn decode_qr(bitmap: &Bitmap) -> Vec<String> {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(bitmap.width() as usize, bitmap.height() as usize, |x, y| {
            if bitmap.is_black(x as u32, y as u32) { 0 } else { 255 }
        });
        img.detect_grids().into_iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
    }

    /// What zbar (zbar-tools, a reader nobody on the team wrote) reads off the paper.
    #[cfg(feature = "simulators")]
    fn zbar(bitmap: &Bitmap) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = dir.path().join("paper.png");
        std::fs::write(&png, bitmap.to_png()).expect("png");
        crate::receipt_printer::escpos::sim::read_codes(&png).expect("zbarimg reads the paper")
    }

    #[test]
    #[cfg(feature = "simulators")]
    fn a_barcode_on_the_paper_reads_back_as_its_payload_with_its_text_below() {
        let bitmap = renderer().render(&Receipt::new().title("Recibo").barcode("SJ01-261123-0042")).expect("render");
        assert_eq!(zbar(&bitmap), ["CODE-128:SJ01-261123-0042"]);
        let bars = bitmap.height();
        let plain = renderer().render(&Receipt::new().title("Recibo")).expect("render");
        assert!(bars > plain.height() + BARCODE_HEIGHT_DOTS + 24, "bars and a line of text: {bars} vs {}", plain.height());
        assert!(matches!(code128_modules("申請"), Err(RasterError::Barcode { .. })));
    }

    #[test]
    fn qr_code_on_the_paper_decodes_to_its_payload() {
        let payload = "https://status.balcao.example/a/SJ01-261122-0007";
        let bitmap = renderer().render(&Receipt::new().title("Receipt").qr(payload)).expect("render");
        assert_eq!(decode_qr(&bitmap), vec![payload.to_string()]);
    }

    #[test]
    fn chinese_text_is_drawn_not_dropped() {
        let r = renderer();
        let empty = r.render(&Receipt::new().text("")).expect("render");
        let chinese = r.render(&Receipt::new().text("刑事紀錄證明書")).expect("render");
        // Seven ideographs at 26 px leave hundreds of black dots; a missing glyph leaves none.
        let ink = chinese.ink_in(0, 0, chinese.width(), chinese.height());
        assert!(ink > 700, "only {ink} dots of ink for seven ideographs");
        assert_eq!(empty.ink_in(0, 0, empty.width(), empty.height()), 0);
    }

    #[test]
    fn long_text_wraps_and_makes_the_receipt_longer() {
        let r = renderer();
        let short = r.render(&Receipt::new().text("Certidão")).expect("render");
        let long = r
            .render(&Receipt::new().text("Certidão de registo de nascimento emitida pela Conservatória do Registo Civil de Macau"))
            .expect("render");
        assert!(long.height() > short.height() + 30, "{} vs {}", long.height(), short.height());
        // Nothing is drawn past the right edge: the last column holds no ink from wrapped text.
        assert_eq!(long.ink_in(PAPER_WIDTH_DOTS - 2, 0, PAPER_WIDTH_DOTS, long.height()), 0);
    }

    #[test]
    fn a_payload_too_long_for_a_qr_code_is_an_error() {
        let payload = "x".repeat(5000);
        let err = renderer().render(&Receipt::new().qr(payload)).expect_err("too long");
        assert!(matches!(err, RasterError::Qr { len: 5000, .. }), "{err}");
    }

    #[test]
    fn png_has_the_bitmap_size() {
        let bitmap = renderer().render(&Receipt::new().title("Balcão").rule()).expect("render");
        let png = bitmap.to_png();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().expect("valid png");
        assert_eq!(reader.info().width, PAPER_WIDTH_DOTS);
        assert_eq!(reader.info().height, bitmap.height());
    }
}
