//! BER-TLV as ISO 7816-4 and ICAO 9303 use it: tags of one to three bytes, lengths in the short
//! form or the `81`/`82`/`83` long forms, never the indefinite form.
//!
//! Written here rather than taken from a TLV crate because secure messaging needs more than
//! the parsed values: the MAC covers the objects' raw bytes, so the reader hands out each
//! object's exact encoding alongside its value, without copying, and every malformation
//! (what a broken or hostile chip may send) is a typed error, never a panic.

/// One data object inside a byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
    /// The whole object as it was encoded: tag, length and value.
    pub raw: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("the data ends inside a tag")]
    TruncatedTag,
    #[error("a tag longer than three bytes")]
    TagTooLong,
    #[error("the data ends inside a length")]
    TruncatedLength,
    #[error("the length form 0x{0:02X} is not allowed")]
    BadLength(u8),
    #[error("an object of {need} bytes where {have} remain")]
    TruncatedValue { need: usize, have: usize },
}

/// Reads the object at the start of `data`; returns it and what follows it.
pub fn read(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let first = *data.first().ok_or(TlvError::TruncatedTag)?;
    let mut tag = u32::from(first);
    let mut at = 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(at).ok_or(TlvError::TruncatedTag)?;
            at += 1;
            if at > 3 {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l = *data.get(at).ok_or(TlvError::TruncatedLength)?;
    at += 1;
    let len = match l {
        0x00..=0x7F => usize::from(l),
        0x81..=0x83 => {
            let n = usize::from(l & 0x7F);
            let bytes = data.get(at..at + n).ok_or(TlvError::TruncatedLength)?;
            at += n;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        }
        other => return Err(TlvError::BadLength(other)),
    };
    let have = data.len() - at;
    if len > have {
        return Err(TlvError::TruncatedValue { need: len, have });
    }
    let end = at + len;
    Ok((Tlv { tag, value: &data[at..end], raw: &data[..end] }, &data[end..]))
}

/// Every object in `data`, in order; stops at the first malformed one.
pub fn objects(data: &[u8]) -> impl Iterator<Item = Result<Tlv<'_>, TlvError>> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let data = rest.filter(|d| !d.is_empty())?;
        match read(data) {
            Ok((tlv, after)) => {
                rest = Some(after);
                Some(Ok(tlv))
            }
            Err(e) => {
                rest = None;
                Some(Err(e))
            }
        }
    })
}

/// The first object with `tag` among the objects of `data`.
pub fn find(data: &[u8], tag: u32) -> Result<Option<Tlv<'_>>, TlvError> {
    for object in objects(data) {
        let object = object?;
        if object.tag == tag {
            return Ok(Some(object));
        }
    }
    Ok(None)
}

/// The bytes of a length.
pub fn encode_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        0x100..=0xFFFF => vec![0x82, (len >> 8) as u8, len as u8],
        _ => vec![0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8],
    }
}

/// An object: tag (one to three bytes, as given), length, value.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = tag.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
    if out.is_empty() {
        out.push(0);
    }
    out.extend(encode_length(value.len()));
    out.extend_from_slice(value);
    out
}

/// The total length of the object whose first bytes are `head` (tag and length are enough),
/// or `None` if `head` holds too little of it: how a file's size is learnt from its first
/// bytes.
pub fn encoded_len(head: &[u8]) -> Result<Option<usize>, TlvError> {
    match read(head) {
        Ok((tlv, _)) => Ok(Some(tlv.raw.len())),
        Err(TlvError::TruncatedValue { need, have }) => Ok(Some(head.len() - have + need)),
        Err(TlvError::TruncatedTag | TlvError::TruncatedLength) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_read_with_their_raw_bytes_and_long_lengths() {
        let data = [0x5F, 0x1F, 0x03, b'A', b'B', b'C', 0x99, 0x02, 0x90, 0x00];
        let (first, rest) = read(&data).expect("valid");
        assert_eq!((first.tag, first.value, first.raw.len()), (0x5F1F, &b"ABC"[..], 6));
        assert_eq!(find(rest, 0x99).expect("valid").expect("present").value, [0x90, 0x00]);
        let long = encode(0x77, &[7; 300]);
        assert_eq!(&long[..4], &[0x77, 0x82, 0x01, 0x2C]);
        assert_eq!(read(&long).expect("valid").0.value.len(), 300);
        assert_eq!(encode(0x7F61, b"x"), [0x7F, 0x61, 0x01, b'x']);
    }

    #[test]
    fn a_file_size_is_learnt_from_its_first_bytes() {
        assert_eq!(encoded_len(&[0x60, 0x14, 0x5F, 0x01]), Ok(Some(0x16)));
        assert_eq!(encoded_len(&[0x75, 0x82, 0x3A, 0x98]), Ok(Some(4 + 0x3A98)));
        assert_eq!(encoded_len(&[0x75, 0x82]), Ok(None));
    }

    #[test]
    fn malformed_objects_are_typed_errors() {
        assert_eq!(read(&[]), Err(TlvError::TruncatedTag));
        assert_eq!(read(&[0x5F]), Err(TlvError::TruncatedTag));
        assert_eq!(read(&[0x5F, 0x81, 0x81, 0x01, 0x00]), Err(TlvError::TagTooLong));
        assert_eq!(read(&[0x87]), Err(TlvError::TruncatedLength));
        assert_eq!(read(&[0x87, 0x82, 0x01]), Err(TlvError::TruncatedLength));
        assert_eq!(read(&[0x87, 0x80, 0x00]), Err(TlvError::BadLength(0x80)));
        assert_eq!(read(&[0x87, 0x84, 0, 0, 0, 1]), Err(TlvError::BadLength(0x84)));
        assert_eq!(read(&[0x87, 0x05, 1, 2]), Err(TlvError::TruncatedValue { need: 5, have: 2 }));
        let results: Vec<_> = objects(&[0x80, 0x00, 0x81, 0x09, 0x00]).collect();
        assert_eq!(results.len(), 2);
        assert!(results[1].is_err());
    }
}
