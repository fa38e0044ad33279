//! Errors of this crate. Every message says what is wrong and where (paths come last) and, where
//! the person can do something about it, what to do.

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

/// Why a generation could not run. Cancellation is not an error (see
/// [`crate::pipeline::Outcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// ONNX Runtime is unavailable.
    #[error(transparent)]
    Runtime(#[from] crate::onnx_runtime::RuntimeError),
    /// The model folder is unusable.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The tokenizer is unusable.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    /// The scheduler cannot be set up.
    #[error(transparent)]
    Scheduler(#[from] crate::scheduler::SchedulerError),
    /// A supplied `.npy` file is unusable.
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
    /// A requested execution provider cannot be used.
    #[error(
        "the {provider} execution provider cannot be used ({reason}); choose another provider \
         or Automatic"
    )]
    Provider {
        /// The provider asked for.
        provider: crate::providers::ProviderChoice,
        /// Why it failed.
        reason: String,
    },
    /// The image size does not suit the model.
    #[error(
        "{width}×{height} is not a size this model can generate: width and height must be \
         multiples of {multiple} (for example {suggested_width}×{suggested_height})"
    )]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// The multiple the model needs.
        multiple: u32,
        /// The nearest valid width.
        suggested_width: u32,
        /// The nearest valid height.
        suggested_height: u32,
    },
    /// An input image or mask does not have the generation's size.
    #[error(
        "the {what} is {found_width}×{found_height} but the generation is {width}×{height}; resize it to match"
    )]
    InputSize {
        /// "input image" or "mask".
        what: &'static str,
        /// Its width.
        found_width: u32,
        /// Its height.
        found_height: u32,
        /// The generation's width.
        width: u32,
        /// The generation's height.
        height: u32,
    },
    /// A request parameter is out of range.
    #[error("{parameter} is {value}: {expected}")]
    Parameter {
        /// The parameter's name.
        parameter: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// Supplied initial noise has the wrong shape.
    #[error("the initial noise has shape {found:?} but this generation needs {expected:?}")]
    NoiseShape {
        /// The shape needed.
        expected: Vec<usize>,
        /// The shape given.
        found: Vec<usize>,
    },
    /// The model cannot do what was asked (e.g. img2img without a VAE encoder).
    #[error("this model cannot {task}: {reason}")]
    Unsupported {
        /// What was asked.
        task: &'static str,
        /// Why not.
        reason: String,
    },
    /// ONNX Runtime ran out of memory.
    #[error(
        "ONNX Runtime ran out of memory in the {component} ({reason}); try a smaller size, \
         fewer variations at once, or close other programs"
    )]
    OutOfMemory {
        /// The component that was running.
        component: &'static str,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// A component failed while running.
    #[error("the {component} failed while running ({reason})")]
    Run {
        /// The component that was running.
        component: &'static str,
        /// ONNX Runtime's message.
        reason: String,
    },
}
