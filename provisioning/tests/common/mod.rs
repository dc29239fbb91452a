//! What the technician's tool's tests share.

use std::process::Command;

/// Runs `command` (a `kiosk-provision` command given `--json`) and reads its answer: the exit
/// code and the JSON on standard output. Output that is not JSON fails the test, showing both
/// streams.
pub fn json_answer(command: &mut Command) -> (i32, serde_json::Value) {
    let output = command.output().expect("kiosk-provision runs");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("JSON on stdout ({e}): {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    });
    (output.status.code().expect("exited"), json)
}
