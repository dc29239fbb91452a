//! What a payment terminal sends the kiosk, read by the driver itself: acknowledgements,
//! intermediate status (`04 FF`), status information (`04 0F`), receipt lines (`06 D1`,
//! `06 D3`), completion (`06 0F`) and abort (`06 1E`).
//!
//! Written here rather than with the `zvt` crate's parsers, which the kiosk uses only to build
//! its own commands: they panic on some malformed input (a text block whose BER length runs
//! past its end, a BCD nibble that is no digit), and they decode the card number into an
//! integer. Nothing a device sends may reach code that can panic, nor put a card number in
//! memory: every message is read from its BMPs ([`bmp::fields`]) with card data taken out
//! first, and every value is checked before it is used.

use super::apdu::Apdu;
use super::bmp;
use crate::payment_terminal::scrub_card_numbers;

/// One message from the terminal, as the driver acts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `80 00`: the positive acknowledgement.
    Ack,
    /// `84 xx`: the terminal refused what the kiosk sent (`84 9C`: busy).
    Refused(u8),
    /// `04 FF`: what the terminal is doing or asks of the citizen, and its display text.
    Intermediate { status: u8, text: Option<String> },
    /// `04 0F`: the result of the transaction.
    Status(StatusInformation),
    /// `06 D1`, `06 D3`: lines for the citizen's receipt, card numbers scrubbed. A text block
    /// that does not read gives no lines (a receipt line is never worth failing a payment).
    Print(Vec<String>),
    /// `06 0F`: the command is done.
    Completion,
    /// `06 1E`: the command ended with this result code (and, listing reservations, the
    /// receipt number of an open one).
    Abort { code: u8, receipt: Option<u32> },
    /// Anything else, as `CLASS INSTR`: acknowledged and passed over.
    Other(u16),
}

/// A status information's fields the kiosk uses. Holds no card data: the card number arrives
/// only as the terminal masked it, and only its last four digits go further.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusInformation {
    /// BMP 27: `0` approved; the terminal's or the issuer's code otherwise.
    pub result: Option<u8>,
    /// BMP 04, in the currency's minor unit.
    pub amount: Option<u64>,
    /// BMP 87: the terminal's receipt number, what capture and reversal name.
    pub receipt: Option<u32>,
    /// BMP 0B.
    pub trace: Option<u32>,
    /// BMP 8B, e.g. `VISA`.
    pub card_name: Option<String>,
    /// BMP 22 as the terminal masked it (`E` nibbles as `*`); an unmasked number is dropped.
    pub masked_card: Option<String>,
}

/// A message that breaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("an intermediate status without a status code")]
    EmptyStatus,
    #[error("an abort without a result code")]
    EmptyAbort,
    #[error(transparent)]
    Fields(#[from] bmp::Unreadable),
    #[error("BMP {0:02X} holds a nibble that is no digit")]
    NotBcd(u8),
}

/// Reads one message from the terminal.
pub fn read(apdu: &Apdu) -> Result<Message, Unreadable> {
    Ok(match (apdu.class, apdu.instr) {
        (0x80, 0x00) => Message::Ack,
        (0x84, code) => Message::Refused(code),
        (0x04, 0xFF) => {
            let status = *apdu.data.first().ok_or(Unreadable::EmptyStatus)?;
            // Status, timeout, then the BMPs (the display text in the TLV container).
            Message::Intermediate { status, text: apdu.data.get(2..).and_then(display_text) }
        }
        (0x04, 0x0F) => Message::Status(status_information(&apdu.data)?),
        (0x06, 0xD1) => Message::Print(print_line(&apdu.data).into_iter().collect()),
        (0x06, 0xD3) => Message::Print(text_block(&apdu.data)),
        (0x06, 0x0F) => Message::Completion,
        (0x06, 0x1E) => {
            let (&code, rest) = apdu.data.split_first().ok_or(Unreadable::EmptyAbort)?;
            let receipt = match bmp::fields(rest)?.into_iter().find(|f| f.number == 0x87) {
                // `FF FF`: no receipt number.
                Some(field) if field.value == [0xFF, 0xFF] => None,
                Some(field) => Some(bcd_u32(field)?),
                None => None,
            };
            Message::Abort { code, receipt }
        }
        _ => Message::Other(apdu.command()),
    })
}

fn bcd(field: bmp::Field<'_>) -> Result<u64, Unreadable> {
    bmp::bcd_value(field.value).ok_or(Unreadable::NotBcd(field.number))
}

fn bcd_u32(field: bmp::Field<'_>) -> Result<u32, Unreadable> {
    bcd(field).and_then(|n| u32::try_from(n).map_err(|_| Unreadable::NotBcd(field.number)))
}

/// Text as the terminal sends it: ZVT's default character set is a superset of ASCII; a byte
/// beyond it is read as Latin-1, so no byte can make the text unreadable.
fn text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect::<String>().trim_end().to_string()
}

fn status_information(data: &[u8]) -> Result<StatusInformation, Unreadable> {
    let stripped = bmp::strip_card_data(data)?;
    let mut information = StatusInformation { masked_card: stripped.masked_card, ..StatusInformation::default() };
    for field in bmp::fields(&stripped.data)? {
        match field.number {
            0x27 => information.result = field.value.first().copied(),
            0x04 => information.amount = Some(bcd(field)?),
            0x87 => information.receipt = Some(bcd_u32(field)?),
            0x0B => information.trace = Some(bcd_u32(field)?),
            0x8B => information.card_name = Some(scrub_card_numbers(&text(field.value))),
            _ => {}
        }
    }
    Ok(information)
}

/// `06 D1`: an attribute byte, then the line.
fn print_line(data: &[u8]) -> Option<String> {
    let line = scrub_card_numbers(&text(data.get(1..)?));
    Some(line)
}

/// `06 D3`: a TLV container (BMP 06) with the text block (tag 25) of text lines (tag 07).
fn text_block(data: &[u8]) -> Vec<String> {
    let Some(container) = bmp::fields(data).ok().and_then(|f| f.into_iter().find(|f| f.number == 0x06)) else {
        return Vec::new();
    };
    let Some((_, block)) = tlv_objects(container.value).into_iter().find(|(tag, _)| *tag == 0x25) else { return Vec::new() };
    tlv_objects(block).into_iter().filter(|(tag, _)| *tag == 0x07).map(|(_, line)| scrub_card_numbers(&text(line))).collect()
}

/// The display text an intermediate status carries (TLV container `06`, display texts `24`,
/// text lines `07`), its lines joined.
fn display_text(data: &[u8]) -> Option<String> {
    let container = bmp::find(data, 0x06)?;
    let texts = tlv_objects(container).into_iter().find(|(tag, _)| *tag == 0x24)?.1;
    let lines: Vec<String> = tlv_objects(texts)
        .into_iter()
        .filter(|(tag, _)| *tag == 0x07)
        .map(|(_, line)| text(line).trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    (!lines.is_empty()).then(|| scrub_card_numbers(&lines.join(" ")))
}

/// BER-TLV objects in `data`, as (tag, value); stops at the first that does not read.
pub(crate) fn tlv_objects(mut data: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = data.split_first() {
        let mut tag = u32::from(first);
        let mut rest = rest;
        if first & 0x1F == 0x1F {
            // Multi-byte tag: more bytes while the high bit is set (at most three).
            loop {
                let Some((&b, tail)) = rest.split_first() else { return out };
                if tag > 0xFF_FF {
                    return out;
                }
                tag = (tag << 8) | u32::from(b);
                rest = tail;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let Some((&len, tail)) = rest.split_first() else { return out };
        let (len, tail) = match len {
            n if n < 0x80 => (usize::from(n), tail),
            0x81 => match tail.split_first() {
                Some((&n, tail)) => (usize::from(n), tail),
                None => return out,
            },
            0x82 if tail.len() >= 2 => (usize::from(u16::from_be_bytes([tail[0], tail[1]])), &tail[2..]),
            _ => return out,
        };
        if tail.len() < len {
            return out;
        }
        out.push((tag, &tail[..len]));
        data = &tail[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apdu(bytes: &[u8]) -> Apdu {
        super::super::apdu::ApduFramer::default().push(bytes).pop().expect("one APDU")
    }

    #[test]
    fn a_text_block_whose_length_runs_past_its_end_reads_as_no_lines() {
        // The five bytes that panic the `zvt` crate's parser (BER length 82 with no length).
        assert_eq!(read(&apdu(&[0x06, 0xD3, 0x02, 0x06, 0x82])), Ok(Message::Print(Vec::new())));
        assert_eq!(read(&apdu(&[0x06, 0xD3, 0x03, 0x06, 0x81, 0x05])), Ok(Message::Print(Vec::new())));
        assert_eq!(read(&apdu(&[0x06, 0xD1, 0x00])), Ok(Message::Print(Vec::new())));
        // 06 D3 { 06 { 25 { 07 "PAID", 07 "4111111111111111" } } }.
        let block = [[0x06, 0x1A, 0x25, 0x18, 0x07, 0x04].as_slice(), b"PAID", &[0x07, 0x10], b"4111111111111111"].concat();
        let message = Apdu::new(0x06, 0xD3, block);
        let Ok(Message::Print(lines)) = read(&message) else { panic!("a text block") };
        assert_eq!(lines[0], "PAID");
        assert!(!lines[1].contains("4111111111111111"), "card numbers scrubbed: {lines:?}");
    }

    #[test]
    fn an_intermediate_status_with_a_nibble_that_is_no_digit_still_reads() {
        // The `zvt` crate's BCD decoder panics on a timeout byte like this one.
        assert_eq!(read(&apdu(&[0x04, 0xFF, 0x02, 0x0A, 0xFA])), Ok(Message::Intermediate { status: 0x0A, text: None }));
        assert_eq!(read(&apdu(&[0x04, 0xFF, 0x00])), Err(Unreadable::EmptyStatus));
    }

    #[test]
    fn status_information_reads_its_fields_and_refuses_what_is_not_bcd() {
        // 27 00 | 04 amount 30.00 | 0B trace 000123 | 87 receipt 0012 | 8B "VISA" | 22 masked PAN | AA date | 06 tracks.
        let data = [
            [0x27, 0x00, 0x04, 0, 0, 0, 0, 0x30, 0x00, 0x0B, 0x00, 0x01, 0x23, 0x87, 0x00, 0x12, 0x8B, 0xF0, 0xF4].as_slice(),
            b"VISA",
            &[0x22, 0xF0, 0xF8, 0x42, 0x42, 0x42, 0xEE, 0xEE, 0xEE, 0x42, 0x42],
            &[0xAA, 0x26, 0x12, 0x06],
            &[0x06, 0x06, 0x1F, 0x09, 0x03, 0x41, 0x11, 0x11],
        ]
        .concat();
        let Ok(Message::Status(information)) = read(&Apdu::new(0x04, 0x0F, data.clone())) else { panic!("status information") };
        assert_eq!(
            information,
            StatusInformation {
                result: Some(0),
                amount: Some(3_000),
                receipt: Some(12),
                trace: Some(123),
                card_name: Some("VISA".into()),
                masked_card: Some("424242******4242".into()),
            }
        );
        let mut broken = data;
        broken[4] = 0x0A;
        assert_eq!(read(&Apdu::new(0x04, 0x0F, broken)), Err(Unreadable::NotBcd(0x04)));
        assert!(matches!(read(&Apdu::new(0x04, 0x0F, vec![0x27, 0x00, 0x5F])), Err(Unreadable::Fields(_))));
    }

    #[test]
    fn aborts_name_a_receipt_or_none() {
        assert_eq!(read(&apdu(&[0x06, 0x1E, 0x01, 0x6C])), Ok(Message::Abort { code: 0x6C, receipt: None }));
        assert_eq!(read(&apdu(&[0x06, 0x1E, 0x04, 0xB8, 0x87, 0x00, 0x07])), Ok(Message::Abort { code: 0xB8, receipt: Some(7) }));
        assert_eq!(read(&apdu(&[0x06, 0x1E, 0x04, 0xB8, 0x87, 0xFF, 0xFF])), Ok(Message::Abort { code: 0xB8, receipt: None }));
        assert_eq!(read(&apdu(&[0x06, 0x1E, 0x00])), Err(Unreadable::EmptyAbort));
        assert_eq!(read(&apdu(&[0x80, 0x00, 0x00])), Ok(Message::Ack));
        assert_eq!(read(&apdu(&[0x84, 0x9C, 0x00])), Ok(Message::Refused(0x9C)));
    }

    #[test]
    fn an_unknown_status_shows_the_terminals_display_text() {
        // 04 FF: status 0C (card not readable), timeout 0, BMP 06 { 24 { 07 "CARD NOT", 07 "READABLE" } }.
        let texts = [[0x07, 0x08].as_slice(), b"CARD NOT", &[0x07, 0x08], b"READABLE"].concat();
        let container = [[0x24, texts.len() as u8].as_slice(), &texts].concat();
        let data = [[0x0C, 0x00, 0x06, container.len() as u8].as_slice(), &container].concat();
        let text = |data: &[u8]| match read(&Apdu::new(0x04, 0xFF, data.to_vec())) {
            Ok(Message::Intermediate { text, .. }) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(&data).as_deref(), Some("CARD NOT READABLE"));
        assert_eq!(text(&[0x0C, 0x00]), None);
        assert_eq!(text(&[0x0C, 0x00, 0x06, 0x05, 0x24, 0x09]), None, "a length past the end reads as nothing");
    }

    #[test]
    fn multi_byte_tags_read_and_overlong_ones_stop() {
        assert_eq!(tlv_objects(&[0x1F, 0x07, 0x01, 0x02]), [(0x1F07, [0x02].as_slice())]);
        assert!(tlv_objects(&[0x1F, 0x81, 0x81, 0x81, 0x81, 0x01, 0x01, 0x00]).is_empty());
    }
}
