//! Fuzzes a whole read against a chip whose answers are the input: `balcao_drivers::identity_reader::icao::fuzz::chip_answers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::identity_reader::icao::fuzz::chip_answers(data);
});
