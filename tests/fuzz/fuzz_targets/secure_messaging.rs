//! Fuzzes a chip's secured answers and a terminal's secured commands: `balcao_drivers::identity_reader::icao::fuzz::secure_messaging`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::identity_reader::icao::fuzz::secure_messaging(data);
});
