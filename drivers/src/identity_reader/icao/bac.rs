//! Basic Access Control (ICAO 9303 Part 11 §4.3): the MRZ key opens the chip by a challenge
//! and a MUTUAL AUTHENTICATE, both sides prove they hold the keys derived from the zone, and
//! their key halves make the session keys of secure messaging.
//!
//! Both sides are here: the terminal's (the kiosk's reader) and the chip's (the card
//! simulator's), so that each is tested against the other and against the worked example of
//! Appendix D.

use super::crypto::{self, Key};
use super::mrz::MrzKey;
use super::sm::SessionKeys;

/// The document basic access keys derived from the MRZ.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeys {
    pub enc: Key,
    pub mac: Key,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKeys(..)")
    }
}

impl AccessKeys {
    pub fn from_mrz(key: &MrzKey) -> Self {
        let seed = key.seed();
        Self { enc: crypto::derive_key(&seed, 1), mac: crypto::derive_key(&seed, 2) }
    }
}

/// Why BAC failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BacError {
    #[error("the chip's answer to MUTUAL AUTHENTICATE has {0} bytes, not 40")]
    Length(usize),
    /// The answer's MAC is wrong: the chip does not hold the keys of this MRZ, or the answer
    /// was damaged.
    #[error("the chip's answer to MUTUAL AUTHENTICATE carries a wrong MAC")]
    Mac,
    /// The chip did not echo the terminal's challenge, or answered another challenge.
    #[error("the chip's answer to MUTUAL AUTHENTICATE is for another challenge")]
    Challenge,
}

/// What the terminal chose for one BAC run: its random challenge and key half.
#[derive(Clone)]
pub struct TerminalSecrets {
    pub rnd_ifd: [u8; 8],
    pub k_ifd: [u8; 16],
}

impl std::fmt::Debug for TerminalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TerminalSecrets(..)")
    }
}

/// The MUTUAL AUTHENTICATE command data: `E_IFD ‖ M_IFD`, where `E_IFD` encrypts
/// `RND.IFD ‖ RND.IC ‖ K.IFD`.
pub fn terminal_authenticate(keys: &AccessKeys, rnd_ic: &[u8; 8], secrets: &TerminalSecrets) -> Vec<u8> {
    let s = [&secrets.rnd_ifd[..], rnd_ic, &secrets.k_ifd].concat();
    let e = crypto::encrypt(&keys.enc, &s);
    let m = crypto::mac(&keys.mac, &crypto::pad(&e));
    [e, m.to_vec()].concat()
}

/// Checks the chip's answer and derives the session keys and send sequence counter.
pub fn terminal_complete(keys: &AccessKeys, response: &[u8], rnd_ic: &[u8; 8], secrets: &TerminalSecrets) -> Result<SessionKeys, BacError> {
    let (rnd_ic_echo, rnd_ifd_echo, k_ic) = open(keys, response)?;
    if rnd_ifd_echo != secrets.rnd_ifd || rnd_ic_echo != *rnd_ic {
        return Err(BacError::Challenge);
    }
    Ok(session(&secrets.k_ifd, &k_ic, rnd_ic, &secrets.rnd_ifd))
}

/// The plaintext of one side's MUTUAL AUTHENTICATE message: two challenges and a key half.
type Plaintext = ([u8; 8], [u8; 8], [u8; 16]);

/// Checks and decrypts `E ‖ M` (40 bytes); returns the three parts of the plaintext.
fn open(keys: &AccessKeys, message: &[u8]) -> Result<Plaintext, BacError> {
    if message.len() != 40 {
        return Err(BacError::Length(message.len()));
    }
    let (e, m) = message.split_at(32);
    if !crypto::mac_matches(&keys.mac, &crypto::pad(e), m) {
        return Err(BacError::Mac);
    }
    let plain = crypto::decrypt(&keys.enc, e).ok_or(BacError::Length(message.len()))?;
    let first: [u8; 8] = plain[..8].try_into().map_err(|_| BacError::Length(message.len()))?;
    let second: [u8; 8] = plain[8..16].try_into().map_err(|_| BacError::Length(message.len()))?;
    let key: [u8; 16] = plain[16..32].try_into().map_err(|_| BacError::Length(message.len()))?;
    Ok((first, second, key))
}

/// The chip's side: checks the terminal's MUTUAL AUTHENTICATE data against its own challenge,
/// and answers with `E_IC ‖ M_IC`, `E_IC` encrypting `RND.IC ‖ RND.IFD ‖ K.IC`.
pub fn chip_respond(keys: &AccessKeys, command: &[u8], rnd_ic: &[u8; 8], k_ic: &[u8; 16]) -> Result<(Vec<u8>, SessionKeys), BacError> {
    let (rnd_ifd, rnd_ic_echo, k_ifd) = open(keys, command)?;
    if rnd_ic_echo != *rnd_ic {
        return Err(BacError::Challenge);
    }
    let r = [&rnd_ic[..], &rnd_ifd, k_ic].concat();
    let e = crypto::encrypt(&keys.enc, &r);
    let m = crypto::mac(&keys.mac, &crypto::pad(&e));
    Ok(([e, m.to_vec()].concat(), session(&k_ifd, k_ic, rnd_ic, &rnd_ifd)))
}

/// Session keys from `K.IFD ⊕ K.IC`; the SSC is the low halves of the two challenges.
fn session(k_ifd: &[u8; 16], k_ic: &[u8; 16], rnd_ic: &[u8; 8], rnd_ifd: &[u8; 8]) -> SessionKeys {
    let seed: Vec<u8> = k_ifd.iter().zip(k_ic).map(|(a, b)| a ^ b).collect();
    let ssc = u64::from_be_bytes([rnd_ic[4], rnd_ic[5], rnd_ic[6], rnd_ic[7], rnd_ifd[4], rnd_ifd[5], rnd_ifd[6], rnd_ifd[7]]);
    SessionKeys { enc: crypto::derive_key(&seed, 1), mac: crypto::derive_key(&seed, 2), ssc }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity_reader::CalendarDate;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).expect("hex").try_into().expect("length")
    }

    fn example_keys() -> AccessKeys {
        let key = MrzKey::new("L898902C", CalendarDate { year: 1969, month: 8, day: 6 }, CalendarDate { year: 1994, month: 6, day: 23 })
            .expect("valid");
        AccessKeys::from_mrz(&key)
    }

    /// Doc 9303 Part 11, Appendix D.3: the worked BAC example, step by step.
    #[test]
    fn the_worked_example_of_appendix_d_authenticates_and_gives_its_session_keys() {
        let keys = example_keys();
        assert_eq!(hex::encode_upper(keys.enc), "AB94FDECF2674FDFB9B391F85D7F76F2");
        assert_eq!(hex::encode_upper(keys.mac), "7962D9ECE03D1ACD4C76089DCE131543");

        let rnd_ic: [u8; 8] = h("4608F91988702212");
        let secrets = TerminalSecrets { rnd_ifd: h("781723860C06C226"), k_ifd: h("0B795240CB7049B01C19B33E32804F0B") };
        let command = terminal_authenticate(&keys, &rnd_ic, &secrets);
        assert_eq!(hex::encode_upper(&command), "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A7");

        let answer = hex::decode("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449").expect("hex");
        let session = terminal_complete(&keys, &answer, &rnd_ic, &secrets).expect("the chip's answer checks out");
        assert_eq!(hex::encode_upper(session.enc), "979EC13B1CBFE9DCD01AB0FED307EAE5");
        assert_eq!(hex::encode_upper(session.mac), "F1CB1F1FB5ADF208806B89DC579DC1F8");
        assert_eq!(session.ssc, 0x8870_2212_0C06_C226);

        // The chip's side, with the chip's key half of the example, answers exactly that.
        let (chip_answer, chip_session) = chip_respond(&keys, &command, &rnd_ic, &h("0B4F80323EB3191CB04970CB4052790B")).expect("valid");
        assert_eq!(chip_answer, answer);
        assert_eq!(chip_session, session);
    }

    #[test]
    fn a_wrong_mrz_a_damaged_answer_or_another_challenge_is_refused() {
        let keys = example_keys();
        let rnd_ic: [u8; 8] = h("4608F91988702212");
        let secrets = TerminalSecrets { rnd_ifd: h("781723860C06C226"), k_ifd: h("0B795240CB7049B01C19B33E32804F0B") };
        let command = terminal_authenticate(&keys, &rnd_ic, &secrets);
        let other_document = AccessKeys::from_mrz(
            &MrzKey::new("L898902C", CalendarDate { year: 1969, month: 8, day: 7 }, CalendarDate { year: 1994, month: 6, day: 23 })
                .expect("valid"),
        );
        assert_eq!(chip_respond(&other_document, &command, &rnd_ic, &[0; 16]).map(|_| ()), Err(BacError::Mac));
        assert_eq!(chip_respond(&keys, &command, &h("0000000000000000"), &[0; 16]).map(|_| ()), Err(BacError::Challenge));

        let (mut answer, _) = chip_respond(&keys, &command, &rnd_ic, &[7; 16]).expect("valid");
        assert!(terminal_complete(&keys, &answer, &rnd_ic, &secrets).is_ok());
        answer[3] ^= 1;
        assert_eq!(terminal_complete(&keys, &answer, &rnd_ic, &secrets).map(|_| ()), Err(BacError::Mac));
        assert_eq!(terminal_complete(&keys, &answer[..39], &rnd_ic, &secrets).map(|_| ()), Err(BacError::Length(39)));
    }
}
