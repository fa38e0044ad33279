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

/// `Display` (the label people read) and `FromStr` (the command-line name, in any case) for a
/// closed set of choices with `ALL`, `label()` and `cli_name()`. A name that matches none is
/// answered with a sentence naming the set (`$what`, e.g. "scheduler") and every name in it.
macro_rules! choice_text {
    ($choice:ty, $what:literal) => {
        impl std::fmt::Display for $choice {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }

        impl std::str::FromStr for $choice {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|choice| choice.cli_name().eq_ignore_ascii_case(text))
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.into_iter().map(Self::cli_name).collect();
                        format!(
                            "unknown {} \"{text}\"; choose one of {}",
                            $what,
                            names.join(", ")
                        )
                    })
            }
        }
    };
}
pub(crate) use choice_text;

#[cfg(test)]
mod tests {
    use super::{ProviderChoice, SchedulerKind};

    #[test]
    fn choices_read_their_command_line_names_in_any_case_and_show_their_labels() {
        for kind in SchedulerKind::ALL {
            assert_eq!(kind.cli_name().parse(), Ok(kind));
            assert_eq!(kind.cli_name().to_ascii_uppercase().parse(), Ok(kind));
            assert_eq!(kind.to_string(), kind.label());
        }
        for choice in ProviderChoice::ALL {
            assert_eq!(choice.cli_name().parse(), Ok(choice));
            assert_eq!(choice.cli_name().to_ascii_uppercase().parse(), Ok(choice));
            assert_eq!(choice.to_string(), choice.label());
        }
        assert_eq!(
            "gpu".parse::<ProviderChoice>(),
            Err(
                "unknown execution provider \"gpu\"; choose one of auto, cpu, cuda, tensorrt, \
                 directml, coreml"
                    .to_owned()
            )
        );
    }
}
