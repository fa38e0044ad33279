//! Stable Diffusion pipelines on ONNX Runtime for Pentimento.
//!
//! This crate knows nothing of the user interface: the app and the command line drive it, and
//! it reports progress through callbacks.

pub mod atomic_file;
pub mod error;
pub mod hub;
pub mod image;
pub(crate) mod json_file;
pub mod lora;
pub mod model;
pub mod npy;
pub mod onnx_runtime;
pub(crate) mod onnx_wire;
pub mod pipeline;
pub mod providers;
pub mod remote;
pub mod rng;
pub mod scheduler;
pub mod sha256;
pub mod tokenizer;

pub use error::{InferenceError, ModelError};
pub use model::{Capabilities, Component, ModelFolder, ModelReport};
pub use onnx_runtime::{LocateOptions, OnnxRuntime, RuntimeError};
pub use pipeline::{
    CancelToken, GenerationRequest, LoadOptions, Mode, Outcome, Progress, StableDiffusion,
    Variation,
};
pub use providers::ProviderChoice;
pub use scheduler::SchedulerKind;

/// The sentence for a command-line name that names none of `choices`: what was asked for
/// (`what`, e.g. "scheduler"), the text given, and the names there are.
pub(crate) fn unknown_choice<'a>(
    what: &str,
    text: &str,
    choices: impl IntoIterator<Item = &'a str>,
) -> String {
    let names: Vec<&str> = choices.into_iter().collect();
    format!(
        "unknown {what} \"{text}\"; choose one of {}",
        names.join(", ")
    )
}
