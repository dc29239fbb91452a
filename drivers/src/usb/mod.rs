//! USB devices through libusb (the `rusb` crate): finding a device by vendor and product id
//! (and serial number, when a kiosk has two of a kind), listing what is on the bus for the
//! technician, and a byte link over an interface's bulk endpoints for drivers that speak a
//! byte-stream protocol over USB (ESC/POS printers).
//!
//! libusb's calls block; like every driver call they are made from a device thread.
//!
//! `sim.rs` (with the simulators) puts a USB printer on an emulated bus, for tests on machines
//! without USB.

#[cfg(feature = "simulators")]
pub mod sim;

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rusb::{Context, Device, DeviceHandle, Direction, TransferType, UsbContext};

/// Which USB device a driver uses: `VID:PID` in hex, optionally `/SERIAL` (e.g. `04b8:0e28`,
/// `04b8:0e28/X5RN012345`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbSelector {
    pub vendor_id: u16,
    pub product_id: u16,
    /// The device's serial number string, when several devices share vendor and product.
    pub serial: Option<String>,
}

impl fmt::Display for UsbSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor_id, self.product_id)?;
        if let Some(serial) = &self.serial {
            write!(f, "/{serial}")?;
        }
        Ok(())
    }
}

/// Why a selector could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a USB device: write the vendor and product id in hex as VID:PID, e.g. \"04b8:0e28\", optionally followed by /SERIAL")]
pub struct BadUsbSelector(pub String);

impl std::str::FromStr for UsbSelector {
    type Err = BadUsbSelector;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadUsbSelector(text.to_string());
        let (ids, serial) = match text.split_once('/') {
            Some((ids, serial)) if !serial.is_empty() && serial.chars().all(|c| c.is_ascii_graphic()) => (ids, Some(serial)),
            Some(_) => return Err(bad()),
            None => (text, None),
        };
        let (vendor, product) = ids.split_once(':').ok_or_else(bad)?;
        let hex = |s: &str| {
            let digits = s.len() == 4 && s.chars().all(|c| c.is_ascii_hexdigit());
            digits.then(|| u16::from_str_radix(s, 16).ok()).flatten().ok_or_else(bad)
        };
        Ok(Self { vendor_id: hex(vendor)?, product_id: hex(product)?, serial: serial.map(str::to_string) })
    }
}

impl UsbSelector {
    fn matches_ids(&self, device: &Device<Context>) -> bool {
        device.device_descriptor().is_ok_and(|d| d.vendor_id() == self.vendor_id && d.product_id() == self.product_id)
    }
}

/// Whether this process may open a device it sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbAccess {
    Granted,
    /// Found, but the device node's permissions keep this user out (a udev rule is missing).
    PermissionDenied,
    /// Found, but opening it failed otherwise (it went away, or the bus refused).
    Failed,
}

/// A device on the bus, as the technician needs to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbDeviceSeen {
    pub vendor_id: u16,
    pub product_id: u16,
    pub bus: u8,
    pub address: u8,
    /// Manufacturer, product and serial strings, where the device could be opened to ask.
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
    pub access: UsbAccess,
}

impl fmt::Display for UsbDeviceSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x} on bus {} address {}", self.vendor_id, self.product_id, self.bus, self.address)?;
        let names: Vec<&str> = [&self.manufacturer, &self.product].into_iter().flatten().map(String::as_str).collect();
        if !names.is_empty() {
            write!(f, " ({})", names.join(" "))?;
        }
        if let Some(serial) = &self.serial {
            write!(f, " serial {serial}")?;
        }
        match self.access {
            UsbAccess::Granted => Ok(()),
            UsbAccess::PermissionDenied => write!(f, " [permission denied]"),
            UsbAccess::Failed => write!(f, " [cannot be opened]"),
        }
    }
}

/// Every device on the bus, with whether it can be opened.
pub fn list() -> rusb::Result<Vec<UsbDeviceSeen>> {
    let context = Context::new()?;
    Ok(context.devices()?.iter().filter_map(|device| describe(&device)).collect())
}

fn describe(device: &Device<Context>) -> Option<UsbDeviceSeen> {
    let descriptor = device.device_descriptor().ok()?;
    let mut seen = UsbDeviceSeen {
        vendor_id: descriptor.vendor_id(),
        product_id: descriptor.product_id(),
        bus: device.bus_number(),
        address: device.address(),
        manufacturer: None,
        product: None,
        serial: None,
        access: UsbAccess::Granted,
    };
    match device.open() {
        Ok(handle) => {
            seen.manufacturer = handle.read_manufacturer_string_ascii(&descriptor).ok();
            seen.product = handle.read_product_string_ascii(&descriptor).ok();
            seen.serial = handle.read_serial_number_string_ascii(&descriptor).ok();
        }
        Err(rusb::Error::Access) => seen.access = UsbAccess::PermissionDenied,
        Err(_) => seen.access = UsbAccess::Failed,
    }
    Some(seen)
}

/// The class code of the vendor-specific interfaces many devices use instead of their class's
/// (receipt printers especially).
const VENDOR_SPECIFIC: u8 = 0xFF;

/// An interface of an open device that this process claimed, with the endpoints a driver asked
/// for, in the order it asked.
pub struct ClaimedInterface {
    handle: DeviceHandle<Context>,
    interface: u8,
    endpoints: Vec<u8>,
}

impl fmt::Debug for ClaimedInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedInterface").field("interface", &self.interface).field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

impl Drop for ClaimedInterface {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.interface);
    }
}

impl ClaimedInterface {
    /// The address of the `n`th endpoint asked for.
    pub fn endpoint(&self, n: usize) -> u8 {
        self.endpoints[n]
    }

    pub fn handle(&self) -> &DeviceHandle<Context> {
        &self.handle
    }
}

/// Opens the device `selector` names and claims its first interface of `class` (or of the
/// vendor-specific class) that has an endpoint of each `(transfer type, direction)` in
/// `endpoints`, detaching a kernel driver (such as `usblp` or `usbhid`) that holds it. Errors
/// are `std::io::Error`s whose message tells the technician what was found and what to do.
pub fn open_interface(
    context: &Context,
    selector: &UsbSelector,
    class: u8,
    endpoints: &[(TransferType, Direction)],
) -> std::io::Result<ClaimedInterface> {
    use std::io::{Error, ErrorKind};
    let devices = context.devices().map_err(|e| io_error(e, "listing the USB devices"))?;
    let mut candidates = devices.iter().filter(|d| selector.matches_ids(d)).peekable();
    if candidates.peek().is_none() {
        let seen: Vec<String> = devices
            .iter()
            .filter_map(|d| d.device_descriptor().ok().map(|s| format!("{:04x}:{:04x}", s.vendor_id(), s.product_id())))
            .collect();
        let seen = if seen.is_empty() { "none".to_string() } else { seen.join(", ") };
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no USB device {selector} is connected (devices on the bus: {seen}): check the cable and that the device is on"),
        ));
    }
    let mut last_error = None;
    for device in candidates {
        let handle = match device.open() {
            Ok(handle) => handle,
            Err(e) => {
                last_error = Some(io_error(
                    e,
                    &format!("opening USB device {selector} at bus {} address {}", device.bus_number(), device.address()),
                ));
                continue;
            }
        };
        if let Some(wanted) = &selector.serial {
            let serial = device.device_descriptor().and_then(|d| handle.read_serial_number_string_ascii(&d)).ok();
            if serial.as_deref() != Some(wanted.as_str()) {
                continue;
            }
        }
        let config =
            device.active_config_descriptor().map_err(|e| io_error(e, &format!("reading USB device {selector}'s configuration")))?;
        let found = config.interfaces().find_map(|interface| {
            interface.descriptors().find_map(|setting| {
                if setting.class_code() != class && setting.class_code() != VENDOR_SPECIFIC {
                    return None;
                }
                let addresses: Option<Vec<u8>> = endpoints
                    .iter()
                    .map(|&(kind, direction)| {
                        setting
                            .endpoint_descriptors()
                            .find(|e| e.transfer_type() == kind && e.direction() == direction)
                            .map(|e| e.address())
                    })
                    .collect();
                Some((interface.number(), setting.setting_number(), addresses?))
            })
        });
        let Some((interface, setting, addresses)) = found else {
            let wanted: Vec<String> = endpoints.iter().map(|(kind, direction)| format!("{kind:?} {direction:?}")).collect();
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "USB device {selector} has no interface of class {class} with endpoints {}: is it the right device, in the right mode?",
                    wanted.join(" + ")
                ),
            ));
        };
        // Not every platform can detach kernel drivers; where it cannot, claiming says so.
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle.claim_interface(interface).map_err(|e| io_error(e, &format!("claiming interface {interface} of USB device {selector}")))?;
        if setting != 0 {
            handle
                .set_alternate_setting(interface, setting)
                .map_err(|e| io_error(e, &format!("selecting setting {setting} of USB device {selector}")))?;
        }
        return Ok(ClaimedInterface { handle, interface, endpoints: addresses });
    }
    Err(last_error.unwrap_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("no USB device {selector} with that serial number is connected: check the serial number on the device's label"),
        )
    }))
}

/// [`open_interface`] for an interface with bulk endpoints both ways (IN first).
pub fn open_bulk(context: &Context, selector: &UsbSelector, class: u8) -> std::io::Result<ClaimedInterface> {
    open_interface(context, selector, class, &[(TransferType::Bulk, Direction::In), (TransferType::Bulk, Direction::Out)])
}

/// A libusb error as an I/O error, with what the technician should do about it.
pub fn io_error(error: rusb::Error, doing: &str) -> std::io::Error {
    use std::io::ErrorKind;
    let (kind, advice) = match error {
        rusb::Error::Timeout => (ErrorKind::TimedOut, "the device did not answer in time"),
        rusb::Error::NoDevice => (ErrorKind::NotConnected, "the device was unplugged or switched off"),
        rusb::Error::NotFound => (ErrorKind::NotFound, "the device or its interface is gone"),
        rusb::Error::Access => {
            (ErrorKind::PermissionDenied, "this user may not open the device: add a udev rule giving the kiosk's user access to it")
        }
        rusb::Error::Busy => (ErrorKind::ResourceBusy, "another program holds the device: stop it (e.g. CUPS with a USB queue for it)"),
        rusb::Error::Pipe => (ErrorKind::BrokenPipe, "the device stalled the endpoint"),
        rusb::Error::Interrupted => (ErrorKind::Interrupted, "interrupted"),
        _ => (ErrorKind::Other, "the USB transfer failed"),
    };
    std::io::Error::new(kind, format!("{doing}: {advice} ({error})"))
}

/// The two directions of an interface from [`open_bulk`] as byte streams. Reads wait at most `read_tick` and
/// then fail with `TimedOut` (nothing came; not an error for a reader that polls); writes
/// fail with `TimedOut` after `write_timeout` when the device stops taking data.
pub fn bulk_streams(
    device: ClaimedInterface,
    read_tick: Duration,
    write_timeout: Duration,
) -> (Box<dyn Read + Send>, Box<dyn Write + Send>) {
    let device = Arc::new(device);
    (Box::new(BulkReader { device: device.clone(), tick: read_tick }), Box::new(BulkWriter { device, timeout: write_timeout }))
}

struct BulkReader {
    device: Arc<ClaimedInterface>,
    tick: Duration,
}

impl Read for BulkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let device = &self.device;
        match device.handle.read_bulk(device.endpoint(0), buf, self.tick) {
            // A zero-length packet is not the end of the stream: nothing more came yet.
            Ok(0) => Err(std::io::ErrorKind::TimedOut.into()),
            Ok(n) => Ok(n),
            Err(e) => Err(io_error(e, "reading from the USB device")),
        }
    }
}

struct BulkWriter {
    device: Arc<ClaimedInterface>,
    timeout: Duration,
}

impl Write for BulkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let device = &self.device;
        device.handle.write_bulk(device.endpoint(1), buf, self.timeout).map_err(|e| io_error(e, "writing to the USB device"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_is_vendor_and_product_in_hex_with_an_optional_serial() {
        assert_eq!("04b8:0E28".parse::<UsbSelector>(), Ok(UsbSelector { vendor_id: 0x04b8, product_id: 0x0e28, serial: None }));
        let with_serial: UsbSelector = "1209:0001/VP0001".parse().expect("parses");
        assert_eq!(with_serial.serial.as_deref(), Some("VP0001"));
        assert_eq!(with_serial.to_string(), "1209:0001/VP0001");
        for bad in ["", "04b8", "04b8:", "4b8:0e28", "04b8:0e28:01", "zzzz:0001", "04b8:0e28/", "04b8:0e28/a b", "+4b8:0e28"] {
            let error = bad.parse::<UsbSelector>().expect_err(bad);
            assert!(error.to_string().contains("VID:PID"), "{error}");
        }
    }
}
