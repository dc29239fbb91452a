//! Entry points for fuzzing the parsers a chip's answers reach: each takes arbitrary bytes as
//! what a broken or hostile chip could send, and must return (an error, mostly) without
//! panicking, looping or allocating without bound. The fuzz targets in `drivers/fuzz` call
//! them under libFuzzer; a unit test below feeds them mutated real messages on every build.

use super::apdu::{CardChannel, Command, Response, TransportError, TransportErrorKind};
use super::bac::{self, AccessKeys};
use super::sm::{SecureChannel, SessionKeys, Strictness};
use super::{chip, lds, tlv};

fn session() -> SessionKeys {
    SessionKeys { enc: [0x97; 16], mac: [0xF1; 16], ssc: 0x8870_2212_0C06_C226 }
}

/// BER-TLV objects and file sizes.
pub fn tlv(data: &[u8]) {
    for object in tlv::objects(data).take(1024) {
        if object.is_err() {
            break;
        }
    }
    let _ = tlv::encoded_len(data);
    let _ = tlv::find(data, 0x5F1F);
}

/// A chip's secured answer, and a terminal's secured command as the chip reads it, in both
/// strictness modes.
pub fn secure_messaging(data: &[u8]) {
    for strictness in [Strictness::Strict, Strictness::Lenient] {
        if let Some(response) = Response::parse(data) {
            let _ = SecureChannel::new(session(), strictness).unprotect(&response);
        }
        let command = Command::new(0x0C, 0xB0, 0x00, 0x00).data(data.to_vec()).le(256);
        let _ = SecureChannel::new(session(), strictness).unprotect_command(&command);
    }
}

/// The files: EF.COM, DG1 (whose zone goes through the MRZ parser) and EF.SOD (the CMS
/// structures of passive authentication).
pub fn files(data: &[u8]) {
    let _ = lds::parse_com(data);
    let _ = lds::parse_dg1(data);
    let _ = super::mrz::parse(&String::from_utf8_lossy(data));
    let _ = super::pa::verify(data, &[(1, data)], &super::pa::TrustList::default(), 0);
}

/// A whole read against a chip whose answers are `data`: a sequence of answers, each a two-byte
/// length and its bytes. The reading protocol meets whatever a chip says, at every step.
/// Returns whether a strict read went through (for the corpus's sanity, not for fuzzers).
pub fn chip_answers(data: &[u8]) -> bool {
    struct Scripted<'a> {
        rest: &'a [u8],
    }
    impl CardChannel for Scripted<'_> {
        fn transmit(&mut self, _: &Command) -> Result<Response, TransportError> {
            let out_of_script = || TransportError::new(TransportErrorKind::CardRemoved, "the script ran out");
            let (len, rest) = self.rest.split_first_chunk::<2>().ok_or_else(out_of_script)?;
            let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
            let (answer, rest) = rest.split_at(len);
            self.rest = rest;
            Response::parse(answer).ok_or_else(|| TransportError::new(TransportErrorKind::Malformed, "too short"))
        }
    }
    let key = example_key();
    let mut zero = |buf: &mut [u8]| buf.fill(0);
    let options = |strictness| chip::ReadOptions { strictness, face_image: true };
    let strict = chip::read(&mut Scripted { rest: data }, &key, options(Strictness::Strict), &mut zero).is_ok();
    let _ = chip::read(&mut Scripted { rest: data }, &key, options(Strictness::Lenient), &mut zero);
    // The chip's side of BAC, on the terminal's bytes.
    let _ = bac::chip_respond(&AccessKeys::from_mrz(&key), data, &[0; 8], &[0; 16]);
    strict
}

/// The key of Doc 9303 Part 11's worked example, which the scripted chip is read with.
pub fn example_key() -> super::mrz::MrzKey {
    super::mrz::MrzKey::new(
        "L898902C",
        crate::identity_reader::CalendarDate { year: 1969, month: 8, day: 6 },
        crate::identity_reader::CalendarDate { year: 1994, month: 6, day: 23 },
    )
    .expect("a valid key")
}

#[cfg(feature = "simulators")]
/// A whole conversation with the virtual chip (terminal randomness all zeros), as
/// `chip_answers` takes it: every answer the chip gave, length-prefixed.
fn transcript() -> Vec<u8> {
    use crate::identity_reader::icao::card::VirtualChip;
    struct Recording(VirtualChip, Vec<u8>);
    impl CardChannel for Recording {
        fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
            let answer = self.0.transmit(command)?;
            let bytes = answer.encode();
            self.1.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            self.1.extend_from_slice(&bytes);
            Ok(answer)
        }
    }
    let zone = mrz::format_td3(&mrz::Td3Fields {
        issuing_country: "UTO".into(),
        document_number: "L898902C".into(),
        surname: "SPECIMEN".into(),
        given_names: "TEST".into(),
        nationality: "UTO".into(),
        date_of_birth: mrz::MrzDate::Calendar(mrz::Date::new(1969, 8, 6)),
        date_of_expiry: mrz::MrzDate::Calendar(mrz::Date::new(1994, 6, 23)),
        ..mrz::Td3Fields::default()
    });
    let face = [vec![0x75, 0x82, 0x01, 0x00], vec![0xA5; 256]].concat();
    let chip =
        VirtualChip::new(&zone, &[(lds::data_group_file(2), face)]).unwrap_or_else(|e| unreachable!("the specimen zone is valid: {e}"));
    let mut recording = Recording(chip, Vec::new());
    let mut zero = |buf: &mut [u8]| buf.fill(0);
    let options = chip::ReadOptions { strictness: Strictness::Strict, face_image: true };
    chip::read(&mut recording, &example_key(), options, &mut zero).unwrap_or_else(|e| unreachable!("the virtual chip reads: {e}"));
    recording.1
}

#[cfg(feature = "simulators")]
/// A real EF.SOD, signed by a test country's document signer.
fn security_object() -> Vec<u8> {
    let signer =
        crate::identity_reader::icao::signer::DocumentSigner::generate("UTO").unwrap_or_else(|e| unreachable!("a test signer: {e}"));
    signer.security_object(&[(1, b"\x61\x05\x5F\x1F\x02AB")]).unwrap_or_else(|e| unreachable!("a security object: {e}"))
}

/// Real messages for the fuzzers to start from, as (target, bytes): the worked example's secured
/// answers and files, a whole conversation with the virtual chip, a real EF.SOD. Each goes to
/// every chip target.
#[cfg(feature = "simulators")]
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let messages: Vec<Vec<u8>> = [
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
        "990290008E08FA855A5D4C50A8ED9000",
        "60145F0104303130365F36063034303030305C026175",
        "615B5F1F58503C55544F4552494B53534F4E3C3C414E4E413C4D415249413C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C4C38393839303243333655544F3734303831323246313230343135395A453138343232364228",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
    ]
    .iter()
    .filter_map(|h| hex::decode(h).ok())
    .chain([transcript(), security_object()])
    .collect();
    ["tlv", "secure_messaging", "files", "chip_answers"]
        .into_iter()
        .flat_map(|target| messages.iter().map(move |m| (target, m.clone())))
        .collect()
}

#[cfg(all(test, feature = "simulators"))]
mod tests {
    use super::*;

    /// Real messages of the worked example and a whole conversation with the virtual chip,
    /// then mutations of them: flipped bits, cut short, lengths made huge, bytes inserted.
    /// Deterministic, so a failure repeats.
    fn corpus() -> Vec<Vec<u8>> {
        let seeds: Vec<Vec<u8>> = seeds().into_iter().map(|(_, seed)| seed).collect();
        assert!(chip_answers(&seeds[seeds.len() - 2]), "the recorded conversation replays into a whole read");
        // Each seed four times (once per target): mutations of each, the chip's kind of damage.
        crate::fuzz::mutations(&seeds, 4000, &[0x81, 0x82, 0x83, 0xFF, 0x00])
    }

    #[test]
    fn mutated_chip_messages_never_panic_any_parser() {
        for message in corpus() {
            tlv(&message);
            secure_messaging(&message);
            files(&message);
            chip_answers(&message);
        }
    }
}
