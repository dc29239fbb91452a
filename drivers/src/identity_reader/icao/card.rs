//! A virtual eMRTD chip: the card side of ICAO 9303, answering the same APDUs a real chip
//! does (SELECT, GET CHALLENGE, MUTUAL AUTHENTICATE, then SELECT and READ BINARY under secure
//! messaging), for fast tests and the demo. Knobs make it behave as broken or hostile chips do:
//! it can leave `DO'99'` out (as the vicc emulator does), corrupt its MACs, answer with wrong
//! lengths or status words, or be taken off the reader after a number of commands.

use std::collections::BTreeMap;

use super::apdu::{CardChannel, Command, Response, TransportError, TransportErrorKind};
use super::bac::{self, AccessKeys};
use super::lds;
use super::mrz::MrzKey;
use super::sm::{SecureChannel, Strictness};

/// How the virtual chip misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChipFaults {
    /// Leave the status word out of secured answers (`DO'99'`), as some emulators do.
    pub omit_status: bool,
    /// Flip a bit of the MAC of every secured answer from this many secured commands on.
    pub corrupt_mac_after: Option<usize>,
    /// Return one byte more than asked for in READ BINARY.
    pub overlong_reads: bool,
    /// The card leaves the field after this many commands (any kind).
    pub removed_after: Option<usize>,
}

enum State {
    Idle,
    Selected { challenge: Option<[u8; 8]> },
    Secured(SecureChannel),
}

/// A chip holding an eMRTD application with some files.
pub struct VirtualChip {
    keys: AccessKeys,
    files: BTreeMap<u16, Vec<u8>>,
    state: State,
    selected_file: Option<u16>,
    faults: ChipFaults,
    commands: usize,
    secured_commands: usize,
    next_random: u64,
}

impl std::fmt::Debug for VirtualChip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualChip").field("files", &self.files.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_SECURITY_NOT_SATISFIED: u16 = 0x6982;
const SW_SM_OBJECTS_INCORRECT: u16 = 0x6988;
const SW_AUTHENTICATION_FAILED: u16 = 0x6300;
const SW_CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
const SW_FILE_NOT_FOUND: u16 = 0x6A82;
const SW_WRONG_OFFSET: u16 = 0x6B00;
const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;

fn status(sw: u16) -> Response {
    Response { data: Vec::new(), sw }
}

impl VirtualChip {
    /// A chip whose DG1 holds `zone` (lines of a TD1 or TD3 zone) and whose BAC keys come from
    /// it; EF.COM lists DG1 and, with `extra_files`, the data groups among them.
    pub fn new(zone: &str, extra_files: &[(u16, Vec<u8>)]) -> Result<Self, super::mrz::BadMrz> {
        let holder = super::mrz::parse(zone)?;
        let key: MrzKey = holder.key()?;
        let mut files = BTreeMap::new();
        files.insert(lds::data_group_file(1), lds::encode_dg1(zone));
        let mut groups = vec![1];
        for (file, content) in extra_files {
            if file >> 8 == 0x01 && *file != lds::EF_COM && *file != lds::EF_SOD {
                groups.push(*file as u8);
            }
            files.insert(*file, content.clone());
        }
        files.insert(lds::EF_COM, lds::encode_com(&groups));
        Ok(Self {
            keys: AccessKeys::from_mrz(&key),
            files,
            state: State::Idle,
            selected_file: None,
            faults: ChipFaults::default(),
            commands: 0,
            secured_commands: 0,
            next_random: 0x4608_F919_8870_2212,
        })
    }

    pub fn set_faults(&mut self, faults: ChipFaults) {
        self.faults = faults;
    }

    /// The card is put back on the reader: it starts again from power-up.
    pub fn reinsert(&mut self) {
        self.state = State::Idle;
        self.selected_file = None;
        self.commands = 0;
        self.secured_commands = 0;
        self.faults.removed_after = None;
    }

    fn random<const N: usize>(&mut self) -> [u8; N] {
        // A chip's randomness need not be unpredictable for tests; it must differ per run.
        let mut out = [0u8; N];
        for byte in &mut out {
            self.next_random = self.next_random.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *byte = (self.next_random >> 56) as u8;
        }
        out
    }

    fn answer(&mut self, command: &Command) -> Response {
        // Selecting the application (in plain) starts it afresh, whatever state it was in: a
        // terminal that lost its way, or a new reader session, begins again there.
        if (command.cla, command.ins, command.p1) == (0x00, 0xA4, 0x04) && command.data == lds::AID {
            self.state = State::Selected { challenge: None };
            self.selected_file = None;
            return status(0x9000);
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle | State::Selected { .. } if command.cla & 0x0C != 0 => status(SW_SECURITY_NOT_SATISFIED),
            State::Idle => status(SW_CONDITIONS_NOT_SATISFIED),
            State::Selected { challenge } => match command.ins {
                0x84 => {
                    if command.le != Some(8) {
                        self.state = State::Selected { challenge };
                        return status(SW_WRONG_LENGTH);
                    }
                    let challenge: [u8; 8] = self.random();
                    self.state = State::Selected { challenge: Some(challenge) };
                    Response { data: challenge.to_vec(), sw: 0x9000 }
                }
                0x82 => {
                    let Some(rnd_ic) = challenge else { return status(SW_CONDITIONS_NOT_SATISFIED) };
                    let k_ic: [u8; 16] = self.random();
                    match bac::chip_respond(&self.keys, &command.data, &rnd_ic, &k_ic) {
                        Ok((data, session)) => {
                            self.state = State::Secured(SecureChannel::new(session, Strictness::Strict));
                            Response { data, sw: 0x9000 }
                        }
                        // Back to the start: a new challenge is needed for another try.
                        Err(_) => {
                            self.state = State::Selected { challenge: None };
                            status(SW_AUTHENTICATION_FAILED)
                        }
                    }
                }
                _ => {
                    self.state = State::Selected { challenge };
                    status(SW_SECURITY_NOT_SATISFIED)
                }
            },
            State::Secured(mut channel) => {
                if command.cla & 0x0C != 0x0C {
                    // A plain command ends the secure session, as on a real chip.
                    return status(SW_SECURITY_NOT_SATISFIED);
                }
                let Ok(inner) = channel.unprotect_command(command) else {
                    return status(SW_SM_OBJECTS_INCORRECT);
                };
                self.secured_commands += 1;
                let plain = self.secured(&inner);
                let mut answer = channel.protect_response(&plain, !self.faults.omit_status);
                if self.faults.corrupt_mac_after.is_some_and(|n| self.secured_commands > n)
                    && let Some(last) = answer.data.last_mut()
                {
                    *last ^= 0x01;
                }
                self.state = State::Secured(channel);
                answer
            }
        }
    }

    fn secured(&mut self, command: &Command) -> Response {
        match command.ins {
            0xA4 if command.p1 == 0x02 => {
                let file = command.data.as_slice().try_into().map(u16::from_be_bytes).ok();
                match file.filter(|f| self.files.contains_key(f)) {
                    Some(file) => {
                        self.selected_file = Some(file);
                        status(0x9000)
                    }
                    None => status(SW_FILE_NOT_FOUND),
                }
            }
            0xB0 => {
                let Some(content) = self.selected_file.and_then(|f| self.files.get(&f)) else {
                    return status(SW_CONDITIONS_NOT_SATISFIED);
                };
                let offset = usize::from(command.p1 & 0x7F) << 8 | usize::from(command.p2);
                if command.p1 & 0x80 != 0 || offset > content.len() {
                    return status(SW_WRONG_OFFSET);
                }
                let extra = usize::from(self.faults.overlong_reads);
                let len = command.le.unwrap_or(256) + extra;
                let end = (offset + len).min(content.len());
                Response { data: content[offset..end].to_vec(), sw: 0x9000 }
            }
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }
}

impl CardChannel for VirtualChip {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        self.commands += 1;
        if self.faults.removed_after.is_some_and(|n| self.commands > n) {
            self.state = State::Idle;
            return Err(TransportError::new(TransportErrorKind::CardRemoved, "the card left the reader"));
        }
        Ok(self.answer(command))
    }
}

#[cfg(test)]
mod tests {
    use super::super::chip::{self, ChipError, ReadOptions};
    use super::super::sm::SmError;
    use super::*;
    use crate::identity_reader::CalendarDate;

    pub const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";

    fn key() -> MrzKey {
        MrzKey::new("D23145890", CalendarDate { year: 1974, month: 8, day: 12 }, CalendarDate { year: 2012, month: 4, day: 15 })
            .expect("valid")
    }

    fn counter() -> impl FnMut(&mut [u8]) {
        let mut n = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(37);
                *b = n;
            }
        }
    }

    fn read(chip: &mut VirtualChip, options: ReadOptions) -> Result<chip::ChipContents, ChipError> {
        chip::read(chip, &key(), options, &mut counter())
    }

    #[test]
    fn the_terminal_reads_dg1_from_the_virtual_chip_under_bac_and_secure_messaging() {
        let face = [vec![0x75, 0x82, 0x01, 0x2C], vec![0xFF; 300]].concat();
        let mut chip = VirtualChip::new(TD1, &[(lds::data_group_file(2), face.clone())]).expect("valid zone");
        let contents = read(&mut chip, ReadOptions { face_image: true, ..ReadOptions::default() }).expect("reads");
        assert_eq!(contents.com.data_groups, [1, 2]);
        assert_eq!((contents.holder.surname.as_str(), contents.holder.document_number.as_str()), ("ERIKSSON", "D23145890"));
        assert_eq!(contents.dg2, Some(face), "a file longer than one READ BINARY is read whole");
        assert_eq!(contents.sod, None, "this chip has no security object");
    }

    #[test]
    fn the_wrong_mrz_is_access_denied_and_the_right_one_then_works() {
        let mut chip = VirtualChip::new(TD1, &[]).expect("valid zone");
        let wrong =
            MrzKey::new("D23145891", CalendarDate { year: 1974, month: 8, day: 12 }, CalendarDate { year: 2012, month: 4, day: 15 })
                .expect("valid");
        let error = chip::read(&mut chip, &wrong, ReadOptions::default(), &mut counter()).expect_err("denied");
        assert!(matches!(error, ChipError::AccessDenied(0x6300)), "{error}");
        read(&mut chip, ReadOptions::default()).expect("the right key");
    }

    #[test]
    fn a_chip_without_do99_is_refused_strictly_and_read_leniently() {
        let mut chip = VirtualChip::new(TD1, &[]).expect("valid zone");
        chip.set_faults(ChipFaults { omit_status: true, ..ChipFaults::default() });
        let error = read(&mut chip, ReadOptions::default()).expect_err("strict");
        assert!(matches!(error, ChipError::SecureMessaging { error: SmError::MissingStatus, .. }), "{error}");
        let lenient = ReadOptions { strictness: Strictness::Lenient, ..ReadOptions::default() };
        assert_eq!(read(&mut chip, lenient).expect("lenient").holder.surname, "ERIKSSON");
    }

    #[test]
    fn bad_macs_overlong_answers_and_a_removed_card_are_typed_errors() {
        let mut chip = VirtualChip::new(TD1, &[]).expect("valid zone");
        chip.set_faults(ChipFaults { corrupt_mac_after: Some(2), ..ChipFaults::default() });
        let error = read(&mut chip, ReadOptions::default()).expect_err("bad MAC");
        assert!(matches!(error, ChipError::SecureMessaging { error: SmError::BadMac, .. }), "{error}");

        chip.set_faults(ChipFaults { overlong_reads: true, ..ChipFaults::default() });
        let error = read(&mut chip, ReadOptions::default()).expect_err("overlong");
        assert!(matches!(error, ChipError::Length { what: "READ BINARY", .. }), "{error}");

        chip.set_faults(ChipFaults { removed_after: Some(6), ..ChipFaults::default() });
        let error = read(&mut chip, ReadOptions::default()).expect_err("removed");
        assert!(matches!(&error, ChipError::Transport(e) if e.kind == TransportErrorKind::CardRemoved), "{error}");
        chip.reinsert();
        read(&mut chip, ReadOptions::default()).expect("put back, it reads");
    }

    #[test]
    fn a_card_that_is_not_an_emrtd_or_claims_a_huge_file_is_refused() {
        struct NotAPassport;
        impl CardChannel for NotAPassport {
            fn transmit(&mut self, _: &Command) -> Result<Response, TransportError> {
                Ok(status(SW_FILE_NOT_FOUND))
            }
        }
        assert!(matches!(
            chip::read(&mut NotAPassport, &key(), ReadOptions::default(), &mut counter()),
            Err(ChipError::NotAnEmrtd(0x6A82))
        ));

        let huge = vec![0x75, 0x83, 0x10, 0x00, 0x00];
        let mut chip = VirtualChip::new(TD1, &[(lds::data_group_file(2), huge)]).expect("valid zone");
        let error = read(&mut chip, ReadOptions { face_image: true, ..ReadOptions::default() }).expect_err("too large");
        assert!(matches!(error, ChipError::TooLarge { file: 0x0102, .. }), "{error}");
    }
}
