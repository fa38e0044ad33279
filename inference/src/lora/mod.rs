//! LoRA: low-rank changes to a model's weights, read from `.safetensors` files and merged into
//! the ONNX graph before ONNX Runtime optimizes it.
//!
//! - [`file`] reads a LoRA file in any of the published key layouts, and its metadata;
//! - [`onnx`] finds each layer's weight in a diffusers or optimum export through the node names;
//! - [`merge`] matches pairs to layers and computes the merged weights.
//!
//! The pipeline hands the merged tensors to ONNX Runtime as external initializers
//! ([`ort`]'s `with_external_initializer`, ONNX Runtime's `AddExternalInitializers`), which
//! replace the file's values *before* graph optimization; initializers stored inline (small
//! exports, every text encoder) are first marked as external data in an in-memory copy of the
//! model. Sessions with LoRAs never read or write the optimized-graph cache, whose entries are
//! the base model's.

pub mod file;
pub mod merge;
pub mod onnx;
pub mod prompt;

use std::path::PathBuf;
use std::sync::Arc;

pub use file::{BaseFamily, LoraComponent, LoraCredits, LoraFile, LoraFormat, LoraMetadata};
pub use merge::{ComponentMatch, MergedTensor, MergedValues};

/// A LoRA and the strength it is applied with (1: as trained; negative values subtract it).
#[derive(Clone, Debug)]
pub struct LoraChoice {
    /// The file, read.
    pub lora: Arc<LoraFile>,
    /// Its strength.
    pub strength: f32,
}

/// A LoRA a generation asks for: its file and strength.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraRequest {
    /// The `.safetensors` file.
    pub path: PathBuf,
    /// Its strength (1 as trained).
    pub strength: f32,
}

/// A LoRA as it was applied to a generation: what the log and exported provenance record.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedLora {
    /// The file name without extension.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// sha256 of the file.
    pub sha256: String,
    /// The strength it was applied with.
    pub strength: f32,
    /// Its metadata title, author, license and base model, where the file says.
    pub credits: LoraCredits,
    /// Pairs merged into the UNet and the text encoder.
    pub merged: usize,
    /// Keys that matched no layer of the model.
    pub unmatched: Vec<String>,
}

impl AppliedLora {
    /// The record of `choice` merged with these matches.
    pub fn new(choice: &LoraChoice, merged: usize, unmatched: Vec<String>) -> Self {
        let lora = &choice.lora;
        Self {
            name: lora.name(),
            path: lora.path.clone(),
            sha256: lora.sha256.clone(),
            strength: choice.strength,
            credits: lora.metadata.credits(),
            merged,
            unmatched,
        }
    }
}

/// Why a LoRA cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoraError {
    /// Not a `.safetensors` file.
    #[error(
        "only .safetensors LoRA files are read (a .ckpt, .pt or .bin file can run code when \
         opened); look for a .safetensors download of it: {}",
        path.display()
    )]
    NotSafetensors {
        /// The file.
        path: PathBuf,
    },
    /// The file cannot be read or is damaged.
    #[error("cannot read the LoRA {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A LyCORIS type other than LoRA/LoCon, or another model family's layout.
    #[error("{} is {kind}, which Pentimento cannot apply; it applies LoRA and LoCon files", path.display())]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: String,
    },
    /// A key of no known layout.
    #[error(
        "{} is not a LoRA in a layout Pentimento knows (kohya-ss, diffusers/PEFT): the key {key} \
         means nothing to it",
        path.display()
    )]
    Unrecognised {
        /// The file.
        path: PathBuf,
        /// The first key not understood.
        key: String,
    },
    /// No LoRA pairs at all.
    #[error(
        "{} holds no LoRA weights (no lora_down/lora_up or lora_A/lora_B pairs{})",
        path.display(),
        example.as_ref().map(|key| format!("; its first key is {key}")).unwrap_or_default()
    )]
    NoPairs {
        /// The file.
        path: PathBuf,
        /// Its first key, if any.
        example: Option<String>,
    },
    /// Made for another model family.
    #[error(
        "the LoRA {lora} was made for {made_for}, and this model is {model}; choose a LoRA made for {model}"
    )]
    WrongBase {
        /// The LoRA's name.
        lora: String,
        /// What it says it was made for.
        made_for: String,
        /// What the model is.
        model: String,
    },
    /// A pair whose shape does not fit the layer it names.
    #[error(
        "the LoRA {lora} does not fit this model: {key} is {lora_shape}, the model's layer is \
         {model_shape}{}",
        made_for.as_ref().map(|base| format!(" (the LoRA says it was made for {base})")).unwrap_or_else(|| " (it was made for another base model)".to_owned())
    )]
    ShapeMismatch {
        /// The LoRA's name.
        lora: String,
        /// The pair.
        key: String,
        /// The pair's `out × in` size.
        lora_shape: String,
        /// The layer's.
        model_shape: String,
        /// What the LoRA's metadata names as its base.
        made_for: Option<String>,
    },
    /// Nothing of the LoRA matched the model.
    #[error(
        "none of the {count} layers the LoRA {lora} changes is in this model (for example {example}); \
         it was made for another kind of model{}",
        made_for.as_ref().map(|base| format!(" ({base})")).unwrap_or_default()
    )]
    NothingMatched {
        /// The LoRA's name.
        lora: String,
        /// How many pairs it has.
        count: usize,
        /// One of them.
        example: String,
        /// What its metadata names as its base.
        made_for: Option<String>,
    },
    /// The graph was fused offline.
    #[error(
        "this model's {component} was optimized offline (it uses ONNX Runtime's fused \
         {operator} operator), so its layers can no longer take a LoRA; use an unoptimized \
         export of the model (diffusers' or optimum's) for LoRAs"
    )]
    FusedGraph {
        /// Which component.
        component: &'static str,
        /// The fused operator found.
        operator: String,
    },
    /// The model's weights could not be read or patched.
    #[error("the model cannot take a LoRA: {reason}")]
    Model {
        /// Why.
        reason: String,
    },
}

/// Checks what a LoRA says it was made for against the model's text-embedding width (768 for
/// SD 1.x, 1024 for SD 2.x; other widths are test models and only their shapes are checked).
pub fn check_base(lora: &LoraFile, text_embedding_width: Option<u64>) -> Result<(), LoraError> {
    let model = match text_embedding_width {
        Some(768) => BaseFamily::Sd1,
        Some(1024) => BaseFamily::Sd2,
        _ => return Ok(()),
    };
    match lora.metadata.family() {
        Some(family) if family != model => Err(LoraError::WrongBase {
            lora: lora.name(),
            made_for: format!(
                "{}{}",
                family.name(),
                lora.metadata
                    .base_model()
                    .map(|base| format!(" ({base})"))
                    .unwrap_or_default()
            ),
            model: model.name().to_owned(),
        }),
        _ => Ok(()),
    }
}
