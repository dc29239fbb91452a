//! Fuzzes a chip's files (EF.COM, DG1 and its zone, EF.SOD): `balcao_drivers::identity_reader::icao::fuzz::files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::identity_reader::icao::fuzz::files(data);
});
