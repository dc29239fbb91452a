//! `kiosk-provision devices` on a kiosk whose configuration names devices it may not open: as
//! the kiosk's user (here `nobody`, through `setpriv`) each is "found, but permission denied"
//! with the exact fix — join the device's group, or a udev rule when only root may use it —
//! and a device that is not there is said to be missing; the exit code says a configured
//! device cannot be used.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn gid_of(group: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{group}:x:"))?.split(':').next()?.parse().ok())
}

fn run(program: &Path, config: &Path, as_nobody: bool) -> (i32, serde_json::Value) {
    let mut command = if as_nobody {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    common::json_answer(command.args(["devices", "--json", "--mdns-wait", "0", "--config"]).arg(config))
}

fn configured<'a>(json: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    json["configured"].as_array().expect("configured").iter().find(|c| c["key"] == key).map(|c| &c["access"]).expect("checked")
}

#[test]
fn devices_the_kiosk_may_not_open_are_said_so_with_the_fix_and_a_missing_one_as_missing() {
    // `nobody` must reach the files: not under the test run's own temporary folder, which only
    // its owner may enter, but in the system's (removed when the test ends, however it ends).
    let dir = tempfile::Builder::new().prefix("balcao-devices-").tempdir_in("/tmp").expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("open to others");
    // Root's alone, and one its group (dialout) may use.
    let (roots, groups) = (dir.path().join("ttyS90"), dir.path().join("ttyUSB90"));
    for file in [&roots, &groups] {
        std::fs::write(file, b"").expect("device stand-in");
    }
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o600)).expect("mode");
    std::fs::set_permissions(&groups, std::fs::Permissions::from_mode(0o660)).expect("mode");
    let as_nobody = is_root();
    if as_nobody {
        std::os::unix::fs::chown(&groups, None, Some(gid_of("dialout").expect("Debian's dialout group"))).expect("chgrp");
    } else {
        // An ordinary user owns them: a mode that shuts even the owner out stands for root's.
        std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o000)).expect("mode");
    }
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\ndata_dir = {:?}\n[devices.receipt_printer]\nkind = \"escpos\"\nserial = {roots:?}\n\
             [devices.code_scanner]\nkind = \"serial\"\nserial = {groups:?}\n\
             [devices.payment_terminal]\nkind = \"zvt\"\nserial = {:?}\n",
            dir.path().join("data"),
            dir.path().join("ttyACM90"),
        ),
    )
    .expect("config");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("mode");
    // The tool where `nobody` may run it.
    let program = dir.path().join("kiosk-provision");
    std::fs::copy(env!("CARGO_BIN_EXE_kiosk-provision"), &program).expect("copied");

    let (code, json) = run(&program, &config, as_nobody);
    assert_eq!(code, 4, "a configured device cannot be used: {json}");
    let denied = configured(&json, "devices.receipt_printer.serial");
    assert_eq!(denied["state"], "permission-denied", "{json}");
    let fix = denied["fix"].as_str().expect("a fix");
    assert!(fix.contains("udev") && fix.contains("KERNEL==\"ttyS90\""), "only root's: a udev rule: {fix}");
    assert_eq!(configured(&json, "devices.payment_terminal.serial")["state"], "missing", "{json}");
    if as_nobody {
        let group = configured(&json, "devices.code_scanner.serial");
        assert_eq!(group["state"], "permission-denied", "{json}");
        assert!(group["fix"].as_str().expect("a fix").contains("usermod -aG dialout"), "{json}");
        // Root opens them all; only the missing one is left.
        let (code, json) = run(&program, &config, false);
        assert_eq!(code, 4, "{json}");
        assert_eq!(configured(&json, "devices.receipt_printer.serial")["state"], "ok", "{json}");
        assert_eq!(configured(&json, "devices.code_scanner.serial")["state"], "ok", "{json}");
    }
    // The same, for a person.
    let text = Command::new(&program).args(["devices", "--mdns-wait", "0", "--config"]).arg(&config).output().expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("devices the configuration names:") && text.contains("not found"), "{text}");
}

/// A printer announcing itself by DNS-SD is listed with the URI that prints to it. Both ends
/// stay on loopback: nothing is announced on, or asked of, a real network.
#[test]
fn a_printer_announced_by_dns_sd_is_listed_with_its_uri() {
    use balcao_provisioning::devices::{Interfaces, network_printers};
    use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
    let printer = ServiceDaemon::new().expect("an mDNS responder");
    printer.disable_interface(IfKind::All).expect("off every network");
    printer.enable_interface(IfKind::LoopbackV4).expect("on loopback");
    let announced = ServiceInfo::new(
        "_ipp._tcp.local.",
        "Balcao Test A4",
        "balcao-test-a4.local.",
        "127.0.0.1",
        8631,
        [("rp", "ipp/print"), ("ty", "Virtual A4 Printer"), ("pdl", "application/pdf")].as_slice(),
    )
    .expect("service");
    printer.register(announced).expect("announced");

    let found = network_printers(std::time::Duration::from_secs(4), Interfaces::Loopback).expect("browsed");
    let _ = printer.shutdown();
    let test_printer = found.iter().find(|p| p.name == "Balcao Test A4").unwrap_or_else(|| panic!("announced printer found: {found:?}"));
    assert_eq!(test_printer.uri, "ipp://127.0.0.1:8631/ipp/print");
    assert_eq!(test_printer.model.as_deref(), Some("Virtual A4 Printer"));
}
