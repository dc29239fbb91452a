//! The printable certificate the reference central issues: an A4 PDF, a page per copy.
//!
//! Written by hand because the reference central only needs a few lines of Latin text in a
//! standard font; a PDF library (printpdf, lopdf) would add far more than it saves here. Real
//! agencies send their own signed PDFs.

/// An A4 PDF with `lines` in Helvetica, top to bottom, on one page per copy (each page
/// marked "Copy k of n" when there are several). Characters outside printable ASCII are
/// replaced by `?` (the standard fonts carry no CJK).
pub fn certificate_pdf(title: &str, lines: &[String], copies: u32) -> Vec<u8> {
    let escape = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                ' '..='~' => c.to_string(),
                _ => "?".to_string(),
            })
            .collect()
    };
    let copies = copies.max(1);
    let page = |copy: u32| {
        let mut content = format!("BT /F1 20 Tf 72 770 Td ({}) Tj ET\n", escape(title));
        for (i, line) in lines.iter().enumerate() {
            content.push_str(&format!("BT /F1 12 Tf 72 {} Td ({}) Tj ET\n", 730 - 20 * i as i32, escape(line)));
        }
        if copies > 1 {
            content.push_str(&format!("BT /F1 12 Tf 72 72 Td (Copy {copy} of {copies}) Tj ET\n"));
        }
        content
    };
    // Objects: 1 catalog, 2 page tree, 3 font, then a page and its contents per copy.
    let kids: Vec<String> = (0..copies).map(|k| format!("{} 0 R", 4 + 2 * k)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{}] /Count {copies} >>", kids.join(" ")),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for copy in 1..=copies {
        let content = page(copy);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            objects.len() + 2
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}endstream", content.len()));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_has_a_page_per_copy_and_its_objects_where_the_cross_reference_table_says() {
        for copies in [1u32, 3] {
            let pdf = certificate_pdf("Certificate (test)", &["Number: K01-261122-0001".into(), "Nome: João".into()], copies);
            let text = String::from_utf8(pdf.clone()).expect("ascii");
            assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
            assert!(text.contains("(Certificate \\(test\\)) Tj") && text.contains("(Nome: Jo?o) Tj"));
            assert!(text.contains(&format!("/Count {copies} >>")), "{copies} pages");
            assert_eq!(text.matches("(Number: K01-261122-0001) Tj").count(), copies as usize);
            assert_eq!(text.contains("(Copy 3 of 3) Tj"), copies == 3, "copies are marked when there are several");
            let objects = 3 + 2 * copies as usize;
            let xref: usize =
                text.rsplit("startxref\n").next().and_then(|t| t.lines().next()).and_then(|n| n.parse().ok()).expect("startxref");
            assert!(text[xref..].starts_with(&format!("xref\n0 {}\n", objects + 1)));
            for (i, entry) in text[xref..].lines().skip(3).take(objects).enumerate() {
                let offset: usize = entry[..10].parse().expect("offset");
                assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {}", i + 1);
            }
        }
    }
}
