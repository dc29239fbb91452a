//! Secure messaging with 3DES session keys (ICAO 9303 Part 11 §9.8, ISO 7816-4): every command
//! after BAC is wrapped (its data encrypted into `DO'87'`, its Le in `DO'97'`, the whole
//! authenticated by a retail MAC in `DO'8E'` over the send sequence counter), and every answer
//! is checked and unwrapped the same way.
//!
//! Real chips put the status word inside the MAC (`DO'99'`); some emulators leave it out.
//! [`Strictness::Strict`] refuses such answers; [`Strictness::Lenient`] accepts them for tests
//! against emulators, and says so in the kiosk's configuration, never by default.
//!
//! Both sides are here: the terminal's (wrap commands, unwrap answers) and the chip's (unwrap
//! commands, wrap answers) for the card simulator.

use super::apdu::{Command, Response, SW_OK};
use super::crypto::{self, Key};
use super::tlv::{self, TlvError};

const DO_DATA: u32 = 0x87;
const DO_DATA_ODD: u32 = 0x85;
const DO_LE: u32 = 0x97;
const DO_STATUS: u32 = 0x99;
const DO_MAC: u32 = 0x8E;

/// The session keys and send sequence counter BAC ends with. Nothing of them in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub enc: Key,
    pub mac: Key,
    pub ssc: u64,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// Whether an answer must carry its status word under the MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strictness {
    /// `DO'99'` is required, as every real chip sends it.
    #[default]
    Strict,
    /// An answer without `DO'99'` is accepted (the outer status word is used): for emulators.
    Lenient,
}

/// Why a secured message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("its data objects are malformed: {0}")]
    Tlv(#[from] TlvError),
    #[error("it carries no MAC (DO'8E')")]
    MissingMac,
    #[error("its MAC does not match: the message was altered, or the keys are not the chip's")]
    BadMac,
    #[error("it carries no status word under the MAC (DO'99'); strict secure messaging requires it")]
    MissingStatus,
    #[error("it carries an unexpected data object {0:X}")]
    UnexpectedObject(u32),
    #[error("its encrypted data is not padded as ICAO 9303 requires")]
    Padding,
    #[error("its status object is not two bytes")]
    StatusLength,
}

/// One side of a secure channel. The send sequence counter advances with every message, so
/// a message replayed, dropped or reordered fails its MAC.
pub struct SecureChannel {
    keys: SessionKeys,
    strictness: Strictness,
}

impl std::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureChannel").field("strictness", &self.strictness).finish_non_exhaustive()
    }
}

/// The objects of one secured message, raw.
#[derive(Default)]
struct Objects<'a> {
    data: Option<tlv::Tlv<'a>>,
    le: Option<tlv::Tlv<'a>>,
    status: Option<tlv::Tlv<'a>>,
    mac: Option<tlv::Tlv<'a>>,
}

fn split(data: &[u8]) -> Result<Objects<'_>, SmError> {
    let mut objects = Objects::default();
    for object in tlv::objects(data) {
        let object = object?;
        if objects.mac.is_some() {
            // Nothing may follow the MAC: it would not be covered by it.
            return Err(SmError::UnexpectedObject(object.tag));
        }
        let slot = match object.tag {
            DO_DATA | DO_DATA_ODD => &mut objects.data,
            DO_LE => &mut objects.le,
            DO_STATUS => &mut objects.status,
            DO_MAC => &mut objects.mac,
            other => return Err(SmError::UnexpectedObject(other)),
        };
        if slot.replace(object).is_some() {
            return Err(SmError::UnexpectedObject(object.tag));
        }
    }
    Ok(objects)
}

impl SecureChannel {
    pub fn new(keys: SessionKeys, strictness: Strictness) -> Self {
        Self { keys, strictness }
    }

    fn next_ssc(&mut self) -> [u8; 8] {
        self.keys.ssc = self.keys.ssc.wrapping_add(1);
        self.keys.ssc.to_be_bytes()
    }

    fn mac_over(&self, ssc: [u8; 8], parts: &[&[u8]]) -> [u8; 8] {
        let mut n = ssc.to_vec();
        for part in parts {
            n.extend_from_slice(part);
        }
        crypto::mac(&self.keys.mac, &crypto::pad(&n))
    }

    fn mac_checks(&self, ssc: [u8; 8], parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut n = ssc.to_vec();
        for part in parts {
            n.extend_from_slice(part);
        }
        crypto::mac_matches(&self.keys.mac, &crypto::pad(&n), tag)
    }

    fn encrypted_data(&self, data: &[u8]) -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let value = [&[0x01][..], &crypto::encrypt(&self.keys.enc, &crypto::pad(data))].concat();
        tlv::encode(DO_DATA, &value)
    }

    fn decrypted_data(&self, object: Option<tlv::Tlv<'_>>) -> Result<Vec<u8>, SmError> {
        let Some(object) = object else { return Ok(Vec::new()) };
        let (indicator, sealed) = object.value.split_first().ok_or(SmError::Padding)?;
        if object.tag == DO_DATA && *indicator != 0x01 {
            return Err(SmError::Padding);
        }
        let plain = crypto::decrypt(&self.keys.enc, sealed).ok_or(SmError::Padding)?;
        crypto::unpad(&plain).map(<[u8]>::to_vec).ok_or(SmError::Padding)
    }

    /// The terminal wraps a command.
    pub fn protect(&mut self, command: &Command) -> Command {
        let cla = command.cla | 0x0C;
        let header = crypto::pad(&[cla, command.ins, command.p1, command.p2]);
        let data = self.encrypted_data(&command.data);
        let le = command.le.map(|le| match le {
            256 if !command.extended() => tlv::encode(DO_LE, &[0]),
            le if le <= 255 => tlv::encode(DO_LE, &[le as u8]),
            le => tlv::encode(DO_LE, &[(le >> 8) as u8, le as u8]),
        });
        let le = le.unwrap_or_default();
        let ssc = self.next_ssc();
        let mac = self.mac_over(ssc, &[&header, &data, &le]);
        let body = [data, le, tlv::encode(DO_MAC, &mac)].concat();
        let extended = command.extended() || body.len() > 255;
        Command { cla, ins: command.ins, p1: command.p1, p2: command.p2, data: body, le: Some(if extended { 65536 } else { 256 }) }
    }

    /// The terminal checks and unwraps the chip's answer to the command it protected last.
    pub fn unprotect(&mut self, response: &Response) -> Result<Response, SmError> {
        let ssc = self.next_ssc();
        if response.data.is_empty() {
            // An error may come in plain (ISO 7816-4 allows it); it carries no data to trust.
            // A success must be secured.
            return if response.sw == SW_OK { Err(SmError::MissingMac) } else { Ok(response.clone()) };
        }
        let objects = split(&response.data)?;
        let mac = objects.mac.ok_or(SmError::MissingMac)?;
        if objects.le.is_some() {
            return Err(SmError::UnexpectedObject(DO_LE));
        }
        if objects.status.is_none() && self.strictness == Strictness::Strict {
            return Err(SmError::MissingStatus);
        }
        let data_raw = objects.data.map(|o| o.raw).unwrap_or_default();
        let status_raw = objects.status.map(|o| o.raw).unwrap_or_default();
        if !self.mac_checks(ssc, &[data_raw, status_raw], mac.value) {
            return Err(SmError::BadMac);
        }
        let sw = match objects.status {
            Some(status) => {
                let bytes: [u8; 2] = status.value.try_into().map_err(|_| SmError::StatusLength)?;
                u16::from_be_bytes(bytes)
            }
            None => response.sw,
        };
        Ok(Response { data: self.decrypted_data(objects.data)?, sw })
    }

    /// The chip checks and unwraps a protected command.
    pub fn unprotect_command(&mut self, command: &Command) -> Result<Command, SmError> {
        let ssc = self.next_ssc();
        let objects = split(&command.data)?;
        let mac = objects.mac.ok_or(SmError::MissingMac)?;
        if objects.status.is_some() {
            return Err(SmError::UnexpectedObject(DO_STATUS));
        }
        let header = crypto::pad(&[command.cla, command.ins, command.p1, command.p2]);
        let data_raw = objects.data.map(|o| o.raw).unwrap_or_default();
        let le_raw = objects.le.map(|o| o.raw).unwrap_or_default();
        if !self.mac_checks(ssc, &[&header, data_raw, le_raw], mac.value) {
            return Err(SmError::BadMac);
        }
        let le = objects.le.map(|o| match o.value {
            [0] => 256,
            [n] => usize::from(*n),
            [0, 0] => 65536,
            [hi, lo] => usize::from(*hi) << 8 | usize::from(*lo),
            _ => 256,
        });
        Ok(Command {
            cla: command.cla & !0x0C,
            ins: command.ins,
            p1: command.p1,
            p2: command.p2,
            data: self.decrypted_data(objects.data)?,
            le,
        })
    }

    /// The chip wraps its answer; `with_status` false leaves `DO'99'` out, as some emulators do.
    pub fn protect_response(&mut self, response: &Response, with_status: bool) -> Response {
        let ssc = self.next_ssc();
        let data = self.encrypted_data(&response.data);
        let status = if with_status { tlv::encode(DO_STATUS, &response.sw.to_be_bytes()) } else { Vec::new() };
        let mac = self.mac_over(ssc, &[&data, &status]);
        Response { data: [data, status, tlv::encode(DO_MAC, &mac)].concat(), sw: response.sw }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    fn example_session(strictness: Strictness) -> SecureChannel {
        let keys = SessionKeys {
            enc: hex("979EC13B1CBFE9DCD01AB0FED307EAE5").try_into().expect("16"),
            mac: hex("F1CB1F1FB5ADF208806B89DC579DC1F8").try_into().expect("16"),
            ssc: 0x8870_2212_0C06_C226,
        };
        SecureChannel::new(keys, strictness)
    }

    fn response(s: &str) -> Response {
        Response::parse(&hex(s)).expect("a response")
    }

    /// Doc 9303 Part 11, Appendix D.4: selecting and reading EF.COM under secure messaging.
    #[test]
    fn the_worked_example_of_appendix_d_protects_and_unprotects_byte_for_byte() {
        let mut channel = example_session(Strictness::Strict);

        let select = Command::new(0x00, 0xA4, 0x02, 0x0C).data([0x01, 0x1E]);
        assert_eq!(hex::encode_upper(channel.protect(&select).encode()), "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800");
        let answer = channel.unprotect(&response("990290008E08FA855A5D4C50A8ED9000")).expect("valid");
        assert_eq!((answer.data.len(), answer.sw), (0, 0x9000));

        let read_head = Command::new(0x00, 0xB0, 0x00, 0x00).le(4);
        assert_eq!(hex::encode_upper(channel.protect(&read_head).encode()), "0CB000000D9701048E08ED6705417E96BA5500");
        let head = channel.unprotect(&response("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000")).expect("valid");
        assert_eq!(hex::encode_upper(&head.data), "60145F01");

        let read_rest = Command::new(0x00, 0xB0, 0x00, 0x04).le(0x12);
        assert_eq!(hex::encode_upper(channel.protect(&read_rest).encode()), "0CB000040D9701128E082EA28A70F3C7B53500");
        let rest = channel
            .unprotect(&response("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000"))
            .expect("valid");
        assert_eq!(hex::encode_upper(&rest.data), "04303130365F36063034303030305C026175");
    }

    #[test]
    fn the_chip_side_understands_the_terminal_side_and_answers_it() {
        let (mut terminal, mut chip) = (example_session(Strictness::Strict), example_session(Strictness::Strict));
        let command = Command::new(0x00, 0xB0, 0x00, 0x04).le(0x12);
        let received = chip.unprotect_command(&terminal.protect(&command)).expect("the chip checks the MAC");
        assert_eq!((received.ins, received.p2, received.le), (0xB0, 0x04, Some(0x12)));
        let sent = chip.protect_response(&Response { data: b"04303130".to_vec(), sw: 0x9000 }, true);
        assert_eq!(terminal.unprotect(&sent).expect("valid").data, b"04303130");

        let with_data = Command::new(0x00, 0xA4, 0x02, 0x0C).data([0x01, 0x01]);
        assert_eq!(chip.unprotect_command(&terminal.protect(&with_data)).expect("valid").data, [0x01, 0x01]);
    }

    #[test]
    fn an_answer_without_its_status_under_the_mac_is_refused_unless_lenient() {
        let (mut chip, mut strict) = (example_session(Strictness::Strict), example_session(Strictness::Strict));
        let mut lenient = example_session(Strictness::Lenient);
        // Both terminals protect a command, so their counters match the chip's.
        strict.protect(&Command::new(0x00, 0xB0, 0, 0).le(4));
        lenient.protect(&Command::new(0x00, 0xB0, 0, 0).le(4));
        chip.next_ssc();
        let answer = chip.protect_response(&Response { data: vec![0x60, 0x14, 0x5F, 0x01], sw: 0x9000 }, false);
        assert_eq!(strict.unprotect(&answer), Err(SmError::MissingStatus));
        assert_eq!(lenient.unprotect(&answer).expect("lenient").data, [0x60, 0x14, 0x5F, 0x01]);
    }

    #[test]
    fn altered_replayed_or_malformed_answers_are_typed_errors() {
        // The channel of the worked example, just after it asked for EF.COM's first bytes.
        let fresh = || {
            let mut channel = example_session(Strictness::Strict);
            channel.protect(&Command::new(0x00, 0xA4, 0x02, 0x0C).data([0x01, 0x1E]));
            channel.unprotect(&response("990290008E08FA855A5D4C50A8ED9000")).expect("selected");
            channel.protect(&Command::new(0x00, 0xB0, 0x00, 0x00).le(4));
            channel
        };
        let good = "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000";
        assert!(fresh().unprotect(&response(good)).is_ok());
        // One bit of the ciphertext flipped.
        assert_eq!(fresh().unprotect(&response(&good.replacen("9FF0", "9FF1", 1))), Err(SmError::BadMac));
        // The same answer again, a message later: the counter has moved on.
        let mut channel = fresh();
        channel.unprotect(&response(good)).expect("first time");
        channel.protect(&Command::new(0x00, 0xB0, 0x00, 0x00).le(4));
        assert_eq!(channel.unprotect(&response(good)), Err(SmError::BadMac));
        // Truncated inside the MAC object, an unknown object, a success with no MAC.
        assert!(matches!(fresh().unprotect(&response("8709019FF0EC34F9922651990290008E08AD559000")), Err(SmError::Tlv(_))));
        assert_eq!(fresh().unprotect(&response("5301009000")), Err(SmError::UnexpectedObject(0x53)));
        assert_eq!(fresh().unprotect(&response("9000")), Err(SmError::MissingMac));
        assert_eq!(fresh().unprotect(&response("990290008E08AD55CC17140B2DED9000")), Err(SmError::BadMac));
        // A plain error has no data to trust and is passed on.
        assert_eq!(fresh().unprotect(&response("6A82")).expect("plain error").sw, 0x6A82);
    }
}
