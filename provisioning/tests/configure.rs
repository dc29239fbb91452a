//! `kiosk-provision configure`: values set from flags or asked for, each checked exactly as
//! the kiosk reads its configuration; a value the kiosk would refuse is refused with the key
//! named and the file left byte for byte as it was; comments stay.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use balcao_kiosk::config::KioskConfig;

fn configure(config: &Path, args: &[&str], input: Option<&str>) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-provision"))
        .args(["configure", "--config"])
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiosk-provision runs");
    child.stdin.take().expect("stdin").write_all(input.unwrap_or_default().as_bytes()).expect("answers");
    let output = child.wait_with_output().expect("ran");
    (
        output.status.code().expect("exited"),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

#[test]
fn values_are_checked_as_the_kiosk_reads_them_and_a_refused_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kiosk.toml");
    std::fs::write(&config, format!("# the kiosk by the door\n[store]\ndata_dir = {:?}\n", dir.path().join("data"))).expect("config");

    let (code, said) =
        configure(&config, &["--set", "kiosk.id=K07", "--set", "kiosk.centre_id=GSC-02", "--set", "session.idle_timeout_secs=90"], None);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("kiosk.id: (unset) → \"K07\""), "{said}");
    let loaded = KioskConfig::load(&config).expect("the kiosk reads it");
    assert_eq!((loaded.kiosk.id.as_str(), loaded.kiosk.centre_id.as_str(), loaded.session.idle_timeout_secs), ("K07", "GSC-02", 90));
    let before = std::fs::read(&config).expect("config");
    assert!(String::from_utf8_lossy(&before).starts_with("# the kiosk by the door"), "the comment stays");

    for (set, key) in [
        ("kiosk.default_language=fr", "`kiosk.default_language`"),
        ("session.idle_timeout_secs=0", "`session.idle_timeout_secs`"),
        ("logging.metrics_listen=0.0.0.0:9464", "`logging.metrics_listen`"),
        ("kiosk.colour=blue", "colour"),
    ] {
        let (code, said) = configure(&config, &["--set", set], None);
        assert_eq!(code, 2, "{set}: {said}");
        assert!(said.contains(key) && said.contains("nothing was written"), "{set}: {said}");
        assert_eq!(std::fs::read(&config).expect("config"), before, "{set}: the file is as it was");
    }
    let (code, said) = configure(&config, &["--set", "no-equals-sign"], None);
    assert_eq!(code, 2, "{said}");

    // Asked on the terminal: an empty answer keeps a value; a port makes the device a real one.
    let (code, said) =
        configure(&config, &["--interactive", "--mdns-wait", "0"], Some("K09\n\npt\n\n/dev/ttyUSB7\n\nipp://10.0.0.9/ipp/print\n"));
    assert_eq!(code, 0, "{said}");
    let loaded = KioskConfig::load(&config).expect("the kiosk reads it");
    assert_eq!(
        (loaded.kiosk.id.as_str(), loaded.kiosk.centre_id.as_str(), loaded.kiosk.default_language.as_str()),
        ("K09", "GSC-02", "pt")
    );
    assert_eq!(loaded.devices.receipt_printer.serial.as_deref(), Some(Path::new("/dev/ttyUSB7")));
    assert_eq!(loaded.devices.document_printer.uri.as_deref(), Some("ipp://10.0.0.9/ipp/print"), "an address makes the A4 printer real");
    // A printer chosen by its letter from those found; a TLS-only one the kiosk cannot use is
    // refused with the key named, and nothing is written.
    let mut asked = Vec::new();
    let printers = ["ipp://localhost:631/printers/a4".to_string(), "ipps://10.0.0.8:631/ipp/print".to_string()];
    let readers = ["ACS ACR1252 1S CL Reader PICC 0".to_string()];
    let answers = "\n\n\n\n\n\nA\n1\n";
    let changes = balcao_provisioning::configure::ask(&mut answers.as_bytes(), &mut asked, &[], &printers, &readers).expect("asked");
    let shown = String::from_utf8(asked).expect("text");
    assert!(shown.contains("a. ipp://localhost:631/printers/a4") && shown.contains("b. ipps://"), "{shown}");
    assert!(changes.contains(&("devices.document_printer.uri".into(), "\"ipp://localhost:631/printers/a4\"".into())), "{changes:?}");
    assert!(shown.contains("1. ACS ACR1252 1S CL Reader PICC 0"), "{shown}");
    assert!(changes.contains(&("devices.identity_reader.reader".into(), "\"ACS ACR1252 1S CL Reader PICC 0\"".into())), "{changes:?}");
    assert!(changes.contains(&("devices.identity_reader.kind".into(), "\"pcsc\"".into())), "{changes:?}");
    let before = std::fs::read(&config).expect("config");
    let (code, said) = configure(&config, &["--set", "devices.document_printer.uri=\"ipps://10.0.0.8:631/ipp/print\""], None);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("devices.document_printer.uri"), "{said}");
    assert_eq!(std::fs::read(&config).expect("config"), before);
}
