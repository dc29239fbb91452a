//! No card data is stored, ever. Citizens pay through the ZVT driver at a terminal that sends
//! the card number masked, then at one misconfigured to send it in clear with track 2 (and a
//! receipt line with the number), a payment is reversed and one cut short; then everything
//! the kiosk wrote — its database and WAL, every file in its folder, the text of every
//! receipt it printed, every log line at `trace` — is
//! scanned for Luhn-valid runs of 13 to 19 digits, track-2 patterns and the card number in
//! packed BCD. One hit fails the test.

use std::path::Path;
use std::time::Duration;

use balcao_drivers::payment_terminal::luhn_valid;
use balcao_drivers::payment_terminal::zvt::ecr::{ZvtConfig, ZvtTerminal};
use balcao_drivers::payment_terminal::zvt::sim::{CLEAR_PAN, Script, VirtualZvtTerminal};
use balcao_tests::logs::CapturedLogs;
use balcao_tests::{TestKiosk, citizen, client, eventually, loopback_central, test_settings};
use balcao_ui::view::Screen;

/// What in `bytes` could be card data: runs of ASCII digits holding 13 to 19 digits that pass
/// the Luhn check (a card number inside a longer run counts), the same written in groups of
/// four (`4111 1111 1111 1111`, `4111-1111-…`), anything shaped like track 2 (`PAN=YYMM`), and
/// `pan_bcd` (a card number as a terminal packs it).
fn card_data(bytes: &[u8], pan_bcd: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let luhn_inside = |digits: &[u8]| {
        (13..=19.min(digits.len()))
            .any(|len| digits.windows(len).any(|window| luhn_valid(window) && window.iter().any(|d| *d != window[0])))
    };
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = bytes[i..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| i + n);
        let run = &bytes[i..end];
        if luhn_inside(run) {
            hits.push(format!("Luhn-valid {} at byte {i}", String::from_utf8_lossy(run)));
        }
        if run.len() >= 13 && bytes.get(end) == Some(&b'=') && bytes.get(end + 1..end + 5).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        {
            hits.push(format!("track 2 at byte {i}"));
        }
        // Groups of four with a space or dash between them, standing on their own: not the
        // middle of a longer token such as a UUID (`…-1423-7474-9124-28ab…`, which CI once met).
        let on_its_own = |at: Option<&u8>| at.is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'-' && *b != b'_');
        if run.len() == 4 && on_its_own(i.checked_sub(1).and_then(|p| bytes.get(p))) {
            let mut digits = run.to_vec();
            let mut at = end;
            while matches!(bytes.get(at), Some(b' ' | b'-')) {
                let group = bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if group == 0 || group > 4 {
                    break;
                }
                digits.extend_from_slice(&bytes[at + 1..at + 1 + group]);
                at += 1 + group;
                if group < 4 {
                    break;
                }
            }
            if digits.len() >= 13 && on_its_own(bytes.get(at)) && luhn_inside(&digits) {
                hits.push(format!("Luhn-valid {} in groups at byte {i}", String::from_utf8_lossy(&digits)));
                i = at;
                continue;
            }
        }
        i = end;
    }
    if let Some(at) = bytes.windows(pan_bcd.len()).position(|w| w == pan_bcd) {
        hits.push(format!("the card number in BCD at byte {at}"));
    }
    hits
}

fn every_file(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry")) {
        let path = entry.path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_scan_finds_what_it_looks_for() {
    let bcd = [0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11];
    assert_eq!(card_data(b"paid with 4111111111111111 ok", &bcd).len(), 1);
    assert_eq!(card_data(b"4111 1111 1111 1111", &bcd).len(), 1);
    assert_eq!(card_data(b";4111111111111111=29122010000?", &bcd).len(), 2, "the number and its track");
    assert_eq!(card_data(&[0, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0], &bcd).len(), 1);
    assert!(card_data(b"K01-261202-0001 2026-12-02T12:00:00Z ************1111 0000000000000000", &bcd).is_empty());
    assert!(card_data(b"key 5f0e81c2-1423-7474-9124-28ab00c1d2e3 sent", &bcd).is_empty(), "a UUID is not a card number");
    assert_eq!(card_data(b"(4111-1111-1111-1111)", &bcd).len(), 1, "grouped, between brackets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_or_track_data_in_the_database_the_printouts_or_the_logs() {
    let logs = CapturedLogs::install();

    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let identity = central.kiosk_identity("K01", "GSC-01").expect("identity");
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    let control = terminal.control();
    let mut zvt = ZvtConfig::new(terminal.address());
    zvt.transaction_timeout = Duration::from_secs(3);
    let kiosk_dir = dir.path().join("kiosk");
    let kiosk = TestKiosk::start_with_terminal(
        test_settings(&kiosk_dir),
        &kiosk_dir,
        Some(client(&central.url, &central.ca_pem, &identity)),
        Some(Box::new(ZvtTerminal::new(zvt))),
    )
    .await;

    let mut done = 0;
    for (n, clear) in [(1, false), (2, true), (3, true)] {
        control.send_card_data_in_clear(clear);
        let end = citizen::apply_for_criminal_record(&kiosk, &format!("CITIZEN {n}")).await;
        assert_eq!(end.screen, Screen::Done, "{:?}", end.error);
        done += 1;
        citizen::finish(&kiosk);
        kiosk.view.wait_for("the welcome screen", Duration::from_secs(20), |v| v.screen == Screen::Attract).await;
    }
    // A payment whose answer is lost after approval: reconciled (reversed) once the citizen left.
    control.script(Script::DropAfterApproval);
    let end = citizen::apply_for_criminal_record(&kiosk, "CITIZEN 4").await;
    assert_eq!(end.screen, Screen::Error);
    citizen::finish(&kiosk);
    eventually("the lost payment reconciled", Duration::from_secs(30), || {
        kiosk.store().unfinished_payments().expect("journal").is_empty() && control.open_reservations().is_empty()
    })
    .await;
    assert_eq!(control.booked().len(), done, "each citizen served was charged once");
    // What came out of the receipt printer, as the text it printed: the terminal's lines are
    // on the citizens' receipts, the number masked.
    let printed = kiosk.simulators.virtual_receipt_printer.control().printed();
    let receipts: String = printed.iter().map(|r| r.flowing_text() + "\n").collect();
    assert!(receipts.contains("PRE-AUTHORISATION"), "the terminal's lines are on the receipts: {receipts}");
    assert!(receipts.contains("************1111"), "the number the terminal sent in clear is printed masked: {receipts}");
    kiosk.stop().await;
    central.stop().await.expect("stop");

    let pan_bcd = [0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11];
    assert_eq!(CLEAR_PAN, "4111111111111111", "the scan below looks for this number in BCD");
    let mut files = Vec::new();
    every_file(&kiosk_dir, &mut files);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("kiosk.db")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("receipts")), "receipts were printed: {names:?}");
    let mut found = Vec::new();
    // The data key is 64 random hex digits: in about one test run in a hundred, somewhere in it is a
    // run of 13 or more decimal digits that passes the Luhn check. It holds nothing a citizen gave.
    for file in files.iter().filter(|f| !f.ends_with("keys/data.key")) {
        let bytes = std::fs::read(file).expect("read");
        found.extend(card_data(&bytes, &pan_bcd).into_iter().map(|hit| format!("{}: {hit}", file.display())));
    }
    found.extend(card_data(receipts.as_bytes(), &pan_bcd).into_iter().map(|hit| format!("printed receipts: {hit}")));
    let logs = logs.bytes();
    assert!(logs.len() > 10_000, "the logs were captured: {} bytes", logs.len());
    found.extend(card_data(&logs, &pan_bcd).into_iter().map(|hit| format!("logs: {hit}")));
    assert!(found.is_empty(), "card data found: {found:#?}");
}
