//! The printable certificate the reference central issues: a one-page A4 PDF.
//!
//! Written by hand because the reference central only needs a few lines of Latin text in a
//! standard font; a PDF library (printpdf, lopdf) would add far more than it saves here. Real
//! agencies send their own signed PDFs.

/// A one-page A4 PDF with `lines` in Helvetica, top to bottom. Characters outside printable
/// ASCII are replaced by `?` (the standard fonts carry no CJK).
pub fn certificate_pdf(title: &str, lines: &[String]) -> Vec<u8> {
    let escape = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                ' '..='~' => c.to_string(),
                _ => "?".to_string(),
            })
            .collect()
    };
    let mut content = format!("BT /F1 20 Tf 72 770 Td ({}) Tj ET\n", escape(title));
    for (i, line) in lines.iter().enumerate() {
        content.push_str(&format!("BT /F1 12 Tf 72 {} Td ({}) Tj ET\n", 730 - 20 * i as i32, escape(line)));
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
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
    fn the_pdf_has_its_objects_where_the_cross_reference_table_says() {
        let pdf = certificate_pdf("Certificate (test)", &["Number: K01-261122-0001".into(), "Nome: João".into()]);
        let text = String::from_utf8(pdf.clone()).expect("ascii");
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Certificate \\(test\\)) Tj") && text.contains("(Nome: Jo?o) Tj"));
        let xref: usize = text.rsplit("startxref\n").next().and_then(|t| t.lines().next()).and_then(|n| n.parse().ok()).expect("startxref");
        assert!(text[xref..].starts_with("xref\n0 6\n"));
        for (i, entry) in text[xref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = entry[..10].parse().expect("offset");
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {}", i + 1);
        }
    }
}
