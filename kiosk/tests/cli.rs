//! The kiosk program refuses a bad configuration with one clear line naming the file and the
//! key, and an exit status a supervisor can act on; it never starts half-configured.

use std::process::Command;

fn run_with(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, config).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk")).arg("--config").arg(&path).env_remove("DISPLAY").output().expect("run kiosk");
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&path.display().to_string(), "KIOSK.TOML");
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_bad_value_names_the_file_the_key_and_the_line() {
    let (status, stderr) = run_with("[session]\nidle_timeout_secs = -5\n");
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.starts_with("kiosk: KIOSK.TOML:2:21: `session.idle_timeout_secs`: invalid value"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_missing_ca_file_is_named_before_anything_starts() {
    let (status, stderr) = run_with(
        "[central]\nurl = \"https://central.example\"\nca_file = \"/nonexistent/ca.pem\"\nidentity_file = \"/nonexistent/id.pem\"\n",
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("central.ca_file") && stderr.contains("/nonexistent/ca.pem"), "{stderr}");
}

#[test]
fn a_missing_file_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk")).args(["--config", "/nonexistent/kiosk.toml"]).output().expect("run kiosk");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the configuration file /nonexistent/kiosk.toml"), "{stderr}");
}
