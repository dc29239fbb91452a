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
}
