//! The printable certificate the reference central issues for the agency: an A4 PDF made with
//! `krilla` (a maintained PDF library: fonts embedded as subsets, text that extracts as the
//! characters it shows), a page per copy, in Chinese, Portuguese and English as Macao's official
//! papers are, the holder's name in each script they have, and a verification QR code: central's
//! public address, `/verify/`, then the code the agency signed (see
//! `balcao_backend_client::api::certificate`).
//!
//! The fonts are Noto CJK (Debian's `fonts-noto-cjk`): one family draws Chinese, Portuguese's
//! accents and English alike, so no text falls back to a missing glyph.

use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};

/// The families tried, most formal first.
const FAMILIES: [&str; 2] = ["Noto Serif CJK TC", "Noto Sans CJK TC"];
/// A4 in points.
const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 48.0;
const QR_SIZE: f32 = 118.0;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("no font that draws Chinese was found (tried {0}): install Debian's fonts-noto-cjk")]
    NoFont(String),
    #[error("the verification code does not fit a QR code: {0}")]
    Qr(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// The regular and bold faces.
#[derive(Clone)]
pub struct Fonts {
    regular: Font,
    bold: Font,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts")
    }
}

impl Fonts {
    /// The system's Noto CJK faces, found once per process (the files are large).
    pub fn system() -> Result<Self, DocumentError> {
        static FOUND: OnceLock<Result<Fonts, String>> = OnceLock::new();
        FOUND.get_or_init(|| Self::find().map_err(|e| e.to_string())).clone().map_err(|_| DocumentError::NoFont(FAMILIES.join(", ")))
    }

    fn find() -> Result<Self, DocumentError> {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        let face = |family: &str, weight| {
            let id = db.query(&fontdb::Query { families: &[fontdb::Family::Name(family)], weight, ..fontdb::Query::default() })?;
            // fontdb hands the data out only inside the closure (it may be memory-mapped).
            let (data, index) = db.with_face_data(id, |data, index| (data.to_vec(), index))?;
            Font::new(Arc::new(data).into(), index)
        };
        for family in FAMILIES {
            if let Some(regular) = face(family, fontdb::Weight::NORMAL) {
                let bold = face(family, fontdb::Weight::BOLD).unwrap_or_else(|| regular.clone());
                return Ok(Self { regular, bold });
            }
        }
        Err(DocumentError::NoFont(FAMILIES.join(", ")))
    }
}

/// A label or a sentence in the three languages.
#[derive(Clone, Debug)]
pub struct Trilingual {
    pub zh: String,
    pub pt: String,
    pub en: String,
}

impl Trilingual {
    pub fn new(zh: &str, pt: &str, en: &str) -> Self {
        Self { zh: zh.into(), pt: pt.into(), en: en.into() }
    }
}

/// What a certificate shows.
#[derive(Clone)]
pub struct Certificate {
    pub agency: Trilingual,
    pub title: Trilingual,
    /// The holder's names, Latin first, then Chinese where they have one.
    pub holder_names: Vec<String>,
    pub document_number: String,
    pub reference: String,
    /// `YYYY-MM-DD`.
    pub issued: String,
    pub copies: u32,
    /// The QR code's content: the verification page's address with the signed code.
    pub verify_url: String,
    /// Where the page is, shown in words under the code.
    pub verify_site: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").field("reference", &self.reference).finish_non_exhaustive()
    }
}

/// A page being drawn: a surface and the current line.
struct Pen<'a, 'b> {
    surface: &'a mut krilla::surface::Surface<'b>,
    fonts: &'a Fonts,
    y: f32,
}

impl Pen<'_, '_> {
    fn color(&mut self, color: rgb::Color) {
        self.surface.set_fill(Some(Fill { paint: color.into(), ..Fill::default() }));
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { self.fonts.bold.clone() } else { self.fonts.regular.clone() };
        self.surface.draw_text(Point::from_xy(x, self.y), font, size, text, false, TextDirection::Auto);
    }

    /// A line of text at `x`, then down by its leading.
    fn line(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        self.y += size * 1.25;
        self.text(x, size, bold, text);
        self.y += size * 0.2;
    }

    /// `text` wrapped within `width` points (an ideograph is one em wide, a Latin letter about
    /// half: enough for the sentences a certificate has).
    fn paragraph(&mut self, x: f32, width: f32, size: f32, text: &str) {
        let em = |c: char| if c.is_ascii() { 0.52 } else { 1.0 };
        let mut line = String::new();
        let mut used = 0.0;
        let mut word = String::new();
        let mut word_width = 0.0;
        let flush_word = |line: &mut String, used: &mut f32, word: &mut String, word_width: &mut f32| {
            line.push_str(word);
            *used += *word_width;
            word.clear();
            *word_width = 0.0;
        };
        for c in text.chars() {
            word.push(c);
            word_width += em(c) * size;
            // Latin breaks after a space, Chinese after any character.
            if c == ' ' || !c.is_ascii() {
                if used + word_width > width && !line.is_empty() {
                    self.line(x, size, false, line.trim_end());
                    line.clear();
                    used = 0.0;
                }
                flush_word(&mut line, &mut used, &mut word, &mut word_width);
            }
        }
        if used + word_width > width && !line.is_empty() {
            self.line(x, size, false, line.trim_end());
            line.clear();
        }
        line.push_str(&word);
        if !line.trim().is_empty() {
            self.line(x, size, false, line.trim_end());
        }
    }

    fn rule(&mut self, from: f32, to: f32) {
        let mut path = PathBuilder::new();
        path.move_to(from, self.y);
        path.line_to(to, self.y);
        if let Some(path) = path.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke { paint: rgb::Color::new(0x8a, 0x97, 0xa3).into(), width: 0.8, ..Stroke::default() }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }
}

/// The certificate's PDF: one A4 page per copy.
pub fn certificate_pdf(certificate: &Certificate, fonts: &Fonts) -> Result<Vec<u8>, DocumentError> {
    let qr = qrcode::QrCode::with_error_correction_level(certificate.verify_url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| DocumentError::Qr(e.to_string()))?;
    let mut document = Document::new();
    let copies = certificate.copies.max(1);
    for copy in 1..=copies {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| DocumentError::Pdf("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        draw_page(&mut surface, fonts, certificate, &qr, copy, copies);
        surface.finish();
        page.finish();
    }
    document.set_metadata(
        Metadata::new()
            .title(format!("{} {}", certificate.title.en, certificate.reference))
            .creator("Balcão reference central".into())
            .language("zh-Hant".into()),
    );
    document.finish().map_err(|e| DocumentError::Pdf(format!("{e:?}")))
}

fn draw_page(surface: &mut krilla::surface::Surface<'_>, fonts: &Fonts, c: &Certificate, qr: &qrcode::QrCode, copy: u32, copies: u32) {
    let navy = rgb::Color::new(0x12, 0x26, 0x3a);
    let muted = rgb::Color::new(0x4c, 0x5b, 0x69);
    let green = rgb::Color::new(0x00, 0x78, 0x5e);
    // A frame around the page, as official papers have.
    if let Some(frame) = Rect::from_xywh(MARGIN / 2.0, MARGIN / 2.0, WIDTH - MARGIN, HEIGHT - MARGIN) {
        let mut path = PathBuilder::new();
        path.push_rect(frame);
        if let Some(path) = path.finish() {
            surface.set_fill(None);
            surface.set_stroke(Some(Stroke { paint: green.into(), width: 2.0, ..Stroke::default() }));
            surface.draw_path(&path);
            surface.set_stroke(None);
        }
    }
    let right = WIDTH - MARGIN;
    let mut pen = Pen { surface, fonts, y: MARGIN };
    pen.color(green);
    pen.line(MARGIN, 15.0, true, &c.agency.zh);
    pen.color(muted);
    pen.line(MARGIN, 10.5, false, &c.agency.pt);
    pen.line(MARGIN, 10.5, false, &c.agency.en);
    pen.y += 18.0;
    pen.color(navy);
    pen.line(MARGIN, 24.0, true, &c.title.zh);
    pen.line(MARGIN, 17.0, true, &c.title.pt);
    pen.line(MARGIN, 13.0, false, &c.title.en);
    pen.y += 10.0;
    pen.rule(MARGIN, right);
    pen.y += 14.0;

    let field = |pen: &mut Pen<'_, '_>, label: Trilingual, values: &[String]| {
        pen.color(muted);
        pen.line(MARGIN, 9.5, false, &format!("{} · {} · {}", label.zh, label.pt, label.en));
        pen.color(navy);
        for value in values {
            pen.line(MARGIN + 8.0, 15.0, true, value);
        }
        pen.y += 8.0;
    };
    field(&mut pen, Trilingual::new("持證人姓名", "Nome do titular", "Holder's name"), &c.holder_names);
    field(
        &mut pen,
        Trilingual::new("身份證明文件編號", "N.º do documento de identificação", "Identity document number"),
        std::slice::from_ref(&c.document_number),
    );
    field(&mut pen, Trilingual::new("申請編號", "N.º do pedido", "Application number"), std::slice::from_ref(&c.reference));
    field(&mut pen, Trilingual::new("發出日期", "Data de emissão", "Date of issue"), std::slice::from_ref(&c.issued));
    if copies > 1 {
        field(&mut pen, Trilingual::new("副本", "Cópia", "Copy"), &[format!("{copy} / {copies}")]);
    }
    pen.y += 6.0;
    pen.rule(MARGIN, right);
    pen.y += 10.0;
    pen.color(navy);
    let width = right - MARGIN;
    pen.paragraph(MARGIN, width, 11.0, &format!("本證明書由{}透過 Balcão 參考平台發出，僅供示範，不具法律效力。", c.agency.zh));
    pen.paragraph(
        MARGIN,
        width,
        10.0,
        &format!(
            "Certidão emitida por {} através da plataforma de referência Balcão. Documento de demonstração, sem valor legal.",
            c.agency.pt
        ),
    );
    pen.paragraph(
        MARGIN,
        width,
        10.0,
        &format!("Issued by {} through the Balcão reference platform. A demonstration document, with no legal value.", c.agency.en),
    );

    // The verification code, bottom right, with how to use it beside it.
    let top = HEIGHT - MARGIN - QR_SIZE - 10.0;
    draw_qr(pen.surface, qr, right - QR_SIZE, top, QR_SIZE);
    pen.y = top - 4.0;
    pen.color(navy);
    pen.line(MARGIN, 11.0, true, "核實 · Verificação · Verification");
    pen.color(muted);
    let text_width = right - QR_SIZE - 16.0 - MARGIN;
    pen.paragraph(MARGIN, text_width, 9.5, "以手機掃描二維碼，核實本證明書的真偽。");
    pen.paragraph(MARGIN, text_width, 9.0, "Leia o código QR com o telemóvel para verificar a autenticidade desta certidão.");
    pen.paragraph(MARGIN, text_width, 9.0, "Scan the QR code with a phone to check that this certificate is genuine.");
    pen.paragraph(MARGIN, text_width, 9.0, &c.verify_site);
}

/// The code's dark modules as filled squares, with the quiet zone left white.
fn draw_qr(surface: &mut krilla::surface::Surface<'_>, qr: &qrcode::QrCode, left: f32, top: f32, size: f32) {
    let modules = qr.width();
    let module = size / (modules as f32 + 8.0);
    let origin = (left + 4.0 * module, top + 4.0 * module);
    let colors = qr.to_colors();
    let mut path = PathBuilder::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % modules) as f32, (i / modules) as f32);
            // A hair larger than a module, so neighbours join without seams.
            if let Some(rect) = Rect::from_xywh(origin.0 + x * module, origin.1 + y * module, module + 0.05, module + 0.05) {
                path.push_rect(rect);
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(Fill { paint: rgb::Color::new(0, 0, 0).into(), ..Fill::default() }));
        surface.draw_path(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(copies: u32) -> Certificate {
        Certificate {
            agency: Trilingual::new("身份證明局", "Direcção dos Serviços de Identificação", "Identification Services Bureau"),
            title: Trilingual::new("刑事紀錄證明書", "Certificado de Registo Criminal", "Certificate of Criminal Record"),
            holder_names: vec!["João Chan Tai Man".into(), "陳大文".into()],
            document_number: "1234567(8)".into(),
            reference: "K01-261122-0001".into(),
            issued: "2026-11-22".into(),
            copies,
            verify_url: "https://central.example/verify/eyJhbGciOiJFZERTQSJ9.e30.c2ln".into(),
            verify_site: "https://central.example/verify/".into(),
        }
    }

    #[test]
    fn the_pdf_embeds_subset_fonts_and_grows_with_its_copies() {
        let fonts = Fonts::system().expect("Noto CJK (tools/setup installs fonts-noto-cjk)");
        let one = certificate_pdf(&sample(1), &fonts).expect("pdf");
        let three = certificate_pdf(&sample(3), &fonts).expect("pdf");
        assert!(one.starts_with(b"%PDF-") && three.starts_with(b"%PDF-"));
        assert!(three.len() > one.len(), "a page per copy");
        // The faces are megabytes; a subset of the glyphs used is embedded.
        assert!(one.len() < 400_000, "{} bytes", one.len());
        assert!(one.windows(9).any(|w| w == b"/FontFile"), "the font is embedded");
    }
}
