//! Errors a model folder can cause. Every message says what is wrong and where; paths come last.

use std::path::PathBuf;

/// What is wrong with a model folder or one of its components.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The path is not a folder.
    #[error("this is not a folder; choose the folder that holds model_index.json: {}", path.display())]
    NotAFolder {
        /// The path given.
        path: PathBuf,
    },

    /// A component every generation needs is missing.
    #[error(
        "the model has no {component} (expected {component}/model.onnx); is this a Stable \
         Diffusion model in the diffusers or optimum ONNX layout? {}",
        path.display()
    )]
    MissingComponent {
        /// The component's folder name.
        component: &'static str,
        /// The file that was expected.
        path: PathBuf,
    },

    /// A JSON file is not valid JSON.
    #[error("this file is not valid JSON ({reason}): {}", path.display())]
    InvalidJson {
        /// The parser's explanation.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// ONNX Runtime could not load a component.
    #[error("ONNX Runtime could not load the {component} ({reason}); the file may be truncated or not an ONNX model: {}", path.display())]
    Session {
        /// The component's folder name.
        component: &'static str,
        /// ONNX Runtime's explanation.
        reason: String,
        /// The ONNX file.
        path: PathBuf,
    },

    /// A component's inputs or outputs are not what a Stable Diffusion pipeline needs.
    #[error("the {component} does not look like a Stable Diffusion {component}: {reason}")]
    UnexpectedSignature {
        /// The component's folder name.
        component: &'static str,
        /// What is unexpected.
        reason: String,
    },

    /// The text encoder's embeddings do not fit the UNet.
    #[error(
        "the text encoder produces {text_encoder}-wide embeddings but the UNet expects \
         {unet}-wide ones; the components come from different models (SD 1.x uses 768, SD 2.x \
         1024) — take all of them from the same export"
    )]
    EmbeddingWidthMismatch {
        /// Width of the text encoder's output.
        text_encoder: u64,
        /// Width the UNet's `encoder_hidden_states` expects.
        unet: u64,
    },

    /// The UNet takes neither 4 nor 9 input channels.
    #[error(
        "the UNet takes {found} input channels; Pentimento runs Stable Diffusion UNets with 4 \
         (ordinary) or 9 (inpainting) — ControlNet-merged or other variants are not supported"
    )]
    UnetChannels {
        /// The channel count found.
        found: u64,
    },

    /// A file could not be read.
    #[error("could not read this file ({source}): {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}
