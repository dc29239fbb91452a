//! The serial scanner driver against the virtual scanner, over a socat pty pair.

use std::time::{Duration, Instant};

use balcao_drivers::code_scanner::serial::{Framing, SerialScanner};
use balcao_drivers::code_scanner::sim::VirtualScanner;
use balcao_drivers::code_scanner::{CodeScanner, ErrorKind, ScannerStatus};

const WAIT: Duration = Duration::from_secs(3);

fn pair(prefix: &[u8], suffix: &[u8], byte_time: Duration) -> (VirtualScanner, SerialScanner) {
    let scanner = VirtualScanner::on_new_pty(prefix, suffix, byte_time).expect("virtual scanner on a pty (socat)");
    let framing = Framing { prefix: prefix.to_vec(), suffix: suffix.to_vec(), inter_byte_timeout: Duration::from_millis(50) };
    let mut driver = SerialScanner::new(scanner.port_path().to_string_lossy(), 9600, framing).expect("driver");
    // The kiosk opens the port (its status poll) before anyone scans; bytes that reach a port
    // nobody has open yet are cleared on opening, as they belong to nobody.
    assert_eq!(driver.status().expect("status"), ScannerStatus::Ready);
    (scanner, driver)
}

fn next_text(driver: &mut SerialScanner) -> String {
    driver.next_scan(WAIT).expect("a scan").expect("within the wait").text().to_owned()
}

#[test]
fn codes_arrive_without_prefix_and_suffix_even_back_to_back() {
    let (scanner, mut driver) = pair(b"]Q1", b"\r\n", Duration::ZERO);
    scanner.present(b"https://www.gov.mo/balcao/status/K01-261122-0007").expect("scan");
    assert_eq!(next_text(&mut driver), "https://www.gov.mo/balcao/status/K01-261122-0007");
    // Two codes in one write: the second is not lost.
    scanner.send_raw(b"]Q1FIRST\r\n]Q1SECOND\r\n").expect("scan");
    assert_eq!(next_text(&mut driver), "FIRST");
    assert_eq!(next_text(&mut driver), "SECOND");
}

#[test]
fn a_code_sent_at_9600_baud_pace_is_one_code() {
    let (scanner, mut driver) = pair(b"", b"\r", Duration::from_millis(1));
    let t = std::thread::spawn(move || {
        scanner.present(b"K01-261122-0007").expect("scan");
        scanner
    });
    assert_eq!(next_text(&mut driver), "K01-261122-0007");
    drop(t.join().expect("scanner thread"));
}

#[test]
fn without_a_suffix_the_gap_ends_the_code() {
    let (scanner, mut driver) = pair(b"", b"", Duration::ZERO);
    scanner.present(b"K01-261122-0008").expect("scan");
    let started = Instant::now();
    assert_eq!(next_text(&mut driver), "K01-261122-0008");
    assert!(started.elapsed() < Duration::from_secs(1), "ended by the 50 ms gap, took {:?}", started.elapsed());
}

#[test]
fn a_code_cut_short_or_garbage_is_malformed_and_the_next_code_reads() {
    let (scanner, mut driver) = pair(b"", b"\r", Duration::ZERO);
    // The driver is reading while the scanner sends, as in the kiosk: the gap is seen live.
    let t = std::thread::spawn(move || {
        scanner.send_raw(b"K01-2611").expect("half a code");
        std::thread::sleep(Duration::from_millis(150));
        scanner.send_raw(b"\x02\x1b[31m\r").expect("garbage");
        scanner.present(b"K01-261122-0009").expect("scan");
        scanner
    });
    let first = driver.next_scan(WAIT).expect_err("cut short");
    assert_eq!(first.kind(), ErrorKind::Malformed, "{first}");
    assert!(first.to_string().contains("without its suffix"), "{first}");
    assert_eq!(driver.next_scan(WAIT).expect_err("control characters").kind(), ErrorKind::Malformed);
    assert_eq!(next_text(&mut driver), "K01-261122-0009");
    drop(t.join().expect("scanner thread"));
}

#[test]
fn an_oversized_code_is_dropped_without_growing_memory() {
    let (scanner, mut driver) = pair(b"", b"\r", Duration::ZERO);
    let mut flood = vec![b'9'; 100_000];
    flood.push(b'\r');
    let t = std::thread::spawn(move || {
        scanner.send_raw(&flood).expect("flood");
        scanner.present(b"AFTER").expect("scan");
        scanner
    });
    assert_eq!(driver.next_scan(WAIT).expect_err("too long").kind(), ErrorKind::Malformed);
    assert_eq!(next_text(&mut driver), "AFTER");
    drop(t.join().expect("scanner thread"));
}

#[test]
fn nothing_scanned_is_none_within_the_wait() {
    let (_scanner, mut driver) = pair(b"", b"\r", Duration::ZERO);
    let started = Instant::now();
    assert!(driver.next_scan(Duration::from_millis(200)).expect("no error").is_none());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn an_unplugged_scanner_is_disconnected_then_offline() {
    let (scanner, mut driver) = pair(b"", b"\r", Duration::ZERO);
    assert_eq!(driver.status().expect("status"), ScannerStatus::Ready);
    scanner.unplug();
    let e = driver.next_scan(WAIT).expect_err("unplugged");
    assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}");
    assert_eq!(driver.status().expect("status"), ScannerStatus::Offline);
}
