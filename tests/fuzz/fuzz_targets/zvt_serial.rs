//! Fuzzes a payment terminal's serial line (frames, confirmations, noise): `balcao_drivers::fuzz::zvt_serial`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::zvt_serial(data);
});
