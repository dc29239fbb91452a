//! The ESC/POS driver over USB: libusb (rusb) claims the printer interface and talks over its
//! bulk endpoints.
//!
//! This kernel has no USB, so each test re-runs itself on an emulated bus
//! (`balcao_drivers::usb::sim`: umockdev, the way libusb tests itself), where one USB printer
//! carries the bulk transfers to and from the virtual printer over TCP. Switching the virtual
//! printer off takes the device off the bus, as it would a real one.

use std::time::{Duration, Instant};

use balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter;
use balcao_drivers::receipt_printer::escpos::{EscPosPrinter, Timeouts, UsbConnector};
use balcao_drivers::receipt_printer::{ErrorKind, ReceiptPrinter, ReceiptPrinterStatus};
use balcao_drivers::usb::sim::{EmulatedDevice, EmulatedUsbBus};
use balcao_drivers::usb::{UsbAccess, UsbSelector};
use common::{PAYLOAD, qr_codes_on, receipt, wait_until_ready};

mod common;

fn on_emulated_usb_bus(test: &str) -> Option<EmulatedUsbBus> {
    EmulatedUsbBus::rerun_test_on_bus(EmulatedDevice::Printer, test)
}

fn plug(bus: &EmulatedUsbBus, printer: &VirtualPrinter) {
    bus.connect(printer.address().expect("tcp")).expect("the printer is on the bus");
}

fn usb_printer(device: &str) -> EscPosPrinter {
    let connector = UsbConnector::new(device.parse().expect("selector"), Duration::from_secs(2));
    EscPosPrinter::new(Box::new(connector), Timeouts { answer: Duration::from_millis(500), print_done: Duration::from_secs(5) })
}

#[test]
fn a_receipt_prints_over_usb_bulk_endpoints_byte_for_byte() {
    let Some(bus) = on_emulated_usb_bus("a_receipt_prints_over_usb_bulk_endpoints_byte_for_byte") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let virtual_printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), Some(dir.path())).expect("listens");
    plug(&bus, &virtual_printer);
    let control = virtual_printer.control();

    let mut printer = usb_printer("1209:0001");
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);
    let done = printer.print(&receipt()).expect("prints over USB");
    assert_eq!(done.job, 1);

    // Everything the driver sent went through the bulk OUT endpoint, and the printer got it all.
    assert_eq!(bus.state().expect("state").carried_out, control.bytes_received());
    let printed = control.printed();
    assert_eq!(printed.len(), 1);
    assert!(!printed[0].incomplete);
    assert!(printed[0].text.contains("Taxa paga"), "{}", printed[0].text);
    assert_eq!(qr_codes_on(printed[0].png.as_ref().expect("saved")), vec![PAYLOAD.to_string()]);
    assert!(control.unknown_commands().is_empty(), "{:?}", control.unknown_commands());
}

#[test]
fn paper_running_out_mid_receipt_over_usb_fails_the_job_as_paper_out() {
    let Some(bus) = on_emulated_usb_bus("paper_running_out_mid_receipt_over_usb_fails_the_job_as_paper_out") else { return };
    let virtual_printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), None).expect("listens");
    plug(&bus, &virtual_printer);
    let control = virtual_printer.control();
    control.set_paper_left_mm(Some(30));

    let mut printer = usb_printer("1209:0001");
    let error = printer.print(&receipt()).expect_err("the roll ends");
    assert_eq!(error.kind(), ErrorKind::PaperOut, "{error}");
    assert!(error.to_string().contains("while printing"), "{error}");
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::PaperOut);
    assert!(control.printed().iter().all(|p| p.incomplete));
}

#[test]
fn a_printer_switched_off_leaves_the_bus_and_is_found_again_when_switched_on() {
    let Some(bus) = on_emulated_usb_bus("a_printer_switched_off_leaves_the_bus_and_is_found_again_when_switched_on") else { return };
    let virtual_printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), None).expect("listens");
    plug(&bus, &virtual_printer);
    let control = virtual_printer.control();
    let mut printer = usb_printer("1209:0001");
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Ready);

    control.set_offline(true);
    bus.wait_until_plugged(false, Duration::from_secs(5)).expect("off the bus");
    let started = Instant::now();
    assert_eq!(printer.status().expect("status"), ReceiptPrinterStatus::Offline);
    let error = printer.print(&receipt()).expect_err("nothing to print on");
    assert_eq!(error.kind(), ErrorKind::NoAnswer, "{error}");
    assert!(error.to_string().contains("usb 1209:0001"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "a dead printer must not hang the kiosk: {:?}", started.elapsed());

    control.set_offline(false);
    // Plugged in again, it has a new address on the bus; the driver finds it by its ids.
    let state = bus.wait_until_plugged(true, Duration::from_secs(5)).expect("on the bus");
    assert_eq!(state.plugged, Some(3));
    wait_until_ready(&mut printer, Duration::from_secs(3), "the printer did not come back");
    printer.print(&receipt()).expect("prints again");
    assert_eq!(control.printed().len(), 1);
}

#[test]
fn a_printer_not_on_the_bus_is_offline_and_the_technician_sees_what_is() {
    let Some(bus) = on_emulated_usb_bus("a_printer_not_on_the_bus_is_offline_and_the_technician_sees_what_is") else { return };
    let virtual_printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), None).expect("listens");
    plug(&bus, &virtual_printer);

    let seen = balcao_drivers::usb::list().expect("lists the bus");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].vendor_id, seen[0].product_id, seen[0].access), (0x1209, 0x0001, UsbAccess::Granted));
    assert_eq!(seen[0].serial.as_deref(), Some("VP0001"));
    assert_eq!(seen[0].to_string(), "1209:0001 on bus 1 address 2 (Balcao Virtual ESC/POS printer) serial VP0001");

    let mut elsewhere = usb_printer("04b8:0e28");
    assert_eq!(elsewhere.status().expect("status"), ReceiptPrinterStatus::Offline);
    let error = elsewhere.print(&receipt()).expect_err("no such printer");
    assert_eq!(error.kind(), ErrorKind::NoAnswer);
    assert!(error.to_string().contains("no USB device 04b8:0e28 is connected (devices on the bus: 1209:0001)"), "{error}");

    // Two printers of one model are told apart by serial number.
    let mut wrong_serial = usb_printer("1209:0001/VP0002");
    let error = wrong_serial.print(&receipt()).expect_err("not that one");
    assert!(error.to_string().contains("with that serial number"), "{error}");
    let selector: UsbSelector = "1209:0001/VP0001".parse().expect("selector");
    let mut right_serial = usb_printer(&selector.to_string());
    assert_eq!(right_serial.status().expect("status"), ReceiptPrinterStatus::Ready);
}
