//! The ONNX graph reader that inspects `model.onnx` files before ONNX Runtime sees them (input
//! channels, down-sampling, external weight files): an outline or an error, never a panic.
#![no_main]

use pentimento_inference::model::onnx_graph::GraphOutline;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(outline) = GraphOutline::from_reader(std::io::Cursor::new(data), data.len() as u64) {
        let _ = outline.convolution_input_channels("sample");
        let _ = outline.downsampling_convolutions();
        let _ = outline.external_data_files().count();
    }
});
