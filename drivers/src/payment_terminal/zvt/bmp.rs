//! ZVT bitmaps (BMPs): the `number value` fields that follow a command's control field.
//!
//! Each BMP number fixes how its value is sized: a fixed length, a length prefix of two or
//! three `Fx` bytes (LLVAR, LLLVAR), or a BER length (the TLV container `06`). Walking them
//! needs that table. Written here because the `zvt` crate only parses whole packets, and the
//! kiosk must take card data out *before* anything parses it: the crate decodes BMP 22 (the
//! card number) into an integer, which would put a card number in memory and, for a 19-digit
//! number, overflow.

/// How a BMP's value is sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    Fixed(usize),
    /// Length in `Fx` bytes: two (LLVAR) or three (LLLVAR).
    Prefixed(usize),
    /// BER length (the TLV container).
    Ber,
}

/// Every BMP of the ZVT specification (revision 13, "summary of utilised BMPs") and how its
/// value is sized. A terminal may send any of them; one missing here would make every message
/// that carries it unreadable, and a payment with it an unknown outcome.
fn size(number: u8) -> Option<Size> {
    use Size::*;
    Some(match number {
        // Timeout, max. status infos, service byte, pump number, payment type, result code,
        // card type, card-type ID, result code AS, algorithm key, card output direction, DUKPT
        // key id, min. input length, max. input length, echo input, display duration, beeps,
        // card-reader activation, OK required, dialog control, display device, image MIME type,
        // image encoding, chunk count, chunk index.
        0x01 | 0x02 | 0x03 | 0x05 | 0x19 | 0x27 | 0x8A | 0x8C | 0xA0 | 0xD0 | 0xD2 | 0xD3 | 0xE0 | 0xE9 | 0xEA | 0xF0 | 0xF9 | 0xFA
        | 0xFB | 0xFC | 0xFD | 0x72 | 0x73 | 0x74 | 0x75 => Fixed(1),
        // Date MMDD, expiry YYMM, card sequence number, CVV/CVC, currency, receipt number.
        0x0D | 0x0E | 0x17 | 0x3A | 0x49 | 0x87 => Fixed(2),
        // Trace number, time, original trace number, password, turnover record number, date
        // YYMMDD.
        0x0B | 0x0C | 0x37 | 0x3D | 0x88 | 0xAA => Fixed(3),
        // Terminal id, image request id, image size.
        0x29 | 0x70 | 0x71 => Fixed(4),
        // AID parameter.
        0xBA => Fixed(5),
        0x04 => Fixed(6),
        // AID authorisation attribute, MAC over the texts.
        0x3B | 0xEB => Fixed(8),
        // VU number.
        0x2A => Fixed(15),
        // PAN, track 2, track 1, card name, chip data, card offset / PIN data, text lines.
        0x22 | 0x23 | 0x2D | 0x8B | 0xA7 | 0xD1 | 0xE1..=0xE8 | 0xF1..=0xF8 => Prefixed(2),
        // Track 3, synchronous chip data, additional data, individual totals, ec-Cash offline
        // data, GeldKarte records, EF_Info.
        0x24 | 0x2E | 0x3C | 0x60 | 0x92 | 0x9A | 0xAF => Prefixed(3),
        0x06 => Ber,
        _ => return None,
    })
}

/// BMPs that carry card data — the card number, tracks 1 to 3, the expiry date, the CVV, the
/// chip's data and records, PIN data — never kept. The TLV container (`06`) can carry tracks
/// too (tags `1F08`–`1F0A`): [`strip_card_data`] drops it whole.
const CARD_DATA: [u8; 12] = [0x0E, 0x22, 0x23, 0x24, 0x2D, 0x2E, 0x3A, 0x92, 0x9A, 0xA7, 0xAF, 0xD1];

/// One BMP: its number and value, as slices of the data it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub number: u8,
    /// The bytes of the whole field, number and length included.
    pub raw: &'a [u8],
    pub value: &'a [u8],
}

/// The data did not walk as BMPs: an unknown number or a length past the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("BMP {number:02X} at byte {offset} cannot be read")]
pub struct Unreadable {
    pub number: u8,
    pub offset: usize,
}

/// Splits `data` (after any untagged leading bytes the command has) into its BMPs.
pub fn fields(data: &[u8]) -> Result<Vec<Field<'_>>, Unreadable> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let number = data[at];
        let bad = Unreadable { number, offset: at };
        let (header, len) = match size(number).ok_or(bad)? {
            Size::Fixed(n) => (1, n),
            Size::Prefixed(digits) => {
                let prefix = data.get(at + 1..at + 1 + digits).ok_or(bad)?;
                let mut len = 0;
                // The spec writes each length digit as `Fx`; the `zvt` crate writes `0x`.
                for &b in prefix {
                    if !matches!(b >> 4, 0x0 | 0xF) || b & 0x0F > 9 {
                        return Err(bad);
                    }
                    len = len * 10 + usize::from(b & 0x0F);
                }
                (1 + digits, len)
            }
            Size::Ber => match data.get(at + 1).copied().ok_or(bad)? {
                n if n < 0x80 => (2, usize::from(n)),
                0x81 => (3, usize::from(*data.get(at + 2).ok_or(bad)?)),
                0x82 => {
                    let bytes = data.get(at + 2..at + 4).ok_or(bad)?;
                    (4, usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
                }
                _ => return Err(bad),
            },
        };
        let end = at + header + len;
        let raw = data.get(at..end).ok_or(bad)?;
        out.push(Field { number, raw, value: &raw[header..] });
        at = end;
    }
    Ok(out)
}

/// The value of BMP `number`, if present.
pub fn find(data: &[u8], number: u8) -> Option<&[u8]> {
    fields(data).ok()?.into_iter().find(|f| f.number == number).map(|f| f.value)
}

/// A packed-BCD value (`12 34` → 1234); `None` for a nibble that is no digit.
pub fn bcd_value(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |n, b| {
        let (hi, lo) = (b >> 4, b & 0x0F);
        (hi < 10 && lo < 10).then(|| n.saturating_mul(100).saturating_add(u64::from(hi) * 10 + u64::from(lo)))
    })
}

/// Packed BCD of `value` in `bytes` bytes (leading digits cut if it does not fit).
pub fn bcd(value: u64, bytes: usize) -> Vec<u8> {
    let digits = format!("{value:0width$}", width = bytes * 2);
    let digits = &digits.as_bytes()[digits.len() - bytes * 2..];
    digits.chunks(2).map(|pair| ((pair[0] - b'0') << 4) | (pair[1] - b'0')).collect()
}

/// Card data taken out of a terminal message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stripped {
    /// The message's data without any card-data BMP.
    pub data: Vec<u8>,
    /// The card number as the terminal masked it (`E` nibbles as `*`), if it was masked. An
    /// unmasked number is dropped, never returned.
    pub masked_card: Option<String>,
}

/// Removes the card data from a message's BMPs ([`CARD_DATA`], and the TLV container, which can
/// carry tracks). Data that does not walk as BMPs is dropped whole (it could hide card data),
/// and the caller gets nothing to parse.
pub fn strip_card_data(data: &[u8]) -> Result<Stripped, Unreadable> {
    let mut out = Stripped::default();
    for field in fields(data)? {
        if !CARD_DATA.contains(&field.number) && field.number != 0x06 {
            out.data.extend_from_slice(field.raw);
            continue;
        }
        if field.number == 0x22 {
            let nibbles = field.value.iter().flat_map(|b| [b >> 4, b & 0x0F]);
            let masked: String = nibbles
                .filter(|&n| n != 0x0F)
                .map(|n| match n {
                    0..=9 => char::from(b'0' + n),
                    _ => '*',
                })
                .collect();
            if masked.contains('*') {
                out.masked_card = Some(masked);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_prefixed_and_tlv_fields_walk() {
        // 27 00 | 04 amount | 8B "VISA" (LLVAR F0 F4) | 06 TLV of 3 bytes | 87 receipt.
        let data = [
            0x27, 0x00, 0x04, 0, 0, 0, 0, 0x30, 0x00, 0x8B, 0xF0, 0xF4, b'V', b'I', b'S', b'A', 0x06, 0x03, 0x1F, 0x07, 0x01, 0x87, 0x00,
            0x12,
        ];
        let fields = fields(&data).expect("walks");
        let numbers: Vec<u8> = fields.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [0x27, 0x04, 0x8B, 0x06, 0x87]);
        assert_eq!(fields[2].value, b"VISA");
        assert_eq!(bcd_value(find(&data, 0x04).expect("amount")), Some(3000));
        assert_eq!(bcd_value(find(&data, 0x87).expect("receipt")), Some(12));
    }

    #[test]
    fn lengths_past_the_end_and_unknown_numbers_are_unreadable() {
        assert_eq!(fields(&[0x04, 0x00, 0x00]), Err(Unreadable { number: 0x04, offset: 0 }));
        assert_eq!(fields(&[0x27, 0x00, 0x5F, 0x01]), Err(Unreadable { number: 0x5F, offset: 2 }));
        assert_eq!(fields(&[0x22, 0xF1, 0xA0, 0x00]), Err(Unreadable { number: 0x22, offset: 0 }));
        assert_eq!(fields(&[0x8B, 0x00, 0x02, b'O', b'K']).map(|f| f[0].value.to_vec()), Ok(b"OK".to_vec()));
    }

    #[test]
    fn the_card_number_is_taken_out_and_only_a_masked_one_is_kept() {
        // A masked PAN: 4242 42EE EEEE 4242 (E = masked), then the result code.
        let masked = [0x22, 0xF0, 0xF8, 0x42, 0x42, 0x42, 0xEE, 0xEE, 0xEE, 0x42, 0x42, 0x27, 0x00];
        let stripped = strip_card_data(&masked).expect("walks");
        assert_eq!(stripped.data, [0x27, 0x00]);
        assert_eq!(stripped.masked_card.as_deref(), Some("424242******4242"));

        // An unmasked PAN (odd length, F-padded) and track 2 are dropped, nothing kept.
        let clear = [0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F, 0x23, 0xF0, 0xF2, 0x41, 0x11, 0x87, 0x00, 0x01];
        let stripped = strip_card_data(&clear).expect("walks");
        assert_eq!(stripped.data, [0x87, 0x00, 0x01]);
        assert_eq!(stripped.masked_card, None);
    }

    #[test]
    fn bcd_both_ways() {
        assert_eq!(bcd(3_000, 6), [0, 0, 0, 0, 0x30, 0]);
        assert_eq!(bcd(446, 2), [0x04, 0x46]);
        assert_eq!(bcd_value(&[0x04, 0x46]), Some(446));
        assert_eq!(bcd_value(&[0xFF, 0xFF]), None);
    }
}
