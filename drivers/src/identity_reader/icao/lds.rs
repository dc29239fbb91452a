//! The files of the eMRTD application (ICAO 9303 Part 10, the Logical Data Structure): EF.COM
//! lists the data groups present, DG1 holds the machine-readable zone, DG2 the face image,
//! EF.SOD the issuer's signature over the data groups' hashes.

use super::mrz::{self, BadMrz, HolderData};
use super::tlv::{self, TlvError};

/// The eMRTD application.
pub const AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
pub const EF_COM: u16 = 0x011E;
pub const EF_SOD: u16 = 0x011D;

/// A data group's file identifier (DG1 is `0101`).
pub fn data_group_file(number: u8) -> u16 {
    0x0100 | u16::from(number)
}

/// The tag each data group's file starts with, by data group number (Part 10 §4.6.1).
const DG_TAGS: [(u8, u8); 16] = [
    (1, 0x61),
    (2, 0x75),
    (3, 0x63),
    (4, 0x76),
    (5, 0x65),
    (6, 0x66),
    (7, 0x67),
    (8, 0x68),
    (9, 0x69),
    (10, 0x6A),
    (11, 0x6B),
    (12, 0x6C),
    (13, 0x6D),
    (14, 0x6E),
    (15, 0x6F),
    (16, 0x70),
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LdsError {
    #[error("malformed: {0}")]
    Tlv(#[from] TlvError),
    #[error("the file does not start with tag {0:X}")]
    WrongTag(u32),
    #[error("the file has no object {0:X}")]
    Missing(u32),
    #[error("DG1's zone is not ASCII text")]
    NotText,
    #[error("DG1's zone: {0}")]
    Mrz(#[from] BadMrz),
}

/// What EF.COM says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Com {
    /// e.g. `0107` for LDS 1.7.
    pub lds_version: String,
    /// The data groups present, by number.
    pub data_groups: Vec<u8>,
}

/// The object a whole file is, checked to carry `tag`.
fn outer(file: &[u8], tag: u32) -> Result<&[u8], LdsError> {
    let (object, _) = tlv::read(file)?;
    if object.tag != tag {
        return Err(LdsError::WrongTag(tag));
    }
    Ok(object.value)
}

pub fn parse_com(file: &[u8]) -> Result<Com, LdsError> {
    let inner = outer(file, 0x60)?;
    let version = tlv::find(inner, 0x5F01)?.ok_or(LdsError::Missing(0x5F01))?;
    let list = tlv::find(inner, 0x5C)?.ok_or(LdsError::Missing(0x5C))?;
    let data_groups = list.value.iter().filter_map(|tag| DG_TAGS.iter().find(|(_, t)| t == tag).map(|(n, _)| *n)).collect();
    Ok(Com { lds_version: String::from_utf8_lossy(version.value).into_owned(), data_groups })
}

/// EF.COM for data groups `data_groups`, LDS 1.7 (what the card simulator carries).
pub fn encode_com(data_groups: &[u8]) -> Vec<u8> {
    let tags: Vec<u8> = data_groups.iter().filter_map(|n| DG_TAGS.iter().find(|(d, _)| d == n).map(|(_, t)| *t)).collect();
    let inner = [tlv::encode(0x5F01, b"0107"), tlv::encode(0x5F36, b"040000"), tlv::encode(0x5C, &tags)].concat();
    tlv::encode(0x60, &inner)
}

/// The holder's data from DG1: its machine-readable zone, every check digit verified.
pub fn parse_dg1(file: &[u8]) -> Result<HolderData, LdsError> {
    let inner = outer(file, 0x61)?;
    let zone = tlv::find(inner, 0x5F1F)?.ok_or(LdsError::Missing(0x5F1F))?;
    let text = std::str::from_utf8(zone.value).map_err(|_| LdsError::NotText)?;
    if !text.is_ascii() {
        return Err(LdsError::NotText);
    }
    Ok(mrz::parse(text)?)
}

/// DG1 for a zone (its lines joined, as the chip holds it).
pub fn encode_dg1(zone: &str) -> Vec<u8> {
    let joined: String = zone.chars().filter(|c| !c.is_whitespace()).collect();
    tlv::encode(0x61, &tlv::encode(0x5F1F, joined.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ef_com_of_the_worked_example_lists_dg1_and_dg2() {
        // Doc 9303 Part 11 Appendix D.4: EF.COM as read there.
        let file = hex::decode("60145F0104303130365F36063034303030305C026175").expect("hex");
        let com = parse_com(&file).expect("valid");
        assert_eq!(com, Com { lds_version: "0106".into(), data_groups: vec![1, 2] });
        assert_eq!(parse_com(&encode_com(&[1, 2, 14])).expect("valid").data_groups, [1, 2, 14]);
    }

    #[test]
    fn dg1_round_trips_a_zone_and_refuses_a_damaged_one() {
        let zone = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let holder = parse_dg1(&encode_dg1(zone)).expect("valid");
        assert_eq!(holder.surname, "ERIKSSON");
        assert_eq!(parse_dg1(&encode_dg1(&zone.replace("7408122", "7408123"))), Err(LdsError::Mrz(BadMrz::CheckDigit("date of birth"))));
        assert_eq!(parse_dg1(&encode_com(&[1])), Err(LdsError::WrongTag(0x61)));
        assert_eq!(parse_dg1(&[0x61, 0x03, 0x5F, 0x20, 0x00]), Err(LdsError::Missing(0x5F1F)));
        assert!(matches!(parse_dg1(&[0x61, 0x05, 0x5F, 0x1F]), Err(LdsError::Tlv(_))));
        assert_eq!(parse_dg1(&[0x61, 0x05, 0x5F, 0x1F, 0x02, 0xC3, 0xA9]), Err(LdsError::NotText));
    }
}
