//! The technician's tool for setting up a Balcão kiosk.
//!
//! It enrolls the kiosk with central (`enroll.rs`), writes its configuration (`configure.rs`),
//! decommissions it (`decommission.rs`), lists
//! what devices the kiosk can see and whether it may open those its configuration names
//! (`devices.rs`), checks a kiosk's configuration file, prints the documented default one and
//! checks the link to a ZVT payment terminal, and drives a training kiosk's simulated devices
//! (`simulate.rs`); the other device tests come with later work.

pub mod configure;
pub mod decommission;
pub mod devices;
pub mod diagnose;
pub mod enroll;
pub mod simulate;

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

/// What the technician learns from the payment terminal the configuration names.
#[derive(Debug, PartialEq, Eq)]
pub enum TerminalCheck {
    /// Not a ZVT terminal (the simulated one): nothing on the wire to check.
    Simulated,
    /// The terminal answered its registration and status enquiry: `ready` when it takes
    /// payments; `open` is a reservation it still holds (the kiosk's reconciliation settles it).
    Answered { link: String, status: balcao_drivers::payment_terminal::TerminalStatus, open: Option<u32> },
}

impl TerminalCheck {
    pub fn ready(&self) -> bool {
        match self {
            Self::Simulated => true,
            Self::Answered { status, .. } => status.can_pay(),
        }
    }
}

impl std::fmt::Display for TerminalCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use balcao_drivers::payment_terminal::TerminalStatus;
        let Self::Answered { link, status, open } = self else {
            return write!(f, "the payment terminal is simulated (kind is not \"zvt\"): nothing to check on the wire");
        };
        let said = match status {
            TerminalStatus::Ready => "ready: it registered the kiosk and takes payments",
            TerminalStatus::Busy => "busy with a transaction or its own maintenance: try again in a minute",
            TerminalStatus::Offline => "not answering: check the cable or network, the address or port, and the terminal's password",
            TerminalStatus::OutOfOrder => "answering, but it cannot take payments: check its connection to the card network",
        };
        write!(f, "ZVT terminal at {link}: {said}")?;
        match open {
            Some(receipt) => write!(
                f,
                "\n  it holds an open reservation (receipt {receipt:04}): the kiosk's reconciliation books or releases it at start"
            ),
            None if status.can_pay() => write!(f, "\n  no open reservations"),
            None => Ok(()),
        }
    }
}

impl TerminalCheck {
    /// The check for scripts: `ready`, and what the terminal said.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Simulated => serde_json::json!({ "ready": true, "simulated": true }),
            Self::Answered { link, status, open } => serde_json::json!({
                "ready": status.can_pay(),
                "simulated": false,
                "link": link,
                "status": format!("{status:?}").to_lowercase(),
                "open_reservation": open,
                "said": self.to_string(),
            }),
        }
    }
}

/// Registers with the ZVT terminal the configuration at `path` names, asks its status (running
/// a diagnosis if the terminal wants one) and whether it holds an open reservation. Moves no
/// money.
pub fn check_payment_terminal(path: &Path) -> Result<TerminalCheck, ConfigError> {
    use balcao_drivers::payment_terminal::PaymentTerminal;
    let config = KioskConfig::load(path)?;
    let Some(zvt) = config.devices.payment_terminal.zvt(path)? else { return Ok(TerminalCheck::Simulated) };
    let link = zvt.link.to_string();
    let mut terminal = balcao_drivers::payment_terminal::zvt::ecr::ZvtTerminal::new(zvt);
    let status = terminal.status().unwrap_or(balcao_drivers::payment_terminal::TerminalStatus::Offline);
    let open = if status.can_pay() { terminal.open_reservation().ok().flatten() } else { None };
    Ok(TerminalCheck::Answered { link, status, open })
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

/// One USB device for scripts: its ids, where it is, its strings, the `usb = "…"` value that
/// selects it and whether this user may open it.
pub fn usb_device_json(device: &balcao_drivers::usb::UsbDeviceSeen) -> serde_json::Value {
    let selector =
        balcao_drivers::usb::UsbSelector { vendor_id: device.vendor_id, product_id: device.product_id, serial: device.serial.clone() };
    serde_json::json!({
        "vendor_id": format!("{:04x}", device.vendor_id),
        "product_id": format!("{:04x}", device.product_id),
        "bus": device.bus,
        "address": device.address,
        "manufacturer": device.manufacturer,
        "product": device.product,
        "serial": device.serial,
        "usb": selector.to_string(),
        "access": match device.access {
            balcao_drivers::usb::UsbAccess::Granted => "ok",
            balcao_drivers::usb::UsbAccess::PermissionDenied => "permission-denied",
            balcao_drivers::usb::UsbAccess::Failed => "failed",
        },
    })
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
