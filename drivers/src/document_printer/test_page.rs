//! The A4 printer's test page: one page of lines in a standard font, made with `pdf-writer`,
//! so a technician sees that the printer takes the kiosk's PDFs and prints them whole (the
//! frame around the page shows the margins it loses).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A one-page A4 PDF: `title`, then `lines`, inside a frame 15 mm from each edge. Characters
/// outside printable ASCII become `?` (the standard fonts have no others; the page is for the
/// technician, in English).
pub fn test_page(title: &str, lines: &[String]) -> Vec<u8> {
    let (catalog, pages, page, font, content) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5));
    let font_name = Name(b"F1");
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut writer = pdf.page(page);
    writer.media_box(Rect::new(0.0, 0.0, 595.0, 842.0)).parent(pages).contents(content);
    writer.resources().fonts().pair(font_name, font);
    writer.finish();
    pdf.type1_font(font).base_font(Name(b"Helvetica"));

    let ascii = |text: &str| -> Vec<u8> { text.chars().map(|c| if (' '..='~').contains(&c) { c as u8 } else { b'?' }).collect() };
    let mut drawing = Content::new();
    // 15 mm is 42.5 points.
    drawing.set_line_width(1.0).rect(42.5, 42.5, 595.0 - 85.0, 842.0 - 85.0).stroke();
    drawing.begin_text().set_font(font_name, 20.0).next_line(72.0, 770.0).show(Str(&ascii(title))).end_text();
    for (i, line) in lines.iter().enumerate() {
        let y = 730.0 - 18.0 * i as f32;
        if y < 60.0 {
            break;
        }
        drawing.begin_text().set_font(font_name, 12.0).next_line(72.0, y).show(Str(&ascii(line))).end_text();
    }
    pdf.stream(content, &drawing.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_page_is_a_one_page_pdf_with_its_lines() {
        let pdf = test_page("Balcao test page", &["Kiosk K01".into(), "Nome: João".into()]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-") && text.trim_end().ends_with("%%EOF"), "a whole PDF");
        assert!(text.contains("/Count 1") && text.contains("/Helvetica"));
        assert!(text.contains("(Kiosk K01) Tj") && text.contains("(Nome: Jo?o) Tj"), "{text}");
        let many: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        let long = String::from_utf8_lossy(&test_page("t", &many)).into_owned();
        assert!(long.contains("(line 0) Tj") && !long.contains("(line 99) Tj"), "lines that do not fit are left off");
    }
}
