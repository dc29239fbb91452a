//! Fuzzes a serial code scanner's bytes and their timing: `balcao_drivers::fuzz::scanner`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::scanner(data);
});
