//! Fuzzes the kiosk's configuration file: `balcao_kiosk::config::fuzz`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_kiosk::config::fuzz(data);
});
