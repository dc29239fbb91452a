//! Fuzzes BER-TLV objects and file sizes in what a chip sends: `balcao_drivers::identity_reader::icao::fuzz::tlv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::identity_reader::icao::fuzz::tlv(data);
});
