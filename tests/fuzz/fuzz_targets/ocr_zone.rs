//! Fuzzes an OCR document reader's lines: `balcao_drivers::fuzz::ocr_zone`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_drivers::fuzz::ocr_zone(data);
});
