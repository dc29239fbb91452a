//! Fuzzes what an ESC/POS receipt printer sends back: `balcao_drivers::fuzz::escpos_status`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::escpos_status(data);
});
