//! A model folder's configuration as a download leaves it: `model_index.json`,
//! `scheduler/scheduler_config.json` and a `unet/model.onnx` written to a folder, then opened and
//! inspected the way the model manager and `pentimento info` do before ONNX Runtime sees it.
//!
//! Input: two little-endian `u16` lengths, then `model_index.json`, `scheduler_config.json` and
//! the rest as the UNet.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use pentimento_inference::{Capabilities, ModelFolder};

fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("pentimento-fuzz-{}", std::process::id()));
        for part in ["unet", "text_encoder", "vae_decoder", "scheduler"] {
            std::fs::create_dir_all(root.join(part)).expect("fuzz folder");
        }
        root
    })
}

fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (length, rest) = data.split_first_chunk::<2>()?;
    let length = usize::from(u16::from_le_bytes(*length));
    if rest.len() < length {
        return None;
    }
    let (part, rest) = rest.split_at(length);
    *data = rest;
    Some(part)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let (Some(index), Some(scheduler)) = (take(&mut data), take(&mut data)) else {
        return;
    };
    let root = folder();
    let write = |name: &str, bytes: &[u8]| std::fs::write(root.join(name), bytes).expect("write");
    write("model_index.json", index);
    write("scheduler/scheduler_config.json", scheduler);
    write("unet/model.onnx", data);
    write("text_encoder/model.onnx", data);
    write("vae_decoder/model.onnx", data);
    if let Ok(folder) = ModelFolder::open(root) {
        if let Ok(capabilities) = Capabilities::inspect(&folder) {
            let _ = capabilities.summary();
        }
        let _ = folder.pipeline_class();
    }
});
