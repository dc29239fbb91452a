//! The ZVT framing against real traffic: the `zvt` crate's recorded captures of a Feig
//! terminal (each file one APDU, ECR→PT or PT→ECR), read from the crate's source as Cargo
//! fetched it. Each must come out of the framer whole, alone, coalesced with all the others
//! and cut into arbitrary reads; and what comes out must be what the crate's own packet
//! parser accepts.

use std::path::PathBuf;

use balcao_drivers::payment_terminal::zvt::apdu::{Apdu, ApduFramer};
use balcao_drivers::payment_terminal::zvt::bmp;
use zvt::ZvtSerializer as _;

/// The `zvt` crate's source as Cargo fetched it: the version the lock file names, in the
/// registry under `CARGO_HOME`.
fn zvt_source() -> PathBuf {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"zvt\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"')))
        .expect("zvt in Cargo.lock")
        .to_string();
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registries = home.join("registry/src");
    std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("{}: {e}", registries.display()))
        .map(|e| e.expect("entry").path().join(format!("zvt-{version}")))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("zvt-{version} is not under {}", registries.display()))
}

/// The capture files of the `zvt` crate, in the order they were recorded.
fn captures() -> Vec<(String, Vec<u8>)> {
    let data = zvt_source().join("data");
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "blob"))
        .collect();
    files.sort();
    let captures: Vec<_> = files
        .into_iter()
        .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read(&p).expect("capture")))
        .collect();
    assert!(captures.len() >= 20, "the crate's captures: {}", captures.len());
    captures
}

#[test]
fn every_capture_is_one_apdu_that_encodes_back_to_its_bytes() {
    let mut extended = 0;
    for (name, bytes) in captures() {
        let apdus = ApduFramer::default().push(&bytes);
        assert_eq!(apdus.len(), 1, "{name}");
        assert_eq!(apdus[0].encode().expect("encodes"), bytes, "{name}");
        extended += usize::from(bytes[2] == 0xFF);
    }
    assert!(extended >= 3, "the captures include long receipts and replies");
}

#[test]
fn all_captures_in_one_stream_come_out_in_order_however_the_reads_fall() {
    let captures = captures();
    let stream: Vec<u8> = captures.iter().flat_map(|(_, b)| b.clone()).collect();
    let expected: Vec<Apdu> = captures.iter().map(|(_, b)| ApduFramer::default().push(b).remove(0)).collect();
    assert_eq!(ApduFramer::default().push(&stream), expected, "coalesced");
    // Reads of 1 to 97 bytes, in a fixed pseudo-random pattern.
    for seed in 1..=20u32 {
        let mut framer = ApduFramer::default();
        let (mut got, mut at, mut state) = (Vec::new(), 0, seed);
        while at < stream.len() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let take = (1 + (state >> 16) as usize % 97).min(stream.len() - at);
            got.extend(framer.push(&stream[at..at + take]));
            at += take;
        }
        assert_eq!(got, expected, "reads pattern {seed}");
        assert_eq!(framer.pending(), 0);
    }
}

#[test]
fn what_the_framer_delivers_is_what_the_zvt_crates_parser_reads() {
    use zvt::packets;
    let by_name = |wanted: &str| captures().into_iter().find(|(n, _)| n == wanted).map(|(_, b)| b).expect(wanted);
    // A status information after a payment (04 0F) and an intermediate status (04 FF), from
    // the terminal; a receipt line block (06 D3, extended length).
    for name in ["1680728161.963129000_pt_ecr.blob", "1680728215.659492000_pt_ecr.blob"] {
        let apdu = ApduFramer::default().push(&by_name(name)).remove(0);
        assert_eq!(apdu.command(), 0x040F, "{name}");
        let bytes = apdu.encode().expect("encodes");
        let (parsed, rest) = packets::StatusInformation::zvt_deserialize(&bytes).expect(name);
        assert!(rest.is_empty(), "{name}");
        // (The crate writes fields in its own order and pads some differently, so its bytes are
        // not the terminal's: the parsed result is what counts.)
        assert_eq!(parsed.result_code, Some(0), "{name}: approved");
        // The driver's own walk of the fields reads the real terminal's bytes whole; this one
        // sent the card number masked, and only that (its last four digits) is kept.
        bmp::fields(&apdu.data).expect(name);
        let stripped = bmp::strip_card_data(&apdu.data).expect(name);
        assert!(bmp::fields(&stripped.data).expect(name).iter().all(|f| f.number != 0x22), "{name}");
        if name.starts_with("1680728215") {
            assert_eq!(stripped.masked_card.as_deref(), Some("559883******8074"), "{name}");
        }
        let clean = Apdu::new(0x04, 0x0F, stripped.data).encode().expect("encodes");
        let (without, _) = packets::StatusInformation::zvt_deserialize(&clean).expect(name);
        assert_eq!((without.card_number, without.receipt_no, without.amount), (None, parsed.receipt_no, parsed.amount), "{name}");
    }
    // A terminal set to send the card number in clear (a 19-digit test card, BMP 22 `F1 F0`):
    // the driver drops it whole, keeping not even its last digits.
    let clear = ApduFramer::default().push(&by_name("1682066249.409078000_pt_ecr.blob")).remove(0);
    assert!(bmp::fields(&clear.data).expect("walks").iter().any(|f| f.number == 0x22 && f.value.len() == 10));
    let stripped = bmp::strip_card_data(&clear.data).expect("walks");
    assert_eq!(stripped.masked_card, None);
    assert!(bmp::fields(&stripped.data).expect("walks").iter().all(|f| f.number != 0x22));
    let receipt = ApduFramer::default().push(&by_name("1680728215.585561000_pt_ecr.blob")).remove(0);
    assert_eq!((receipt.command(), receipt.data.len() > 255), (0x06D3, true));
    packets::PrintTextBlock::zvt_deserialize(&receipt.encode().expect("encodes")).expect("a text block the crate reads");
}
