//! The ONNX reader LoRAs use (layers, weights, the copy with weights moved out): a model or an
//! error for any bytes, and a copy that reads back with the same layers.
#![no_main]

use std::collections::HashMap;

use pentimento_inference::lora::onnx::{ModelWeights, TensorData};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(weights) =
        ModelWeights::from_bytes(data.to_vec(), std::path::PathBuf::from("/nonexistent"))
    else {
        return;
    };
    let mut moved = HashMap::new();
    for layer in weights.layers.values() {
        if let Some(TensorData::Inline(range)) = weights
            .initializers
            .get(&layer.initializer)
            .map(|init| &init.data)
        {
            let _ = weights.weight(layer);
            moved.insert(layer.initializer.clone(), 0..range.len() as u64);
        }
    }
    let copy = weights.with_external(&moved, "moved.bin");
    let again = ModelWeights::from_bytes(copy, std::path::PathBuf::from("/nonexistent"))
        .expect("the copy reads back");
    assert_eq!(again.layers, weights.layers);
});
