//! Entry points for fuzzing what devices send the kiosk, beside the chip's (in
//! `identity_reader::icao::fuzz`): each takes arbitrary bytes as what a broken or hostile device
//! could send and must return without panicking, looping or allocating without bound. The
//! libFuzzer targets in `tests/fuzz` call them; a unit test below feeds them mutated real
//! messages on every build.

use std::time::{Duration, Instant};

use crate::code_scanner::hid_pos;
use crate::code_scanner::serial::{Framer, Framing};
use crate::identity_reader::ocr::ZoneAssembler;
use crate::payment_terminal::zvt::apdu::{Apdu, ApduFramer};
use crate::payment_terminal::zvt::wire::LineDecoder;
use crate::payment_terminal::zvt::{bmp, message};
use crate::receipt_printer::escpos::status::Decoder;

/// Splits `data` into pieces whose sizes its own bytes choose, as reads would fall.
fn pieces(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&size, tail) = rest.split_first()?;
        let take = (usize::from(size) % 64 + 1).min(tail.len());
        let (piece, tail) = tail.split_at(take);
        rest = tail;
        Some(piece)
    })
}

/// A payment terminal's byte stream over TCP: framed by length, each message read as the
/// driver reads it (fields walked, card data taken out, values checked). The bytes are also
/// read as one message's data whatever its command.
pub fn zvt_messages(data: &[u8]) {
    let mut framer = ApduFramer::default();
    for piece in pieces(data) {
        for apdu in framer.push(piece) {
            let _ = message::read(&apdu);
            let _ = bmp::strip_card_data(&apdu.data);
        }
    }
    if let [class, instr, body @ ..] = data {
        for (class, instr) in [(*class, *instr), (0x04, 0x0F), (0x04, 0xFF), (0x06, 0xD3), (0x06, 0x1E), (0x06, 0xD1)] {
            let _ = message::read(&Apdu::new(class, instr, body.to_vec()));
        }
        let _ = bmp::fields(body);
        let _ = bmp::find(body, 0x87).and_then(bmp::bcd_value);
    }
}

/// A serial line to a payment terminal: frames, confirmations and noise, read in pieces; every
/// frame's APDU then read as a message.
pub fn zvt_serial(data: &[u8]) {
    let mut line = LineDecoder::default();
    for piece in pieces(data) {
        for event in line.push(piece) {
            if let crate::payment_terminal::zvt::wire::LineEvent::Frame(bytes) = event {
                zvt_messages(&bytes);
            }
        }
    }
}

/// What an ESC/POS printer sends back (real-time status, ASB, process-id answers), in pieces.
pub fn escpos_status(data: &[u8]) {
    let mut decoder = Decoder::new();
    for piece in pieces(data) {
        let _ = decoder.push(piece);
    }
}

/// A serial scanner's bytes, with the byte gaps its data chooses, under a few framings.
pub fn scanner(data: &[u8]) {
    let framings = [
        Framing::default(),
        Framing { prefix: vec![0x02], suffix: vec![0x03], inter_byte_timeout: Duration::from_millis(50) },
        Framing { prefix: Vec::new(), suffix: Vec::new(), inter_byte_timeout: Duration::from_millis(20) },
    ];
    let start = Instant::now();
    for framing in framings {
        let mut framer = Framer::new(framing);
        let mut now = start;
        for pair in data.chunks(2) {
            now += Duration::from_millis(u64::from(pair.get(1).copied().unwrap_or(0) % 64));
            let _ = framer.push(pair[0], now);
            let _ = framer.idle(now);
        }
        let _ = framer.idle(now + Duration::from_secs(1));
    }
}

/// A USB scanner's HID POS reports (64 bytes each), joined as the driver joins them.
pub fn hid_pos(data: &[u8]) {
    let mut assembler = hid_pos::Assembler::default();
    let mut now = Instant::now();
    for report in data.chunks(hid_pos::REPORT_LEN) {
        now += Duration::from_millis(u64::from(report[0] % 200));
        if let Ok(Some(fragment)) = hid_pos::parse(report) {
            let _ = assembler.push(&fragment, now);
        }
        let _ = assembler.idle(now);
    }
}

/// An OCR document reader's lines (ended by CR), put together into zones.
pub fn ocr_zone(data: &[u8]) {
    let mut assembler = ZoneAssembler::default();
    let mut now = Instant::now();
    for line in data.split(|b| *b == b'\r') {
        now += Duration::from_millis(u64::from(line.first().copied().unwrap_or(0) % 8) * 200);
        let _ = assembler.push(&String::from_utf8_lossy(line), now);
    }
    let _ = assembler.idle(now + Duration::from_secs(5));
}

/// An IPP printer's answer, parsed and read as the A4 printer's driver reads it.
pub fn ipp_answer(data: &[u8]) {
    crate::document_printer::ipp::read_answer(data);
}

/// Real messages for the fuzzers to start from, as (target, bytes): what the project's virtual
/// devices and the protocols' own examples send.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::receipt_printer::escpos::status::{PrinterState, StatusQuery};
    let mut seeds = Vec::new();
    let zvt: Vec<Vec<u8>> = ZVT_MESSAGES.iter().filter_map(|h| hex::decode(h).ok()).collect();
    seeds.push(("zvt_messages", zvt.concat()));
    seeds.extend(zvt.iter().map(|m| ("zvt_messages", m.clone())));
    seeds.push(("zvt_serial", zvt.iter().flat_map(|m| crate::payment_terminal::zvt::wire::frame(m)).collect()));
    seeds.push(("zvt_serial", [&[0x06u8, 0x15][..], &crate::payment_terminal::zvt::wire::frame(&zvt[3])].concat()));
    for state in [
        PrinterState::default(),
        PrinterState { paper_end: true, stopped_by_paper_end: true, ..PrinterState::default() },
        PrinterState { cover_open: true, error: true, ..PrinterState::default() },
        PrinterState { paper_near_end: true, ..PrinterState::default() },
    ] {
        let real_time: Vec<u8> = StatusQuery::ALL.iter().map(|q| state.real_time_byte(*q)).collect();
        seeds.push(("escpos_status", [&state.asb()[..], &real_time, &[0x37, 0x22, b'1', b'2', 0x00]].concat()));
    }
    seeds.push(("scanner", b"https://status.balcao.example/a/K01-261122-0001\r\x02K01-261122-0002\x03\r".to_vec()));
    seeds.push(("scanner", b"BALCAO-SIGNIN:eyJhbGciOiJFZERTQSJ9.e30.AAAA\r".to_vec()));
    seeds.push(("hid_pos", hid_pos::reports(*b"]Q1", b"https://status.balcao.example/a/K01-261122-0001").concat()));
    seeds.push(("hid_pos", hid_pos::reports(*b"]C0", &[b'7'; 120]).concat()));
    seeds.push(("ocr_zone", b"I<UTOD231458907<<<<<<<<<<<<<<<\r7408122F1204159UTO<<<<<<<<<<<6\rERIKSSON<<ANNA<MARIA<<<<<<<<<<\r".to_vec()));
    seeds.push(("ocr_zone", b"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\rL898902C36UTO7408122F1204159ZE184226B<<<<<10\r".to_vec()));
    seeds.extend(crate::document_printer::ipp::sample_answers().into_iter().map(|a| ("ipp_answers", a)));
    seeds
}

/// Messages a payment terminal sends (and an ECR command): registration, acknowledgement,
/// intermediate status, an approval's status information with a masked card number, a text
/// block, aborts, a completion.
const ZVT_MESSAGES: [&str; 9] = [
    "0600060000000008",
    "800000",
    "04FF020A00",
    "040F252700040000000030000B00010187000549044629525235358BF0F4564953412222F0F8424242EEEEEE4242",
    "06D30B060925070704504149440900",
    "061E016C",
    "061E04B8870007",
    "060F0027",
    "04FF0E0C0006092407070843415244204E4F",
];

/// Real messages mutated: flipped bits, cut short, bytes set to `specials` (the values that
/// make lengths huge or end structures), bytes inserted — `count` of them after the seeds.
/// Deterministic, so a failure repeats. For the unit tests that run the fuzzers' entry points
/// on every build.
#[cfg(test)]
pub(crate) fn mutations(seeds: &[Vec<u8>], count: usize, specials: &[u8]) -> Vec<Vec<u8>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut corpus = seeds.to_vec();
    for _ in 0..count {
        let mut message = seeds[(next() % seeds.len() as u64) as usize].clone();
        for _ in 0..(next() % 4 + 1) {
            if message.is_empty() {
                break;
            }
            let at = (next() % message.len() as u64) as usize;
            match next() % 4 {
                0 => message[at] ^= 1 << (next() % 8),
                1 => message.truncate(at),
                2 => message[at] = specials[(next() % specials.len() as u64) as usize],
                _ => message.insert(at, (next() & 0xFF) as u8),
            }
        }
        corpus.push(message);
    }
    corpus
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutated(seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
        mutations(seeds, 2000, &[0x81, 0x82, 0xFF, 0x10, 0x00])
    }

    #[test]
    fn mutated_device_messages_never_panic_any_parser() {
        let zvt: Vec<Vec<u8>> = ZVT_MESSAGES.iter().map(|h| hex::decode(h).expect("hex")).collect();
        for message in mutated(&zvt) {
            zvt_messages(&[&[8u8][..], &message].concat());
            zvt_serial(&crate::payment_terminal::zvt::wire::frame(&message));
        }
        let printer = vec![vec![0x16, 0x00, 0x00, 0x0F], vec![0x12], vec![0x37, 0x22, 0x31, 0x32, 0x33, 0x00]];
        for message in mutated(&printer) {
            escpos_status(&message);
        }
        let scans = vec![b"https://status.example/K01-261122-0001\r".to_vec(), b"\x02BALCAO-SIGNIN:abc\x03".to_vec()];
        for message in mutated(&scans) {
            scanner(&message);
        }
        let reports: Vec<Vec<u8>> = hid_pos::reports(*b"]Q1", b"K01-261122-0001")
            .into_iter()
            .flatten()
            .collect::<Vec<u8>>()
            .chunks(64)
            .map(<[u8]>::to_vec)
            .collect();
        for message in mutated(&[reports.concat()]) {
            hid_pos(&message);
        }
        let zone = b"I<UTOD231458907<<<<<<<<<<<<<<<\r7408122F1204159UTO<<<<<<<<<<<6\rERIKSSON<<ANNA<MARIA<<<<<<<<<<\r".to_vec();
        for message in mutated(&[zone]) {
            ocr_zone(&message);
        }
        for message in mutated(&crate::document_printer::ipp::sample_answers()) {
            ipp_answer(&message);
        }
        let seeds = seeds();
        for target in ["zvt_messages", "zvt_serial", "escpos_status", "scanner", "hid_pos", "ocr_zone", "ipp_answers"] {
            assert!(seeds.iter().any(|(t, _)| *t == target), "{target} has seeds");
        }
    }
}
