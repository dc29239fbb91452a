//! The cryptography of BAC and 3DES secure messaging (ICAO 9303 Part 11 §9.7 and §9.8): the key
//! derivation function, two-key triple DES in CBC mode with a zero IV, the retail MAC (ISO/IEC
//! 9797-1 MAC algorithm 3) and padding method 2. The ciphers and the MAC come from the
//! RustCrypto crates `des` and `retail-mac`, the hash from `sha1`; CBC chaining over them is
//! a few lines, written here with the zero IV and no padding ICAO prescribes.

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use retail_mac::Mac;
use sha1::Digest;

/// A two-key triple-DES key (K1 ‖ K2), as BAC and its session use.
pub type Key = [u8; 16];
pub const BLOCK: usize = 8;

/// The ICAO key derivation function: the first 16 bytes of SHA-1(seed ‖ counter), with DES
/// parity set. Counter 1 gives the encryption key, counter 2 the MAC key.
pub fn derive_key(seed: &[u8], counter: u32) -> Key {
    let mut hash = sha1::Sha1::new();
    hash.update(seed);
    hash.update(counter.to_be_bytes());
    let digest = hash.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    for byte in &mut key {
        // Odd parity in the low bit of each byte, as DES keys carry it (DES itself ignores it).
        let ones = (*byte >> 1).count_ones();
        *byte = (*byte & 0xFE) | u8::from(ones % 2 == 0);
    }
    key
}

/// The first 16 bytes of SHA-1 of `data`: the BAC key seed from the MRZ information.
pub fn sha1_16(data: &[u8]) -> [u8; 16] {
    let digest = sha1::Sha1::digest(data);
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&digest[..16]);
    seed
}

fn tdes(key: &Key) -> des::TdesEde2 {
    des::TdesEde2::new_from_slice(key).expect("a 16-byte key is a two-key 3DES key")
}

/// 3DES-CBC with a zero IV over whole blocks (callers pad first).
pub fn encrypt(key: &Key, data: &[u8]) -> Vec<u8> {
    debug_assert!(data.len().is_multiple_of(BLOCK));
    let cipher = tdes(key);
    let mut previous = [0u8; BLOCK];
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(BLOCK) {
        let mut block = [0u8; BLOCK];
        for (b, (d, p)) in block.iter_mut().zip(chunk.iter().zip(previous)) {
            *b = d ^ p;
        }
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        previous.copy_from_slice(&block);
        out.extend_from_slice(&block);
    }
    out
}

/// 3DES-CBC decryption with a zero IV; `None` unless the data is whole blocks.
pub fn decrypt(key: &Key, data: &[u8]) -> Option<Vec<u8>> {
    if !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let cipher = tdes(key);
    let mut previous = [0u8; BLOCK];
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(BLOCK) {
        let mut block = <[u8; BLOCK]>::try_from(chunk).ok()?.into();
        cipher.decrypt_block(&mut block);
        out.extend(block.iter().zip(previous).map(|(b, p)| b ^ p));
        previous.copy_from_slice(chunk);
    }
    Some(out)
}

/// The retail MAC of already padded data.
pub fn mac(key: &Key, data: &[u8]) -> [u8; 8] {
    let mut mac = <retail_mac::RetailMac<des::Des> as KeyInit>::new_from_slice(key).expect("a 16-byte key is K ‖ K'");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is the retail MAC of `data`, compared in constant time.
pub fn mac_matches(key: &Key, data: &[u8], tag: &[u8]) -> bool {
    let mut mac = <retail_mac::RetailMac<des::Des> as KeyInit>::new_from_slice(key).expect("a 16-byte key is K ‖ K'");
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// ISO/IEC 9797-1 padding method 2: `80`, then zeros to a whole block.
pub fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while !out.len().is_multiple_of(BLOCK) {
        out.push(0x00);
    }
    out
}

/// Removes padding method 2; `None` if the data is not padded that way.
pub fn unpad(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().rposition(|&b| b != 0)?;
    (data[end] == 0x80 && data.len() - end <= BLOCK).then(|| &data[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("hex")
    }

    #[test]
    fn padding_method_2_round_trips_and_refuses_other_endings() {
        assert_eq!(pad(b""), hex("8000000000000000"));
        assert_eq!(pad(&[1; 7]), [[1u8; 7].as_slice(), &[0x80]].concat());
        assert_eq!(pad(&[1; 8]).len(), 16);
        assert_eq!(unpad(&pad(b"abc")), Some(&b"abc"[..]));
        assert_eq!(unpad(&hex("0102030000000000")), None);
        assert_eq!(unpad(&hex("0000000000000000")), None);
        assert_eq!(unpad(&hex("80000000000000000000000000000000")), None, "more than a block of padding");
    }

    #[test]
    fn cbc_round_trips_and_the_retail_mac_matches_iso_9797_1() {
        let key: Key = hex("0123456789ABCDEFFEDCBA9876543210").try_into().expect("16 bytes");
        let data = pad(b"secure messaging");
        let sealed = encrypt(&key, &data);
        assert_ne!(sealed, data);
        assert_eq!(decrypt(&key, &sealed), Some(data));
        assert_eq!(decrypt(&key, &[0; 7]), None);
        // ISO/IEC 9797-1:2011 B.4.
        assert_eq!(mac(&key, b"Now is the time for all ").to_vec(), hex("A1C72E74EA3FA9B6"));
        assert!(mac_matches(&key, b"Now is the time for all ", &hex("A1C72E74EA3FA9B6")));
        assert!(!mac_matches(&key, b"Now is the time for all ", &hex("A1C72E74EA3FA9B7")));
    }
}
