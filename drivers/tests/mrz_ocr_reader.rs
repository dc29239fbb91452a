//! The OCR document reader driver (zone lines over the serial scanner driver) against the
//! virtual OCR reader, over a pty pair: zones of passports and identity cards, at the wire's
//! pace or in one burst, misreads and half zones, and the reader unplugged.

use std::time::Duration;

use balcao_drivers::code_scanner::serial::{Framing, SerialScanner};
use balcao_drivers::identity_reader::ErrorKind;
use balcao_drivers::identity_reader::ocr::{MrzReader, OcrMrzReader};
use balcao_drivers::identity_reader::sim::{VirtualOcrReader, specimen_identity_card, zone_lines};
use balcao_drivers::identity_reader::{DocumentType, HolderData};

const WAIT: Duration = Duration::from_secs(3);

fn pair(byte_time: Duration) -> (VirtualOcrReader, OcrMrzReader<SerialScanner>) {
    let reader = VirtualOcrReader::on_new_pty(byte_time).expect("virtual reader on a pty");
    let framing = Framing { prefix: Vec::new(), suffix: b"\r".to_vec(), inter_byte_timeout: Duration::from_millis(50) };
    let lines = SerialScanner::new(reader.port_path().to_string_lossy(), 9600, framing).expect("serial driver");
    let mut driver = OcrMrzReader::new(lines);
    // The driver opens the port on first use and drops what was written before it opened (a
    // pty hands such bytes over, and they belong to nobody): open it before the reader sends,
    // or whether the first zone survives depends on when the pty's line discipline ran.
    assert!(driver.status().expect("status"), "the port opens");
    (reader, driver)
}

fn passport() -> HolderData {
    let mut holder = specimen_identity_card().holder;
    holder.document_type = DocumentType::Passport;
    holder.document_number = "MA1234567".into();
    holder
}

#[test]
fn a_card_at_the_wires_pace_and_a_passport_in_one_burst_give_their_zones() {
    let (reader, mut driver) = pair(Duration::from_millis(1));
    let card = specimen_identity_card().holder;
    let sent = card.clone();
    let laid = std::thread::spawn(move || reader.lay_down(&sent).map(|()| reader));
    let read = driver.next_zone(WAIT).expect("a zone").expect("within the wait");
    assert_eq!(read, card);
    assert_eq!(read.access_key(), card.access_key());
    let reader = laid.join().expect("thread").expect("sent");

    let (fast, mut driver) = pair(Duration::ZERO);
    fast.lay_down(&passport()).expect("sent");
    assert_eq!(driver.next_zone(WAIT).expect("a zone").expect("within the wait").document_number, "MA1234567");
    assert!(driver.next_zone(Duration::from_millis(300)).expect("quiet").is_none(), "one document, one zone");
    drop(reader);
}

#[test]
fn a_misread_or_half_zone_is_an_error_for_that_reading_and_the_next_reads() {
    let (reader, mut driver) = pair(Duration::ZERO);
    let mut lines = zone_lines(&specimen_identity_card().holder);
    // A misread character breaks a check digit.
    let misread = lines[0].replacen("12345678", "12845678", 1);
    reader.send_raw(format!("{misread}\r{}\r{}\r\r", lines[1], lines[2]).as_bytes()).expect("sent");
    assert_eq!(driver.next_zone(WAIT).expect_err("misread").kind(), ErrorKind::Protocol);
    // The document taken away after two lines.
    lines.truncate(2);
    reader.send_raw(format!("{}\r{}\r", lines[0], lines[1]).as_bytes()).expect("sent");
    let error = driver.next_zone(WAIT).expect_err("half a zone");
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(!error.to_string().contains("12345678"), "nothing of the zone in the error: {error}");
    // Noise on the line, then a good reading.
    reader.send_raw(b"\x1b[0m garbage\r").expect("sent");
    let _ = driver.next_zone(WAIT);
    reader.lay_down(&specimen_identity_card().holder).expect("sent");
    assert_eq!(driver.next_zone(WAIT).expect("reads again").expect("a zone").document_number, "12345678");
}

#[test]
fn an_unplugged_reader_is_no_reader_and_not_connected() {
    let (reader, mut driver) = pair(Duration::ZERO);
    reader.unplug();
    let error = driver.next_zone(WAIT).expect_err("gone");
    assert_eq!(error.kind(), ErrorKind::NoReader);
    assert!(!driver.status().expect("status"));
}
