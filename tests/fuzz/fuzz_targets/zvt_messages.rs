//! Fuzzes a payment terminal's messages over TCP (framing, fields, card data taken out): `balcao_drivers::fuzz::zvt_messages`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::zvt_messages(data);
});
