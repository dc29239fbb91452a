//! The technician's checks, run as the technician runs them.

use std::process::Command;

fn provision(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).args(args).output().expect("run");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into(), String::from_utf8_lossy(&output.stderr).into())
}

#[test]
fn the_printed_default_configuration_checks_out() {
    let (status, printed, _) = provision(&["print-config".as_ref()]);
    assert_eq!(status, Some(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kiosk.toml");
    std::fs::write(&file, printed).expect("write");
    let (status, summary, stderr) = provision(&["check-config".as_ref(), file.as_os_str()]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(summary.contains("is valid") && summary.contains("kiosk K01 in centre GSC-01"), "{summary}");
}

#[test]
fn a_wrong_value_is_reported_with_its_key_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kiosk.toml");
    std::fs::write(&file, "[kiosk]\nid = \"K01\"\n[display]\nscale = 9.0\n").expect("write");
    let (status, _, stderr) = provision(&["check-config".as_ref(), file.as_os_str()]);
    assert_eq!(status, Some(2));
    assert!(stderr.contains("`display.scale`: 9 must be between 0.25 and 4"), "{stderr}");
    // For scripts: the same verdict as JSON, with the same exit code.
    let (status, json, _) = provision(&["check-config".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(status, Some(2));
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["valid"].as_bool(), json["exit_code"].as_u64()), (Some(false), Some(2)));
    assert!(json["error"].as_str().expect("error").contains("`display.scale`"), "{json}");
    std::fs::write(&file, "[kiosk]\nid = \"K07\"\ncentre_id = \"GSC-03\"\n").expect("write");
    let (status, json, _) = provision(&["check-config".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(status, Some(0));
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["valid"].as_bool(), json["kiosk_id"].as_str(), json["centre_id"].as_str()), (Some(true), Some("K07"), Some("GSC-03")));
}

#[test]
fn usb_devices_lists_a_printer_on_the_bus_with_the_value_that_selects_it() {
    use balcao_drivers::receipt_printer::escpos::sim::VirtualPrinter;
    use balcao_drivers::usb::sim::{EmulatedDevice, EmulatedUsbBus};

    let printer = VirtualPrinter::listen_tcp("127.0.0.1:0".parse().expect("address"), None).expect("listens");
    let bus = EmulatedUsbBus::start(EmulatedDevice::Printer).expect("the emulated USB bus starts");
    bus.connect(printer.address().expect("tcp")).expect("the printer is on the bus");
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).arg("usb-devices").envs(bus.env()).output().expect("run");
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["1209:0001 on bus 1 address 2 (Balcao Virtual ESC/POS printer) serial VP0001", "    usb = \"1209:0001/VP0001\""]
    );
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk-provision")).args(["usb-devices", "--json"]).envs(bus.env()).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let device = &json["usb_devices"][0];
    assert_eq!(
        (device["usb"].as_str(), device["serial"].as_str(), device["access"].as_str()),
        (Some("1209:0001/VP0001"), Some("VP0001"), Some("ok"))
    );
}

#[test]
fn the_payment_terminal_check_talks_zvt_over_the_network_and_a_serial_line() {
    use balcao_drivers::payment_terminal::zvt::sim::{Script, VirtualZvtTerminal};

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kiosk.toml");
    let check = |settings: String| {
        std::fs::write(&file, format!("[devices.payment_terminal]\nkind = \"zvt\"\n{settings}")).expect("write");
        provision(&["payment-terminal".as_ref(), file.as_os_str()])
    };

    // Over TCP: ready, after the diagnosis the terminal asked for; one reservation left open
    // by an earlier payment is named.
    let terminal = VirtualZvtTerminal::listen().expect("virtual terminal");
    terminal.control().require_diagnosis();
    let (status, said, stderr) = check(format!("address = \"{}\"\n", terminal.address()));
    assert_eq!(status, Some(0), "{stderr}");
    assert!(said.contains(&format!("ZVT terminal at {}: ready", terminal.address())) && said.contains("no open reservations"), "{said}");
    assert!(terminal.control().received().contains(&0x0670), "the diagnosis ran");
    {
        use balcao_drivers::payment_terminal::PaymentTerminal;
        let mut driver = balcao_drivers::payment_terminal::zvt::ecr::ZvtTerminal::new(terminal.config());
        terminal.control().script(Script::Approve);
        let request = balcao_drivers::payment_terminal::AuthorizationRequest {
            amount: 3_000,
            reference: "left-open".into(),
            cancel: balcao_drivers::CancelToken::new(),
        };
        driver.authorize(&request, &mut |_| {}).expect("approved");
    }
    let (status, said, _) = check(format!("address = \"{}\"\n", terminal.address()));
    assert_eq!(status, Some(0));
    assert!(said.contains("open reservation (receipt 0001)"), "{said}");
    let (status, json, _) = provision(&["payment-terminal".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(status, Some(0));
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["ready"].as_bool(), json["status"].as_str(), json["open_reservation"].as_u64()), (Some(true), Some("ready"), Some(1)));
    assert_eq!(terminal.control().booked(), [], "the check moved no money");

    // Over a serial line (a pty): the same, with ZVT's framing.
    let serial = VirtualZvtTerminal::on_new_pty().expect("virtual terminal on a pty");
    let port = serial.port_path().expect("pty").to_path_buf();
    let (status, said, stderr) = check(format!("serial = {port:?}\nbaud_rate = 9600\n"));
    assert_eq!(status, Some(0), "{stderr}");
    assert!(said.contains(&format!("ZVT terminal at {} (9600 baud): ready", port.display())), "{said}");

    // Nothing there: a failure that says what to check.
    drop(terminal);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("address");
    let (status, _, stderr) = check(format!("address = \"{closed}\"\n"));
    assert_eq!(status, Some(2));
    assert!(stderr.contains("not answering: check the cable or network"), "{stderr}");
    let (status, json, _) = provision(&["payment-terminal".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(status, Some(2));
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["ready"].as_bool(), json["status"].as_str()), (Some(false), Some("offline")), "{json}");
    // A configuration the kiosk would refuse: the error, as JSON on standard output.
    std::fs::write(&file, "[devices.payment_terminal]\nkind = \"zvt\"\n").expect("write");
    let (status, json, _) = provision(&["payment-terminal".as_ref(), file.as_os_str(), "--json".as_ref()]);
    assert_eq!(status, Some(2));
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert!(json["error"].as_str().expect("error").contains("devices.payment_terminal"), "{json}");
}
