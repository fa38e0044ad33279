//! Fingerprints of model files (sha256), recorded with every generation so a picture's origin
//! can be proven. Hashing gigabytes takes a while, so results are cached per file path, size and
//! modification time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files of a model that decide its output, relative to the model folder.
fn model_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for component in ["text_encoder", "unet", "vae_encoder", "vae_decoder"] {
        for name in ["model.onnx", "model.onnx_data", "weights.pb"] {
            let path = root.join(component).join(name);
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}

fn cache_file() -> Option<PathBuf> {
    pentimento_inference::onnx_runtime::wheel::default_cache_root()
        .ok()
        .map(|root| root.join("model-fingerprints.json"))
}

fn key(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!("{}|{}|{modified}", path.display(), meta.len()))
}

/// `(component/file, sha256)` for every model file; unreadable files are recorded as such.
pub fn model_fingerprint(root: &Path) -> Vec<(String, String)> {
    let cache_path = cache_file();
    let mut cache: BTreeMap<String, String> = cache_path
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut changed = false;
    let mut out = Vec::new();
    for path in model_files(root) {
        let name = path
            .strip_prefix(root)
            .map(|relative| relative.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| path.display().to_string());
        let cached = key(&path).and_then(|key| cache.get(&key).cloned().map(|hash| (key, hash)));
        let hash = match cached {
            Some((_, hash)) => hash,
            None => match pentimento_inference::sha256::of_file(&path) {
                Ok(hash) => {
                    if let Some(key) = key(&path) {
                        cache.insert(key, hash.clone());
                        changed = true;
                    }
                    hash
                }
                Err(err) => format!("unreadable: {err}"),
            },
        };
        out.push((name, hash));
    }
    if changed && let Some(path) = cache_path {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(text) = serde_json::to_string_pretty(&cache) {
            let _ = crate::io::write_atomically(&path, text.as_bytes());
        }
    }
    out
}
