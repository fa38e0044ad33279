//! LoRA files as downloaded: a LoRA or a sentence saying what it is, never a panic or a huge
//! allocation from a lying header.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzzed.safetensors");
    if let Ok(lora) = pentimento_inference::lora::LoraFile::from_bytes(path, data) {
        let _ = (lora.components(), lora.ranks(), lora.has_convolutions());
        let _ = (lora.metadata.summary(), lora.metadata.family());
    }
});
