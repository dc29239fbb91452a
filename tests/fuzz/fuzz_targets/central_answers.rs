//! Fuzzes the JSON bodies central answers with: `balcao_backend_client::fuzz::central_answers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_backend_client::fuzz::central_answers(data);
});
