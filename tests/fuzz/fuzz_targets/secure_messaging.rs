//! Fuzzes `identity_reader::icao::fuzz::secure_messaging`: see that module.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = balcao_drivers::identity_reader::icao::fuzz::secure_messaging(data);
});
