//! `kiosk-provision devices`: what this kiosk can see, and for each the configuration value
//! that selects it — serial ports (with their USB ids and stable `/dev/serial/by-id` name),
//! USB devices, PC/SC card readers, CUPS's printer queues, IPP printers announced on the network
//! (DNS-SD) — and, given the kiosk's
//! configuration, whether each device it names is there and can be opened by the user running
//! the tool (run it as the kiosk's user): "found, but permission denied" comes with the exact
//! fix (the group to join, or the udev rule).

use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use balcao_kiosk::config::KioskConfig;

/// A serial port the system lists.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SerialPort {
    pub path: String,
    /// `/dev/serial/by-id/…`, which survives re-plugging into another port.
    pub stable_path: Option<String>,
    /// `VID:PID` and the serial number, for a USB adapter.
    pub usb: Option<String>,
    pub product: Option<String>,
    pub access: Access,
}

/// Whether the user running the tool can open a device, and if not, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Access {
    Ok,
    Missing,
    PermissionDenied {
        owner: String,
        group: String,
        mode: String,
        fix: String,
    },
    /// Another error opening it (busy, not a device).
    Failed {
        error: String,
    },
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Missing => f.write_str("not found: is it plugged in, and the path right?"),
            Self::PermissionDenied { owner, group, mode, fix } => {
                write!(f, "found, but permission denied (owner {owner}, group {group}, mode {mode}): {fix}")
            }
            Self::Failed { error } => write!(f, "found, but it does not open: {error}"),
        }
    }
}

/// A name from `/etc/passwd` or `/etc/group` for an id (the number if none).
fn name_of(file: &str, id: u32) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| id.to_string())
}

/// How a device the kiosk's user cannot open is fixed: join its group when the group may read
/// and write it, else a udev rule that gives it to a group the user joins.
pub fn fix_for(path: &Path, group: &str, mode: u32) -> String {
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty() && u != "root").unwrap_or_else(|| "balcao".into());
    if mode & 0o060 == 0o060 && group != "root" {
        return format!("add the kiosk's user to group {group}: sudo usermod -aG {group} {user} (then restart the kiosk)");
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let subsystem = if name.starts_with("tty") { "tty" } else { "usb" };
    format!(
        "give it to a group the kiosk's user is in, with a udev rule in /etc/udev/rules.d/70-balcao.rules: \
         SUBSYSTEM==\"{subsystem}\", KERNEL==\"{name}\", GROUP=\"dialout\", MODE=\"0660\" — then sudo udevadm control --reload \
         && sudo udevadm trigger, and sudo usermod -aG dialout {user}"
    )
}

/// Whether this process can open `path` to read and write (without waiting for a modem line,
/// and without making it its terminal).
pub fn access(path: &Path) -> Access {
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let opened = std::fs::OpenOptions::new().read(true).write(true).custom_flags(flags.bits() as i32).open(path);
    match opened {
        Ok(_) => Access::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Access::Missing,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => match std::fs::metadata(path) {
            Ok(meta) => {
                let group = name_of("/etc/group", meta.gid());
                Access::PermissionDenied {
                    owner: name_of("/etc/passwd", meta.uid()),
                    fix: fix_for(path, &group, meta.mode()),
                    mode: format!("{:04o}", meta.mode() & 0o7777),
                    group,
                }
            }
            Err(e) => Access::Failed { error: e.to_string() },
        },
        Err(e) => Access::Failed { error: e.to_string() },
    }
}

/// The `/dev/serial/by-id` name that points at `path`, if any.
fn stable_name(path: &Path) -> Option<String> {
    let target = path.canonicalize().ok()?;
    std::fs::read_dir("/dev/serial/by-id")
        .ok()?
        .flatten()
        .find_map(|link| (link.path().canonicalize().ok()? == target).then(|| link.path().to_string_lossy().into_owned()))
}

/// The serial ports the system lists.
pub fn serial_ports() -> Vec<SerialPort> {
    serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .map(|port| {
            let (usb, product) = match &port.port_type {
                serialport::SerialPortType::UsbPort(usb) => (
                    Some(match &usb.serial_number {
                        Some(serial) => format!("{:04x}:{:04x}/{serial}", usb.vid, usb.pid),
                        None => format!("{:04x}:{:04x}", usb.vid, usb.pid),
                    }),
                    usb.product.clone(),
                ),
                _ => (None, None),
            };
            let path = PathBuf::from(&port.port_name);
            SerialPort { stable_path: stable_name(&path), access: access(&path), path: port.port_name, usb, product }
        })
        .collect()
}

/// A device the configuration names, and what became of looking for it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Configured {
    /// The configuration key, e.g. `devices.receipt_printer.serial`.
    pub key: String,
    pub value: String,
    pub access: Access,
}

/// The serial devices `config` names (paths to open), each checked.
pub fn configured(config: &KioskConfig) -> Vec<Configured> {
    let devices = &config.devices;
    [
        ("devices.receipt_printer.serial", devices.receipt_printer.serial.as_ref()),
        ("devices.code_scanner.serial", devices.code_scanner.serial.as_ref()),
        ("devices.payment_terminal.serial", devices.payment_terminal.serial.as_ref()),
    ]
    .into_iter()
    .filter_map(|(key, path)| path.map(|path| (key, path)))
    .map(|(key, path)| Configured { key: key.into(), value: path.display().to_string(), access: access(path) })
    .collect()
}

/// Everything `devices` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Found {
    pub serial_ports: Vec<SerialPort>,
    pub usb: Vec<String>,
    pub card_readers: Result<Vec<String>, String>,
    /// CUPS queues, each as the `devices.document_printer.uri` that prints to it.
    pub cups_queues: Vec<String>,
    /// IPP printers announced on the network (DNS-SD).
    pub network_printers: Result<Vec<NetworkPrinter>, String>,
    pub configured: Vec<Configured>,
}

impl Found {
    /// Whether every device the configuration names can be opened.
    pub fn configured_ok(&self) -> bool {
        self.configured.iter().all(|c| c.access == Access::Ok)
    }
}

/// CUPS's queues (`lpstat -v`), as IPP URIs on the local CUPS; none if CUPS is not there.
pub fn cups_queues() -> Vec<String> {
    let Ok(output) = std::process::Command::new("lpstat").arg("-v").env("LC_ALL", "C").output() else { return Vec::new() };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("device for ")?.split_once(':').map(|(queue, _)| queue.trim().to_string()))
        .map(|queue| format!("ipp://localhost:631/printers/{queue}"))
        .collect()
}

/// An IPP printer announced on the network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetworkPrinter {
    /// The name it announces itself by.
    pub name: String,
    /// The `devices.document_printer.uri` that prints to it.
    pub uri: String,
    /// Its make and model, when it says (`ty`).
    pub model: Option<String>,
}

/// Where to look for printers announced by DNS-SD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interfaces {
    /// Every network the kiosk is on.
    All,
    /// Loopback only (for tests: nothing goes out on a real network).
    Loopback,
}

/// The IPP printers announced by DNS-SD (`_ipp._tcp`, `_ipps._tcp`) within `wait`. The
/// `mdns-sd` crate asks the network itself, so the kiosk needs no avahi daemon for it.
pub fn network_printers(wait: std::time::Duration, interfaces: Interfaces) -> Result<Vec<NetworkPrinter>, String> {
    use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent};
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot ask the network (mDNS): {e}"))?;
    if interfaces == Interfaces::Loopback {
        daemon.disable_interface(IfKind::All).map_err(|e| e.to_string())?;
        daemon.enable_interface(IfKind::LoopbackV4).map_err(|e| e.to_string())?;
    }
    let mut browsing = Vec::new();
    for (kind, scheme) in [("_ipp._tcp.local.", "ipp"), ("_ipps._tcp.local.", "ipps")] {
        browsing.push((daemon.browse(kind).map_err(|e| format!("cannot browse {kind}: {e}"))?, scheme));
    }
    let deadline = std::time::Instant::now() + wait;
    let mut found: Vec<NetworkPrinter> = Vec::new();
    while std::time::Instant::now() < deadline {
        for (events, scheme) in &browsing {
            let Ok(ServiceEvent::ServiceResolved(service)) = events.recv_timeout(std::time::Duration::from_millis(50)) else { continue };
            // An address rather than the `.local` name: the kiosk's resolver may not do mDNS.
            let mut addresses: Vec<std::net::IpAddr> = service.addresses.iter().map(|a| a.to_ip_addr()).collect();
            addresses.sort_by_key(|a| (!a.is_ipv4(), *a));
            let host = match addresses.first() {
                Some(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
                Some(v4) => v4.to_string(),
                None => service.host.trim_end_matches('.').to_string(),
            };
            let path = service.txt_properties.get_property_val_str("rp").unwrap_or("ipp/print").trim_start_matches('/').to_string();
            let name = service.fullname.strip_suffix(&service.ty_domain).unwrap_or(&service.fullname).trim_end_matches('.').to_string();
            let printer = NetworkPrinter {
                name,
                uri: format!("{scheme}://{host}:{}/{path}", service.port),
                model: service.txt_properties.get_property_val_str("ty").map(str::to_owned),
            };
            if !found.contains(&printer) {
                found.push(printer);
            }
        }
    }
    let _ = daemon.shutdown();
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.uri.cmp(&b.uri)));
    Ok(found)
}

/// Looks at everything the kiosk can see, and at what `config` names, listening `mdns_wait`
/// for printers announced on the network (zero: not at all).
pub fn look(config: Option<&KioskConfig>, mdns_wait: std::time::Duration) -> Found {
    Found {
        serial_ports: serial_ports(),
        usb: balcao_drivers::usb::list().map(|seen| crate::usb_devices(&seen).lines().map(str::to_owned).collect()).unwrap_or_default(),
        card_readers: balcao_drivers::identity_reader::pcsc::reader_names().map_err(|e| e.to_string()),
        cups_queues: cups_queues(),
        network_printers: if mdns_wait.is_zero() { Ok(Vec::new()) } else { network_printers(mdns_wait, Interfaces::All) },
        configured: config.map(configured).unwrap_or_default(),
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "serial ports (serial = \"…\"):")?;
        if self.serial_ports.is_empty() {
            writeln!(f, "  none")?;
        }
        for port in &self.serial_ports {
            let path = port.stable_path.as_deref().unwrap_or(&port.path);
            let usb = port.usb.as_deref().map(|u| format!(" USB {u}")).unwrap_or_default();
            let product = port.product.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
            writeln!(f, "  serial = \"{path}\"{usb}{product}: {}", port.access)?;
        }
        writeln!(f, "USB devices (usb = \"VID:PID\"):")?;
        if self.usb.is_empty() {
            writeln!(f, "  none (or libusb cannot list the bus)")?;
        }
        for line in &self.usb {
            writeln!(f, "  {line}")?;
        }
        writeln!(f, "card readers (devices.identity_reader.reader = \"…\"):")?;
        match &self.card_readers {
            Ok(readers) if readers.is_empty() => writeln!(f, "  none: check the reader's cable and its driver")?,
            Ok(readers) => readers.iter().try_for_each(|r| writeln!(f, "  reader = \"{r}\""))?,
            Err(e) => writeln!(f, "  cannot ask pcscd: {e} (is pcscd installed and running?)")?,
        }
        writeln!(f, "printers in CUPS (devices.document_printer.uri = \"…\"):")?;
        if self.cups_queues.is_empty() {
            writeln!(f, "  none")?;
        }
        for uri in &self.cups_queues {
            writeln!(f, "  uri = \"{uri}\"")?;
        }
        writeln!(f, "printers on the network, by DNS-SD (devices.document_printer.uri = \"…\"):")?;
        match &self.network_printers {
            Ok(printers) if printers.is_empty() => {
                writeln!(f, "  none announced: is the printer on, on this network, with IPP Everywhere on?")?
            }
            Ok(printers) => printers.iter().try_for_each(|p| {
                let model = p.model.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
                // The kiosk's driver prints over plain IPP; a printer that offers TLS only needs
                // plain IPP turned on, or a CUPS queue in front of it.
                let tls =
                    if p.uri.starts_with("ipps:") { " — TLS only: turn on plain IPP at the printer, or use a CUPS queue" } else { "" };
                writeln!(f, "  uri = \"{}\": {}{model}{tls}", p.uri, p.name)
            })?,
            Err(e) => writeln!(f, "  {e}")?,
        }
        if !self.configured.is_empty() {
            writeln!(f, "devices the configuration names:")?;
            for c in &self.configured {
                writeln!(f, "  {} = \"{}\": {}", c.key, c.value, c.access)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_its_group_may_use_says_join_the_group_and_one_that_is_roots_alone_needs_a_udev_rule() {
        let join = fix_for(Path::new("/dev/ttyUSB0"), "dialout", 0o20660);
        assert!(join.contains("usermod -aG dialout"), "{join}");
        let rule = fix_for(Path::new("/dev/ttyACM1"), "root", 0o20600);
        assert!(rule.contains("SUBSYSTEM==\"tty\", KERNEL==\"ttyACM1\", GROUP=\"dialout\", MODE=\"0660\""), "{rule}");
        assert_eq!(access(Path::new("/nonexistent/ttyUSB9")), Access::Missing);
    }
}
