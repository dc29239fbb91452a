//! The technician's tool for setting up a Balcão kiosk.
//!
//! So far it checks a kiosk's configuration file, prints the documented default one and lists
//! the USB devices a driver can be pointed at; enrolment with central and device tests come
//! with later work.

use std::path::Path;

use balcao_kiosk::config::{ConfigError, KioskConfig};

/// The documented configuration, every key at its default.
pub const EXAMPLE_CONFIG: &str = include_str!("../../kiosk/kiosk.example.toml");

/// Checks a configuration file as the kiosk would at start; on success, a summary for the
/// technician.
pub fn check_config(path: &Path) -> Result<String, ConfigError> {
    let config = KioskConfig::load(path)?;
    let central = if config.central.url.is_empty() { "none (applications stay queued)".to_string() } else { config.central.url.clone() };
    Ok(format!(
        "{} is valid\n  kiosk {} in centre {}, starting in {}\n  central: {}\n  data folder: {}\n  idle timeout: {} s (countdown for the last {} s)",
        path.display(),
        config.kiosk.id,
        config.kiosk.centre_id,
        config.kiosk.default_language,
        central,
        config.store.data_dir.display(),
        config.session.idle_timeout_secs,
        config.session.idle_warning_secs,
    ))
}

/// The USB devices on the bus, one per line, each with the configuration value that selects
/// it, and what to do about one this user may not open.
pub fn usb_devices(seen: &[balcao_drivers::usb::UsbDeviceSeen]) -> String {
    use balcao_drivers::usb::UsbAccess;
    if seen.is_empty() {
        return "no USB devices are connected".to_string();
    }
    let mut out = String::new();
    for device in seen {
        let selector =
            balcao_drivers::usb::UsbSelector { vendor_id: device.vendor_id, product_id: device.product_id, serial: device.serial.clone() };
        out.push_str(&format!("{device}\n    usb = \"{selector}\"\n"));
        if device.access == UsbAccess::PermissionDenied {
            out.push_str(&format!(
                "    this user may not open it: add a udev rule, e.g. SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{:04x}\", ATTR{{idProduct}}==\"{:04x}\", GROUP=\"balcao\", MODE=\"0660\"\n",
                device.vendor_id, device.product_id
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use balcao_drivers::usb::{UsbAccess, UsbDeviceSeen};

    #[test]
    fn each_usb_device_comes_with_its_configuration_value_and_a_locked_one_with_a_udev_rule() {
        assert_eq!(super::usb_devices(&[]), "no USB devices are connected");
        let printer = UsbDeviceSeen {
            vendor_id: 0x04b8,
            product_id: 0x0e28,
            bus: 1,
            address: 4,
            manufacturer: Some("EPSON".into()),
            product: Some("TM-T20III".into()),
            serial: Some("X5RN012345".into()),
            access: UsbAccess::Granted,
        };
        let locked = UsbDeviceSeen {
            vendor_id: 0x0c2e,
            product_id: 0x0b61,
            bus: 1,
            address: 5,
            manufacturer: None,
            product: None,
            serial: None,
            access: UsbAccess::PermissionDenied,
        };
        let listed = super::usb_devices(&[printer, locked]);
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(lines[0], "04b8:0e28 on bus 1 address 4 (EPSON TM-T20III) serial X5RN012345");
        assert_eq!(lines[1], "    usb = \"04b8:0e28/X5RN012345\"");
        assert_eq!(lines[2], "0c2e:0b61 on bus 1 address 5 [permission denied]");
        assert_eq!(lines[3], "    usb = \"0c2e:0b61\"");
        assert!(lines[4].contains(r#"ATTR{idVendor}=="0c2e", ATTR{idProduct}=="0b61""#), "{}", lines[4]);
        assert_eq!(lines.len(), 5);
    }
}
