//! Which files of a repository an ONNX Stable Diffusion pipeline needs, and which names are safe
//! to use as paths.

use crate::model::Component;

/// Extensions of weights for other runtimes (PyTorch, Flax, TensorFlow, OpenVINO, TensorRT,
/// Core ML, GGML): never needed by an ONNX pipeline.
const FOREIGN_WEIGHTS: [&str; 18] = [
    "safetensors",
    "bin",
    "ckpt",
    "pt",
    "pth",
    "pkl",
    "pickle",
    "msgpack",
    "h5",
    "ot",
    "gguf",
    "tflite",
    "mlmodel",
    "mlpackage",
    "engine",
    "plan",
    "trt",
    "xml",
];

/// Extensions of documents and pictures (not plain text: the tokenizer's `merges.txt` is one).
const DOCUMENTS: [&str; 8] = ["md", "png", "jpg", "jpeg", "gif", "webp", "pdf", "html"];

/// The repository files an ONNX Stable Diffusion pipeline needs, out of a repository's file
/// listing, in listing order: `model_index.json`, `scheduler/scheduler_config.json`, the tokenizer
/// files, and for the text encoder, UNet and both VAE halves their `model.onnx`, the weights kept
/// beside it (`model.onnx_data`, `weights.pb`, …) and their `config.json`.
///
/// With `subfolder`, only files under it count, and the paths returned still start with it.
/// The safety checker, the feature extractor, weights for other runtimes (PyTorch, safetensors,
/// …), other ONNX graphs and documents are left out.
pub fn model_files(listing: &[String], subfolder: Option<&str>) -> Vec<String> {
    let prefix = subfolder
        .map(|folder| folder.trim_matches('/'))
        .filter(|folder| !folder.is_empty())
        .map(|folder| format!("{folder}/"));
    let mut needed: Vec<String> = Vec::new();
    for path in listing {
        let relative = match &prefix {
            Some(prefix) => match path.strip_prefix(prefix.as_str()) {
                Some(relative) => relative,
                None => continue,
            },
            None => path.as_str(),
        };
        if is_safe_relative_path(path) && is_needed(relative) && !needed.contains(path) {
            needed.push(path.clone());
        }
    }
    needed
}

/// Whether a path inside the model folder belongs to the pipeline.
fn is_needed(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        ["model_index.json"] => true,
        ["scheduler", "scheduler_config.json"] => true,
        ["tokenizer", name] => !is_hidden(name) && !is_foreign_weights(name) && !is_document(name),
        [folder, name] if is_component_folder(folder) => is_component_file(name),
        _ => false,
    }
}

fn is_component_folder(folder: &str) -> bool {
    Component::ALL
        .iter()
        .any(|component| component.folder_name() == folder)
}

/// `model.onnx`, its `config.json`, and anything that can be the graph's external weights:
/// `model.onnx_data`, `model.onnx.data`, `weights.pb`, or per-tensor files some exporters write.
fn is_component_file(name: &str) -> bool {
    if name == "model.onnx" || name == "config.json" {
        return true;
    }
    if is_hidden(name) || is_foreign_weights(name) || is_document(name) {
        return false;
    }
    // The weights of another graph (`model_fp16.onnx_data`) belong to that graph.
    for suffix in [".onnx_data", ".onnx.data"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            return stem == "model";
        }
    }
    let extension = extension(name);
    !matches!(
        extension.as_str(),
        "onnx" | "ort" | "json" | "yaml" | "yml" | "txt"
    )
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn is_foreign_weights(name: &str) -> bool {
    FOREIGN_WEIGHTS.contains(&extension(name).as_str())
}

fn is_document(name: &str) -> bool {
    DOCUMENTS.contains(&extension(name).as_str())
        || name.eq_ignore_ascii_case("LICENSE")
        || name.eq_ignore_ascii_case("README")
}

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default()
}

/// A relative path of plain names: no `..`, no `.`, no empty part, no backslash, no drive.
pub(crate) fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains(':')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// `owner/name` (or a bare `name`, as canonical repositories have), of letters, digits, `-`,
/// `_` and `.`.
pub(crate) fn is_valid_repo_id(repo: &str) -> bool {
    let parts: Vec<&str> = repo.split('/').collect();
    (1..=2).contains(&parts.len())
        && parts.iter().all(|part| {
            !part.is_empty()
                && *part != "."
                && *part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// A 40-digit hexadecimal git commit id.
pub(crate) fn is_commit_hash(text: &str) -> bool {
    text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| (*path).to_owned()).collect()
    }

    #[test]
    fn keeps_the_onnx_pipeline_and_nothing_else() {
        // Each file of a real repository's listing, and whether the download keeps it.
        let files = [
            (".gitattributes", false),
            ("README.md", false),
            ("model_index.json", true),
            ("v1-5-pruned.safetensors", false),
            ("feature_extractor/preprocessor_config.json", false),
            ("safety_checker/model.onnx", false),
            ("scheduler/scheduler_config.json", true),
            ("text_encoder/config.json", true),
            ("text_encoder/model.onnx", true),
            ("text_encoder/model.safetensors", false),
            ("tokenizer/merges.txt", true),
            ("tokenizer/special_tokens_map.json", true),
            ("tokenizer/tokenizer_config.json", true),
            ("tokenizer/vocab.json", true),
            ("unet/model.onnx", true),
            ("unet/weights.pb", true),
            ("unet/model_fp16.onnx", false),
            ("unet/model_fp16.onnx_data", false),
            ("unet/diffusion_pytorch_model.bin", false),
            ("unet/RyzenAI/model.onnx", false),
            ("vae_decoder/model.onnx", true),
            ("vae_decoder/model.onnx.data", true),
            ("vae_decoder/.gitkeep", false),
            ("vae_encoder/model.onnx", true),
            ("vae_encoder/model.onnx_data", true),
            ("vae/diffusion_pytorch_model.safetensors", false),
        ];
        let all: Vec<String> = files.iter().map(|(path, _)| (*path).to_owned()).collect();
        let kept: Vec<String> = files
            .iter()
            .filter(|(_, kept)| *kept)
            .map(|(path, _)| (*path).to_owned())
            .collect();
        assert_eq!(model_files(&all, None), kept);
    }

    #[test]
    fn a_subfolder_keeps_its_prefix() {
        let all = listing(&[
            "model_index.json",
            "unet/model.onnx",
            "onnx/model_index.json",
            "onnx/unet/model.onnx",
            "onnxruntime/unet/model.onnx",
        ]);
        assert_eq!(
            model_files(&all, Some("/onnx/")),
            listing(&["onnx/model_index.json", "onnx/unet/model.onnx"])
        );
    }

    #[test]
    fn unsafe_paths_are_never_kept() {
        let all = listing(&["unet/../../x", "../model_index.json", "unet//model.onnx"]);
        assert!(model_files(&all, None).is_empty());
        assert!(model_files(&listing(&["a/../unet/model.onnx"]), Some("a/..")).is_empty());
    }

    #[test]
    fn repository_ids() {
        assert!(is_valid_repo_id(
            "onnx-community/stable-diffusion-v1-5-ONNX"
        ));
        assert!(is_valid_repo_id("gpt2"));
        assert!(!is_valid_repo_id("a/b/c"));
        assert!(!is_valid_repo_id("../b"));
        assert!(!is_valid_repo_id("owner/"));
        assert!(!is_valid_repo_id("owner/na me"));
    }
}
