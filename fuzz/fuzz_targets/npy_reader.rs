//! `.npy` files given to `--init-noise`: an array or an error, never a panic or a huge
//! allocation from a lying header.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pentimento_inference::npy::read_f32_bytes(data);
});
