//! Fuzzes an IPP printer's answers: `balcao_drivers::fuzz::ipp_answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::ipp_answer(data);
});
