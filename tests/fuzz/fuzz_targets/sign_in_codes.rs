//! Fuzzes a scanned sign-in code: `balcao_backend_client::fuzz::sign_in_code`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    balcao_backend_client::fuzz::sign_in_code(data);
});
