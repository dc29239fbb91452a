//! Entry points for fuzzing what reaches the kiosk from outside it over this crate: central's
//! JSON answers (read as the client reads them, then checked as the kiosk checks them) and the
//! government app's sign-in codes. Each takes arbitrary bytes and must return without
//! panicking. The libFuzzer targets in `tests/fuzz` call them; a unit test below feeds them
//! mutated real messages on every build.

use jiff::Timestamp;

use crate::api::{
    ApplicationReceipt, ApplicationStatus, BatchResults, Catalog, CertificateChanges, IssuerKey, IssuerKeys, PickupReceipt, Problem,
    TicketReceipt, signin, validate_answers,
};

/// The identity provider's key the fuzzer's codes are signed with (a fixed test key).
pub fn issuer_key_pair() -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&[0x42; 32]).unwrap_or_else(|_| unreachable!("a 32-byte seed is a key"))
}

/// The keys a kiosk would hold for [`issuer_key_pair`].
pub fn issuer_keys() -> IssuerKeys {
    use base64::Engine;
    use ring::signature::KeyPair;
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(issuer_key_pair().public_key().as_ref());
    IssuerKeys {
        issuer: "https://id.balcao.example".into(),
        keys: vec![IssuerKey { kid: "fuzz".into(), alg: "Ed25519".into(), public_key: public, not_after: Timestamp::MAX }],
    }
}

/// The moment the fuzzer's codes are checked at.
pub const NOW: Timestamp = Timestamp::constant(1_796_000_000, 0);

/// A good sign-in code for [`issuer_keys`] at [`NOW`]: a seed for the fuzzer.
pub fn sample_code() -> String {
    let claims = signin::SignInClaims {
        iss: "https://id.balcao.example".into(),
        sub: "c-1".into(),
        aud: "GSC-01".into(),
        iat: NOW.as_second() - 10,
        exp: NOW.as_second() + 100,
        nonce: "3b1f0c2a9d4e5f60718293a4b5c6d7e8".into(),
        name: "SPECIMEN".into(),
        document_number: "12345678".into(),
        birth_date: "1985-03-14".into(),
    };
    signin::encode(&claims, "fuzz", |input| issuer_key_pair().sign(input).as_ref().to_vec())
}

/// Real messages for the fuzzers to start from, as (target, bytes).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("sign_in_codes", sample_code().into_bytes()),
        ("central_answers", serde_json::to_vec(&issuer_keys()).unwrap_or_default()),
        ("central_answers", br#"{"type":"urn:balcao:problem:invalid-answers","title":"Some answers do not fit","status":422,"errors":[{"field":"date_of_birth","error":"required"}]}"#.to_vec()),
        ("central_answers", br#"{"token":"0123abcd.7","reset":false,"ready":[],"gone":["01930000-0000-7000-8000-000000000001"],"more":false}"#.to_vec()),
        ("central_answers", br#"{"results":[{"application_id":"01930000-0000-7000-8000-000000000001","status":201,"receipt":{"application_id":"01930000-0000-7000-8000-000000000001","reference":"K01-261122-0001","state":"received","received_at":"2026-11-22T10:00:00Z"}}]}"#.to_vec()),
    ]
}

/// A scanned text, as the kiosk checks it when it looks like a sign-in code.
pub fn sign_in_code(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if signin::is_sign_in_code(&text) {
        let _ = signin::verify(&text, &issuer_keys(), NOW, "GSC-01", "K01");
    }
    let _ = signin::verify(&format!("{}{text}", signin::SIGN_IN_PREFIX), &issuer_keys(), NOW, "GSC-01", "K01");
}

/// A body central answered, read as each answer the kiosk reads, and then used as the kiosk
/// uses it: a catalog's forms and queues checked, issuer keys used to check a code.
pub fn central_answers(data: &[u8]) {
    if let Ok(catalog) = serde_json::from_slice::<Catalog>(data) {
        for service in &catalog.services {
            let _ = validate_answers(&service.form, &Default::default(), "2026-12-06");
            let _ = catalog.service(&service.id);
        }
        for queue in &catalog.queues {
            let _ = queue.is_valid();
        }
    }
    if let Ok(keys) = serde_json::from_slice::<IssuerKeys>(data) {
        let _ = signin::verify("BALCAO-SIGNIN:e30.e30.AAAA", &keys, NOW, "GSC-01", "K01");
    }
    if let Ok(changes) = serde_json::from_slice::<CertificateChanges>(data) {
        // (An empty number is refused before any hashing: a fuzzed check's costs are not run.)
        for ready in &changes.ready {
            let _ = ready.holder.matches("");
        }
    }
    let _ = serde_json::from_slice::<BatchResults>(data);
    let _ = serde_json::from_slice::<ApplicationReceipt>(data);
    let _ = serde_json::from_slice::<ApplicationStatus>(data);
    let _ = serde_json::from_slice::<PickupReceipt>(data);
    let _ = serde_json::from_slice::<TicketReceipt>(data);
    let _ = serde_json::from_slice::<Problem>(data).map(|p| p.short_kind().len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutations(seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut corpus = seeds.to_vec();
        for _ in 0..1500 {
            let mut message = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..(next() % 4 + 1) {
                if message.is_empty() {
                    break;
                }
                let at = (next() % message.len() as u64) as usize;
                match next() % 4 {
                    0 => message[at] ^= 1 << (next() % 8),
                    1 => message.truncate(at),
                    2 => message[at] = [b'"', b'{', b'[', b'.', b'9'][(next() % 5) as usize],
                    _ => message.insert(at, (next() & 0xFF) as u8),
                }
            }
            corpus.push(message);
        }
        corpus
    }

    #[test]
    fn mutated_answers_and_codes_never_panic() {
        let code = sample_code();
        assert!(signin::verify(&code, &issuer_keys(), NOW, "GSC-01", "K01").is_ok(), "the seed code is a good one");
        for message in mutations(&[code.into_bytes()]) {
            sign_in_code(&message);
        }
        let answers = vec![
            serde_json::to_vec(&issuer_keys()).expect("json"),
            br#"{"type":"urn:balcao:problem:invalid-answers","title":"x","status":422,"errors":[{"field":"a","error":"required"}]}"#
                .to_vec(),
            br#"{"token":"e.1","reset":true,"ready":[],"gone":[],"more":false}"#.to_vec(),
        ];
        for message in mutations(&answers) {
            central_answers(&message);
        }
    }
}
