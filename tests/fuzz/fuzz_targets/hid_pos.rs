//! Fuzzes a USB scanner's HID POS reports: `balcao_drivers::fuzz::hid_pos`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::hid_pos(data);
});
