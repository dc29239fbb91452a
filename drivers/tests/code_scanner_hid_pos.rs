//! The HID POS scanner driver over USB: libusb claims the scanner's HID interface and reads its
//! reports from the interrupt IN endpoint. Each test re-runs itself on an emulated USB bus
//! (`balcao_drivers::usb::sim`, umockdev) with a scanner on it that sends the reports of
//! `hid_pos::reports`, as a scanner in HID POS mode does.

use std::time::{Duration, Instant};

use balcao_drivers::code_scanner::hid_pos::{HidPosScanner, reports};
use balcao_drivers::code_scanner::{CodeScanner, ErrorKind, ScannerStatus};
use balcao_drivers::usb::sim::{EmulatedDevice, EmulatedUsbBus};

const RECEIPT_QR: &str = "https://status.balcao.example/a/SJ01-261123-0042?lang=zh-Hant&from=kiosk";

fn on_bus(test: &str) -> Option<EmulatedUsbBus> {
    EmulatedUsbBus::rerun_test_on_bus(EmulatedDevice::HidPosScanner, test)
}

fn scanner() -> HidPosScanner {
    HidPosScanner::new("1209:0002".parse().expect("selector"))
}

fn hold_up(bus: &EmulatedUsbBus, symbology: &[u8; 3], code: &[u8]) {
    for report in reports(*symbology, code) {
        bus.report(&report).expect("the scanner sends");
    }
}

#[test]
fn a_qr_code_across_two_reports_arrives_as_one_scan() {
    let Some(bus) = on_bus("a_qr_code_across_two_reports_arrives_as_one_scan") else { return };
    let mut scanner = scanner();
    assert_eq!(scanner.status().expect("status"), ScannerStatus::Ready);
    assert_eq!(scanner.next_scan(Duration::from_millis(100)).expect("nothing yet"), None);
    hold_up(&bus, b"]Q1", RECEIPT_QR.as_bytes());
    let scan = scanner.next_scan(Duration::from_secs(3)).expect("reads").expect("a scan");
    assert_eq!(scan.text(), RECEIPT_QR);
    // Bytes over the interrupt endpoint: two whole reports.
    assert_eq!(bus.state().expect("state").carried_in, 128);
}

#[test]
fn a_code_with_control_characters_is_malformed_and_the_next_one_reads() {
    let Some(bus) = on_bus("a_code_with_control_characters_is_malformed_and_the_next_one_reads") else { return };
    let mut scanner = scanner();
    hold_up(&bus, b"]C0", b"SJ01\x1b[2J");
    let error = scanner.next_scan(Duration::from_secs(3)).expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Malformed, "{error}");
    hold_up(&bus, b"]C0", b"SJ01-261123-0042");
    assert_eq!(scanner.next_scan(Duration::from_secs(3)).expect("reads").expect("a scan").text(), "SJ01-261123-0042");
}

#[test]
fn an_unplugged_scanner_is_disconnected_then_offline_and_comes_back_when_plugged_in() {
    let Some(bus) = on_bus("an_unplugged_scanner_is_disconnected_then_offline_and_comes_back_when_plugged_in") else { return };
    let mut scanner = scanner();
    assert_eq!(scanner.status().expect("status"), ScannerStatus::Ready);
    bus.unplug().expect("unplugged");
    let started = Instant::now();
    let error = scanner.next_scan(Duration::from_secs(3)).expect_err("gone");
    assert_eq!(error.kind(), ErrorKind::Disconnected, "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "noticed after {:?}", started.elapsed());
    assert_eq!(scanner.status().expect("status"), ScannerStatus::Offline);

    bus.plug().expect("plugged in");
    let deadline = Instant::now() + Duration::from_secs(3);
    while scanner.status().expect("status") != ScannerStatus::Ready {
        assert!(Instant::now() < deadline, "the scanner did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
    hold_up(&bus, b"]C0", b"SJ01-261123-0042");
    assert_eq!(scanner.next_scan(Duration::from_secs(3)).expect("reads").expect("a scan").text(), "SJ01-261123-0042");
}
